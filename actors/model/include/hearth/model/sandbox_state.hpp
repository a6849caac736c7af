#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "hearth/events/domain_event.hpp"

namespace hearth::model {

/// A sandbox's life. Pause, hibernate and resume move a running sandbox; none
/// of them (nor fork or snapshot restore) ever takes from a warm pool.
enum class sandbox_status {
  creating,
  running,
  paused,
  hibernated,
  destroying,
  destroyed,
  failed
};

std::string_view to_string(sandbox_status status);
std::optional<sandbox_status> parse_sandbox_status(std::string_view text);

/// Whether a sandbox may go from `from` to `to`.
bool valid_transition(sandbox_status from, sandbox_status to);

struct sandbox_state {
  bool exists = false;
  std::string id;
  std::string tenant;
  std::string template_name;
  std::string build_id;
  std::string origin; // warm_pool | cold | snapshot | fork
  std::string vm_id;
  std::string host;
  std::uint32_t vcpus = 0;
  std::uint32_t memory_mb = 0;
  events::warm_pool_checkout checkout;
  std::map<std::string, std::string> endpoints;
  sandbox_status status = sandbox_status::creating;
  std::string reason;
  std::int64_t created_ns = 0;
  std::vector<std::string> network_allow;

  HEARTH_FIELDS(exists, id, tenant, template_name, build_id, origin, vm_id, host, vcpus,
                memory_mb, checkout, endpoints, status, reason, created_ns, network_allow)

  bool apply(const events::domain_event& event);

  /// Whether its VM holds capacity (everything but destroyed and failed).
  bool holds_capacity() const;
};

} // namespace hearth::model

MSGPACK_ADD_ENUM(hearth::model::sandbox_status)
