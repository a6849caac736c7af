#pragma once

#include <caf/all.hpp>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "direct_answer.hpp"
#include "hearth/model/world_state.hpp"
#include "hearth/string_map.hpp"
#include "messages.hpp"
#include "runtime_context.hpp"

namespace hearth::actors {

/// Limits the controller enforces on requests.
struct controller_limits {
  /// Largest min_ready/max_ready accepted.
  // Default: 1000
  std::uint32_t max_pool_size = 1000;
};

/// The front door of the actor system: a directory of pools and sandboxes
/// per tenant, validation, and the flows that span actors (create a pool,
/// create a sandbox through a pool or cold). It supervises pool and sandbox
/// actors: one that stops on a journal failure is recovered from the journal
/// and restarted, with backoff.
class controller_actor : public caf::event_based_actor {
public:
  controller_actor(caf::actor_config& cfg, std::shared_ptr<runtime_context> ctx,
                   model::world_state recovered, controller_limits limits,
                   bool deterministic);

  caf::behavior make_behavior() override;
  void on_exit() override;

private:
  /// A sandbox with no actor yet: its state, as recovered or as its claim
  /// wrote it. Its actor is spawned on the first message for it.
  struct parked_sandbox {
    model::sandbox_state state;
    std::uint64_t sequence = 0;
  };

  struct entry {
    caf::actor actor;
    std::string tenant;
    /// Failures counted toward the restart backoff.
    std::uint32_t restarts = 0;
    std::unique_ptr<parked_sandbox> parked;
    /// Deletes forwarded to `actor`: it may retire only once it had them all.
    std::uint32_t deletes_sent = 0;
    /// When the last restart was due (see `runtime_context::restart_backoff_reset`).
    caf::actor_clock::time_point back_at{};
  };

  /// Monitors `actor` and enters it in the directory as `kind` `id`.
  caf::actor enroll(const std::string& kind, const std::string& id,
                    const std::string& tenant, caf::actor actor);
  caf::actor spawn_pool(model::pool_state state, std::uint64_t sequence);
  caf::actor spawn_new_pool(events::pool_created created, const std::string& correlation);
  caf::actor spawn_sandbox(model::sandbox_state state, std::uint64_t sequence);
  caf::actor spawn_new_sandbox(events::sandbox_created created,
                               const std::string& correlation);
  /// Enters a sandbox in the directory without an actor (see `wake`). Most
  /// sandboxes are never addressed between their claim (or a restart) and
  /// their end: not spawning their actors up front saves a warm checkout
  /// and a recovery an actor each.
  void park(model::sandbox_state&& state, std::uint64_t sequence);
  /// A sandbox's actor, spawned from its parked state if it has none.
  caf::actor wake(entry& e);
  /// Counts parked sandbox `id` among the destroyed ones kept readable,
  /// forgetting the oldest beyond `runtime_context::destroyed_sandboxes_kept`.
  void keep_destroyed(const std::string& id);
  /// The parked state of `tenant`'s sandbox `id`; none if it has an actor
  /// or no such sandbox exists. What it answers needs no actor.
  const model::sandbox_state* parked_state(const std::string& tenant,
                                           const std::string& id) const;
  /// The actor of `tenant`'s sandbox `id`, woken; none for no such sandbox.
  caf::actor sandbox_actor_of(const std::string& tenant, const std::string& id);
  const entry* pool_of(const std::string& tenant, const std::string& id) const;
  /// `spawn_pool` and `spawn_sandbox` for an actor restarted after a
  /// journal failure: the hosts still send its VMs' exits to its
  /// predecessor, so they are pointed at it (`reattach`).
  void respawn_pool(model::pool_state state, std::uint64_t sequence);
  void respawn_sandbox(model::sandbox_state state, std::uint64_t sequence);
  /// Has the hosts send the exits of `vms` (host, VM id) to `actor`, and
  /// tells it of those that are no longer running.
  void reattach(const caf::actor& actor,
                const std::vector<std::pair<std::string, std::string>>& vms);
  void on_down(const caf::down_msg& down);
  void restart(const std::string& kind, const std::string& id);

  /// Checks a pool's configuration and fills in its defaults and template
  /// name; the error names the field at fault.
  std::optional<model::error> check_config(events::pool_config& config) const;
  static std::string resolvable_ref(const events::pool_config& config);
  caf::result<api::pool_info> create_pool(const std::string& tenant, api::pool_spec spec,
                                          const std::string& correlation);
  caf::result<api::pool_info> update_pool(const std::string& tenant,
                                          const std::string& id, api::pool_patch patch);
  /// Creates a sandbox through its warm pool or cold and answers `rp`; an
  /// error it returns refuses the request at once, and `rp` is not used.
  caf::error create_sandbox(const std::string& tenant, api::sandbox_request request,
                            const std::string& correlation,
                            direct_answer<api::sandbox_info> rp);
  void cold_create(direct_answer<api::sandbox_info> rp, const std::string& tenant,
                   const std::string& template_name, const std::string& build_id,
                   std::uint32_t vcpus, std::uint32_t memory_mb, std::string origin,
                   events::warm_pool_checkout checkout, const std::string& correlation,
                   std::vector<std::string> network_allow);
  void reconcile_with_hosts();

  template <class T, class Atom>
  caf::result<std::vector<T>> gather(const string_map<entry>& from,
                                     const std::string& tenant, Atom atom);

  std::shared_ptr<runtime_context> ctx_;
  controller_limits limits_;
  bool deterministic_;
  // Hashed: every create looks a sandbox id up a few times, and a registry
  // holds every sandbox (lists sort their answers).
  string_map<entry> pools_;
  string_map<entry> sandboxes_;
  std::unordered_map<caf::actor_addr, std::pair<std::string, std::string>>
      by_address_; // kind, id
  /// VM id -> (kind, id) of what the journal says runs it; for reconciling
  /// with the hosts after a restart.
  std::map<std::string, std::pair<std::string, std::string>> live_vms_;
  /// Destroyed sandboxes kept readable, the first destroyed first (after a
  /// restart: the first created first).
  std::deque<std::string> destroyed_;
  /// Deleted pools' final states, for a new pool that takes the same name.
  std::map<std::string, std::pair<model::pool_state, std::uint64_t>> deleted_pools_;
};

} // namespace hearth::actors
