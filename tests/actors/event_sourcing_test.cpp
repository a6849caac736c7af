// The event-sourced actor base: nothing applied that was not written, a
// journal failure stops the actor and the supervisor restarts it from the
// journal, snapshots with a fallback to full replay, recovery of the whole
// runtime.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "faulty_storage.hpp"
#include "hearth/store/storage.hpp"
#include "runtime_fixture.hpp"
#include "support/subprocess.hpp"

using namespace hearth;
using namespace hearth::testing;

TEST_CASE_FIXTURE(runtime_fixture,
                  "a journal failure stops the pool; it restarts from what was written") {
  faulty_storage storage(store::make_memory_storage());
  options.storage = &storage;
  start();
  build("team/review-api");
  auto pool = create_pool("team/review-api:stable", "fragile", 2, 2);
  advance(1s);
  REQUIRE(status(pool.id).ready == 2);

  storage.faults().fail_next("pool/", 1);
  auto lost = rt->create_sandbox(tenant, from_pool(pool.id, "require", 0));
  rt->run();
  // The claim was not written: the caller hears an error, no sandbox exists.
  auto e = lost.get();
  REQUIRE_FALSE(e);
  CHECK(ok(rt->list_sandboxes(tenant).get()).empty());
  CHECK(rt->metrics().actor_restarts == 1);
  CHECK(rt->metrics().persist_failures == 1);

  advance(200ms); // the supervisor's backoff
  auto back = info(pool.id);
  CHECK(back.status.ready == 2); // the unwritten claim was never applied
  CHECK(back.status.claimed == 0);
  auto sandbox = ok(rt->create_sandbox(tenant, from_pool(pool.id, "require", 0)).get());
  CHECK(sandbox.warm_pool_checkout.hit);
}

TEST_CASE_FIXTURE(runtime_fixture,
                  "a restarted pool still hears of its members' VMs dying") {
  faulty_storage storage(store::make_memory_storage());
  options.storage = &storage;
  start();
  build("team/review-api");
  auto pool = create_pool("team/review-api:stable", "fragile", 2, 2);
  advance(1s);
  REQUIRE(status(pool.id).ready == 2);
  std::vector<std::string> members;
  for (const auto& [vm, count] : world->restores())
    members.push_back(vm);
  REQUIRE(members.size() == 2);
  storage.faults().fail_next("pool/", 1);
  REQUIRE_FALSE(rt->create_sandbox(tenant, from_pool(pool.id, "require", 0)).get());
  // One VM ends while the pool has no actor, the other after its restart:
  // the restarted pool hears of both.
  world->kill_vm(members[0]);
  advance(200ms); // the supervisor's backoff
  REQUIRE(rt->metrics().actor_restarts == 1);
  CHECK(status(pool.id).unavailable == 1);
  world->kill_vm(members[1]);
  rt->run();
  CHECK(status(pool.id).failed == 1);
  advance(2s);
  CHECK(status(pool.id).ready == 2);
}

TEST_CASE_FIXTURE(runtime_fixture, "a restarted sandbox still hears of its VM dying") {
  faulty_storage storage(store::make_memory_storage());
  options.storage = &storage;
  start();
  build("team/review-api");
  auto pool = create_pool("team/review-api:stable", "fragile", 1, 1);
  advance(1s);
  auto sandbox = ok(rt->create_sandbox(tenant, from_pool(pool.id, "require", 0)).get());
  storage.faults().fail_next("sandbox/", 1);
  REQUIRE_FALSE(rt->pause_sandbox(tenant, sandbox.id).get());
  advance(200ms);
  REQUIRE(rt->metrics().actor_restarts == 1);
  CHECK(ok(rt->get_sandbox(tenant, sandbox.id).get()).state == "running");

  world->kill_vm(sandbox.vm_id);
  rt->run();
  auto failed = ok(rt->get_sandbox(tenant, sandbox.id).get());
  CHECK(failed.state == "failed");
  CHECK(failed.reason == "the VM process died");
}

