// Seed rules 2-5: checkout modes, waiting, poolable shape, no recycling.
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "runtime_fixture.hpp"

using namespace hearth;
using namespace hearth::testing;

namespace {

struct full_pool : runtime_fixture {
  std::string pool_id;
  full_pool() {
    start();
    build("team/review-api");
    pool_id = create_pool("team/review-api:stable", "review-api-small", 2, 4).id;
    advance(1s);
    REQUIRE(status(pool_id).ready == 2);
  }
};

struct empty_pool : runtime_fixture {
  std::string pool_id;
  empty_pool() {
    start();
    build("team/review-api");
    // min_ready 0: nothing is ever ready.
    pool_id = create_pool("team/review-api:stable", "review-api-empty", 0, 2).id;
    advance(1s);
    REQUIRE(status(pool_id).ready == 0);
  }
};

} // namespace

TEST_CASE_FIXTURE(full_pool, "prefer hits a ready member and reports hit: true") {
  auto sandbox = ok(rt->create_sandbox(tenant, from_pool(pool_id, "prefer", 1500)).get());
  CHECK(sandbox.origin == "warm_pool");
  CHECK(sandbox.warm_pool_checkout.considered);
  CHECK(sandbox.warm_pool_checkout.source == "warm_pool");
  CHECK(sandbox.warm_pool_checkout.hit);
  CHECK(sandbox.warm_pool_checkout.id == pool_id);
  CHECK(sandbox.warm_pool_checkout.mode == "prefer");
  CHECK(status(pool_id).claimed == 1);
}

TEST_CASE_FIXTURE(empty_pool,
                  "prefer falls back to a cold create after warm_pool_wait_ms") {
  auto created = rt->create_sandbox(tenant, from_pool(pool_id, "prefer", 1500));
  advance(1499ms);
  CHECK_FALSE(created.ready()); // still waiting for ready inventory
  advance(1ms);
  advance(options.sim.cold_latency);
  auto sandbox = ok(created.get());
  CHECK(sandbox.origin == "cold");
  CHECK(sandbox.state == "running");
  CHECK(sandbox.warm_pool_checkout.considered);
  CHECK(sandbox.warm_pool_checkout.source == "cold");
  CHECK_FALSE(sandbox.warm_pool_checkout.hit);
  CHECK(sandbox.warm_pool_checkout.id == pool_id);
  CHECK(rt->metrics().cold_creates == 1);
}

TEST_CASE_FIXTURE(empty_pool, "require fails with warm_pool_unavailable after its wait") {
  auto created = rt->create_sandbox(tenant, from_pool(pool_id, "require", 800));
  advance(799ms);
  CHECK_FALSE(created.ready());
  CHECK(rt->metrics().checkout_waiters == 1);
  advance(1ms);
  CHECK(rt->metrics().checkout_waiters == 0);
  auto e = fails(created.get(), model::errc::warm_pool_unavailable);
  CHECK(e.message.find("800 ms") != std::string::npos);
  CHECK(rt->metrics().cold_creates == 0);
  CHECK(ok(rt->list_sandboxes(tenant).get()).empty());
}

TEST_CASE_FIXTURE(empty_pool,
                  "a checkout still waiting when the runtime closes is answered "
                  "with an error") {
  std::optional<model::result<api::sandbox_info>> answer;
  rt->create_sandbox(tenant, from_pool(pool_id, "require", 10000))
      .then([&](model::result<api::sandbox_info> r) { answer = std::move(r); });
  advance(100ms);
  REQUIRE_FALSE(answer.has_value()); // waiting for ready inventory
  stop();
  REQUIRE(answer.has_value());
  REQUIRE_FALSE(answer->has_value());
  CHECK(answer->error().code == model::errc::unavailable);
  CHECK(answer->error().message ==
        "no answer: the actor that had the call stopped first (the "
        "runtime closing, or the pool deleted)");
}

