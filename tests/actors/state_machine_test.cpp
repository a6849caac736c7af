// Every (from, to) pair of the member and sandbox state machines.
#include <doctest/doctest.h>
#include <set>
#include <utility>

#include "hearth/events/codec.hpp"
#include "hearth/model/pool_state.hpp"
#include "hearth/model/sandbox_state.hpp"

using namespace hearth::model;

TEST_CASE("member transitions: exactly the documented ones are valid") {
  const member_state all[] = {member_state::warming,   member_state::ready,
                              member_state::claimed,   member_state::failed,
                              member_state::expired,   member_state::draining,
                              member_state::destroyed, member_state::unavailable};
  using M = member_state;
  const std::set<std::pair<M, M>> allowed = {
      {M::warming, M::ready},        {M::warming, M::failed},
      {M::warming, M::draining},     {M::warming, M::unavailable},
      {M::ready, M::claimed},        {M::ready, M::expired},
      {M::ready, M::draining},       {M::ready, M::unavailable},
      {M::ready, M::failed},         {M::draining, M::destroyed},
      {M::draining, M::unavailable},
  };
  int valid = 0;
  for (auto from : all)
    for (auto to : all) {
      CAPTURE(to_string(from));
      CAPTURE(to_string(to));
      CHECK(valid_transition(from, to) == (allowed.count({from, to}) > 0));
      valid += valid_transition(from, to) ? 1 : 0;
    }
  CHECK(valid == 11);
  // Claimed is final: a claimed member never returns to the pool.
  for (auto to : all)
    CHECK_FALSE(valid_transition(M::claimed, to));
}

TEST_CASE("sandbox transitions: exactly the documented ones are valid") {
  using S = sandbox_status;
  const S all[] = {S::creating,   S::running,   S::paused, S::hibernated,
                   S::destroying, S::destroyed, S::failed};
  const std::set<std::pair<S, S>> allowed = {
      {S::creating, S::running},     {S::creating, S::failed},
      {S::creating, S::destroying},  {S::running, S::paused},
      {S::running, S::hibernated},   {S::running, S::destroying},
      {S::running, S::failed},       {S::paused, S::running},
      {S::paused, S::destroying},    {S::paused, S::failed},
      {S::hibernated, S::running},   {S::hibernated, S::destroying},
      {S::hibernated, S::failed},    {S::failed, S::destroying},
      {S::destroying, S::destroyed},
  };
  for (auto from : all)
    for (auto to : all) {
      CAPTURE(to_string(from));
      CAPTURE(to_string(to));
      CHECK(valid_transition(from, to) == (allowed.count({from, to}) > 0));
    }
}

TEST_CASE("a pool state refuses events that do not fit it and changes nothing") {
  pool_state s;
  // A member event before the pool exists.
  CHECK_FALSE(s.apply(hearth::events::member_ready{"p.m1", {}, 1}));
  CHECK(s.apply(hearth::events::pool_created{"p", "t", "p", {}, "b1"}));
  CHECK(s.apply(hearth::events::member_warming{"p.m1", "b1", 1, "h", 1}));
  // Claiming a warming member is not allowed.
  CHECK_FALSE(s.apply(hearth::events::member_claimed{"p.m1", "sbx", 2, "prefer"}));
  CHECK(s.members.at("p.m1").state == member_state::warming);
  CHECK(s.apply(hearth::events::member_ready{"p.m1", {}, 3}));
  CHECK(s.apply(hearth::events::member_claimed{"p.m1", "sbx", 4, "prefer"}));
  // Claimed twice: refused.
  CHECK_FALSE(s.apply(hearth::events::member_claimed{"p.m1", "sbx2", 5, "prefer"}));
  CHECK(s.status().claimed == 1);
}

TEST_CASE(
    "a pool hands out its oldest ready member of the current generation, also after its "
    "state was copied or decoded") {
  using namespace hearth::events;
  pool_state s;
  REQUIRE(s.apply(pool_created{"p", "t", "p", {}, "b1"}));
  CHECK(s.pick_ready() == nullptr);
  for (int i = 1; i <= 4; ++i)
    REQUIRE(s.apply(member_warming{"p.m" + std::to_string(i), "b1", 1, "h", i}));
  // Ready in the order m3, m1, m4 (m2 stays warming).
  REQUIRE(s.apply(member_ready{"p.m3", {}, 10}));
  CHECK(s.pick_ready()->id == "p.m3");
  REQUIRE(s.apply(member_ready{"p.m1", {}, 11}));
  REQUIRE(s.apply(member_ready{"p.m4", {}, 12}));
  CHECK(s.pick_ready()->id == "p.m3");
  REQUIRE(s.apply(member_claimed{"p.m3", "sbx1", 13, "prefer"}));
  CHECK(s.pick_ready()->id == "p.m1");
  // A copy, and a state decoded from a snapshot, pick the same.
  const pool_state copy = s;
  CHECK(copy.pick_ready()->id == "p.m1");
  auto decoded = decode_payload<pool_state>(encode_payload(s));
  REQUIRE(decoded);
  CHECK(decoded->pick_ready()->id == "p.m1");
  // Leaving ready by any way takes a member out of the choice.
  REQUIRE(s.apply(member_changed{"p.m1", "draining", "", 14}));
  CHECK(s.pick_ready()->id == "p.m4");
  REQUIRE(decoded->apply(member_changed{"p.m1", "failed", "vm died", 14}));
  CHECK(decoded->pick_ready()->id == "p.m4");
  // A new generation: old members are not handed out, new ones are.
  REQUIRE(s.apply(rollout_started{2, "b2"}));
  CHECK(s.pick_ready() == nullptr);
  REQUIRE(s.apply(member_warming{"p.m5", "b2", 2, "h", 15}));
  REQUIRE(s.apply(member_ready{"p.m5", {}, 16}));
  CHECK(s.pick_ready()->id == "p.m5");
  REQUIRE(s.apply(member_ready{"p.m2", {}, 17})); // an old-generation fill finishing late
  CHECK(s.pick_ready()->id == "p.m5");
}