TEST_CASE_FIXTURE(
    runtime_fixture,
    "after a restart a sandbox nobody addressed still hears of its VM dying") {
  temp_dir dir;
  options.data_dir = dir.str();
  start();
  build("team/review-api");
  auto pool = create_pool("team/review-api:stable", "steady", 1, 1);
  advance(1s);
  auto sandbox = ok(rt->create_sandbox(tenant, from_pool(pool.id, "require", 0)).get());
  stop();
  start(); // the sandbox is parked, its VM re-adopted for it
  rt->run();
  world->kill_vm(sandbox.vm_id);
  rt->run();
  auto failed = ok(rt->get_sandbox(tenant, sandbox.id).get());
  CHECK(failed.state == "failed");
  CHECK(failed.reason == "the VM process died");
}

TEST_CASE_FIXTURE(runtime_fixture,
                  "wait_build answers when the build is ready or failed, at once when it "
                  "already is, and not_found for a build that does not exist") {
  start();
  auto started =
      ok(rt->build_template(tenant, "team/review-api", http_spec(), {"stable"}).get());
  REQUIRE(started.status == "building");
  auto waiting = rt->wait_build(tenant, "team/review-api", started.build_id);
  advance(options.sim.build_latency / 2);
  CHECK_FALSE(waiting.ready());
  advance(options.sim.build_latency / 2 + 10ms);
  REQUIRE(waiting.ready());
  auto done = ok(waiting.get());
  CHECK(done.status == "ready");
  CHECK(done.tags == std::vector<std::string>{"stable"});
  CHECK(ok(rt->wait_build(tenant, "team/review-api", started.build_id).get()).status ==
        "ready");

  auto bad_spec = http_spec();
  bad_spec.start_cmd = "false"; // the simulated driver fails it
  auto failing = ok(rt->build_template(tenant, "team/broken", bad_spec, {}).get());
  auto failed = rt->wait_build(tenant, "team/broken", failing.build_id);
  auto failed_too = rt->wait_build(tenant, "team/broken", failing.build_id);
  advance(options.sim.build_latency + 10ms);
  for (auto* w : {&failed, &failed_too}) {
    auto answer = ok(w->get());
    CHECK(answer.status == "failed");
    CHECK_FALSE(answer.error.empty());
  }

  fails(rt->wait_build(tenant, "team/review-api", "b_nothing").get(),
        model::errc::not_found);
  fails(rt->wait_build("someone-else", "team/review-api", started.build_id).get(),
        model::errc::not_found);
}

TEST_CASE_FIXTURE(runtime_fixture,
                  "wait_build with a bound answers the build still building once the "
                  "bound passes, and the finished build before it") {
  options.call_timeout = 10s;
  start();
  auto started =
      ok(rt->build_template(tenant, "team/review-api", http_spec(), {"stable"}).get());
  auto brief = rt->wait_build(tenant, "team/review-api", started.build_id, 500ms);
  auto long_enough = rt->wait_build(tenant, "team/review-api", started.build_id, 5000ms);
  advance(499ms);
  CHECK_FALSE(brief.ready());
  advance(1ms);
  CHECK(ok(brief.get()).status == "building");
  CHECK_FALSE(long_enough.ready());
  advance(options.sim.build_latency);
  CHECK(ok(long_enough.get()).status == "ready");
  // Its timer, still to come, answers nobody twice.
  advance(5s);
  CHECK(
      ok(rt->wait_build(tenant, "team/review-api", started.build_id, 0ms).get()).status ==
      "ready");

  auto another = ok(rt->build_template(tenant, "team/other", http_spec("v2"), {}).get());
  CHECK(ok(rt->wait_build(tenant, "team/other", another.build_id, 0ms).get()).status ==
        "building");
  auto too_long = fails(rt->wait_build(tenant, "team/other", another.build_id, 10s).get(),
                        model::errc::invalid_argument);
  CHECK(too_long.field == "max_wait");
  fails(rt->wait_build(tenant, "team/other", "b_nothing", 1000ms).get(),
        model::errc::not_found);
}

