#pragma once

// Everything actors send each other: atoms, message types with their
// `inspect` overloads (so they can cross a network later), and the error
// conversion. Internal to the actors module.

#include <caf/all.hpp>
#include <functional>
#include <string>

#include "hearth/actors/api_types.hpp"
#include "hearth/model/error.hpp"
#include "hearth/model/sandbox_state.hpp"
#include "hearth/store/journal.hpp"
#include "hearth/vmm/driver.hpp"

namespace hearth::actors {

// -- atoms (at most 10 characters) ------------------------------------------------

using persisted_atom = caf::atom_constant<caf::atom("persisted")>;
using run_atom = caf::atom_constant<caf::atom("run")>;
using timer_atom = caf::atom_constant<caf::atom("timer")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using wake_atom = caf::atom_constant<caf::atom("wake")>;
using get_atom = caf::atom_constant<caf::atom("get")>;
using list_atom = caf::atom_constant<caf::atom("list")>;
using create_atom = caf::atom_constant<caf::atom("create")>;
using update_atom = caf::atom_constant<caf::atom("update")>;
using delete_atom = caf::atom_constant<caf::atom("delete")>;
using status_atom = caf::atom_constant<caf::atom("status")>;
using enable_atom = caf::atom_constant<caf::atom("enable")>;
using disable_atom = caf::atom_constant<caf::atom("disable")>;
using drain_atom = caf::atom_constant<caf::atom("drain")>;
using reconcile_atom = caf::atom_constant<caf::atom("reconcile")>;
using checkout_atom = caf::atom_constant<caf::atom("checkout")>;
using expire_atom = caf::atom_constant<caf::atom("expire")>;
using place_atom = caf::atom_constant<caf::atom("place")>;
using placed_atom = caf::atom_constant<caf::atom("placed")>;
using release_atom = caf::atom_constant<caf::atom("release")>;
using claimed_atom = caf::atom_constant<caf::atom("claimed")>;
using reserve_atom = caf::atom_constant<caf::atom("reserve")>;
using restore_atom = caf::atom_constant<caf::atom("restore")>;
using restored_atom = caf::atom_constant<caf::atom("restored")>;
using destroy_atom = caf::atom_constant<caf::atom("destroy")>;
using destroyed_atom = caf::atom_constant<caf::atom("destroyed")>;
using build_atom = caf::atom_constant<caf::atom("build")>;
using built_atom = caf::atom_constant<caf::atom("built")>;
using prepare_atom = caf::atom_constant<caf::atom("prepare")>;
using prepared_atom = caf::atom_constant<caf::atom("prepared")>;
using artifact_atom = caf::atom_constant<caf::atom("artifact")>;
using vm_exit_atom = caf::atom_constant<caf::atom("vm_exit")>;
using health_atom = caf::atom_constant<caf::atom("health")>;
using host_lost_atom = caf::atom_constant<caf::atom("host_lost")>;
using capacity_atom = caf::atom_constant<caf::atom("capacity")>;
using resolve_atom = caf::atom_constant<caf::atom("resolve")>;
using tag_atom = caf::atom_constant<caf::atom("tag")>;
using watch_atom = caf::atom_constant<caf::atom("watch")>;
using wait_atom = caf::atom_constant<caf::atom("wait")>;
using unwatch_atom = caf::atom_constant<caf::atom("unwatch")>;
using written_atom = caf::atom_constant<caf::atom("written")>;
using template_atom = caf::atom_constant<caf::atom("template")>;
using running_atom = caf::atom_constant<caf::atom("running")>;
using adopt_atom = caf::atom_constant<caf::atom("adopt")>;
using pause_atom = caf::atom_constant<caf::atom("pause")>;
using resume_atom = caf::atom_constant<caf::atom("resume")>;
using hibernate_atom = caf::atom_constant<caf::atom("hibernate")>;
using fork_atom = caf::atom_constant<caf::atom("fork")>;
using from_snap_atom = caf::atom_constant<caf::atom("from_snap")>;
using dump_atom = caf::atom_constant<caf::atom("dump")>;
using tenant_atom = caf::atom_constant<caf::atom("tenant")>;
using quota_atom = caf::atom_constant<caf::atom("quota")>;
using hosts_atom = caf::atom_constant<caf::atom("hosts")>;
using start_atom = caf::atom_constant<caf::atom("start")>;
using stopped_atom = caf::atom_constant<caf::atom("stopped")>;
using host_atom_register = caf::atom_constant<caf::atom("host_reg")>;
using log_atom = caf::atom_constant<caf::atom("log")>;
using key_atom = caf::atom_constant<caf::atom("key")>;
using auth_atom = caf::atom_constant<caf::atom("auth")>;
using revoke_atom = caf::atom_constant<caf::atom("revoke")>;
using cold_atom = caf::atom_constant<caf::atom("cold")>;
using parked_atom = caf::atom_constant<caf::atom("parked")>;
using tenants_atom = caf::atom_constant<caf::atom("tenants")>;

// -- errors -----------------------------------------------------------------------

inline constexpr caf::atom_value error_category = caf::atom("hearth");

/// A model error as a CAF error (code + 1: CAF reserves 0 for "no error").
inline caf::error to_caf(const model::error& e) {
  return caf::error(static_cast<std::uint8_t>(static_cast<int>(e.code) + 1),
                    error_category, caf::make_message(e.message, e.field));
}

inline caf::error to_caf(model::errc code, std::string message, std::string field = {}) {
  return to_caf(model::error{code, std::move(message), std::move(field)});
}

/// Any CAF error as a model error; errors not of hearth become `unavailable`.
inline model::error from_caf(const caf::error& e) {
  if (e.category() == error_category && e.code() > 0) {
    model::error out{static_cast<model::errc>(e.code() - 1), ""};
    const auto& context = e.context();
    if (context.match_elements<std::string, std::string>()) {
      out.message = context.get_as<std::string>(0);
      out.field = context.get_as<std::string>(1);
    }
    return out;
  }
  return model::error{model::errc::unavailable,
                      "controller did not answer: " + caf::to_string(e)};
}

// -- messages between actors ---------------------------------------------------------

/// The journal's answer to one persist, delivered to the persisting actor.
struct persist_outcome {
  store::result<store::append_ack> result{store::error{}};
};

/// Work an executor runs in an actor's context.
struct work_item {
  std::function<void()> run;
};

/// What a cold create in a pool's stead needs: the pool missed (prefer), was
/// bypassed, or the request's shape is not poolable.
struct cold_request {
  std::string tenant;
  std::string template_name;
  std::string build_id;
  std::uint32_t vcpus = 0;
  std::uint32_t memory_mb = 0;
  events::warm_pool_checkout checkout;
  std::string correlation_id;
  std::vector<std::string> network_allow;
};

/// The sandboxes a pool's claims made, durable, for the controller's
/// registry: one message per append of claims.
struct claimed_sandboxes {
  std::vector<model::sandbox_state> states;
};

/// A request for a place to run one VM.
struct place_request {
  std::string vm_id;
  std::string tenant;
  std::string build_id;
  std::uint32_t vcpus = 0;
  std::uint32_t memory_mb = 0;
  /// A sandbox (counted against quota on its own) or a pool member.
  bool sandbox = false;
};

struct place_reply {
  std::string vm_id;
  std::string host;   // empty: not placed
  std::string reason; // why not
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cold_request& x) {
  return f(caf::meta::type_name("cold_request"), x.tenant, x.template_name, x.build_id,
           x.vcpus, x.memory_mb, x.checkout, x.correlation_id, x.network_allow);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, place_request& x) {
  return f(caf::meta::type_name("place_request"), x.vm_id, x.tenant, x.build_id, x.vcpus,
           x.memory_mb, x.sandbox);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, place_reply& x) {
  return f(caf::meta::type_name("place_reply"), x.vm_id, x.host, x.reason);
}

} // namespace hearth::actors

