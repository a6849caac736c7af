// Warm pools of real QEMU microVMs through the embedding API: build, fill,
// check out, refill, crash, restart, isolation.

#include <doctest/doctest.h>
#include <fstream>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <thread>

#include "hearth/actors/runtime.hpp"
#include "hearth/events/checksum.hpp"
#include "qemu_fixture.hpp"

using namespace hearth;
using namespace hearth::testing;
using namespace std::chrono_literals;

namespace {

const std::string tenant = "default";

events::build_spec web_spec() {
  const auto request = web_template("unused");
  events::build_spec spec;
  spec.base = request.base;
  for (const auto& s : request.steps)
    spec.steps.push_back(
        events::build_step{s.kind, s.text, s.content_b64, s.mode, s.packages, s.env});
  spec.start_cmd = request.start_cmd;
  spec.readiness = events::readiness_spec{request.ready.kind, request.ready.port, "", "",
                                          request.ready.timeout_ms};
  return spec;
}

runtime_options vm_options(const scratch_dirs& dirs, bool stop_vms_on_exit = true) {
  runtime_options o;
  o.data_dir = dirs.data;
  o.driver = vm_driver::qemu;
  o.qemu = dirs.options(stop_vms_on_exit);
  o.qemu.data_dir.clear(); // the runtime's
  o.pools.tick = 200ms;
  return o;
}

std::unique_ptr<runtime> open_runtime(runtime_options options) {
  auto rt = runtime::open(std::move(options));
  REQUIRE_MESSAGE(rt.has_value(), (rt ? "" : rt.error().message));
  return std::move(*rt);
}

template <class T>
T must(model::result<T> r) {
  REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().message));
  return std::move(*r);
}

api::build_info build_and_wait(runtime& rt, const std::string& name,
                               events::build_spec spec,
                               std::vector<std::string> tags = {"stable"}) {
  auto build =
      must(rt.build_template(tenant, name, std::move(spec), std::move(tags)).get());
  return must(rt.wait_build(tenant, name, build.build_id).get()); // within 120 s
}

api::pool_info pool_when(runtime& rt, const std::string& id,
                         std::function<bool(const api::pool_info&)> done,
                         std::chrono::milliseconds timeout = 90s) {
  const auto pool = must(rt.wait_pool(tenant, id, done, timeout));
  const bool reached = done(pool);
  INFO("pool " << id << ": ready " << pool.status.ready << ", warming "
               << pool.status.warming << ", failed " << pool.status.failed
               << ", degraded '" << pool.degraded_reason << "'");
  CHECK(reached);
  return pool;
}

api::pool_info make_pool(runtime& rt, std::uint32_t min_ready, std::uint32_t max_ready) {
  api::pool_spec spec;
  spec.template_ref = "team/web:stable";
  spec.name = "web";
  spec.min_ready = min_ready;
  spec.max_ready = max_ready;
  return must(rt.create_pool(tenant, spec).get());
}

api::sandbox_info checkout(runtime& rt, const std::string& pool_id) {
  api::sandbox_request request;
  request.template_ref = "team/web:stable";
  request.warm_pool = pool_id;
  request.warm_pool_mode = "require";
  return must(rt.create_sandbox(tenant, request).get());
}

int pid_of(const runtime& rt, const std::string& vm_id) {
  for (const auto& p : rt.vm_processes())
    if (p.vm_id == vm_id)
      return p.pid;
  return 0;
}

std::uint32_t file_crc(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  return events::crc32c(data);
}

/// A TCP listener on every host address, as hearthd's would be.
struct host_listener {
  int fd = -1;
  int port = 0;
  host_listener() {
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
    bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    port = ntohs(addr.sin_port);
    listen(fd, 16);
  }
  ~host_listener() { close(fd); }
};

/// The host's first non-loopback IPv4 address, if it has one.
std::string host_address() {
  int code = 0;
  FILE* pipe = popen("hostname -I 2>/dev/null", "r");
  char buffer[256] = {0};
  if (pipe != nullptr) {
    [[maybe_unused]] auto n = std::fread(buffer, 1, sizeof buffer - 1, pipe);
    code = pclose(pipe);
  }
  std::string text(buffer);
  const auto end = text.find_first_of(" \n");
  return code == 0 ? text.substr(0, end) : std::string();
}

} // namespace

