// The HTTP API end to end: a real hearthd on loopback. Built twice: with
// simulated VMs (server_test) and with real QEMU microVMs (server_vm_test,
// labelled vm).
#include <chrono>
#include <doctest/doctest.h>
#include <set>
#include <thread>

#include "hearth/server/http_api.hpp"
#include "server/daemon.hpp"
#include "support/temp_dir.hpp"

using namespace hearth::testing;
using nlohmann::json;

namespace {

/// A hearthd with a ready build of acme/web tagged stable.
struct api_fixture {
  temp_dir dir;
  daemon_process daemon{dir.str("data"), dir.str("hearthd.log"), driver_flags()};
  std::string key;
  std::string build_id;

  api_fixture() {
    REQUIRE(daemon.wait_ready());
    key = daemon.key();
    build_id = build("acme/web", {"stable"});
  }

  api_reply call(const std::string& method, const std::string& path,
                 const json& body = nullptr) const {
    return call_api(daemon.port, key, method, path, body.is_null() ? "" : body.dump());
  }

  /// Builds `name` and waits for the build to be ready; answers its id.
  /// `greeting` makes the spec, and so the build, distinct.
  std::string build(const std::string& name, std::vector<std::string> tags = {},
                    const std::string& greeting = "hi") {
    json spec{{"base", "busybox"},
              {"steps", json::array({json{{"run", "echo " + greeting}}})},
              {"start_cmd", "httpd -f -p 8080"},
              {"readiness", {{"wait_for_port", 8080}}}};
    auto started = call("POST", "/v1/templates/" + name + "/builds",
                        json{{"spec", spec}, {"tags", tags}});
    REQUIRE(started.status == 202);
    CHECK(started.json["status"] == "building");
    const std::string id = started.json["build_id"];
    CHECK(started.json["canonical_ref"] == name + "@" + id);
    REQUIRE(build_outcome(daemon.port, key, name, id) == "ready");
    return id;
  }

  json create_pool(const std::string& name, int min_ready, int max_ready) {
    auto pool = call("POST", "/v1/template-warm-pools",
                     json{{"template", "acme/web:stable"},
                          {"name", name},
                          {"min_ready", min_ready},
                          {"max_ready", max_ready}});
    REQUIRE(pool.status == 201);
    return pool.json;
  }

  bool ready(const std::string& pool, int count) const {
    return ready_members(daemon.port, key, pool) == count;
  }

  /// Whether `pool` comes to hold `count` ready members, followed change by
  /// change.
  bool reaches(const std::string& pool, int count) const {
    return ready_count_reaches(daemon.port, key, pool, count);
  }
};

} // namespace

TEST_CASE(
    "templates: build, get, list, tag, logs, and a tagged build cannot be deleted") {
  api_fixture f;
  auto got = f.call("GET", "/v1/templates/acme/web");
  REQUIRE(got.status == 200);
  CHECK(got.json["tags"]["stable"] == f.build_id);
  auto list = f.call("GET", "/v1/templates");
  REQUIRE(list.status == 200);
  CHECK(list.json.size() == 1);
  auto log = f.call("GET", "/v1/templates/acme/web/builds/" + f.build_id + "/logs");
  CHECK(log.status == 200);

  auto second = f.build("acme/web", {}, "hello");
  CHECK(second != f.build_id);
  auto moved =
      f.call("PUT", "/v1/templates/acme/web/tags/stable", json{{"build_id", second}});
  REQUIRE(moved.status == 200);
  CHECK(f.call("GET", "/v1/templates/acme/web").json["tags"]["stable"] == second);

  auto refused = f.call("DELETE", "/v1/templates/acme/web/builds/" + second);
  CHECK(refused.status == 409);
  CHECK(refused.json["error"]["code"] == "conflict");
  auto deleted = f.call("DELETE", "/v1/templates/acme/web/builds/" + f.build_id);
  CHECK(deleted.status == 200);
  CHECK(f.call("GET", "/v1/templates/acme/web/builds/nope").status == 404);
}