namespace hearth::api {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, build_info& x) {
  return f(caf::meta::type_name("build_info"), x.build_id, x.template_name,
           x.canonical_ref, x.status, x.tags, x.error);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, template_info& x) {
  return f(caf::meta::type_name("template_info"), x.name, x.tags, x.builds);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, pool_spec& x) {
  return f(caf::meta::type_name("pool_spec"), x.template_ref, x.name, x.min_ready,
           x.max_ready, x.vcpus, x.memory_mb, x.version_policy, x.track_tag);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, pool_patch& x) {
  return f(caf::meta::type_name("pool_patch"), x.set_template, x.template_ref,
           x.set_min_ready, x.min_ready, x.set_max_ready, x.max_ready, x.set_vcpus,
           x.vcpus, x.set_memory_mb, x.memory_mb, x.set_version_policy, x.version_policy,
           x.set_track_tag, x.track_tag);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, pool_info& x) {
  return f(caf::meta::type_name("pool_info"), x.id, x.name, x.tenant, x.template_ref,
           x.template_name, x.build_id, x.generation, x.min_ready, x.max_ready, x.vcpus,
           x.memory_mb, x.version_policy, x.track_tag, x.enabled, x.draining, x.deleting,
           x.deleted, x.degraded_reason, x.status, x.revision);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, checkout_info& x) {
  return f(caf::meta::type_name("checkout_info"), x.considered, x.source, x.hit, x.id,
           x.mode);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, sandbox_request& x) {
  return f(caf::meta::type_name("sandbox_request"), x.template_ref, x.warm_pool,
           x.warm_pool_mode, x.warm_pool_wait_ms, x.envs, x.volumes, x.cwd, x.desktop,
           x.custom_network, x.timeout_policy, x.auto_resume, x.network_allow);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, sandbox_info& x) {
  return f(caf::meta::type_name("sandbox_info"), x.id, x.tenant, x.template_name,
           x.build_id, x.state, x.origin, x.vm_id, x.host, x.vcpus, x.memory_mb,
           x.endpoints, x.warm_pool_checkout, x.reason, x.network_allow);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, host_info& x) {
  return f(caf::meta::type_name("host_info"), x.id, x.vcpus, x.memory_mb, x.used_vcpus,
           x.used_memory_mb, x.healthy, x.artifacts);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, api_key& x) {
  return f(caf::meta::type_name("api_key"), x.tenant, x.key_id, x.role, x.key);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, principal& x) {
  return f(caf::meta::type_name("principal"), x.tenant, x.key_id, x.role);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, tenant_info& x) {
  return f(caf::meta::type_name("tenant_info"), x.id, x.quota_vcpus, x.quota_memory_mb,
           x.key_ids);
}

} // namespace hearth::api

