#include "pool_actor.hpp"

#include "sandbox_actor.hpp"
#include "sandbox_rules.hpp"
#include "snapshot_codec.hpp"

namespace hearth::actors {

pool_actor::pool_actor(caf::actor_config& cfg, std::shared_ptr<runtime_context> ctx,
                       model::pool_state recovered, std::uint64_t sequence)
    : event_sourced<model::pool_state>(cfg, std::move(ctx))
    , stream_(model::pool_stream(recovered.id))
    , id_(recovered.id) {
  adopt(stream_, std::move(recovered), sequence);
}

pool_actor::pool_actor(caf::actor_config& cfg, std::shared_ptr<runtime_context> ctx,
                       events::pool_created created, std::string correlation_id,
                       model::pool_state prior, std::uint64_t prior_sequence)
    : event_sourced<model::pool_state>(cfg, std::move(ctx))
    , stream_(model::pool_stream(created.id))
    , id_(created.id)
    , pending_create_(std::move(created))
    , correlation_id_(std::move(correlation_id)) {
  adopt(stream_, std::move(prior), prior_sequence);
}

api::pool_info pool_actor::info() const {
  return info_of(settled(), sequence_of(stream_));
}

api::pool_info pool_actor::info_of(const model::pool_state& s, std::uint64_t revision) {
  api::pool_info out;
  out.id = s.id;
  out.name = s.name;
  out.tenant = s.tenant;
  out.template_ref = s.config.template_ref;
  out.template_name = s.config.template_name;
  out.build_id = s.build_id;
  out.generation = s.generation;
  out.min_ready = s.config.min_ready;
  out.max_ready = s.config.max_ready;
  out.vcpus = s.config.vcpus;
  out.memory_mb = s.config.memory_mb;
  out.version_policy = s.config.version_policy;
  out.track_tag = s.config.track_tag;
  out.enabled = s.enabled;
  out.draining = s.draining;
  out.deleting = s.deleting;
  out.deleted = s.deleted;
  out.degraded_reason = s.degraded_reason;
  out.status = s.status();
  out.revision = revision;
  return out;
}

void pool_actor::on_exit() {
  waiters_.clear();
  count_waiters();
  // A journal failure stopped the pool: its watchers hear it now rather
  // than at their call's timeout.
  for (auto& w : watchers_)
    w.answer.deliver(to_caf(model::errc::unavailable, "pool " + id_ + " stopped"));
  watchers_.clear();
  event_sourced<model::pool_state>::on_exit();
}

void pool_actor::count_waiters() {
  const auto now = static_cast<std::int64_t>(waiters_.size());
  ctx_->metrics.checkout_waiters += now - waiters_counted_;
  waiters_counted_ = now;
}

std::string pool_actor::encode_state(const model::pool_state& s) const {
  return encode_pool_snapshot(s);
}

void pool_actor::watch_template() {
  template_known_ = false;
  request(ctx_->templates, caf::infinite, watch_atom::value,
          current().config.template_name)
      .then([this](const template_view& view) {
        template_known_ = true;
        apply_view(view);
      });
}

void pool_actor::apply_view(const template_view& view) {
  view_ = view;
  context_.usable_builds = view.usable_builds;
  auto tag = view.tags.find(current().config.track_tag);
  context_.tag_build = tag == view.tags.end() ? "" : tag->second;
  schedule_reconcile();
}

void pool_actor::schedule_reconcile() {
  if (reconcile_scheduled_)
    return;
  reconcile_scheduled_ = true;
  send(this, wake_atom::value);
}

void pool_actor::schedule_refill() {
  if (ctx_->pools.refill_delay.count() == 0) {
    schedule_reconcile();
    return;
  }
  if (reconcile_scheduled_)
    return;
  reconcile_scheduled_ = true;
  delayed_send(this, ctx_->pools.refill_delay, wake_atom::value);
}

void pool_actor::reconcile(std::function<void()> then) {
  if (!template_known_) {
    if (then)
      after_persisted(stream_, std::move(then));
    return;
  }
  context_.now_ns = now_ns(this, *ctx_);
  context_.controller_disabled = ctx_->controller_disabled;
  const auto& budgets = ctx_->pools;
  context_.fills_left = budgets.fill_budget_per_tick > fills_this_tick_
                            ? budgets.fill_budget_per_tick - fills_this_tick_
                            : 0;
  context_.destroys_left = budgets.destroy_budget_per_tick > destroys_this_tick_
                               ? budgets.destroy_budget_per_tick - destroys_this_tick_
                               : 0;
  auto plan = model::plan_reconcile(current(), context_, ctx_->pools);
  const std::vector<std::string> destroying = plan.destroys;
  const bool deleted_now =
      std::any_of(plan.events.begin(), plan.events.end(), [](const auto& e) {
        const auto* change = std::get_if<events::pool_lifecycle>(&e);
        return change != nullptr && change->change == "deleted";
      });
  // A reconcile nobody waits on (a refill after a checkout, a tick) may
  // share a later sync; one a caller or a waiting checkout waits on may not.
  auto effects = [this, destroys = std::move(plan.destroys), fills = plan.fills,
                  deleted_now, then] {
    for (const auto& vm_id : destroys) {
      const auto* m =
          settled().members.count(vm_id) ? &settled().members.at(vm_id) : nullptr;
      destroy(vm_id, m != nullptr && m->state == model::member_state::draining);
    }
    if (fills > 0 && !placement_in_flight_ && !placement_blocked_) {
      fills_this_tick_ += fills;
      start_fills(fills);
    }
    if (then)
      then();
    if (deleted_now) {
      caf::anon_send(ctx_->capacity, reserve_atom::value, id_, settled().tenant,
                     std::uint64_t{0}, std::uint64_t{0});
      send(ctx_->controller, stopped_atom::value, id_, encode_pool_snapshot(settled()),
           sequence_of(stream_));
      for (auto& w : waiters_)
        w.wanting.answer.deliver(
            to_caf(model::errc::not_found, "pool " + id_ + " was deleted"));
      waiters_.clear();
      count_waiters();
      // Every watcher sees it deleted: no revision comes after this one.
      const auto last = info();
      for (auto& w : watchers_)
        w.answer.deliver(last);
      watchers_.clear();
      quit();
    }
  };
  if (then || !waiters_.empty())
    persist(stream_, std::move(plan.events), std::move(effects));
  else
    persist_lazily(stream_, std::move(plan.events), std::move(effects));
  // persist() applied the plan to the working state: only members still
  // there (draining ones) count against the budget; failed or expired ones
  // are destroyed at once.
  for (const auto& vm_id : destroying) {
    auto found = current().members.find(vm_id);
    if (found != current().members.end() &&
        found->second.state == model::member_state::draining)
      ++destroys_this_tick_;
  }
}

void pool_actor::start_fills(std::uint32_t count) {
  const auto& s = current();
  std::vector<place_request> requests;
  for (std::uint32_t i = 0; i < count; ++i)
    requests.push_back(
        place_request{id_ + ".m" + std::to_string(s.members_started + 1 + i), s.tenant,
                      s.build_id, s.config.vcpus, s.config.memory_mb, false});
  placement_in_flight_ = true;
  context_.fills_in_flight = count;
  const auto generation = s.generation;
  const auto build_id = s.build_id;
  request(ctx_->capacity, caf::infinite, place_atom::value, std::move(requests))
      .then(
          [this, generation, build_id](std::vector<place_reply>& replies) {
            placement_in_flight_ = false;
            context_.fills_in_flight = 0;
            std::vector<events::domain_event> warming;
            std::string reason;
            const bool stale = current().generation != generation || current().draining ||
                               current().deleted || !current().enabled;
            for (const auto& reply : replies) {
              if (reply.host.empty()) {
                reason = reply.reason;
                continue;
              }
              if (stale) {
                send(ctx_->capacity, release_atom::value, reply.vm_id);
                continue;
              }
              warming.push_back(events::member_warming{reply.vm_id, build_id, generation,
                                                       reply.host, now_ns(this, *ctx_)});
            }
            context_.placement_reason = reason;
            placement_blocked_ =
                !reason.empty(); // until capacity changes or the next tick
            std::vector<std::string> started;
            for (const auto& e : warming)
              started.push_back(std::get<events::member_warming>(e).member_id);
            auto restore_started = [this, started] {
              for (const auto& vm_id : started) {
                auto found = settled().members.find(vm_id);
                if (found != settled().members.end())
                  restore(found->second);
              }
            };
            // A refill no checkout waits on may share a later sync.
            if (waiters_.empty())
              persist_lazily(stream_, std::move(warming), std::move(restore_started));
            else
              persist(stream_, std::move(warming), std::move(restore_started));
            schedule_reconcile(); // degraded reasons follow the placement's outcome
          },
          [this](const caf::error&) {
            placement_in_flight_ = false;
            context_.fills_in_flight = 0;
          });
}

void pool_actor::restore(const model::member& member) {
  auto vmm = ctx_->vmms.find(member.host);
  if (vmm == ctx_->vmms.end())
    return;
  vmm::vm_request request_msg;
  request_msg.vm_id = member.id;
  request_msg.build_id = member.build_id;
  request_msg.vcpus = current().config.vcpus;
  request_msg.memory_mb = current().config.memory_mb;
  const std::string vm_id = member.id;
  request(vmm->second, caf::infinite, restore_atom::value, std::move(request_msg))
      .then(
          [this, vm_id](vmm::vm_info& info) {
            auto found = current().members.find(vm_id);
            if (found == current().members.end() ||
                found->second.state != model::member_state::warming) {
              // Failed at its deadline or drained meanwhile: it must not linger.
              if (found == current().members.end())
                destroy(vm_id, false);
              return;
            }
            auto then = [this] {
              serve_waiters();
              schedule_reconcile();
            };
            events::member_ready ready{vm_id, info.endpoints, now_ns(this, *ctx_)};
            if (waiters_.empty())
              persist_lazily(stream_, std::move(ready), std::move(then));
            else
              persist(stream_, std::move(ready), std::move(then));
          },
          [this, vm_id](const caf::error& err) {
            auto found = current().members.find(vm_id);
            if (found == current().members.end() ||
                found->second.state != model::member_state::warming)
              return;
            persist(stream_,
                    events::member_changed{vm_id, "failed", from_caf(err).message,
                                           now_ns(this, *ctx_)},
                    [this, vm_id] {
                      destroy(vm_id, false);
                      schedule_reconcile();
                    });
          });
}

void pool_actor::destroy(const std::string& vm_id, bool confirm_destroyed) {
  const auto* m = current().members.count(vm_id) ? &current().members.at(vm_id) : nullptr;
  std::string host = m != nullptr ? m->host : "";
  if (host.empty()) {
    // Already gone from the state (failed, expired): ask every host; unknown
    // VMs are a no-op for a driver.
    for (const auto& [name, vmm] : ctx_->vmms)
      caf::anon_send(vmm, destroy_atom::value, vm_id);
    send(ctx_->capacity, release_atom::value, vm_id);
    return;
  }
  auto vmm = ctx_->vmms.find(host);
  if (vmm == ctx_->vmms.end())
    return;
  context_.destroys_in_flight.insert(vm_id);
  request(vmm->second, caf::infinite, destroy_atom::value, vm_id)
      .then(
          [this, vm_id, confirm_destroyed](bool) {
            context_.destroys_in_flight.erase(vm_id);
            send(ctx_->capacity, release_atom::value, vm_id);
            auto found = current().members.find(vm_id);
            if (confirm_destroyed && found != current().members.end() &&
                found->second.state == model::member_state::draining)
              persist(stream_,
                      events::member_changed{vm_id, "destroyed", "", now_ns(this, *ctx_)},
                      [this] { schedule_reconcile(); });
          },
          [this, vm_id](const caf::error&) { context_.destroys_in_flight.erase(vm_id); });
}

events::warm_pool_checkout pool_actor::checkout_record(const checkout& c,
                                                       bool hit) const {
  events::warm_pool_checkout out;
  out.considered = true;
  out.id = c.request.warm_pool;
  out.mode = c.request.warm_pool_mode;
  out.source = hit ? "warm_pool" : "cold";
  out.hit = hit;
  return out;
}

void pool_actor::take_checkout(checkout wanting) {
  auto refuse = [&](const caf::error& err) { wanting.answer.deliver(err); };
  auto& req = wanting.request;
  if (auto refused = check_sandbox_request(req, ctx_->max_warm_pool_wait_ms))
    return refuse(to_caf(*refused));
  const auto& s = current();
  if (!s.exists || s.deleted || s.deleting)
    return refuse(to_caf(model::errc::not_found,
                         "warm pool " + req.warm_pool + " does not exist", "warm_pool"));
  if (!req.template_ref.empty()) {
    auto ref = model::parse_template_ref(req.template_ref);
    if (!ref)
      return refuse(to_caf(ref.error()));
    if (ref->name != s.config.template_name)
      return refuse(to_caf(model::invalid("template", "warm pool " + id_ + " serves " +
                                                          s.config.template_name +
                                                          ", not " + ref->name)));
  }
  const std::string unpoolable = unpoolable_reason(req);
  if (!unpoolable.empty() && req.warm_pool_mode == "require")
    return refuse(to_caf(model::errc::warm_pool_unavailable,
                         unpoolable + "; require mode does not cold create"));
  const bool take = req.warm_pool_mode != "bypass" && unpoolable.empty();
  if (take && waiters_.empty()) {
    if (const auto* ready = s.pick_ready())
      return claim(*ready, std::move(wanting));
  }
  if (!take || req.warm_pool_wait_ms == 0) {
    if (take)
      ctx_->metrics.checkouts_miss++;
    return miss(std::move(wanting));
  }
  const auto id = next_waiter_++;
  delayed_send(this, std::chrono::milliseconds(req.warm_pool_wait_ms), expire_atom::value,
               id);
  waiters_.push_back(waiter{id, std::move(wanting)});
  count_waiters();
  schedule_reconcile();
}

void pool_actor::claim(const model::member& member, checkout wanting) {
  // The sandbox's record goes in the claim's append: the claimed VM is a
  // sandbox the moment the claim is durable, in the journal as in memory.
  const std::int64_t now = now_ns(this, *ctx_);
  const auto& s = current();
  events::sandbox_created created;
  created.id = ctx_->new_sandbox_ids.next(now);
  created.tenant = std::move(wanting.tenant);
  created.template_name = s.config.template_name;
  created.build_id = member.build_id;
  created.origin = "warm_pool";
  created.vm_id = member.id;
  created.host = member.host;
  created.vcpus = s.config.vcpus;
  created.memory_mb = s.config.memory_mb;
  created.checkout = checkout_record(wanting, true);
  created.endpoints = member.endpoints;
  created.at_ns = now;
  const std::string sandbox_id = created.id;
  // One event, applied and then encoded: not copied (an initializer list, or
  // `apply(created)` converting it to a domain_event, would copy it).
  std::vector<events::domain_event> sandbox_events;
  sandbox_events.emplace_back(std::move(created));
  auto sandbox = std::make_shared<model::sandbox_state>();
  sandbox->apply(sandbox_events.front());
  auto record =
      carry(model::sandbox_stream(sandbox_id), sandbox_events, wanting.correlation_id);
  persist(
      stream_,
      events::member_claimed{member.id, sandbox_id, now, wanting.request.warm_pool_mode},
      [this, sandbox = std::move(sandbox), answer = std::move(wanting.answer)]() mutable {
        claimed_.push_back(claimed{std::move(sandbox), std::move(answer)});
      },
      wanting.correlation_id, std::move(record));
}

void pool_actor::answer_watchers() {
  const auto revision = sequence_of(stream_);
  auto passed = [revision](const watcher& w) { return w.after < revision; };
  if (std::none_of(watchers_.begin(), watchers_.end(), passed))
    return;
  const auto now = info();
  for (auto& w : watchers_)
    if (passed(w))
      w.answer.deliver(now);
  watchers_.erase(std::remove_if(watchers_.begin(), watchers_.end(), passed),
                  watchers_.end());
}

void pool_actor::after_continuations() {
  if (!watchers_.empty())
    answer_watchers();
  if (claimed_.empty())
    return;
  answering_.swap(claimed_);
  auto& done = answering_;
  std::vector<api::sandbox_info> infos;
  infos.reserve(done.size());
  claimed_sandboxes sandboxes;
  sandboxes.states.reserve(done.size());
  std::map<std::string, std::vector<std::pair<std::string, std::string>>>
      adopted; // per host
  std::vector<std::string> vms;
  vms.reserve(done.size());
  for (auto& c : done) {
    infos.push_back(sandbox_actor::info_of(*c.sandbox));
    adopted[c.sandbox->host].emplace_back(c.sandbox->vm_id, c.sandbox->id);
    vms.push_back(c.sandbox->vm_id);
    sandboxes.states.push_back(std::move(*c.sandbox));
  }
  // The controller hears first: a caller may ask for its sandbox as soon as
  // it has the answer, and that request queues behind this message.
  send(ctx_->controller, parked_atom::value, std::move(sandboxes));
  // Exits of the claimed VMs are the sandboxes' now: they go to the
  // controller, tagged with each sandbox's id, until it has an actor.
  for (auto& [host, list] : adopted)
    if (auto vmm = ctx_->vmms.find(host); vmm != ctx_->vmms.end())
      send(vmm->second, adopt_atom::value, std::move(list), ctx_->controller);
  send(ctx_->capacity, claimed_atom::value, std::move(vms));
  ctx_->metrics.checkouts_hit += done.size();
  for (std::size_t i = 0; i < done.size(); ++i)
    done[i].answer.deliver(std::move(infos[i]));
  done.clear();
  schedule_refill();
}

void pool_actor::miss(checkout wanting) {
  const auto& req = wanting.request;
  if (req.warm_pool_mode == "require") {
    wanting.answer.deliver(to_caf(model::errc::warm_pool_unavailable,
                                  "warm pool " + req.warm_pool +
                                      " had no ready VM within " +
                                      std::to_string(req.warm_pool_wait_ms) + " ms"));
    return;
  }
  const auto& s = current();
  cold_request cold{std::move(wanting.tenant),
                    s.config.template_name,
                    s.build_id,
                    s.config.vcpus,
                    s.config.memory_mb,
                    checkout_record(wanting, false),
                    std::move(wanting.correlation_id),
                    std::move(wanting.request.network_allow)};
  send(ctx_->controller, cold_atom::value, std::move(cold), std::move(wanting.answer));
}

void pool_actor::serve_waiters() {
  while (!waiters_.empty()) {
    const auto* ready = current().pick_ready();
    if (ready == nullptr)
      return;
    auto w = std::move(waiters_.front());
    waiters_.pop_front();
    count_waiters();
    claim(*ready, std::move(w.wanting));
  }
}

caf::result<api::pool_info> pool_actor::lifecycle(const std::string& change) {
  if (current().deleting && change != "delete_requested")
    return to_caf(model::errc::conflict, "pool " + id_ + " is being deleted");
  auto rp = make_response_promise<api::pool_info>();
  std::vector<events::domain_event> changes;
  const auto& s = current();
  const bool no_op = (change == "enabled" && s.enabled && !s.draining) ||
                     (change == "disabled" && !s.enabled) ||
                     (change == "drain_started" && s.draining) ||
                     (change == "delete_requested" && s.deleting);
  if (!no_op)
    changes.push_back(events::pool_lifecycle{change});
  persist(stream_, std::move(changes), [this, rp]() mutable {
    reconcile([this, rp]() mutable { rp.deliver(info()); });
  });
  return rp;
}

caf::behavior pool_actor::make_behavior() {
  if (pending_create_) {
    auto created = std::move(*pending_create_);
    pending_create_.reset();
    persist(
        stream_, std::move(created), [this] { watch_template(); }, correlation_id_);
  } else {
    // Learn the template's tags and usable builds before reconciling.
    watch_template();
  }
  delayed_send(this, ctx_->pools.tick, tick_atom::value);

  return {
      [this](persisted_atom, const std::string& stream, persist_outcome& outcome) {
        on_persisted(stream, outcome);
      },
      [this](wake_atom) {
        reconcile_scheduled_ = false;
        reconcile();
      },
      [this](tick_atom) {
        placement_blocked_ = false;
        fills_this_tick_ = 0;
        destroys_this_tick_ = 0;
        reconcile();
        delayed_send(this, ctx_->pools.tick, tick_atom::value);
      },
      [this](checkout_atom, std::string& tenant, api::sandbox_request& req,
             std::string& correlation, direct_answer<api::sandbox_info>& answer) {
        take_checkout(checkout{std::move(tenant), std::move(req), std::move(correlation),
                               std::move(answer)});
      },
      [this](expire_atom, std::uint64_t id) {
        for (auto it = waiters_.begin(); it != waiters_.end(); ++it)
          if (it->id == id) {
            ctx_->metrics.checkouts_miss++;
            auto wanting = std::move(it->wanting);
            waiters_.erase(it);
            count_waiters();
            miss(std::move(wanting));
            return;
          }
      },
      [this](get_atom) -> caf::result<api::pool_info> {
        auto rp = make_response_promise<api::pool_info>();
        after_persisted(stream_, [this, rp]() mutable { rp.deliver(info()); });
        return rp;
      },
      [this](watch_atom, std::uint64_t after,
             std::uint64_t wait_ms) -> caf::result<api::pool_info> {
        if (sequence_of(stream_) > after || wait_ms == 0)
          return info();
        auto rp = make_response_promise<api::pool_info>();
        const auto id = next_watcher_++;
        watchers_.push_back(watcher{id, after, rp});
        delayed_send(this, std::chrono::milliseconds(wait_ms), unwatch_atom::value, id);
        return rp;
      },
      [this](unwatch_atom, std::uint64_t id) {
        auto found = std::find_if(watchers_.begin(), watchers_.end(),
                                  [id](const watcher& w) { return w.id == id; });
        if (found == watchers_.end())
          return; // answered already
        found->answer.deliver(info());
        watchers_.erase(found);
      },
      [this](update_atom, const events::pool_config& config,
             const std::string& build_id) -> caf::result<api::pool_info> {
        if (current().deleting)
          return to_caf(model::errc::conflict, "pool " + id_ + " is being deleted");
        auto rp = make_response_promise<api::pool_info>();
        const bool template_changed =
            config.template_name != current().config.template_name;
        persist(stream_, events::pool_updated{config, build_id},
                [this, rp, template_changed]() mutable {
                  if (template_changed)
                    watch_template();
                  else
                    apply_view(view_);
                  reconcile([this, rp]() mutable { rp.deliver(info()); });
                });
        return rp;
      },
      [this](enable_atom) { return lifecycle("enabled"); },
      [this](disable_atom) { return lifecycle("disabled"); },
      [this](drain_atom) { return lifecycle("drain_started"); },
      [this](delete_atom) { return lifecycle("delete_requested"); },
      [this](reconcile_atom) -> caf::result<api::pool_info> {
        auto rp = make_response_promise<api::pool_info>();
        placement_blocked_ = false;
        reconcile([this, rp]() mutable { rp.deliver(info()); });
        return rp;
      },
      [this](vm_exit_atom, const std::string& vm_id, const std::string& reason) {
        auto found = current().members.find(vm_id);
        if (found == current().members.end())
          return;
        const auto to =
            found->second.state == model::member_state::draining ? "destroyed" : "failed";
        persist(stream_, events::member_changed{vm_id, to, reason, now_ns(this, *ctx_)},
                [this, vm_id] {
                  send(ctx_->capacity, release_atom::value, vm_id);
                  schedule_reconcile();
                });
      },
      [this](vm_gone_atom, const std::string& vm_id, const std::string& reason) {
        if (current().members.count(vm_id) == 0)
          return;
        persist(stream_,
                events::member_changed{vm_id, "unavailable", reason, now_ns(this, *ctx_)},
                [this, vm_id] {
                  send(ctx_->capacity, release_atom::value, vm_id);
                  schedule_reconcile();
                });
      },
      [this](host_lost_atom, const std::string& host) {
        std::vector<events::domain_event> lost;
        std::vector<std::string> vms;
        for (const auto& [vm_id, m] : current().members)
          if (m.host == host) {
            lost.push_back(events::member_changed{
                vm_id, "unavailable", "host " + host + " lost", now_ns(this, *ctx_)});
            vms.push_back(vm_id);
          }
        persist(stream_, std::move(lost), [this, vms] {
          for (const auto& vm_id : vms)
            send(ctx_->capacity, release_atom::value, vm_id);
          schedule_reconcile();
        });
      },
      [this](template_atom, const std::string& name, const template_view& view) {
        if (name == current().config.template_name)
          apply_view(view);
      },
      [this](capacity_atom) {
        placement_blocked_ = false;
        schedule_reconcile();
      },
      [this](dump_atom) -> caf::result<std::string> {
        auto rp = make_response_promise<std::string>();
        after_persisted(stream_,
                        [this, rp]() mutable { rp.deliver(model::describe(settled())); });
        return rp;
      },
  };
}

} // namespace hearth::actors
