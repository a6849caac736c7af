// Seed rule 5: snapshot restore, resume, fork, hibernate and pause never
// take from a warm pool.
#include "runtime_fixture.hpp"

using namespace hearth;
using namespace hearth::testing;

TEST_CASE_FIXTURE(
    runtime_fixture,
    "fork, snapshot restore, pause, hibernate and resume never take from a pool") {
  start();
  build("team/review-api");
  auto pool = create_pool("team/review-api:stable", "untouched", 2, 2);
  advance(1s);
  auto sandbox = ok(rt->create_sandbox(tenant, from_pool(pool.id, "require", 0)).get());
  advance(1s);
  const auto before = status(pool.id);
  REQUIRE(before.ready == 2);
  REQUIRE(before.claimed == 1);

  auto paused = ok(rt->pause_sandbox(tenant, sandbox.id).get());
  CHECK(paused.state == "paused");
  auto resumed = ok(rt->resume_sandbox(tenant, sandbox.id).get());
  CHECK(resumed.state == "running");
  CHECK(ok(rt->hibernate_sandbox(tenant, sandbox.id).get()).state == "hibernated");
  CHECK(ok(rt->resume_sandbox(tenant, sandbox.id).get()).state == "running");

  auto forked = rt->fork_sandbox(tenant, sandbox.id);
  advance(options.sim.cold_latency + 10ms);
  auto fork = ok(forked.get());
  CHECK(fork.origin == "fork");
  CHECK_FALSE(fork.warm_pool_checkout.considered);
  CHECK(fork.build_id == sandbox.build_id);

  auto restored = rt->restore_snapshot(tenant, "team/review-api:stable");
  advance(options.sim.cold_latency + 10ms);
  auto from_snapshot = ok(restored.get());
  CHECK(from_snapshot.origin == "snapshot");
  CHECK_FALSE(from_snapshot.warm_pool_checkout.considered);

  const auto after = status(pool.id);
  CHECK(after.ready == before.ready);
  CHECK(after.claimed == before.claimed);
  CHECK(after.warming == 0);
}

TEST_CASE_FIXTURE(runtime_fixture,
                  "a transition the state machine forbids is a conflict, not a crash") {
  start();
  build("team/review-api");
  api::sandbox_request cold;
  cold.template_ref = "team/review-api:stable";
  auto created = rt->create_sandbox(tenant, cold);
  advance(options.sim.cold_latency + 10ms);
  auto sandbox = ok(created.get());
  auto e = fails(rt->resume_sandbox(tenant, sandbox.id).get(), model::errc::conflict);
  CHECK(e.message == "sandbox " + sandbox.id + " is running, it cannot go running");
  auto gone = rt->delete_sandbox(tenant, sandbox.id);
  advance(50ms);
  CHECK(ok(gone.get()).state == "destroyed");
  fails(rt->pause_sandbox(tenant, sandbox.id).get(), model::errc::conflict);
}

TEST_CASE_FIXTURE(runtime_fixture,
                  "a tenant never sees or claims another tenant's objects") {
  start();
  build("team/review-api");
  ok(rt->set_tenant("other", 16, 16384).get());
  auto pool = create_pool("team/review-api:stable", "mine", 1, 1);
  advance(1s);
  fails(rt->get_pool("other", pool.id).get(), model::errc::not_found);
  fails(rt->create_sandbox("other", from_pool(pool.id, "require", 0)).get(),
        model::errc::not_found);
  fails(rt->drain_pool("other", pool.id).get(), model::errc::not_found);
  CHECK(ok(rt->list_pools("other").get()).empty());
  fails(rt->get_template("other", "team/review-api").get(), model::errc::not_found);
  auto sandbox = ok(rt->create_sandbox(tenant, from_pool(pool.id, "require", 0)).get());
  fails(rt->get_sandbox("other", sandbox.id).get(), model::errc::not_found);
  fails(rt->delete_sandbox("other", sandbox.id).get(), model::errc::not_found);
  CHECK(status(pool.id).claimed == 1);
}

