#pragma once

#include <atomic>
#include <caf/all.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "hearth/store/journal.hpp"

namespace hearth::actors {

/// What the journal's writer and the feed share: whether anyone waits for
/// the journal to grow, and whom to tell. The writer reads `watching` after
/// every write; only while it is set does a write cost a message.
struct feed_signal {
  std::atomic<bool> watching{false};
  caf::actor feed; // set once, before anyone can watch

  /// Runs on the journal's writer after each write.
  void written();
};

struct feed_waiter {
  std::uint64_t id;
  std::string stream; // empty: the whole journal
  std::uint64_t from;
  caf::typed_response_promise<bool> answer;
};

struct feed_state {
  std::vector<feed_waiter> waiters;
  std::uint64_t next_id = 1;
};

/// Waiters on the journal as a whole, for readers that follow it (the HTTP
/// API's `GET /v1/events?wait_ms=`, hearthd's event log):
///   (wait_atom, stream, from, wait_ms) -> bool: true once the journal holds
///        an event at position `from` or later (`stream` empty), or one of
///        `stream` at sequence number `from` or later; at once if it does,
///        false once `wait_ms` has passed without one.
/// The writer's (written_atom) wakes it.
caf::behavior feed_actor(caf::stateful_actor<feed_state>* self,
                         std::shared_ptr<feed_signal> signal, store::journal* journal);

} // namespace hearth::actors
