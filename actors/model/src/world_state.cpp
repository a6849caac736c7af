#include "hearth/model/world_state.hpp"

#include <nlohmann/json.hpp>

#include "hearth/events/domain_event.hpp"

namespace hearth::model {

using nlohmann::json;

std::string pool_stream(std::string_view id) {
  return "pool/" + std::string(id);
}
std::string sandbox_stream(std::string_view id) {
  return "sandbox/" + std::string(id);
}
std::string host_stream(std::string_view id) {
  return "host/" + std::string(id);
}
std::string tenant_stream(std::string_view id) {
  return "tenant/" + std::string(id);
}
std::string template_stream(std::string_view name) {
  return "template/" + std::string(name);
}

result<void> world_state::apply(const events::envelope& stored) {
  auto event = events::decode_domain(stored);
  if (!event)
    return error{errc::internal, "event " + std::to_string(stored.sequence) + " of " +
                                     stored.stream + ": " + event.error().message};
  return apply(stored.stream, stored.sequence, *event);
}

result<void> world_state::apply(const std::string& stream, std::uint64_t sequence,
                                const events::domain_event& event) {
  const auto slash = stream.find('/');
  const std::string_view kind = std::string_view(stream).substr(0, slash);
  const std::string key = slash == std::string::npos ? "" : stream.substr(slash + 1);
  bool applied = false;
  if (kind == "pool") {
    auto& pool = pools[key];
    if (const auto* c = std::get_if<events::member_claimed>(&event)) {
      auto member = pool.members.find(c->member_id);
      if (member != pool.members.end()) {
        claims[c->sandbox_id] = claim{key,
                                      pool.tenant,
                                      pool.config.template_name,
                                      member->second,
                                      pool.config.vcpus,
                                      pool.config.memory_mb,
                                      c->at_ns,
                                      c->mode};
        ++claims_per_vm[c->member_id];
      }
    }
    applied = pool.apply(event);
  } else if (kind == "sandbox")
    applied = sandboxes[key].apply(event);
  else if (kind == "host")
    applied = hosts[key].apply(event);
  else if (kind == "tenant")
    applied = tenants[key].apply(event);
  else if (kind == "template") {
    auto& t = templates[key];
    t.name = key;
    applied = t.apply(event);
  } else
    return error{errc::internal, "stream " + stream + " is of no known kind"};
  if (!applied && ++rejected <= max_misfits)
    misfits.push_back(stream + " #" + std::to_string(sequence) + " " +
                      events::type_name(event));
  sequences[stream] = sequence;
  return {};
}

namespace {

json checkout_json(const events::warm_pool_checkout& c) {
  return json{{"considered", c.considered},
              {"source", c.source},
              {"hit", c.hit},
              {"id", c.id},
              {"mode", c.mode}};
}

json pool_json(const pool_state& s) {
  json members = json::object();
  for (const auto& [id, m] : s.members)
    members[id] = json{{"build_id", m.build_id}, {"generation", m.generation},
                       {"host", m.host},         {"state", to_string(m.state)},
                       {"since_ns", m.since_ns}, {"endpoints", m.endpoints}};
  const auto st = s.status();
  return json{{"id", s.id},
              {"tenant", s.tenant},
              {"name", s.name},
              {"template", s.config.template_ref},
              {"min_ready", s.config.min_ready},
              {"max_ready", s.config.max_ready},
              {"vcpus", s.config.vcpus},
              {"memory_mb", s.config.memory_mb},
              {"version_policy", s.config.version_policy},
              {"track_tag", s.config.track_tag},
              {"build_id", s.build_id},
              {"generation", s.generation},
              {"enabled", s.enabled},
              {"draining", s.draining},
              {"deleting", s.deleting},
              {"deleted", s.deleted},
              {"degraded_reason", s.degraded_reason},
              {"members", members},
              {"members_started", s.members_started},
              {"consecutive_failures", s.consecutive_failures},
              {"status", json{{"target", st.target},
                              {"ready", st.ready},
                              {"warming", st.warming},
                              {"claimed", st.claimed},
                              {"draining", st.draining},
                              {"failed", st.failed},
                              {"expired", st.expired},
                              {"unavailable", st.unavailable}}}};
}

json sandbox_json(const sandbox_state& s) {
  return json{{"id", s.id},
              {"tenant", s.tenant},
              {"template", s.template_name},
              {"build_id", s.build_id},
              {"origin", s.origin},
              {"vm_id", s.vm_id},
              {"host", s.host},
              {"vcpus", s.vcpus},
              {"memory_mb", s.memory_mb},
              {"state", to_string(s.status)},
              {"reason", s.reason},
              {"endpoints", s.endpoints},
              {"warm_pool_checkout", checkout_json(s.checkout)}};
}

json host_json(const host_state& s) {
  json artifacts = json::object();
  for (const auto& [build, state] : s.artifacts)
    artifacts[build] = json{{"state", state.first}, {"reason", state.second}};
  return json{{"id", s.id},
              {"vcpus", s.vcpus},
              {"memory_mb", s.memory_mb},
              {"healthy", s.healthy},
              {"artifacts", artifacts}};
}

json tenant_json(const tenant_state& s) {
  json keys = json::object();
  for (const auto& [digest, key] : s.keys)
    keys[key.key_id] = key.role;
  return json{{"id", s.id},
              {"quota_vcpus", s.quota_vcpus},
              {"quota_memory_mb", s.quota_memory_mb},
              {"keys", keys}};
}

json template_json(const template_state& s) {
  json builds = json::object();
  for (const auto& [id, b] : s.builds)
    builds[id] = json{{"status", b.status},
                      {"error", b.error},
                      {"host", b.host},
                      {"artifact", b.artifact},
                      {"deleted", b.deleted}};
  return json{
      {"name", s.name}, {"tenant", s.tenant}, {"builds", builds}, {"tags", s.tags}};
}

} // namespace

std::string describe(const pool_state& state) {
  return pool_json(state).dump();
}
std::string describe(const sandbox_state& state) {
  return sandbox_json(state).dump();
}
std::string describe(const host_state& state) {
  return host_json(state).dump();
}
std::string describe(const tenant_state& state) {
  return tenant_json(state).dump();
}
std::string describe(const template_state& state) {
  return template_json(state).dump();
}

std::string describe(const world_state& state) {
  json out;
  for (const auto& [id, s] : state.pools)
    out["pools"][id] = pool_json(s);
  for (const auto& [id, s] : state.sandboxes)
    out["sandboxes"][id] = sandbox_json(s);
  for (const auto& [id, s] : state.hosts)
    out["hosts"][id] = host_json(s);
  for (const auto& [id, s] : state.tenants)
    out["tenants"][id] = tenant_json(s);
  for (const auto& [id, s] : state.templates)
    out["templates"][id] = template_json(s);
  return out.dump();
}

} // namespace hearth::model
