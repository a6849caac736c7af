// bench/vmm: real QEMU microVMs on this machine, side by side for one guest:
// cold boot, restore from a classic migrate-to-file snapshot, and restore on
// the fast path (memory file + x-ignore-shared); then the fill rate and
// memory of many ready VMs held at once; then the FastAPI guest.
//
//   build/bin/bench/vmm [--samples N] [--vms N] [--no-python]

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <numeric>
#include <optional>
#include <thread>

#include "bench_util.hpp"
#include "hearth/guest/protocol.hpp"
#include "qemu_fixture.hpp" // scratch directories, HTTP client, the web guest

using namespace hearth;
using namespace hearth::bench;
using namespace std::chrono_literals;

namespace {

/// A driver whose answers the caller waits for.
class sync_driver {
public:
  explicit sync_driver(vmm::qemu_options options) {
    auto opened = vmm::open_qemu_host("bench", std::move(options));
    if (!opened) {
      std::fprintf(stderr, "cannot open the QEMU host: %s\n",
                   opened.error().message.c_str());
      std::exit(1);
    }
    host_ = *opened;
    driver_ = vmm::make_qemu_driver(
        host_, [](std::chrono::nanoseconds, std::function<void()> f) { f(); });
  }

  vmm::build_result build(const vmm::build_request& request) {
    auto r = wait<vmm::build_result>([&](auto done) { driver_->build(request, done); });
    if (!r) {
      std::fprintf(stderr, "build %s failed: %s\n", request.build_id.c_str(),
                   r.error().message.c_str());
      std::exit(1);
    }
    return *r;
  }

  void restore_async(const std::string& vm_id, const std::string& build_id,
                     std::function<void(vmm::result<vmm::vm_info>)> done) {
    vmm::vm_request r;
    r.vm_id = vm_id;
    r.build_id = build_id;
    driver_->restore(r, std::move(done));
  }

  vmm::vm_info restore(const std::string& vm_id, const std::string& build_id) {
    auto r = wait<vmm::vm_info>([&](auto done) { restore_async(vm_id, build_id, done); });
    if (!r) {
      std::fprintf(stderr, "restore %s failed: %s\n", vm_id.c_str(),
                   r.error().message.c_str());
      std::exit(1);
    }
    return *r;
  }

  void destroy(const std::string& vm_id) {
    (void)wait<bool>([&](auto done) { driver_->destroy(vm_id, done); });
  }

  std::vector<vmm::vm_process> processes() const { return vmm::processes(*host_); }

private:
  template <class T, class Start>
  vmm::result<T> wait(Start start) {
    std::mutex mutex;
    std::condition_variable cv;
    std::optional<vmm::result<T>> value;
    start([&](vmm::result<T> r) {
      std::lock_guard<std::mutex> lock(mutex);
      value.emplace(std::move(r));
      cv.notify_all();
    });
    std::unique_lock<std::mutex> lock(mutex);
    cv.wait(lock, [&] { return value.has_value(); });
    return std::move(*value);
  }

