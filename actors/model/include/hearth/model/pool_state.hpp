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
enum class member_state {
  warming,
  ready,
  claimed,
  failed,
  expired,
  draining,
  destroyed,
  unavailable
};

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

/// A member by the time it entered its state; the time is kept in the key
/// so that ordering seldom reads the member.
struct member_by_age {
  std::int64_t since_ns;
  const member* m;

  bool operator<(const member_by_age& other) const {
    return since_ns != other.since_ns ? since_ns < other.since_ns : m->id < other.m->id;
  }
};

/// Members (of one pool's `members`), oldest first, then by id.
using members_by_age = std::set<member_by_age>;

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
                expired_count, unavailable_count, members_started, consecutive_failures,
                last_failure_ns)

  /// Applies one event. Answers false (and changes nothing) for an event that
  /// does not fit the state, e.g. a transition `valid_transition` forbids.
  bool apply(const events::domain_event& event);

  /// Counts from the member index below: no walk over the members.
  pool_status status() const;

  /// The id the next started member gets.
  std::string next_member_id() const;

  /// The oldest ready member of the current generation, if any.
  const member* pick_ready() const;

  /// What a reconcile looks at, from an index of the members instead of a
  /// walk over them: while every reconcile walked them, a pool of 512
  /// members cost 1.2-1.6x the CPU per checkout of a pool of 64
  /// (bench/controller). The index is derived, not stored: built from
  /// `members` on first use (so after a copy or a decode too), then kept up
  /// to date by `apply`, the only thing that may change `members`.
  /// Ready members (of every generation) and warming members, oldest first.
  const members_by_age& ready_by_age() const { return indexed().ready; }
  const members_by_age& warming_by_age() const { return indexed().warming; }
  /// Whether a ready or warming member belongs to an older generation.
  bool has_old_generation() const { return indexed().old_live > 0; }

private:
  struct member_index {
    bool built = false;
    members_by_age ready;
    members_by_age warming;
    std::uint32_t draining = 0;
    std::uint32_t old_live = 0;

    member_index() = default;
    // Its pointers are into one state's `members`: a copy starts unbuilt.
    member_index(const member_index&) {}
    member_index& operator=(const member_index&) {
      clear();
      return *this;
    }
    void clear() {
      built = false;
      ready.clear();
      warming.clear();
      draining = 0;
      old_live = 0;
    }
  };

  const member_index& indexed() const;
  /// Enters `m` into the index (`add`) or takes it out, by its state now.
  void index_member(const member& m, bool add) const;

  mutable member_index index_;
};

/// A pool id from its name: "twp_" + name with '-' as '_'.
std::string pool_id_for(std::string_view name);

} // namespace hearth::model

MSGPACK_ADD_ENUM(hearth::model::member_state)
