#include "hearth/model/pool_planner.hpp"

#include <algorithm>
#include <map>
#include <optional>

namespace hearth::model {
namespace {

std::int64_t to_ns(std::chrono::milliseconds d) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
}

/// Collects events and applies them to a working copy, so later decisions
/// of the same plan see earlier ones. The copy is made at the first event:
/// most plans (a refill) have none, and copying every member cost a
/// checkout more than its claim did (bench/controller).
struct planner {
  const pool_state& base;
  std::optional<pool_state> changed;
  reconcile_plan plan;

  const pool_state& s() const { return changed ? *changed : base; }

  void emit(events::domain_event event) {
    if (!changed)
      changed.emplace(base);
    changed->apply(event);
    plan.events.push_back(std::move(event));
  }

  void member_to(const std::string& id, member_state to, std::string reason,
                 std::int64_t now) {
    emit(events::member_changed{id, std::string(to_string(to)), std::move(reason), now});
  }

  void set_degraded(const std::string& reason) {
    if (s().degraded_reason != reason)
      emit(events::degraded_changed{reason});
  }
};

} // namespace

std::chrono::milliseconds fill_backoff(std::uint32_t failures,
                                       const pool_options& options) {
  if (failures == 0)
    return std::chrono::milliseconds(0);
  auto wait = options.fill_backoff_base;
  for (std::uint32_t i = 1; i < failures && wait < options.fill_backoff_max; ++i)
    wait *= 2;
  return std::min(wait, options.fill_backoff_max);
}

reconcile_plan plan_reconcile(const pool_state& state, const pool_context& context,
                              const pool_options& options) {
  planner p{state, std::nullopt, {}};
  const std::int64_t now = context.now_ns;
  if (!state.exists || state.deleted)
    return p.plan;
  if (context.controller_disabled) {
    p.set_degraded("controller_disabled");
    return p.plan;
  }
  if (!state.enabled)
    return p.plan; // a disabled pool keeps its inventory untouched

  // Rollout: a moved tag starts a new generation; older inventory drains.
  if (state.config.version_policy == "track_tag" && !context.tag_build.empty() &&
      context.tag_build != p.s().build_id && !p.s().draining)
    p.emit(events::rollout_started{p.s().generation + 1, context.tag_build});

  // Members that may not stay: expired, stuck warming, old generation, drain.
  // Found through the pool's index of members by age (a walk over every
  // member only while some must leave for a drain or a rollout), then
  // emitted in the members' order (an event may take its member out of the
  // map). A member that has expired or is stuck leaves that way, not by
  // draining.
  struct leaving {
    member_state to;
    const char* reason;
    bool destroy;
  };
  std::map<std::string, leaving> leave;
  if (options.idle_ttl.count() > 0)
    for (const auto& [since, m] : p.s().ready_by_age()) {
      if (now < since + to_ns(options.idle_ttl))
        break;
      leave.emplace(m->id,
                    leaving{member_state::expired, "idle longer than the ttl", true});
    }
  for (const auto& [since, m] : p.s().warming_by_age()) {
    if (now < since + to_ns(options.warming_deadline))
      break;
    leave.emplace(m->id,
                  leaving{member_state::failed, "still warming at its deadline", true});
  }
  if (p.s().draining || p.s().has_old_generation())
    for (const auto& [id, m] : p.s().members) {
      const bool live =
          m.state == member_state::ready || m.state == member_state::warming;
      if (live && (p.s().draining || m.generation < p.s().generation))
        leave.emplace(
            id, leaving{member_state::draining,
                        p.s().draining ? "pool draining" : "rollout to a new generation",
                        false});
    }
  for (auto& [id, l] : leave) {
    p.member_to(id, l.to, l.reason, now);
    if (l.destroy)
      p.plan.destroys.push_back(id);
  }

  // Destroy draining members at the budget's pace.
  std::uint32_t destroy_budget =
      std::min(options.destroy_budget_per_tick, context.destroys_left);
  if (p.s().status().draining > 0)
    for (const auto& [id, m] : p.s().members) {
      if (destroy_budget == 0)
        break;
      if (m.state == member_state::draining &&
          context.destroys_in_flight.count(id) == 0) {
        p.plan.destroys.push_back(id);
        --destroy_budget;
      }
    }

  if (p.s().deleting && p.s().members.empty()) {
    p.emit(events::pool_lifecycle{"deleted"});
    return p.plan;
  }

  if (p.s().draining) {
    p.set_degraded("drain_active");
    return p.plan;
  }

  // Fill toward min_ready, never beyond max_ready.
  const auto status = p.s().status();
  const std::uint32_t live = status.ready + status.warming + context.fills_in_flight;
  std::uint32_t want = p.s().config.min_ready > live ? p.s().config.min_ready - live : 0;
  const std::uint32_t room =
      p.s().config.max_ready > live ? p.s().config.max_ready - live : 0;
  want = std::min({want, room, options.fill_budget_per_tick, context.fills_left});

  if (context.usable_builds.count(p.s().build_id) == 0) {
    p.set_degraded("template_build_unavailable");
    return p.plan;
  }
  const bool needs_fill =
      p.s().config.min_ready > status.ready + status.warming + context.fills_in_flight;
  p.set_degraded(needs_fill ? context.placement_reason : "");

  if (want > 0 && p.s().consecutive_failures > 0) {
    const std::int64_t retry_at =
        p.s().last_failure_ns + to_ns(fill_backoff(p.s().consecutive_failures, options));
    if (now < retry_at)
      want = 0;
  }
  p.plan.fills = want;
  return p.plan;
}

} // namespace hearth::model
