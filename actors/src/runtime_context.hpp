#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include <caf/all.hpp>

#include "hearth/model/pool_planner.hpp"
#include "journal_port.hpp"

namespace hearth::actors {

/// Counters the runtime exposes (later as Prometheus metrics).
struct runtime_metrics {
  std::atomic<std::uint64_t> checkouts_hit{0};
  std::atomic<std::uint64_t> checkouts_miss{0};
  std::atomic<std::uint64_t> cold_creates{0};
  std::atomic<std::uint64_t> persists{0};
  std::atomic<std::uint64_t> persist_failures{0};
  std::atomic<std::uint64_t> actor_restarts{0};
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
  return ctx.wall_at_start_ns
         + std::chrono::duration_cast<std::chrono::nanoseconds>(self->clock().now()
                                                                - ctx.clock_at_start)
             .count();
}

} // namespace hearth::actors