TEST_CASE(
    "warm pools: create, list, get, update, status, disable, enable, reconcile, drain, "
    "delete") {
  api_fixture f;
  auto pool = f.create_pool("review-api-small", 2, 4);
  CHECK(pool["id"] == "twp_review_api_small");
  CHECK(pool["build_id"] == f.build_id);
  REQUIRE(f.reaches("twp_review_api_small", 2));

  auto list = f.call("GET", "/v1/template-warm-pools");
  REQUIRE(list.status == 200);
  CHECK(list.json.size() == 1);
  auto got = f.call("GET", "/v1/template-warm-pools/twp_review_api_small");
  CHECK(got.json["status"]["ready"] == 2);
  CHECK(got.json["degraded_reason"].is_null());

  auto status = f.call("GET", "/v1/template-warm-pools/twp_review_api_small/status");
  for (const char* count : {"target", "ready", "warming", "claimed", "draining", "failed",
                            "expired", "unavailable"})
    CHECK(status.json.contains(count));

  auto updated = f.call("PATCH", "/v1/template-warm-pools/twp_review_api_small",
                        json{{"min_ready", 3}});
  REQUIRE(updated.status == 200);
  CHECK(updated.json["min_ready"] == 3);
  REQUIRE(f.reaches("twp_review_api_small", 3));

  CHECK(f.call("POST", "/v1/template-warm-pools/twp_review_api_small/disable")
            .json["enabled"] == false);
  CHECK(f.call("POST", "/v1/template-warm-pools/twp_review_api_small/enable")
            .json["enabled"] == true);
  CHECK(f.call("POST", "/v1/template-warm-pools/twp_review_api_small/reconcile").status ==
        200);
  auto drained = f.call("POST", "/v1/template-warm-pools/twp_review_api_small/drain");
  CHECK(drained.json["draining"] == true);
  REQUIRE(f.reaches("twp_review_api_small", 0));
  auto deleted = f.call("DELETE", "/v1/template-warm-pools/twp_review_api_small");
  CHECK(deleted.status == 202);
  CHECK(deleted.json["deleting"] == true);
}

TEST_CASE(
    "sandboxes: prefer hits a ready VM, require fails when none is ready, bypass never "
    "touches the pool, and the checkout is reported as the seed describes") {
  api_fixture f;
  f.create_pool("web", 1, 1);
  REQUIRE(f.reaches("twp_web", 1));

  auto hit = f.call("POST", "/v1/sandboxes",
                    json{{"warm_pool", "twp_web"}, {"warm_pool_mode", "prefer"}});
  REQUIRE(hit.status == 201);
  CHECK(hit.json["id"].get<std::string>().rfind("sbx_", 0) == 0);
  CHECK(hit.json["warm_pool_checkout"] == json({{"source", "warm_pool"},
                                                {"hit", true},
                                                {"id", "twp_web"},
                                                {"mode", "prefer"}}));
  CHECK(hit.json["endpoints"].contains("8080"));

  // The pool refills in a moment; ask before it does.
  auto refused = f.call("POST", "/v1/sandboxes",
                        json{{"warm_pool", "twp_web"}, {"warm_pool_mode", "require"}});
  CHECK(refused.status == 409);
  CHECK(refused.json["error"]["code"] == "warm_pool_unavailable");

  auto cold = f.call("POST", "/v1/sandboxes",
                     json{{"template", "acme/web:stable"},
                          {"warm_pool", "twp_web"},
                          {"warm_pool_mode", "prefer"},
                          {"envs", {{"A", "1"}}}});
  REQUIRE(cold.status == 201);
  CHECK(cold.json["warm_pool_checkout"]["source"] == "cold");
  CHECK(cold.json["warm_pool_checkout"]["hit"] == false);

  REQUIRE(f.reaches("twp_web", 1));
  auto bypass = f.call("POST", "/v1/sandboxes",
                       json{{"warm_pool", "twp_web"}, {"warm_pool_mode", "bypass"}});
  REQUIRE(bypass.status == 201);
  CHECK(
      bypass.json["warm_pool_checkout"] ==
      json({{"source", "cold"}, {"hit", false}, {"id", "twp_web"}, {"mode", "bypass"}}));
  CHECK(f.ready("twp_web", 1));

  auto plain = f.call("POST", "/v1/sandboxes", json{{"template", "acme/web:stable"}});
  REQUIRE(plain.status == 201);
  CHECK_FALSE(plain.json.contains("warm_pool_checkout"));

  const std::string id = hit.json["id"];
  CHECK(f.call("GET", "/v1/sandboxes/" + id).json["warm_pool_checkout"]["hit"] == true);
  CHECK(f.call("GET", "/v1/sandboxes").json.size() == 4);
  auto killed = f.call("DELETE", "/v1/sandboxes/" + id);
  CHECK(killed.status == 200);
  CHECK(f.call("GET", "/v1/hosts").json[0]["id"] == "local");
}

