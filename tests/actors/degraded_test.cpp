// Seed rules 9 and 10: each degraded reason is set while its condition holds
// and cleared when it stops; quota; hosts.
#include "runtime_fixture.hpp"

using namespace hearth;
using namespace hearth::testing;

TEST_CASE_FIXTURE(runtime_fixture,
                  "controller_disabled comes from the deployment, not the pool") {
  options.data_dir = "";
  temp_dir dir;
  options.data_dir = dir.str();
  options.controller_disabled = true;
  start();
  build("team/review-api");
  auto pool = create_pool("team/review-api:stable", "off", 2, 2);
  advance(3s);
  auto info = this->info(pool.id);
  CHECK(info.degraded_reason == "controller_disabled");
  CHECK(info.status.ready == 0);
  CHECK(info.enabled); // the pool itself is enabled
  stop();
  options.controller_disabled = false;
  start();
  advance(2s);
  info = this->info(pool.id);
  CHECK(info.degraded_reason == "");
  CHECK(info.status.ready == 2);
}

TEST_CASE_FIXTURE(runtime_fixture,
                  "drain_active holds while draining and clears on enable") {
  start();
  build("team/review-api");
  auto pool = create_pool("team/review-api:stable", "drainable", 1, 1);
  advance(1s);
  CHECK(info(pool.id).degraded_reason == "");
  CHECK(ok(rt->drain_pool(tenant, pool.id).get()).degraded_reason == "drain_active");
  auto enabled = ok(rt->enable_pool(tenant, pool.id).get());
  CHECK_FALSE(enabled.draining);
  CHECK(enabled.degraded_reason == "");
  advance(1s);
  CHECK(status(pool.id).ready == 1);
}

TEST_CASE_FIXTURE(
    runtime_fixture,
    "template_build_unavailable holds while the resolved build is deleted") {
  start();
  auto v1 = build("team/review-api", {"stable"}, "v1");
  auto pool = create_pool("team/review-api@" + v1.build_id, "pinned", 1, 1);
  advance(1s);
  auto v2 = build("team/review-api", {"stable"}, "v2");
  // Deleting a build a tag points at is refused; v1 has no tag any more.
  fails(rt->delete_build(tenant, "team/review-api", v2.build_id).get(),
        model::errc::conflict);
  CHECK(ok(rt->delete_build(tenant, "team/review-api", v1.build_id).get()).status ==
        "deleted");
  advance(1s);
  auto info = this->info(pool.id);
  CHECK(info.degraded_reason == "template_build_unavailable");
  // A checkout of the ready member still works: running VMs keep running.
  ok(rt->create_sandbox(tenant, from_pool(pool.id, "require", 0)).get());
  advance(2s);
  CHECK(status(pool.id).ready == 0); // nothing to fill from
  api::pool_patch patch;
  patch.set_template = true;
  patch.template_ref = "team/review-api:stable";
  auto updated = ok(rt->update_pool(tenant, pool.id, patch).get());
  CHECK(updated.build_id == v2.build_id);
  CHECK(updated.degraded_reason == "");
  advance(1s);
  CHECK(status(pool.id).ready == 1);
}

TEST_CASE_FIXTURE(runtime_fixture,
                  "quota: reserved capacity bounds pools and sandboxes") {
  options.default_quota_vcpus = 4;
  options.default_quota_memory_mb = 4096;
  start();
  build("team/review-api");
  // A pool reserves max_ready x size: 3 x 2 vcpus does not fit in 4.
  api::pool_spec big;
  big.template_ref = "team/review-api:stable";
  big.name = "big";
  big.min_ready = 1;
  big.max_ready = 3;
  big.vcpus = 2;
  auto refused = fails(rt->create_pool(tenant, big).get(), model::errc::quota_exceeded);
  CHECK(refused.message.find("quota") != std::string::npos);
  CHECK(ok(rt->list_pools(tenant).get()).empty());

  auto pool = create_pool("team/review-api:stable", "small", 2, 2); // reserves 2 vcpus
  advance(1s);
  auto a = ok(rt->create_sandbox(tenant, from_pool(pool.id, "require", 0)).get());
  auto b = ok(rt->create_sandbox(tenant, from_pool(pool.id, "require", 0)).get());
  advance(1s);
  // 2 reserved + 2 sandboxes = 4: the pool may still refill.
  CHECK(info(pool.id).degraded_reason == "");
  CHECK(status(pool.id).ready == 2);
  auto c = ok(rt->create_sandbox(tenant, from_pool(pool.id, "require", 0)).get());
  advance(1s);
  // 2 reserved + 3 sandboxes = 5 > 4: refill blocked.
  auto blocked = info(pool.id);
  CHECK(blocked.degraded_reason == "quota_exceeded");
  CHECK(blocked.status.ready == 1);
  // A cold create over quota fails.
  api::sandbox_request cold;
  cold.template_ref = "team/review-api:stable";
  fails(rt->create_sandbox(tenant, cold).get(), model::errc::quota_exceeded);
  // Destroying sandboxes frees quota; the pool recovers.
  auto gone = rt->delete_sandbox(tenant, c.id);
  advance(100ms);
  ok(gone.get());
  advance(1s);
  auto recovered = info(pool.id);
  CHECK(recovered.degraded_reason == "");
  CHECK(recovered.status.ready == 2);
  (void)a;
  (void)b;
}

