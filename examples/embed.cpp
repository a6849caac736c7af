// A C++ service embedding hearth: build a template, keep a warm pool, take a
// sandbox from it, then drain and delete the pool. No HTTP, no CAF types.
//
//   build/bin/example_embed [data-dir]           simulated VMs
//   build/bin/example_embed --qemu DATA-DIR      real QEMU microVMs
#include <chrono>
#include <cstdio>

#include "hearth/actors/runtime.hpp"

using namespace std::chrono_literals;

namespace {

template <class T>
T must(hearth::model::result<T> r, const char* what) {
  if (!r) {
    std::fprintf(stderr, "%s failed: %s: %s\n", what,
                 std::string(to_string(r.error().code)).c_str(),
                 r.error().message.c_str());
    std::exit(1);
  }
  return std::move(*r);
}

} // namespace

int main(int argc, char** argv) {
  hearth::runtime_options options;
  const bool qemu = argc > 2 && std::string(argv[1]) == "--qemu";
  options.data_dir = qemu ? argv[2] : argc > 1 ? argv[1] : ""; // empty: in memory
  if (qemu) {
    options.driver = hearth::vm_driver::qemu;
    options.qemu.stop_vms_on_exit = true; // a demo: leave nothing running
  }
  options.sim.build_latency = 200ms;
  options.sim.restore_latency = 20ms;
  auto rt = must(hearth::runtime::open(options), "open");
  const std::string tenant = "default";

  hearth::events::build_spec spec;
  spec.base = "busybox";
  hearth::events::build_step page;
  page.kind = "copy";
  page.text = "/www/index.html";
  page.content_b64 = "aGVsbG8gZnJvbSBhIHdhcm0gVk0K"; // "hello from a warm VM\n"
  spec.steps.push_back(page);
  spec.start_cmd = "httpd -f -p 8080 -h /www";
  spec.readiness.kind = "wait_for_port";
  spec.readiness.port = 8080;
  auto build = must(rt->build_template(tenant, "team/review-api", spec, {"stable"}).get(),
                    "build");
  std::printf("build %s: %s\n", build.canonical_ref.c_str(), build.status.c_str());
  // Answered once the build is ready or failed (within the call timeout,
  // 120 s by default; a busybox build takes seconds).
  build = must(rt->wait_build(tenant, "team/review-api", build.build_id).get(),
               "wait for the build");
  std::printf("build %s: %s\n", build.canonical_ref.c_str(), build.status.c_str());

  hearth::api::pool_spec pool_spec;
  pool_spec.template_ref = "team/review-api:stable";
  pool_spec.name = "review-api-small";
  pool_spec.min_ready = 2;
  pool_spec.max_ready = 4;
  auto pool = must(rt->create_pool(tenant, pool_spec).get(), "create pool");
  // The seed's pool.wait_until_ready(min_ready=2): answered at each change.
  pool =
      must(rt->wait_pool(
               tenant, pool.id,
               [](const hearth::api::pool_info& p) { return p.status.ready >= 2; }, 120s),
           "wait for the pool");
  std::printf("pool %s: ready %u, warming %u\n", pool.id.c_str(), pool.status.ready,
              pool.status.warming);

  hearth::api::sandbox_request request;
  request.template_ref = "team/review-api:stable";
  request.warm_pool = pool.id;
  request.warm_pool_mode = "prefer";
  request.warm_pool_wait_ms = 1500;
  auto sandbox = must(rt->create_sandbox(tenant, request).get(), "create sandbox");
  const auto& c = sandbox.warm_pool_checkout;
  std::printf(
      "sandbox %s: %s, warm_pool_checkout {source: %s, hit: %s, id: %s, mode: %s}\n",
      sandbox.id.c_str(), sandbox.state.c_str(), c.source.c_str(),
      c.hit ? "true" : "false", c.id.c_str(), c.mode.c_str());
  for (const auto& [guest_port, address] : sandbox.endpoints)
    std::printf("sandbox %s: guest port %s is at http://%s/\n", sandbox.id.c_str(),
                guest_port.c_str(), address.c_str());

  must(rt->drain_pool(tenant, pool.id).get(), "drain");
  must(rt->delete_pool(tenant, pool.id).get(), "delete");
  std::printf(
      "pool %s deleted; sandbox %s is still %s\n", pool.id.c_str(), sandbox.id.c_str(),
      must(rt->get_sandbox(tenant, sandbox.id).get(), "get sandbox").state.c_str());
  return 0;
}