TEST_CASE("invalid requests are refused with the field at fault, and nothing is stored") {
  api_fixture f;
  f.create_pool("web", 0, 1);
  // A build reads ready once its host has recorded the artifact: nothing is
  // left to change the journal before the count that nothing may change.
  REQUIRE(f.call("GET", "/v1/hosts").json[0]["artifacts"].value(f.build_id, "") ==
          "ready");
  const auto events_before =
      call_api(f.daemon.port, f.daemon.key("admin.key"), "GET", "/v1/events?limit=1000")
          .json["events"]
          .size();
  struct bad_request {
    const char* method;
    const char* path;
    std::string body;
    int status;
    const char* code;
    const char* field;
  };
  const std::vector<bad_request> table{
      {"POST", "/v1/template-warm-pools",
       R"({"template":"acme/web:stable","name":"a","max_ready":"4"})", 400,
       "invalid_argument", "max_ready"},
      {"POST", "/v1/template-warm-pools",
       R"({"template":"acme/web:stable","name":"a","max_ready":-1})", 400,
       "invalid_argument", "max_ready"},
      {"POST", "/v1/template-warm-pools",
       R"({"template":"acme/web:stable","name":"a","min_ready":5,"max_ready":2})", 400,
       "invalid_argument", "min_ready"},
      {"POST", "/v1/template-warm-pools",
       R"({"template":"acme/nothing:stable","name":"a","max_ready":2})", 404, "not_found",
       ""},
      {"POST", "/v1/template-warm-pools",
       R"({"template":"acme/web:stable","name":"a","max_ready":2,"colour":"red"})", 400,
       "invalid_argument", "colour"},
      {"POST", "/v1/template-warm-pools", R"({"name":"a","max_ready":2})", 400,
       "invalid_argument", "template"},
      {"POST", "/v1/template-warm-pools",
       R"({"template":"acme/web:stable","name":"A B","max_ready":2})", 400,
       "invalid_argument", "name"},
      {"POST", "/v1/template-warm-pools",
       R"({"template":"acme/web:stable","name":"a","max_ready":2,"version_policy":"latest"})",
       400, "invalid_argument", "version_policy"},
      {"POST", "/v1/template-warm-pools", R"({"template":)", 400, "invalid_argument", ""},
      {"POST", "/v1/template-warm-pools", R"([1,2,3])", 400, "invalid_argument", ""},
      {"POST", "/v1/template-warm-pools",
       R"({"template":"acme/web:stable","name":")" + std::string(5000, 'a') +
           R"(","max_ready":2})",
       400, "invalid_argument", "name"},
      {"PATCH", "/v1/template-warm-pools/twp_web", R"({"max_ready":true})", 400,
       "invalid_argument", "max_ready"},
      {"PATCH", "/v1/template-warm-pools/twp_nothing", R"({"max_ready":2})", 404,
       "not_found", ""},
      {"POST", "/v1/sandboxes", R"({"warm_pool":"twp_web","warm_pool_mode":"sometimes"})",
       400, "invalid_argument", "warm_pool_mode"},
      {"POST", "/v1/sandboxes", R"({"warm_pool":"twp_web","warm_pool_wait_ms":-5})", 400,
       "invalid_argument", "warm_pool_wait_ms"},
      {"POST", "/v1/sandboxes", R"({"warm_pool":"twp_web","envs":{"A":1}})", 400,
       "invalid_argument", "envs"},
      {"POST", "/v1/sandboxes", R"({"warm_pool_mode":"require"})", 400,
       "invalid_argument", "warm_pool"},
      {"POST", "/v1/sandboxes", R"({"template":"acme/web:nope"})", 404, "not_found", ""},
      {"POST", "/v1/templates/acme/web/builds", R"({"spec":{"base":"windows"}})", 400,
       "invalid_argument", "spec.base"},
      {"POST", "/v1/templates/acme/web/builds",
       R"({"spec":{"base":"busybox","steps":[{"sing":"la"}]}})", 400, "invalid_argument",
       "spec.steps[0].sing"},
      {"POST", "/v1/templates/acme/web/builds",
       R"({"spec":{"base":"busybox","readiness":{"wait_for_port":70000}}})", 400,
       "invalid_argument", "spec.readiness.wait_for_port"},
      {"POST", "/v1/templates/acme/web/builds", R"({"tags":["x"]})", 400,
       "invalid_argument", "spec"},
      {"PUT", "/v1/templates/acme/web/tags/stable", R"({})", 400, "invalid_argument",
       "build_id"},
      {"PUT", "/v1/templates/acme/web/tags/stable", R"({"build_id":"b0000000000000000"})",
       404, "not_found", ""},
      {"GET", "/v1/template-warm-pools/twp_web?wait_ms=soon&after_revision=1", "", 400,
       "invalid_argument", "wait_ms"},
      {"GET", "/v1/template-warm-pools/twp_web?wait_ms=10001&after_revision=1", "", 400,
       "invalid_argument", "wait_ms"},
      {"GET", "/v1/template-warm-pools/twp_web?wait_ms=100", "", 400, "invalid_argument",
       "after_revision"},
      {"GET", "/v1/template-warm-pools/twp_web?after_revision=1", "", 400,
       "invalid_argument", "wait_ms"},
      {"GET", "/v1/template-warm-pools/twp_web?wait_ms=100&after_revision=-1", "", 400,
       "invalid_argument", "after_revision"},
      {"GET", "/v1/template-warm-pools/twp_nothing?wait_ms=100&after_revision=1", "", 404,
       "not_found", ""},
      {"GET", "/v1/templates/acme/web/builds/b0000000000000000?wait_ms=100", "", 404,
       "not_found", ""},
      {"GET", "/v1/templates/acme/web/builds/b0000000000000000?wait_ms=1e3", "", 400,
       "invalid_argument", "wait_ms"},
      {"GET", "/v1/sandboxes/sbx_nothing", "", 404, "not_found", ""},
      {"PUT", "/v1/sandboxes", "", 405, "method_not_allowed", ""},
  };
  for (const auto& bad : table) {
    CAPTURE(bad.method);
    CAPTURE(bad.path);
    CAPTURE(bad.body.substr(0, 120));
    auto reply = call_api(f.daemon.port, f.key, bad.method, bad.path, bad.body);
    CHECK(reply.status == bad.status);
    REQUIRE(reply.json.is_object());
    CHECK(reply.json["error"]["code"] == bad.code);
    CHECK(reply.json["error"]["message"].get<std::string>().size() > 0);
    if (std::string(bad.field).size() > 0)
      CHECK(reply.json["error"]["field"] == bad.field);
  }
  // Several bad fields are all named.
  auto many =
      f.call("POST", "/v1/template-warm-pools",
             json{{"template", 3}, {"name", "a"}, {"max_ready", "x"}, {"extra", 1}});
  std::set<std::string> fields;
  for (const auto& detail : many.json["error"]["details"])
    fields.insert(detail["field"].get<std::string>());
  CHECK(fields == std::set<std::string>{"template", "max_ready", "extra"});

  // Unauthenticated: no key, a wrong key, a tenant key on an admin route.
  CHECK(call_api(f.daemon.port, "", "GET", "/v1/sandboxes").status == 401);
  CHECK(
      call_api(f.daemon.port, "hk_wrong", "GET", "/v1/sandboxes").json["error"]["code"] ==
      "unauthenticated");
  CHECK(f.call("GET", "/v1/events").status == 401);

  // Nothing of the above was stored.
  const auto after =
      call_api(f.daemon.port, f.daemon.key("admin.key"), "GET", "/v1/events?limit=1000")
          .json["events"];
  const auto events_after = after.size();
  std::string stored; // what there is, should the counts differ
  for (const auto& event : after)
    stored += event["stream"].get<std::string>() + " " +
              event["type"].get<std::string>() + "; ";
  CAPTURE(stored);
  CHECK(events_after == events_before);
}

