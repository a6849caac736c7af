#include "controller_actor.hpp"

#include <algorithm>
#include <cstdio>

#include "hearth/model/network.hpp"
#include "pool_actor.hpp"
#include "sandbox_actor.hpp"
#include "sandbox_rules.hpp"
#include "snapshot_codec.hpp"

namespace hearth::actors {
namespace {

bool valid_pool_name(const std::string& name) {
  if (name.empty() || name.size() > 63)
    return false;
  for (char c : name)
    if (!(std::islower(static_cast<unsigned char>(c)) ||
          std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '_'))
      return false;
  return true;
}

caf::error placement_error(const std::string& reason) {
  if (reason == "quota_exceeded")
    return to_caf(model::errc::quota_exceeded,
                  "the tenant's quota leaves no room for this sandbox");
  return to_caf(model::errc::unavailable,
                "no host can run this sandbox now (" + reason + ")");
}

} // namespace

controller_actor::controller_actor(caf::actor_config& cfg,
                                   std::shared_ptr<runtime_context> ctx,
                                   model::world_state recovered, controller_limits limits,
                                   bool deterministic)
    : caf::event_based_actor(cfg)
    , ctx_(std::move(ctx))
    , limits_(limits)
    , deterministic_(deterministic) {
  set_default_handler(caf::print_and_drop);
  set_error_handler([](caf::error& err) {
    std::fprintf(stderr, "hearth: controller ignored an error message: %s\n",
                 caf::to_string(err).c_str());
  });
  set_down_handler([this](caf::down_msg& down) { on_down(down); });
  // Shutting down the controller shuts down every pool and sandbox.
  set_exit_handler([this](caf::exit_msg& exit) {
    for (auto* registry : {&pools_, &sandboxes_})
      for (const auto& [id, e] : *registry)
        if (e.actor)
          send_exit(e.actor, exit.reason);
    by_address_.clear();
    quit(exit.reason);
  });
  for (auto& [id, pool] : recovered.pools) {
    if (pool.exists && pool.deleted)
      deleted_pools_[id] = {pool, recovered.sequences[model::pool_stream(id)]};
    if (!pool.exists || pool.deleted)
      continue;
    for (const auto& [vm, m] : pool.members)
      live_vms_[vm] = {"pool", id};
    const auto seq = recovered.sequences[model::pool_stream(id)];
    spawn_pool(std::move(pool), seq);
  }
  // New ids continue above every id the journal knows, gone sandboxes' too.
  for (const auto& [sandbox_id, c] : recovered.claims)
    ctx_->new_sandbox_ids.note(sandbox_id);
  for (const auto& [sandbox_id, sandbox] : recovered.sandboxes)
    ctx_->new_sandbox_ids.note(sandbox_id);
  // A claim whose sandbox never got its own stream: create it from the claim.
  for (const auto& [sandbox_id, c] : recovered.claims) {
    if (recovered.sandboxes.count(sandbox_id) > 0 &&
        recovered.sandboxes[sandbox_id].exists)
      continue;
    events::sandbox_created created;
    created.id = sandbox_id;
    created.tenant = c.tenant;
    created.template_name = c.template_name;
    created.build_id = c.claimed.build_id;
    created.origin = "warm_pool";
    created.vm_id = c.claimed.id;
    created.host = c.claimed.host;
    created.vcpus = c.vcpus;
    created.memory_mb = c.memory_mb;
    created.checkout =
        events::warm_pool_checkout{true, "warm_pool", true, c.pool_id, c.mode};
    created.endpoints = c.claimed.endpoints;
    created.at_ns = c.at_ns;
    live_vms_[created.vm_id] = {"sandbox", sandbox_id};
    spawn_new_sandbox(std::move(created), "recovered from the pool's claim");
  }
  std::vector<std::pair<std::int64_t, std::string>> destroyed; // created, id
  for (auto& [id, sandbox] : recovered.sandboxes) {
    if (!sandbox.exists)
      continue;
    if (sandbox.holds_capacity())
      live_vms_[sandbox.vm_id] = {"sandbox", id};
    if (sandbox.status == model::sandbox_status::destroyed)
      destroyed.emplace_back(sandbox.created_ns, id);
    const auto seq = recovered.sequences[model::sandbox_stream(id)];
    park(std::move(sandbox), seq);
  }
  std::sort(destroyed.begin(), destroyed.end());
  for (const auto& [created, id] : destroyed)
    keep_destroyed(id);
}

void controller_actor::on_exit() {
  ctx_->pool_actors.clear();
  pools_.clear();
  sandboxes_.clear();
  by_address_.clear();
  caf::event_based_actor::on_exit();
}

caf::actor controller_actor::enroll(const std::string& kind, const std::string& id,
                                    const std::string& tenant, caf::actor actor) {
  monitor(actor);
  auto& e = (kind == "pool" ? pools_ : sandboxes_)[id];
  e.actor = actor;
  e.tenant = tenant;
  e.deletes_sent = 0;
  by_address_[actor.address()] = {kind, id};
  if (kind == "pool")
    ctx_->pool_actors.set(id, tenant, actor);
  return actor;
}

caf::actor controller_actor::spawn_pool(model::pool_state state, std::uint64_t sequence) {
  const std::string id = state.id;
  const std::string tenant = state.tenant;
  return enroll("pool", id, tenant, spawn<pool_actor>(ctx_, std::move(state), sequence));
}

caf::actor controller_actor::spawn_new_pool(events::pool_created created,
                                            const std::string& correlation) {
  const std::string id = created.id;
  const std::string tenant = created.tenant;
  model::pool_state prior;
  std::uint64_t prior_sequence = 0;
  auto deleted = deleted_pools_.find(id);
  if (deleted != deleted_pools_.end()) {
    prior = std::move(deleted->second.first);
    prior_sequence = deleted->second.second;
    deleted_pools_.erase(deleted);
  }
  return enroll("pool", id, tenant,
                spawn<pool_actor>(ctx_, std::move(created), correlation, std::move(prior),
                                  prior_sequence));
}

caf::actor controller_actor::spawn_sandbox(model::sandbox_state state,
                                           std::uint64_t sequence) {
  const std::string id = state.id;
  const std::string tenant = state.tenant;
  // A recovered sandbox has nothing to do until someone asks: it is
  // scheduled on its first message, not at spawn (recovering 100,000
  // sandboxes would otherwise wake a worker 100,000 times).
  return enroll("sandbox", id, tenant,
                spawn<sandbox_actor, caf::lazy_init>(ctx_, std::move(state), sequence));
}

caf::actor controller_actor::spawn_new_sandbox(events::sandbox_created created,
                                               const std::string& correlation) {
  const std::string id = created.id;
  const std::string tenant = created.tenant;
  return enroll("sandbox", id, tenant,
                spawn<sandbox_actor>(ctx_, std::move(created), correlation));
}

void controller_actor::park(model::sandbox_state&& state, std::uint64_t sequence) {
  auto& e = sandboxes_[state.id];
  e.actor = caf::actor{};
  e.tenant = state.tenant;
  // Built in place: a sandbox's state is large, and each move of it moves
  // a dozen strings and maps one by one.
  e.parked.reset(new parked_sandbox{std::move(state), sequence});
}

void controller_actor::keep_destroyed(const std::string& id) {
  destroyed_.push_back(id);
  while (destroyed_.size() > ctx_->destroyed_sandboxes_kept) {
    // Forgotten only as it was parked (nothing wakes a destroyed sandbox;
    // this is a guard).
    auto found = sandboxes_.find(destroyed_.front());
    if (found != sandboxes_.end() && !found->second.actor && found->second.parked &&
        found->second.parked->state.status == model::sandbox_status::destroyed)
      sandboxes_.erase(found);
    destroyed_.pop_front();
  }
}

const model::sandbox_state* controller_actor::parked_state(const std::string& tenant,
                                                           const std::string& id) const {
  auto found = sandboxes_.find(id);
  if (found == sandboxes_.end() || found->second.tenant != tenant ||
      found->second.actor || !found->second.parked)
    return nullptr;
  return &found->second.parked->state;
}

caf::actor controller_actor::wake(entry& e) {
  if (e.actor || !e.parked)
    return e.actor;
  auto parked = std::move(e.parked);
  const std::string vm_id = parked->state.vm_id;
  const std::string host = parked->state.host;
  const bool holds_vm = parked->state.holds_capacity();
  // A parked sandbox has nothing to do until this message: scheduled on it.
  auto actor = spawn_sandbox(std::move(parked->state), parked->sequence);
  // Its VM's exits are the sandbox's own from now on. One the host sent
  // here before this is still forwarded (by its tag, the sandbox's id).
  if (auto vmm = ctx_->vmms.find(host); holds_vm && vmm != ctx_->vmms.end())
    send(vmm->second, adopt_atom::value, vm_id, actor);
  return actor;
}

caf::actor controller_actor::sandbox_actor_of(const std::string& tenant,
                                              const std::string& id) {
  auto found = sandboxes_.find(id);
  if (found == sandboxes_.end() || found->second.tenant != tenant)
    return caf::actor{};
  return wake(found->second);
}

const controller_actor::entry* controller_actor::pool_of(const std::string& tenant,
                                                         const std::string& id) const {
  auto found = pools_.find(id);
  return found == pools_.end() || found->second.tenant != tenant ? nullptr
                                                                 : &found->second;
}

void controller_actor::on_down(const caf::down_msg& down) {
  auto found = by_address_.find(down.source);
  if (found == by_address_.end())
    return;
  const auto [kind, id] = found->second;
  by_address_.erase(found);
  if (kind == "pool")
    ctx_->pool_actors.erase(id, down.source);
  if (!down.reason || down.reason == caf::exit_reason::user_shutdown) {
    // A deleted pool; a new pool may already use its id.
    auto pool = pools_.find(id);
    if (kind == "pool" && pool != pools_.end() && pool->second.actor &&
        pool->second.actor.address() == down.source)
      pools_.erase(pool);
    return;
  }
  // Stopped by a failure (a journal error): recover it from the journal.
  ctx_->metrics.actor_restarts++;
  auto& registry = kind == "pool" ? pools_ : sandboxes_;
  auto& e = registry[id];
  e.actor = caf::actor{};
  const auto now = clock().now();
  if (e.restarts > 0 && now - e.back_at >= ctx_->restart_backoff_reset)
    e.restarts = 0; // it ran well for long enough since its last restart
  const auto restarts = ++e.restarts;
  auto wait = ctx_->restart_backoff;
  for (std::uint32_t i = 1; i < restarts && wait < std::chrono::seconds(30); ++i)
    wait *= 2;
  e.back_at = now + wait;
  std::fprintf(stderr, "hearth: %s %s stopped (%s); restarting in %lld ms\n",
               kind.c_str(), id.c_str(), caf::to_string(down.reason).c_str(),
               static_cast<long long>(wait.count()));
  delayed_send(this, wait, recovered_atom::value, kind, id);
}

void controller_actor::restart(const std::string& kind, const std::string& id) {
  // Reading the journal blocks: fine on the test scheduler's one thread,
  // else it runs on a detached helper.
  auto storage = &ctx_->port->storage();
  caf::actor self_handle = caf::actor_cast<caf::actor>(this);
  auto work = [storage, kind, id, self_handle, this](bool inline_call) {
    std::string notes;
    if (kind == "pool") {
      auto r =
          recover_stream<model::pool_state>(*storage, model::pool_stream(id), &notes);
      if (!notes.empty())
        std::fprintf(stderr, "hearth: %s", notes.c_str());
      if (!r)
        return;
      if (inline_call)
        respawn_pool(std::move(r->state), r->sequence);
      else
        caf::anon_send(self_handle, recovered_atom::value, kind,
                       encode_pool_snapshot(r->state), r->sequence);
    } else {
      auto r = recover_stream<model::sandbox_state>(*storage, model::sandbox_stream(id),
                                                    &notes);
      if (!r)
        return;
      if (inline_call)
        respawn_sandbox(std::move(r->state), r->sequence);
      else
        caf::anon_send(self_handle, recovered_atom::value, kind,
                       encode_sandbox_snapshot(r->state), r->sequence);
    }
  };
  if (deterministic_)
    work(true);
  else
    spawn<caf::detached>(
        [](caf::event_based_actor* helper, decltype(work) job) {
          job(false);
          helper->quit();
        },
        work);
}

void controller_actor::respawn_pool(model::pool_state state, std::uint64_t sequence) {
  std::vector<std::pair<std::string, std::string>> vms;
  for (const auto& [vm_id, m] : state.members)
    vms.emplace_back(m.host, vm_id);
  reattach(spawn_pool(std::move(state), sequence), vms);
}

void controller_actor::respawn_sandbox(model::sandbox_state state,
                                       std::uint64_t sequence) {
  std::vector<std::pair<std::string, std::string>> vms;
  if (state.holds_capacity())
    vms.emplace_back(state.host, state.vm_id);
  reattach(spawn_sandbox(std::move(state), sequence), vms);
}

void controller_actor::reattach(
    const caf::actor& actor,
    const std::vector<std::pair<std::string, std::string>>& vms) {
  std::map<std::string, std::vector<std::string>> by_host;
  for (const auto& [host, vm_id] : vms)
    by_host[host].push_back(vm_id);
  for (auto& [host, ids] : by_host) {
    auto vmm = ctx_->vmms.find(host);
    if (vmm == ctx_->vmms.end())
      continue;
    // Exits from now on go to the new actor; the list that follows the
    // adoption (the host answers in order) shows which VMs ended before.
    for (const auto& vm_id : ids)
      send(vmm->second, adopt_atom::value, vm_id, actor);
    request(vmm->second, caf::infinite, running_atom::value)
        .then([actor, ids = std::move(ids)](const std::vector<std::string>& running) {
          const std::set<std::string> alive(running.begin(), running.end());
          for (const auto& vm_id : ids)
            if (alive.count(vm_id) == 0)
              caf::anon_send(actor, vm_gone_atom::value, vm_id,
                             std::string("ended while its owner restarted"));
        });
  }
}

void controller_actor::reconcile_with_hosts() {
  for (const auto& [host, vmm] : ctx_->vmms) {
    request(vmm, caf::infinite, running_atom::value)
        .then([this, host = host, vmm = vmm](const std::vector<std::string>& running) {
          std::set<std::string> alive(running.begin(), running.end());
          for (const auto& vm : running)
            if (live_vms_.count(vm) == 0)
              caf::anon_send(vmm, destroy_atom::value,
                             vm); // the journal does not know it
          for (const auto& [vm, owner] : live_vms_) {
            auto& registry = owner.first == "pool" ? pools_ : sandboxes_;
            auto found = registry.find(owner.second);
            if (found == registry.end() || alive.count(vm) == 0)
              continue;
            // A parked sandbox's exits come here, tagged with its id, until
            // it has an actor.
            if (found->second.actor)
              send(vmm, adopt_atom::value, vm, found->second.actor);
            else
              send(vmm, adopt_atom::value, vm, caf::actor_cast<caf::actor>(this),
                   owner.second);
          }
          // Anything recorded on this host but not running is lost.
          for (const auto& [vm, owner] : live_vms_) {
            if (alive.count(vm) > 0)
              continue;
            auto& registry = owner.first == "pool" ? pools_ : sandboxes_;
            auto found = registry.find(owner.second);
            if (found == registry.end())
              continue;
            auto actor =
                owner.first == "pool" ? found->second.actor : wake(found->second);
            send(actor, vm_gone_atom::value, vm,
                 std::string("not running after a controller restart"));
          }
        });
  }
}

template <class T, class Atom>
caf::result<std::vector<T>> controller_actor::gather(const string_map<entry>& from,
                                                     const std::string& tenant,
                                                     Atom atom) {
  auto rp = make_response_promise<std::vector<T>>();
  auto results = std::make_shared<std::vector<T>>();
  auto pending = std::make_shared<std::size_t>(0);
  std::vector<caf::actor> targets;
  for (const auto& [id, e] : from) {
    if (e.tenant != tenant)
      continue;
    if (e.actor)
      targets.push_back(e.actor);
    if constexpr (std::is_same_v<T, api::sandbox_info>)
      if (e.parked)
        results->push_back(sandbox_actor::info_of(e.parked->state));
  }
  if (targets.empty()) {
    std::sort(results->begin(), results->end(),
              [](const T& a, const T& b) { return a.id < b.id; });
    rp.deliver(*results);
    return rp;
  }
  *pending = targets.size();
  auto finish = [results, pending, rp]() mutable {
    if (--*pending == 0) {
      std::sort(results->begin(), results->end(),
                [](const T& a, const T& b) { return a.id < b.id; });
      rp.deliver(*results);
    }
  };
  for (const auto& target : targets)
    request(target, caf::infinite, atom)
        .then(
            [results, finish](T& item) mutable {
              results->push_back(std::move(item));
              finish();
            },
            [finish](const caf::error&) mutable { finish(); });
  return rp;
}

std::optional<model::error>
controller_actor::check_config(events::pool_config& config) const {
  if (config.max_ready == 0 || config.max_ready > limits_.max_pool_size)
    return model::invalid("max_ready", "max_ready must be between 1 and " +
                                           std::to_string(limits_.max_pool_size));
  if (config.min_ready > config.max_ready)
    return model::invalid("min_ready", "min_ready must not exceed max_ready");
  if (config.vcpus == 0 || config.vcpus > 64)
    return model::invalid("vcpus", "vcpus must be between 1 and 64");
  if (config.memory_mb < 64 || config.memory_mb > 262144)
    return model::invalid("memory_mb", "memory_mb must be between 64 and 262144");
  if (config.version_policy.empty())
    config.version_policy = "pinned_build";
  if (config.version_policy != "pinned_build" && config.version_policy != "track_tag")
    return model::invalid("version_policy",
                          "version_policy must be pinned_build or track_tag");
  auto ref = model::parse_template_ref(config.template_ref);
  if (!ref)
    return ref.error();
  config.template_name = ref->name;
  if (config.version_policy == "track_tag" && config.track_tag.empty())
    config.track_tag = ref->build_id.empty() ? ref->tag : "";
  if (config.version_policy == "track_tag" && config.track_tag.empty())
    return model::invalid("track_tag", "a track_tag pool needs a tag to track");
  return std::nullopt;
}

std::string controller_actor::resolvable_ref(const events::pool_config& config) {
  // A track_tag pool follows its tag; a pinned pool resolves its reference.
  return config.version_policy == "track_tag"
             ? config.template_name + ":" + config.track_tag
             : config.template_ref;
}

caf::result<api::pool_info>
controller_actor::create_pool(const std::string& tenant, api::pool_spec spec,
                              const std::string& correlation) {
  if (!valid_pool_name(spec.name))
    return to_caf(
        model::invalid("name", "name must be 1-63 characters of a-z, 0-9, '-', '_'"));
  if (spec.version_policy != "track_tag" && !spec.track_tag.empty())
    return to_caf(
        model::invalid("track_tag", "track_tag is only for version_policy track_tag"));
  events::pool_config config{spec.template_ref,   "",
                             spec.min_ready,      spec.max_ready,
                             spec.vcpus,          spec.memory_mb,
                             spec.version_policy, spec.track_tag};
  if (auto invalid = check_config(config))
    return to_caf(*invalid);
  const std::string id = model::pool_id_for(spec.name);
  if (pools_.count(id) > 0)
    return to_caf(model::errc::conflict, "pool " + id + " already exists", "name");

  auto rp = make_response_promise<api::pool_info>();
  request(ctx_->templates, caf::infinite, resolve_atom::value, tenant,
          resolvable_ref(config))
      .then(
          [=](const std::string& template_name, const std::string& build_id) mutable {
            if (pools_.count(id) > 0) {
              rp.deliver(to_caf(model::errc::conflict, "pool " + id + " already exists",
                                "name"));
              return;
            }
            const std::uint64_t reserve_vcpus =
                std::uint64_t{config.max_ready} * config.vcpus;
            const std::uint64_t reserve_memory =
                std::uint64_t{config.max_ready} * config.memory_mb;
            // Hold the id while quota is checked.
            pools_[id] = entry{caf::actor{}, tenant, 0, nullptr};
            request(ctx_->capacity, caf::infinite, reserve_atom::value, id, tenant,
                    reserve_vcpus, reserve_memory)
                .then(
                    [=](bool) mutable {
                      events::pool_created created;
                      created.id = id;
                      created.tenant = tenant;
                      created.name = spec.name;
                      created.config = config;
                      created.config.template_name = template_name;
                      created.build_id = build_id;
                      pools_.erase(id);
                      auto pool = spawn_new_pool(std::move(created), correlation);
                      request(pool, caf::infinite, get_atom::value)
                          .then(
                              [rp](api::pool_info& info) mutable {
                                rp.deliver(std::move(info));
                              },
                              [rp](caf::error& err) mutable {
                                rp.deliver(std::move(err));
                              });
                    },
                    [=](caf::error& err) mutable {
                      pools_.erase(id);
                      rp.deliver(std::move(err));
                    });
          },
          [=](caf::error& err) mutable { rp.deliver(std::move(err)); });
  return rp;
}

caf::result<api::pool_info> controller_actor::update_pool(const std::string& tenant,
                                                          const std::string& id,
                                                          api::pool_patch patch) {
  const auto* pool = pool_of(tenant, id);
  if (pool == nullptr || !pool->actor)
    return to_caf(model::errc::not_found, "pool " + id + " does not exist", "id");
  auto rp = make_response_promise<api::pool_info>();
  auto target = pool->actor;
  request(target, caf::infinite, get_atom::value)
      .then(
          [=](api::pool_info& current) mutable {
            events::pool_config config{current.template_ref,   current.template_name,
                                       current.min_ready,      current.max_ready,
                                       current.vcpus,          current.memory_mb,
                                       current.version_policy, current.track_tag};
            if (patch.set_template)
              config.template_ref = patch.template_ref;
            if (patch.set_min_ready)
              config.min_ready = patch.min_ready;
            if (patch.set_max_ready)
              config.max_ready = patch.max_ready;
            if (patch.set_vcpus)
              config.vcpus = patch.vcpus;
            if (patch.set_memory_mb)
              config.memory_mb = patch.memory_mb;
            if (patch.set_version_policy)
              config.version_policy = patch.version_policy;
            if (patch.set_track_tag)
              config.track_tag = patch.track_tag;
            if (config.version_policy == "pinned_build")
              config.track_tag.clear();
            if (auto invalid = check_config(config)) {
              rp.deliver(to_caf(*invalid));
              return;
            }
            // Updating re-resolves the reference: a pinned pool moves to what its
            // reference names now.
            const std::string resolve_ref = resolvable_ref(config);
            request(ctx_->templates, caf::infinite, resolve_atom::value, tenant,
                    resolve_ref)
                .then(
                    [=](const std::string& template_name,
                        const std::string& build_id) mutable {
                      auto resolved = config;
                      resolved.template_name = template_name;
                      request(ctx_->capacity, caf::infinite, reserve_atom::value, id,
                              tenant, std::uint64_t{resolved.max_ready} * resolved.vcpus,
                              std::uint64_t{resolved.max_ready} * resolved.memory_mb)
                          .then(
                              [=](bool) mutable {
                                request(target, caf::infinite, update_atom::value,
                                        resolved, build_id)
                                    .then(
                                        [rp](api::pool_info& info) mutable {
                                          rp.deliver(std::move(info));
                                        },
                                        [rp](caf::error& err) mutable {
                                          rp.deliver(std::move(err));
                                        });
                              },
                              [rp](caf::error& err) mutable {
                                rp.deliver(std::move(err));
                              });
                    },
                    [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
          },
          [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
  return rp;
}

void controller_actor::cold_create(
    direct_answer<api::sandbox_info> rp, const std::string& tenant,
    const std::string& template_name, const std::string& build_id, std::uint32_t vcpus,
    std::uint32_t memory_mb, std::string origin, events::warm_pool_checkout checkout,
    const std::string& correlation, std::vector<std::string> network_allow) {
  const std::string id = ctx_->new_sandbox_ids.next(now_ns(this, *ctx_));
  const std::string vm_id = id + ".vm";
  std::vector<place_request> requests{
      place_request{vm_id, tenant, build_id, vcpus, memory_mb, true}};
  request(ctx_->capacity, caf::infinite, place_atom::value, std::move(requests))
      .then(
          [=](std::vector<place_reply>& replies) mutable {
            if (replies.empty() || replies.front().host.empty()) {
              rp.deliver(placement_error(replies.empty() ? "" : replies.front().reason));
              return;
            }
            ctx_->metrics.cold_creates++;
            events::sandbox_created created;
            created.id = id;
            created.tenant = tenant;
            created.template_name = template_name;
            created.build_id = build_id;
            created.origin = origin;
            created.vm_id = vm_id;
            created.host = replies.front().host;
            created.vcpus = vcpus;
            created.memory_mb = memory_mb;
            created.checkout = checkout;
            created.network_allow = network_allow;
            created.at_ns = now_ns(this, *ctx_);
            auto sandbox = spawn_new_sandbox(std::move(created), correlation);
            request(sandbox, caf::infinite, start_atom::value)
                .then(
                    [rp](api::sandbox_info& info) mutable {
                      rp.deliver(std::move(info));
                    },
                    [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
          },
          [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
}

caf::error controller_actor::create_sandbox(const std::string& tenant,
                                            api::sandbox_request req,
                                            const std::string& correlation,
                                            direct_answer<api::sandbox_info> rp) {
  if (auto refused = check_sandbox_request(req, ctx_->max_warm_pool_wait_ms))
    return to_caf(*refused);
  if (!req.warm_pool.empty()) {
    // The pool decides (the runtime sends most checkouts to it directly).
    const entry* pool = pool_of(tenant, req.warm_pool);
    if (pool == nullptr || !pool->actor)
      return to_caf(model::errc::not_found,
                    "warm pool " + req.warm_pool + " does not exist", "warm_pool");
    send(pool->actor, checkout_atom::value, tenant, std::move(req), correlation,
         std::move(rp));
    return {};
  }
  if (auto ref = model::parse_template_ref(req.template_ref); !ref)
    return to_caf(ref.error());
  // No pool considered: resolve the template and create cold.
  request(ctx_->templates, caf::infinite, resolve_atom::value, tenant, req.template_ref)
      .then(
          [=](const std::string& name, const std::string& build_id) mutable {
            events::warm_pool_checkout checkout;
            checkout.considered = false;
            cold_create(rp, tenant, name, build_id, 1, 128, "cold", checkout, correlation,
                        req.network_allow);
          },
          [rp](caf::error& err) { rp.deliver(err); });
  return {};
}

caf::behavior controller_actor::make_behavior() {
  auto forward_pool = [this](const std::string& tenant, const std::string& id,
                             auto atom) -> caf::result<caf::message> {
    const auto* pool = pool_of(tenant, id);
    if (pool == nullptr || !pool->actor)
      return to_caf(model::errc::not_found, "pool " + id + " does not exist", "id");
    return delegate(pool->actor, atom);
  };
  auto forward_sandbox = [this](const std::string& tenant, const std::string& id,
                                auto atom) -> caf::result<caf::message> {
    // A parked sandbox answers reads, a delete again and the transitions
    // it refuses from its parked state: only a change wakes its actor.
    using asked = std::decay_t<decltype(atom)>;
    if (const auto* parked = parked_state(tenant, id)) {
      if constexpr (std::is_same_v<asked, get_atom>)
        return caf::make_message(sandbox_actor::info_of(*parked));
      if constexpr (std::is_same_v<asked, delete_atom>)
        if (parked->status == model::sandbox_status::destroyed)
          return caf::make_message(sandbox_actor::info_of(*parked));
      if constexpr (!std::is_same_v<asked, get_atom> &&
                    !std::is_same_v<asked, delete_atom>)
        if (auto refused = sandbox_actor::refusal(*parked, target_of(atom)))
          return std::move(*refused);
    }
    auto sandbox = sandbox_actor_of(tenant, id);
    if (!sandbox)
      return to_caf(model::errc::not_found, "sandbox " + id + " does not exist", "id");
    if constexpr (std::is_same_v<asked, delete_atom>)
      sandboxes_.at(id).deletes_sent++;
    return delegate(sandbox, atom);
  };
  return {
      [this](start_atom) { reconcile_with_hosts(); },
      [this](create_atom, const std::string& tenant, api::pool_spec& spec,
             const std::string& correlation) {
        return create_pool(tenant, std::move(spec), correlation);
      },
      [this](update_atom, const std::string& tenant, const std::string& id,
             api::pool_patch& patch) {
        return update_pool(tenant, id, std::move(patch));
      },
      [=](get_atom, pools_atom, const std::string& tenant, const std::string& id) {
        return forward_pool(tenant, id, get_atom::value);
      },
      [this](watch_atom, pools_atom, const std::string& tenant, const std::string& id,
             std::uint64_t after, std::uint64_t wait_ms) -> caf::result<caf::message> {
        const auto* pool = pool_of(tenant, id);
        if (pool != nullptr && pool->actor)
          return delegate(pool->actor, watch_atom::value, after, wait_ms);
        // A pool that ended after the revision its watcher saw: its last
        // state, deleted, is the change the watcher waits for (a follower
        // whose last look came before the pool's last two changes).
        if (auto gone = deleted_pools_.find(id); gone != deleted_pools_.end()) {
          const auto& [last, revision] = gone->second;
          if (last.tenant == tenant && revision > after)
            return caf::make_message(pool_actor::info_of(last, revision));
        }
        return to_caf(model::errc::not_found, "pool " + id + " does not exist", "id");
      },
      [this](list_atom, pools_atom, const std::string& tenant) {
        return gather<api::pool_info>(pools_, tenant, get_atom::value);
      },
      [=](enable_atom, const std::string& tenant, const std::string& id) {
        return forward_pool(tenant, id, enable_atom::value);
      },
      [=](disable_atom, const std::string& tenant, const std::string& id) {
        return forward_pool(tenant, id, disable_atom::value);
      },
      [=](drain_atom, const std::string& tenant, const std::string& id) {
        return forward_pool(tenant, id, drain_atom::value);
      },
      [=](delete_atom, pools_atom, const std::string& tenant, const std::string& id) {
        return forward_pool(tenant, id, delete_atom::value);
      },
      [=](reconcile_atom, const std::string& tenant, const std::string& id) {
        return forward_pool(tenant, id, reconcile_atom::value);
      },
      [this](create_atom, const std::string& tenant, api::sandbox_request& req,
             const std::string& correlation, direct_answer<api::sandbox_info>& answer) {
        if (auto refused = create_sandbox(tenant, std::move(req), correlation, answer))
          answer.deliver(refused);
      },
      // A pool missed in prefer mode, was bypassed, or the shape is not poolable.
      [this](cold_atom, cold_request& cold, direct_answer<api::sandbox_info>& answer) {
        cold_create(answer, cold.tenant, cold.template_name, cold.build_id, cold.vcpus,
                    cold.memory_mb, "cold", cold.checkout, cold.correlation_id,
                    std::move(cold.network_allow));
      },
      // Sandboxes a pool's claims made: durable, each written with its claim.
      [this](parked_atom, claimed_sandboxes& claimed) {
        for (auto& state : claimed.states)
          park(std::move(state), 1);
      },
      // A failed or destroyed sandbox's actor hands its state back.
      [this](retire_atom, claimed_sandboxes& retiring, std::uint64_t sequence,
             std::uint32_t deletes) {
        auto actor = caf::actor_cast<caf::actor>(current_sender());
        if (retiring.states.size() != 1 || !actor)
          return;
        auto& state = retiring.states.front();
        auto found = sandboxes_.find(state.id);
        if (found == sandboxes_.end() || found->second.actor != actor)
          return; // not the actor the directory has for it: it keeps running
        // A delete still on its way would change the state (a failed one's):
        // the actor asks again once it has answered it.
        if (found->second.deletes_sent != deletes)
          return;
        const std::string id = state.id;
        const bool destroyed = state.status == model::sandbox_status::destroyed;
        park(std::move(state), sequence);
        // Behind everything sent to it before: all of it is answered first.
        send(actor, retire_atom::value);
        if (destroyed)
          keep_destroyed(id);
      },
      [=](get_atom, sandboxes_atom, const std::string& tenant, const std::string& id) {
        return forward_sandbox(tenant, id, get_atom::value);
      },
      [this](list_atom, sandboxes_atom, const std::string& tenant) {
        return gather<api::sandbox_info>(sandboxes_, tenant, get_atom::value);
      },
      [=](delete_atom, sandboxes_atom, const std::string& tenant, const std::string& id) {
        return forward_sandbox(tenant, id, delete_atom::value);
      },
      [=](pause_atom, const std::string& tenant, const std::string& id) {
        return forward_sandbox(tenant, id, pause_atom::value);
      },
      [=](resume_atom, const std::string& tenant, const std::string& id) {
        return forward_sandbox(tenant, id, resume_atom::value);
      },
      [=](hibernate_atom, const std::string& tenant, const std::string& id) {
        return forward_sandbox(tenant, id, hibernate_atom::value);
      },
      [this](fork_atom, const std::string& tenant, const std::string& id,
             const std::string& correlation, direct_answer<api::sandbox_info>& rp) {
        auto fork_from = [=](const api::sandbox_info& info) mutable {
          if (info.state != "running" && info.state != "paused") {
            rp.deliver(to_caf(model::errc::conflict,
                              "sandbox " + id + " is " + info.state +
                                  ", only a running or paused one forks"));
            return;
          }
          cold_create(rp, tenant, info.template_name, info.build_id, info.vcpus,
                      info.memory_mb, "fork", events::warm_pool_checkout{}, correlation,
                      info.network_allow);
        };
        // A fork only reads its source: a parked one stays parked.
        if (const auto* parked = parked_state(tenant, id)) {
          fork_from(sandbox_actor::info_of(*parked));
          return;
        }
        auto source = sandbox_actor_of(tenant, id);
        if (!source) {
          rp.deliver(
              to_caf(model::errc::not_found, "sandbox " + id + " does not exist", "id"));
          return;
        }
        request(source, caf::infinite, get_atom::value)
            .then([=](api::sandbox_info& info) mutable { fork_from(info); },
                  [rp](caf::error& err) { rp.deliver(err); });
      },
      [this](from_snap_atom, const std::string& tenant, const std::string& template_ref,
             const std::string& correlation, direct_answer<api::sandbox_info>& rp) {
        request(ctx_->templates, caf::infinite, resolve_atom::value, tenant, template_ref)
            .then(
                [=](const std::string& name, const std::string& build_id) mutable {
                  cold_create(rp, tenant, name, build_id, 1, 128, "snapshot",
                              events::warm_pool_checkout{}, correlation, {});
                },
                [rp](caf::error& err) { rp.deliver(err); });
      },
      [this](host_lost_atom, const std::string& host) {
        for (const auto& [id, e] : pools_)
          if (e.actor)
            send(e.actor, host_lost_atom::value, host);
        for (auto& [id, e] : sandboxes_) {
          // Only a sandbox that holds a VM there has anything to lose.
          if (e.parked && e.parked->state.host == host &&
              e.parked->state.holds_capacity())
            wake(e);
          if (e.actor)
            send(e.actor, host_lost_atom::value, host);
        }
      },
      // An exit of a parked sandbox's VM, tagged with the sandbox's id: the
      // sandbox's actor takes it.
      [this](vm_exit_atom, const std::string& vm_id, const std::string& reason,
             const std::string& sandbox_id) {
        auto sandbox = sandboxes_.find(sandbox_id);
        if (sandbox == sandboxes_.end())
          return;
        const auto& parked = sandbox->second.parked;
        if (parked && !parked->state.holds_capacity())
          return; // failed or destroyed already: nothing left to end
        if (auto actor = wake(sandbox->second))
          send(actor, vm_exit_atom::value, vm_id, reason);
      },
      [this](stopped_atom, const std::string& pool_id, const std::string& final_state,
             std::uint64_t sequence) {
        pools_.erase(pool_id);
        if (auto sender = current_sender())
          ctx_->pool_actors.erase(pool_id, caf::actor_cast<caf::actor_addr>(sender));
        if (auto s = decode_state_snapshot<model::pool_state>(final_state))
          deleted_pools_[pool_id] = {std::move(*s), sequence};
      },
      [this](recovered_atom, const std::string& kind, const std::string& id) {
        restart(kind, id);
      },
      // A stream recovered off the actor threads, as a snapshot-encoded state.
      [this](recovered_atom, const std::string& kind, const std::string& encoded,
             std::uint64_t sequence) {
        if (kind == "pool") {
          if (auto s = decode_state_snapshot<model::pool_state>(encoded))
            respawn_pool(std::move(*s), sequence);
        } else if (auto s = decode_state_snapshot<model::sandbox_state>(encoded)) {
          respawn_sandbox(std::move(*s), sequence);
        }
      },
      [this](dump_atom) -> caf::result<std::string> {
        auto rp = make_response_promise<std::string>();
        auto lines = std::make_shared<std::map<std::string, std::string>>();
        auto pending = std::make_shared<std::size_t>(0);
        std::vector<std::pair<std::string, caf::actor>> targets;
        for (const auto& [id, e] : pools_)
          if (e.actor)
            targets.emplace_back(model::pool_stream(id), e.actor);
        for (const auto& [id, e] : sandboxes_) {
          if (e.actor)
            targets.emplace_back(model::sandbox_stream(id), e.actor);
          else if (e.parked)
            (*lines)[model::sandbox_stream(id)] = model::describe(e.parked->state);
        }
        targets.emplace_back("~capacity", ctx_->capacity);
        targets.emplace_back("~templates", ctx_->templates);
        *pending = targets.size();
        for (const auto& [name, target] : targets)
          request(target, caf::infinite, dump_atom::value)
              .then(
                  [=, name = name](const std::string& text) mutable {
                    (*lines)[name] = text;
                    if (--*pending == 0) {
                      std::string out;
                      for (const auto& [key, value] : *lines)
                        out += key + " " + value + "\n";
                      rp.deliver(out);
                    }
                  },
                  [=](const caf::error&) mutable {
                    if (--*pending == 0)
                      rp.deliver(std::string("incomplete"));
                  });
        return rp;
      },
  };
}

} // namespace hearth::actors
