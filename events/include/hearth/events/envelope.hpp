#pragma once

#include <cstdint>
#include <string>

namespace hearth::events {

/// One event as stored in the journal: where it belongs, what it is, and its
/// msgpack-encoded payload.
struct envelope {
  /// The stream the event belongs to, e.g. "pool/twp_review_api_small".
  std::string stream;
  /// Position within the stream: 1, 2, 3, ... without gaps.
  std::uint64_t sequence = 0;
  /// Position in the whole journal, strictly increasing across all streams.
  std::uint64_t position = 0;
  /// The event type's name, e.g. "pool.member_ready".
  std::string type;
  /// The schema version of `payload`.
  std::uint32_t version = 1;
  /// Wall-clock time of the append, in nanoseconds since the Unix epoch.
  std::int64_t timestamp_ns = 0;
  /// The request that caused the event (API request id), empty if none.
  std::string correlation_id;
  /// The event's fields, msgpack-encoded.
  std::string payload;

  friend bool operator==(const envelope& x, const envelope& y) {
    return x.stream == y.stream && x.sequence == y.sequence && x.position == y.position &&
           x.type == y.type && x.version == y.version &&
           x.timestamp_ns == y.timestamp_ns && x.correlation_id == y.correlation_id &&
           x.payload == y.payload;
  }
  friend bool operator!=(const envelope& x, const envelope& y) { return !(x == y); }
};

} // namespace hearth::events