TEST_CASE("a pool and a build are long-polled: the answer comes with the change, or "
          "as it is once wait_ms has passed") {
  api_fixture f;
  // A ready build answers at once.
  auto built =
      f.call("GET", "/v1/templates/acme/web/builds/" + f.build_id + "?wait_ms=10000");
  REQUIRE(built.status == 200);
  CHECK(built.json["status"] == "ready");

  f.create_pool("web", 1, 1);
  REQUIRE(f.reaches("twp_web", 1));
  const auto full = f.call("GET", "/v1/template-warm-pools/twp_web").json;
  const auto revision = full["revision"].get<std::uint64_t>();
  CHECK(revision > 0);
  const std::string watch =
      "/v1/template-warm-pools/twp_web?after_revision=" + std::to_string(revision);

  // A full pool nobody uses does not change: the pool as it is, after the wait.
  const auto asked = std::chrono::steady_clock::now();
  auto quiet = f.call("GET", watch + "&wait_ms=300");
  const auto waited = std::chrono::steady_clock::now() - asked;
  REQUIRE(quiet.status == 200);
  CHECK(quiet.json["revision"] == revision);
  CHECK(quiet.json["status"]["ready"] == 1);
  CHECK(waited >= std::chrono::milliseconds(300));

  // A checkout is a change: the watch answers with it.
  api_reply changed;
  std::thread watcher([&] { changed = f.call("GET", watch + "&wait_ms=10000"); });
  auto sandbox = f.call("POST", "/v1/sandboxes",
                        json{{"warm_pool", "twp_web"}, {"warm_pool_mode", "require"}});
  watcher.join();
  REQUIRE(sandbox.status == 201);
  REQUIRE(changed.status == 200);
  CHECK(changed.json["revision"].get<std::uint64_t>() > revision);
  // An old revision answers at once, with the pool as it is now.
  auto now = f.call("GET", watch + "&wait_ms=10000");
  CHECK(now.json["revision"].get<std::uint64_t>() >=
        changed.json["revision"].get<std::uint64_t>());
}

