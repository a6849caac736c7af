#include "hearth/model/capacity.hpp"

#include <tuple>

namespace hearth::model {
namespace {

struct host_applier {
  host_state& s;
  bool operator()(const events::host_registered& e) {
    s.exists = true;
    s.id = e.id;
    s.vcpus = e.vcpus;
    s.memory_mb = e.memory_mb;
    return true;
  }
  bool operator()(const events::host_health_changed& e) {
    if (!s.exists || (e.to != "lost" && e.to != "healthy"))
      return false;
    s.healthy = e.to == "healthy";
    return true;
  }
  bool operator()(const events::artifact_changed& e) {
    if (!s.exists || (e.to != "preparing" && e.to != "ready" && e.to != "failed"))
      return false;
    s.artifacts[e.build_id] = {e.to, e.reason};
    return true;
  }
  template <class Other>
  bool operator()(const Other&) {
    return false;
  }
};

struct tenant_applier {
  tenant_state& s;
  bool operator()(const events::tenant_created& e) {
    if (s.exists)
      return false;
    s.exists = true;
    s.id = e.id;
    s.quota_vcpus = e.quota_vcpus;
    s.quota_memory_mb = e.quota_memory_mb;
    return true;
  }
  bool operator()(const events::tenant_quota_set& e) {
    if (!s.exists)
      return false;
    s.quota_vcpus = e.quota_vcpus;
    s.quota_memory_mb = e.quota_memory_mb;
    return true;
  }
  bool operator()(const events::tenant_key_added& e) {
    if (!s.exists || s.keys.count(e.digest) != 0)
      return false;
    s.keys[e.digest] = tenant_state::key{e.key_id, e.role};
    return true;
  }
  bool operator()(const events::tenant_key_revoked& e) {
    if (!s.exists)
      return false;
    for (auto it = s.keys.begin(); it != s.keys.end(); ++it)
      if (it->second.key_id == e.key_id) {
        s.keys.erase(it);
        return true;
      }
    return false;
  }
  template <class Other>
  bool operator()(const Other&) {
    return false;
  }
};

} // namespace

bool host_state::apply(const events::domain_event& event) {
  return std::visit(host_applier{*this}, event);
}

bool tenant_state::apply(const events::domain_event& event) {
  return std::visit(tenant_applier{*this}, event);
}

bool capacity_ledger::within_quota(const std::string& tenant, usage extra) const {
  auto found = tenants.find(tenant);
  if (found == tenants.end())
    return false;
  const usage used = tenant_usage(tenant);
  const usage pools = reserved(tenant);
  return used.vcpus + pools.vcpus + extra.vcpus <= found->second.quota_vcpus &&
         used.memory_mb + pools.memory_mb + extra.memory_mb <=
             found->second.quota_memory_mb;
}

void capacity_ledger::set_reservation(const std::string& pool_id,
                                      const std::string& tenant, usage amount) {
  auto previous = pool_reserved_.find(pool_id);
  if (previous != pool_reserved_.end()) {
    auto& total = tenant_reserved_[previous->second.first];
    total.vcpus -= previous->second.second.vcpus;
    total.memory_mb -= previous->second.second.memory_mb;
    pool_reserved_.erase(previous);
  }
  if (amount.vcpus == 0 && amount.memory_mb == 0)
    return;
  pool_reserved_[pool_id] = {tenant, amount};
  auto& total = tenant_reserved_[tenant];
  total.vcpus += amount.vcpus;
  total.memory_mb += amount.memory_mb;
}

usage capacity_ledger::reserved(const std::string& tenant) const {
  auto found = tenant_reserved_.find(tenant);
  return found == tenant_reserved_.end() ? usage{} : found->second;
}

placement capacity_ledger::place(const std::string& tenant, const std::string& build_id,
                                 std::uint32_t vcpus, std::uint32_t memory_mb,
                                 usage extra) const {
  placement out;
  if (!within_quota(tenant, extra)) {
    out.reason = "quota_exceeded";
    return out;
  }
  const host_state* best_ready = nullptr;
  const host_state* best_missing = nullptr;
  bool any_fits = false;
  bool any_preparing = false;
  std::tuple<std::uint64_t, std::uint64_t> best_ready_free{0, 0};
  std::tuple<std::uint64_t, std::uint64_t> best_missing_free{0, 0};
  for (const auto& [id, host] : hosts) {
    if (!host.healthy)
      continue;
    const usage used = host_usage(id);
    if (used.vcpus + vcpus > host.vcpus || used.memory_mb + memory_mb > host.memory_mb)
      continue;
    any_fits = true;
    const std::tuple<std::uint64_t, std::uint64_t> free{host.vcpus - used.vcpus,
                                                        host.memory_mb - used.memory_mb};
    auto artifact = host.artifacts.find(build_id);
    const std::string state =
        artifact == host.artifacts.end() ? "" : artifact->second.first;
    if (state == "ready") {
      if (best_ready == nullptr || free > best_ready_free) {
        best_ready = &host;
        best_ready_free = free;
      }
    } else if (state == "preparing") {
      any_preparing = true;
    } else if (state.empty()) {
      if (best_missing == nullptr || free > best_missing_free) {
        best_missing = &host;
        best_missing_free = free;
      }
    }
  }
  if (best_ready != nullptr) {
    out.host = best_ready->id;
    return out;
  }
  if (!any_fits) {
    out.reason = "no_eligible_hosts";
    return out;
  }
  if (best_missing != nullptr) {
    out.reason = "artifact_not_ready";
    out.prepare_on = best_missing->id;
    return out;
  }
  out.reason = any_preparing ? "artifact_not_ready" : "artifact_prewarm_failed";
  return out;
}

void capacity_ledger::count(const allocation& a, bool add) {
  auto& host = host_used_[a.host];
  host.vcpus = add ? host.vcpus + a.vcpus : host.vcpus - a.vcpus;
  host.memory_mb = add ? host.memory_mb + a.memory_mb : host.memory_mb - a.memory_mb;
  if (a.sandbox) {
    auto& tenant = tenant_used_[a.tenant];
    tenant.vcpus = add ? tenant.vcpus + a.vcpus : tenant.vcpus - a.vcpus;
    tenant.memory_mb =
        add ? tenant.memory_mb + a.memory_mb : tenant.memory_mb - a.memory_mb;
  }
}

void capacity_ledger::allocate(const std::string& vm_id, allocation what) {
  // One lookup: the table holds every VM, so each costs a cache miss.
  auto [at, fresh] = allocations_.try_emplace(vm_id, what);
  if (!fresh) {
    count(at->second, false);
    at->second = what;
  }
  count(what, true);
}

void capacity_ledger::release(const std::string& vm_id) {
  auto found = allocations_.find(vm_id);
  if (found == allocations_.end())
    return;
  count(found->second, false);
  allocations_.erase(found);
}

void capacity_ledger::make_sandbox(const std::string& vm_id) {
  auto found = allocations_.find(vm_id);
  if (found == allocations_.end() || found->second.sandbox)
    return;
  found->second.sandbox = true;
  auto& tenant = tenant_used_[found->second.tenant];
  tenant.vcpus += found->second.vcpus;
  tenant.memory_mb += found->second.memory_mb;
}

const allocation* capacity_ledger::find(const std::string& vm_id) const {
  auto found = allocations_.find(vm_id);
  return found == allocations_.end() ? nullptr : &found->second;
}

usage capacity_ledger::host_usage(const std::string& host) const {
  auto found = host_used_.find(host);
  return found == host_used_.end() ? usage{} : found->second;
}

usage capacity_ledger::tenant_usage(const std::string& tenant) const {
  auto found = tenant_used_.find(tenant);
  return found == tenant_used_.end() ? usage{} : found->second;
}

} // namespace hearth::model
