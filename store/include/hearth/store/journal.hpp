#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "hearth/events/envelope.hpp"
#include "hearth/store/error.hpp"

namespace hearth::store {

inline constexpr std::uint64_t max_sequence = std::numeric_limits<std::uint64_t>::max();

/// An event to append: the journal assigns its sequence number, position and
/// (unless given) timestamp.
struct new_event {
  std::string type;
  std::uint32_t version = 1;
  std::string payload;
  std::string correlation_id;
  /// Nanoseconds since the Unix epoch; 0 means "now".
  std::int64_t timestamp_ns = 0;
};

/// Events for one stream, written all or nothing.
struct append_request {
  std::string stream;
  /// The stream's highest sequence number as the writer knows it (0 for a new
  /// stream). Anything else is a `conflict` and nothing is written.
  std::uint64_t expected_sequence = 0;
  std::vector<new_event> events;
  /// Appends to other streams that are written in the same atomic write as
  /// this one, or not at all: if any of them is refused (a conflict, a bad
  /// event), the whole request is, and nothing of it is written. The answer
  /// describes `stream`'s events; each of these lands right after its
  /// `expected_sequence`. They carry no further appends of their own.
  std::vector<append_request> together;
};

/// Where an accepted append landed.
struct append_ack {
  std::uint64_t first_sequence = 0;
  std::uint64_t last_sequence = 0;
  std::uint64_t first_position = 0;
  std::uint64_t last_position = 0;
};

/// A stream and how far it goes.
struct stream_info {
  std::string stream;
  std::uint64_t highest_sequence = 0;
  /// Events up to and including this sequence number were deleted.
  std::uint64_t deleted_to = 0;
};

/// Receives events in order; returning false stops the read.
using event_visitor = std::function<bool(const events::envelope&)>;

/// The event journal: per-stream sequences with optimistic concurrency, and
/// one global order across all streams. Every member is safe to call from
/// any thread. Appends are durable (fsynced) when they return, unless the
/// storage was opened with `sync = false`.
class journal {
public:
  virtual ~journal();

  /// Writes every acceptable request in one atomic, durable write and answers
  /// each request in order. A request with a wrong expected sequence number
  /// (also against an earlier request of the same call), in itself or in one
  /// of the appends it carries `together`, gets `conflict` and writes
  /// nothing; the others are unaffected. When the write itself fails,
  /// every request gets that error and nothing was written.
  virtual std::vector<result<append_ack>>
  append_many(std::vector<append_request> requests) = 0;

  /// Appends one request; see `append_many`.
  result<append_ack> append(append_request request);

  /// Visits the events of `stream` with `from <= sequence <= to`, at most
  /// `max_count` of them, in sequence order. Deleted events are skipped.
  /// Answers the number visited; a corrupt record stops the read with
  /// `corrupt` naming the stream and sequence number.
  virtual result<std::uint64_t> read_stream(std::string_view stream, std::uint64_t from,
                                            std::uint64_t to, std::uint64_t max_count,
                                            const event_visitor& visit) = 0;

  /// Collects what `read_stream` visits.
  result<std::vector<events::envelope>>
  read_stream(std::string_view stream, std::uint64_t from = 1,
              std::uint64_t to = max_sequence, std::uint64_t max_count = max_sequence);

  /// The highest sequence number ever written to `stream` (0 if none); it
  /// survives the deletion of the events themselves.
  virtual result<std::uint64_t> highest_sequence(std::string_view stream) = 0;

  /// Visits every stream's events in global order from `from_position`, at most
  /// `max_count` of them. Answers the number visited.
  virtual result<std::uint64_t> read_all(std::uint64_t from_position,
                                         std::uint64_t max_count,
                                         const event_visitor& visit) = 0;

  /// The position of the last event ever appended (0 for an empty journal).
  virtual result<std::uint64_t> last_position() = 0;

  /// Deletes the events of `stream` up to and including `to` (all of them when
  /// `to` is past the end). The highest sequence number stays.
  virtual result<void> delete_up_to(std::string_view stream, std::uint64_t to) = 0;

  /// Every stream ever written, in name order.
  virtual result<std::vector<stream_info>> list_streams() = 0;
};

} // namespace hearth::store
