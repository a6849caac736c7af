#include "runtime_fixture.hpp"

using namespace hearth;
using namespace hearth::testing;

TEST_CASE_FIXTURE(runtime_fixture, "a pool fills, hands out a ready VM, and refills") {
  start();
  auto built = build("team/review-api");
  CHECK(built.status == "ready");
  CHECK(built.canonical_ref == "team/review-api@" + built.build_id);
  auto pool = create_pool("team/review-api:stable", "review-api-small", 2, 4);
  CHECK(pool.id == "twp_review_api_small");
  advance(2s);
  auto st = status(pool.id);
  CHECK(st.ready == 2);
  CHECK(st.target == 2);

  auto sandbox = ok(rt->create_sandbox(tenant, from_pool(pool.id, "prefer", 1500)).get());
  CHECK(sandbox.warm_pool_checkout.considered);
  CHECK(sandbox.warm_pool_checkout.hit);
  CHECK(sandbox.warm_pool_checkout.source == "warm_pool");
  CHECK(sandbox.warm_pool_checkout.id == pool.id);
  CHECK(sandbox.warm_pool_checkout.mode == "prefer");
  CHECK(sandbox.state == "running");
  CHECK(sandbox.endpoints.count("8080") == 1);
  st = status(pool.id);
  CHECK(st.claimed == 1);
  advance(2s);
  st = status(pool.id);
  CHECK(st.ready == 2);
  CHECK(ok(rt->get_sandbox(tenant, sandbox.id).get()).state == "running");
}
