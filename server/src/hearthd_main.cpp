// hearthd: the hearth daemon. Opens the data directory, recovers every actor
// from its journal, and serves the HTTP API.
#include <CLI/CLI.hpp>
#include <atomic>
#include <condition_variable>
#include <csignal>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <spdlog/spdlog.h>
#include <string>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>

#include "hearth/actors/runtime.hpp"
#include "hearth/events/codec.hpp"
#include "hearth/server/http_api.hpp"
#include "hearthd_config.hpp"

namespace {

using hearth::server::hearthd_config;

/// Tells the service manager that started hearthd (systemd's `Type=notify`,
/// or anything speaking its protocol) how it is: `READY=1` once it serves,
/// `STOPPING=1` when it starts to stop. The manager names a Unix datagram
/// socket in `NOTIFY_SOCKET` (a path, or `@name` in the abstract namespace);
/// without one this does nothing. A message that cannot be sent is logged:
/// hearthd serves either way.
void notify_service_manager(const std::string& state) {
  const char* target = std::getenv("NOTIFY_SOCKET");
  if (target == nullptr || target[0] == '\0')
    return;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const std::size_t length = std::strlen(target);
  if ((target[0] != '/' && target[0] != '@') || length >= sizeof(address.sun_path)) {
    spdlog::warn("NOTIFY_SOCKET={} is not a socket path or @name; not notifying", target);
    return;
  }
  std::memcpy(address.sun_path, target, length);
  if (target[0] == '@')
    address.sun_path[0] = '\0'; // the abstract namespace
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  const auto size = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + length);
  if (fd < 0 || ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                         reinterpret_cast<const sockaddr*>(&address), size) < 0)
    spdlog::warn("cannot notify the service manager at {}: {}", target,
                 std::strerror(errno));
  if (fd >= 0)
    ::close(fd);
}

/// Makes sure `path` holds a key hearth knows for `tenant` with `role`;
/// creates one (0600) if not. Answers an error message, or empty.
std::string ensure_key_file(hearth::runtime& rt, const std::string& path,
                            const std::string& tenant, const std::string& role) {
  std::ifstream in(path);
  std::string existing;
  if (in && std::getline(in, existing) && !existing.empty()) {
    auto who = rt.authenticate(existing).get();
    if (who && who->tenant == tenant && who->role == role)
      return {};
    spdlog::warn("{} holds a key hearth does not know for {} ({}); writing a new one",
                 path, tenant, role);
  }
  auto key = rt.create_api_key(tenant, role).get();
  if (!key)
    return "cannot create the " + role + " key: " + key.error().message;
  const std::string temp = path + ".tmp";
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return "cannot write " + temp + ": " + std::strerror(errno);
  fchmod(fd, 0600);
  const std::string line = key->key + "\n";
  const bool written =
      ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
      fsync(fd) == 0;
  ::close(fd);
  if (!written || std::rename(temp.c_str(), path.c_str()) != 0)
    return "cannot write " + path + ": " + std::strerror(errno);
  spdlog::info("wrote the {} key of tenant {} to {} ({})", role, tenant, path,
               key->key_id);
  return {};
}

/// One log line per event the journal acknowledges: every state change, in
/// order, read back from the journal itself.
class journal_logger {
public:
  /// `max_wait`: how long one wait for the journal may last (below the
  /// runtime's call timeout); it ends early at each write and at a stop.
  journal_logger(hearth::runtime& rt, std::chrono::milliseconds max_wait)
      : rt_(rt)
      , max_wait_(max_wait) {
    // Start after what recovery already replayed.
    from_ = next_position();
    thread_ = std::thread([this] { run(); });
  }

  ~journal_logger() {
    {
      std::lock_guard<std::mutex> lock(wake_->mutex);
      wake_->stop = true;
    }
    wake_->changed.notify_all();
    thread_.join();
  }

private:
  std::uint64_t next_position() {
    std::uint64_t from = 1;
    for (;;) {
      auto page = rt_.read_events("", from, 1000);
      if (!page || page->empty())
        return from;
      from = page->back().position + 1;
    }
  }