TEST_CASE("a tenant never sees, changes or claims another tenant's objects") {
  api_fixture f;
  f.create_pool("web", 1, 1);
  REQUIRE(f.reaches("twp_web", 1));
  const auto admin = f.daemon.key("admin.key");
  auto tenant =
      call_api(f.daemon.port, admin, "POST", "/v1/tenants",
               json{{"id", "other"}, {"quota_vcpus", 8}, {"quota_memory_mb", 8192}});
  REQUIRE(tenant.status == 201);
  auto key =
      call_api(f.daemon.port, admin, "POST", "/v1/tenants/other/keys", std::string());
  REQUIRE(key.status == 201);
  const std::string other = key.json["key"];
  CHECK(key.json["tenant"] == "other");
  CHECK(call_api(f.daemon.port, f.key, "POST", "/v1/tenants/other/keys", std::string())
            .status == 401);

  CHECK(call_api(f.daemon.port, other, "GET", "/v1/template-warm-pools").json.empty());
  CHECK(call_api(f.daemon.port, other, "GET", "/v1/templates").json.empty());
  CHECK(call_api(f.daemon.port, other, "GET", "/v1/template-warm-pools/twp_web").status ==
        404);
  CHECK(call_api(f.daemon.port, other, "POST", "/v1/template-warm-pools/twp_web/drain")
            .status == 404);
  auto claim = call_api(f.daemon.port, other, "POST", "/v1/sandboxes",
                        json{{"warm_pool", "twp_web"}, {"warm_pool_mode", "require"}});
  CHECK(claim.status == 404);
  CHECK(f.ready("twp_web", 1));
  auto mine = f.call("POST", "/v1/sandboxes", json{{"warm_pool", "twp_web"}});
  REQUIRE(mine.status == 201);
  CHECK(call_api(f.daemon.port, other, "GET",
                 "/v1/sandboxes/" + mine.json["id"].get<std::string>())
            .status == 404);
  CHECK(call_api(f.daemon.port, other, "DELETE",
                 "/v1/sandboxes/" + mine.json["id"].get<std::string>())
            .status == 404);
  CHECK(call_api(f.daemon.port, admin, "GET", "/v1/tenants").json.size() == 2);

  // Revoked, the other tenant's key opens nothing; only an admin revokes.
  const std::string other_id = key.json["key_id"];
  CHECK(call_api(f.daemon.port, f.key, "DELETE", "/v1/tenants/other/keys/" + other_id)
            .status == 401);
  auto revoked =
      call_api(f.daemon.port, admin, "DELETE", "/v1/tenants/other/keys/" + other_id);
  REQUIRE(revoked.status == 200);
  CHECK(revoked.json["revoked"] == true);
  CHECK(revoked.json["key_id"] == other_id);
  CHECK(call_api(f.daemon.port, other, "GET", "/v1/sandboxes").status == 401);
  auto again =
      call_api(f.daemon.port, admin, "DELETE", "/v1/tenants/other/keys/" + other_id);
  CHECK(again.status == 404);
  CHECK(again.json["error"]["field"] == "key_id");
  CHECK(f.call("GET", "/v1/sandboxes").status == 200); // other keys are untouched
}

