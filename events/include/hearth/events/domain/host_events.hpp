#pragma once

#include <cstdint>
#include <string>

#include "hearth/events/fields.hpp"

namespace hearth::events {

struct host_registered {
  static constexpr const char* type_name = "host.registered";
  static constexpr std::uint32_t version = 1;
  std::string id;
  std::uint32_t vcpus = 0;
  std::uint32_t memory_mb = 0;
  HEARTH_FIELDS(id, vcpus, memory_mb)
};

/// `to` is lost or healthy.
struct host_health_changed {
  static constexpr const char* type_name = "host.health_changed";
  static constexpr std::uint32_t version = 1;
  std::string to;
  std::string reason;
  HEARTH_FIELDS(to, reason)
};

/// `to` is preparing, ready or failed.
struct artifact_changed {
  static constexpr const char* type_name = "host.artifact_changed";
  static constexpr std::uint32_t version = 1;
  std::string build_id;
  std::string to;
  std::string reason;
  HEARTH_FIELDS(build_id, to, reason)
};

} // namespace hearth::events