  /// What the thread sleeps on: the journal's answer or a stop, whichever
  /// comes first. Shared with the answer's callback, which may come after
  /// the logger has gone.
  struct wake {
    std::mutex mutex;
    std::condition_variable changed;
    bool stop = false;
    bool answered = false;
    bool failed = false;
  };

  /// Sleeps until the journal holds `from_` or `max_wait` has passed; false
  /// once stopped.
  bool wait_for_events(std::chrono::milliseconds max_wait) {
    {
      std::lock_guard<std::mutex> lock(wake_->mutex);
      wake_->answered = false;
    }
    rt_.wait_events(from_, max_wait).then([wake = wake_](hearth::model::result<bool> r) {
      {
        std::lock_guard<std::mutex> lock(wake->mutex);
        wake->answered = true;
        wake->failed = !r;
      }
      wake->changed.notify_all();
    });
    std::unique_lock<std::mutex> lock(wake_->mutex);
    wake_->changed.wait(lock, [&] { return wake_->stop || wake_->answered; });
    // A wait the runtime refused (it is stopping) answers at once: sit out
    // `max_wait` here rather than spin.
    if (wake_->failed)
      wake_->changed.wait_for(lock, max_wait, [&] { return wake_->stop; });
    return !wake_->stop;
  }

  /// Logs what the journal holds from `from_` on.
  void log_written() {
    for (;;) {
      auto page = rt_.read_events("", from_, 1000);
      if (!page || page->empty())
        return;
      for (const auto& event : *page) {
        auto payload = hearth::events::payload_to_json(event.payload);
        spdlog::info("{} #{} {} {}", event.stream, event.sequence, event.type,
                     payload ? *payload : std::string("<unreadable payload>"));
      }
      from_ = page->back().position + 1;
    }
  }

  void run() {
    // Woken by each write, so its line is logged at once, or by the stop:
    // what was written before it is logged before the thread ends.
    do
      log_written();
    while (wait_for_events(max_wait_));
    log_written();
  }