TEST_CASE_FIXTURE(
    runtime_fixture,
    "a blocking get inside a then callback fails at once instead of waiting") {
  start();
  build("team/review-api");
  auto pool = create_pool("team/review-api:stable", "chained", 1, 1);
  advance(1s);
  ok(rt->create_sandbox(tenant, from_pool(pool.id, "require", 0)).get());
  std::optional<model::result<api::sandbox_info>> inner;
  std::optional<model::result<api::sandbox_info>> chained;
  // This one waits for the refill, so its answer comes through the
  // callback while the runtime runs.
  rt->create_sandbox(tenant, from_pool(pool.id, "require", 5000))
      .then([&](model::result<api::sandbox_info> created) {
        REQUIRE(created);
        // The controller hands this answer over on its own thread: waiting
        // here for it to answer another call would never end.
        inner = rt->get_sandbox(tenant, created->id).get();
        rt->get_sandbox(tenant, created->id)
            .then([&](model::result<api::sandbox_info> r) { chained = std::move(r); });
      });
  REQUIRE_FALSE(inner.has_value());
  advance(1s);
  REQUIRE(inner.has_value());
  REQUIRE_FALSE(inner->has_value());
  CHECK(inner->error().code == model::errc::internal);
  CHECK(inner->error().message.find("chain another then()") != std::string::npos);
  REQUIRE(chained.has_value());
  CHECK(ok(std::move(*chained)).state == "running");
}

TEST_CASE_FIXTURE(runtime_fixture,
                  "a waiter is served when a member becomes ready within the wait") {
  start();
  build("team/review-api");
  auto pool = create_pool("team/review-api:stable", "filling", 1, 1);
  // The member is still restoring (150 ms) when two callers arrive.
  auto first = rt->create_sandbox(tenant, from_pool(pool.id, "require", 1000));
  auto second = rt->create_sandbox(tenant, from_pool(pool.id, "require", 1000));
  rt->run();
  CHECK(status(pool.id).ready == 0);
  CHECK(rt->metrics().checkout_waiters == 2);
  advance(200ms);
  auto served = ok(first.get()); // arrival order: the first caller gets it
  CHECK(served.warm_pool_checkout.hit);
  CHECK_FALSE(second.ready());
  CHECK(rt->metrics().checkout_waiters == 1);
  // The refill (150 ms) serves the second caller within its wait too.
  advance(400ms);
  auto also = ok(second.get());
  CHECK(also.warm_pool_checkout.hit);
  CHECK(also.vm_id != served.vm_id);
  CHECK(rt->metrics().checkout_waiters == 0);
}

TEST_CASE_FIXTURE(full_pool, "bypass never touches the pool") {
  auto bypass = rt->create_sandbox(tenant, from_pool(pool_id, "bypass", 1500));
  advance(options.sim.cold_latency + 10ms);
  auto sandbox = ok(bypass.get());
  CHECK(sandbox.origin == "cold");
  CHECK(sandbox.warm_pool_checkout.considered);
  CHECK(sandbox.warm_pool_checkout.mode == "bypass");
  CHECK(sandbox.warm_pool_checkout.source == "cold");
  CHECK_FALSE(sandbox.warm_pool_checkout.hit);
  auto st = status(pool_id);
  CHECK(st.ready == 2);
  CHECK(st.claimed == 0);

  // Without warm_pool, bypass (or any create) reports no checkout at all.
  api::sandbox_request plain;
  plain.template_ref = "team/review-api:stable";
  plain.warm_pool_mode = "bypass";
  auto cold = rt->create_sandbox(tenant, plain);
  advance(options.sim.cold_latency + 10ms);
  CHECK_FALSE(ok(cold.get()).warm_pool_checkout.considered);
}

TEST_CASE_FIXTURE(full_pool,
                  "unpoolable shape cold-creates in prefer and fails in require") {
  struct shape {
    const char* what;
    void (*apply)(api::sandbox_request&);
  };
  const shape shapes[] = {
      {"envs", [](api::sandbox_request& r) { r.envs["A"] = "1"; }},
      {"volumes", [](api::sandbox_request& r) { r.volumes.push_back("data:/data"); }},
      {"cwd", [](api::sandbox_request& r) { r.cwd = "/tmp"; }},
      {"desktop", [](api::sandbox_request& r) { r.desktop = true; }},
      {"custom networking", [](api::sandbox_request& r) { r.custom_network = true; }},
      {"timeout policy", [](api::sandbox_request& r) { r.timeout_policy = "pause"; }},
      {"auto-resume", [](api::sandbox_request& r) { r.auto_resume = true; }},
  };
  for (const auto& s : shapes) {
    CAPTURE(s.what);
    auto require = from_pool(pool_id, "require", 100);
    s.apply(require);
    auto e = fails(rt->create_sandbox(tenant, require).get(),
                   model::errc::warm_pool_unavailable);
    CHECK(e.message.find("not poolable") != std::string::npos);

    auto prefer = from_pool(pool_id, "prefer", 100);
    s.apply(prefer);
    auto created = rt->create_sandbox(tenant, prefer);
    advance(options.sim.cold_latency + 10ms);
    auto sandbox = ok(created.get());
    CHECK(sandbox.origin == "cold");
    CHECK(sandbox.warm_pool_checkout.source == "cold");
    CHECK_FALSE(sandbox.warm_pool_checkout.hit);
  }
  auto st = status(pool_id);
  CHECK(st.claimed == 0);
  CHECK(st.ready == 2);
  // A destroy timeout policy is poolable.
  auto poolable = from_pool(pool_id, "require", 100);
  poolable.timeout_policy = "destroy";
  CHECK(ok(rt->create_sandbox(tenant, poolable).get()).warm_pool_checkout.hit);
}

