// Seed rules 1 and 6-8: version policies, drain, delete, disable/enable,
// reconcile, and how a pool survives failing VMs.
#include "runtime_fixture.hpp"

using namespace hearth;
using namespace hearth::testing;

TEST_CASE_FIXTURE(runtime_fixture,
                  "track_tag rolls out a new generation when the tag moves") {
  options.pools.destroy_budget_per_tick = 1;
  start();
  auto v1 = build("team/review-api", {"stable"}, "v1");
  auto pool = create_pool("team/review-api:stable", "review-api-stable", 2, 4,
                          "track_tag", "stable");
  advance(1s);
  auto old_sandbox =
      ok(rt->create_sandbox(tenant, from_pool(pool.id, "require", 1000)).get());
  CHECK(old_sandbox.build_id == v1.build_id);
  advance(1s);
  CHECK(status(pool.id).ready == 2);

  // A new build takes the tag.
  auto v2 = build("team/review-api", {"stable"}, "v2");
  CHECK(v2.build_id != v1.build_id);
  auto rolled = info(pool.id);
  CHECK(rolled.generation == 2);
  CHECK(rolled.build_id == v2.build_id);
  // Old ready members stop counting at once and are destroyed at the budget's
  // pace (one per tick here); the new build fills meanwhile.
  CHECK(rolled.status.draining + rolled.status.ready + rolled.status.warming <= 4);
  CHECK(rolled.status.draining >= 1);
  const auto draining_before = rolled.status.draining;
  advance(1s);
  CHECK(status(pool.id).draining == draining_before - 1);
  advance(1s);
  auto st = status(pool.id);
  CHECK(st.draining == 0);
  CHECK(st.ready == 2);
  for (int i = 0; i < 2; ++i) {
    auto fresh =
        ok(rt->create_sandbox(tenant, from_pool(pool.id, "require", 1000)).get());
    CHECK(fresh.build_id == v2.build_id);
  }
  // The sandbox claimed from the old build carries on.
  auto kept = ok(rt->get_sandbox(tenant, old_sandbox.id).get());
  CHECK(kept.state == "running");
  CHECK(kept.build_id == v1.build_id);
  CHECK(world->has_vm(kept.vm_id));
}

TEST_CASE_FIXTURE(runtime_fixture,
                  "pinned_build ignores tag moves until the pool is updated") {
  start();
  auto v1 = build("team/review-api", {"stable"}, "v1");
  auto pool = create_pool("team/review-api:stable", "pinned", 2, 2);
  advance(1s);
  auto v2 = build("team/review-api", {"stable"}, "v2");
  advance(5s);
  auto pinned = info(pool.id);
  CHECK(pinned.build_id == v1.build_id);
  CHECK(pinned.generation == 1);
  CHECK(ok(rt->create_sandbox(tenant, from_pool(pool.id, "require", 1000)).get())
            .build_id == v1.build_id);

  api::pool_patch patch;
  patch.set_min_ready = true;
  patch.min_ready = 1;
  auto updated = ok(rt->update_pool(tenant, pool.id, patch).get());
  CHECK(updated.build_id == v2.build_id); // an update re-resolves the reference
  CHECK(updated.generation == 2);
  CHECK(updated.min_ready == 1);
  advance(2s);
  CHECK(ok(rt->create_sandbox(tenant, from_pool(pool.id, "require", 1000)).get())
            .build_id == v2.build_id);
}

TEST_CASE_FIXTURE(
    runtime_fixture,
    "drain releases ready inventory at the budget's pace and stops refill") {
  options.pools.destroy_budget_per_tick = 2;
  start();
  build("team/review-api");
  auto pool = create_pool("team/review-api:stable", "burst", 6, 6);
  advance(2s);
  REQUIRE(status(pool.id).ready == 6);

  auto drained = ok(rt->drain_pool(tenant, pool.id).get());
  CHECK(drained.draining);
  CHECK(drained.degraded_reason == "drain_active");
  CHECK(drained.status.target == 0);
  CHECK(drained.status.ready == 0);
  CHECK(drained.status.draining == 6); // two destroys issued, none done yet
  advance(100ms);
  CHECK(status(pool.id).draining == 4);
  advance(1s);
  CHECK(status(pool.id).draining == 2);
  advance(1s);
  auto st = status(pool.id);
  CHECK(st.draining == 0);
  CHECK(st.warming == 0);
  advance(5s);
  CHECK(status(pool.id).ready == 0); // no refill while draining
  CHECK(world->vm_count() == 0);
  // A drained pool hands out nothing: require fails, prefer goes cold.
  fails(rt->create_sandbox(tenant, from_pool(pool.id, "require", 0)).get(),
        model::errc::warm_pool_unavailable);
}

