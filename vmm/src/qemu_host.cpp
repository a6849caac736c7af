#include <arpa/inet.h>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <netinet/in.h>
#include <nlohmann/json.hpp>
#include <optional>
#include <poll.h>
#include <random>
#include <set>
#include <sstream>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <utility>

#include "agent_client.hpp"
#include "artifact.hpp"
#include "guest_image.hpp"
#include "hearth/guest/protocol.hpp"
#include "hearth/vmm/qemu_driver.hpp"
#include "io_loop.hpp"
#include "process.hpp"
#include "qmp_client.hpp"
#include "text_util.hpp"

namespace hearth::vmm {

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;
using detail::agent_client;
using detail::artifact;
using detail::qmp_client;
using detail::vm_config;

namespace {

using clock_type = std::chrono::steady_clock;

std::string tail(const std::string& s, std::size_t n) {
  return s.size() <= n ? s : "..." + s.substr(s.size() - n);
}

std::int64_t wall_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::chrono::milliseconds ms(std::uint64_t n) {
  return std::chrono::milliseconds(n);
}

/// The host CPU's frequency in kHz: TCG + microvm needs `tsc_early_khz` or
/// about one boot in a dozen hangs calibrating the TSC.
std::uint64_t tsc_khz() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("cpu MHz", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos)
        return static_cast<std::uint64_t>(std::stod(line.substr(colon + 1)) * 1000);
    }
  return 2'000'000;
}

/// Where the running program lives (to find hearth-agent beside it).
std::string program_dir() {
  std::error_code ec;
  const auto self = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string(".") : self.parent_path().string();
}

std::string random_bytes(std::size_t n) {
  std::string out(n, '\0');
  std::ifstream in("/dev/urandom", std::ios::binary);
  in.read(out.data(), static_cast<std::streamsize>(n));
  return out;
}

/// A pool of threads that run blocking jobs (QEMU process waits, QMP and
/// agent round trips) so that no actor ever does.
class job_pool {
public:
  explicit job_pool(std::size_t threads) {
    for (std::size_t i = 0; i < std::max<std::size_t>(1, threads); ++i)
      threads_.emplace_back([this] { run(); });
  }
  ~job_pool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (auto& t : threads_)
      t.join();
  }
  void submit(std::function<void()> job) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      jobs_.push_back(std::move(job));
    }
    wake_.notify_one();
  }

private:
  void run() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
        if (jobs_.empty())
          return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

} // namespace

/// One VM this host runs.
struct running_vm {
  std::string id;
  std::string build_id;
  std::string dir;
  detail::process proc;
  /// `proc.pid`, kept: the stopping thread sets that to 0 once it reaps.
  pid_t pid = 0;
  std::unique_ptr<qmp_client> qmp;
  std::unique_ptr<agent_client> agent;
  std::map<std::string, std::string> endpoints;
  bool adopted = false;
  /// Set by destroy: the exit is expected, not news.
  bool destroying = false;
  /// Set once launched: from then on, the watcher reports its death.
  bool watched = false;
};

class qemu_host : public std::enable_shared_from_this<qemu_host> {
public:
  qemu_host(std::string host_id, qemu_options options)
      : host_id_(std::move(host_id))
      , options_(std::move(options)) {}

  ~qemu_host() { shut_down(); }

