#pragma once

#include <string>
#include <string_view>

#include "hearth/store/snapshot_store.hpp"

namespace hearth::store::internal {

/// Stored form of a snapshot (stream comes from the key):
///     u8 format (1), u32 CRC-32C of the rest, u64 sequence, i64 timestamp,
///     the state bytes.
std::string encode_snapshot(const snapshot& snap);

/// Parses a stored snapshot of `stream`; damage is `corrupt`.
result<snapshot> decode_snapshot(std::string_view stream, std::string_view bytes);

} // namespace hearth::store::internal
