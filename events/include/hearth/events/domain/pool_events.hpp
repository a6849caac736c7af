#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "hearth/events/fields.hpp"

namespace hearth::events {

/// A pool's configuration as created or updated.
struct pool_config {
  std::string template_ref;  // as given: team/name:tag or team/name@build
  std::string template_name; // team/name
  std::uint32_t min_ready = 0;
  std::uint32_t max_ready = 0;
  std::uint32_t vcpus = 1;
  std::uint32_t memory_mb = 128;
  std::string version_policy = "pinned_build"; // or track_tag
  std::string track_tag;
  HEARTH_FIELDS(template_ref, template_name, min_ready, max_ready, vcpus, memory_mb,
                version_policy, track_tag)
};

struct pool_created {
  static constexpr const char* type_name = "pool.created";
  static constexpr std::uint32_t version = 1;
  std::string id;
  std::string tenant;
  std::string name;
  pool_config config;
  std::string build_id; // the resolved build (generation 1)
  HEARTH_FIELDS(id, tenant, name, config, build_id)
};

struct pool_updated {
  static constexpr const char* type_name = "pool.updated";
  static constexpr std::uint32_t version = 1;
  pool_config config;
  std::string build_id;
  HEARTH_FIELDS(config, build_id)
};

/// enable, disable, drain, delete and its completion: one type, `change` names
/// which.
struct pool_lifecycle {
  static constexpr const char* type_name = "pool.lifecycle";
  static constexpr std::uint32_t version = 1;
  std::string change; // enabled | disabled | drain_started | delete_requested | deleted
  HEARTH_FIELDS(change)
};

struct rollout_started {
  static constexpr const char* type_name = "pool.rollout_started";
  static constexpr std::uint32_t version = 1;
  std::uint64_t generation = 0;
  std::string build_id;
  HEARTH_FIELDS(generation, build_id)
};

struct member_warming {
  static constexpr const char* type_name = "pool.member_warming";
  static constexpr std::uint32_t version = 1;
  std::string member_id;
  std::string build_id;
  std::uint64_t generation = 0;
  std::string host;
  std::int64_t at_ns = 0;
  HEARTH_FIELDS(member_id, build_id, generation, host, at_ns)
};

struct member_ready {
  static constexpr const char* type_name = "pool.member_ready";
  static constexpr std::uint32_t version = 1;
  std::string member_id;
  std::map<std::string, std::string> endpoints;
  std::int64_t at_ns = 0;
  HEARTH_FIELDS(member_id, endpoints, at_ns)
};

struct member_claimed {
  static constexpr const char* type_name = "pool.member_claimed";
  /// Version 2 added `mode`: a sandbox rebuilt from its claim after a crash
  /// reports the checkout its caller was told of.
  static constexpr std::uint32_t version = 2;
  std::string member_id;
  std::string sandbox_id;
  std::int64_t at_ns = 0;
  std::string mode; // the checkout's warm_pool_mode: prefer | require
  HEARTH_FIELDS(member_id, sandbox_id, at_ns, mode)
};

/// A member leaving the pool without being claimed: `to` is failed, expired,
/// draining, destroyed or unavailable.
struct member_changed {
  static constexpr const char* type_name = "pool.member_changed";
  static constexpr std::uint32_t version = 1;
  std::string member_id;
  std::string to;
  std::string reason;
  std::int64_t at_ns = 0;
  HEARTH_FIELDS(member_id, to, reason, at_ns)
};

struct degraded_changed {
  static constexpr const char* type_name = "pool.degraded_changed";
  static constexpr std::uint32_t version = 1;
  std::string reason; // empty: no longer degraded
  HEARTH_FIELDS(reason)
};

} // namespace hearth::events
