// A pool's index of its members (what status, checkout and reconcile read
// instead of walking every member) against a walk over every member, after
// random sequences of events: kept up to date by apply, rebuilt after a copy
// or a decode, and the reconcile plans made from it.
#include <algorithm>
#include <doctest/doctest.h>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "hearth/events/codec.hpp"
#include "hearth/model/pool_planner.hpp"
#include "hearth/model/pool_state.hpp"

using namespace hearth::model;
namespace ev = hearth::events;

namespace {

using age_list = std::vector<std::pair<std::int64_t, std::string>>;

age_list walked(const pool_state& s, member_state state) {
  age_list out;
  for (const auto& [id, m] : s.members)
    if (m.state == state)
      out.emplace_back(m.since_ns, id);
  std::sort(out.begin(), out.end());
  return out;
}

age_list indexed(const members_by_age& index) {
  age_list out;
  for (const auto& [since, m] : index)
    out.emplace_back(since, m->id);
  return out;
}

/// Every answer the index gives, checked against a walk over the members.
void check_index(const pool_state& s) {
  const auto ready = walked(s, member_state::ready);
  const auto warming = walked(s, member_state::warming);
  CHECK(indexed(s.ready_by_age()) == ready);
  CHECK(indexed(s.warming_by_age()) == warming);
  const auto status = s.status();
  CHECK(status.ready == ready.size());
  CHECK(status.warming == warming.size());
  CHECK(status.draining == walked(s, member_state::draining).size());
  bool old = false;
  for (const auto& [id, m] : s.members)
    old |= (m.state == member_state::ready || m.state == member_state::warming) &&
           m.generation < s.generation;
  CHECK(s.has_old_generation() == old);
  const member* oldest = nullptr;
  for (const auto& [since, id] : ready)
    if (s.members.at(id).generation == s.generation) {
      oldest = &s.members.at(id);
      break;
    }
  CHECK(s.pick_ready() == oldest);
}

/// The members a reconcile takes out, as it decided before the index: a
/// walk over every member, in the members' order.
std::vector<std::pair<std::string, std::string>>
walked_leaving(const pool_state& s, std::int64_t now, const pool_options& options) {
  auto ns = [](std::chrono::milliseconds d) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
  };
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [id, m] : s.members) {
    if (m.state == member_state::ready && options.idle_ttl.count() > 0 &&
        now >= m.since_ns + ns(options.idle_ttl)) {
      out.emplace_back(id, "expired");
      continue;
    }
    if (m.state == member_state::warming &&
        now >= m.since_ns + ns(options.warming_deadline)) {
      out.emplace_back(id, "failed");
      continue;
    }
    const bool live = m.state == member_state::ready || m.state == member_state::warming;
    if (live && (s.draining || m.generation < s.generation))
      out.emplace_back(id, "draining");
  }
  return out;
}

/// A random event for `s`: mostly ones that fit, some that do not.
ev::domain_event random_event(const pool_state& s, std::mt19937& rng,
                              std::int64_t& clock) {
  auto pick = [&](member_state state) -> std::string {
    std::vector<std::string> ids;
    for (const auto& [id, m] : s.members)
      if (m.state == state)
        ids.push_back(id);
    if (ids.empty())
      return "p.m0"; // no such member: refused
    return ids[std::uniform_int_distribution<std::size_t>(0, ids.size() - 1)(rng)];
  };
  // Times repeat now and then: ties are ordered by id.
  clock += std::uniform_int_distribution<int>(0, 2)(rng);
  const std::int64_t now = clock;
  const char* targets[] = {"failed", "expired", "draining", "destroyed", "unavailable"};
  switch (std::uniform_int_distribution<int>(0, 13)(rng)) {
  case 0:
  case 1:
  case 2: {
    // Now and then a fill of the generation before (one finishing late).
    const std::uint64_t generation =
        s.generation > 1 && rng() % 4 == 0 ? s.generation - 1 : s.generation;
    return ev::member_warming{s.next_member_id(), "b", generation, "h", now};
  }
  case 3:
  case 4:
  case 5:
    return ev::member_ready{pick(member_state::warming), {}, now};
  case 6:
  case 7:
    return ev::member_claimed{pick(member_state::ready), "sbx", now, "require"};
  case 8:
  case 9: {
    const member_state from = rng() % 3 == 0   ? member_state::draining
                              : rng() % 2 == 0 ? member_state::warming
                                               : member_state::ready;
    return ev::member_changed{pick(from), targets[rng() % 5], "", now};
  }
  case 10:
    return ev::rollout_started{s.generation + 1, "b" + std::to_string(s.generation + 1)};
  case 11:
    return ev::pool_lifecycle{rng() % 2 == 0 ? "drain_started" : "enabled"};
  case 12:
    return ev::degraded_changed{rng() % 2 == 0 ? "" : "quota_exceeded"};
  default:
    return ev::member_ready{pick(member_state::ready), {}, now}; // refused: ready already
  }
}

} // namespace

