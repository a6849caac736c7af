// hearthd as an operator runs it: a real process, real HTTP on loopback.
#include <doctest/doctest.h>
#include <fstream>
#include <sys/stat.h>
#include <thread>

#include "server/daemon.hpp"
#include "support/temp_dir.hpp"

using namespace hearth::testing;
using nlohmann::json;

namespace {

const std::vector<std::string> simulated{"--driver", "simulated"};

} // namespace

TEST_CASE("hearthd answers /healthz on a fresh data directory, tells its service "
          "manager when it is ready and when it stops, and stops on SIGTERM") {
  temp_dir dir;
  daemon_process daemon(dir.str("data"), dir.str("hearthd.log"), simulated);
  // READY=1 on NOTIFY_SOCKET (systemd's Type=notify) once it serves: the
  // first request after it needs no retry.
  REQUIRE(daemon.wait_ready());
  CHECK(daemon.noticed("STATUS=serving http://127.0.0.1:" + std::to_string(daemon.port)));
  CHECK_FALSE(daemon.noticed("STOPPING=1"));
  auto health = http_request(daemon.port, "GET", "/healthz");
  CHECK(health.status == 200);
  CHECK(health.body.find(R"("status":"ok")") != std::string::npos);
  CHECK(std::filesystem::exists(dir.str("data/journal/CURRENT")));

  auto unknown = http_request(daemon.port, "GET", "/v1/nothing");
  CHECK(unknown.status == 404);
  CHECK(unknown.body.find(R"("code":"not_found")") != std::string::npos);

  CHECK(daemon.stop() == 0);
  CHECK(daemon.noticed("STOPPING=1"));
  CHECK(daemon.log().find("hearthd stopped") != std::string::npos);
}

TEST_CASE("hearthd logs each event the journal acknowledges, one line each, all of "
          "them before it stops") {
  temp_dir dir;
  daemon_process daemon(dir.str("data"), dir.str("hearthd.log"), simulated);
  REQUIRE(daemon.wait_ready());
  json spec{{"base", "busybox"}, {"start_cmd", "httpd -f -p 8080"}};
  auto started = call_api(daemon.port, daemon.key(), "POST",
                          "/v1/templates/team/logged/builds", json{{"spec", spec}});
  REQUIRE(started.status == 202);
  // Acknowledged, then a stop at once: its line is in the log all the same.
  CHECK(daemon.stop() == 0);
  const auto log = daemon.log();
  CAPTURE(tail(log));
  CHECK(log.find(" template/team/logged #1 template.build_started ") !=
        std::string::npos);
  CHECK(log.find("hearthd stopped") != std::string::npos);
}

TEST_CASE("the embedded default writes the tenant's and the admin's keys with mode 0600, "
          "keeps them across restarts, and stores only their digests") {
  temp_dir dir;
  std::string tenant_key;
  {
    daemon_process daemon(dir.str("data"), dir.str("hearthd.log"), simulated);
    REQUIRE(daemon.wait_ready());
    for (const char* file : {"tenant.key", "admin.key"}) {
      struct stat info {};
      REQUIRE(stat(dir.str(std::string("data/") + file).c_str(), &info) == 0);
      CHECK((info.st_mode & 0777) == 0600);
    }
    tenant_key = daemon.key();
    CHECK(tenant_key.rfind("hk_", 0) == 0);
    CHECK(call_api(daemon.port, tenant_key, "GET", "/v1/template-warm-pools").status ==
          200);
    CHECK(daemon.stop() == 0);
  }
  daemon_process again(dir.str("data"), dir.str("hearthd.log"), simulated);
  REQUIRE(again.wait_ready());
  CHECK(again.key() == tenant_key);
  CHECK(call_api(again.port, tenant_key, "GET", "/v1/sandboxes").status == 200);
  // The journal knows the key's digest, never the key.
  auto events =
      call_api(again.port, again.key("admin.key"), "GET", "/v1/events?limit=1000");
  REQUIRE(events.status == 200);
  CHECK(events.body.find(tenant_key) == std::string::npos);
  CHECK(events.body.find("tenant.key_added") != std::string::npos);
}

