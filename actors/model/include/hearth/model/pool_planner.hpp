#pragma once

#include <chrono>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "hearth/events/domain_event.hpp"
#include "hearth/model/pool_state.hpp"

namespace hearth::model {

/// How pools are reconciled. Every limit is here, not in the code.
struct pool_options {
  /// Interval of the reconciliation timer.
  // Default: 1 s
  std::chrono::milliseconds tick{1000};
  /// Members a pool starts filling per reconciliation at most.
  // Default: 4
  std::uint32_t fill_budget_per_tick = 4;
  /// Members a pool destroys per reconciliation at most when draining.
  // Default: 2
  std::uint32_t destroy_budget_per_tick = 2;
  /// Ready members idle longer than this expire and are replaced; 0: never.
  // Default: 0 (never)
  std::chrono::milliseconds idle_ttl{0};
  /// How long a pool waits after a checkout before it refills, so that
  /// checkouts close together are refilled together. 0: right after the
  /// answers of the write that made the claims, behind whatever already
  /// waits in the pool's mailbox (a busy pool still refills its claims
  /// together). A delay costs two wake-ups of CAF's clock thread per refill:
  /// at 256 blocked callers, 0 gave 7-9 % more checkouts/s at 6-7 % less
  /// CPU than 1 ms (bench/controller), and a lone caller's latency did not
  /// suffer (the refill's events wait for the next write anyway).
  // Default: 0
  std::chrono::milliseconds refill_delay{0};
  /// Members still warming after this fail and are replaced.
  // Default: 120 s
  std::chrono::milliseconds warming_deadline{120'000};
  /// After the n-th consecutive fill failure, wait base * 2^(n-1), at most max.
  // Default: 1 s
  std::chrono::milliseconds fill_backoff_base{1000};
  // Default: 60 s
  std::chrono::milliseconds fill_backoff_max{60'000};
};

/// What a pool knows of the world when it reconciles.
struct pool_context {
  std::int64_t now_ns = 0;
  /// The deployment turned reconciliation off for every pool.
  bool controller_disabled = false;
  /// Builds of the pool's template that exist and are ready.
  std::set<std::string> usable_builds;
  /// For track_tag pools: the build the tag points at ("" if unknown).
  std::string tag_build;
  /// Why the last placement attempt could not place a member ("" if it could).
  std::string placement_reason;
  /// Fills asked of placement and not yet answered.
  std::uint32_t fills_in_flight = 0;
  /// Members whose destroy was issued and not yet confirmed.
  std::set<std::string> destroys_in_flight;
  /// What is left of this tick's budgets (reconciliations also run on events
  /// between ticks; together they stay within the per-tick budgets).
  std::uint32_t fills_left = UINT32_MAX;
  std::uint32_t destroys_left = UINT32_MAX;
};

/// What one reconciliation decided: events to persist first, then the VMs to
/// destroy and how many members to start filling.
struct reconcile_plan {
  std::vector<events::domain_event> events;
  std::vector<std::string> destroys;
  std::uint32_t fills = 0;
};

/// Decides one reconciliation of `state`. Pure: the same inputs give the same
/// plan.
reconcile_plan plan_reconcile(const pool_state& state, const pool_context& context,
                              const pool_options& options);

/// The wait after `failures` consecutive fill failures.
std::chrono::milliseconds fill_backoff(std::uint32_t failures,
                                       const pool_options& options);

} // namespace hearth::model
