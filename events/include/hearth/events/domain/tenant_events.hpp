#pragma once

#include <cstdint>
#include <string>

#include <msgpack.hpp>

namespace hearth::events {

struct tenant_created {
  static constexpr const char* type_name = "tenant.created";
  static constexpr std::uint32_t version = 1;
  std::string id;
  std::uint32_t quota_vcpus = 0;
  std::uint32_t quota_memory_mb = 0;
  MSGPACK_DEFINE_MAP(id, quota_vcpus, quota_memory_mb)
};

struct tenant_quota_set {
  static constexpr const char* type_name = "tenant.quota_set";
  static constexpr std::uint32_t version = 1;
  std::uint32_t quota_vcpus = 0;
  std::uint32_t quota_memory_mb = 0;
  MSGPACK_DEFINE_MAP(quota_vcpus, quota_memory_mb)
};

} // namespace hearth::events
