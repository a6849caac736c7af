// The hearth CLI against a real hearthd (simulated VMs): its tables, its
// --json, and its documented exit codes.
#include <doctest/doctest.h>
#include <fstream>
#include <sstream>
#include <thread>

#include "server/daemon.hpp"
#include "support/temp_dir.hpp"

using namespace hearth::testing;
using nlohmann::json;

namespace {

struct cli_fixture {
  temp_dir dir;
  daemon_process daemon{
      dir.str("data"), dir.str("hearthd.log"), {"--driver", "simulated"}};

  cli_fixture() { REQUIRE(daemon.wait_ready()); }

  /// Runs `hearth ARGS` against the daemon; stderr is folded into the output.
  command_output hearth(const std::string& args) const {
    return run_command("HEARTH_SERVER=http://127.0.0.1:" + std::to_string(daemon.port) +
                       " HEARTH_DATA_DIR=" + daemon.data_dir + " " + binary("hearth") +
                       " " + args + " 2>&1");
  }

  json hearth_json(const std::string& args) const {
    auto out = hearth(args + " --json");
    REQUIRE(out.exit_code == 0);
    return json::parse(out.out);
  }
};

} // namespace

TEST_CASE(
    "the CLI builds from a spec file, creates and waits for a pool, and checks out with "
    "--json") {
  cli_fixture f;
  {
    std::ofstream spec(f.dir.str("web.json"));
    spec << R"({"base": "busybox", "steps": [{"run": "echo hi"}],
               "start_cmd": "httpd -f -p 8080", "readiness": {"wait_for_port": 8080}})";
  }
  auto build = f.hearth_json("template build team/web --spec " + f.dir.str("web.json") +
                             " --tag stable");
  CHECK(build["status"] == "ready");
  CHECK(build["canonical_ref"] == "team/web@" + build["build_id"].get<std::string>());

  auto pool =
      f.hearth_json("template warm-pool create team/web:stable --name review-api-small "
                    "--min-ready 2 --max-ready 4 --vcpus 2 --memory 1024");
  CHECK(pool["id"] == "twp_review_api_small");
  CHECK(pool["vcpus"] == 2);
  CHECK(pool["memory_mb"] == 1024);
  auto waited =
      f.hearth_json("template warm-pool wait twp_review_api_small --min-ready 2");
  CHECK(waited["status"]["ready"].get<int>() >= 2);

  auto sandbox = f.hearth_json("sandbox create --warm-pool twp_review_api_small "
                               "--warm-pool-mode require");
  CHECK(sandbox["warm_pool_checkout"]["hit"] == true);
  CHECK(sandbox["warm_pool_checkout"]["mode"] == "require");

  // Without --json: a short table with a header line.
  auto table = f.hearth("template warm-pool list");
  CHECK(table.exit_code == 0);
  CHECK(table.out.rfind("ID ", 0) == 0);
  CHECK(table.out.find("twp_review_api_small") != std::string::npos);
  auto status = f.hearth_json("template warm-pool status twp_review_api_small");
  CHECK(status.contains("claimed"));
  CHECK(f.hearth("sandbox kill " + sandbox["id"].get<std::string>()).exit_code == 0);
}

TEST_CASE(
    "the CLI's exit codes say what went wrong, and errors print the server's message "
    "and field") {
  cli_fixture f;
  auto missing = f.hearth("template warm-pool get twp_nothing");
  CHECK(missing.exit_code == 3);
  CHECK(missing.out.find("not_found") != std::string::npos);

  f.hearth_json("template build team/web --start-cmd 'httpd -f -p 8080' --tag stable");
  auto invalid =
      f.hearth("template warm-pool create team/web:stable --name web --min-ready 5 "
               "--max-ready 2");
  CHECK(invalid.exit_code == 2);
  CHECK(invalid.out.find("(field min_ready)") != std::string::npos);
  CHECK(f.hearth("template warm-pool create team/web:stable --max-ready 2").exit_code ==
        2);

  f.hearth_json("template warm-pool create team/web:stable --name empty --max-ready 1");
  auto unavailable =
      f.hearth("sandbox create --warm-pool twp_empty --warm-pool-mode require "
               "--env A=1");
  CHECK(unavailable.exit_code == 4);
  CHECK(unavailable.out.find("warm_pool_unavailable") != std::string::npos);

  CHECK(f.hearth("--key hk_wrong sandbox list").exit_code == 5);
  CHECK(f.hearth("--server http://127.0.0.1:1 sandbox list").exit_code == 6);
  auto timeout =
      f.hearth("template warm-pool wait twp_empty --min-ready 5 --timeout 0.3");
  CHECK(timeout.exit_code == 7);
  CHECK(f.hearth("--help").exit_code == 0);
  // The example spec file in examples/ builds as it is.
  auto example =
      f.hearth_json("template build team/example --spec " +
                    std::string(HEARTH_SOURCE_DIR) + "/examples/web-template.json");
  CHECK(example["status"] == "ready");
  CHECK(example["tags"] == json::array({"stable"}));
}