TEST_CASE_FIXTURE(runtime_fixture,
                  "a build interrupted by a restart fails with the reason, and the same "
                  "spec builds again") {
  temp_dir dir;
  options.data_dir = dir.str();
  start();
  auto started =
      ok(rt->build_template(tenant, "team/review-api", http_spec(), {"stable"}).get());
  CHECK(started.status == "building");
  advance(options.sim.build_latency / 2);
  stop(); // mid-build
  start();
  rt->run();
  auto interrupted =
      ok(rt->wait_build(tenant, "team/review-api", started.build_id).get());
  CHECK(interrupted.status == "failed");
  CHECK(interrupted.error ==
        "interrupted: hearth stopped during the build; build it again");
  CHECK(interrupted.tags.empty());

  auto rebuilt = build("team/review-api");
  CHECK(rebuilt.build_id == started.build_id);
  CHECK(rebuilt.status == "ready");
  CHECK(rebuilt.tags == std::vector<std::string>{"stable"});
  // A build that finished is left alone by the next start.
  stop();
  start();
  rt->run();
  CHECK(ok(rt->get_build(tenant, "team/review-api", started.build_id).get()).status ==
        "ready");
}

TEST_CASE_FIXTURE(runtime_fixture,
                  "a claim and its sandbox's record are written together or not at all") {
  faulty_storage storage(store::make_memory_storage());
  options.storage = &storage;
  start();
  build("team/review-api");
  auto pool = create_pool("team/review-api:stable", "paired", 2, 2);
  advance(1s);
  REQUIRE(status(pool.id).ready == 2);
  auto sandbox_streams = [&] {
    std::size_t n = 0;
    auto streams = storage.events().list_streams();
    REQUIRE(streams);
    for (const auto& s : *streams)
      n += s.stream.rfind("sandbox/", 0) == 0 ? 1 : 0;
    return n;
  };

  // The sandbox's record cannot be written: neither is the claim.
  storage.faults().fail_next("sandbox/", 1);
  auto lost = rt->create_sandbox(tenant, from_pool(pool.id, "require", 0));
  rt->run();
  REQUIRE_FALSE(lost.get());
  CHECK(sandbox_streams() == 0);
  advance(200ms);
  CHECK(info(pool.id).status.claimed == 0);
  CHECK(info(pool.id).status.ready == 2);

  // A claim that is written comes with its sandbox's record in the journal.
  auto sandbox = ok(rt->create_sandbox(tenant, from_pool(pool.id, "require", 0)).get());
  CHECK(sandbox.warm_pool_checkout.hit);
  CHECK(sandbox_streams() == 1);
  auto record = storage.events().read_stream("sandbox/" + sandbox.id);
  REQUIRE(record);
  REQUIRE(record->size() == 1);
  CHECK((*record)[0].type == "sandbox.created");
  auto pool_events = storage.events().read_stream("pool/" + pool.id);
  REQUIRE(pool_events);
  // The refill may already have followed the claim.
  auto claim =
      std::find_if(pool_events->rbegin(), pool_events->rend(),
                   [](const auto& e) { return e.type == "pool.member_claimed"; });
  REQUIRE(claim != pool_events->rend());
  CHECK((*record)[0].position == claim->position + 1); // one write
  CHECK(ok(rt->get_sandbox(tenant, sandbox.id).get()).vm_id == sandbox.vm_id);
}

