// A runtime killed with SIGKILL during a burst of checkouts: nothing that was
// acknowledged is lost, and no VM is ever claimed twice.
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "hearth/model/world_state.hpp"
#include "runtime_fixture.hpp"

using namespace hearth;
using namespace hearth::testing;

namespace {

/// The child: a production-mode runtime (threads, group commit, RocksDB)
/// serving checkouts from 4 threads, reporting "sandbox vm" per acknowledged
/// create on `report_fd`. It never returns.
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
    _exit(3);
  auto& rt = **opened;
  auto built = rt.build_template(tenant, "team/burst", http_spec(), {"stable"}).get();
  if (!built)
    _exit(4);
  // Poll the build with a deadline until it is ready.
  const auto build_deadline = std::chrono::steady_clock::now() + 10s;
  while (built && built->status == "building") {
    if (std::chrono::steady_clock::now() > build_deadline)
      _exit(7);
    std::this_thread::yield();
    built = rt.get_build(tenant, "team/burst", built->build_id).get();
  }
  if (!built || built->status != "ready")
    _exit(8);
  api::pool_spec spec;
  spec.template_ref = "team/burst:stable";
  spec.name = "burst";
  spec.min_ready = 4;
  spec.max_ready = 8;
  if (!rt.create_pool(tenant, spec).get())
    _exit(5);
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
        if (write(report_fd, line.data(), line.size()) != static_cast<ssize_t>(line.size()))
          _exit(6);
        (void)rt.delete_sandbox(tenant, sandbox->id).get(); // churn, as real callers do
      }
    });
  for (;;)
    pause();
}

} // namespace

TEST_CASE("a runtime killed during a burst loses no acknowledged sandbox and claims no VM twice") {
  for (int round = 0; round < 3; ++round) {
    CAPTURE(round);
    temp_dir dir;
    int reports[2];
    REQUIRE(pipe(reports) == 0);
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      close(reports[0]);
      run_burst(dir.str(), reports[1]);
    }
    close(reports[1]);
    std::map<std::string, std::string> acknowledged; // sandbox -> vm
    std::string pending;
    const std::size_t kill_after = 20 + 40 * static_cast<std::size_t>(round);
    bool killed = false;
    char buffer[4096];
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    for (;;) {
      if (!killed && std::chrono::steady_clock::now() > deadline) {
        kill(child, SIGKILL); // stuck: the checks below will say so
        killed = true;
      }
      pollfd readable{reports[0], POLLIN, 0};
      if (poll(&readable, 1, 100) == 0)
        continue;
      const ssize_t got = read(reports[0], buffer, sizeof(buffer));
      if (got <= 0)
        break;
      pending.append(buffer, static_cast<std::size_t>(got));
      std::size_t newline;
      while ((newline = pending.find('\n')) != std::string::npos) {
        std::istringstream line(pending.substr(0, newline));
        pending.erase(0, newline + 1);
        std::string sandbox, vm;
        line >> sandbox >> vm;
        acknowledged[sandbox] = vm;
      }
      if (!killed && acknowledged.size() >= kill_after) {
        kill(child, SIGKILL);
        killed = true;
      }
    }
    int status = 0;
    waitpid(child, &status, 0);
    close(reports[0]);
    REQUIRE(killed);
    REQUIRE(WIFSIGNALED(status));
    REQUIRE(acknowledged.size() >= kill_after);

    // The journal alone: no VM was claimed twice.
    {
      auto storage = store::open_rocksdb_storage(dir.str("journal"));
      REQUIRE(storage);
      model::world_state world;
      REQUIRE((*storage)->events().read_all(1, store::max_sequence,
                                            [&](const events::envelope& e) {
                                              return static_cast<bool>(world.apply(e));
                                            }));
      CHECK(world.rejected == 0);
      for (const auto& [vm, claims] : world.claims_per_vm)
        CHECK_MESSAGE(claims == 1, vm << " claimed " << claims << " times");
    }

    // Recover (the child's simulated VMs died with it).
    runtime_fixture f;
    f.options.data_dir = dir.str();
    f.options.start_time_ns = 0; // wall time, as the child's events have
    f.start();
    std::set<std::string> vms;
    auto sandboxes = ok(f.rt->list_sandboxes(tenant).get());
    for (const auto& s : sandboxes)
      CHECK_MESSAGE(vms.insert(s.vm_id).second, s.vm_id << " is in two sandboxes");
    for (const auto& [sandbox, vm] : acknowledged) {
      auto found = f.rt->get_sandbox(tenant, sandbox).get();
      REQUIRE_MESSAGE(found, "acknowledged sandbox " << sandbox << " is lost");
      CHECK(found->vm_id == vm);
    }
    f.advance(3s);
    const auto refilled = f.info("twp_burst");
    CAPTURE(refilled.degraded_reason);
    CAPTURE(refilled.status.failed);
    CAPTURE(refilled.status.warming);
    CAPTURE(refilled.status.draining);
    CHECK(refilled.status.ready == 4); // the pool refills

  }
}