  /// Ends the workers and the watcher (after this, no callback runs), and
  /// stops the VMs if asked to. Idempotent.
  void shut_down() {
    if (closed_.exchange(true))
      return;
    // Builds and restores in flight wait on their VMs: end those VMs so the
    // workers finish now, not at their timeouts.
    std::vector<std::shared_ptr<running_vm>> unfinished;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (const auto& [id, vm] : vms_)
        if (!vm->watched || id.rfind("build-", 0) == 0)
          unfinished.push_back(vm);
    }
    for (const auto& vm : unfinished)
      detail::terminate(vm->proc, 1s);
    builds_.reset();
    jobs_.reset();
    if (options_.stop_vms_on_exit) {
      std::map<std::string, std::shared_ptr<running_vm>> vms;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        vms = vms_;
      }
      for (const auto& [id, vm] : vms)
        stop(*vm);
    }
    // Their channels leave the loop before it goes, and outside the lock
    // (see `mutex_`).
    std::map<std::string, std::shared_ptr<running_vm>> leaving;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      leaving.swap(vms_);
    }
    leaving.clear();
    loop_.reset();
  }

  result<bool> start() {
    if (options_.data_dir.empty())
      return error{errc::host_lost, "the QEMU driver needs a data directory"};
    if (options_.artifact_dir.empty())
      options_.artifact_dir = options_.data_dir + "/artifacts";
    if (options_.image_dir.empty())
      options_.image_dir = options_.data_dir + "/images";
    if (options_.agent_path.empty()) {
      const char* env = std::getenv("HEARTH_AGENT");
      options_.agent_path = env != nullptr ? env : program_dir() + "/hearth-agent";
#ifdef HEARTH_AGENT_BUILD_PATH
      if (env == nullptr && !fs::exists(options_.agent_path))
        options_.agent_path = HEARTH_AGENT_BUILD_PATH;
#endif
    }
    vms_dir_ = options_.data_dir + "/vms";
    builds_dir_ = options_.data_dir + "/builds";
    std::error_code ec;
    for (const auto& dir : {vms_dir_, builds_dir_, options_.artifact_dir})
      if (fs::create_directories(dir, ec); ec)
        return error{errc::host_lost, "cannot create " + dir + ": " + ec.message()};
    int code = 0;
    const auto version =
        detail::run_command(options_.qemu_binary + " --version 2>&1", code);
    if (code != 0)
      return error{errc::host_lost,
                   options_.qemu_binary +
                       " does not run (install it: scripts/install-deps.sh): " +
                       tail(version, 300)};
    qemu_version_ = version.substr(0, version.find('\n'));
    loop_ =
        std::make_unique<detail::io_loop>(options_.watch_interval, [this] { watch(); });
    if (auto accel = choose_accelerator(); !accel)
      return accel.error();
    adopt_recorded();
    jobs_ = std::make_unique<job_pool>(options_.workers);
    builds_ = std::make_unique<job_pool>(options_.build_workers);
    return true;
  }

  // -- what the driver calls (from worker threads) --------------------------------

  void submit(bool build, std::function<void()> job) {
    if (closed_)
      return; // shutting down: nobody is left to hear the answer
    (build ? builds_ : jobs_)->submit(std::move(job));
  }

  result<build_result> build(const build_request& request) {
    const fs::path log_path = fs::path(builds_dir_) / (request.build_id + ".log");
    std::ofstream log(log_path, std::ios::trunc);
    std::string text;
    auto note = [&](const std::string& line) {
      log << line << "\n" << std::flush;
      text += line + "\n";
    };
    auto failed = [&](errc code, const std::string& message) -> result<build_result> {
      note("== failed: " + message);
      return error{code, message};
    };
    auto recipe = detail::recipe_for_base(request.base);
    if (!recipe)
      return failed(errc::build_failed, recipe.error().message);
    std::string image_log;
    note("== base " + request.base);
    auto image =
        detail::ensure_image(options_.image_dir, options_.agent_path, *recipe, image_log);
    if (!image_log.empty())
      note(image_log);
    if (!image)
      return failed(errc::build_failed, image.error().message);
    note("== image " + image->dir);

    vm_config config;
    config.accel = accel_;
    config.vcpus = std::max<std::uint32_t>(1, request.vcpus);
    config.memory_mb = std::max<std::uint32_t>(64, request.memory_mb);
    config.append =
        "console=ttyS0 quiet panic=-1 tsc_early_khz=" + std::to_string(tsc_khz());
    if (request.ready.port != 0)
      config.ports.push_back(request.ready.port);
    config.ready = request.ready;
    config.base_disk = image->disk;
    config.memory_file = options_.memory_file_snapshots;
    config.network_allow = request.network_allow;

    const fs::path staging =
        fs::path(options_.artifact_dir) / (".build-" + request.build_id);
    std::error_code ec;
    fs::remove_all(staging, ec);
    fs::create_directories(staging, ec);
    fs::copy_file(image->kernel, staging / "vmlinuz", ec);
    fs::copy_file(image->initramfs, staging / "initramfs.cpio", ec);
    if (ec)
      return failed(errc::build_failed, "cannot stage the artifact: " + ec.message());
    artifact staged;
    staged.dir = staging.string();
    staged.config = config;
    if (staged.has_disk()) {
      // The template writes to its own overlay; once snapshotted it is
      // frozen and every clone gets an overlay on top of it.
      if (auto made = make_overlay(config.base_disk, "raw", staged.disk()); !made)
        return failed(errc::build_failed, made.error().message);
    }

    // The template VM: its memory is the file clones will map. Package
    // steps reach their index through the build VM's own allow-list only.
    auto build_allow = config.network_allow;
    for (const auto& s : request.steps) {
      if (s.kind == "apt_install")
        build_allow.push_back(detail::debian_mirror_destination());
      if (s.kind == "pip_install") {
        build_allow.push_back("pypi.org:443");
        build_allow.push_back("files.pythonhosted.org:443");
      }
    }
    std::sort(build_allow.begin(), build_allow.end());
    build_allow.erase(std::unique(build_allow.begin(), build_allow.end()),
                      build_allow.end());
    const auto spawned = clock_type::now();
    auto vm = launch("build-" + request.build_id, request.build_id, staged, false,
                     build_allow, (staging / "run").string());
    if (!vm)
      return failed(errc::build_failed, vm.error().message);
    auto cleanup = [&] {
      stop(**vm);
      forget((*vm)->id);
      fs::remove_all(staging, ec);
    };
    const auto boot_started = clock_type::now();
    auto up = (*vm)->agent->wait_until_up(options_.boot_timeout);
    if (!up) {
      const auto console = detail::read_file(fs::path((*vm)->dir) / "console.log");
      cleanup();
      return failed(errc::build_failed, "the guest did not boot: " + up.error().message +
                                            "; console: " + tail(console, 1500));
    }
    // Allowed destinations resolve to their relays' guest addresses.
    if (auto hosts = (*vm)->agent->call(
            {{"op", "fixup"}, {"hosts", guest_hosts(build_allow)}}, 10s);
        !hosts || !hosts->value("ok", false)) {
      cleanup();
      return failed(errc::build_failed, "cannot set the guest's host names");
    }
    note("== booted in " +
         std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                            clock_type::now() - boot_started)
                            .count()) +
         " ms (" + accel_ + ")");

    std::map<std::string, std::string> env;
    std::string workdir;
    const auto steps_started = clock_type::now();
    for (std::size_t i = 0; i < request.steps.size(); ++i) {
      const auto& s = request.steps[i];
      const std::string label = "step " + std::to_string(i + 1) + " (" + s.kind +
                                (s.text.empty() ? "" : ": " + s.text) + ")";
      note("== " + label);
      json call;
      if (s.kind == "env") {
        for (const auto& [k, v] : s.env)
          env[k] = v;
        continue;
      }
      if (s.kind == "workdir") {
        workdir = s.text;
        call = {
            {"op", "exec"}, {"cmd", "mkdir -p '" + s.text + "'"}, {"timeout_ms", 10'000}};
      } else if (s.kind == "copy") {
        call = {{"op", "write_file"},
                {"path", s.text},
                {"content_b64", s.content_b64},
                {"mode", s.mode}};
      } else {
        std::string cmd = s.text;
        std::string packages;
        for (const auto& p : s.packages)
          packages += " '" + p + "'";
        if (s.kind == "apt_install")
          // debootstrap leaves no package lists: fetch them once.
          cmd =
              "export DEBIAN_FRONTEND=noninteractive; "
              "ls /var/lib/apt/lists/*_Packages >/dev/null 2>&1 || apt-get update -q && "
              "apt-get install -y -q --no-install-recommends" +
              packages;
        else if (s.kind == "pip_install")
          cmd =
              "python3 -m pip install --no-cache-dir --break-system-packages" + packages;
        else if (s.kind != "run") {
          cleanup();
          return failed(errc::build_failed, label + " is not a known step kind");
        }
        call = {{"op", "exec"},
                {"cmd", cmd},
                {"env", env},
                {"cwd", workdir},
                {"timeout_ms", options_.step_timeout.count()}};
      }
      auto answer = (*vm)->agent->call(call, options_.step_timeout + 5s);
      if (!answer) {
        cleanup();
        return failed(errc::build_failed, label + ": " + answer.error().message);
      }
      const std::string output = answer->value("output", "");
      if (!output.empty())
        note(tail(output, 64 * 1024));
      if (!answer->value("ok", false)) {
        cleanup();
        return failed(errc::build_failed,
                      label + ": " + answer->value("error", "failed"));
      }
      const int exit_code = answer->value("exit_code", 0);
      if (answer->value("timed_out", false) || exit_code != 0) {
        cleanup();
        return failed(errc::build_failed,
                      label +
                          (answer->value("timed_out", false)
                               ? " timed out"
                               : " exited with code " + std::to_string(exit_code)) +
                          ": " + tail(output, 2000));
      }
    }

    const auto steps_us =
        static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                       clock_type::now() - steps_started)
                                       .count());
    // The snapshot keeps the template's own names: its clones then need no
    // /etc/hosts rewrite (only a sandbox with its own allow-list does).
    if (build_allow != config.network_allow) {
      if (auto hosts = (*vm)->agent->call(
              {{"op", "fixup"}, {"hosts", guest_hosts(config.network_allow)}}, 10s);
          !hosts || !hosts->value("ok", false)) {
        cleanup();
        return failed(errc::build_failed, "cannot set the guest's host names");
      }
    }
    if (!request.start_cmd.empty()) {
      note("== start: " + request.start_cmd);
      auto started = (*vm)->agent->call(
          {{"op", "start"}, {"cmd", request.start_cmd}, {"env", env}, {"cwd", workdir}},
          10s);
      if (!started || !started->value("ok", false)) {
        const auto why =
            started ? started->value("error", "failed") : started.error().message;
        cleanup();
        return failed(errc::build_failed, "start command: " + why);
      }
    }
    auto ready = check_ready(**vm, request.ready);
    if (!ready) {
      cleanup();
      return failed(ready.error().code, ready.error().message);
    }
    note("== ready (" +
         (request.ready.kind.empty() ? std::string("no check") : request.ready.kind) +
         ")");
    // One request through each forwarded port before the snapshot: what an
    // app loads lazily on its first request (Python imports, say) is then in
    // the snapshot, not paid again by every clone.
    for (const auto& [guest_port, endpoint] : options_.warm_up_timeout.count() > 0
                                                  ? (*vm)->endpoints
                                                  : std::map<std::string, std::string>{})
      for (int round = 0; round < 3; ++round)
        note("== warm-up GET / on " + guest_port + ": " +
             warm_up(endpoint, options_.warm_up_timeout));
    // Let the warm-up's connections finish closing: a snapshot taken in the
    // middle of a TCP teardown makes every clone finish it (against a
    // user-mode network that no longer knows the peer) while it restores.
    if (options_.warm_up_timeout.count() > 0 && !(*vm)->endpoints.empty())
      std::this_thread::sleep_for(options_.warm_up_settle);

    const auto ready_us = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(clock_type::now() - spawned)
            .count());
    const auto snapshot_started = clock_type::now();
    if (auto saved = snapshot(**vm, staging, config.memory_file); !saved) {
      cleanup();
      return failed(errc::build_failed, "snapshot: " + saved.error().message);
    }
    stop(**vm);
    forget((*vm)->id);
    fs::remove_all(staging / "run", ec);
    if (staged.has_disk())
      fs::permissions(
          staged.disk(),
          fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read, ec);
    note("== snapshot in " +
         std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                            clock_type::now() - snapshot_started)
                            .count()) +
         " ms, device state " + std::to_string(fs::file_size(staging / "state", ec)) +
         " bytes");
    auto sealed = detail::seal_artifact(staging.string(), request.build_id, config,
                                        template_argv(staged));
    if (!sealed)
      return failed(errc::build_failed, sealed.error().message);
    auto published = detail::publish_artifact(std::move(*sealed), options_.artifact_dir);
    if (!published)
      return failed(errc::build_failed, published.error().message);
    note("== artifact " + published->dir);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      verified_[request.build_id] = *published;
    }
    return build_result{published->dir, text, ready_us, steps_us};
  }

  /// Verifies an artifact (every file against its manifest checksum) and
  /// remembers it for the restores of `build_id`.
  result<bool> prepare(const std::string& build_id, const std::string& artifact_dir) {
    auto loaded = detail::load_artifact(artifact_dir, true);
    if (!loaded)
      return loaded.error();
    if (loaded->build_id != build_id)
      return error{errc::prepare_failed,
                   "artifact " + artifact_dir + " belongs to build " + loaded->build_id};
    if (loaded->config.accel != accel_)
      return error{errc::prepare_failed, "artifact " + artifact_dir + " was made under " +
                                             loaded->config.accel + ", this host runs " +
                                             accel_};
    std::lock_guard<std::mutex> lock(mutex_);
    verified_[build_id] = *loaded;
    return true;
  }

  /// The verified artifact of `build_id`: remembered, at `hint`, or found
  /// by its manifest under the artifact directory (after a restart).
  result<artifact> artifact_of(const std::string& build_id, const std::string& hint) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto found = verified_.find(build_id);
      if (found != verified_.end())
        return found->second;
    }
    std::string dir = hint;
    if (dir.empty()) {
      std::error_code ec;
      for (const auto& entry : fs::directory_iterator(options_.artifact_dir, ec)) {
        auto manifest = detail::load_artifact(entry.path().string(), false);
        if (manifest && manifest->build_id == build_id)
          dir = entry.path().string();
      }
    }
    if (dir.empty())
      return error{errc::restore_failed,
                   "no artifact of build " + build_id + " on this host"};
    if (auto prepared = prepare(build_id, dir); !prepared)
      return error{errc::restore_failed, prepared.error().message};
    std::lock_guard<std::mutex> lock(mutex_);
    return verified_.at(build_id);
  }

  result<vm_info> restore(const vm_request& request) {
    const auto started = clock_type::now();
    auto found = artifact_of(request.build_id, request.artifact);
    if (!found)
      return found.error();
    const artifact source = std::move(*found);
    const auto& allow = request.network_allow.empty() ? source.config.network_allow
                                                      : request.network_allow;
    auto vm = launch(request.vm_id, request.build_id, source, true, allow,
                     vm_dir(request.vm_id));
    if (!vm)
      return vm.error();
    auto fail = [&](const std::string& message) -> result<vm_info> {
      const auto log = detail::read_file(fs::path((*vm)->dir) / "qemu.log");
      stop(**vm);
      forget((*vm)->id);
      return error{errc::restore_failed,
                   message + (log.empty() ? "" : "; qemu: " + tail(log, 500))};
    };
    auto& qmp = *(*vm)->qmp;
    // x-ignore-shared must be set before the incoming migration starts.
    if (auto r = qmp.execute(
            "migrate-set-capabilities",
            {{"capabilities",
              {{{"capability", "x-ignore-shared"}, {"state", source.config.memory_file}},
               {{"capability", "events"}, {"state", true}}}}},
            options_.qmp_timeout);
        !r)
      return fail(r.error().message);
    auto migrated = qmp.expect([](const json& e) {
      if (e.value("event", "") != "MIGRATION")
        return false;
      const auto status = e["data"].value("status", "");
      return status == "completed" || status == "failed";
    });
    if (auto r = qmp.execute("migrate-incoming",
                             {{"uri", "exec:cat '" + source.state() + "'"}},
                             options_.qmp_timeout);
        !r)
      return fail(r.error().message);
    auto outcome = migrated->wait_for(options_.qmp_timeout);
    if (!outcome)
      return fail("the migration from " + source.state() + " did not finish in time");
    if (outcome->contains("hearth-closed"))
      return fail("QEMU exited while loading " + source.state());
    if ((*outcome)["data"].value("status", "") != "completed")
      return fail("loading the snapshot " + source.state() + " failed");
    // The agent's request waits in the port until the guest runs: send it
    // right behind `cont` instead of after its reply.
    auto resumed = qmp.submit("cont", json::object());
    if (!resumed)
      return fail(resumed.error().message);
    auto ready =
        check_ready(**vm, source.config.ready,
                    request.network_allow.empty() ? json(nullptr) : guest_hosts(allow));
    if (auto r = qmp.await("cont", *resumed, options_.qmp_timeout); !r)
      return fail(r.error().message);
    if (!ready)
      return fail(ready.error().message);
    vm_info info;
    info.vm_id = request.vm_id;
    info.endpoints = (*vm)->endpoints;
    info.restore_us = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(clock_type::now() - started)
            .count());
    record(**vm);
    return info;
  }

  result<bool> destroy(const std::string& vm_id) {
    std::shared_ptr<running_vm> vm;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto found = vms_.find(vm_id);
      if (found == vms_.end())
        return true;
      vm = found->second;
      vm->destroying = true;
    }
    stop(*vm);
    forget(vm_id);
    return true;
  }

  std::vector<std::string> running() {
    std::vector<std::string> out;
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [id, vm] : vms_)
      if (!vm->destroying && id.rfind("build-", 0) != 0)
        out.push_back(id);
    return out;
  }

  std::string build_log(const std::string& build_id) {
    return detail::read_file(fs::path(builds_dir_) / (build_id + ".log"));
  }

  void set_exit_listener(const void* owner,
                         std::function<void(std::string, std::string)> listener) {
    std::lock_guard<std::mutex> lock(mutex_);
    listener_owner_ = owner;
    exit_listener_ = std::move(listener);
  }

  void clear_exit_listener(const void* owner) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (listener_owner_ == owner) {
      listener_owner_ = nullptr;
      exit_listener_ = nullptr;
    }
  }

  std::vector<vm_process> processes() const {
    std::vector<vm_process> out;
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [id, vm] : vms_)
      out.push_back(
          vm_process{id, vm->pid, vm->dir, vm->endpoints, vm->adopted, vm->destroying});
    return out;
  }

  const std::string& accel() const {
    return accel_;
  }