TEST_CASE_FIXTURE(runtime_fixture,
                  "restarts back off while the journal keeps failing, and start "
                  "over once an actor has run for a minute since its restart") {
  faulty_storage storage(store::make_memory_storage());
  options.storage = &storage;
  start();
  build("team/review-api");
  auto pool = create_pool("team/review-api:stable", "flaky", 1, 1);
  advance(1s);
  std::uint64_t failures = 0;
  // Fails once, and the restart is due in `wait`: still down just before,
  // back from the journal just after.
  auto fail_and_return_after = [&](std::chrono::milliseconds wait) {
    CAPTURE(wait.count());
    storage.faults().fail_next("pool/", 1);
    (void)rt->create_sandbox(tenant,
                             from_pool(pool.id, "require", 0)); // a claim to write
    rt->run();
    CHECK(rt->metrics().actor_restarts == ++failures);
    advance(wait - 10ms);
    fails(rt->get_pool(tenant, pool.id).get(), model::errc::not_found);
    advance(20ms);
    CHECK(info(pool.id).status.ready == 1);
  };
  fail_and_return_after(100ms);
  fail_and_return_after(200ms);
  fail_and_return_after(400ms);
  advance(59s); // not yet a minute since the last restart
  fail_and_return_after(800ms);
  advance(60s);
  fail_and_return_after(100ms);
  fail_and_return_after(200ms);
  CHECK(ok(rt->create_sandbox(tenant, from_pool(pool.id, "require", 0)).get())
            .warm_pool_checkout.hit);
}

TEST_CASE_FIXTURE(
    runtime_fixture,
    "snapshots are taken every N events and a bad one falls back to full replay") {
  faulty_storage storage(store::make_memory_storage());
  options.storage = &storage;
  options.snapshot_every = 5;
  start();
  build("team/review-api");
  auto pool = create_pool("team/review-api:stable", "churn", 2, 2);
  advance(1s);
  for (int i = 0; i < 5; ++i) {
    ok(rt->create_sandbox(tenant, from_pool(pool.id, "require", 1000)).get());
    advance(500ms);
  }
  const std::string stream = "pool/" + pool.id;
  auto snap = storage.snapshots().load(stream);
  REQUIRE(snap);
  REQUIRE(snap->has_value());
  CHECK((*snap)->sequence >= 5);
  const auto expected = ok(rt->dump().get());

  // Damage the newest snapshot: a restart must replay the stream in full.
  REQUIRE(storage.snapshots().save(
      store::snapshot{stream, 999999, 0, "garbage that does not decode"}));
  storage.faults().fail_next("pool/", 1);
  auto refused = rt->create_sandbox(tenant, from_pool(pool.id, "require", 0));
  rt->run();
  CHECK_FALSE(refused.get());
  advance(300ms);
  CHECK(rt->metrics().actor_restarts == 1);
  auto after = info(pool.id);
  CHECK(after.status.claimed == 5);
  CHECK(after.status.ready == 2);
  CHECK(ok(rt->dump().get()) == expected);
}

TEST_CASE_FIXTURE(runtime_fixture,
                  "a large state is snapshotted once the events since its last "
                  "snapshot are as large as it") {
  faulty_storage storage(store::make_memory_storage());
  options.storage = &storage;
  options.snapshot_every = 5;
  start();
  build("team/review-api");
  auto pool = create_pool("team/review-api:stable", "big", 40, 40);
  for (int tick = 0; tick < 30 && info(pool.id).status.ready < 40; ++tick)
    advance(1s); // 4 fills per tick
  REQUIRE(info(pool.id).status.ready == 40);
  const std::string stream = "pool/" + pool.id;
  // Each snapshot the pool took, as (sequence, size), watched after each
  // checkout and its refill.
  std::vector<std::pair<std::uint64_t, std::size_t>> taken;
  for (int i = 0; i < 60; ++i) {
    ok(rt->create_sandbox(tenant, from_pool(pool.id, "require", 1000)).get());
    advance(200ms);
    auto snap = storage.snapshots().load(stream);
    REQUIRE(snap);
    if (snap->has_value() && (taken.empty() || taken.back().first != (*snap)->sequence))
      taken.emplace_back((*snap)->sequence, (*snap)->data.size());
  }
  auto events = storage.events().read_stream(stream);
  REQUIRE(events);
  // 60 checkouts are 180 events: every 5 would be 36 snapshots. A snapshot
  // of 40 members is far larger than 5 events, so there are fewer, and
  // between two of them the events add up to at least the first one's size.
  REQUIRE(taken.size() >= 2);
  CHECK(taken.size() < 20);
  for (std::size_t k = 1; k < taken.size(); ++k) {
    CAPTURE(k);
    std::size_t bytes = 0;
    for (const auto& event : *events)
      if (event.sequence > taken[k - 1].first && event.sequence <= taken[k].first)
        bytes += event.payload.size();
    CHECK(taken[k].first - taken[k - 1].first >= 5);
    CHECK(bytes >= taken[k - 1].second);
  }
}