TEST_CASE("a pool's member index agrees with a walk over its members after any events, "
          "also in a copy and a decoded state") {
  for (unsigned seed = 1; seed <= 20; ++seed) {
    CAPTURE(seed);
    std::mt19937 rng(seed);
    std::int64_t clock = 0;
    pool_state s;       // queried after every event: its index is kept up to date
    pool_state unasked; // never queried until the end: its index is built then
    REQUIRE(s.apply(ev::pool_created{"p", "t", "p", {}, "b1"}));
    REQUIRE(unasked.apply(ev::pool_created{"p", "t", "p", {}, "b1"}));
    check_index(s);
    for (int step = 0; step < 400; ++step) {
      CAPTURE(step);
      const auto event = random_event(s, rng, clock);
      const bool applied = s.apply(event);
      CHECK(unasked.apply(event) == applied);
      check_index(s);
      if (step % 50 == 49) {
        // A copy and a decoded state build their own index, which then
        // follows their own events, not the original's.
        pool_state copy = s;
        auto decoded =
            hearth::events::decode_payload<pool_state>(hearth::events::encode_payload(s));
        REQUIRE(decoded);
        check_index(copy);
        check_index(*decoded);
        const auto next = random_event(s, rng, clock);
        CHECK(copy.apply(next) == decoded->apply(next));
        check_index(copy);
        check_index(*decoded);
        check_index(s);
      }
    }
    check_index(unasked);
  }
}

TEST_CASE(
    "a reconcile takes out the members a walk over every member would, in the members' "
    "order") {
  for (unsigned seed = 1; seed <= 20; ++seed) {
    CAPTURE(seed);
    std::mt19937 rng(seed * 7919);
    std::int64_t clock = 0;
    pool_state s;
    REQUIRE(s.apply(ev::pool_created{"p", "t", "p", {}, "b1"}));
    for (int step = 0; step < 300; ++step) {
      s.apply(random_event(s, rng, clock));
      if (step % 10 != 9)
        continue;
      CAPTURE(step);
      pool_options options;
      options.idle_ttl = std::chrono::milliseconds(rng() % 2 == 0 ? 0 : 1);
      options.warming_deadline = std::chrono::milliseconds(1);
      options.destroy_budget_per_tick = 1000;
      pool_context context;
      // Some members past their ttl or deadline (times above are in ns).
      context.now_ns =
          clock + 1'000'000 - std::uniform_int_distribution<int>(0, 100)(rng);
      context.usable_builds = {s.build_id};
      const auto plan = plan_reconcile(s, context, options);
      std::vector<std::pair<std::string, std::string>> left;
      for (const auto& e : plan.events)
        if (const auto* change = std::get_if<ev::member_changed>(&e))
          left.emplace_back(change->member_id, change->to);
      CHECK(left == walked_leaving(s, context.now_ns, options));
      // Destroyed: those that failed or expired, then every draining member.
      pool_state after = s;
      for (const auto& e : plan.events)
        after.apply(e);
      std::vector<std::string> destroys;
      for (const auto& [id, to] : left)
        if (to != "draining")
          destroys.push_back(id);
      for (const auto& [id, m] : after.members)
        if (m.state == member_state::draining)
          destroys.push_back(id);
      CHECK(plan.destroys == destroys);
    }
  }
}