TEST_CASE("hearthd reads a TOML settings file, and names the line of a bad setting") {
  temp_dir dir;
  const auto port = free_port();
  {
    std::ofstream config(dir.str("hearthd.toml"));
    config << "listen = \"127.0.0.1:" << port << "\"\n"
           << "driver = \"simulated\"\n"
           << "destroyed_sandboxes_kept = 500\n"
           << "[host]\nvcpus = 8\nmemory_mb = 4096\n"
           << "[http]\nrequest_timeout_ms = 4000\n";
  }
  {
    daemon_process daemon(dir.str("data"), dir.str("hearthd.log"),
                          {"--config", dir.str("hearthd.toml")}, port);
    REQUIRE(daemon.wait_ready());
    auto hosts = call_api(daemon.port, daemon.key(), "GET", "/v1/hosts");
    REQUIRE(hosts.status == 200);
    CHECK(hosts.json[0]["vcpus"] == 8);
    CHECK(hosts.json[0]["memory_mb"] == 4096);
    // A long poll must end within half the request timeout.
    auto too_long =
        call_api(daemon.port, daemon.key(), "GET",
                 "/v1/templates/acme/web/builds/b0000000000000000?wait_ms=2001");
    CHECK(too_long.status == 400);
    CHECK(too_long.json["error"]["field"] == "wait_ms");
    CHECK(too_long.json["error"]["message"].get<std::string>().find("from 0 to 2000") !=
          std::string::npos);
  }
  {
    std::ofstream config(dir.str("bad.toml"));
    config << "driver = \"simulated\"\n[pools]\nfill_budget_per_tick = \"lots\"\n";
  }
  daemon_process bad(dir.str("data2"), dir.str("bad.log"),
                     {"--config", dir.str("bad.toml")});
  CHECK(bad.wait_exit() == 2);
  CHECK(bad.log().find("line 3: pools.fill_budget_per_tick must be an integer") !=
        std::string::npos);
  {
    std::ofstream config(dir.str("typo.toml"));
    config << "drvier = \"simulated\"\n";
  }
  daemon_process typo(dir.str("data3"), dir.str("typo.log"),
                      {"--config", dir.str("typo.toml")});
  CHECK(typo.wait_exit() == 2);
  CHECK(typo.log().find("line 1: unknown setting drvier") != std::string::npos);
}

TEST_CASE("hearthd bounds requests: oversized bodies get 413, garbage gets 400") {
  temp_dir dir;
  daemon_process daemon(dir.str("data"), dir.str("hearthd.log"), simulated);
  REQUIRE(daemon.wait_ready());
  auto big = http_request(daemon.port, "POST", "/v1/template-warm-pools",
                          std::string(2u << 20, 'x'));
  CHECK(big.status == 413);
  auto garbage = send_raw(daemon.port, "NOT HTTP AT ALL\r\n\r\n");
  CHECK(garbage.status == 400);
  // The daemon is still serving.
  CHECK(http_request(daemon.port, "GET", "/healthz").status == 200);
}

TEST_CASE("a second hearthd on the same data directory exits with a clear message") {
  temp_dir dir;
  daemon_process first(dir.str("data"), dir.str("first.log"), simulated);
  REQUIRE(first.wait_ready());
  daemon_process second(dir.str("data"), dir.str("second.log"), simulated);
  CHECK(second.wait_exit() == 1);
  CHECK(second.log().find("another process holds the data directory") !=
        std::string::npos);
  CHECK(http_request(first.port, "GET", "/healthz").status == 200);
}

TEST_CASE("SIGTERM lets a request in flight finish before hearthd exits") {
  temp_dir dir;
  daemon_process daemon(dir.str("data"), dir.str("hearthd.log"), simulated);
  REQUIRE(daemon.wait_ready());
  const auto key = daemon.key();
  auto build = call_api(daemon.port, key, "POST", "/v1/templates/acme/web/builds",
                        std::string(R"({"spec":{"base":"busybox"},"tags":["stable"]})"));
  REQUIRE(build.status == 202);
  REQUIRE(build_outcome(daemon.port, key, "acme/web", build.json["build_id"]) == "ready");
  REQUIRE(call_api(daemon.port, key, "POST", "/v1/template-warm-pools",
                   std::string(
                       R"({"template":"acme/web:stable","name":"empty","max_ready":1})"))
              .status == 201);
  // A require-mode create on an empty pool waits 2 s for a VM, then fails.
  api_reply waiting;
  std::thread client([&] {
    waiting =
        call_api(daemon.port, key, "POST", "/v1/sandboxes",
                 std::string(R"({"warm_pool":"twp_empty","warm_pool_mode":"require",)"
                             R"("warm_pool_wait_ms":2000})"));
  });
  // SIGTERM once the create is waiting in the pool (CHECK: the client
  // thread must be joined either way).
  CHECK(eventually([&] {
    return http_request(daemon.port, "GET", "/metrics")
               .body.find("\nhearth_checkout_waiters 1\n") != std::string::npos;
  }));
  kill(daemon.pid, SIGTERM);
  CHECK(daemon.wait_exit() == 0);
  client.join();
  CHECK(waiting.status == 409);
  CHECK(waiting.json["error"]["code"] == "warm_pool_unavailable");
}