namespace {

/// Drives a runtime through a scripted history touching every kind of event.
void scripted_history(runtime_fixture& f) {
  auto& rt = *f.rt;
  f.build("team/review-api", {"stable"}, "v1");
  f.build("team/worker", {"stable"}, "w1");
  auto pinned = f.create_pool("team/review-api:stable", "pinned", 2, 3);
  auto tracking =
      f.create_pool("team/worker:stable", "tracking", 1, 2, "track_tag", "stable");
  auto doomed = f.create_pool("team/review-api:stable", "doomed", 1, 1);
  f.advance(1s);
  for (int i = 0; i < 3; ++i) {
    ok(rt.create_sandbox(tenant, f.from_pool(pinned.id, "require", 0)).get());
    f.advance(300ms);
  }
  ok(rt.create_sandbox(tenant, f.from_pool(tracking.id, "require", 500)).get());
  f.advance(1s);
  f.build("team/worker", {"stable"}, "w2"); // rollout
  ok(rt.drain_pool(tenant, pinned.id).get());
  ok(rt.delete_pool(tenant, doomed.id).get());
  auto sandboxes = ok(rt.list_sandboxes(tenant).get());
  auto gone = rt.delete_sandbox(tenant, sandboxes.front().id);
  ok(rt.pause_sandbox(tenant, sandboxes.back().id).get());
  f.advance(5s);
  ok(gone.get());
}

} // namespace

TEST_CASE_FIXTURE(runtime_fixture,
                  "after a restart every actor's state equals the state before") {
  temp_dir dir;
  options.data_dir = dir.str();
  start();
  scripted_history(*this);
  const auto before = ok(rt->dump().get());
  CHECK(before.find("pool/twp_pinned") != std::string::npos);
  CHECK(before.find("sandbox/sbx_") != std::string::npos);
  stop();

  start(); // same data directory, same simulated hosts
  const auto after = ok(rt->dump().get());
  CHECK(after == before);
  // And it keeps working.
  advance(2s);
  CHECK(status("twp_tracking").ready == 1);
}

TEST_CASE_FIXTURE(runtime_fixture,
                  "a claim whose sandbox record was never written becomes that "
                  "sandbox, with the checkout its caller was told of") {
  temp_dir dir;
  options.data_dir = dir.str();
  start();
  build("team/review-api");
  const auto pool = create_pool("team/review-api:stable", "review-api-claim", 1, 1);
  advance(1s);
  REQUIRE(status(pool.id).ready == 1);
  std::string member;
  for (const auto& e : ok(rt->read_events("pool/" + pool.id, 1, 1000)))
    if (auto decoded = events::decode_domain(e); decoded)
      if (const auto* ready = std::get_if<events::member_ready>(&*decoded))
        member = ready->member_id;
  REQUIRE_FALSE(member.empty());
  stop();

  // The process died after the claim was durable and its caller answered,
  // before the sandbox's own record was written (it may wait for company).
  const std::string sandbox = "sbx_00000000c1a1";
  {
    auto storage = store::open_rocksdb_storage(dir.str("journal"));
    REQUIRE(storage);
    auto& journal = (*storage)->events();
    const std::string stream = "pool/" + pool.id;
    auto highest = journal.highest_sequence(stream);
    REQUIRE(highest);
    store::append_request claim;
    claim.stream = stream;
    claim.expected_sequence = *highest;
    const events::domain_event claimed =
        events::member_claimed{member, sandbox, options.start_time_ns, "require"};
    claim.events.push_back(store::new_event{events::type_name(claimed),
                                            events::member_claimed::version,
                                            events::encode_domain(claimed), "", 0});
    REQUIRE(journal.append(std::move(claim)));
  }

  start();
  const auto rebuilt = ok(rt->get_sandbox(tenant, sandbox).get());
  CHECK(rebuilt.vm_id == member);
  CHECK(rebuilt.origin == "warm_pool");
  CHECK(rebuilt.warm_pool_checkout.considered);
  CHECK(rebuilt.warm_pool_checkout.hit);
  CHECK(rebuilt.warm_pool_checkout.source == "warm_pool");
  CHECK(rebuilt.warm_pool_checkout.id == pool.id);
  CHECK(rebuilt.warm_pool_checkout.mode == "require");
  advance(1s);
  CHECK(status(pool.id).claimed == 1);
  CHECK(status(pool.id).ready == 1); // refilled
  // The record is written now: a second restart finds the sandbox's stream.
  CHECK_FALSE(ok(rt->read_events("sandbox/" + sandbox, 1, 10)).empty());
}

