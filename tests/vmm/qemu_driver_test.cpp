// The QEMU driver on its own, without actors: a real busybox guest built
// into a fast-path snapshot and restored as clones.

#include "hearth/events/checksum.hpp"
#include "qemu_fixture.hpp"

#include <doctest/doctest.h>
#include <fstream>
#include <signal.h>
#include <thread>

using namespace hearth;
using namespace hearth::testing;
using namespace std::chrono_literals;

namespace {

/// A driver whose callbacks land in slots the test waits on.
struct sync_driver {
  std::shared_ptr<vmm::qemu_host> host;
  std::unique_ptr<vmm::driver> driver;

  explicit sync_driver(vmm::qemu_options options) {
    auto opened = vmm::open_qemu_host("local", std::move(options));
    REQUIRE_MESSAGE(opened.has_value(), (opened ? "" : opened.error().message));
    host = *opened;
    driver = vmm::make_qemu_driver(
        host, [](std::chrono::nanoseconds, std::function<void()> work) { work(); });
  }

  template <class T, class Start>
  vmm::result<T> wait(Start start) {
    std::mutex mutex;
    std::condition_variable done;
    std::optional<vmm::result<T>> value;
    start([&](vmm::result<T> r) {
      std::lock_guard<std::mutex> lock(mutex);
      value.emplace(std::move(r));
      done.notify_all();
    });
    std::unique_lock<std::mutex> lock(mutex);
    done.wait(lock, [&] { return value.has_value(); });
    return std::move(*value);
  }

  vmm::result<vmm::build_result> build(vmm::build_request r) {
    return wait<vmm::build_result>([&](auto cb) { driver->build(r, cb); });
  }
  vmm::result<vmm::vm_info> restore(const std::string& vm_id, const std::string& build_id,
                                    const std::string& artifact) {
    vmm::vm_request r;
    r.vm_id = vm_id;
    r.build_id = build_id;
    r.artifact = artifact;
    return wait<vmm::vm_info>([&](auto cb) { driver->restore(r, cb); });
  }
  vmm::result<bool> destroy(const std::string& vm_id) {
    return wait<bool>([&](auto cb) { driver->destroy(vm_id, cb); });
  }
};

std::uint32_t file_crc(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  return events::crc32c(data);
}

} // namespace

TEST_CASE(
    "a busybox template is built into a snapshot and its clones answer over HTTP, each "
    "with its own state") {
  scratch_dirs dirs;
  sync_driver d(dirs.options());
  auto built = d.build(web_template("web-1"));
  REQUIRE_MESSAGE(built.has_value(), (built ? "" : built.error().message));
  CHECK(built->log.find("== step 7 (run: echo built > /www/built.txt)") !=
        std::string::npos);
  CHECK(built->log == d.driver->build_log("web-1"));
  const auto memory_crc = file_crc(built->artifact + "/memory");

  auto a = d.restore("clone-a", "web-1", built->artifact);
  REQUIRE_MESSAGE(a.has_value(), (a ? "" : a.error().message));
  auto b = d.restore("clone-b", "web-1", built->artifact);
  REQUIRE_MESSAGE(b.has_value(), (b ? "" : b.error().message));
  const auto ea = a->endpoints.at("8080");
  const auto eb = b->endpoints.at("8080");
  CHECK(ea != eb);
  MESSAGE("restore to ready: " << a->restore_us / 1000 << " ms and "
                               << b->restore_us / 1000 << " ms");

  auto index = http_get(ea, "/");
  CHECK(index.status == 200);
  CHECK(index.body == "hello from hearth\n");
  CHECK(http_get(ea, "/built.txt").body == "built\n");

  // The clock was resynced after the restore.
  const auto time_reply = http_get(ea, "/cgi-bin/time");
  INFO("time reply: " << time_reply.status << " " << time_reply.body);
  const auto guest_time = std::atoll(time_reply.body.c_str());
  const auto host_time = std::chrono::duration_cast<std::chrono::seconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  CHECK(std::llabs(guest_time - host_time) <= 3);

  // Files and randomness are each clone's own.
  CHECK(http_get(ea, "/cgi-bin/put").body == "stored\n");
  CHECK(http_get(ea, "/cgi-bin/get").body == "mine\n");
  CHECK(http_get(eb, "/cgi-bin/get").body == "absent\n");
  const auto rand_a = http_get(ea, "/cgi-bin/rand").body;
  const auto rand_b = http_get(eb, "/cgi-bin/rand").body;
  CHECK(rand_a.size() == 32);
  CHECK(rand_a != rand_b);

  CHECK(d.destroy("clone-a").has_value());
  CHECK(d.destroy("clone-b").has_value());
  CHECK(http_get(ea, "/", 1s).status == 0);
  CHECK(d.driver->running().empty());
  // Clones map the memory file privately: the template is untouched.
  CHECK(file_crc(built->artifact + "/memory") == memory_crc);

  // A damaged artifact is refused before any VM uses it.
  {
    std::fstream state(built->artifact + "/state",
                       std::ios::in | std::ios::out | std::ios::binary);
    state.seekg(100);
    const char byte = static_cast<char>(state.get());
    state.seekp(100);
    state.put(static_cast<char>(~byte));
  }
  sync_driver fresh(dirs.options());
  auto refused = fresh.restore("clone-c", "web-1", built->artifact);
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().message.find("state does not match its manifest checksum") !=
        std::string::npos);
  CHECK(fresh.driver->running().empty());
}