TEST_CASE_FIXTURE(runtime_fixture, "bad requests are refused with the field at fault") {
  start();
  build("team/review-api");
  struct bad_pool {
    const char* field;
    void (*apply)(api::pool_spec&);
  };
  const bad_pool cases[] = {
      {"name", [](api::pool_spec& s) { s.name = "Bad Name!"; }},
      {"max_ready", [](api::pool_spec& s) { s.max_ready = 0; }},
      {"min_ready", [](api::pool_spec& s) { s.min_ready = 5; }},
      {"vcpus", [](api::pool_spec& s) { s.vcpus = 0; }},
      {"memory_mb", [](api::pool_spec& s) { s.memory_mb = 1; }},
      {"version_policy", [](api::pool_spec& s) { s.version_policy = "latest"; }},
      {"template", [](api::pool_spec& s) { s.template_ref = "no-slash"; }},
      {"track_tag", [](api::pool_spec& s) { s.track_tag = "stable"; }},
  };
  for (const auto& c : cases) {
    CAPTURE(c.field);
    api::pool_spec spec;
    spec.template_ref = "team/review-api:stable";
    spec.name = "ok-name";
    spec.min_ready = 1;
    spec.max_ready = 2;
    c.apply(spec);
    auto e = fails(rt->create_pool(tenant, spec).get(), model::errc::invalid_argument);
    CHECK(e.field == c.field);
  }
  api::pool_spec unknown;
  unknown.template_ref = "team/nothing:stable";
  unknown.name = "x";
  unknown.max_ready = 1;
  fails(rt->create_pool(tenant, unknown).get(), model::errc::not_found);
  api::sandbox_request bad_mode;
  bad_mode.template_ref = "team/review-api:stable";
  bad_mode.warm_pool_mode = "sometimes";
  CHECK(fails(rt->create_sandbox(tenant, bad_mode).get(), model::errc::invalid_argument)
            .field == "warm_pool_mode");
  CHECK(ok(rt->list_pools(tenant).get()).empty());
}

TEST_CASE_FIXTURE(
    runtime_fixture,
    "only the last destroyed sandboxes stay readable, before and after a restart") {
  temp_dir dir;
  options.data_dir = dir.str("data");
  options.destroyed_sandboxes_kept = 2;
  start();
  build("team/review-api");
  auto pool = create_pool("team/review-api:stable", "churn", 5, 5);
  advance(3s);
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i)
    ids.push_back(ok(rt->create_sandbox(tenant, from_pool(pool.id, "require")).get()).id);
  for (int i = 0; i < 4; ++i) {
    auto gone = rt->delete_sandbox(tenant, ids[i]);
    advance(50ms);
    CHECK(ok(gone.get()).state == "destroyed");
  }
  auto readable = [&] {
    std::vector<std::string> out;
    for (const auto& s : ok(rt->list_sandboxes(tenant).get()))
      out.push_back(s.id + " " + s.state);
    return out;
  };
  auto expect_the_last_two_destroyed = [&] {
    for (int i = 0; i < 2; ++i) {
      auto e = fails(rt->get_sandbox(tenant, ids[i]).get(), model::errc::not_found);
      CHECK(e.message == "sandbox " + ids[i] + " does not exist");
    }
    for (int i = 2; i < 4; ++i)
      CHECK(ok(rt->get_sandbox(tenant, ids[i]).get()).state == "destroyed");
    // Deleting again answers the same, as before the sandbox was forgotten.
    CHECK(ok(rt->delete_sandbox(tenant, ids[3]).get()).state == "destroyed");
    CHECK(ok(rt->get_sandbox(tenant, ids[4]).get()).state == "running");
    CHECK(readable() == std::vector<std::string>{ids[2] + " destroyed",
                                                 ids[3] + " destroyed",
                                                 ids[4] + " running"});
  };
  expect_the_last_two_destroyed();
  stop();
  start();
  expect_the_last_two_destroyed();
}

namespace {

/// Two sandboxes checked out of a pool of 3, on a data directory that
/// outlives a restart.
struct two_checked_out : runtime_fixture {
  temp_dir dir;
  api::sandbox_info first;
  api::sandbox_info second;
  two_checked_out() {
    options.data_dir = dir.str("data");
    start();
    build("team/review-api");
    auto pool = create_pool("team/review-api:stable", "two-out", 3, 3);
    advance(3s);
    first = ok(rt->create_sandbox(tenant, from_pool(pool.id, "require", 0)).get());
    second = ok(rt->create_sandbox(tenant, from_pool(pool.id, "require", 0)).get());
    advance(1s);
  }
  std::int64_t actors() const { return rt->metrics().sandbox_actors; }
};

} // namespace