TEST_CASE_FIXTURE(runtime_fixture,
                  "delete drains the pool but never destroys checked-out sandboxes") {
  start();
  build("team/review-api");
  auto pool = create_pool("team/review-api:stable", "short-lived", 2, 2);
  advance(1s);
  auto sandbox = ok(rt->create_sandbox(tenant, from_pool(pool.id, "require", 100)).get());
  advance(1s);
  auto deleting = ok(rt->delete_pool(tenant, pool.id).get());
  CHECK(deleting.deleting);
  advance(5s);
  fails(rt->get_pool(tenant, pool.id).get(), model::errc::not_found);
  CHECK(ok(rt->list_pools(tenant).get()).empty());
  auto kept = ok(rt->get_sandbox(tenant, sandbox.id).get());
  CHECK(kept.state == "running");
  CHECK(world->has_vm(sandbox.vm_id));
  CHECK(world->vm_count() == 1);
  // The name is free again.
  CHECK(create_pool("team/review-api:stable", "short-lived", 1, 1).id == pool.id);
}

TEST_CASE_FIXTURE(runtime_fixture,
                  "disable keeps inventory and stops refill; enable resumes") {
  start();
  build("team/review-api");
  auto pool = create_pool("team/review-api:stable", "paused", 2, 2);
  advance(1s);
  auto disabled = ok(rt->disable_pool(tenant, pool.id).get());
  CHECK_FALSE(disabled.enabled);
  CHECK(disabled.status.ready == 2); // nothing dropped
  ok(rt->create_sandbox(tenant, from_pool(pool.id, "require", 0)).get());
  advance(5s);
  CHECK(status(pool.id).ready == 1); // no refill
  CHECK(ok(rt->enable_pool(tenant, pool.id).get()).enabled);
  advance(1s);
  CHECK(status(pool.id).ready == 2);
}

TEST_CASE_FIXTURE(runtime_fixture, "reconcile runs one reconciliation now") {
  options.pools.tick = std::chrono::hours(1);
  options.pools.idle_ttl = 10s;
  start();
  build("team/review-api");
  auto pool = create_pool("team/review-api:stable", "ttl", 2, 2);
  advance(1s);
  advance(15s); // past the TTL, but no reconciliation has run since
  CHECK(status(pool.id).expired == 0);
  auto after = ok(rt->reconcile_pool(tenant, pool.id).get());
  CHECK(after.status.expired == 2);
  advance(1s);
  CHECK(status(pool.id).ready == 2); // replaced
}

TEST_CASE_FIXTURE(runtime_fixture,
                  "ready members past the idle TTL expire and are replaced") {
  options.pools.idle_ttl = 30s;
  start();
  build("team/review-api");
  auto pool = create_pool("team/review-api:stable", "ttl", 1, 1);
  advance(1s);
  auto first = ok(rt->create_sandbox(tenant, from_pool(pool.id, "require", 0)).get());
  auto deleted = rt->delete_sandbox(tenant, first.id);
  advance(50ms);
  ok(deleted.get());
  advance(1s);
  advance(31s);
  auto st = status(pool.id);
  CHECK(st.expired == 1);
  CHECK(st.ready == 1);
}

TEST_CASE_FIXTURE(runtime_fixture,
                  "a member stuck warming fails at its deadline and is replaced") {
  options.pools.warming_deadline = 5s;
  start();
  build("team/review-api");
  world->hang_restores("local", 1);
  auto pool = create_pool("team/review-api:stable", "stuck", 1, 1);
  advance(1s);
  CHECK(status(pool.id).warming == 1);
  advance(5s);
  auto st = status(pool.id);
  CHECK(st.failed == 1);
  advance(3s); // after the backoff, a fresh member fills
  st = status(pool.id);
  CHECK(st.ready == 1);
  CHECK(st.warming == 0);
}

