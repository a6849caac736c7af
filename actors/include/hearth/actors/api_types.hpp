#pragma once

// The values the embedding API takes and returns. Plain structs: no CAF, no
// RocksDB. Field names follow the seed and the HTTP API.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "hearth/events/domain/template_events.hpp"
#include "hearth/model/pool_state.hpp"

namespace hearth::api {

/// A template build: `canonical_ref` is `team/name@<build_id>`.
struct build_info {
  std::string build_id;
  std::string template_name;
  std::string canonical_ref;
  std::string status; // building | ready | failed
  std::vector<std::string> tags;
  std::string error;
};

struct template_info {
  std::string name;
  std::map<std::string, std::string> tags; // tag -> build id
  std::vector<build_info> builds;
};

/// Status counts as the seed names them: target, ready, warming, claimed,
/// draining, failed, expired, unavailable.
using pool_status = model::pool_status;

/// What creating a pool takes.
struct pool_spec {
  std::string template_ref; // team/name:tag or team/name@build
  std::string name;
  std::uint32_t min_ready = 0;
  std::uint32_t max_ready = 0;
  std::uint32_t vcpus = 1;
  std::uint32_t memory_mb = 128;
  std::string version_policy = "pinned_build"; // or track_tag
  std::string track_tag;
};

/// A partial update: only fields whose `set_` flag is true change. Setting
/// the template (or, for pinned pools, re-resolving it) starts a new
/// generation when the build changes.
struct pool_patch {
  bool set_template = false;
  std::string template_ref;
  bool set_min_ready = false;
  std::uint32_t min_ready = 0;
  bool set_max_ready = false;
  std::uint32_t max_ready = 0;
  bool set_vcpus = false;
  std::uint32_t vcpus = 0;
  bool set_memory_mb = false;
  std::uint32_t memory_mb = 0;
  bool set_version_policy = false;
  std::string version_policy;
  bool set_track_tag = false;
  std::string track_tag;
};

struct pool_info {
  std::string id;
  std::string name;
  std::string tenant;
  std::string template_ref;
  std::string template_name;
  std::string build_id;
  std::uint64_t generation = 0;
  std::uint32_t min_ready = 0;
  std::uint32_t max_ready = 0;
  std::uint32_t vcpus = 0;
  std::uint32_t memory_mb = 0;
  std::string version_policy;
  std::string track_tag;
  bool enabled = true;
  bool draining = false;
  bool deleting = false;
  bool deleted = false;
  std::string degraded_reason;
  pool_status status;
  /// The pool's position in its journal stream: it grows with every
  /// recorded change of the pool, also across restarts. `watch_pool` waits
  /// for it to pass a value seen before.
  std::uint64_t revision = 0;
};

/// `warm_pool_checkout`: present when create considered a pool.
struct checkout_info {
  bool considered = false;
  std::string source; // warm_pool | cold
  bool hit = false;
  std::string id;   // pool id
  std::string mode; // prefer | require | bypass
};

/// What creating a sandbox takes. Everything after `warm_pool_wait_ms` is
/// create-time shape; any of it set makes the request unpoolable.
struct sandbox_request {
  std::string template_ref;
  std::string warm_pool;      // pool id, may be empty
  std::string warm_pool_mode; // prefer | require | bypass; empty: prefer
  std::uint32_t warm_pool_wait_ms = 0;
  std::map<std::string, std::string> envs;
  std::vector<std::string> volumes;
  std::string cwd;
  bool desktop = false;
  bool custom_network = false;
  std::string timeout_policy; // "" or "destroy" are poolable
  bool auto_resume = false;
  /// Outbound destinations ("host:port") for this sandbox instead of its
  /// template's: custom networking, so never from a pool.
  std::vector<std::string> network_allow;
};

struct sandbox_info {
  std::string id;
  std::string tenant;
  std::string template_name;
  std::string build_id;
  std::string state;
  std::string origin; // warm_pool | cold | snapshot | fork
  std::string vm_id;
  std::string host;
  std::uint32_t vcpus = 0;
  std::uint32_t memory_mb = 0;
  std::map<std::string, std::string> endpoints;
  checkout_info warm_pool_checkout;
  std::string reason;
  std::vector<std::string> network_allow; // empty: the template's
};

struct host_info {
  std::string id;
  std::uint32_t vcpus = 0;
  std::uint32_t memory_mb = 0;
  std::uint64_t used_vcpus = 0;
  std::uint64_t used_memory_mb = 0;
  bool healthy = true;
  std::map<std::string, std::string> artifacts; // build id -> state
};

/// A new API key. `key` is the secret itself: it is answered once, when the
/// key is created, and only its digest is kept.
struct api_key {
  std::string tenant;
  std::string key_id;
  std::string role; // tenant | admin
  std::string key;
};

/// Who an API key speaks for.
struct principal {
  std::string tenant;
  std::string key_id;
  std::string role; // tenant | admin
};

struct tenant_info {
  std::string id;
  std::uint32_t quota_vcpus = 0;
  std::uint32_t quota_memory_mb = 0;
  std::vector<std::string> key_ids;
};

} // namespace hearth::api
