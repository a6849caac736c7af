// hearthd killed with SIGKILL in the middle of a burst of sandbox creates:
// what it acknowledged is there after a restart, no VM went to two
// sandboxes, and the pool fills again.
#include <atomic>
#include <condition_variable>
#include <doctest/doctest.h>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <set>

#include "server/daemon.hpp"
#include "support/temp_dir.hpp"

using namespace hearth::testing;
using nlohmann::json;

namespace {

struct burst_outcome {
  std::vector<json> acknowledged;
  std::size_t failed_requests = 0;
};

/// Creates sandboxes from `pool` on `clients` connections until hearthd
/// stops answering; collects every 2xx answer. `acknowledged` hears the
/// count after each one.
burst_outcome burst(std::uint16_t port, const std::string& key, const std::string& pool,
                    int clients, const std::function<void(std::size_t)>& acknowledged) {
  burst_outcome out;
  std::mutex mutex;
  std::vector<std::thread> threads;
  for (int i = 0; i < clients; ++i)
    threads.emplace_back([&] {
      for (;;) {
        auto reply = call_api(port, key, "POST", "/v1/sandboxes",
                              json{{"warm_pool", pool},
                                   {"warm_pool_mode", "prefer"},
                                   {"warm_pool_wait_ms", 1000}});
        std::lock_guard<std::mutex> lock(mutex);
        if (reply.status == 0)
          return; // hearthd is gone
        if (reply.status == 201) {
          out.acknowledged.push_back(reply.json);
          acknowledged(out.acknowledged.size());
        } else
          ++out.failed_requests;
      }
    });
  for (auto& t : threads)
    t.join();
  return out;
}

} // namespace

TEST_CASE("hearthd killed with SIGKILL during a burst of creates loses no acknowledged "
          "sandbox, "
          "hands no VM to two sandboxes, and refills the pool after restart") {
  temp_dir dir;
  // Fast refills, so that many claims are in flight when the kill comes.
  {
    std::ofstream config(dir.str("hearthd.toml"));
    config << "[pools]\ntick_ms = 100\nfill_budget_per_tick = 8\n";
  }
  std::vector<std::string> flags{"--config", dir.str("hearthd.toml")};
  for (const auto& flag : driver_flags())
    flags.push_back(flag);
  const auto port = free_port();
  std::mt19937 random(std::random_device{}());
  for (int round = 0; round < 3; ++round) {
    CAPTURE(round);
    auto daemon = std::make_unique<daemon_process>(dir.str("data"),
                                                   dir.str("hearthd.log"), flags, port);
    REQUIRE(daemon->wait_ready());
    const auto key = daemon->key();
    if (round == 0) {
      auto build = call_api(port, key, "POST", "/v1/templates/acme/web/builds",
                            json{{"spec", {{"base", "busybox"}, {"start_cmd", "httpd"}}},
                                 {"tags", {"stable"}}});
      REQUIRE(build.status == 202);
      REQUIRE(build_outcome(port, key, "acme/web", build.json["build_id"]) == "ready");
      REQUIRE(call_api(port, key, "POST", "/v1/template-warm-pools",
                       json{{"template", "acme/web:stable"},
                            {"name", "web"},
                            {"min_ready", 8},
                            {"max_ready", 8}})
                  .status == 201);
    }
    const bool filled = ready_count_reaches(port, key, "twp_web", 8);
    if (!filled)
      MESSAGE("hearthd's log ends:\n" << tail(daemon->log()));
    REQUIRE(filled);

    // Kill it right after a random number of acknowledged creates: claims,
    // refills and sandbox records are in flight then.
    const std::size_t kill_at = 4 + random() % 40;
    std::mutex mutex;
    std::condition_variable reached;
    std::size_t count = 0;
    std::thread killer([&] {
      std::unique_lock<std::mutex> lock(mutex);
      // The deadline only bounds a hearthd that stopped answering.
      reached.wait_for(lock, std::chrono::seconds(120), [&] { return count >= kill_at; });
      daemon->kill_hard();
    });
    auto outcome = burst(port, key, "twp_web", 8, [&](std::size_t acknowledged) {
      std::lock_guard<std::mutex> lock(mutex);
      count = acknowledged;
      if (count >= kill_at)
        reached.notify_one();
    });
    killer.join();
    MESSAGE("round " << round << ": killed after create " << kill_at << ", "
                     << outcome.acknowledged.size() << " creates acknowledged");
    REQUIRE(outcome.acknowledged.size() >= kill_at);

    daemon = std::make_unique<daemon_process>(dir.str("data"), dir.str("hearthd.log"),
                                              flags, port);
    REQUIRE(daemon->wait_ready());
    // Every acknowledged sandbox is there, as it was answered.
    for (const auto& sandbox : outcome.acknowledged) {
      const std::string id = sandbox["id"];
      auto stored = call_api(port, key, "GET", "/v1/sandboxes/" + id);
      CAPTURE(id);
      REQUIRE(stored.status == 200);
      CHECK(stored.json["vm_id"] == sandbox["vm_id"]);
      CHECK(stored.json["warm_pool_checkout"] == sandbox["warm_pool_checkout"]);
    }
    // No VM belongs to two sandboxes.
    auto all = call_api(port, key, "GET", "/v1/sandboxes");
    REQUIRE(all.status == 200);
    std::map<std::string, std::string> owner;
    for (const auto& sandbox : all.json) {
      const std::string vm = sandbox["vm_id"];
      if (vm.empty())
        continue;
      CAPTURE(vm);
      CHECK(owner.emplace(vm, sandbox["id"].get<std::string>()).second);
    }
    // The pool fills again.
    const bool refilled = ready_count_reaches(port, key, "twp_web", 8);
    if (!refilled)
      MESSAGE("hearthd's log ends:\n" << tail(daemon->log()));
    CHECK(refilled);
    // The next round starts from a SIGKILL too (graceful stop has its own
    // test in hearthd_test.cpp).
    daemon->kill_hard();
  }
}