TEST_CASE_FIXTURE(full_pool,
                  "a claimed member is never recycled and no VM serves two sandboxes") {
  std::set<std::string> vms;
  for (int i = 0; i < 20; ++i) {
    auto sandbox =
        ok(rt->create_sandbox(tenant, from_pool(pool_id, "require", 1000)).get());
    CHECK(vms.insert(sandbox.vm_id).second);
    // Destroying the sandbox destroys its VM; it never returns to the pool.
    auto gone = rt->delete_sandbox(tenant, sandbox.id);
    advance(50ms);
    CHECK(ok(gone.get()).state == "destroyed");
    CHECK_FALSE(world->has_vm(sandbox.vm_id));
    advance(300ms);
  }
  CHECK(status(pool_id).claimed == 20);
  for (const auto& [vm, restores] : world->restores())
    CHECK_MESSAGE(restores == 1, vm << " was restored " << restores << " times");
}

TEST_CASE_FIXTURE(runtime_fixture,
                  "checkouts close together are refilled together, after "
                  "refill_delay") {
  options.pools.refill_delay = 5ms;
  start();
  build("team/review-api");
  const auto pool_id = create_pool("team/review-api:stable", "review-api-burst", 3, 3).id;
  advance(1s);
  REQUIRE(status(pool_id).ready == 3);
  const auto before = ok(rt->read_events("pool/" + pool_id, 1, 1000)).size();
  (void)ok(rt->create_sandbox(tenant, from_pool(pool_id, "require", 0)).get());
  advance(2ms);
  (void)ok(rt->create_sandbox(tenant, from_pool(pool_id, "require", 0)).get());
  advance(2ms);
  auto st = status(pool_id);
  CHECK(st.claimed == 2);
  CHECK(st.warming == 0); // 4 ms after the first checkout: not yet
  advance(2ms);
  st = status(pool_id);
  CHECK(st.warming + st.ready == 3);
  // Both refills started in one reconcile, after both claims (at once, it
  // would be claimed, warming, claimed, warming).
  auto events = ok(rt->read_events("pool/" + pool_id, 1, 1000));
  REQUIRE(events.size() >= before + 4);
  std::vector<std::string> types;
  for (auto i = before; i < before + 4; ++i)
    types.push_back(events[i].type);
  CHECK(types == std::vector<std::string>{"pool.member_claimed", "pool.member_claimed",
                                          "pool.member_warming", "pool.member_warming"});
  advance(2s);
  CHECK(status(pool_id).ready == 3);
}

TEST_CASE_FIXTURE(full_pool,
                  "the pool refills after each checkout and never exceeds max_ready") {
  for (int round = 0; round < 10; ++round) {
    (void)rt->create_sandbox(tenant, from_pool(pool_id, "prefer", 0));
    (void)rt->create_sandbox(tenant, from_pool(pool_id, "require", 2000));
    for (int step = 0; step < 8; ++step) {
      advance(50ms);
      auto st = status(pool_id);
      CHECK(st.ready + st.warming <= 4);
    }
  }
  advance(2s);
  CHECK(status(pool_id).ready == 2);
}