  std::shared_ptr<vmm::qemu_host> host_;
  std::unique_ptr<vmm::driver> driver_;
};

double ms_since(clock::time_point start) {
  return seconds_since(start) * 1000;
}

/// Polls the endpoint until it answers 200: the user's view of "ready".
double first_http_200_ms(const std::string& endpoint, const std::string& path,
                         clock::time_point since) {
  for (;;) {
    if (testing::http_get(endpoint, path, 2s).status == 200)
      return ms_since(since);
    if (seconds_since(since) > 30)
      return -1;
  }
}

/// Proportional set size of a process, in MiB.
double pss_mib(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/smaps_rollup");
  std::string key;
  double kib = 0;
  while (in >> key) {
    if (key == "Pss:") {
      in >> kib;
      break;
    }
    in.ignore(1 << 20, '\n');
  }
  return kib / 1024;
}

struct restore_figures {
  std::vector<double> ready_ms;
  std::vector<double> http_ms;
};

restore_figures restore_series(sync_driver& d, const std::string& build_id,
                               const std::string& path, int samples,
                               const std::string& prefix) {
  restore_figures out;
  for (int i = 0; i < samples; ++i) {
    const auto vm_id = prefix + std::to_string(i);
    const auto start = clock::now();
    const auto info = d.restore(vm_id, build_id);
    out.ready_ms.push_back(static_cast<double>(info.restore_us) / 1000);
    out.http_ms.push_back(first_http_200_ms(info.endpoints.begin()->second, path, start));
    d.destroy(vm_id);
  }
  return out;
}

vmm::build_request fastapi_template(const std::string& build_id) {
  vmm::build_request r;
  r.build_id = build_id;
  r.base = "python:3.11";
  vmm::step apt;
  apt.kind = "apt_install";
  apt.packages = {"python3-fastapi", "uvicorn"};
  r.steps.push_back(apt);
  r.steps.push_back(testing::copy_step("/app/app.py", "from fastapi import FastAPI\n"
                                                      "app = FastAPI()\n\n"
                                                      "@app.get('/')\n"
                                                      "def root():\n"
                                                      "    return {'ok': True}\n"));
  vmm::step workdir;
  workdir.kind = "workdir";
  workdir.text = "/app";
  r.steps.push_back(workdir);
  r.start_cmd = "uvicorn app:app --host 0.0.0.0 --port 8080";
  r.ready.kind = "wait_for_port";
  r.ready.port = 8080;
  r.ready.timeout_ms = 60'000;
  r.memory_mb = 256;
  return r;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "hearth bench/vmm: real microVMs, cold boot vs restores, fill rate, density"};
  int samples = 15;
  int vms = 200;
  std::size_t workers = 4;
  bool no_python = false;
  bool no_warm_up = false;
  app.add_option("--samples", samples, "restores per method");
  app.add_option("--vms", vms, "ready VMs to hold at once");
  app.add_option("--workers", workers, "parallel restores while filling");
  app.add_flag("--no-python", no_python, "skip the FastAPI guest");
  app.add_flag("--no-warm-up", no_warm_up,
               "snapshot templates without a warm-up request");
  CLI11_PARSE(app, argc, argv);

  testing::scratch_dirs fast_dirs;
  testing::scratch_dirs classic_dirs;
  auto fast_options = fast_dirs.options();
  fast_options.workers = workers;
  if (no_warm_up)
    fast_options.warm_up_timeout = std::chrono::milliseconds(0);
  auto classic_options = classic_dirs.options();
  classic_options.memory_file_snapshots = false;
  sync_driver fast(fast_options);
  sync_driver classic(classic_options);
  std::vector<figure> figures;

  // -- one busybox guest, three ways to a ready VM ------------------------------
  std::fprintf(stderr, "building the busybox web guest (3 cold boots)...\n");
  std::vector<double> cold_ms;
  for (int i = 0; i < 3; ++i) {
    auto request = testing::web_template("web-cold-" + std::to_string(i));
    request.steps.push_back(testing::run_step("echo " + std::to_string(i) + " > /www/n"));
    const auto built = fast.build(request);
    cold_ms.push_back(static_cast<double>(built.ready_us - built.steps_us) / 1000);
  }
  fast.build(testing::web_template("web"));
  classic.build(testing::web_template("web"));

  std::fprintf(stderr, "restoring %d clones each way...\n", samples);
  auto classic_series = restore_series(classic, "web", "/", samples, "classic-");
  auto fast_series = restore_series(fast, "web", "/", samples, "fast-");
  const double cold_p50 = percentile(cold_ms, 50);
  const double fast_p50 = percentile(fast_series.ready_ms, 50);
  figures.push_back({"busybox: cold boot to ready, p50", cold_p50, "ms", "(baseline)"});
  figures.push_back({"busybox: migrate-to-file restore to ready, p50",
                     percentile(classic_series.ready_ms, 50), "ms", "(baseline)"});
  figures.push_back({"busybox: migrate-to-file restore to ready, p95",
                     percentile(classic_series.ready_ms, 95), "ms", ""});
  figures.push_back(
      {"busybox: fast-path restore to ready, p50", fast_p50, "ms", "<= 150"});
  figures.push_back({"busybox: fast-path restore to ready, p95",
                     percentile(fast_series.ready_ms, 95), "ms", ""});
  figures.push_back({"busybox: fast-path restore to first HTTP 200, p50",
                     percentile(fast_series.http_ms, 50), "ms", ""});
  figures.push_back(
      {"busybox: cold boot / fast-path restore", cold_p50 / fast_p50, "x", ""});