TEST_CASE("a pool of real VMs fills, hands out a working sandbox, and refills") {
  scratch_dirs dirs;
  auto rt = open_runtime(vm_options(dirs));
  const auto build = build_and_wait(*rt, "team/web", web_spec());
  REQUIRE_MESSAGE(build.status == "ready", build.error);
  const auto log = must(rt->build_log(tenant, "team/web", build.build_id).get());
  CHECK(log.find("== ready (wait_for_port)") != std::string::npos);

  std::string memory_file;
  for (const auto& entry : std::filesystem::directory_iterator(dirs.artifacts))
    if (std::filesystem::exists(entry.path() / "manifest.json"))
      memory_file = (entry.path() / "memory").string();
  REQUIRE(!memory_file.empty());
  const auto memory_crc = file_crc(memory_file);

  auto pool = make_pool(*rt, 3, 4);
  pool = pool_when(*rt, pool.id, [](const auto& p) { return p.status.ready >= 3; });
  CHECK(rt->vm_processes().size() == 3);

  auto sandbox = checkout(*rt, pool.id);
  CHECK(sandbox.warm_pool_checkout.hit);
  CHECK(sandbox.warm_pool_checkout.source == "warm_pool");
  const auto endpoint = sandbox.endpoints.at("8080");
  CHECK(http_get(endpoint, "/").body == "hello from hearth\n");
  const auto guest_time = std::atoll(http_get(endpoint, "/cgi-bin/time").body.c_str());
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  CHECK(std::llabs(guest_time - now) <= 3);

  // Refilled to three ready, the sandbox still running beside them.
  pool = pool_when(*rt, pool.id, [](const auto& p) {
    return p.status.ready == 3 && p.status.claimed == 1;
  });
  CHECK(rt->vm_processes().size() == 4);

  // Two sandboxes from one snapshot share nothing.
  auto other = checkout(*rt, pool.id);
  const auto other_endpoint = other.endpoints.at("8080");
  CHECK(http_get(endpoint, "/cgi-bin/put").body == "stored\n");
  CHECK(http_get(endpoint, "/cgi-bin/get").body == "mine\n");
  CHECK(http_get(other_endpoint, "/cgi-bin/get").body == "absent\n");
  CHECK(http_get(endpoint, "/cgi-bin/rand").body !=
        http_get(other_endpoint, "/cgi-bin/rand").body);

  // Deleting a sandbox stops its VM.
  const int sandbox_pid = pid_of(*rt, sandbox.vm_id);
  REQUIRE(sandbox_pid > 0);
  must(rt->delete_sandbox(tenant, sandbox.id).get());
  CHECK(exits(sandbox_pid, 10s));
  for (const auto& p : rt->vm_processes())
    CHECK((p.vm_id != sandbox.vm_id || p.stopping));
  CHECK(http_get(endpoint, "/", 1s).status == 0);
  // Every clone mapped the template's memory privately: it is unchanged.
  CHECK(file_crc(memory_file) == memory_crc);
}

TEST_CASE("a failing start command fails the build with its exit code and output") {
  scratch_dirs dirs;
  auto rt = open_runtime(vm_options(dirs));
  auto spec = web_spec();
  spec.start_cmd = "echo boom: no config; exit 3";
  const auto build = build_and_wait(*rt, "team/broken", spec);
  CHECK(build.status == "failed");
  CHECK(build.error.find("exited with code 3") != std::string::npos);
  CHECK(build.error.find("boom: no config") != std::string::npos);
  const auto log = must(rt->build_log(tenant, "team/broken", build.build_id).get());
  CHECK(log.find("== failed") != std::string::npos);
  CHECK(rt->vm_processes().empty());
}

TEST_CASE(
    "a failing build step fails the build with the step, its exit code and output") {
  scratch_dirs dirs;
  auto rt = open_runtime(vm_options(dirs));
  auto spec = web_spec();
  spec.steps.push_back(
      events::build_step{"run", "echo compiling; ls /nowhere", "", 0644, {}, {}});
  const auto build = build_and_wait(*rt, "team/broken-step", spec);
  CHECK(build.status == "failed");
  CHECK(
      build.error.find("step 8 (run: echo compiling; ls /nowhere) exited with code 1") !=
      std::string::npos);
  CHECK(build.error.find("compiling") != std::string::npos);
  CHECK(build.error.find("/nowhere") != std::string::npos);
}