TEST_CASE(
    "the OpenAPI document lists exactly the routes served, and each one is served") {
  api_fixture f;
  auto doc = http_request(f.daemon.port, "GET", "/v1/openapi.json");
  REQUIRE(doc.status == 200);
  auto document = json::parse(doc.body);
  CHECK(document["openapi"].get<std::string>().rfind("3.", 0) == 0);

  std::set<std::pair<std::string, std::string>> documented;
  for (const auto& [path, operations] : document["paths"].items())
    for (const auto& [method, operation] : operations.items()) {
      std::string upper = method;
      for (auto& c : upper)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      documented.insert({upper, path});
    }
  std::set<std::pair<std::string, std::string>> served;
  for (const auto& route : hearth::server::http_api::routes())
    served.insert({route.method, route.pattern});
  CHECK(documented == served);

  // Each route answers something other than "no route" or "method not allowed".
  for (const auto& [method, pattern] : served) {
    std::string path;
    for (std::size_t i = 0; i < pattern.size(); ++i) {
      if (pattern[i] == '{') {
        path += "x";
        i = pattern.find('}', i);
      } else {
        path += pattern[i];
      }
    }
    CAPTURE(method);
    CAPTURE(path);
    auto reply = http_request(f.daemon.port, method, path);
    CHECK(reply.status != 405);
    CHECK(reply.body.find("no route for") == std::string::npos);
  }
}

TEST_CASE(
    "/metrics reports pool gauges, checkouts by mode and outcome and latencies, and "
    "/v1/events pages through the journal") {
  api_fixture f;
  f.create_pool("web", 1, 1);
  REQUIRE(f.reaches("twp_web", 1));
  REQUIRE(f.call("POST", "/v1/sandboxes", json{{"warm_pool", "twp_web"}}).status == 201);
  auto metrics = http_request(f.daemon.port, "GET", "/metrics");
  REQUIRE(metrics.status == 200);
  CHECK(metrics.body.find(R"(hearth_checkouts_total{mode="prefer",outcome="hit"} 1)") !=
        std::string::npos);
  CHECK(
      metrics.body.find(
          R"(hearth_pool_members{tenant="default",pool="twp_web",status="claimed"} 1)") !=
      std::string::npos);
  CHECK(metrics.body.find("\nhearth_recovery_misfit_events 0\n") != std::string::npos);
  CHECK(metrics.body.find("hearth_journal_append_seconds_count 0") == std::string::npos);
  CHECK(metrics.body.find("hearth_journal_append_seconds_bucket{le=\"+Inf\"}") !=
        std::string::npos);
  CHECK(metrics.body.find("hearth_vm_restore_seconds_count 0") == std::string::npos);
  CHECK(metrics.body.find("hearth_vm_restore_seconds_count") != std::string::npos);
  CHECK(
      metrics.body.find(R"(hearth_sandbox_create_seconds_count{source="warm_pool"} 1)") !=
      std::string::npos);
  CHECK(metrics.body.find("\nhearth_checkout_waiters 0\n") != std::string::npos);
  // The checked-out sandbox is parked: nothing has changed it since.
  CHECK(metrics.body.find("\nhearth_sandbox_actors 0\n") != std::string::npos);

  const auto admin = f.daemon.key("admin.key");
  auto first = call_api(f.daemon.port, admin, "GET", "/v1/events?limit=2");
  REQUIRE(first.status == 200);
  REQUIRE(first.json["events"].size() == 2);
  const auto next = first.json["next"].get<std::uint64_t>();
  auto second = call_api(f.daemon.port, admin, "GET",
                         "/v1/events?limit=2&from=" + std::to_string(next));
  CHECK(second.json["events"][0]["position"] == next);
  auto stream = call_api(f.daemon.port, admin, "GET", "/v1/events?stream=pool%2Ftwp_web");
  REQUIRE(stream.status == 200);
  CHECK(stream.json["events"][0]["type"] == "pool.created");
  CHECK(stream.json["events"][0]["payload"]["name"] == "web");
  CHECK(call_api(f.daemon.port, admin, "GET", "/v1/events?limit=0").status == 400);
}

