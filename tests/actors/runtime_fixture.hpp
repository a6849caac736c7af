#pragma once

// A deterministic hearth runtime for tests: CAF's test scheduler, simulated
// VMs, simulated time that only moves with advance().

#include <doctest/doctest.h>
#include <memory>
#include <string>

#include "hearth/actors/runtime.hpp"
#include "hearth/model/template_state.hpp"
#include "support/temp_dir.hpp"

namespace hearth::testing {

using namespace std::chrono_literals;

inline constexpr const char* tenant = "default";

/// Unwraps a result or fails the test with its error.
template <class T>
T ok(model::result<T> r) {
  if (!r) {
    FAIL("unexpected error: " << model::to_string(r.error().code) << ": "
                              << r.error().message);
  }
  return std::move(*r);
}

/// Expects an error with `code`.
template <class T>
model::error fails(model::result<T> r, model::errc code) {
  REQUIRE_MESSAGE(!r, "expected " << model::to_string(code) << ", got a value");
  CHECK_MESSAGE(r.error().code == code, "expected " << model::to_string(code) << ", got "
                                                    << model::to_string(r.error().code)
                                                    << ": " << r.error().message);
  return r.error();
}

inline events::build_spec http_spec(const std::string& marker = "v1") {
  events::build_spec spec;
  spec.base = "busybox";
  spec.steps.push_back(events::build_step{"run", "echo " + marker, "", 0644, {}, {}});
  spec.start_cmd = "httpd -f -p 8080";
  spec.readiness.kind = "wait_for_port";
  spec.readiness.port = 8080;
  return spec;
}

struct runtime_fixture {
  std::shared_ptr<vmm::sim_world> world = std::make_shared<vmm::sim_world>();
  runtime_options options;
  std::unique_ptr<runtime> rt;

  runtime_fixture() {
    options.deterministic = true;
    options.sim_world = world;
    options.start_time_ns = 1'800'000'000'000'000'000;
    options.sim.build_latency = 2s;
    options.sim.restore_latency = 150ms;
    options.sim.cold_latency = 2s;
    options.sim.prepare_latency = 500ms;
    options.pools.tick = 1s;
    options.pools.fill_budget_per_tick = 4;
    options.pools.destroy_budget_per_tick = 2;
  }

  runtime& start() {
    rt = ok(runtime::open(options));
    return *rt;
  }

  void stop() { rt.reset(); }

  void advance(std::chrono::milliseconds by) { rt->advance(by); }

  /// Builds `name` (team/name) and waits until the build is ready.
  api::build_info build(const std::string& name,
                        std::vector<std::string> tags = {"stable"},
                        const std::string& marker = "v1") {
    auto started = ok(rt->build_template(tenant, name, http_spec(marker), tags).get());
    advance(options.sim.build_latency + 10ms);
    return ok(rt->get_build(tenant, name, started.build_id).get());
  }

  api::pool_info create_pool(const std::string& ref, const std::string& name,
                             std::uint32_t min_ready, std::uint32_t max_ready,
                             const std::string& policy = "pinned_build",
                             const std::string& track_tag = "") {
    api::pool_spec spec;
    spec.template_ref = ref;
    spec.name = name;
    spec.min_ready = min_ready;
    spec.max_ready = max_ready;
    spec.vcpus = 1;
    spec.memory_mb = 128;
    spec.version_policy = policy;
    spec.track_tag = track_tag;
    return ok(rt->create_pool(tenant, spec).get());
  }

  api::pool_status status(const std::string& pool) {
    return ok(rt->get_pool(tenant, pool).get()).status;
  }

  api::pool_info info(const std::string& id) {
    return ok(rt->get_pool(tenant, id).get());
  }

  api::sandbox_request from_pool(const std::string& pool, const std::string& mode,
                                 std::uint32_t wait_ms = 0) {
    api::sandbox_request r;
    r.warm_pool = pool;
    r.warm_pool_mode = mode;
    r.warm_pool_wait_ms = wait_ms;
    return r;
  }
};

} // namespace hearth::testing
