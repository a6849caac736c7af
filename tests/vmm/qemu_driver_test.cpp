// The QEMU driver on its own, without actors: a real busybox guest built
// into a fast-path snapshot and restored as clones.

#include <cstdio>
#include <cstdlib>
#include <doctest/doctest.h>
#include <fstream>
#include <future>
#include <signal.h>
#include <thread>

#include "hearth/events/checksum.hpp"
#include "qemu_fixture.hpp"

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

TEST_CASE(
    "a QEMU that exits before serving QMP fails its restore with QEMU's own words") {
  scratch_dirs dirs;
  sync_driver builder(dirs.options());
  auto built = builder.build(web_template("web-1"));
  REQUIRE_MESSAGE(built.has_value(), (built ? "" : built.error().message));
  // A QEMU that reports its version and refuses to start anything.
  const auto fake = dirs.data + "/qemu-refuses";
  std::ofstream(fake) << "#!/bin/sh\n"
                         "[ \"$1\" = --version ] && exec qemu-system-x86_64 --version\n"
                         "echo 'qemu-refuses: no machine for you' >&2\n"
                         "exit 1\n";
  std::filesystem::permissions(fake, std::filesystem::perms::owner_all);
  auto options = dirs.options();
  options.qemu_binary = fake;
  options.qmp_timeout = 10min; // a launch that waited for the socket would hang here
  sync_driver d(options);
  auto refused = d.restore("clone-a", "web-1", built->artifact);
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().message.find("QEMU exited before it served QMP") !=
        std::string::npos);
  CHECK(refused.error().message.find("no machine for you") != std::string::npos);
  CHECK(d.driver->running().empty());
}

TEST_CASE("a host that leaves its VMs running closes while its watcher ticks") {
  // Closing drops the host's hold on each VM's QMP and agent channels while
  // the watcher, between polls, checks the same VMs: a close that dropped
  // them under the host's lock waited for the watcher, which waited for that
  // lock. A watcher that ticks every millisecond makes the race likely.
  scratch_dirs dirs;
  std::vector<int> pids;
  {
    sync_driver d(dirs.options(false));
    auto built = d.build(web_template("web-1"));
    REQUIRE_MESSAGE(built.has_value(), (built ? "" : built.error().message));
    for (const auto* id : {"clone-a", "clone-b", "clone-c"}) {
      auto vm = d.restore(id, "web-1", built->artifact);
      REQUIRE_MESSAGE(vm.has_value(), (vm ? "" : vm.error().message));
    }
    for (const auto& p : vmm::processes(*d.host))
      pids.push_back(p.pid);
  }
  REQUIRE(pids.size() == 3);
  auto busy_watcher = dirs.options(false);
  busy_watcher.watch_interval = 1ms;
  for (int round = 0; round < 40; ++round) {
    auto host = vmm::open_qemu_host("local", busy_watcher);
    REQUIRE_MESSAGE(host.has_value(), (host ? "" : host.error().message));
    REQUIRE(vmm::processes(**host).size() == 3); // each VM adopted again
    std::promise<void> closed;
    auto done = closed.get_future();
    std::thread closer([&] {
      vmm::close_qemu_host(**host);
      closed.set_value();
    });
    if (done.wait_for(30s) != std::future_status::ready) {
      // A deadlocked close cannot be unwound: say so and end the process.
      std::fprintf(stderr, "round %d: closing the host did not end within 30 s\n", round);
      std::abort();
    }
    closer.join();
  }
  for (const auto pid : pids)
    CHECK(running_pid(pid)); // closing left them running, as asked
  auto last = vmm::open_qemu_host("local", dirs.options(true));
  REQUIRE(last.has_value());
  vmm::close_qemu_host(**last); // stops them
  for (const auto pid : pids)
    CHECK_FALSE(running_pid(pid));
}
