#pragma once

#include "hearth/model/pool_planner.hpp"
#include "journal_port.hpp"

#include <array>
#include <atomic>
#include <caf/all.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>

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
  latency_recorder journal_append;
  latency_recorder vm_restore;
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
  /// How long a sandbox restart waits after the n-th failure: base * 2^(n-1).
  std::chrono::milliseconds restart_backoff{100};

  caf::actor capacity;
  caf::actor templates;
  caf::actor controller;
  std::map<std::string, caf::actor> vmms; // host id -> vmm actor
  std::string build_host;
  /// Print every persisted event to stderr (HEARTH_TRACE=1).
  bool trace = false;

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