  hearth::runtime& rt_;
  std::uint64_t from_ = 1;
  std::chrono::milliseconds max_wait_;
  std::shared_ptr<wake> wake_ = std::make_shared<wake>();
  std::thread thread_;
};

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"hearthd: warm pools of QEMU microVM sandboxes, served over HTTP"};
  hearthd_config config;
  config.data_dir = hearth::server::default_data_dir();
  config.runtime.driver = hearth::vm_driver::qemu;

  std::string config_file;
  std::string listen;
  std::string data_dir;
  std::string driver;
  std::string log_level;
  std::string image_dir;
  bool controller_disabled = false;
  std::uint32_t host_vcpus = 0;
  std::uint32_t host_memory_mb = 0;
  app.add_option("--config", config_file, "TOML settings file (flags override it)")
      ->check(CLI::ExistingFile);
  app.add_option("--listen", listen, "address:port of the HTTP API [127.0.0.1:4327]");
  app.add_option("--data-dir", data_dir,
                 "journal, VMs, artifacts and key files [$HEARTH_DATA_DIR or "
                 "~/.local/share/hearth]");
  app.add_option("--driver", driver, "what runs the VMs: qemu or simulated [qemu]")
      ->check(CLI::IsMember({"qemu", "simulated"}));
  app.add_option("--image-dir", image_dir, "guest image cache [<data-dir>/images]");
  app.add_option("--host-vcpus", host_vcpus, "vcpus this host offers [64]");
  app.add_option("--host-memory-mb", host_memory_mb, "memory this host offers [65536]");
  app.add_flag("--controller-disabled", controller_disabled,
               "turn reconciliation off for every pool (degraded: controller_disabled)");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error [info]");
  CLI11_PARSE(app, argc, argv);

  if (!config_file.empty()) {
    if (auto error = hearth::server::load_toml(config_file, config); !error.empty()) {
      spdlog::error("{}", error);
      return 2;
    }
  }
  if (!listen.empty())
    config.listen = listen;
  if (!data_dir.empty())
    config.data_dir = data_dir;
  if (!log_level.empty())
    config.log_level = log_level;
  if (!driver.empty())
    config.runtime.driver =
        driver == "qemu" ? hearth::vm_driver::qemu : hearth::vm_driver::simulated;
  if (!image_dir.empty())
    config.runtime.qemu.image_dir = image_dir;
  if (host_vcpus != 0)
    config.runtime.hosts.front().vcpus = host_vcpus;
  if (host_memory_mb != 0)
    config.runtime.hosts.front().memory_mb = host_memory_mb;
  if (controller_disabled)
    config.runtime.controller_disabled = true;

  const auto level = spdlog::level::from_str(config.log_level);
  if (level == spdlog::level::off && config.log_level != "off") {
    spdlog::error("log level {} is not one of trace, debug, info, warn, error",
                  config.log_level);
    return 2;
  }
  spdlog::set_level(level);
  if (!hearth::server::parse_listen(config.listen, config.http.address,
                                    config.http.port)) {
    spdlog::error("listen address {} is not of the form address:port", config.listen);
    return 2;
  }

  // Signals are taken by sigwait below; block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  if (ec) {
    spdlog::error("cannot create data directory {}: {}", config.data_dir, ec.message());
    return 1;
  }
  config.runtime.data_dir = config.data_dir;
  spdlog::info("opening {} ({} VMs)", std::filesystem::absolute(config.data_dir).string(),
               config.runtime.driver == hearth::vm_driver::qemu ? "QEMU" : "simulated");
  auto opened = hearth::runtime::open(config.runtime);
  if (!opened) {
    spdlog::error("{}", opened.error().message);
    return 1;
  }
  auto& rt = **opened;
  for (const auto& [file, role] :
       {std::pair{"tenant.key", "tenant"}, {"admin.key", "admin"}}) {
    auto error = ensure_key_file(rt, config.data_dir + "/" + file,
                                 config.runtime.default_tenant, role);
    if (!error.empty()) {
      spdlog::error("{}", error);
      return 1;
    }
  }

  auto changes = std::make_unique<journal_logger>(
      rt, std::min<std::chrono::milliseconds>(config.runtime.call_timeout / 2,
                                              std::chrono::seconds(10)));
  // A long poll answers within half the request timeout, so the server's
  // own timeout never cuts it.
  hearth::server::api_options api_options;
  api_options.max_wait = std::min(api_options.max_wait, config.http.request_timeout / 2);
  hearth::server::http_api api(rt, api_options);
  auto server = hearth::server::http_server::start(
      config.http,
      [&api](hearth::server::http_request request, hearth::server::respond_fn respond) {
        api.handle(std::move(request), std::move(respond));
      });
  if (!server) {
    spdlog::error("{}", server.error().message);
    return 1;
  }
  spdlog::info("hearthd serving http://{}:{} with data in {}", config.http.address,
               (*server)->port(), std::filesystem::absolute(config.data_dir).string());
  notify_service_manager("READY=1\nSTATUS=serving http://" + config.http.address + ":" +
                         std::to_string((*server)->port()));

  int received = 0;
  sigwait(&signals, &received);
  spdlog::info("received {}, finishing requests in flight", strsignal(received));
  notify_service_manager("STOPPING=1");
  // Stopping is bounded: if a stage hangs, say which and exit anyway. Nothing
  // is lost: everything acknowledged is in the journal, and VMs are
  // re-adopted by the next start.
  std::atomic<const char*> stage{"stopping the HTTP server"};
  std::mutex stop_mutex;
  std::condition_variable stop_done;
  bool stopped = false;
  std::thread watchdog([&] {
    std::unique_lock<std::mutex> lock(stop_mutex);
    if (!stop_done.wait_for(lock, config.shutdown_timeout, [&] { return stopped; })) {
      spdlog::error("stopping did not finish within {} ms (stuck {}); exiting now",
                    config.shutdown_timeout.count(), stage.load());
      spdlog::shutdown();
      _exit(1);
    }
  });
  (*server)->stop();
  stage = "stopping the journal log";
  changes.reset();
  stage = "stopping the actors";
  opened->reset();
  {
    std::lock_guard<std::mutex> lock(stop_mutex);
    stopped = true;
  }
  stop_done.notify_all();
  watchdog.join();
  spdlog::info("hearthd stopped");
  return 0;
}
