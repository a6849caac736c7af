#pragma once

#include <caf/all.hpp>
#include <memory>
#include <set>
#include <string>

#include "event_sourced.hpp"
#include "hearth/model/capacity.hpp"
#include "hearth/model/world_state.hpp"

namespace hearth::actors {

/// One host's or one tenant's stream state (a stream holds one kind only).
struct capacity_stream {
  model::host_state host;
  model::tenant_state tenant;
  bool apply(const events::domain_event& event) {
    return host.apply(event) || tenant.apply(event);
  }
};

/// Hosts (`host/<id>` streams), tenants (`tenant/<id>`) and every VM's
/// allocation: placement, quota admission and artifact preparation need one
/// consistent view of them, so one actor owns them. A host's own actor is its
/// vmm actor. Messages:
///   (place_atom, vector<place_request>)         -> vector<place_reply>
///   (release_atom, vm_id), (claimed_atom, [vm_id])
///   (reserve_atom, pool_id, tenant, vcpus, memory_mb) -> bool | quota_exceeded
///   (health_atom, host, healthy, reason)        from a vmm actor
///   (artifact_atom, host, build_id, artifact)   -> bool, once `host` has recorded
///                                                the artifact of a finished build
///   (hosts_atom)                                -> vector<api::host_info>
///   (tenant_atom, id, quota_vcpus, quota_memory_mb) -> bool
///   (key_atom, tenant, key_id, digest, role)     -> bool | not_found
///   (auth_atom, digest)                          -> api::principal | unauthenticated
///   (tenants_atom)                               -> vector<api::tenant_info>
class capacity_actor : public event_sourced<capacity_stream> {
public:
  capacity_actor(caf::actor_config& cfg, std::shared_ptr<runtime_context> ctx,
                 const model::world_state& recovered);

  caf::behavior make_behavior() override;
  void on_exit() override {
    waiting_.clear();
    event_sourced<capacity_stream>::on_exit();
  }

private:
  void refresh(const std::string& stream);
  void prepare(const std::string& host, const std::string& build_id);
  void notify_waiting();
  std::vector<place_reply> place(std::vector<place_request>& requests);
  std::vector<api::host_info> host_infos() const;

  model::capacity_ledger ledger_;
  std::map<std::string, std::string> artifact_refs_; // build id -> artifact
  std::set<caf::actor> waiting_;
};

} // namespace hearth::actors
