#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>

#include "hearth/events/domain_event.hpp"
#include "hearth/string_map.hpp"

namespace hearth::model {

/// One machine that runs VMs, as its events describe it.
struct host_state {
  bool exists = false;
  std::string id;
  std::uint32_t vcpus = 0;
  std::uint32_t memory_mb = 0;
  bool healthy = true;
  /// build id -> preparing | ready | failed, with the failure's reason.
  std::map<std::string, std::pair<std::string, std::string>> artifacts;

  bool apply(const events::domain_event& event);
};

/// A tenant's quota, as its events describe it.
struct tenant_state {
  bool exists = false;
  std::string id;
  std::uint32_t quota_vcpus = 0;
  std::uint32_t quota_memory_mb = 0;
  /// API keys: SHA-256 digest (hex) -> key id and role.
  struct key {
    std::string key_id;
    std::string role;
  };
  std::map<std::string, key> keys;

  bool apply(const events::domain_event& event);
};

/// Capacity held by one VM: a pool member (inside its pool's reservation) or
/// a sandbox (counted against its tenant's quota on its own).
struct allocation {
  std::string host;
  std::string tenant;
  std::uint32_t vcpus = 0;
  std::uint32_t memory_mb = 0;
  bool sandbox = false;
};

struct usage {
  std::uint64_t vcpus = 0;
  std::uint64_t memory_mb = 0;
};

/// The answer of a placement: a host, or why there is none. `reason` is one of
/// the seed's degraded reasons: quota_exceeded, no_eligible_hosts,
/// artifact_not_ready, artifact_prewarm_failed.
struct placement {
  std::string host;
  std::string reason;
  /// A host that should start preparing the artifact ("" if none).
  std::string prepare_on;
};

/// Hosts, tenants and every VM's allocation: the one consistent view that
/// placement and quota admission need. Allocations are not events of their
/// own: they follow from pool members and sandboxes, and are rebuilt from
/// those on recovery.
class capacity_ledger {
public:
  std::map<std::string, host_state> hosts;
  std::map<std::string, tenant_state> tenants;

  /// Picks the healthy host with the most free capacity that holds the
  /// artifact of `build_id` (spreading fills). First checks that `tenant`
  /// stays within its quota with `extra` more reserved (a cold sandbox's
  /// size; nothing for a pool member, which its pool already reserved).
  /// Does not allocate.
  placement place(const std::string& tenant, const std::string& build_id,
                  std::uint32_t vcpus, std::uint32_t memory_mb, usage extra) const;

  /// Whether `tenant`'s reserved capacity plus `extra` stays within its quota.
  /// Reserved: every pool's max_ready x size, plus every sandbox.
  bool within_quota(const std::string& tenant, usage extra) const;

  /// Sets (or with zero, clears) what pool `pool_id` reserves.
  void set_reservation(const std::string& pool_id, const std::string& tenant,
                       usage reserved);
  usage reserved(const std::string& tenant) const;

  void allocate(const std::string& vm_id, allocation what);
  void release(const std::string& vm_id);
  /// A pool member's VM became a sandbox (a warm checkout): it now counts
  /// against its tenant's quota. No-op for an unknown VM or a sandbox's.
  void make_sandbox(const std::string& vm_id);
  const allocation* find(const std::string& vm_id) const;

  usage host_usage(const std::string& host) const;
  /// What `tenant`'s sandboxes hold.
  usage tenant_usage(const std::string& tenant) const;
  std::size_t allocation_count() const { return allocations_.size(); }

private:
  /// Adds `a` to (or takes it from) its host's and tenant's usage.
  void count(const allocation& a, bool add);

  string_map<allocation> allocations_;
  std::unordered_map<std::string, usage> host_used_;
  /// Sandbox allocations per tenant (pool members count as reservations).
  std::unordered_map<std::string, usage> tenant_used_;
  std::unordered_map<std::string, std::pair<std::string, usage>> pool_reserved_;
  /// Sum of pool_reserved_ per tenant, kept up to date (placement asks often).
  std::unordered_map<std::string, usage> tenant_reserved_;
};

} // namespace hearth::model
