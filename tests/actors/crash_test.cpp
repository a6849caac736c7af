// A runtime (crash_burst.cpp) killed with SIGKILL during a burst of
// checkouts: nothing that was acknowledged is lost, and no VM is ever claimed
// twice.
#include <map>
#include <set>
#include <sstream>

#include "hearth/model/world_state.hpp"
#include "runtime_fixture.hpp"
#include "support/child_reports.hpp"

using namespace hearth;
using namespace hearth::testing;

TEST_CASE("a runtime killed during a burst loses no acknowledged sandbox and claims no "
          "VM twice") {
  for (int round = 0; round < 3; ++round) {
    CAPTURE(round);
    temp_dir dir;
    const auto child = start_reporting_child({HEARTH_CRASH_BURST, dir.str()});
    REQUIRE(child.pid > 0);
    std::map<std::string, std::string> acknowledged; // sandbox -> vm
    const std::size_t kill_after = 20 + 40 * static_cast<std::size_t>(round);
    const auto reports =
        read_until_killed(child, kill_after, 60s, [&](const std::string& text) {
          std::istringstream line(text);
          std::string sandbox, vm;
          line >> sandbox >> vm;
          acknowledged[sandbox] = vm;
        });
    REQUIRE_MESSAGE(!reports.stuck, "the runtime reported "
                                        << reports.lines
                                        << " checkouts, then nothing for 60 s");
    REQUIRE_MESSAGE(WIFSIGNALED(reports.status), "the runtime exited with status "
                                                     << WEXITSTATUS(reports.status)
                                                     << " after " << reports.lines
                                                     << " checkouts");
    REQUIRE(acknowledged.size() >= kill_after);

    // The journal alone: no VM was claimed twice.
    {
      auto storage = store::open_rocksdb_storage(dir.str("journal"));
      REQUIRE(storage);
      model::world_state world;
      REQUIRE((*storage)->events().read_all(
          1, store::max_sequence,
          [&](const events::envelope& e) { return static_cast<bool>(world.apply(e)); }));
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
