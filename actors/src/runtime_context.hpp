#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <caf/all.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "hearth/model/pool_planner.hpp"
#include "journal_port.hpp"

namespace hearth::actors {

/// A latency histogram any thread may add to.
class latency_recorder {
public:
  static constexpr std::array<double, 16> bounds_s{
      0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025,
      0.05,   0.1,     0.25,   0.5,   1,     2.5,   5,    10};

  void observe(std::chrono::steady_clock::duration took) {
    const double seconds = std::chrono::duration<double>(took).count();
    std::size_t i = 0;
    while (i < bounds_s.size() && seconds > bounds_s[i])
      ++i;
    counts_[i].fetch_add(1, std::memory_order_relaxed);
    sum_ns_.fetch_add(
        static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(took).count()),
        std::memory_order_relaxed);
  }

  template <class Histogram>
  void copy_to(Histogram& out) const {
    out.bounds_s.assign(bounds_s.begin(), bounds_s.end());
    out.counts.clear();
    for (const auto& c : counts_)
      out.counts.push_back(c.load(std::memory_order_relaxed));
    out.sum_s = static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
  }

private:
  std::array<std::atomic<std::uint64_t>, bounds_s.size() + 1> counts_{};
  std::atomic<std::uint64_t> sum_ns_{0};
};

/// Counters the runtime exposes (as Prometheus metrics through hearthd).
struct runtime_metrics {
  std::atomic<std::uint64_t> checkouts_hit{0};
  std::atomic<std::uint64_t> checkouts_miss{0};
  std::atomic<std::uint64_t> cold_creates{0};
  std::atomic<std::uint64_t> persists{0};
  std::atomic<std::uint64_t> persist_failures{0};
  std::atomic<std::uint64_t> actor_restarts{0};
  /// Checkouts waiting for a pool's ready VM now (a gauge).
  std::atomic<std::int64_t> checkout_waiters{0};
  /// Sandboxes with a live actor now (a gauge); the others are parked.
  std::atomic<std::int64_t> sandbox_actors{0};
  latency_recorder journal_append;
  latency_recorder vm_restore;
};

/// The pools' actors by id, so that a checkout goes straight to its pool.
/// The controller keeps it: it spawns, restarts and removes pools.
class pool_directory {
public:
  void set(const std::string& id, const std::string& tenant, caf::actor actor) {
    std::lock_guard<std::mutex> lock(mutex_);
    pools_[id] = {tenant, std::move(actor)};
  }
  /// Forgets pool `id` if `actor` is still the one it has.
  void erase(const std::string& id, const caf::actor_addr& actor) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = pools_.find(id);
    if (found != pools_.end() && found->second.second.address() == actor)
      pools_.erase(found);
  }
  void clear() {
    std::lock_guard<std::mutex> lock(mutex_);
    pools_.clear();
  }
  /// The actor of pool `id` of `tenant`, or an invalid handle.
  caf::actor find(const std::string& tenant, const std::string& id) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = pools_.find(id);
    return found == pools_.end() || found->second.first != tenant ? caf::actor{}
                                                                  : found->second.second;
  }

private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::pair<std::string, caf::actor>> pools_;
};

/// New sandbox ids, made by the controller (cold creates) and by the pools
/// (claims). They grow with time: milliseconds since the epoch above a
/// counter, strictly increasing and above every id recovered from the
/// journal. A new sandbox's stream then lands after the last one in the
/// journal's key order, where inserting it is cheapest (random ids put each
/// new stream's index and metadata entries at random places of the memtables
/// and tables). No id repeats, so a create needs neither a lookup nor a
/// placeholder in the registry.
class sandbox_ids {
public:
  std::string next(std::int64_t now_ns) {
    const auto floor = static_cast<std::uint64_t>(now_ns / 1'000'000) << 20;
    auto last = last_.load(std::memory_order_relaxed);
    std::uint64_t id = 0;
    do
      id = std::max(last + 1, floor);
    while (!last_.compare_exchange_weak(last, id, std::memory_order_relaxed));
    char text[32];
    std::snprintf(text, sizeof(text), "sbx_%016llx", static_cast<unsigned long long>(id));
    return text;
  }

  /// Keeps new ids above `id`, one recovered from the journal.
  void note(const std::string& id) {
    constexpr std::string_view prefix = "sbx_";
    if (id.size() != prefix.size() + 16 || id.compare(0, prefix.size(), prefix) != 0)
      return; // not one made here: cannot collide with one made here
    std::uint64_t value = 0;
    for (std::size_t i = prefix.size(); i < id.size(); ++i) {
      const char c = id[i];
      const int digit = c >= '0' && c <= '9'   ? c - '0'
                        : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                               : -1;
      if (digit < 0)
        return;
      value = (value << 4) | static_cast<std::uint64_t>(digit);
    }
    auto last = last_.load(std::memory_order_relaxed);
    while (last < value &&
           !last_.compare_exchange_weak(last, value, std::memory_order_relaxed)) {
    }
  }

private:
  std::atomic<std::uint64_t> last_{0};
};

/// What every actor of one runtime shares. Set up before the first actor
/// spawns; the actor handles are filled in as the runtime spawns them.
struct runtime_context {
  journal_port* port = nullptr;
  model::pool_options pools;
  /// The deployment turned reconciliation off (`controller_disabled`).
  bool controller_disabled = false;
  /// Snapshot an actor's state every this many events; 0: never.
  std::uint64_t snapshot_every = 0;
  /// How long the journal may hold events persisted lazily (no caller waits
  /// on them) for company; see `event_sourced::persist_lazily`.
  std::chrono::microseconds lazy_append_wait{2000};
  /// Domain time = wall time at start + time the actor clock moved since.
  std::int64_t wall_at_start_ns = 0;
  caf::actor_clock::time_point clock_at_start;
  /// How long an actor's restart waits after its n-th failure: base * 2^(n-1),
  /// doubling up to the first wait of 30 s or more.
  std::chrono::milliseconds restart_backoff{100};
  /// An actor that has run this long since its last restart counts its
  /// failures from zero again: one that failed an hour ago is not slowed down.
  std::chrono::milliseconds restart_backoff_reset{60'000};

  caf::actor capacity;
  caf::actor templates;
  caf::actor controller;
  std::map<std::string, caf::actor> vmms; // host id -> vmm actor
  std::string build_host;
  /// Print every persisted event to stderr (HEARTH_TRACE=1).
  bool trace = false;
  /// How many destroyed sandboxes the controller keeps readable.
  std::size_t destroyed_sandboxes_kept = 10'000;
  /// The longest `warm_pool_wait_ms` a create may ask for.
  std::uint32_t max_warm_pool_wait_ms = 60'000;

  pool_directory pool_actors;
  sandbox_ids new_sandbox_ids;

  runtime_metrics metrics;
};

/// Now, in nanoseconds since the Unix epoch, by `self`'s clock (simulated
/// under the deterministic scheduler).
inline std::int64_t now_ns(caf::local_actor* self, const runtime_context& ctx) {
  return ctx.wall_at_start_ns + std::chrono::duration_cast<std::chrono::nanoseconds>(
                                    self->clock().now() - ctx.clock_at_start)
                                    .count();
}

} // namespace hearth::actors
