#include "vmm_actor.hpp"

#include <cstdio>

#include "messages.hpp"

namespace hearth::actors {

namespace {

caf::error vm_error(const vmm::error& e) {
  return to_caf(model::errc::unavailable,
                std::string(vmm::to_string(e.code)) + ": " + e.message);
}

vmm::build_request to_driver(const std::string& build_id,
                             const events::build_spec& spec) {
  vmm::build_request out;
  out.build_id = build_id;
  out.base = spec.base;
  for (const auto& s : spec.steps)
    out.steps.push_back(
        vmm::step{s.kind, s.text, s.content_b64, s.mode, s.packages, s.env});
  out.start_cmd = spec.start_cmd;
  out.ready =
      vmm::readiness{spec.readiness.kind, spec.readiness.port, spec.readiness.path,
                     spec.readiness.command, spec.readiness.timeout_ms};
  out.vcpus = spec.vcpus;
  out.memory_mb = spec.memory_mb;
  out.network_allow = spec.network_allow;
  return out;
}

using vmm_self = caf::stateful_actor<vmm_state>*;

/// Marks the calling thread as running a handler of `self` for its lifetime.
class in_handler {
public:
  explicit in_handler(vmm_self self)
      : self_(self) {
    self_->state.handling->store(std::this_thread::get_id(), std::memory_order_relaxed);
  }
  ~in_handler() { self_->state.handling->store({}, std::memory_order_relaxed); }
  in_handler(const in_handler&) = delete;
  in_handler& operator=(const in_handler&) = delete;

private:
  vmm_self self_;
};

/// Sets the clock timer for the earliest deadline unless one is set for it
/// or before it.
void arm_timer(vmm_self self) {
  auto& st = self->state;
  if (st.timers.empty())
    return;
  const auto earliest = st.timers.begin()->first;
  if (st.armed != caf::actor_clock::time_point{} && st.armed <= earliest)
    return;
  st.armed = earliest;
  self->delayed_send(self, earliest - self->clock().now(), timer_atom::value);
}

/// Runs the work that is due, then sets the timer for what is left.
void on_timer(vmm_self self) {
  in_handler guard{self};
  auto& st = self->state;
  const auto now = self->clock().now();
  if (st.armed <= now)
    st.armed = {}; // this is the timer set (a superseded one may still come)
  std::vector<std::function<void()>> due;
  while (!st.timers.empty() && st.timers.begin()->first <= now) {
    due.push_back(std::move(st.timers.begin()->second));
    st.timers.erase(st.timers.begin());
  }
  for (auto& work : due)
    work();
  arm_timer(self);
}

} // namespace

caf::behavior vmm_actor(caf::stateful_actor<vmm_state>* self,
                        std::shared_ptr<runtime_context> ctx, std::string host,
                        driver_factory make_driver) {
  self->set_default_handler(caf::print_and_drop);
  self->set_error_handler([](caf::error& err) {
    std::fprintf(stderr, "hearth: vmm ignored an error message: %s\n",
                 caf::to_string(err).c_str());
  });
  // Driver callbacks come back as this actor's own messages, after `delay`
  // by this actor's clock: deterministic under the test scheduler. The
  // driver lives in this actor's state, so it holds a weak handle only.
  caf::weak_actor_ptr weak_self = caf::actor_cast<caf::weak_actor_ptr>(self);
  vmm::executor run = [weak_self, self, handling = self->state.handling](
                          std::chrono::nanoseconds delay, std::function<void()> work) {
    if (delay.count() > 0 &&
        handling->load(std::memory_order_relaxed) == std::this_thread::get_id()) {
      // From this actor's own handler: it is alive, and its state is ours.
      self->state.timers.emplace(self->clock().now() +
                                     std::chrono::duration_cast<caf::timespan>(delay),
                                 std::move(work));
      arm_timer(self);
      return;
    }
    auto self_handle = caf::actor_cast<caf::actor>(weak_self);
    if (!self_handle)
      return; // shutting down
    if (delay.count() <= 0)
      caf::anon_send(self_handle, run_atom::value, work_item{std::move(work)});
    else
      caf::delayed_anon_send(self_handle,
                             std::chrono::duration_cast<caf::timespan>(delay),
                             run_atom::value, work_item{std::move(work)});
  };
  self->state.driver = make_driver(run);
  self->state.driver->on_vm_exit([self](std::string vm_id, std::string reason) {
    auto found = self->state.owners.find(vm_id);
    if (found == self->state.owners.end())
      return;
    const auto& owner = found->second;
    if (owner.tag.empty())
      self->send(owner.actor, vm_exit_atom::value, vm_id, reason);
    else
      self->send(owner.actor, vm_exit_atom::value, vm_id, reason, owner.tag);
    self->state.owners.erase(found);
  });
  self->state.driver->on_host_health([self, ctx, host](bool healthy, std::string reason) {
    if (!healthy)
      self->state.owners.clear();
    self->send(ctx->capacity, health_atom::value, host, healthy, reason);
  });

  return {
      [self](run_atom, work_item& work) {
        in_handler guard{self};
        work.run();
      },
      [self](timer_atom) { on_timer(self); },
      [self, ctx](restore_atom, vmm::vm_request& request) -> caf::result<vmm::vm_info> {
        in_handler guard{self};
        // Before make_response_promise, which takes the sender over.
        const auto owner = caf::actor_cast<caf::actor>(self->current_sender());
        auto rp = self->make_response_promise<vmm::vm_info>();
        const std::string vm_id = request.vm_id;
        const auto started = std::chrono::steady_clock::now();
        self->state.driver->restore(
            std::move(request),
            [self, rp, owner, vm_id, ctx, started](vmm::result<vmm::vm_info> r) mutable {
              if (r)
                ctx->metrics.vm_restore.observe(std::chrono::steady_clock::now() -
                                                started);
              if (!r) {
                rp.deliver(vm_error(r.error()));
                return;
              }
              if (owner)
                self->state.owners[vm_id] = vm_owner{owner, {}};
              rp.deliver(std::move(*r));
            });
        return rp;
      },
      [self](destroy_atom, const std::string& vm_id) -> caf::result<bool> {
        in_handler guard{self};
        auto rp = self->make_response_promise<bool>();
        self->state.owners.erase(vm_id);
        self->state.driver->destroy(vm_id, [rp](vmm::result<bool> r) mutable {
          if (r)
            rp.deliver(true);
          else
            rp.deliver(vm_error(r.error()));
        });
        return rp;
      },
      [self](build_atom, const std::string& build_id,
             const events::build_spec& spec) -> caf::result<std::string, std::string> {
        in_handler guard{self};
        auto rp = self->make_response_promise<std::string, std::string>();
        self->state.driver->build(to_driver(build_id, spec),
                                  [rp](vmm::result<vmm::build_result> r) mutable {
                                    if (r)
                                      rp.deliver(r->artifact, r->log);
                                    else
                                      rp.deliver(vm_error(r.error()));
                                  });
        return rp;
      },
      [self](prepare_atom, const std::string& build_id,
             const std::string& artifact) -> caf::result<bool> {
        in_handler guard{self};
        auto rp = self->make_response_promise<bool>();
        self->state.driver->prepare(build_id, artifact,
                                    [rp](vmm::result<bool> r) mutable {
                                      if (r)
                                        rp.deliver(true);
                                      else
                                        rp.deliver(vm_error(r.error()));
                                    });
        return rp;
      },
      [self](adopt_atom, const std::string& vm_id, const caf::actor& owner) {
        self->state.owners[vm_id] = vm_owner{owner, {}};
      },
      [self](adopt_atom, const std::string& vm_id, const caf::actor& owner,
             std::string& tag) {
        self->state.owners[vm_id] = vm_owner{owner, std::move(tag)};
      },
      // Many at once (a pool's claims): (VM, tag) pairs.
      [self](adopt_atom, std::vector<std::pair<std::string, std::string>>& vms,
             const caf::actor& owner) {
        for (auto& [vm_id, tag] : vms)
          self->state.owners[vm_id] = vm_owner{owner, std::move(tag)};
      },
      [self](running_atom) { return self->state.driver->running(); },
      [self](log_atom, const std::string& build_id) {
        return self->state.driver->build_log(build_id);
      },
  };
}

} // namespace hearth::actors
