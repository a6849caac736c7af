#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "hearth/events/fields.hpp"

namespace hearth::events {

/// What create did about warm pools; `considered` is false when no pool was.
struct warm_pool_checkout {
  bool considered = false;
  std::string source; // warm_pool | cold
  bool hit = false;
  std::string id;   // the pool
  std::string mode; // prefer | require | bypass
  HEARTH_FIELDS(considered, source, hit, id, mode)
};

struct sandbox_created {
  static constexpr const char* type_name = "sandbox.created";
  /// 2: network_allow.
  static constexpr std::uint32_t version = 2;
  std::string id;
  std::string tenant;
  std::string template_name;
  std::string build_id;
  std::string origin; // warm_pool | cold | snapshot | fork
  std::string vm_id;
  std::string host;
  std::uint32_t vcpus = 0;
  std::uint32_t memory_mb = 0;
  warm_pool_checkout checkout;
  std::map<std::string, std::string> endpoints;
  std::int64_t at_ns = 0;
  /// Outbound destinations of a cold-created sandbox ("host:port"); empty:
  /// its template's.
  std::vector<std::string> network_allow;
  HEARTH_FIELDS(id, tenant, template_name, build_id, origin, vm_id, host, vcpus,
                memory_mb, checkout, endpoints, at_ns, network_allow)
};

/// A state change of a sandbox: `to` is running, paused, hibernated,
/// destroying, destroyed or failed.
struct sandbox_changed {
  static constexpr const char* type_name = "sandbox.changed";
  static constexpr std::uint32_t version = 1;
  std::string to;
  std::string reason;
  std::map<std::string, std::string> endpoints;
  std::int64_t at_ns = 0;
  HEARTH_FIELDS(to, reason, endpoints, at_ns)
};

} // namespace hearth::events