TEST_CASE_FIXTURE(runtime_fixture,
                  "repeated fill failures back off instead of churning") {
  options.pools.fill_backoff_base = 1s;
  options.pools.fill_backoff_max = 16s;
  start();
  build("team/review-api");
  world->fail_restores("local", 1000);
  auto pool = create_pool("team/review-api:stable", "failing", 1, 1);
  advance(60s);
  const auto failures = status(pool.id).failed;
  // Without backoff a 1 s tick would fail ~60 times; with 1, 2, 4, 8, 16, 16
  // s waits it is a handful.
  CHECK(failures >= 4);
  CHECK(failures <= 9);
  world->fail_restores("local", -1000);
  advance(20s);
  CHECK(status(pool.id).ready == 1);
}

TEST_CASE_FIXTURE(runtime_fixture,
                  "a ready member whose VM dies is noticed and replaced") {
  start();
  build("team/review-api");
  auto pool = create_pool("team/review-api:stable", "fragile", 2, 2);
  advance(1s);
  auto sandbox = ok(rt->create_sandbox(tenant, from_pool(pool.id, "require", 0)).get());
  advance(1s);
  // Kill the VM of a ready member (the other VM is the sandbox's).
  std::string victim;
  for (const auto& [vm, count] : world->restores())
    if (vm != sandbox.vm_id && world->has_vm(vm))
      victim = vm;
  REQUIRE_FALSE(victim.empty());
  world->kill_vm(victim);
  rt->run();
  auto st = status(pool.id);
  CHECK(st.failed == 1);
  advance(2s);
  CHECK(status(pool.id).ready == 2);
  // A sandbox whose VM dies is failed, not refilled.
  world->kill_vm(sandbox.vm_id);
  rt->run();
  auto failed = ok(rt->get_sandbox(tenant, sandbox.id).get());
  CHECK(failed.state == "failed");
  CHECK(failed.reason == "the VM process died");
}

TEST_CASE_FIXTURE(runtime_fixture,
                  "watch_pool answers at the pool's next change, with no polling") {
  start();
  build("team/review-api");
  auto pool = create_pool("team/review-api:stable", "watched", 2, 2);
  CHECK(pool.revision > 0);
  // Its members warm: nothing changes until their restores end.
  auto warming = info(pool.id);
  REQUIRE(warming.status.warming == 2);
  const auto created = warming.revision;
  CHECK(created > pool.revision);

  auto watch = rt->watch_pool(tenant, pool.id, created, 5000ms);
  CHECK_FALSE(watch.ready());
  advance(options.sim.restore_latency);
  auto changed = ok(watch.get());
  CHECK(changed.revision > created);
  CHECK(changed.status.ready + changed.status.warming == 2);

  // Followed from answer to answer, it reaches two ready members.
  auto seen = changed;
  while (seen.status.ready < 2) {
    auto next = rt->watch_pool(tenant, pool.id, seen.revision, 5000ms);
    advance(10ms);
    seen = ok(next.get());
  }
  CHECK(seen.status.ready == 2);

  // A revision already passed answers at once, with the pool as it is now.
  auto at_once = ok(rt->watch_pool(tenant, pool.id, created, 5000ms).get());
  CHECK(at_once.revision == seen.revision);
  CHECK(at_once.status.ready == 2);
}

TEST_CASE_FIXTURE(runtime_fixture,
                  "watch_pool answers the unchanged pool once its wait is over") {
  start();
  build("team/review-api");
  auto pool = create_pool("team/review-api:stable", "quiet", 1, 1);
  advance(1s);
  auto full = info(pool.id);
  REQUIRE(full.status.ready == 1);

  auto watch = rt->watch_pool(tenant, pool.id, full.revision, 3000ms);
  advance(2999ms); // ticks reconcile a full pool: nothing to record
  CHECK_FALSE(watch.ready());
  advance(1ms);
  auto same = ok(watch.get());
  CHECK(same.revision == full.revision);
  CHECK(same.status.ready == 1);

  // A checkout is a change.
  auto later = rt->watch_pool(tenant, pool.id, full.revision, 3000ms);
  ok(rt->create_sandbox(tenant, from_pool(pool.id, "require", 0)).get());
  auto claimed = ok(later.get());
  CHECK(claimed.revision > full.revision);
  CHECK(claimed.status.ready == 0);
}

