#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "hearth/events/domain_event.hpp"

namespace hearth::model {

/// Where a pool member is in its life. A claimed member has become a sandbox
/// and left the pool for good.
enum class member_state { warming, ready, claimed, failed, expired, draining, destroyed, unavailable };

std::string_view to_string(member_state state);
std::optional<member_state> parse_member_state(std::string_view text);

/// Whether a member may go from `from` to `to`.
bool valid_transition(member_state from, member_state to);

/// One VM of a pool.
struct member {
  std::string id; // also the VM's id, and the sandbox's VM once claimed
  std::string build_id;
  std::uint64_t generation = 0;
  std::string host;
  member_state state = member_state::warming;
  std::int64_t since_ns = 0;
  std::map<std::string, std::string> endpoints;
  HEARTH_FIELDS(id, build_id, generation, host, state, since_ns, endpoints)
};

/// The counts the seed names. ready, warming and draining are current;
/// claimed, failed, expired and unavailable count members that left that way.
struct pool_status {
  std::uint32_t target = 0;
  std::uint32_t ready = 0;
  std::uint32_t warming = 0;
  std::uint64_t claimed = 0;
  std::uint32_t draining = 0;
  std::uint64_t failed = 0;
  std::uint64_t expired = 0;
  std::uint64_t unavailable = 0;
};

/// A warm pool as its events describe it. No CAF, no I/O: the actor, recovery
/// and `hearth replay` all use this one `apply`.
struct pool_state {
  bool exists = false;
  std::string id;
  std::string tenant;
  std::string name;
  events::pool_config config;
  /// The build the pool fills, and its rollout generation.
  std::string build_id;
  std::uint64_t generation = 0;
  bool enabled = true;
  bool draining = false;
  bool deleting = false;
  bool deleted = false;
  std::string degraded_reason;
  /// Members still in the pool: warming, ready or draining.
  std::map<std::string, member> members;
  std::uint64_t claimed_count = 0;
  std::uint64_t failed_count = 0;
  std::uint64_t expired_count = 0;
  std::uint64_t unavailable_count = 0;
  /// Members ever started; the next member id uses it.
  std::uint64_t members_started = 0;
  /// Fill failures since the last member became ready.
  std::uint32_t consecutive_failures = 0;
  std::int64_t last_failure_ns = 0;

  HEARTH_FIELDS(exists, id, tenant, name, config, build_id, generation, enabled, draining,
                     deleting, deleted, degraded_reason, members, claimed_count, failed_count,
                     expired_count, unavailable_count, members_started,
                     consecutive_failures, last_failure_ns)

  /// Applies one event. Answers false (and changes nothing) for an event that
  /// does not fit the state, e.g. a transition `valid_transition` forbids.
  bool apply(const events::domain_event& event);

  pool_status status() const;

  /// The id the next started member gets.
  std::string next_member_id() const;

  /// The oldest ready member of the current generation, if any: O(log n),
  /// from an index of the ready members (rebuilt from `members` after a
  /// decode or on first use, then kept up to date by `apply`, the only
  /// thing that may change `members`).
  const member* pick_ready() const;

private:
  /// The ready members by (since_ns, id), oldest first; derived, not stored.
  mutable std::set<std::pair<std::int64_t, std::string>> ready_index_;
  mutable bool ready_indexed_ = false;
};

/// A pool id from its name: "twp_" + name with '-' as '_'.
std::string pool_id_for(std::string_view name);

} // namespace hearth::model

MSGPACK_ADD_ENUM(hearth::model::member_state)