TEST_CASE_FIXTURE(
    two_checked_out,
    "a checked-out sandbox is read, forked and refused a change without an actor, "
    "only a change wakes one, and a destroyed one is never woken again") {
  // Claimed sandboxes have no actor until something changes them.
  CHECK(actors() == 0);
  CHECK(ok(rt->get_sandbox(tenant, first.id).get()).state == "running");
  CHECK(ok(rt->list_sandboxes(tenant).get()).size() == 2);
  auto e = fails(rt->resume_sandbox(tenant, first.id).get(), model::errc::conflict);
  CHECK(e.message == "sandbox " + first.id + " is running, it cannot go running");
  auto forked = rt->fork_sandbox(tenant, first.id);
  advance(options.sim.cold_latency + 10ms);
  CHECK(ok(forked.get()).origin == "fork");
  CHECK(actors() == 1); // the fork's own

  // A change wakes the sandbox's actor, which starts from the parked state.
  CHECK(ok(rt->pause_sandbox(tenant, first.id).get()).state == "paused");
  CHECK(actors() == 2);
  auto gone = rt->delete_sandbox(tenant, first.id);
  advance(50ms);
  CHECK(ok(gone.get()).state == "destroyed");
  CHECK(actors() == 1); // retired once destroyed

  // Nothing a destroyed sandbox is asked wakes it again.
  e = fails(rt->pause_sandbox(tenant, first.id).get(), model::errc::conflict);
  CHECK(e.message == "sandbox " + first.id + " is destroyed, it cannot go paused");
  e = fails(rt->hibernate_sandbox(tenant, first.id).get(), model::errc::conflict);
  CHECK(e.message == "sandbox " + first.id + " is destroyed, it cannot go hibernated");
  e = fails(rt->fork_sandbox(tenant, first.id).get(), model::errc::conflict);
  CHECK(e.message ==
        "sandbox " + first.id + " is destroyed, only a running or paused one forks");
  CHECK(ok(rt->delete_sandbox(tenant, first.id).get()).state == "destroyed");
  // Its host lost: only the sandbox still holding a VM there hears of it.
  world->lose_host(second.host);
  rt->run();
  CHECK(ok(rt->get_sandbox(tenant, second.id).get()).state == "failed");
  CHECK(ok(rt->get_sandbox(tenant, first.id).get()).state == "destroyed");
  // The fork, on the same host, failed too; failed sandboxes retire as
  // destroyed ones do.
  CHECK(actors() == 0);
}

TEST_CASE_FIXTURE(two_checked_out,
                  "a failed sandbox's actor retires, a delete wakes it, and a delete "
                  "racing the retirement is answered and lost nowhere") {
  const auto& a = first;
  const auto& b = second;
  // Both awake (a pause each), then their VMs die.
  CHECK(ok(rt->pause_sandbox(tenant, a.id).get()).state == "paused");
  CHECK(ok(rt->pause_sandbox(tenant, b.id).get()).state == "paused");
  CHECK(actors() == 2);
  world->kill_vm(a.vm_id);
  rt->run();
  auto failed = ok(rt->get_sandbox(tenant, a.id).get());
  CHECK(failed.state == "failed");
  CHECK(failed.reason == "the VM process died");
  CHECK(actors() == 1);
  // The parked failed sandbox is refused what the state machine forbids,
  // and a delete wakes it to end it.
  fails(rt->resume_sandbox(tenant, a.id).get(), model::errc::conflict);
  CHECK(actors() == 1);
  auto gone = rt->delete_sandbox(tenant, a.id);
  advance(50ms);
  CHECK(ok(gone.get()).state == "destroyed");
  CHECK(actors() == 1);

  // b's delete is on its way while its actor fails and asks to retire.
  world->kill_vm(b.vm_id);
  auto racing = rt->delete_sandbox(tenant, b.id);
  advance(50ms);
  CHECK(ok(racing.get()).state == "destroyed");
  CHECK(ok(rt->get_sandbox(tenant, b.id).get()).state == "destroyed");
  CHECK(actors() == 0);
  stop();
  start();
  CHECK(ok(rt->get_sandbox(tenant, a.id).get()).state == "destroyed");
  CHECK(ok(rt->get_sandbox(tenant, b.id).get()).state == "destroyed");
}
