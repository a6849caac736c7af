#pragma once

#include <algorithm>
#include <caf/all.hpp>
#include <cstdio>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hearth/events/domain_event.hpp"
#include "messages.hpp"
#include "runtime_context.hpp"

namespace hearth::actors {

/// The shell around plain-C++ aggregate states (`State` has `bool
/// apply(const events::domain_event&)`): persists the events a command
/// decided, applies them once the journal acknowledged them, then runs what
/// the command does next (its reply, its effects). An actor owns one stream
/// (a pool, a sandbox) or several (the template registry, hosts and tenants).
///
/// Commands are decided in arrival order against `state()`, the state their
/// predecessors' events will produce; their replies and effects wait until
/// those events are durable. A stream keeps up to `max_in_flight` appends on
/// their way to the journal, each expecting the sequence number its
/// predecessor ends at, so a command does not wait for the fsync of the one
/// before it to start (the journal writes both in order, usually in one
/// group). Events that pile up beyond that go out together as the next
/// append, so a busy actor is not limited to one fsync per command. Nothing
/// reaches `durable()` before the journal acknowledged it; a journal error
/// stops the actor, which then recovers from what was written.
template <class State>
class event_sourced : public caf::event_based_actor {
public:
  event_sourced(caf::actor_config& cfg, std::shared_ptr<runtime_context> ctx)
      : caf::event_based_actor(cfg)
      , ctx_(std::move(ctx)) {
    // An unexpected message or a stray error is a bug to report, not a
    // reason to stop a service.
    set_default_handler(caf::print_and_drop);
    set_error_handler([this](caf::error& err) {
      std::fprintf(stderr, "hearth: %s ignored an error message: %s\n", name(),
                   caf::to_string(err).c_str());
    });
  }

  void on_exit() override {
    // Continuations hold response promises (strong handles): drop them.
    streams_.clear();
    caf::event_based_actor::on_exit();
  }

protected:
  /// Takes over a stream recovered from the journal at `sequence`.
  void adopt(const std::string& stream, State recovered, std::uint64_t sequence) {
    auto& e = streams_[stream];
    e.durable = recovered;
    e.working = std::move(recovered);
    e.sequence = sequence;
    e.sent_sequence = sequence;
    e.snapshot_sequence = sequence;
  }

  /// The state of `stream` including events decided but not yet durable:
  /// decide with it. Null for a stream this actor does not have.
  const State* state(const std::string& stream) const {
    auto found = streams_.find(stream);
    return found == streams_.end() ? nullptr : &found->second.working;
  }

  /// The state of durable events only.
  const State* durable(const std::string& stream) const {
    auto found = streams_.find(stream);
    return found == streams_.end() ? nullptr : &found->second.durable;
  }

  /// The last durable sequence number of `stream`.
  std::uint64_t sequence_of(const std::string& stream) const {
    auto found = streams_.find(stream);
    return found == streams_.end() ? 0 : found->second.sequence;
  }

  /// Whether nothing persisted to `stream` is still on its way.
  bool quiet(const std::string& stream) const {
    auto found = streams_.find(stream);
    return found == streams_.end() ||
           (found->second.in_flight.empty() && found->second.next.events.empty());
  }

  /// Every stream's durable state.
  template <class F>
  void for_each_durable(F f) const {
    for (const auto& [stream, e] : streams_)
      f(stream, e.durable);
  }

  /// Every stream's state including events not yet durable (`state`).
  template <class F>
  void for_each_state(F f) const {
    for (const auto& [stream, e] : streams_)
      f(stream, e.working);
  }

  /// Persists `events` (decided against `state(stream)`) to `stream`, which
  /// is created if new, then runs `then`.
  void persist(const std::string& stream, std::vector<events::domain_event> events,
               std::function<void()> then, std::string correlation_id = {}) {
    persist_impl(stream, std::move(events), std::move(then), std::move(correlation_id),
                 false);
  }

  /// `persist` for events no caller waits on (a refill, the record of a
  /// sandbox whose claim is durable): the journal may hold them up to
  /// `runtime_context::lazy_append_wait` to share the next sync, so that they
  /// do not delay the next command with a sync of their own. Their effects
  /// still wait for them; whoever then waits on the stream (`persist`,
  /// `after_persisted`) has them written at once.
  void persist_lazily(const std::string& stream, std::vector<events::domain_event> events,
                      std::function<void()> then, std::string correlation_id = {}) {
    persist_impl(stream, std::move(events), std::move(then), std::move(correlation_id),
                 true);
  }

  void persist_lazily(const std::string& stream, events::domain_event event,
                      std::function<void()> then, std::string correlation_id = {}) {
    std::vector<events::domain_event> events;
    events.push_back(std::move(event));
    persist_lazily(stream, std::move(events), std::move(then), std::move(correlation_id));
  }