TEST_CASE(
    "a start command that never becomes ready fails the build with a readiness timeout") {
  scratch_dirs dirs;
  auto rt = open_runtime(vm_options(dirs));
  auto spec = web_spec();
  spec.start_cmd = "echo starting slowly; sleep 600";
  spec.readiness.timeout_ms = 2000;
  const auto build = build_and_wait(*rt, "team/slow", spec);
  CHECK(build.status == "failed");
  CHECK(build.error.find("timed out after 2000 ms") != std::string::npos);
  CHECK(build.error.find("starting slowly") != std::string::npos);
}

TEST_CASE("a member whose QEMU is killed is noticed and replaced") {
  scratch_dirs dirs;
  auto rt = open_runtime(vm_options(dirs));
  REQUIRE(build_and_wait(*rt, "team/web", web_spec()).status == "ready");
  auto pool = make_pool(*rt, 2, 2);
  pool_when(*rt, pool.id, [](const auto& p) { return p.status.ready == 2; });
  const auto victim = rt->vm_processes().front();
  REQUIRE(victim.pid > 0);
  kill(victim.pid, SIGKILL);
  pool = pool_when(
      *rt, pool.id, [](const auto& p) { return p.status.failed >= 1; }, 10s);
  pool = pool_when(*rt, pool.id, [](const auto& p) { return p.status.ready == 2; });
  CHECK(pid_of(*rt, victim.vm_id) == 0);
  CHECK(rt->vm_processes().size() == 2);
}

TEST_CASE("a restarted runtime re-adopts its live VMs and kills VMs it does not know") {
  scratch_dirs dirs;
  std::map<std::string, int> members;
  std::string pool_id;
  std::string build_id;
  {
    auto rt = open_runtime(vm_options(dirs, false));
    const auto build = build_and_wait(*rt, "team/web", web_spec());
    REQUIRE(build.status == "ready");
    build_id = build.build_id;
    auto pool = make_pool(*rt, 2, 2);
    pool_id = pool.id;
    pool_when(*rt, pool.id, [](const auto& p) { return p.status.ready == 2; });
    for (const auto& p : rt->vm_processes())
      members[p.vm_id] = p.pid;
  }
  REQUIRE(members.size() == 2);
  for (const auto& [vm, pid] : members)
    CHECK(running_pid(pid)); // still running without hearth

  // A QEMU process recorded on this host that the journal never heard of.
  int stray_pid = 0;
  {
    auto host = vmm::open_qemu_host("local", [&] {
      auto o = dirs.options(false);
      o.data_dir = dirs.data;
      return o;
    }());
    REQUIRE(host.has_value());
    std::string artifact;
    for (const auto& entry : std::filesystem::directory_iterator(dirs.artifacts))
      if (std::filesystem::exists(entry.path() / "manifest.json"))
        artifact = entry.path().string();
    std::mutex mutex;
    std::condition_variable cv;
    std::optional<vmm::result<vmm::vm_info>> restored;
    auto driver =
        vmm::make_qemu_driver(*host, [](auto, std::function<void()> f) { f(); });
    driver->restore(vmm::vm_request{"stray-vm", build_id, artifact, 1, 128, false, {}},
                    [&](auto r) {
                      std::lock_guard<std::mutex> lock(mutex);
                      restored.emplace(std::move(r));
                      cv.notify_all();
                    });
    std::unique_lock<std::mutex> lock(mutex);
    cv.wait(lock, [&] { return restored.has_value(); });
    REQUIRE_MESSAGE(restored->has_value(), (*restored ? "" : restored->error().message));
    for (const auto& p : vmm::processes(**host))
      if (p.vm_id == "stray-vm")
        stray_pid = p.pid;
  }
  REQUIRE(stray_pid > 0);

  auto rt = open_runtime(vm_options(dirs));
  auto pool = pool_when(*rt, pool_id, [](const auto& p) { return p.status.ready == 2; });
  for (const auto& [vm, pid] : members)
    CHECK(pid_of(*rt, vm) == pid); // the same processes, adopted
  CHECK(exits(stray_pid, 10s));
  // The host lists it as stopping until it forgets it, right after.
  for (const auto& p : rt->vm_processes())
    if (p.vm_id == "stray-vm")
      CHECK(p.stopping);
  auto sandbox = checkout(*rt, pool_id);
  CHECK(members.count(sandbox.vm_id) == 1);
  CHECK(http_get(sandbox.endpoints.at("8080"), "/").body == "hello from hearth\n");
}

