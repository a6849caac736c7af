// libFuzzer target: raw bytes through hearthd's request parser and its API
// (routing, authentication, JSON validation, the actors' own checks) on an
// in-memory runtime with simulated VMs. "@KEY@" in an input stands for a
// valid API key, so the fuzzer reaches the routes behind authentication.
//
// Invariants: every request gets exactly one answer; a JSON answer parses; an
// error answer names its code; no status outside the API's set.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "hearth/actors/runtime.hpp"
#include "hearth/server/http_api.hpp"
#include "hearth/server/http_server.hpp"

namespace {

struct harness {
  std::unique_ptr<hearth::runtime> rt;
  std::unique_ptr<hearth::server::http_api> api;
  std::string key;
  std::string admin_key;

  harness() {
    hearth::runtime_options options;
    options.sim.build_latency = std::chrono::milliseconds(1);
    options.sim.restore_latency = std::chrono::milliseconds(1);
    options.sim.cold_latency = std::chrono::milliseconds(1);
    auto opened = hearth::runtime::open(options);
    if (!opened)
      std::abort();
    rt = std::move(*opened);
    key = rt->create_api_key("default", "tenant").get()->key;
    admin_key = rt->create_api_key("default", "admin").get()->key;
    api = std::make_unique<hearth::server::http_api>(*rt);
  }
};

struct answer {
  std::mutex mutex;
  std::condition_variable done;
  int count = 0;
  hearth::server::http_response response;
};

void replace_all(std::string& text, const std::string& from, const std::string& to) {
  for (auto at = text.find(from); at != std::string::npos;
       at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Never destroyed: the actor system must not be torn down during static
  // destruction, after CAF's own statics are gone.
  static harness& h = *new harness;
  std::string raw(reinterpret_cast<const char*>(data), size);
  replace_all(raw, "@KEY@", h.key);
  replace_all(raw, "@ADMIN@", h.admin_key);
  hearth::server::http_options options;
  options.max_body_bytes = 64 << 10;
  std::string error;
  auto request = hearth::server::parse_request(raw, options, error);
  if (!request)
    return 0;

  auto got = std::make_shared<answer>();
  h.api->handle(std::move(*request), [got](hearth::server::http_response response) {
    std::lock_guard<std::mutex> lock(got->mutex);
    ++got->count;
    got->response = std::move(response);
    got->done.notify_all();
  });
  std::unique_lock<std::mutex> lock(got->mutex);
  // Creates may wait for a warm VM (warm_pool_wait_ms); those are not hangs.
  if (!got->done.wait_for(lock, std::chrono::seconds(2), [&] { return got->count > 0; }))
    return 0;
  if (got->count != 1)
    std::abort();
  static const std::set<unsigned> statuses{200, 201, 202, 400, 401, 404,
                                           405, 409, 429, 500, 503};
  const auto& response = got->response;
  if (statuses.count(response.status) == 0)
    std::abort();
  if (response.content_type == "application/json") {
    auto body = nlohmann::json::parse(response.body, nullptr, false);
    if (body.is_discarded())
      std::abort();
    if (response.status >= 400 &&
        !(body.contains("error") && body["error"]["code"].is_string()))
      std::abort();
  }
  return 0;
}