TEST_CASE_FIXTURE(runtime_fixture,
                  "no_eligible_hosts holds while no host has room for a member") {
  options.hosts = {host_config{"local", 2, 8192}};
  start();
  build("team/review-api");
  auto pool = create_pool("team/review-api:stable", "too-big", 4, 4);
  advance(2s);
  auto info = this->info(pool.id);
  CHECK(info.status.ready == 2); // what fits
  CHECK(info.degraded_reason == "no_eligible_hosts");
  api::pool_patch patch;
  patch.set_min_ready = true;
  patch.min_ready = 2;
  patch.set_max_ready = true;
  patch.max_ready = 2;
  auto updated = ok(rt->update_pool(tenant, pool.id, patch).get());
  CHECK(updated.degraded_reason == "");
}

TEST_CASE_FIXTURE(
    runtime_fixture,
    "artifact_not_ready holds until the artifact is on the host that has room") {
  // Builds run on the first host, which has room for nothing else.
  options.hosts = {host_config{"builder", 1, 1024}, host_config{"worker", 8, 8192}};
  start();
  build("team/review-api");
  auto pool = create_pool("team/review-api:stable", "remote", 2, 2);
  rt->run();
  advance(100ms);
  // The builder host has the artifact but room for one VM; the worker has
  // room but no artifact yet: it is being prepared (500 ms).
  auto info = this->info(pool.id);
  CHECK(info.degraded_reason == "artifact_not_ready");
  advance(2s);
  info = this->info(pool.id);
  CHECK(info.degraded_reason == "");
  CHECK(info.status.ready == 2);
  auto hosts = ok(rt->hosts().get());
  REQUIRE(hosts.size() == 2);
  CHECK(hosts[1].id == "worker");
  CHECK(hosts[1].artifacts.size() == 1);
}

TEST_CASE_FIXTURE(runtime_fixture,
                  "artifact_prewarm_failed holds when preparing the artifact failed") {
  options.hosts = {host_config{"builder", 0, 0}, host_config{"worker", 8, 8192}};
  start();
  world->fail_prepare("worker", model::build_id_for(http_spec("v1")));
  build("team/review-api");
  auto pool = create_pool("team/review-api:stable", "doomed", 1, 1);
  advance(2s);
  CHECK(info(pool.id).degraded_reason == "artifact_prewarm_failed");
  CHECK(status(pool.id).ready == 0);
}

TEST_CASE_FIXTURE(
    runtime_fixture,
    "fills spread across hosts, and a lost host's members are refilled elsewhere") {
  options.hosts = {host_config{"a", 8, 8192}, host_config{"b", 8, 8192}};
  start();
  auto built = build("team/review-api");
  advance(1s); // the artifact is prewarmed on host b
  CHECK(ok(rt->hosts().get())[1].artifacts.at(built.build_id) == "ready");
  auto pool = create_pool("team/review-api:stable", "spread", 4, 4);
  advance(3s);
  REQUIRE(status(pool.id).ready == 4);
  auto hosts = ok(rt->hosts().get());
  CHECK(hosts[0].used_vcpus == 2);
  CHECK(hosts[1].used_vcpus == 2);
  auto sandbox = ok(rt->create_sandbox(tenant, from_pool(pool.id, "require", 0)).get());
  advance(1s);

  world->lose_host(sandbox.host);
  rt->run();
  auto st = status(pool.id);
  CHECK(st.unavailable >= 1);
  CHECK(ok(rt->get_sandbox(tenant, sandbox.id).get()).state == "failed");
  advance(3s);
  st = status(pool.id);
  CHECK(st.ready == 4);
  hosts = ok(rt->hosts().get());
  for (const auto& h : hosts) {
    if (h.id == sandbox.host) {
      CHECK_FALSE(h.healthy);
      CHECK(h.used_vcpus == 0);
    } else {
      CHECK(h.used_vcpus == 4);
    }
  }
  (void)built;
}
