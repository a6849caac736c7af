#include "hearth/model/sandbox_state.hpp"

namespace hearth::model {

std::string_view to_string(sandbox_status status) {
  switch (status) {
  case sandbox_status::creating:
    return "creating";
  case sandbox_status::running:
    return "running";
  case sandbox_status::paused:
    return "paused";
  case sandbox_status::hibernated:
    return "hibernated";
  case sandbox_status::destroying:
    return "destroying";
  case sandbox_status::destroyed:
    return "destroyed";
  case sandbox_status::failed:
    return "failed";
  }
  return "unknown";
}

std::optional<sandbox_status> parse_sandbox_status(std::string_view text) {
  for (auto status :
       {sandbox_status::creating, sandbox_status::running, sandbox_status::paused,
        sandbox_status::hibernated, sandbox_status::destroying, sandbox_status::destroyed,
        sandbox_status::failed})
    if (to_string(status) == text)
      return status;
  return std::nullopt;
}

bool valid_transition(sandbox_status from, sandbox_status to) {
  switch (from) {
  case sandbox_status::creating:
    return to == sandbox_status::running || to == sandbox_status::failed ||
           to == sandbox_status::destroying;
  case sandbox_status::running:
    return to == sandbox_status::paused || to == sandbox_status::hibernated ||
           to == sandbox_status::destroying || to == sandbox_status::failed;
  case sandbox_status::paused:
  case sandbox_status::hibernated:
    return to == sandbox_status::running || to == sandbox_status::destroying ||
           to == sandbox_status::failed;
  case sandbox_status::failed:
    return to == sandbox_status::destroying;
  case sandbox_status::destroying:
    return to == sandbox_status::destroyed;
  case sandbox_status::destroyed:
    return false;
  }
  return false;
}

bool sandbox_state::holds_capacity() const {
  return exists && status != sandbox_status::destroyed &&
         status != sandbox_status::failed;
}

namespace {

struct sandbox_applier {
  sandbox_state& s;

  bool operator()(const events::sandbox_created& e) {
    if (s.exists)
      return false;
    s.exists = true;
    s.id = e.id;
    s.tenant = e.tenant;
    s.template_name = e.template_name;
    s.build_id = e.build_id;
    s.origin = e.origin;
    s.vm_id = e.vm_id;
    s.host = e.host;
    s.vcpus = e.vcpus;
    s.memory_mb = e.memory_mb;
    s.checkout = e.checkout;
    s.endpoints = e.endpoints;
    s.network_allow = e.network_allow;
    // A sandbox made from a ready pool member runs from its first event.
    s.status =
        e.origin == "warm_pool" ? sandbox_status::running : sandbox_status::creating;
    s.created_ns = e.at_ns;
    return true;
  }

  bool operator()(const events::sandbox_changed& e) {
    const auto to = parse_sandbox_status(e.to);
    if (!s.exists || !to || !valid_transition(s.status, *to))
      return false;
    s.status = *to;
    s.reason = e.reason;
    if (!e.endpoints.empty())
      s.endpoints = e.endpoints;
    return true;
  }

  template <class Other>
  bool operator()(const Other&) {
    return false;
  }
};

} // namespace

bool sandbox_state::apply(const events::domain_event& event) {
  return std::visit(sandbox_applier{*this}, event);
}

} // namespace hearth::model
