#include "capacity_actor.hpp"

namespace hearth::actors {

capacity_actor::capacity_actor(caf::actor_config& cfg,
                               std::shared_ptr<runtime_context> ctx,
                               const model::world_state& recovered)
    : event_sourced<capacity_stream>(cfg, std::move(ctx)) {
  for (const auto& [id, host] : recovered.hosts) {
    const auto stream = model::host_stream(id);
    auto seq = recovered.sequences.find(stream);
    adopt(stream, capacity_stream{host, {}},
          seq == recovered.sequences.end() ? 0 : seq->second);
    refresh(stream);
  }
  for (const auto& [id, tenant] : recovered.tenants) {
    const auto stream = model::tenant_stream(id);
    auto seq = recovered.sequences.find(stream);
    adopt(stream, capacity_stream{{}, tenant},
          seq == recovered.sequences.end() ? 0 : seq->second);
    refresh(stream);
  }
  // Allocations are not events: they follow from pool members and sandboxes.
  for (const auto& [id, pool] : recovered.pools) {
    if (!pool.exists || pool.deleted)
      continue;
    ledger_.set_reservation(
        id, pool.tenant,
        model::usage{std::uint64_t{pool.config.max_ready} * pool.config.vcpus,
                     std::uint64_t{pool.config.max_ready} * pool.config.memory_mb});
    for (const auto& [member_id, m] : pool.members)
      ledger_.allocate(member_id,
                       model::allocation{m.host, pool.tenant, pool.config.vcpus,
                                         pool.config.memory_mb, false});
  }
  for (const auto& [sandbox_id, c] : recovered.claims)
    if (recovered.sandboxes.count(sandbox_id) == 0)
      ledger_.allocate(c.claimed.id, model::allocation{c.claimed.host, c.tenant, c.vcpus,
                                                       c.memory_mb, true});
  for (const auto& [id, sandbox] : recovered.sandboxes)
    if (sandbox.holds_capacity())
      ledger_.allocate(sandbox.vm_id,
                       model::allocation{sandbox.host, sandbox.tenant, sandbox.vcpus,
                                         sandbox.memory_mb, true});
  for (const auto& [name, tmpl] : recovered.templates)
    for (const auto& [build_id, build] : tmpl.builds)
      if (build.status == "ready")
        artifact_refs_[build_id] = build.artifact;
}

void capacity_actor::refresh(const std::string& stream) {
  const auto* s = durable(stream);
  if (s == nullptr)
    return;
  if (s->host.exists)
    ledger_.hosts[s->host.id] = s->host;
  if (s->tenant.exists)
    ledger_.tenants[s->tenant.id] = s->tenant;
}

void capacity_actor::notify_waiting() {
  for (const auto& pool : waiting_)
    send(pool, capacity_atom::value);
  waiting_.clear();
}

void capacity_actor::prepare(const std::string& host, const std::string& build_id) {
  const auto stream = model::host_stream(host);
  persist(stream, events::artifact_changed{build_id, "preparing", ""}, [=] {
    refresh(stream);
    auto vmm = ctx_->vmms.find(host);
    if (vmm == ctx_->vmms.end())
      return;
    request(vmm->second, caf::infinite, prepare_atom::value, build_id,
            artifact_refs_[build_id])
        .then(
            [=](bool) {
              persist(stream, events::artifact_changed{build_id, "ready", ""}, [=] {
                refresh(stream);
                notify_waiting();
              });
            },
            [=](const caf::error& err) {
              persist(stream,
                      events::artifact_changed{build_id, "failed", from_caf(err).message},
                      [=] {
                        refresh(stream);
                        notify_waiting();
                      });
            });
  });
}

std::vector<place_reply> capacity_actor::place(std::vector<place_request>& requests) {
  std::vector<place_reply> replies;
  for (const auto& r : requests) {
    const model::usage extra =
        r.sandbox ? model::usage{r.vcpus, r.memory_mb} : model::usage{};
    auto where = ledger_.place(r.tenant, r.build_id, r.vcpus, r.memory_mb, extra);
    if (!where.host.empty()) {
      ledger_.allocate(r.vm_id, model::allocation{where.host, r.tenant, r.vcpus,
                                                  r.memory_mb, r.sandbox});
      replies.push_back(place_reply{r.vm_id, where.host, ""});
      continue;
    }
    if (!where.prepare_on.empty())
      prepare(where.prepare_on, r.build_id);
    replies.push_back(place_reply{r.vm_id, "", where.reason});
  }
  return replies;
}

std::vector<api::host_info> capacity_actor::host_infos() const {
  std::vector<api::host_info> out;
  for (const auto& [id, host] : ledger_.hosts) {
    api::host_info info;
    info.id = id;
    info.vcpus = host.vcpus;
    info.memory_mb = host.memory_mb;
    const auto used = ledger_.host_usage(id);
    info.used_vcpus = used.vcpus;
    info.used_memory_mb = used.memory_mb;
    info.healthy = host.healthy;
    for (const auto& [build, state] : host.artifacts)
      info.artifacts[build] = state.first;
    out.push_back(std::move(info));
  }
  return out;
}

caf::behavior capacity_actor::make_behavior() {
  return {
      [this](persisted_atom, const std::string& stream, persist_outcome& outcome) {
        on_persisted(stream, outcome);
      },
      [this](place_atom, std::vector<place_request>& requests) {
        auto replies = place(requests);
        // A pool that could not fill hears when capacity changes; a cold
        // create just fails.
        for (std::size_t i = 0; i < replies.size(); ++i)
          if (replies[i].host.empty() && !requests[i].sandbox) {
            waiting_.insert(caf::actor_cast<caf::actor>(current_sender()));
            break;
          }
        return replies;
      },
      [this](release_atom, const std::string& vm_id) {
        if (ledger_.find(vm_id) != nullptr) {
          ledger_.release(vm_id);
          notify_waiting();
        }
      },
      [this](claimed_atom, const std::vector<std::string>& vms) {
        for (const auto& vm_id : vms)
          ledger_.make_sandbox(vm_id);
      },
      [this](reserve_atom, const std::string& pool_id, const std::string& tenant,
             std::uint64_t vcpus, std::uint64_t memory_mb) -> caf::result<bool> {
        if (ledger_.tenants.count(tenant) == 0)
          return to_caf(model::errc::not_found, "tenant " + tenant + " does not exist");
        const auto before = ledger_.reserved(tenant);
        ledger_.set_reservation(pool_id, tenant, model::usage{0, 0});
        const auto without = ledger_.reserved(tenant);
        if (!ledger_.within_quota(tenant, model::usage{vcpus, memory_mb})) {
          // Put back what the pool had.
          ledger_.set_reservation(pool_id, tenant,
                                  model::usage{before.vcpus - without.vcpus,
                                               before.memory_mb - without.memory_mb});
          const auto& t = ledger_.tenants[tenant];
          return to_caf(model::errc::quota_exceeded,
                        "tenant " + tenant + " would reserve more than its quota of " +
                            std::to_string(t.quota_vcpus) + " vcpus and " +
                            std::to_string(t.quota_memory_mb) + " MiB");
        }
        ledger_.set_reservation(pool_id, tenant, model::usage{vcpus, memory_mb});
        notify_waiting();
        return true;
      },
      [this](health_atom, const std::string& host, bool healthy,
             const std::string& reason) {
        const auto stream = model::host_stream(host);
        const auto* s = state(stream);
        if (s == nullptr || s->host.healthy == healthy)
          return;
        persist(stream, events::host_health_changed{healthy ? "healthy" : "lost", reason},
                [=] {
                  refresh(stream);
                  if (!healthy) {
                    // Its VMs are gone: their owners hear of it and release them.
                    send(ctx_->controller, host_lost_atom::value, host);
                  }
                  notify_waiting();
                });
      },
      [this](artifact_atom, const std::string& host, const std::string& build_id,
             const std::string& artifact) -> caf::result<bool> {
        artifact_refs_[build_id] = artifact;
        const auto stream = model::host_stream(host);
        auto rp = make_response_promise<bool>();
        persist(stream, events::artifact_changed{build_id, "ready", ""}, [=]() mutable {
          rp.deliver(true);
          refresh(stream);
          notify_waiting();
          // Prewarm: every other healthy host prepares the artifact now, so
          // fills can spread without waiting for it.
          for (const auto& [id, h] : ledger_.hosts)
            if (id != host && h.healthy && h.artifacts.count(build_id) == 0)
              prepare(id, build_id);
        });
        return rp;
      },
      [this](hosts_atom) { return host_infos(); },
      [this](tenant_atom, const std::string& id, std::uint32_t quota_vcpus,
             std::uint32_t quota_memory_mb) -> caf::result<bool> {
        const auto stream = model::tenant_stream(id);
        auto rp = make_response_promise<bool>();
        const auto* s = state(stream);
        events::domain_event event =
            events::tenant_quota_set{quota_vcpus, quota_memory_mb};
        if (s == nullptr || !s->tenant.exists)
          event = events::tenant_created{id, quota_vcpus, quota_memory_mb};
        persist(stream, std::move(event), [=]() mutable {
          refresh(stream);
          notify_waiting();
          rp.deliver(true);
        });
        return rp;
      },
      [this](key_atom, const std::string& tenant, const std::string& key_id,
             const std::string& digest, const std::string& role) -> caf::result<bool> {
        const auto stream = model::tenant_stream(tenant);
        const auto* s = state(stream);
        if (s == nullptr || !s->tenant.exists)
          return to_caf(model::errc::not_found, "tenant " + tenant + " does not exist",
                        "tenant");
        auto rp = make_response_promise<bool>();
        persist(stream,
                events::tenant_key_added{key_id, digest, role, now_ns(this, *ctx_)},
                [=]() mutable {
                  refresh(stream);
                  rp.deliver(true);
                });
        return rp;
      },
      [this](revoke_atom, const std::string& tenant,
             const std::string& key_id) -> caf::result<bool> {
        const auto stream = model::tenant_stream(tenant);
        const auto* s = state(stream);
        if (s == nullptr || !s->tenant.exists)
          return to_caf(model::errc::not_found, "tenant " + tenant + " does not exist",
                        "tenant");
        const model::tenant_state::key* revoked = nullptr;
        for (const auto& [digest, key] : s->tenant.keys)
          if (key.key_id == key_id)
            revoked = &key;
        if (revoked == nullptr)
          return to_caf(model::errc::not_found,
                        "tenant " + tenant + " has no key " + key_id, "key_id");
        if (revoked->role == "admin") {
          // Decided against the state pending events will produce: two
          // revocations in flight cannot both take the last admin key.
          std::size_t admins = 0;
          for_each_state([&](const std::string&, const capacity_stream& other) {
            for (const auto& [digest, key] : other.tenant.keys)
              admins += key.role == "admin" ? 1 : 0;
          });
          if (admins <= 1)
            return to_caf(model::errc::conflict,
                          "key " + key_id +
                              " is the last admin key; create another first",
                          "key_id");
        }
        auto rp = make_response_promise<bool>();
        persist(stream, events::tenant_key_revoked{key_id, now_ns(this, *ctx_)},
                [=]() mutable {
                  refresh(stream);
                  rp.deliver(true);
                });
        return rp;
      },
      [this](auth_atom, const std::string& digest) -> caf::result<api::principal> {
        for (const auto& [id, tenant] : ledger_.tenants) {
          auto key = tenant.keys.find(digest);
          if (key != tenant.keys.end())
            return api::principal{id, key->second.key_id, key->second.role};
        }
        return to_caf(model::errc::unauthenticated, "the API key is not known");
      },
      [this](tenants_atom) {
        std::vector<api::tenant_info> out;
        for (const auto& [id, tenant] : ledger_.tenants) {
          api::tenant_info info{id, tenant.quota_vcpus, tenant.quota_memory_mb, {}};
          for (const auto& [digest, key] : tenant.keys)
            info.key_ids.push_back(key.key_id);
          out.push_back(std::move(info));
        }
        return out;
      },
      [this](host_atom_register, const std::string& id, std::uint32_t vcpus,
             std::uint32_t memory_mb) -> caf::result<bool> {
        const auto stream = model::host_stream(id);
        auto rp = make_response_promise<bool>();
        persist(stream, events::host_registered{id, vcpus, memory_mb}, [=]() mutable {
          refresh(stream);
          notify_waiting();
          rp.deliver(true);
        });
        return rp;
      },
      [this](dump_atom) {
        std::string out;
        for_each_durable([&](const std::string& stream, const capacity_stream& s) {
          out += stream + " " +
                 (s.host.exists ? model::describe(s.host) : model::describe(s.tenant)) +
                 "\n";
        });
        return out;
      },
  };
}

} // namespace hearth::actors