TEST_CASE_FIXTURE(
    runtime_fixture,
    "hearth replay state rebuilds what the runtime had at any position, and "
    "reports a VM claimed twice") {
  temp_dir dir;
  options.data_dir = dir.str();
  start();
  build("team/review-api");
  const auto pool = create_pool("team/review-api:stable", "replayed", 2, 2);
  advance(1s);
  REQUIRE(status(pool.id).ready == 2);
  std::uint64_t before_checkout = 0;
  for (auto page = ok(rt->read_events("", 1, 1000)); !page.empty();
       page = ok(rt->read_events("", before_checkout + 1, 1000)))
    before_checkout = page.back().position;
  const auto sandbox =
      ok(rt->create_sandbox(tenant, from_pool(pool.id, "require", 1000)).get());
  advance(1s);
  const auto live = info(pool.id);
  REQUIRE(live.status.claimed == 1);
  REQUIRE(live.status.ready == 2);
  stop();

  auto replay = [&](const std::string& args) {
    return run_command(binary("hearth") + " replay --data-dir " + dir.str() + " " + args +
                       " 2>&1");
  };
  auto pool_at = [&](const std::string& at) {
    auto out = replay("--json state --stream pool/" + pool.id + at);
    REQUIRE(out.exit_code == 0);
    return nlohmann::json::parse(out.out);
  };
  const auto now = pool_at("");
  CHECK(now["status"]["ready"] == live.status.ready);
  CHECK(now["status"]["claimed"] == 1);
  CHECK(now["build_id"] == live.build_id);
  const auto earlier = pool_at(" --at " + std::to_string(before_checkout));
  CHECK(earlier["status"]["ready"] == 2);
  CHECK(earlier["status"]["claimed"] == 0);

  auto sandbox_state = replay("--json state --stream sandbox/" + sandbox.id);
  REQUIRE(sandbox_state.exit_code == 0);
  CHECK(nlohmann::json::parse(sandbox_state.out)["vm_id"] == sandbox.vm_id);
  auto summary = replay("state");
  CHECK(summary.exit_code == 0);
  CHECK(summary.out.find("invariants hold") != std::string::npos);
  CHECK(summary.out.find(pool.id) != std::string::npos);
  CHECK(replay("state --stream pool/twp_nothing").exit_code == 3);

  // A second claim of the same VM, as a bug would write it.
  std::uint64_t forged_sequence = 0;
  {
    auto storage = store::open_rocksdb_storage(dir.str("journal"));
    REQUIRE(storage);
    auto& journal = (*storage)->events();
    const std::string stream = "pool/" + pool.id;
    store::append_request claim;
    claim.stream = stream;
    auto highest = journal.highest_sequence(stream);
    REQUIRE(highest);
    claim.expected_sequence = *highest;
    forged_sequence = *highest + 1;
    const events::domain_event claimed = events::member_claimed{
        sandbox.vm_id, "sbx_00000000d0b1", options.start_time_ns, "require"};
    claim.events.push_back(store::new_event{events::type_name(claimed),
                                            events::member_claimed::version,
                                            events::encode_domain(claimed), "", 0});
    REQUIRE(journal.append(std::move(claim)));
  }
  auto broken = replay("state");
  CAPTURE(broken.out);
  CHECK(broken.exit_code == 1);
  CHECK(broken.out.find("INVARIANTS BROKEN") != std::string::npos);
  const auto forged = "event pool/" + pool.id + " #" + std::to_string(forged_sequence) +
                      " pool.member_claimed did not fit its aggregate's state";
  CHECK(broken.out.find(forged) != std::string::npos);

  // A runtime recovering that journal says so: on stderr, and in its counters.
  start();
  CHECK(rt->metrics().recovery_misfits == 1);
}

