#include "sandbox_actor.hpp"

#include "snapshot_codec.hpp"

namespace hearth::actors {

sandbox_actor::sandbox_actor(caf::actor_config& cfg, std::shared_ptr<runtime_context> ctx,
                             model::sandbox_state recovered, std::uint64_t sequence)
    : event_sourced<model::sandbox_state>(cfg, std::move(ctx))
    , stream_(model::sandbox_stream(recovered.id)) {
  ctx_->metrics.sandbox_actors++;
  adopt(stream_, std::move(recovered), sequence);
}

sandbox_actor::sandbox_actor(caf::actor_config& cfg, std::shared_ptr<runtime_context> ctx,
                             events::sandbox_created created, std::string correlation_id)
    : event_sourced<model::sandbox_state>(cfg, std::move(ctx))
    , stream_(model::sandbox_stream(created.id))
    , pending_create_(std::move(created))
    , correlation_id_(std::move(correlation_id)) {
  ctx_->metrics.sandbox_actors++;
  adopt(stream_, model::sandbox_state{}, 0);
}

void sandbox_actor::on_exit() {
  ctx_->metrics.sandbox_actors--;
  starters_.clear();
  event_sourced<model::sandbox_state>::on_exit();
}

std::string sandbox_actor::encode_state(const model::sandbox_state& s) const {
  return encode_sandbox_snapshot(s);
}

api::sandbox_info sandbox_actor::info_of(const model::sandbox_state& s) {
  api::sandbox_info out;
  out.id = s.id;
  out.tenant = s.tenant;
  out.template_name = s.template_name;
  out.build_id = s.build_id;
  out.state = std::string(model::to_string(s.status));
  out.origin = s.origin;
  out.vm_id = s.vm_id;
  out.host = s.host;
  out.vcpus = s.vcpus;
  out.memory_mb = s.memory_mb;
  out.endpoints = s.endpoints;
  out.warm_pool_checkout =
      api::checkout_info{s.checkout.considered, s.checkout.source, s.checkout.hit,
                         s.checkout.id, s.checkout.mode};
  out.reason = s.reason;
  out.network_allow = s.network_allow;
  return out;
}

void sandbox_actor::answer_starters() {
  const auto& s = settled();
  if (s.status == model::sandbox_status::creating)
    return;
  for (auto& rp : starters_) {
    if (s.status == model::sandbox_status::failed)
      rp.deliver(
          to_caf(model::errc::unavailable, "sandbox " + s.id + " failed: " + s.reason));
    else
      rp.deliver(info_of(s));
  }
  starters_.clear();
}

void sandbox_actor::fail(const std::string& reason, bool release) {
  if (!model::valid_transition(current().status, model::sandbox_status::failed))
    return;
  persist(stream_, events::sandbox_changed{"failed", reason, {}, now_ns(this, *ctx_)},
          [this, release] {
            if (release)
              send(ctx_->capacity, release_atom::value, settled().vm_id);
            answer_starters();
            maybe_retire();
          });
}

void sandbox_actor::maybe_retire() {
  const auto status = settled().status;
  if ((status != model::sandbox_status::failed &&
       status != model::sandbox_status::destroyed) ||
      !quiet(stream_) || !starters_.empty())
    return;
  send(ctx_->controller, retire_atom::value, claimed_sandboxes{{settled()}},
       sequence_of(stream_), deletes_);
}

std::optional<caf::error> sandbox_actor::refusal(const model::sandbox_state& s,
                                                 model::sandbox_status to) {
  if (model::valid_transition(s.status, to))
    return std::nullopt;
  return to_caf(model::errc::conflict,
                "sandbox " + s.id + " is " + std::string(model::to_string(s.status)) +
                    ", it cannot go " + std::string(model::to_string(to)));
}

caf::result<api::sandbox_info> sandbox_actor::move_to(model::sandbox_status to) {
  if (auto refused = refusal(current(), to))
    return std::move(*refused);
  auto rp = make_response_promise<api::sandbox_info>();
  persist(stream_,
          events::sandbox_changed{
              std::string(model::to_string(to)), "", {}, now_ns(this, *ctx_)},
          [this, rp]() mutable { rp.deliver(info_of(settled())); });
  return rp;
}

caf::behavior sandbox_actor::make_behavior() {
  if (pending_create_) {
    const bool from_pool = pending_create_->origin == "warm_pool";
    auto created = std::move(*pending_create_);
    pending_create_.reset();
    // From a pool, the caller has its answer from the durable claim (and
    // recovery rebuilds the sandbox from it): the record may share a later
    // sync. A cold create's caller waits on it.
    auto then = [this, from_pool] {
      if (from_pool) {
        // Exits of the claimed VM are this sandbox's now.
        auto vmm = ctx_->vmms.find(settled().host);
        if (vmm != ctx_->vmms.end())
          send(vmm->second, adopt_atom::value, settled().vm_id,
               caf::actor_cast<caf::actor>(this));
        answer_starters();
        return;
      }
      auto vmm = ctx_->vmms.find(settled().host);
      if (vmm == ctx_->vmms.end()) {
        fail("host " + settled().host + " has no vmm", true);
        return;
      }
      vmm::vm_request request_msg;
      request_msg.vm_id = settled().vm_id;
      request_msg.build_id = settled().build_id;
      request_msg.vcpus = settled().vcpus;
      request_msg.memory_mb = settled().memory_mb;
      request_msg.cold = true;
      request_msg.network_allow = settled().network_allow;
      request(vmm->second, caf::infinite, restore_atom::value, std::move(request_msg))
          .then(
              [this](vmm::vm_info& info) {
                if (current().status != model::sandbox_status::creating)
                  return;
                persist(stream_,
                        events::sandbox_changed{"running", "", info.endpoints,
                                                now_ns(this, *ctx_)},
                        [this] { answer_starters(); });
              },
              [this](const caf::error& err) { fail(from_caf(err).message, true); });
    };
    if (from_pool)
      persist_lazily(stream_, std::move(created), std::move(then), correlation_id_);
    else
      persist(stream_, std::move(created), std::move(then), correlation_id_);
  }

  return {
      [this](persisted_atom, const std::string& stream, persist_outcome& outcome) {
        on_persisted(stream, outcome);
      },
      [this](start_atom) -> caf::result<api::sandbox_info> {
        auto rp = make_response_promise<api::sandbox_info>();
        starters_.push_back(rp);
        after_persisted(stream_, [this] { answer_starters(); });
        return rp;
      },
      [this](get_atom) -> caf::result<api::sandbox_info> {
        auto rp = make_response_promise<api::sandbox_info>();
        after_persisted(stream_,
                        [this, rp]() mutable { rp.deliver(info_of(settled())); });
        return rp;
      },
      [this](delete_atom) -> caf::result<api::sandbox_info> {
        auto rp = make_response_promise<api::sandbox_info>();
        ++deletes_;
        const auto status = current().status;
        if (status == model::sandbox_status::destroyed ||
            status == model::sandbox_status::destroying) {
          after_persisted(stream_, [this, rp]() mutable {
            rp.deliver(info_of(settled()));
            maybe_retire();
          });
          return rp;
        }
        persist(
            stream_, events::sandbox_changed{"destroying", "", {}, now_ns(this, *ctx_)},
            [this, rp]() mutable {
              auto finish = [this, rp]() mutable {
                persist(stream_,
                        events::sandbox_changed{"destroyed", "", {}, now_ns(this, *ctx_)},
                        [this, rp]() mutable {
                          send(ctx_->capacity, release_atom::value, settled().vm_id);
                          rp.deliver(info_of(settled()));
                          maybe_retire();
                        });
              };
              auto vmm = ctx_->vmms.find(settled().host);
              if (vmm == ctx_->vmms.end()) {
                finish();
                return;
              }
              request(vmm->second, caf::infinite, destroy_atom::value, settled().vm_id)
                  .then([finish](bool) mutable { finish(); },
                        [finish](const caf::error&) mutable { finish(); });
            });
        return rp;
      },
      [this](pause_atom atom) { return move_to(target_of(atom)); },
      [this](resume_atom atom) { return move_to(target_of(atom)); },
      [this](hibernate_atom atom) { return move_to(target_of(atom)); },
      [this](vm_exit_atom, const std::string& vm_id, const std::string& reason) {
        if (vm_id == current().vm_id)
          fail(reason, true);
      },
      [this](vm_gone_atom, const std::string& vm_id, const std::string& reason) {
        if (vm_id == current().vm_id)
          fail(reason, true);
      },
      [this](host_lost_atom, const std::string& host) {
        if (host == current().host)
          fail("host " + host + " lost", true);
      },
      // The controller answers for this sandbox now; what it sent before
      // this has been answered.
      [this](retire_atom) { quit(); },
      [this](dump_atom) -> caf::result<std::string> {
        auto rp = make_response_promise<std::string>();
        after_persisted(stream_,
                        [this, rp]() mutable { rp.deliver(model::describe(settled())); });
        return rp;
      },
  };
}

} // namespace hearth::actors