TEST_CASE("wait --build follows a track_tag pool's rollout to its end") {
  cli_fixture f;
  f.hearth_json("template build team/web --start-cmd 'httpd -f -p 8080' --tag stable");
  f.hearth_json("template warm-pool create team/web:stable --name rolling --min-ready 2 "
                "--max-ready 3 --version-policy track_tag --track-tag stable");
  f.hearth_json("template warm-pool wait twp_rolling --min-ready 2");
  const auto v2 = f.hearth_json(
      "template build team/web --start-cmd 'httpd -f -p 8081' --tag stable");
  const auto v2_id = v2["build_id"].get<std::string>();
  const auto rolled =
      f.hearth_json("template warm-pool wait twp_rolling --min-ready 2 --build " + v2_id);
  CHECK(rolled["build_id"] == v2_id);
  CHECK(rolled["generation"] == 2);
  CHECK(rolled["status"]["ready"].get<int>() >= 2);
  CHECK(rolled["status"]["draining"] == 0);
  CHECK(f.hearth_json("sandbox create --warm-pool twp_rolling --warm-pool-mode require")
            ["build_id"] == v2_id);

  auto never = f.hearth("template warm-pool wait twp_rolling --build team/web@nothing "
                        "--timeout 0.3");
  CHECK(never.exit_code == 7);
  CHECK(never.out.find("not yet on team/web@nothing") != std::string::npos);
}

TEST_CASE(
    "drain --wait and delete --wait follow the pool until its VMs are released, and a "
    "checked-out sandbox stays") {
  cli_fixture f;
  f.hearth_json("template build team/web --start-cmd 'httpd -f -p 8080' --tag stable");
  f.hearth_json("template warm-pool create team/web:stable --name burst --min-ready 2 "
                "--max-ready 2");
  f.hearth_json("template warm-pool wait twp_burst --min-ready 2");
  const auto sandbox =
      f.hearth_json("sandbox create --warm-pool twp_burst --warm-pool-mode require");
  REQUIRE(sandbox["warm_pool_checkout"]["hit"] == true);
  const auto sandbox_id = sandbox["id"].get<std::string>();

  const auto drained = f.hearth_json("template warm-pool drain twp_burst --wait");
  CHECK(drained["draining"] == true);
  CHECK(drained["status"]["ready"] == 0);
  CHECK(drained["status"]["warming"] == 0);
  CHECK(drained["status"]["draining"] == 0);
  CHECK(drained["status"]["claimed"] == 1);

  const auto deleted = f.hearth_json("template warm-pool delete twp_burst --wait");
  CHECK(deleted["id"] == "twp_burst");
  CHECK(deleted["deleted"] == true);
  auto gone = f.hearth("template warm-pool get twp_burst");
  CAPTURE(gone.out);
  CHECK(gone.exit_code == 3);
  CHECK(f.hearth_json("sandbox get " + sandbox_id)["state"] == "running");

  // Without --wait, the table of the pool as the request left it.
  f.hearth_json("template warm-pool create team/web:stable --name quick --max-ready 1");
  auto quick = f.hearth("template warm-pool delete twp_quick");
  CHECK(quick.exit_code == 0);
  CHECK(quick.out.rfind("ID ", 0) == 0);
  CHECK(f.hearth("template warm-pool delete twp_nothing --wait").exit_code == 3);
}

TEST_CASE("hearth events pages through the journal with the admin key, and --follow "
          "waits for what is written next, in the journal or in one stream") {
  cli_fixture f;
  auto all = f.hearth("events");
  REQUIRE(all.exit_code == 0);
  std::istringstream lines(all.out);
  std::string line;
  std::uint64_t count = 0;
  while (std::getline(lines, line))
    ++count;
  REQUIRE(count > 0); // hearthd's first start wrote its tenant and keys
  CHECK(all.out.find(" tenant.key_added ") != std::string::npos);

  auto two = f.hearth("events --limit 2 --json");
  REQUIRE(two.exit_code == 0);
  std::istringstream objects(two.out);
  std::getline(objects, line);
  CHECK(json::parse(line)["position"] == 1);
  std::getline(objects, line);
  CHECK(json::parse(line)["position"] == 2);

  // Following from past the end: the next event written, then it stops at
  // --limit.
  command_output followed;
  std::thread follower([&] {
    followed = f.hearth("events --follow --limit 1 --from " + std::to_string(count + 1));
  });
  auto build = f.hearth("template build team/web --base busybox --no-wait");
  follower.join();
  CHECK(build.exit_code == 0);
  CHECK(followed.exit_code == 0);
  CHECK(followed.out.rfind(std::to_string(count + 1) + " template/team/web #1 ", 0) == 0);

  // Following one stream, before its first event is written.
  command_output stream_followed;
  std::thread stream_follower([&] {
    stream_followed = f.hearth("events --follow --limit 1 --stream template/team/other");
  });
  CHECK(f.hearth("template build team/other --base busybox --no-wait").exit_code == 0);
  stream_follower.join();
  CHECK(stream_followed.exit_code == 0);
  CHECK(stream_followed.out.find(" template/team/other #1 ") != std::string::npos);
  // A tenant's key is not enough for the journal.
  CHECK(f.hearth("--key-file " + f.daemon.data_dir + "/tenant.key events").exit_code ==
        5);
}
