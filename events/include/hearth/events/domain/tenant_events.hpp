#pragma once

#include <cstdint>
#include <string>

#include "hearth/events/fields.hpp"

namespace hearth::events {

struct tenant_created {
  static constexpr const char* type_name = "tenant.created";
  static constexpr std::uint32_t version = 1;
  std::string id;
  std::uint32_t quota_vcpus = 0;
  std::uint32_t quota_memory_mb = 0;
  HEARTH_FIELDS(id, quota_vcpus, quota_memory_mb)
};

struct tenant_quota_set {
  static constexpr const char* type_name = "tenant.quota_set";
  static constexpr std::uint32_t version = 1;
  std::uint32_t quota_vcpus = 0;
  std::uint32_t quota_memory_mb = 0;
  HEARTH_FIELDS(quota_vcpus, quota_memory_mb)
};

/// An API key for the tenant. Only its SHA-256 digest is kept: the key itself
/// is shown once, to whoever created it. `role` is "tenant", or "admin" for a
/// key that may also create tenants and keys.
struct tenant_key_added {
  static constexpr const char* type_name = "tenant.key_added";
  static constexpr std::uint32_t version = 1;
  std::string key_id;
  std::string digest;
  std::string role;
  std::int64_t at_ns = 0;
  HEARTH_FIELDS(key_id, digest, role, at_ns)
};

/// An API key of the tenant stops working, for good.
struct tenant_key_revoked {
  static constexpr const char* type_name = "tenant.key_revoked";
  static constexpr std::uint32_t version = 1;
  std::string key_id;
  std::int64_t at_ns = 0;
  HEARTH_FIELDS(key_id, at_ns)
};

} // namespace hearth::events