  void persist(const std::string& stream, events::domain_event event,
               std::function<void()> then, std::string correlation_id = {}) {
    std::vector<events::domain_event> events;
    events.push_back(std::move(event));
    persist(stream, std::move(events), std::move(then), std::move(correlation_id));
  }

  /// `persist`, with `carried` (the first events of another actor's stream,
  /// made by `carry`) written in the same atomic append: both are durable
  /// when `then` runs, or neither is. A pool's claim carries its sandbox's
  /// record this way.
  void persist(const std::string& stream, events::domain_event event,
               std::function<void()> then, std::string correlation_id,
               store::append_request carried) {
    std::vector<events::domain_event> events;
    events.push_back(std::move(event));
    persist_impl(stream, std::move(events), std::move(then), std::move(correlation_id),
                 false, std::move(carried));
  }

  /// The append that starts another actor's new `stream` with `events`,
  /// for `persist` to carry.
  store::append_request carry(const std::string& stream,
                              const std::vector<events::domain_event>& events,
                              const std::string& correlation_id) {
    store::append_request out;
    out.stream = stream;
    out.events = encode(stream, events, correlation_id);
    return out;
  }

  /// Runs `then` once everything persisted to `stream` so far is durable.
  void after_persisted(const std::string& stream, std::function<void()> then) {
    persist(stream, std::vector<events::domain_event>{}, std::move(then));
  }

  /// The handler each derived actor's behavior forwards `persisted` to.
  void on_persisted(const std::string& stream, persist_outcome& outcome) {
    auto found = streams_.find(stream);
    if (found == streams_.end())
      return;
    auto& e = found->second;
    if (!outcome.result) {
      ctx_->metrics.persist_failures++;
      quit(to_caf(model::errc::unavailable, "journal append to " + stream + " failed: " +
                                                outcome.result.error().message));
      return;
    }
    ctx_->metrics.persists++;
    batch done = std::move(e.in_flight.front());
    e.in_flight.pop_front();
    for (auto& event : done.events)
      e.durable.apply(event);
    e.sequence = outcome.result->last_sequence;
    e.bytes_since_snapshot += done.bytes;
    maybe_snapshot(stream, e);
    std::vector<std::function<void()>> waiting;
    if (!e.next.events.empty()) {
      send_next(stream, e); // on its way while the continuations run
    } else if (e.in_flight.empty()) {
      waiting = std::move(e.next.thens);
      e.next.thens.clear();
    }
    for (auto& then : done.thens)
      if (then)
        then();
    for (auto& then : waiting)
      if (then)
        then();
    after_continuations();
  }

  /// Runs after the continuations of one acknowledged append: an actor may
  /// gather what they did and tell others once (a pool, its claims).
  virtual void after_continuations() {}

  /// Encodes a stream's state for a snapshot; empty: no snapshot.
  virtual std::string encode_state(const State&) const { return {}; }

  std::shared_ptr<runtime_context> ctx_;

private:
  struct batch {
    std::vector<events::domain_event> events;
    std::vector<std::function<void()>> thens;
    std::string correlation_id;
    bool urgent = false;                        // someone waits on it: it may not linger
    std::vector<store::append_request> carried; // other streams, in the same write
    std::size_t bytes = 0;                      // its events' payloads, once encoded
  };

  /// Appends of one stream on their way to the journal at once: two lets a
  /// command's append start while its predecessor's is being synced, more
  /// would only split batches.
  static constexpr std::size_t max_in_flight = 2;

  struct entry {
    State durable;
    State working;
    std::uint64_t sequence = 0;      // durable
    std::uint64_t sent_sequence = 0; // what the appends in flight end at
    std::uint64_t snapshot_sequence = 0;
    std::size_t snapshot_bytes = 0;       // the last snapshot's size
    std::size_t bytes_since_snapshot = 0; // the durable payloads since
    std::deque<batch> in_flight;          // oldest first: acknowledged in order
    batch next;
  };