namespace {

/// A runtime on CAF's threads (not the test scheduler) with a ready
/// template `team/fast:stable`.
std::unique_ptr<runtime> fast_template_on_threads(runtime_options options = {}) {
  options.sim.build_latency = 10ms;
  options.sim.restore_latency = 1ms;
  options.pools.tick = 20ms;
  options.pools.fill_budget_per_tick = 64;
  auto rt = ok(runtime::open(options));
  auto built = ok(rt->build_template(tenant, "team/fast", http_spec(), {"stable"}).get());
  built = ok(rt->wait_build(tenant, "team/fast", built.build_id).get());
  REQUIRE(built.status == "ready");
  return rt;
}

/// `fast_template_on_threads` with a pool `twp_fast` of 16, filling within
/// milliseconds.
std::unique_ptr<runtime> fast_pool_on_threads() {
  auto rt = fast_template_on_threads();
  api::pool_spec spec;
  spec.template_ref = "team/fast:stable";
  spec.name = "fast";
  spec.min_ready = 16;
  spec.max_ready = 16;
  ok(rt->create_pool(tenant, spec).get());
  return rt;
}

/// A checkout from `twp_fast` in require mode, waiting up to 5 s.
auto check_out_fast(runtime& rt) {
  api::sandbox_request request;
  request.warm_pool = "twp_fast";
  request.warm_pool_mode = "require";
  request.warm_pool_wait_ms = 5000;
  return rt.create_sandbox(tenant, request).get();
}

struct callers_outcome {
  int checkouts = 0;
  int failures = 0;
  std::vector<std::string> problems;
  std::string summary() const {
    return std::to_string(problems.size()) +
           " problems, the first: " + (problems.empty() ? "" : problems.front());
  }
};

/// Four threads each checking out `rounds` sandboxes from `twp_fast` and
/// handing each to `use`, which says what went wrong with it.
template <class Use>
callers_outcome on_threads(runtime& rt, int rounds, Use use) {
  std::mutex mutex;
  callers_outcome out;
  std::vector<std::thread> callers;
  for (int t = 0; t < 4; ++t)
    callers.emplace_back([&] {
      for (int i = 0; i < rounds; ++i) {
        auto sandbox = check_out_fast(rt);
        auto problems = sandbox ? use(*sandbox) : std::vector<std::string>{};
        std::lock_guard<std::mutex> lock(mutex);
        ++(sandbox ? out.checkouts : out.failures);
        out.problems.insert(out.problems.end(), problems.begin(), problems.end());
      }
    });
  for (auto& caller : callers)
    caller.join();
  return out;
}

} // namespace

TEST_CASE("a build that reads ready is on its host: a cold create right after it finds "
          "the host (threads, not the test scheduler)") {
  // The host records the artifact before the build's success is written, so
  // no one can read "ready" and then hear no_eligible_hosts.
  auto rt = fast_template_on_threads();
  const auto hosts = ok(rt->hosts().get());
  REQUIRE(hosts.size() == 1);
  const auto build = ok(rt->get_template(tenant, "team/fast").get()).tags.at("stable");
  const auto artifact = hosts.front().artifacts.find(build);
  REQUIRE(artifact != hosts.front().artifacts.end());
  CHECK(artifact->second == "ready");
  api::sandbox_request cold;
  cold.template_ref = "team/fast:stable";
  auto sandbox = ok(rt->create_sandbox(tenant, cold).get());
  CHECK(sandbox.state == "running");
  CHECK(sandbox.build_id == build);
}

TEST_CASE(
    "a blocked call gives up at the call timeout, and the runtime answers the next one "
    "(threads, not the test scheduler)") {
  auto world = std::make_shared<vmm::sim_world>();
  runtime_options options;
  options.sim_world = world;
  options.call_timeout = 300ms;
  options.sim.cold_latency = 10ms;
  auto rt = fast_template_on_threads(options);
  // A cold create whose VM never comes up: nothing answers it in time.
  world->hang_restores("local", 1);
  api::sandbox_request cold;
  cold.template_ref = "team/fast:stable";
  const auto asked = std::chrono::steady_clock::now();
  auto hung = rt->create_sandbox(tenant, cold).get();
  const auto waited = std::chrono::steady_clock::now() - asked;
  auto error = fails(std::move(hung), model::errc::unavailable);
  CHECK(error.message == "no answer within the call timeout");
  CHECK(waited >= 300ms);
  // The next restore is not held up: the same call is answered.
  auto answered = ok(rt->create_sandbox(tenant, cold).get());
  CHECK(answered.state == "running");
}

TEST_CASE(
    "a sandbox checked out from a pool can be read and deleted as soon as its caller has "
    "the answer, and read as destroyed after (threads, not the test scheduler)") {
  // A checkout's answer comes from the pool, not the controller that keeps
  // the registry of sandboxes: the registry must know of it first. A
  // destroyed sandbox's actor ends, and the registry answers for it: a read
  // racing that hand-over is answered too.
  auto rt = fast_pool_on_threads();
  auto outcome = on_threads(*rt, 100, [&](const api::sandbox_info& sandbox) {
    std::vector<std::string> problems;
    auto read = rt->get_sandbox(tenant, sandbox.id).get();
    auto deleted = rt->delete_sandbox(tenant, sandbox.id).get();
    auto after = rt->get_sandbox(tenant, sandbox.id).get();
    auto again = rt->delete_sandbox(tenant, sandbox.id).get();
    if (!read)
      problems.push_back("get " + sandbox.id + ": " + read.error().message);
    else if (read->vm_id != sandbox.vm_id)
      problems.push_back("get " + sandbox.id + ": another VM");
    if (!deleted)
      problems.push_back("delete " + sandbox.id + ": " + deleted.error().message);
    for (const auto* destroyed : {&after, &again})
      if (!*destroyed)
        problems.push_back("after the delete " + sandbox.id + ": " +
                           destroyed->error().message);
      else if ((*destroyed)->state != "destroyed")
        problems.push_back("after the delete " + sandbox.id + ": " + (*destroyed)->state);
    return problems;
  });
  CHECK(outcome.failures == 0);
  CHECK(outcome.checkouts == 400);
  CHECK_MESSAGE(outcome.problems.empty(), outcome.summary());
}