private:
  std::string vm_dir(const std::string& vm_id) const {
    // Unix socket paths are short (108 bytes): name the folder by a hash.
    return vms_dir_ + "/" + detail::fnv_hex(host_id_ + "/" + vm_id);
  }

  /// A free TCP port on the forward address (QEMU exits at once if it is
  /// taken meanwhile; `launch` retries).
  std::uint16_t free_port() {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    inet_pton(AF_INET, options_.forward_address.c_str(), &addr.sin_addr);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    std::uint16_t port = 0;
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
      port = ntohs(addr.sin_port);
    close(fd);
    return port;
  }

  /// The QEMU command line of the template (`clone` false) or of a clone.
  /// The network is always `restrict=on`: the guest reaches nothing, the
  /// host included, except each allowed destination, through a relay QEMU
  /// starts per connection to that destination's guest address
  /// (`guestfwd`); the guest resolves the names to those addresses.
  std::vector<std::string>
  argv_for(const artifact& a, const std::string& dir, bool clone,
           const std::vector<std::string>& allow,
           const std::map<std::uint32_t, std::uint16_t>& forwards) const {
    const auto& c = a.config;
    const std::string memory = std::to_string(c.memory_mb) + "M";
    std::string netdev = "user,id=net0,restrict=on";
    auto hosts = guest_hosts(allow);
    for (const auto& destination : allow) {
      const auto colon = destination.rfind(':');
      const auto host = destination.substr(0, colon);
      const auto port = destination.substr(colon + 1);
      std::string relay = options_.relay_command;
      relay.replace(relay.find("{host}"), 6, host);
      relay.replace(relay.find("{port}"), 6, port);
      netdev += ",guestfwd=tcp:" + hosts[host].get<std::string>() + ":" + port +
                "-cmd:" + relay;
    }
    for (const auto& [guest_port, host_port] : forwards)
      netdev += ",hostfwd=tcp:" + options_.forward_address + ":" +
                std::to_string(host_port) + "-:" + std::to_string(guest_port);
    std::vector<std::string> argv = {
        options_.qemu_binary,
        "-name",
        "hearth-vm," + std::string("debug-threads=off"),
        "-machine",
        c.memory_file ? "microvm,memory-backend=mem0" : "microvm",
        "-accel",
        c.accel,
        "-cpu",
        c.accel == "kvm" ? "host" : "max",
        "-smp",
        std::to_string(c.vcpus),
        "-m",
        memory,
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-kernel",
        a.kernel(),
        "-initrd",
        a.initramfs(),
        "-append",
        c.append,
        "-chardev",
        "file,id=console,path=" + dir + "/console.log",
        "-serial",
        "chardev:console",
        "-chardev",
        "socket,id=agent,path=" + dir + "/agent.sock,server=on,wait=off",
        "-device",
        "virtio-serial-device",
        "-device",
        std::string("virtserialport,chardev=agent,name=") + guest::port_name,
        "-netdev",
        netdev,
        "-device",
        "virtio-net-device,netdev=net0",
        "-qmp",
        "unix:" + dir + "/qmp.sock,server=on,wait=off",
    };
    if (c.memory_file) {
      argv.insert(argv.end(), {"-object", "memory-backend-file,id=mem0,size=" + memory +
                                              ",mem-path=" + a.memory() +
                                              ",share=" + (clone ? "off" : "on")});
    }
    if (a.has_disk()) {
      argv.insert(argv.end(), {"-drive",
                               "file=" + (clone ? dir + "/disk.qcow2" : a.disk()) +
                                   ",if=none,id=disk0,format=qcow2",
                               "-device", "virtio-blk-device,drive=disk0"});
    }
    if (clone) {
      argv.push_back("-incoming");
      argv.push_back("defer");
    }
    return argv;
  }

  /// The template's argv with its instance paths made generic, as the
  /// artifact records it.
  std::vector<std::string> template_argv(artifact a) const {
    a.dir = "<artifact>";
    return argv_for(a, "<vm-dir>", false, a.config.network_allow, {});
  }

  /// The guest address of each allowed host: 10.0.2.100 and up, one per
  /// distinct name, in the order given.
  static json guest_hosts(const std::vector<std::string>& allow) {
    json hosts = json::object();
    int next = 100;
    for (const auto& destination : allow) {
      const auto host = destination.substr(0, destination.rfind(':'));
      if (!hosts.contains(host))
        hosts[host] = "10.0.2." + std::to_string(next++);
    }
    return hosts;
  }

  /// Starts QEMU for `vm_id` and connects QMP and the agent channel.
  result<std::shared_ptr<running_vm>>
  launch(const std::string& vm_id, const std::string& build_id, const artifact& a,
         bool clone, const std::vector<std::string>& allow, const std::string& dir) {
    std::error_code ec;
    std::string last_error;
    for (int attempt = 0; attempt < 3; ++attempt) {
      fs::remove_all(dir, ec);
      fs::create_directories(dir, ec);
      if (ec)
        return error{errc::restore_failed, "cannot create " + dir + ": " + ec.message()};
      if (clone && a.has_disk())
        if (auto made = make_overlay(a.disk(), "qcow2", dir + "/disk.qcow2"); !made)
          return made.error();
      std::map<std::uint32_t, std::uint16_t> forwards;
      for (auto port : a.config.ports)
        forwards[port] = free_port();
      const auto argv = argv_for(a, dir, clone, allow, forwards);
      auto vm = std::make_shared<running_vm>();
      vm->id = vm_id;
      vm->build_id = build_id;
      vm->dir = dir;
      for (const auto& [guest_port, host_port] : forwards)
        vm->endpoints[std::to_string(guest_port)] =
            options_.forward_address + ":" + std::to_string(host_port);
      auto proc = detail::spawn(argv, dir + "/qemu.log");
      if (!proc)
        return proc.error();
      vm->proc = *proc;
      vm->pid = proc->pid;
      std::shared_ptr<running_vm> replaced; // dropped outside the lock
      {
        std::lock_guard<std::mutex> lock(mutex_);
        replaced = std::exchange(vms_[vm_id], vm);
      }
      std::ofstream(fs::path(dir) / "argv.json") << json(argv).dump(1) << "\n";
      record(*vm, detail::argv_hash(argv));
      auto qmp =
          socket_or_exit(vm->proc, dir + "/qmp.sock", options_.qmp_timeout)
              ? qmp_client::connect(*loop_, dir + "/qmp.sock", options_.qmp_timeout)
              : error{errc::restore_failed, "QEMU exited before it served QMP"};
      if (qmp) {
        vm->qmp = std::move(*qmp);
        vm->qmp->on_close([this] { loop_->poke(); });
        auto agent =
            agent_client::connect(*loop_, dir + "/agent.sock", options_.qmp_timeout);
        if (agent) {
          vm->agent = std::move(*agent);
          std::lock_guard<std::mutex> lock(mutex_);
          vm->watched = true;
          return vm;
        }
        last_error = agent.error().message;
      } else {
        last_error = qmp.error().message;
      }
      const auto log = detail::read_file(fs::path(dir) / "qemu.log");
      stop(*vm);
      forget(vm_id);
      // A forwarded port taken between our check and QEMU's bind: try others.
      if (log.find("host forwarding") == std::string::npos)
        return error{errc::restore_failed,
                     "QEMU did not start: " + last_error + "; qemu: " + tail(log, 800)};
      last_error += "; qemu: " + tail(log, 300);
    }
    return error{errc::restore_failed, "QEMU did not start: " + last_error};
  }

  /// Waits until QEMU creates the socket at `path` (true; also when
  /// `timeout` passes, for the connect to report) or exits first (false):
  /// a QEMU that exits at once (bad arguments, a taken port, a host that
  /// closes and ends it) fails its launch now, not after `timeout`.
  static bool socket_or_exit(detail::process& proc, const std::string& path,
                             std::chrono::milliseconds timeout) {
    const auto deadline = clock_type::now() + timeout;
    std::error_code ec;
    while (!fs::exists(path, ec) && clock_type::now() < deadline) {
      if (!detail::alive(proc))
        return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return true;
  }

  /// Sends GET / to `endpoint` and waits for the answer's first line.
  static std::string warm_up(const std::string& endpoint,
                             std::chrono::milliseconds timeout) {
    const auto colon = endpoint.rfind(':');
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port =
        htons(static_cast<std::uint16_t>(std::stoi(endpoint.substr(colon + 1))));
    inet_pton(AF_INET, endpoint.substr(0, colon).c_str(), &addr.sin_addr);
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    std::string answer;
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
      const std::string request = "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n";
      if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) > 0) {
        const auto deadline = clock_type::now() + timeout;
        while (answer.find('\n') == std::string::npos) {
          const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
              deadline - clock_type::now());
          pollfd p{fd, POLLIN, 0};
          if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) != 1)
            break;
          char chunk[512];
          const ssize_t n = recv(fd, chunk, sizeof chunk, 0);
          if (n <= 0)
            break;
          answer.append(chunk, static_cast<std::size_t>(n));
        }
      }
    }
    ::close(fd);
    const auto line = answer.substr(0, answer.find('\r'));
    return line.empty() ? std::string("no answer") : line;
  }

  /// A copy-on-write qcow2 overlay at `path` over `backing`.
  result<bool> make_overlay(const std::string& backing, const std::string& format,
                            const std::string& path) {
    int code = 0;
    const auto output = detail::run_command("qemu-img create -q -f qcow2 -b '" + backing +
                                                "' -F " + format + " '" + path + "' 2>&1",
                                            code);
    if (code != 0)
      return error{errc::restore_failed, "qemu-img create " + path +
                                             " failed (is qemu-utils "
                                             "installed?): " +
                                             output};
    return true;
  }

  /// Writes what finds this VM again after a restart of hearth.
  void record(const running_vm& vm, const std::string& hash = {}) {
    const fs::path path = fs::path(vm.dir) / "record.json";
    json rec = json::object();
    if (hash.empty()) {
      rec = json::parse(detail::read_file(path), nullptr, false);
      if (rec.is_discarded())
        return;
    } else {
      rec["argv_hash"] = hash;
    }
    rec["vm_id"] = vm.id;
    rec["build_id"] = vm.build_id;
    rec["owner"] = host_id_;
    rec["pid"] = vm.proc.pid;
    rec["start_ticks"] = vm.proc.start_ticks;
    rec["endpoints"] = vm.endpoints;
    const fs::path temp = path.string() + ".tmp";
    std::ofstream(temp) << rec.dump(1) << "\n";
    std::error_code ec;
    fs::rename(temp, path, ec);
  }

  /// Runs the readiness check in the guest. After a restore (`restored`),
  /// the same round trip first resyncs the clock and reseeds the RNG: the
  /// clone woke with the template's.
  result<bool> check_ready(running_vm& vm, const readiness& ready,
                           std::optional<json> restored_hosts = std::nullopt) {
    // restored_hosts: after a restore; null when the snapshot's names stand.
    json check = {{"kind", ready.kind},
                  {"port", ready.port},
                  {"path", ready.path.empty() ? "/" : ready.path},
                  {"command", ready.command},
                  {"timeout_ms", ready.timeout_ms}};
    json call;
    if (restored_hosts) {
      call = {{"op", "restored"},
              {"time_ns", wall_ns()},
              {"seed_b64", guest::base64_encode(random_bytes(64))},
              {"ready", check}};
      if (!restored_hosts->is_null())
        call["hosts"] = *restored_hosts;
    } else {
      call = check;
      call["op"] = "ready";
    }
    auto answer = vm.agent->call(call, ms(ready.timeout_ms) + 10s);
    if (!answer)
      return error{answer.error().code, "readiness: " + answer.error().message};
    if (answer->value("ok", false))
      return true;
    const std::string output = answer->value("output", "");
    const std::string what =
        ready.kind +
        (ready.port != 0 ? "(" + std::to_string(ready.port) + ")" : std::string());
    if (answer->value("timed_out", false))
      return error{errc::readiness_timeout,
                   "readiness " + what + " timed out after " +
                       std::to_string(ready.timeout_ms) + " ms" +
                       (output.empty() ? "" : "; output: " + tail(output, 1500))};
    return error{errc::build_failed,
                 answer->value("error", "readiness failed") +
                     (output.empty() ? "" : "; output: " + tail(output, 1500))};
  }

  /// Saves the template on the fast path: with x-ignore-shared, RAM stays in
  /// the memory file and only device state is written. Never resumed after.
  result<bool> snapshot(running_vm& vm, const fs::path& staging, bool memory_file) {
    auto& qmp = *vm.qmp;
    if (auto r =
            qmp.execute("migrate-set-capabilities",
                        {{"capabilities",
                          {{{"capability", "x-ignore-shared"}, {"state", memory_file}},
                           {{"capability", "events"}, {"state", true}}}}},
                        options_.qmp_timeout);
        !r)
      return r.error();
    if (auto r = qmp.execute("migrate-set-parameters", {{"max-bandwidth", 8ll << 30}},
                             options_.qmp_timeout);
        !r)
      return r.error();
    if (auto r = qmp.execute("stop", json::object(), options_.qmp_timeout); !r)
      return r.error();
    auto done = qmp.expect([](const json& e) {
      if (e.value("event", "") != "MIGRATION")
        return false;
      const auto status = e["data"].value("status", "");
      return status == "completed" || status == "failed";
    });
    if (auto r = qmp.execute(
            "migrate", {{"uri", "exec:cat > '" + (staging / "state").string() + "'"}},
            options_.qmp_timeout);
        !r)
      return r.error();
    auto outcome = done->wait_for(options_.qmp_timeout);
    if (!outcome || outcome->contains("hearth-closed") ||
        (*outcome)["data"].value("status", "") != "completed")
      return error{errc::build_failed, "the migration to " +
                                           (staging / "state").string() +
                                           " did not complete"};
    return true;
  }

  /// quit, reap, and escalate if QEMU does not go.
  void stop(running_vm& vm) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      vm.destroying = true;
    }
    if (vm.qmp && !vm.qmp->closed())
      (void)vm.qmp->execute("quit", json::object(),
                            2s); // SHUTDOWN or a reset socket: both fine
    if (!detail::wait_exit(vm.proc, 3s))
      detail::terminate(vm.proc, 2s);
  }

  /// Drops a VM and its files.
  void forget(const std::string& vm_id) {
    std::shared_ptr<running_vm> vm;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto found = vms_.find(vm_id);
      if (found == vms_.end())
        return;
      vm = found->second;
      vms_.erase(found);
    }
    std::error_code ec;
    fs::remove_all(vm->dir, ec);
  }

  /// The io_loop's tick: a QEMU process that died is news for its owner.
  void watch() {
    std::vector<std::shared_ptr<running_vm>> dead;
    std::function<void(std::string, std::string)> listener;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (auto it = vms_.begin(); it != vms_.end();) {
        auto& vm = it->second;
        if (vm->watched && !vm->destroying && !detail::alive(vm->proc)) {
          dead.push_back(vm);
          it = vms_.erase(it);
        } else {
          ++it;
        }
      }
      listener = exit_listener_;
    }
    for (const auto& vm : dead) {
      std::error_code ec;
      const auto log = detail::read_file(fs::path(vm->dir) / "qemu.log");
      fs::remove_all(vm->dir, ec);
      if (listener)
        listener(vm->id,
                 "the QEMU process exited" + (log.empty() ? "" : ": " + tail(log, 300)));
    }
  }

  result<bool> choose_accelerator() {
    if (!options_.accel.empty()) {
      accel_ = options_.accel;
      return true;
    }
    const fs::path cache =
        fs::path(options_.image_dir) / ("accel-" + detail::fnv_hex(qemu_version_));
    if (auto cached = detail::read_file(cache); cached == "kvm" || cached == "tcg") {
      accel_ = cached;
      return true;
    }
    accel_ = "tcg";
    std::string reason = "/dev/kvm cannot be opened";
    const int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm >= 0) {
      close(kvm);
      auto canary = kvm_canary();
      if (canary)
        accel_ = "kvm";
      else
        reason = "a canary boot under KVM failed (" + canary.error().message + ")";
    }
    std::error_code ec;
    fs::create_directories(options_.image_dir, ec);
    std::ofstream(cache) << accel_;
    if (accel_ == "tcg")
      std::fprintf(stderr, "hearth: %s; VMs run under TCG (slower)\n", reason.c_str());
    else
      std::fprintf(stderr, "hearth: KVM works; VMs run under KVM\n");
    return true;
  }

  /// Boots the busybox guest under KVM and waits for its agent.
  result<bool> kvm_canary() {
    std::string log;
    auto image = detail::ensure_image(options_.image_dir, options_.agent_path,
                                      detail::image_recipe{"busybox", false, {}, 0}, log);
    if (!image)
      return image.error();
    const std::string dir = vms_dir_ + "/kvm-canary";
    std::error_code ec;
    fs::remove_all(dir, ec);
    fs::create_directories(dir, ec);
    const std::vector<std::string> argv = {
        options_.qemu_binary,
        "-machine",
        "microvm",
        "-accel",
        "kvm",
        "-cpu",
        "host",
        "-m",
        "128M",
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-kernel",
        image->kernel,
        "-initrd",
        image->initramfs,
        "-append",
        "console=ttyS0 quiet panic=-1 tsc_early_khz=" + std::to_string(tsc_khz()),
        "-chardev",
        "socket,id=agent,path=" + dir + "/agent.sock,server=on,wait=off",
        "-device",
        "virtio-serial-device",
        "-device",
        std::string("virtserialport,chardev=agent,name=") + guest::port_name};
    auto proc = detail::spawn(argv, dir + "/qemu.log");
    if (!proc)
      return proc.error();
    result<bool> outcome = true;
    auto agent = agent_client::connect(*loop_, dir + "/agent.sock", 5s);
    if (!agent) {
      outcome = agent.error();
    } else {
      auto up = (*agent)->wait_until_up(20s);
      if (!up)
        outcome = error{errc::host_lost, up.error().message};
      agent->reset();
    }
    detail::terminate(*proc, 1s);
    fs::remove_all(dir, ec);
    return outcome;
  }

  /// Looks at every recorded VM: re-adopt what runs and answers, kill and
  /// clean up the rest.
  void adopt_recorded() {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(vms_dir_, ec)) {
      const auto rec =
          json::parse(detail::read_file(entry.path() / "record.json"), nullptr, false);
      if (!rec.is_discarded() && rec.value("owner", "") != host_id_)
        continue; // another host's VM in a shared data directory
      if (rec.is_discarded() || !rec.contains("pid")) {
        fs::remove_all(entry.path(), ec);
        continue;
      }
      detail::process proc;
      proc.pid = rec.value("pid", 0);
      proc.start_ticks = rec.value("start_ticks", std::uint64_t{0});
      proc.child = false;
      const bool same_process =
          detail::alive(proc) &&
          detail::argv_hash(detail::argv_of(proc.pid)) == rec.value("argv_hash", "");
      auto vm = std::make_shared<running_vm>();
      vm->id = rec.value("vm_id", "");
      vm->build_id = rec.value("build_id", "");
      vm->dir = entry.path().string();
      vm->proc = proc;
      vm->pid = proc.pid;
      vm->adopted = true;
      vm->endpoints = rec.value("endpoints", std::map<std::string, std::string>{});
      bool adopted = false;
      if (same_process && vm->id.rfind("build-", 0) != 0) {
        auto qmp = qmp_client::connect(*loop_, vm->dir + "/qmp.sock", 2s);
        if (qmp) {
          auto status = (*qmp)->execute("query-status", json::object(), 2s);
          if (status && status->value("status", "") == "running") {
            vm->qmp = std::move(*qmp);
            vm->qmp->on_close([this] { loop_->poke(); });
            auto agent = agent_client::connect(*loop_, vm->dir + "/agent.sock", 2s);
            if (agent) {
              vm->agent = std::move(*agent);
              vm->watched = true;
              adopted = true;
            }
          }
        }
      }
      if (adopted) {
        std::shared_ptr<running_vm> replaced; // dropped outside the lock
        std::lock_guard<std::mutex> lock(mutex_);
        replaced = std::exchange(vms_[vm->id], vm);
        continue;
      }
      if (same_process)
        detail::terminate(vm->proc, 1s);
      fs::remove_all(entry.path(), ec);
    }
  }

  std::string host_id_;
  qemu_options options_;
  std::string vms_dir_;
  std::string builds_dir_;
  std::string qemu_version_;
  std::string accel_ = "tcg";
  /// Guards the VMs and the exit listener. Never drop a `running_vm` while
  /// holding it: its channels' destructors leave the io_loop, which waits
  /// for a tick in progress, and the tick (`watch`) takes this lock.
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<running_vm>> vms_;
  std::map<std::string, artifact> verified_;
  const void* listener_owner_ = nullptr;
  std::function<void(std::string, std::string)> exit_listener_;
  std::unique_ptr<detail::io_loop> loop_;
  std::unique_ptr<job_pool> jobs_;
  std::unique_ptr<job_pool> builds_;
  std::atomic<bool> closed_{false};
};