TEST_CASE("a guest cannot reach services on the host's own addresses") {
  scratch_dirs dirs;
  auto rt = open_runtime(vm_options(dirs));
  REQUIRE(build_and_wait(*rt, "team/web", web_spec()).status == "ready");
  auto pool = make_pool(*rt, 1, 1);
  pool_when(*rt, pool.id, [](const auto& p) { return p.status.ready == 1; });
  auto sandbox = checkout(*rt, pool.id);
  const auto endpoint = sandbox.endpoints.at("8080");
  host_listener listener;
  const auto port = std::to_string(listener.port);
  // The probe works: the guest reaches its own server.
  CHECK(http_get(endpoint, "/cgi-bin/probe?127.0.0.1:8080").body == "reached\n");
  // The host through user-mode networking's gateway alias, and directly.
  CHECK(http_get(endpoint, "/cgi-bin/probe?10.0.2.2:" + port).body == "blocked\n");
  const auto address = host_address();
  if (!address.empty())
    CHECK(http_get(endpoint, "/cgi-bin/probe?" + address + ":" + port).body ==
          "blocked\n");
}

TEST_CASE(
    "outbound access is what the template or the sandbox allows, and never the host") {
  scratch_dirs dirs;
  auto rt = open_runtime(vm_options(dirs));
  const auto mirror = std::string("deb.debian.org:80");
  auto open_spec = web_spec();
  open_spec.network_allow = {mirror};
  REQUIRE(build_and_wait(*rt, "team/web", web_spec()).status == "ready");
  REQUIRE(build_and_wait(*rt, "team/open-web", open_spec).status == "ready");
  host_listener listener;
  const auto host_port = std::to_string(listener.port);

  // The default: nothing outside is reachable.
  api::sandbox_request isolated_request;
  isolated_request.template_ref = "team/web:stable";
  auto isolated = must(rt->create_sandbox(tenant, isolated_request).get());
  const auto isolated_endpoint = isolated.endpoints.at("8080");
  CHECK(http_get(isolated_endpoint, "/cgi-bin/probe?10.0.2.100:80").body == "blocked\n");

  // The template allows the mirror: its relay address answers, named in
  // /etc/hosts; the host stays out of reach.
  api::sandbox_request open_request;
  open_request.template_ref = "team/open-web:stable";
  auto open = must(rt->create_sandbox(tenant, open_request).get());
  const auto open_endpoint = open.endpoints.at("8080");
  CHECK(http_get(open_endpoint, "/cgi-bin/probe?10.0.2.100:80").body == "reached\n");
  CHECK(http_get(open_endpoint, "/cgi-bin/probe?10.0.2.2:" + host_port).body ==
        "blocked\n");
  CHECK(http_get(open_endpoint, "/cgi-bin/probe?10.0.2.100:" + host_port).body ==
        "blocked\n");

  // A sandbox's own allow-list replaces its template's; it is custom
  // networking, so require mode refuses it and prefer creates it cold.
  auto pool = make_pool(*rt, 1, 1);
  api::sandbox_request custom;
  custom.template_ref = "team/web:stable";
  custom.warm_pool = pool.id;
  custom.warm_pool_mode = "require";
  custom.network_allow = {mirror};
  auto refused = rt->create_sandbox(tenant, custom).get();
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().code == model::errc::warm_pool_unavailable);
  custom.warm_pool_mode = "prefer";
  auto allowed = must(rt->create_sandbox(tenant, custom).get());
  CHECK_FALSE(allowed.warm_pool_checkout.hit);
  CHECK(allowed.network_allow == std::vector<std::string>{mirror});
  CHECK(http_get(allowed.endpoints.at("8080"), "/cgi-bin/probe?10.0.2.100:80").body ==
        "reached\n");

  custom.network_allow = {"localhost:not-a-port"};
  auto invalid = rt->create_sandbox(tenant, custom).get();
  REQUIRE_FALSE(invalid.has_value());
  CHECK(invalid.error().field == "network_allow");
}