TEST_CASE(
    "a checked-out sandbox whose VM dies as it is deleted is destroyed, and read as "
    "destroyed after (threads, not the test scheduler)") {
  // The failure makes its actor hand its state back to the registry while
  // the delete is on its way to it: the delete must still be carried out.
  auto rt = fast_pool_on_threads();
  auto outcome = on_threads(*rt, 50, [&](const api::sandbox_info& sandbox) {
    std::vector<std::string> problems;
    auto paused = rt->pause_sandbox(tenant, sandbox.id).get(); // wakes its actor
    rt->sim().kill_vm(sandbox.vm_id);
    auto deleted = rt->delete_sandbox(tenant, sandbox.id).get();
    auto after = rt->get_sandbox(tenant, sandbox.id).get();
    if (!paused)
      problems.push_back("pause " + sandbox.id + ": " + paused.error().message);
    for (const auto* destroyed : {&deleted, &after})
      if (!*destroyed)
        problems.push_back(sandbox.id + ": " + destroyed->error().message);
      else if ((*destroyed)->state != "destroyed")
        problems.push_back(sandbox.id + ": " + (*destroyed)->state);
    return problems;
  });
  CHECK(outcome.failures == 0);
  CHECK(outcome.checkouts == 200);
  CHECK_MESSAGE(outcome.problems.empty(), outcome.summary());
}

TEST_CASE("wait_pool follows a pool until it holds what is asked, and gives up at the "
          "timeout with the pool as it was (threads, not the test scheduler)") {
  runtime_options options;
  options.call_timeout = 2s;
  options.sim.restore_latency = 5ms;
  auto rt = fast_template_on_threads(options);
  api::pool_spec spec;
  spec.template_ref = "team/fast:stable";
  spec.name = "followed";
  spec.min_ready = 8;
  spec.max_ready = 8;
  auto created = ok(rt->create_pool(tenant, spec).get());
  auto full = ok(rt->wait_pool(
      tenant, created.id, [](const api::pool_info& p) { return p.status.ready == 8; },
      30s));
  CHECK(full.status.ready == 8);
  CHECK(full.revision > created.revision);

  // Never nine: the timeout ends the wait (past the call timeout, so it
  // takes several watches), with the pool as it was.
  const auto asked = std::chrono::steady_clock::now();
  auto never = ok(rt->wait_pool(
      tenant, created.id, [](const api::pool_info& p) { return p.status.ready == 9; },
      2500ms));
  CHECK(std::chrono::steady_clock::now() - asked >= 2500ms);
  CHECK(never.status.ready == 8);
  CHECK(never.revision == full.revision);

  auto missing = rt->wait_pool(
      tenant, "twp_nowhere", [](const api::pool_info&) { return true; }, 1s);
  fails(std::move(missing), model::errc::not_found);
}

TEST_CASE("wait_events wakes a follower of the journal at the next durable write "
          "(threads, not the test scheduler)") {
  auto rt = fast_template_on_threads();
  std::uint64_t last = 0;
  for (auto page = ok(rt->read_events("", 1, 1000)); !page.empty();
       page = ok(rt->read_events("", last + 1, 1000)))
    last = page.back().position;
  // Several followers at once, one of them for a position nobody writes.
  auto first = rt->wait_events(last + 1, 10s);
  auto second = rt->wait_events(last + 1, 10s);
  auto far = rt->wait_events(last + 1'000'000, 300ms);
  api::pool_spec spec;
  spec.template_ref = "team/fast:stable";
  spec.name = "followed";
  spec.max_ready = 1;
  ok(rt->create_pool(tenant, spec).get());
  CHECK(ok(first.get()));
  CHECK(ok(second.get()));
  CHECK_FALSE(ok(far.get()));
  CHECK(ok(rt->read_events("", last + 1, 1)).size() == 1);
}