namespace {

/// The driver interface over a qemu_host: each operation runs on the host's
/// workers and answers through the owner's executor.
class qemu_driver final : public driver {
public:
  qemu_driver(std::shared_ptr<qemu_host> host, executor run)
      : host_(std::move(host))
      , run_(std::move(run)) {}

  ~qemu_driver() override { host_->clear_exit_listener(this); }

  void build(build_request request, callback<build_result> done) override {
    post(
        true,
        [host = host_.get(), request = std::move(request)] {
          return host->build(request);
        },
        std::move(done));
  }

  void prepare(std::string build_id, std::string artifact, done_callback done) override {
    post(
        false,
        [host = host_.get(), build_id, artifact] {
          return host->prepare(build_id, artifact);
        },
        std::move(done));
  }

  void restore(vm_request request, callback<vm_info> done) override {
    post(
        false,
        [host = host_.get(), request = std::move(request)] {
          return host->restore(request);
        },
        std::move(done));
  }

  void destroy(std::string vm_id, done_callback done) override {
    post(
        false, [host = host_.get(), vm_id] { return host->destroy(vm_id); },
        std::move(done));
  }

  std::vector<std::string> running() override { return host_->running(); }

  std::string build_log(const std::string& build_id) override {
    return host_->build_log(build_id);
  }

