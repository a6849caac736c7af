// Every (from, to) pair of the member and sandbox state machines.
#include <doctest/doctest.h>

#include <set>
#include <utility>

#include "hearth/model/pool_state.hpp"
#include "hearth/model/sandbox_state.hpp"

using namespace hearth::model;

TEST_CASE("member transitions: exactly the documented ones are valid") {
  const member_state all[] = {member_state::warming,  member_state::ready,
                              member_state::claimed,  member_state::failed,
                              member_state::expired,  member_state::draining,
                              member_state::destroyed, member_state::unavailable};
  using M = member_state;
  const std::set<std::pair<M, M>> allowed = {
    {M::warming, M::ready},       {M::warming, M::failed},   {M::warming, M::draining},
    {M::warming, M::unavailable}, {M::ready, M::claimed},    {M::ready, M::expired},
    {M::ready, M::draining},      {M::ready, M::unavailable}, {M::ready, M::failed},
    {M::draining, M::destroyed},  {M::draining, M::unavailable},
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
  const S all[] = {S::creating, S::running, S::paused, S::hibernated,
                   S::destroying, S::destroyed, S::failed};
  const std::set<std::pair<S, S>> allowed = {
    {S::creating, S::running},   {S::creating, S::failed},     {S::creating, S::destroying},
    {S::running, S::paused},     {S::running, S::hibernated},  {S::running, S::destroying},
    {S::running, S::failed},     {S::paused, S::running},      {S::paused, S::destroying},
    {S::paused, S::failed},      {S::hibernated, S::running},  {S::hibernated, S::destroying},
    {S::hibernated, S::failed},  {S::failed, S::destroying},   {S::destroying, S::destroyed},
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
