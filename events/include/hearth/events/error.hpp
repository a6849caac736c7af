#pragma once

#include <string>
#include <string_view>

#include "hearth/result.hpp"

namespace hearth::events {

/// What can go wrong when encoding, decoding or upcasting events.
enum class errc {
  /// A record failed its checksum or its framing is damaged.
  corrupt_record,
  /// A record was written in a format version this build does not know.
  unknown_format,
  /// A payload is not the msgpack shape its event type expects.
  malformed_payload,
  /// An event type's stored version has no upcaster to the current version.
  missing_upcaster,
  /// A stored version is newer than this build's current version.
  version_from_future,
  /// A value does not fit the record format (a too long string, say).
  too_large,
};

/// The name of an error code, e.g. "corrupt_record".
std::string_view to_string(errc code);

/// An error with the sentence that explains it.
struct error {
  errc code = errc::corrupt_record;
  std::string message;
};

template <class T>
using result = basic_result<T, error>;

} // namespace hearth::events