  void on_vm_exit(
      std::function<void(std::string vm_id, std::string reason)> handler) override {
    host_->set_exit_listener(
        this, [run = run_, handler](std::string vm_id, std::string reason) {
          run(std::chrono::nanoseconds(0),
              [handler, vm_id = std::move(vm_id), reason = std::move(reason)] {
                handler(vm_id, reason);
              });
        });
  }

  void on_host_health(std::function<void(bool healthy, std::string reason)>) override {
    // One machine: the host is as healthy as this process.
  }

private:
  template <class Work, class T>
  void post(bool build, Work work, std::function<void(result<T>)> done) {
    host_->submit(build,
                  [work = std::move(work), done = std::move(done), run = run_]() mutable {
                    auto outcome = std::make_shared<result<T>>(work());
                    run(std::chrono::nanoseconds(0),
                        [done = std::move(done), outcome] { done(*outcome); });
                  });
  }

  std::shared_ptr<qemu_host> host_;
  executor run_;
};

} // namespace

result<std::shared_ptr<qemu_host>> open_qemu_host(std::string host_id,
                                                  qemu_options options) {
  auto host = std::make_shared<qemu_host>(std::move(host_id), std::move(options));
  if (auto started = host->start(); !started)
    return started.error();
  return host;
}

std::unique_ptr<driver> make_qemu_driver(std::shared_ptr<qemu_host> host, executor run) {
  return std::make_unique<qemu_driver>(std::move(host), std::move(run));
}

std::vector<vm_process> processes(const qemu_host& host) {
  return host.processes();
}

std::string accelerator(const qemu_host& host) {
  return host.accel();
}

void close_qemu_host(qemu_host& host) {
  host.shut_down();
}

} // namespace hearth::vmm
