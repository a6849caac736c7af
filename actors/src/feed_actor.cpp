#include "feed_actor.hpp"

#include <algorithm>
#include <vector>

#include "messages.hpp"

namespace hearth::actors {

void feed_signal::written() {
  // Pairs with the fence in the feed's `wait_atom` handler: either the
  // feed's read of the journal sees this write, or this load sees
  // `watching` set.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (watching.load(std::memory_order_relaxed))
    caf::anon_send(feed, written_atom::value);
}

namespace {

/// Whether the journal holds an event at position `from` or later, or one
/// of `stream` at sequence number `from` or later. A read of RocksDB's
/// memtable or cache takes no lock the writer holds.
bool holds(store::journal& journal, const std::string& stream, std::uint64_t from) {
  auto first = [](const events::envelope&) { return false; };
  auto found = stream.empty()
                   ? journal.read_all(from, 1, first)
                   : journal.read_stream(stream, from, store::max_sequence, 1, first);
  // A journal that cannot be read wakes its waiters: their next read
  // reports the error.
  return !found || *found > 0;
}

} // namespace

caf::behavior feed_actor(caf::stateful_actor<feed_state>* self,
                         std::shared_ptr<feed_signal> signal, store::journal* journal) {
  auto settle = [self, signal, journal] {
    auto& waiters = self->state.waiters;
    auto answered = [&](feed_waiter& w) {
      if (!holds(*journal, w.stream, w.from))
        return false;
      w.answer.deliver(true);
      return true;
    };
    waiters.erase(std::remove_if(waiters.begin(), waiters.end(), answered),
                  waiters.end());
    if (waiters.empty())
      signal->watching.store(false);
  };
  self->attach_functor([signal] { signal->watching.store(false); });
  return {
      [self, signal, journal](wait_atom, std::string& stream, std::uint64_t from,
                              std::uint64_t wait_ms) -> caf::result<bool> {
        // Set before the read: a write the read misses wakes us (see
        // `feed_signal::written`).
        signal->watching.store(true);
        std::atomic_thread_fence(std::memory_order_seq_cst);
        const bool there = holds(*journal, stream, from);
        if (there || wait_ms == 0) {
          if (self->state.waiters.empty())
            signal->watching.store(false);
          return there;
        }
        auto rp = self->make_response_promise<bool>();
        const auto id = self->state.next_id++;
        self->state.waiters.push_back(feed_waiter{id, std::move(stream), from, rp});
        self->delayed_send(self, std::chrono::milliseconds(wait_ms), unwatch_atom::value,
                           id);
        return rp;
      },
      [settle](written_atom) { settle(); },
      [self, signal](unwatch_atom, std::uint64_t id) {
        auto& waiters = self->state.waiters;
        auto found = std::find_if(waiters.begin(), waiters.end(),
                                  [id](const feed_waiter& w) { return w.id == id; });
        if (found == waiters.end())
          return; // answered already
        found->answer.deliver(false);
        waiters.erase(found);
        if (waiters.empty())
          signal->watching.store(false);
      },
  };
}

} // namespace hearth::actors