namespace hearth::model {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, pool_status& x) {
  return f(caf::meta::type_name("pool_status"), x.target, x.ready, x.warming, x.claimed,
           x.draining, x.failed, x.expired, x.unavailable);
}

} // namespace hearth::model

namespace hearth::events {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, build_step& x) {
  return f(caf::meta::type_name("build_step"), x.kind, x.text, x.content_b64, x.mode,
           x.packages, x.env);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, readiness_spec& x) {
  return f(caf::meta::type_name("readiness_spec"), x.kind, x.port, x.path, x.command,
           x.timeout_ms);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, build_spec& x) {
  return f(caf::meta::type_name("build_spec"), x.base, x.steps, x.start_cmd, x.readiness,
           x.vcpus, x.memory_mb, x.network_allow);
}

} // namespace hearth::events

namespace hearth::vmm {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, vm_request& x) {
  return f(caf::meta::type_name("vm_request"), x.vm_id, x.build_id, x.artifact, x.vcpus,
           x.memory_mb, x.cold, x.network_allow);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, vm_info& x) {
  return f(caf::meta::type_name("vm_info"), x.vm_id, x.endpoints, x.restore_us);
}

} // namespace hearth::vmm

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(hearth::actors::persist_outcome)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(hearth::actors::work_item)

namespace hearth::actors {
using pools_atom = caf::atom_constant<caf::atom("pools")>;
using sandboxes_atom = caf::atom_constant<caf::atom("sandboxes")>;
using recovered_atom = caf::atom_constant<caf::atom("recovered")>;
/// A VM the journal records as live is not running on its host (found after a
/// controller restart): its member is unavailable, its sandbox failed.
using vm_gone_atom = caf::atom_constant<caf::atom("vm_gone")>;
/// A failed or destroyed sandbox's actor hands its state to the controller
/// (claimed_sandboxes, sequence, the deletes it was asked); the controller
/// answers with the same atom once it answers for the sandbox itself, and
/// the actor ends.
using retire_atom = caf::atom_constant<caf::atom("retire")>;
} // namespace hearth::actors

namespace hearth::events {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, pool_config& x) {
  return f(caf::meta::type_name("pool_config"), x.template_ref, x.template_name,
           x.min_ready, x.max_ready, x.vcpus, x.memory_mb, x.version_policy, x.track_tag);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, warm_pool_checkout& x) {
  return f(caf::meta::type_name("warm_pool_checkout"), x.considered, x.source, x.hit,
           x.id, x.mode);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, sandbox_created& x) {
  return f(caf::meta::type_name("sandbox_created"), x.id, x.tenant, x.template_name,
           x.build_id, x.origin, x.vm_id, x.host, x.vcpus, x.memory_mb, x.checkout,
           x.endpoints, x.at_ns, x.network_allow);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, pool_created& x) {
  return f(caf::meta::type_name("pool_created"), x.id, x.tenant, x.name, x.config,
           x.build_id);
}

} // namespace hearth::events

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(hearth::actors::claimed_sandboxes)
