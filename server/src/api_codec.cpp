#include "api_codec.hpp"

#include "hearth/events/codec.hpp"

namespace hearth::server::internal {

using nlohmann::json;

namespace {

constexpr std::uint32_t max_port = 65535;
constexpr std::uint32_t max_timeout_ms = 600'000;
constexpr std::uint32_t max_wait_ms = 600'000;
constexpr std::uint32_t max_count = 10'000;
constexpr std::uint32_t max_vcpus = 64;
constexpr std::uint32_t max_memory_mb = 262'144;
/// A copied file's content (base64) may be larger than other strings.
constexpr std::size_t max_file_b64 = 768u << 10;

/// The body must be a JSON object; anything else is one error on the body.
bool is_object(const json& body, std::vector<field_error>& errors) {
  if (body.is_object())
    return true;
  errors.push_back(field_error{"", "the request body must be a JSON object"});
  return false;
}

events::build_step decode_step(const json& item, const std::string& at,
                               std::vector<field_error>& errors) {
  events::build_step step;
  if (!item.is_object() || item.size() != 1) {
    errors.push_back(
        field_error{at, at + " must be an object with exactly one of copy, run, "
                             "apt_install, pip_install, env, workdir"});
    return step;
  }
  json_body fields(item, errors, at + ".");
  const auto& kind = item.begin().key();
  step.kind = kind;
  if (kind == "run" || kind == "workdir") {
    if (auto text = fields.string(kind, true))
      step.text = *text;
  } else if (kind == "apt_install" || kind == "pip_install") {
    if (auto packages = fields.strings(kind))
      step.packages = *packages;
    if (step.packages.empty())
      fields.fail(kind, fields.path(kind) + " must name at least one package");
  } else if (kind == "env") {
    if (auto env = fields.string_map(kind))
      step.env = *env;
  } else if (kind == "copy") {
    if (const auto* copy = fields.object(kind, true)) {
      json_body file(*copy, errors, fields.path(kind) + ".");
      if (auto dst = file.string("dst", true))
        step.text = *dst;
      if (auto content = file.string("content_b64", true, max_file_b64))
        step.content_b64 = *content;
      if (auto mode = file.uint("mode", 0, 07777))
        step.mode = *mode;
      file.reject_unknown();
    }
  } else {
    fields.fail(kind, "unknown step " + kind +
                          " (copy, run, apt_install, pip_install, env or workdir)");
  }
  return step;
}

events::readiness_spec decode_readiness(const json& object, const std::string& at,
                                        std::vector<field_error>& errors) {
  events::readiness_spec readiness;
  json_body fields(object, errors, at + ".");
  int kinds = 0;
  if (fields.has("wait_for_port")) {
    ++kinds;
    readiness.kind = "wait_for_port";
    if (auto port = fields.uint("wait_for_port", 1, max_port))
      readiness.port = *port;
  }
  if (fields.has("wait_for_http")) {
    ++kinds;
    readiness.kind = "wait_for_http";
    if (const auto* http = fields.object("wait_for_http")) {
      json_body probe(*http, errors, fields.path("wait_for_http") + ".");
      if (auto port = probe.uint("port", 1, max_port, true))
        readiness.port = *port;
      readiness.path = probe.string("path").value_or("/");
      probe.reject_unknown();
    }
  }
  if (fields.has("wait_for_cmd")) {
    ++kinds;
    readiness.kind = "wait_for_cmd";
    if (auto command = fields.string("wait_for_cmd"))
      readiness.command = *command;
  }
  if (kinds > 1)
    fields.fail("", at + " takes one of wait_for_port, wait_for_http, wait_for_cmd");
  if (auto timeout = fields.uint("timeout_ms", 100, max_timeout_ms))
    readiness.timeout_ms = *timeout;
  fields.reject_unknown();
  return readiness;
}

} // namespace

build_request decode_build(const json& body, std::vector<field_error>& errors) {
  build_request out;
  if (!is_object(body, errors))
    return out;
  json_body fields(body, errors);
  if (auto tags = fields.strings("tags"))
    out.tags = *tags;
  const auto* spec_object = fields.object("spec", true);
  fields.reject_unknown();
  if (spec_object == nullptr)
    return out;
  json_body spec(*spec_object, errors, "spec.");
  auto& s = out.spec;
  if (auto base = spec.string("base", true)) {
    if (*base != "busybox" && *base != "debian:bookworm" && *base != "python:3.11")
      spec.fail("base",
                "spec.base must be busybox, debian:bookworm or python:3.11, not " +
                    *base);
    s.base = *base;
  }
  if (const auto* steps = spec.array("steps"))
    for (std::size_t i = 0; i < steps->size(); ++i)
      s.steps.push_back(
          decode_step((*steps)[i], "spec.steps[" + std::to_string(i) + "]", errors));
  if (auto start = spec.string("start_cmd"))
    s.start_cmd = *start;
  if (const auto* readiness = spec.object("readiness"))
    s.readiness = decode_readiness(*readiness, "spec.readiness", errors);
  if (auto vcpus = spec.uint("vcpus", 1, max_vcpus))
    s.vcpus = *vcpus;
  if (auto memory = spec.uint("memory_mb", 64, max_memory_mb))
    s.memory_mb = *memory;
  if (auto allow = spec.strings("network_allow"))
    s.network_allow = *allow;
  spec.reject_unknown();
  return out;
}

api::pool_spec decode_pool_spec(const json& body, std::vector<field_error>& errors) {
  api::pool_spec out;
  if (!is_object(body, errors))
    return out;
  json_body fields(body, errors);
  if (auto ref = fields.string("template", true, 256))
    out.template_ref = *ref;
  if (auto name = fields.string("name", true, 256))
    out.name = *name;
  if (auto min_ready = fields.uint("min_ready", 0, max_count))
    out.min_ready = *min_ready;
  if (auto max_ready = fields.uint("max_ready", 0, max_count, true))
    out.max_ready = *max_ready;
  if (auto vcpus = fields.uint("vcpus", 1, max_vcpus))
    out.vcpus = *vcpus;
  if (auto memory = fields.uint("memory_mb", 64, max_memory_mb))
    out.memory_mb = *memory;
  if (auto policy = fields.string("version_policy", false, 64))
    out.version_policy = *policy;
  if (auto tag = fields.string("track_tag", false, 128))
    out.track_tag = *tag;
  fields.reject_unknown();
  return out;
}

api::pool_patch decode_pool_patch(const json& body, std::vector<field_error>& errors) {
  api::pool_patch out;
  if (!is_object(body, errors))
    return out;
  json_body fields(body, errors);
  if (auto ref = fields.string("template", false, 256)) {
    out.set_template = true;
    out.template_ref = *ref;
  }
  if (auto min_ready = fields.uint("min_ready", 0, max_count)) {
    out.set_min_ready = true;
    out.min_ready = *min_ready;
  }
  if (auto max_ready = fields.uint("max_ready", 0, max_count)) {
    out.set_max_ready = true;
    out.max_ready = *max_ready;
  }
  if (auto vcpus = fields.uint("vcpus", 1, max_vcpus)) {
    out.set_vcpus = true;
    out.vcpus = *vcpus;
  }
  if (auto memory = fields.uint("memory_mb", 64, max_memory_mb)) {
    out.set_memory_mb = true;
    out.memory_mb = *memory;
  }
  if (auto policy = fields.string("version_policy", false, 64)) {
    out.set_version_policy = true;
    out.version_policy = *policy;
  }
  if (auto tag = fields.string("track_tag", false, 128)) {
    out.set_track_tag = true;
    out.track_tag = *tag;
  }
  fields.reject_unknown();
  return out;
}

api::sandbox_request decode_sandbox_request(const json& body,
                                            std::vector<field_error>& errors) {
  api::sandbox_request out;
  if (!is_object(body, errors))
    return out;
  json_body fields(body, errors);
  out.template_ref = fields.string("template", false, 256).value_or("");
  out.warm_pool = fields.string("warm_pool", false, 256).value_or("");
  out.warm_pool_mode = fields.string("warm_pool_mode", false, 32).value_or("");
  out.warm_pool_wait_ms = fields.uint("warm_pool_wait_ms", 0, max_wait_ms).value_or(0);
  if (auto envs = fields.string_map("envs"))
    out.envs = *envs;
  if (auto volumes = fields.strings("volumes"))
    out.volumes = *volumes;
  out.cwd = fields.string("cwd").value_or("");
  out.desktop = fields.boolean("desktop").value_or(false);
  out.timeout_policy = fields.string("timeout_policy", false, 64).value_or("");
  out.auto_resume = fields.boolean("auto_resume").value_or(false);
  if (auto allow = fields.strings("network_allow"))
    out.network_allow = *allow;
  fields.reject_unknown();
  return out;
}

std::string decode_tag_move(const json& body, std::vector<field_error>& errors) {
  if (!is_object(body, errors))
    return {};
  json_body fields(body, errors);
  auto build = fields.string("build_id", true, 128).value_or("");
  fields.reject_unknown();
  return build;
}

tenant_request decode_tenant(const json& body, std::vector<field_error>& errors) {
  tenant_request out;
  if (!is_object(body, errors))
    return out;
  json_body fields(body, errors);
  if (auto id = fields.string("id", true, 63)) {
    const bool valid =
        !id->empty() && id->find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") ==
                            std::string::npos;
    if (!valid)
      fields.fail("id", "id must be 1-63 characters of a-z, 0-9 and '-'");
    out.id = *id;
  }
  out.quota_vcpus = fields.uint("quota_vcpus", 0, 1u << 20, true).value_or(0);
  out.quota_memory_mb = fields.uint("quota_memory_mb", 0, 1u << 30, true).value_or(0);
  fields.reject_unknown();
  return out;
}

std::string decode_key_request(const json& body, std::vector<field_error>& errors) {
  if (body.is_null())
    return "tenant";
  if (!is_object(body, errors))
    return {};
  json_body fields(body, errors);
  auto role = fields.string("role", false, 16).value_or("tenant");
  if (role != "tenant" && role != "admin")
    fields.fail("role", "role must be tenant or admin");
  fields.reject_unknown();
  return role;
}

json to_json(const api::build_info& build) {
  return json{{"build_id", build.build_id},
              {"template", build.template_name},
              {"canonical_ref", build.canonical_ref},
              {"status", build.status},
              {"tags", build.tags},
              {"error", build.error}};
}

json to_json(const api::template_info& info) {
  return json{{"name", info.name}, {"tags", info.tags}, {"builds", to_json(info.builds)}};
}

json to_json(const api::pool_status& s) {
  return json{{"target", s.target},     {"ready", s.ready},
              {"warming", s.warming},   {"claimed", s.claimed},
              {"draining", s.draining}, {"failed", s.failed},
              {"expired", s.expired},   {"unavailable", s.unavailable}};
}

json to_json(const api::pool_info& pool) {
  json out{{"id", pool.id},
           {"name", pool.name},
           {"template", pool.template_ref},
           {"template_name", pool.template_name},
           {"build_id", pool.build_id},
           {"generation", pool.generation},
           {"min_ready", pool.min_ready},
           {"max_ready", pool.max_ready},
           {"vcpus", pool.vcpus},
           {"memory_mb", pool.memory_mb},
           {"version_policy", pool.version_policy},
           {"enabled", pool.enabled},
           {"draining", pool.draining},
           {"deleting", pool.deleting},
           {"deleted", pool.deleted},
           {"degraded_reason",
            pool.degraded_reason.empty() ? json(nullptr) : json(pool.degraded_reason)},
           {"status", to_json(pool.status)},
           {"revision", pool.revision}};
  if (!pool.track_tag.empty())
    out["track_tag"] = pool.track_tag;
  return out;
}

json to_json(const api::sandbox_info& sandbox) {
  json out{{"id", sandbox.id},
           {"template", sandbox.template_name},
           {"build_id", sandbox.build_id},
           {"state", sandbox.state},
           {"origin", sandbox.origin},
           {"host", sandbox.host},
           {"vm_id", sandbox.vm_id},
           {"vcpus", sandbox.vcpus},
           {"memory_mb", sandbox.memory_mb},
           {"endpoints", sandbox.endpoints}};
  if (!sandbox.reason.empty())
    out["reason"] = sandbox.reason;
  if (!sandbox.network_allow.empty())
    out["network_allow"] = sandbox.network_allow;
  const auto& c = sandbox.warm_pool_checkout;
  if (c.considered)
    out["warm_pool_checkout"] =
        json{{"source", c.source}, {"hit", c.hit}, {"id", c.id}, {"mode", c.mode}};
  return out;
}

json to_json(const api::host_info& host) {
  return json{{"id", host.id},
              {"vcpus", host.vcpus},
              {"memory_mb", host.memory_mb},
              {"used_vcpus", host.used_vcpus},
              {"used_memory_mb", host.used_memory_mb},
              {"healthy", host.healthy},
              {"artifacts", host.artifacts}};
}

json to_json(const api::tenant_info& tenant) {
  return json{{"id", tenant.id},
              {"quota_vcpus", tenant.quota_vcpus},
              {"quota_memory_mb", tenant.quota_memory_mb},
              {"key_ids", tenant.key_ids}};
}

json to_json(const api::api_key& key) {
  return json{{"tenant", key.tenant},
              {"key_id", key.key_id},
              {"role", key.role},
              {"key", key.key}};
}

json to_json(const events::envelope& event) {
  json out{{"position", event.position},
           {"stream", event.stream},
           {"sequence", event.sequence},
           {"type", event.type},
           {"version", event.version},
           {"timestamp_ns", event.timestamp_ns},
           {"correlation_id", event.correlation_id}};
  auto payload = events::payload_to_json(event.payload);
  out["payload"] = payload ? json::parse(*payload, nullptr, false) : json(nullptr);
  return out;
}

} // namespace hearth::server::internal