TEST_CASE_FIXTURE(runtime_fixture,
                  "watch_pool answers every watcher when the pool ends") {
  options.pools.destroy_budget_per_tick = 1; // the delete takes two ticks
  start();
  build("team/review-api");
  auto pool = create_pool("team/review-api:stable", "doomed", 2, 2);
  advance(1s);
  const auto full = info(pool.id);
  // One watcher wants the next change; the other a revision the pool will
  // never reach, so only the pool's end answers it.
  auto next = rt->watch_pool(tenant, pool.id, full.revision, 60'000ms);
  auto to_the_end = rt->watch_pool(tenant, pool.id, full.revision + 1000, 60'000ms);
  ok(rt->delete_pool(tenant, pool.id).get());
  auto deleting = ok(next.get());
  CHECK(deleting.deleting);
  CHECK_FALSE(deleting.deleted);
  for (int ticks = 0; ticks < 10 && !to_the_end.ready(); ++ticks)
    advance(1s);
  auto end = ok(to_the_end.get());
  CHECK(end.deleted);
  CHECK(end.status.ready == 0);
  CHECK(end.revision > deleting.revision);
  // The pool is gone: a further watch has nothing to wait on.
  fails(rt->watch_pool(tenant, pool.id, end.revision, 1000ms).get(),
        model::errc::not_found);
}

TEST_CASE_FIXTURE(runtime_fixture,
                  "a watch that starts after the pool ended answers its end once") {
  options.pools.destroy_budget_per_tick = 1;
  start();
  build("team/review-api");
  auto pool = create_pool("team/review-api:stable", "gone", 2, 2);
  advance(1s);
  const auto full = info(pool.id);
  // The follower looked last at the full pool; the delete, its drain and the
  // pool's end all happen before it looks again.
  ok(rt->delete_pool(tenant, pool.id).get());
  for (int ticks = 0; ticks < 10; ++ticks)
    advance(1s);
  fails(rt->get_pool(tenant, pool.id).get(), model::errc::not_found);
  auto end = ok(rt->watch_pool(tenant, pool.id, full.revision, 1000ms).get());
  CHECK(end.id == pool.id);
  CHECK(end.deleted);
  CHECK(end.status.ready == 0);
  CHECK(end.revision > full.revision);
  // Once it has seen the end, there is nothing more to wait for; another
  // tenant never sees the pool.
  fails(rt->watch_pool(tenant, pool.id, end.revision, 1000ms).get(),
        model::errc::not_found);
  fails(rt->watch_pool("someone-else", pool.id, full.revision, 1000ms).get(),
        model::errc::not_found);
}

TEST_CASE_FIXTURE(runtime_fixture,
                  "a pool's revision is its journal's: a restart keeps it") {
  temp_dir dir;
  options.data_dir = dir.str();
  start();
  build("team/review-api");
  auto pool = create_pool("team/review-api:stable", "lasting", 2, 2);
  advance(1s);
  const auto before = info(pool.id);
  REQUIRE(before.status.ready == 2);
  stop();
  start();
  rt->run();
  const auto after = info(pool.id);
  CHECK(after.revision == before.revision);
  CHECK(after.status.ready == 2);
  // A watcher from before the restart carries on where it was.
  auto watch = rt->watch_pool(tenant, pool.id, before.revision, 5000ms);
  CHECK_FALSE(watch.ready());
  ok(rt->create_sandbox(tenant, from_pool(pool.id, "require", 0)).get());
  CHECK(ok(watch.get()).revision > before.revision);
}

TEST_CASE_FIXTURE(runtime_fixture, "watch_pool refuses what it cannot answer") {
  options.call_timeout = 10s;
  start();
  build("team/review-api");
  auto pool = create_pool("team/review-api:stable", "strict", 1, 1);
  auto too_long = fails(rt->watch_pool(tenant, pool.id, pool.revision, 10s).get(),
                        model::errc::invalid_argument);
  CHECK(too_long.field == "max_wait");
  CHECK(too_long.message.find("10000 ms") != std::string::npos);
  fails(rt->watch_pool(tenant, pool.id, pool.revision, -1ms).get(),
        model::errc::invalid_argument);
  fails(rt->watch_pool(tenant, "twp_nowhere", 0, 1000ms).get(), model::errc::not_found);
  fails(rt->watch_pool("another", pool.id, 0, 1000ms).get(), model::errc::not_found);
}