TEST_CASE_FIXTURE(runtime_fixture,
                  "wait_events answers once the journal grows past a position, or false "
                  "once its wait has passed") {
  start();
  build("team/review-api");
  std::uint64_t last = 0;
  for (auto page = ok(rt->read_events("", 1, 1000)); !page.empty();
       page = ok(rt->read_events("", last + 1, 1000)))
    last = page.back().position;
  REQUIRE(last > 0);
  CHECK(ok(rt->wait_events(last, 0ms).get()));           // there already
  CHECK_FALSE(ok(rt->wait_events(last + 1, 0ms).get())); // not yet, and no wait

  auto next = rt->wait_events(last + 1, 5000ms);
  advance(1s);
  CHECK_FALSE(next.ready());
  create_pool("team/review-api:stable", "fresh", 1, 1);
  REQUIRE(next.ready());
  CHECK(ok(next.get()));
  auto written = ok(rt->read_events("", last + 1, 1));
  REQUIRE(written.size() == 1);
  CHECK(written.front().stream == "pool/twp_fresh");

  auto never = rt->wait_events(last + 1'000'000, 3000ms);
  advance(2999ms);
  CHECK_FALSE(never.ready());
  advance(1ms);
  CHECK_FALSE(ok(never.get()));

  auto refused = fails(rt->wait_events(last, options.call_timeout).get(),
                       model::errc::invalid_argument);
  CHECK(refused.field == "max_wait");
}

TEST_CASE_FIXTURE(runtime_fixture,
                  "wait_events on one stream answers at that stream's next event, not at "
                  "another stream's, and may wait for a stream not written yet") {
  start();
  build("team/review-api");
  create_pool("team/review-api:stable", "followed", 0, 1);
  const auto written = ok(rt->read_events("pool/twp_followed", 1, 1000));
  REQUIRE_FALSE(written.empty());
  const auto last = written.back().sequence;
  CHECK(ok(rt->wait_events("pool/twp_followed", last, 0ms).get()));
  CHECK_FALSE(ok(rt->wait_events("pool/twp_followed", last + 1, 0ms).get()));

  auto next = rt->wait_events("pool/twp_followed", last + 1, 5000ms);
  auto unborn = rt->wait_events("pool/twp_later", 1, 5000ms);
  create_pool("team/review-api:stable", "bystander", 0, 1); // another stream
  advance(1ms);
  CHECK_FALSE(next.ready());
  CHECK_FALSE(unborn.ready());
  ok(rt->disable_pool(tenant, "twp_followed").get());
  REQUIRE(next.ready());
  CHECK(ok(next.get()));
  CHECK(ok(rt->read_events("pool/twp_followed", last + 1, 1)).front().type ==
        "pool.lifecycle");
  create_pool("team/review-api:stable", "later", 0, 1);
  REQUIRE(unborn.ready());
  CHECK(ok(unborn.get()));

  auto quiet = rt->wait_events("pool/twp_followed", last + 2, 3000ms);
  advance(3000ms);
  CHECK_FALSE(ok(quiet.get()));
}
