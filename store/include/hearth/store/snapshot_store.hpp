#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "hearth/store/error.hpp"
#include "hearth/store/journal.hpp"

namespace hearth::store {

/// An actor's state as of one sequence number of its stream.
struct snapshot {
  std::string stream;
  std::uint64_t sequence = 0;
  std::int64_t timestamp_ns = 0;
  std::string data;
};

/// Snapshots per stream, checksummed. A snapshot that fails to load is an
/// error the caller answers with a full replay of the stream.
class snapshot_store {
public:
  virtual ~snapshot_store();

  /// Stores `snap`, replacing any snapshot of the same stream and sequence.
  virtual result<void> save(const snapshot& snap) = 0;

  /// The newest snapshot of `stream` whose sequence is at most `max_seq`, or
  /// none. A damaged snapshot is `corrupt`.
  virtual result<std::optional<snapshot>> load(std::string_view stream,
                                               std::uint64_t max_seq = max_sequence) = 0;

  /// Removes the snapshot at exactly `sequence`, if any.
  virtual result<void> remove(std::string_view stream, std::uint64_t sequence) = 0;

  /// Removes every snapshot of `stream` at or below `max_seq`.
  virtual result<void> remove_up_to(std::string_view stream, std::uint64_t max_seq) = 0;
};

} // namespace hearth::store
