// The runtime actors/crash_test.cpp kills: `crash_burst DATA_DIR FD`. A
// production-mode runtime (threads, group commit, RocksDB, simulated VMs)
// serves checkouts from 4 threads and reports "sandbox vm" per acknowledged
// create on file descriptor FD. It never returns.
//
// A program of its own, not a forked copy of the test (see
// support/child_reports.hpp).
#define DOCTEST_CONFIG_DISABLE
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <unistd.h>

#include "runtime_fixture.hpp"

using namespace hearth;
using namespace hearth::testing;

namespace {

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "crash_burst: %s\n", what.c_str());
  std::_Exit(3); // not exit(): the other threads go on using what exit() destroys
}

[[noreturn]] void run_burst(const std::string& data_dir, int report_fd) {
  runtime_options options;
  options.data_dir = data_dir;
  options.sim.build_latency = 10ms;
  options.sim.restore_latency = 5ms;
  options.sim.cold_latency = 20ms;
  options.pools.tick = 50ms;
  options.pools.fill_budget_per_tick = 8;
  auto opened = runtime::open(options);
  if (!opened)
    fail("cannot open the runtime: " + opened.error().message);
  auto& rt = **opened;
  auto built = rt.build_template(tenant, "team/burst", http_spec(), {"stable"}).get();
  if (!built)
    fail("cannot build the template: " + built.error().message);
  built = rt.wait_build(tenant, "team/burst", built->build_id).get();
  if (!built || built->status != "ready")
    fail("the template's build did not succeed");
  api::pool_spec spec;
  spec.template_ref = "team/burst:stable";
  spec.name = "burst";
  spec.min_ready = 4;
  spec.max_ready = 8;
  if (auto created = rt.create_pool(tenant, spec).get(); !created)
    fail("cannot create the pool: " + created.error().message);
  std::vector<std::thread> callers;
  for (int t = 0; t < 4; ++t)
    callers.emplace_back([&rt, report_fd] {
      for (;;) {
        api::sandbox_request request;
        request.warm_pool = "twp_burst";
        request.warm_pool_mode = "prefer";
        request.warm_pool_wait_ms = 200;
        auto sandbox = rt.create_sandbox(tenant, request).get();
        if (!sandbox)
          continue;
        const std::string line = sandbox->id + " " + sandbox->vm_id + "\n";
        if (write(report_fd, line.data(), line.size()) !=
            static_cast<ssize_t>(line.size()))
          fail("cannot report a checkout on file descriptor " +
               std::to_string(report_fd));
        (void)rt.delete_sandbox(tenant, sandbox->id).get(); // churn, as real callers do
      }
    });
  for (;;)
    pause();
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: crash_burst DATA_DIR FD\n");
    return 2;
  }
  run_burst(argv[1], std::atoi(argv[2]));
}
