// The seed's example, the Debian way: a python:3.11 template that installs
// FastAPI from Debian's mirror, copies an app in and serves it with uvicorn.
// Slow (a debootstrap on the first run of a machine, then apt in the guest
// under TCG), so it is the only Debian guest test.

#include <doctest/doctest.h>

#include "hearth/actors/runtime.hpp"
#include "qemu_fixture.hpp"

using namespace hearth;
using namespace hearth::testing;
using namespace std::chrono_literals;

namespace {

const char* app_py = R"(from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI()


class Review(BaseModel):
    title: str
    stars: int


@app.get("/")
def root():
    return {"service": "review-api", "ok": True}


@app.post("/reviews")
def review(r: Review):
    return {"title": r.title.upper(), "double_stars": r.stars * 2}
)";

template <class T>
T must(model::result<T> r) {
  REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().message));
  return std::move(*r);
}

} // namespace

TEST_CASE(
    "a python:3.11 template with FastAPI from Debian packages serves GET and JSON POST "
    "from a warm clone") {
  scratch_dirs dirs;
  runtime_options options;
  options.data_dir = dirs.data;
  options.driver = vm_driver::qemu;
  options.qemu = dirs.options();
  options.qemu.data_dir.clear();
  auto opened = runtime::open(options);
  REQUIRE_MESSAGE(opened.has_value(), (opened ? "" : opened.error().message));
  auto& rt = **opened;

  events::build_spec spec;
  spec.base = "python:3.11";
  spec.steps.push_back(events::build_step{
      "apt_install", "", "", 0644, {"python3-fastapi", "uvicorn"}, {}});
  spec.steps.push_back(events::build_step{
      "copy", "/app/app.py", guest::base64_encode(app_py), 0644, {}, {}});
  spec.steps.push_back(events::build_step{"workdir", "/app", "", 0644, {}, {}});
  spec.start_cmd = "uvicorn app:app --host 0.0.0.0 --port 8080";
  spec.readiness = events::readiness_spec{"wait_for_port", 8080, "", "", 60'000};
  spec.memory_mb = 256;

  const auto started = std::chrono::steady_clock::now();
  auto build =
      must(rt.build_template("default", "team/review-api", spec, {"stable"}).get());
  // Each wait ends at the runtime's call timeout (120 s): wait again, up to
  // 15 minutes in all.
  auto waited = rt.wait_build("default", "team/review-api", build.build_id).get();
  while (!waited && waited.error().code == model::errc::unavailable &&
         std::chrono::steady_clock::now() - started < 900s)
    waited = rt.wait_build("default", "team/review-api", build.build_id).get();
  build = must(std::move(waited));
  const auto log = must(rt.build_log("default", "team/review-api", build.build_id).get());
  INFO("build log tail: " << log.substr(log.size() > 3000 ? log.size() - 3000 : 0));
  REQUIRE_MESSAGE(build.status == "ready", build.error);
  MESSAGE("python:3.11 + FastAPI template built in "
          << std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::steady_clock::now() - started)
                 .count()
          << " s");

  api::pool_spec pool_spec;
  pool_spec.template_ref = "team/review-api:stable";
  pool_spec.name = "review-api";
  pool_spec.min_ready = 1;
  pool_spec.max_ready = 2;
  pool_spec.memory_mb = 256;
  auto pool = must(rt.create_pool("default", pool_spec).get());
  const auto filled = must(rt.wait_pool(
      "default", pool.id, [](const api::pool_info& p) { return p.status.ready >= 1; },
      120s));
  REQUIRE(filled.status.ready >= 1);

  api::sandbox_request request;
  request.template_ref = "team/review-api:stable";
  request.warm_pool = pool.id;
  request.warm_pool_mode = "require";
  auto sandbox = must(rt.create_sandbox("default", request).get());
  CHECK(sandbox.warm_pool_checkout.hit);
  const auto endpoint = sandbox.endpoints.at("8080");

  const auto root = http_get(endpoint, "/");
  CHECK(root.status == 200);
  CHECK(root.body == R"({"service":"review-api","ok":true})");
  const auto posted =
      http_get(endpoint, "/reviews", 10s, "POST",
               R"({"title": "warm pools", "stars": 21})", "application/json");
  CHECK(posted.status == 200);
  CHECK(posted.body == R"({"title":"WARM POOLS","double_stars":42})");
  const auto rejected =
      http_get(endpoint, "/reviews", 10s, "POST", R"({"title": 7})", "application/json");
  CHECK(rejected.status == 422);
}