TEST_CASE("/v1/events?wait_ms= follows the journal or one stream: a read past its end "
          "answers with the next events as they are written, or empty once the wait has "
          "passed") {
  api_fixture f;
  const auto admin = f.daemon.key("admin.key");
  auto events = [&](const std::string& query) {
    return call_api(f.daemon.port, admin, "GET", "/v1/events?" + query);
  };
  std::uint64_t last = 0;
  for (auto page = events("limit=1000"); !page.json["events"].empty();
       page = events("limit=1000&from=" + std::to_string(last + 1)))
    last = page.json["events"].back()["position"].get<std::uint64_t>();
  REQUIRE(last > 0);
  const auto past_end = "from=" + std::to_string(last + 1);

  auto quiet = events(past_end + "&wait_ms=200");
  REQUIRE(quiet.status == 200);
  CHECK(quiet.json["events"].empty());

  api_reply followed;
  std::thread follower([&] { followed = events(past_end + "&wait_ms=10000"); });
  f.create_pool("followed", 0, 1);
  follower.join();
  REQUIRE(followed.status == 200);
  REQUIRE_FALSE(followed.json["events"].empty());
  CHECK(followed.json["events"][0]["position"] == last + 1);

  // One stream's follower is answered by that stream's next event, not by
  // another stream's writes before it.
  const auto stream = events("stream=pool%2Ftwp_followed");
  REQUIRE(stream.status == 200);
  const auto next_sequence =
      stream.json["events"].back()["sequence"].get<std::uint64_t>() + 1;
  api_reply one_stream;
  std::thread stream_follower([&] {
    one_stream = events("stream=pool%2Ftwp_followed&wait_ms=10000&from=" +
                        std::to_string(next_sequence));
  });
  f.create_pool("bystander", 0, 1);
  REQUIRE(f.call("POST", "/v1/template-warm-pools/twp_followed/disable").status == 200);
  stream_follower.join();
  REQUIRE(one_stream.status == 200);
  REQUIRE_FALSE(one_stream.json["events"].empty());
  CHECK(one_stream.json["events"][0]["stream"] == "pool/twp_followed");
  CHECK(one_stream.json["events"][0]["sequence"] == next_sequence);
  CHECK(one_stream.json["events"][0]["type"] == "pool.lifecycle");
  CHECK(one_stream.json["events"][0]["payload"]["change"] == "disabled");
  CHECK(events(past_end + "&wait_ms=10001").status == 400);
  // Positions and limits are whole numbers, all of them.
  for (const auto& [query, field] :
       {std::pair{"from=-1", "from"}, std::pair{"from=2x", "from"},
        std::pair{"limit=5abc", "limit"}, std::pair{"limit=", "limit"}}) {
    CAPTURE(query);
    auto refused = events(query);
    CHECK(refused.status == 400);
    CHECK(refused.json["error"]["field"] == field);
  }
}