  void persist_impl(const std::string& stream, std::vector<events::domain_event> events,
                    std::function<void()> then, std::string correlation_id, bool lazy,
                    std::optional<store::append_request> carried = std::nullopt) {
    auto& e = streams_[stream];
    if (carried)
      e.next.carried.push_back(std::move(*carried));
    if (events.empty()) {
      // After everything persisted so far: the last batch decided. Unless
      // lazy, someone waits now, so nothing on the way may linger.
      if (!e.next.thens.empty() || !e.next.events.empty()) {
        e.next.thens.push_back(std::move(then));
        e.next.urgent = e.next.urgent || !lazy;
        if (!lazy)
          flush_if_lingering(e); // what `next` waits for
      } else if (!e.in_flight.empty()) {
        e.in_flight.back().thens.push_back(std::move(then));
        if (!lazy)
          flush_if_lingering(e);
      } else if (then) {
        then();
      }
      return;
    }
    e.next.urgent = e.next.urgent || !lazy;
    for (auto& event : events) {
      if (!e.working.apply(event))
        std::fprintf(stderr, "hearth: %s rejected its own event %s\n", stream.c_str(),
                     events::type_name(event));
      e.next.events.push_back(std::move(event));
    }
    e.next.thens.push_back(std::move(then));
    if (e.next.correlation_id.empty())
      e.next.correlation_id = std::move(correlation_id);
    // Lazy appends in flight do not hold back one someone waits on.
    const auto waited_on = std::count_if(e.in_flight.begin(), e.in_flight.end(),
                                         [](const batch& b) { return b.urgent; });
    if (static_cast<std::size_t>(waited_on) < max_in_flight &&
        (e.next.urgent || e.in_flight.size() < max_in_flight))
      send_next(stream, e); // an urgent append takes what lingers with it
  }

  void flush_if_lingering(const entry& e) {
    if (!std::all_of(e.in_flight.begin(), e.in_flight.end(),
                     [](const batch& b) { return b.urgent; }))
      ctx_->port->flush();
  }

  void send_next(const std::string& stream, entry& e) {
    e.in_flight.push_back(std::move(e.next));
    e.next = batch{};
    const batch& sending = e.in_flight.back();
    store::append_request request;
    request.stream = stream;
    request.expected_sequence = e.sent_sequence;
    e.sent_sequence += sending.events.size();
    request.events = encode(stream, sending.events, sending.correlation_id);
    for (const auto& event : request.events)
      e.in_flight.back().bytes += event.payload.size();
    request.together = std::move(e.in_flight.back().carried);
    caf::actor self_handle = caf::actor_cast<caf::actor>(this);
    const auto submitted = std::chrono::steady_clock::now();
    const auto may_wait =
        sending.urgent ? std::chrono::microseconds::zero() : ctx_->lazy_append_wait;
    ctx_->port->append(
        std::move(request),
        [self_handle, stream, submitted,
         ctx = ctx_](store::result<store::append_ack> result) {
          ctx->metrics.journal_append.observe(std::chrono::steady_clock::now() -
                                              submitted);
          caf::anon_send(self_handle, persisted_atom::value, stream,
                         persist_outcome{std::move(result)});
        },
        may_wait);
  }

  /// The journal's form of `events`, traced when the runtime traces.
  std::vector<store::new_event> encode(const std::string& stream,
                                       const std::vector<events::domain_event>& events,
                                       const std::string& correlation_id) {
    const std::int64_t now = now_ns(this, *ctx_);
    if (ctx_->trace)
      for (const auto& event : events) {
        auto json = events::payload_to_json(events::encode_domain(event));
        std::fprintf(stderr, "trace %.3f %s %s %s\n",
                     static_cast<double>(now - ctx_->wall_at_start_ns) / 1e9,
                     stream.c_str(), events::type_name(event),
                     json ? json->c_str() : "?");
      }
    std::vector<store::new_event> out;
    out.reserve(events.size());
    for (const auto& event : events)
      out.push_back(store::new_event{events::type_name(event), version_of(event),
                                     events::encode_domain(event), correlation_id, now});
    return out;
  }

  static std::uint32_t version_of(const events::domain_event& event) {
    return std::visit([](const auto& x) { return std::decay_t<decltype(x)>::version; },
                      event);
  }

  /// Snapshots a stream after `snapshot_every` events, and not before those
  /// events' payloads add up to the size of its last snapshot: a large
  /// state (a pool of 512 members, ~50 KB) is not written out again every
  /// few dozen checkouts (at the default of 100 events, its snapshots cost
  /// ~40 us of CPU per checkout, more than the rest of a checkout's journal
  /// work; bench/controller --pool-size 512), and a recovery replays at
  /// most about a snapshot's worth of bytes after the snapshot it loads.
  void maybe_snapshot(const std::string& stream, entry& e) {
    if (ctx_->snapshot_every == 0 ||
        e.sequence - e.snapshot_sequence < ctx_->snapshot_every ||
        e.bytes_since_snapshot < e.snapshot_bytes)
      return;
    std::string data = encode_state(e.durable);
    if (data.empty())
      return;
    e.snapshot_sequence = e.sequence;
    e.snapshot_bytes = data.size();
    e.bytes_since_snapshot = 0;
    ctx_->port->save_snapshot(
        store::snapshot{stream, e.sequence, now_ns(this, *ctx_), std::move(data)});
  }

  std::map<std::string, entry> streams_;
};

} // namespace hearth::actors
