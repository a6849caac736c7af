#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "hearth/events/envelope.hpp"
#include "hearth/events/error.hpp"

namespace hearth::events {

/// The record format version this build writes. Readers accept every version
/// up to this one.
inline constexpr std::uint8_t record_format_version = 1;

/// Upper bounds that keep a record's framing honest.
inline constexpr std::size_t max_name_size = 1024;
inline constexpr std::size_t max_payload_size = 64u << 20;

/// Appends the stored form of `event` to `out`:
///
///     u8  format version (1)
///     u32 CRC-32C of every byte after this field
///     u32 schema version, u64 sequence, u64 position, i64 timestamp (ns)
///     u16 length + stream, u16 length + type, u16 length + correlation id
///     u32 length + payload
///
/// Integers are little-endian. Fails with `too_large` when a field exceeds
/// its bound.
result<void> encode_record(const envelope& event, std::string& out);

/// Parses a stored record. A record whose checksum or framing is wrong is
/// `corrupt_record`; a newer format version is `unknown_format`.
result<envelope> decode_record(std::string_view bytes);

} // namespace hearth::events