  // -- fill: many restores in parallel, then hold them all ----------------------
  std::fprintf(stderr, "filling %d ready VMs with %zu parallel restores...\n", vms,
               workers);
  std::atomic<int> done{0};
  std::atomic<int> failed{0};
  std::mutex mutex;
  std::condition_variable all_done;
  std::vector<std::string> endpoints;
  // The fill rate of a pool-sized batch, before hundreds of idle VMs share
  // the cores with the restores; and over the whole fill.
  const int pool_size = std::min(vms, 24);
  double pool_fill_seconds = 0;
  const auto fill_started = clock::now();
  for (int i = 0; i < vms; ++i)
    fast.restore_async("member-" + std::to_string(i), "web",
                       [&](vmm::result<vmm::vm_info> r) {
                         std::lock_guard<std::mutex> lock(mutex);
                         if (r)
                           endpoints.push_back(r->endpoints.begin()->second);
                         else
                           ++failed;
                         if (done + 1 == pool_size)
                           pool_fill_seconds = seconds_since(fill_started);
                         if (++done == vms)
                           all_done.notify_all();
                       });
  {
    std::unique_lock<std::mutex> lock(mutex);
    all_done.wait(lock, [&] { return done == vms; });
  }
  const double fill_seconds = seconds_since(fill_started);
  int answering = 0;
  for (const auto& endpoint : endpoints)
    if (testing::http_get(endpoint, "/", 5s).status == 200)
      ++answering;
  std::vector<double> pss;
  for (const auto& p : fast.processes())
    pss.push_back(pss_mib(p.pid));
  figures.push_back({"fill rate, first " + std::to_string(pool_size) + " ready VMs",
                     static_cast<double>(pool_size) / pool_fill_seconds, "VM/s", ">= 6"});
  figures.push_back({"fill rate over all " + std::to_string(vms) + " VMs",
                     static_cast<double>(endpoints.size()) / fill_seconds, "VM/s", ""});
  figures.push_back({"ready VMs held at once, all answering HTTP",
                     static_cast<double>(answering), "VMs", ">= 200"});
  figures.push_back({"memory per ready 128 MiB VM (PSS), mean",
                     pss.empty() ? 0.0
                                 : std::accumulate(pss.begin(), pss.end(), 0.0) /
                                       static_cast<double>(pss.size()),
                     "MiB", "<= 50"});
  if (failed > 0)
    std::fprintf(stderr, "%d restores failed while filling\n", failed.load());
  for (const auto& p : fast.processes())
    fast.destroy(p.vm_id);

  // -- the FastAPI guest ----------------------------------------------------------
  if (!no_python) {
    std::fprintf(stderr, "building the FastAPI guest (python:3.11 + apt)...\n");
    const auto built = fast.build(fastapi_template("fastapi"));
    std::vector<double> fastapi_cold = {
        static_cast<double>(built.ready_us - built.steps_us) / 1000};
    auto fastapi_series =
        restore_series(fast, "fastapi", "/", std::min(samples, 10), "api-");
    figures.push_back(
        {"FastAPI: cold boot to ready", fastapi_cold[0], "ms", "(baseline)"});
    figures.push_back({"FastAPI: fast-path restore to ready, p50",
                       percentile(fastapi_series.ready_ms, 50), "ms", "<= 250"});
    figures.push_back({"FastAPI: fast-path restore to first HTTP 200, p50",
                       percentile(fastapi_series.http_ms, 50), "ms", "(raw QEMU: 242)"});
    figures.push_back({"FastAPI: fast-path restore to first HTTP 200, p95",
                       percentile(fastapi_series.http_ms, 95), "ms", ""});
  }
  print_figures("vmm", figures);
  return 0;
}
