// bench/controller: checkouts through the embedding API against pools kept
// full (simulated VMs, real RocksDB journal with group commit), and recovery
// time of a journal of 10,000 pools and 100,000 sandboxes.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <sched.h>
#include <thread>

#include "bench_util.hpp"
#include "hearth/actors/runtime.hpp"
#include "hearth/events/domain_event.hpp"
#include "hearth/malloc/huge_pages.hpp"
#include "hearth/model/world_state.hpp"
#include "hearth/store/storage.hpp"

using namespace hearth;
using namespace hearth::bench;
using namespace std::chrono_literals;

namespace {

constexpr const char* tenant = "default";

struct checkout_result {
  double checkouts = 0;
  double per_second = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  std::uint64_t misses = 0;
  /// Process CPU time per checkout, every thread included.
  double cpu_us = 0;
  /// The process's context switches per checkout, every thread included.
  double switches = 0;
  /// The journal's work per checkout: events, appends (one per stream
  /// written) and durable writes (syncs).
  double events = 0;
  double appends = 0;
  double syncs = 0;
};

/// Adds the journal's work per checkout of `r`'s run to it.
void add_journal_work(checkout_result& r, const runtime::counters& before,
                      const runtime::counters& after) {
  if (r.checkouts <= 0)
    return;
  r.events =
      static_cast<double>(after.journal_events - before.journal_events) / r.checkouts;
  r.appends =
      static_cast<double>(after.journal_appends - before.journal_appends) / r.checkouts;
  r.syncs =
      static_cast<double>(after.journal_writes - before.journal_writes) / r.checkouts;
}

std::unique_ptr<runtime> open_runtime(const std::string& dir, std::size_t pools,
                                      std::uint32_t pool_size,
                                      std::uint64_t snapshot_every,
                                      const store::storage_options& journal) {
  std::filesystem::remove_all(dir);
  runtime_options options;
  options.data_dir = dir;
  options.journal = journal;
  options.sim.build_latency = 10ms;
  options.sim.restore_latency = 1ms;
  options.pools.tick = 100ms;
  options.pools.fill_budget_per_tick = 100000;
  options.hosts = {host_config{"local", 10'000'000, 2'000'000'000}};
  options.default_quota_vcpus = 4'000'000'000u;
  options.default_quota_memory_mb = 4'000'000'000u;
  options.snapshot_every = snapshot_every;
  auto rt = runtime::open(options);
  if (!rt) {
    std::fprintf(stderr, "open: %s\n", rt.error().message.c_str());
    std::exit(1);
  }
  events::build_spec spec;
  spec.base = "busybox";
  spec.start_cmd = "httpd -f -p 8080";
  auto built = (*rt)->build_template(tenant, "bench/app", spec, {"stable"}).get();
  if (built)
    built = (*rt)->wait_build(tenant, "bench/app", built->build_id).get();
  if (!built || built->status != "ready")
    std::exit(1);
  for (std::size_t p = 0; p < pools; ++p) {
    api::pool_spec pool;
    pool.template_ref = "bench/app:stable";
    pool.name = "p" + std::to_string(p);
    pool.min_ready = pool_size;
    pool.max_ready = pool_size;
    if (auto created = (*rt)->create_pool(tenant, pool).get(); !created) {
      std::fprintf(stderr, "create pool: %s\n", created.error().message.c_str());
      std::exit(1);
    }
  }
  // Wait for the pools to fill.
  const auto until = clock::now() + 30s;
  for (std::size_t p = 0; p < pools && clock::now() < until;) {
    auto info = (*rt)->get_pool(tenant, "twp_p" + std::to_string(p)).get();
    if (info && info->status.ready >= pool_size)
      ++p;
    else
      std::this_thread::sleep_for(5ms);
  }
  return std::move(*rt);
}

checkout_result summarize(const std::vector<std::vector<double>>& latencies,
                          std::uint64_t misses, double elapsed_seconds,
                          double cpu_seconds, double switches) {
  std::vector<double> all;
  for (const auto& l : latencies)
    all.insert(all.end(), l.begin(), l.end());
  checkout_result out;
  out.checkouts = static_cast<double>(all.size());
  out.per_second = static_cast<double>(all.size()) / elapsed_seconds;
  out.cpu_us = all.empty() ? 0 : cpu_seconds * 1e6 / static_cast<double>(all.size());
  out.switches = all.empty() ? 0 : switches / static_cast<double>(all.size());
  out.p50_ms = percentile(all, 50);
  out.p99_ms = percentile(all, 99);
  out.misses = misses;
  return out;
}

/// `callers` threads each check out sandboxes in a loop for `duration`, each
/// from its own pool (pools are refilled as they go). With `batch_threads`
/// the callers run under Linux's SCHED_BATCH policy (see the README).
checkout_result run_checkouts(runtime& rt, int callers, std::size_t pools,
                              std::chrono::milliseconds duration, bool batch_threads) {
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> misses{0};
  std::vector<std::vector<double>> latencies(static_cast<std::size_t>(callers));
  std::vector<std::thread> threads;
  const auto journal_before = rt.metrics();
  const auto start = clock::now();
  const double cpu_start = process_cpu_seconds();
  const double switches_start = process_switches();
  std::atomic<int> policy_error{0}; // errno of a refused SCHED_BATCH
  for (int c = 0; c < callers; ++c)
    threads.emplace_back([&, c] {
      if (batch_threads) {
        const sched_param no_priority{};
        if (sched_setscheduler(0, SCHED_BATCH, &no_priority) != 0)
          policy_error = errno;
      }
      api::sandbox_request request;
      request.warm_pool = "twp_p" + std::to_string(static_cast<std::size_t>(c) % pools);
      request.warm_pool_mode = "require";
      request.warm_pool_wait_ms = 1000;
      auto& mine = latencies[static_cast<std::size_t>(c)];
      while (!stop.load(std::memory_order_relaxed)) {
        const auto t0 = clock::now();
        auto sandbox = rt.create_sandbox(tenant, request).get();
        const double ms =
            std::chrono::duration<double, std::milli>(clock::now() - t0).count();
        if (!sandbox || !sandbox->warm_pool_checkout.hit)
          misses++;
        else
          mine.push_back(ms);
      }
    });
  std::this_thread::sleep_for(duration);
  stop = true;
  for (auto& t : threads)
    t.join();
  if (policy_error != 0) {
    std::fprintf(stderr,
                 "bench/controller: cannot run the callers under SCHED_BATCH: %s\n",
                 std::strerror(policy_error));
    std::exit(1);
  }
  auto out =
      summarize(latencies, misses, seconds_since(start),
                process_cpu_seconds() - cpu_start, process_switches() - switches_start);
  add_journal_work(out, journal_before, rt.metrics());
  return out;
}

/// `callers` checkouts kept in flight through the asynchronous API (`then`),
/// each one's answer starting its next, for `duration`: how hearthd's HTTP
/// front end calls the runtime, with no thread per caller.
checkout_result run_async_checkouts(runtime& rt, int callers, std::size_t pools,
                                    std::chrono::milliseconds duration) {
  struct shared {
    runtime* rt;
    std::atomic<bool> stop{false};
    std::atomic<int> running{0};
    std::atomic<std::uint64_t> misses{0};
    std::mutex mutex;
    std::condition_variable idle;
    std::vector<std::vector<double>> latencies;
  };
  auto s = std::make_shared<shared>();
  s->rt = &rt;
  s->latencies.resize(static_cast<std::size_t>(callers));
  struct caller {
    static void next(std::shared_ptr<shared> s, std::size_t c,
                     api::sandbox_request request) {
      if (s->stop.load(std::memory_order_relaxed)) {
        std::lock_guard<std::mutex> lock(s->mutex);
        if (--s->running == 0)
          s->idle.notify_all();
        return;
      }
      const auto t0 = clock::now();
      s->rt->create_sandbox(tenant, request)
          .then([s, c, request, t0](model::result<api::sandbox_info> sandbox) {
            const double ms =
                std::chrono::duration<double, std::milli>(clock::now() - t0).count();
            if (!sandbox || !sandbox->warm_pool_checkout.hit)
              s->misses++;
            else
              s->latencies[c].push_back(ms);
            next(s, c, request);
          });
    }
  };
  const auto journal_before = rt.metrics();
  const auto start = clock::now();
  const double cpu_start = process_cpu_seconds();
  const double switches_start = process_switches();
  s->running = callers;
  for (int c = 0; c < callers; ++c) {
    api::sandbox_request request;
    request.warm_pool = "twp_p" + std::to_string(static_cast<std::size_t>(c) % pools);
    request.warm_pool_mode = "require";
    request.warm_pool_wait_ms = 1000;
    caller::next(s, static_cast<std::size_t>(c), request);
  }
  std::this_thread::sleep_for(duration);
  s->stop = true;
  {
    std::unique_lock<std::mutex> lock(s->mutex);
    s->idle.wait(lock, [&] { return s->running == 0; });
  }
  auto out =
      summarize(s->latencies, s->misses, seconds_since(start),
                process_cpu_seconds() - cpu_start, process_switches() - switches_start);
  add_journal_work(out, journal_before, rt.metrics());
  return out;
}

/// Writes a journal of `pools` pools (each created, with a few members come
/// and gone) and `sandboxes` sandboxes (created, running), then times a
/// runtime opening it until it answers.
double recovery_seconds(const std::string& dir, std::size_t pools, std::size_t sandboxes,
                        const store::storage_options& journal, std::uint64_t* events_out,
                        double* scan_out) {
  std::filesystem::remove_all(dir);
  std::uint64_t events_written = 0;
  {
    store::storage_options options = journal;
    options.sync = false; // loading the fixture, not measuring it
    auto storage = store::open_rocksdb_storage(dir + "/journal", options);
    if (!storage)
      std::exit(1);
    auto& journal = (*storage)->events();
    auto append = [&](const std::string& stream, std::vector<events::domain_event> evs) {
      store::append_request request;
      request.stream = stream;
      for (auto& e : evs)
        request.events.push_back(
            store::new_event{events::type_name(e), 1, events::encode_domain(e), "", 0});
      events_written += request.events.size();
      return request;
    };
    std::vector<store::append_request> batch;
    auto flush = [&] {
      for (auto& r : journal.append_many(std::move(batch)))
        if (!r) {
          std::fprintf(stderr, "%s\n", r.error().message.c_str());
          std::exit(1);
        }
      batch.clear();
    };
    events::build_spec spec;
    spec.base = "busybox";
    const auto build_id = model::build_id_for(spec);
    batch.push_back(append(model::template_stream("bench/app"),
                           {events::build_started{build_id, tenant, spec, {"stable"}, 1},
                            events::build_succeeded{build_id, "local", "sim://local", 2},
                            events::tag_moved{"stable", build_id}}));
    batch.push_back(append(model::host_stream("local"),
                           {events::host_registered{"local", 10'000'000, 2'000'000'000},
                            events::artifact_changed{build_id, "ready", ""}}));
    batch.push_back(
        append(model::tenant_stream(tenant),
               {events::tenant_created{tenant, 4'000'000'000u, 4'000'000'000u}}));
    flush();
    for (std::size_t p = 0; p < pools; ++p) {
      const std::string id = "twp_p" + std::to_string(p);
      events::pool_config config{"bench/app:stable", "bench/app", 3, 3, 1, 128,
                                 "pinned_build",     ""};
      std::vector<events::domain_event> history{
          events::pool_created{id, tenant, id, config, build_id}};
      for (int m = 1; m <= 3; ++m) {
        const std::string member = id + ".m" + std::to_string(m);
        history.push_back(events::member_warming{member, build_id, 1, "local", 10});
        history.push_back(events::member_ready{member, {{"8080", "127.0.0.1:1"}}, 11});
      }
      batch.push_back(append(model::pool_stream(id), std::move(history)));
      if (batch.size() >= 1000)
        flush();
    }
    flush();
    for (std::size_t s = 0; s < sandboxes; ++s) {
      const std::string id = "sbx_" + std::to_string(s);
      events::sandbox_created created;
      created.id = id;
      created.tenant = tenant;
      created.template_name = "bench/app";
      created.build_id = build_id;
      created.origin = "cold";
      created.vm_id = id + ".vm";
      created.host = "local";
      created.vcpus = 1;
      created.memory_mb = 128;
      batch.push_back(append(model::sandbox_stream(id),
                             {created, events::sandbox_changed{"running", "", {}, 20}}));
      if (batch.size() >= 1000)
        flush();
    }
    flush();
  }
  *events_out = events_written;
  {
    // The journal pass alone (the part of recovery that is not actors).
    store::storage_options read_only = journal;
    read_only.read_only = true;
    auto storage = store::open_rocksdb_storage(dir + "/journal", read_only);
    model::world_state world;
    const auto scan_start = clock::now();
    if (!storage || !(*storage)->events().read_all(
                        1, store::max_sequence, [&](const events::envelope& e) {
                          return static_cast<bool>(world.apply(e));
                        }))
      std::exit(1);
    *scan_out = seconds_since(scan_start);
  }
  // The hosts kept running while the controller was down: every VM the
  // journal knows is still there to be re-adopted.
  auto world = std::make_shared<vmm::sim_world>();
  std::vector<std::string> running;
  for (std::size_t p = 0; p < pools; ++p)
    for (int m = 1; m <= 3; ++m)
      running.push_back("twp_p" + std::to_string(p) + ".m" + std::to_string(m));
  for (std::size_t s = 0; s < sandboxes; ++s)
    running.push_back("sbx_" + std::to_string(s) + ".vm");
  world->add_running("local", running);
  runtime_options options;
  options.sim_world = world;
  options.data_dir = dir;
  options.journal = journal;
  options.hosts = {host_config{"local", 10'000'000, 2'000'000'000}};
  const auto start = clock::now();
  auto rt = runtime::open(options);
  if (!rt) {
    std::fprintf(stderr, "recovery failed: %s\n", rt.error().message.c_str());
    std::exit(1);
  }
  auto listed = (*rt)->get_pool(tenant, "twp_p0").get(); // answering commands
  const double elapsed = seconds_since(start);
  if (!listed) {
    std::fprintf(stderr, "recovered runtime does not answer: %s\n",
                 listed.error().message.c_str());
    std::exit(1);
  }
  return elapsed;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench/controller: checkouts and recovery of the hearth runtime"};
  std::string dir =
      (std::filesystem::temp_directory_path() / "hearth-bench-controller").string();
  double seconds = 3;
  std::size_t pools = 16;
  std::uint32_t pool_size = 64;
  std::uint64_t snapshot_every =
      runtime_options{}.snapshot_every; // the runtime's default
  std::size_t recovery_pools = 10'000;
  std::size_t recovery_sandboxes = 100'000;
  std::vector<int> callers{1, 16, 256};
  app.add_option("--dir", dir, "scratch directory")->capture_default_str();
  app.add_option("--seconds", seconds, "duration of each checkout run")
      ->capture_default_str();
  app.add_option("--pools", pools, "pools the callers spread over")
      ->capture_default_str();
  app.add_option("--pool-size", pool_size, "min_ready = max_ready of each pool")
      ->capture_default_str();
  app.add_option("--snapshot-every", snapshot_every,
                 "events of a stream between two of its snapshots (0: none)")
      ->capture_default_str();
  app.add_option("--callers", callers, "concurrent callers per run")
      ->capture_default_str();
  app.add_option("--recovery-pools", recovery_pools)->capture_default_str();
  app.add_option("--recovery-sandboxes", recovery_sandboxes)->capture_default_str();
  bool async_callers = true;
  app.add_flag("--async,!--no-async", async_callers,
               "also run each caller count through the asynchronous API (default: on)");
  bool blocking_callers = true;
  app.add_flag("--blocking,!--no-blocking", blocking_callers,
               "run each caller count with a blocked thread per caller (default: on)");
  bool batch_callers = false;
  app.add_flag("--batch-callers", batch_callers,
               "also run each caller count with blocked threads under SCHED_BATCH, which "
               "the threads that answer them do not yield to at once (default: off)");
  int rounds = 3;
  app.add_option("--rounds", rounds,
                 "runs of each caller count; the median run is reported (this machine's "
                 "speed moves by a third from one run to the next)")
      ->capture_default_str()
      ->check(CLI::Range(1, 99));
  bool rocksdb_memtable = false;
  app.add_flag("--rocksdb-memtable", rocksdb_memtable,
               "keep the journal's unflushed writes in RocksDB's skiplist instead of "
               "hearth's (for comparison)");
  CLI11_PARSE(app, argc, argv);
  store::storage_options journal;
  journal.hearth_memtable = !rocksdb_memtable;

  std::printf("bench/controller: simulated VMs (1 ms restore), RocksDB journal in %s, "
              "%s memtable, heap %s huge pages\n",
              dir.c_str(), rocksdb_memtable ? "RocksDB's" : "hearth's",
              heap::huge_pages_active() ? "in" : "without");
  std::printf("%-24s %12s %10s %10s %14s %9s %8s %22s %s\n", "run", "checkouts/s",
              "p50 ms", "p99 ms", "CPU us/checkout", "switches", "misses",
              "events/appends/syncs", rounds > 1 ? "  checkouts/s of every run" : "");
  std::vector<figure> figures;
  const auto duration = std::chrono::milliseconds(static_cast<long>(seconds * 1000));
  // The targets are the blocking callers': a thread per caller, as the issue
  // put it.
  // Reports the median of `runs` by throughput, with every run's throughput.
  auto report = [&](int callers_, const std::string& kind,
                    std::vector<checkout_result> runs, bool targets) {
    std::string every;
    for (const auto& r : runs)
      every += " " + std::to_string(static_cast<long>(r.per_second));
    std::sort(runs.begin(), runs.end(),
              [](const auto& a, const auto& b) { return a.per_second < b.per_second; });
    const checkout_result& r = runs[runs.size() / 2];
    const std::string run = std::to_string(callers_) + " " + kind;
    std::printf("%-24s %12.0f %10.3f %10.3f %14.1f %9.2f %8llu %8.2f/%.2f/%.3f %s\n",
                run.c_str(), r.per_second, r.p50_ms, r.p99_ms, r.cpu_us, r.switches,
                static_cast<unsigned long long>(r.misses), r.events, r.appends, r.syncs,
                runs.size() > 1 ? every.c_str() : "");
    std::fflush(stdout);
    figures.push_back({"durable checkouts/s, " + run, r.per_second, "1/s",
                       targets && callers_ == 256 ? ">= 50000" : ""});
    figures.push_back({"checkout latency p50, " + run, r.p50_ms, "ms",
                       targets && callers_ == 1 ? "<= 0.5" : ""});
    figures.push_back({"checkout latency p99, " + run, r.p99_ms, "ms",
                       targets && callers_ == 1 ? "<= 2" : ""});
    figures.push_back({"CPU per checkout, " + run, r.cpu_us, "us", ""});
    figures.push_back({"context switches per checkout, " + run, r.switches, "1", ""});
  };
  for (int c : callers) {
    // Each run on a fresh runtime, the blocking and the asynchronous runs
    // alternating, so that a slow spell of the machine hits both alike.
    std::vector<checkout_result> blocking_runs, batch_runs, async_runs;
    for (int round = 0; round < rounds; ++round) {
      if (blocking_callers) {
        auto rt =
            open_runtime(dir + "/checkouts", pools, pool_size, snapshot_every, journal);
        blocking_runs.push_back(run_checkouts(*rt, c, pools, duration, false));
      }
      if (batch_callers) {
        auto rt =
            open_runtime(dir + "/checkouts", pools, pool_size, snapshot_every, journal);
        batch_runs.push_back(run_checkouts(*rt, c, pools, duration, true));
      }
      if (async_callers) {
        auto rt =
            open_runtime(dir + "/checkouts", pools, pool_size, snapshot_every, journal);
        async_runs.push_back(run_async_checkouts(*rt, c, pools, duration));
      }
    }
    if (blocking_callers)
      report(c, "callers", std::move(blocking_runs), true);
    if (batch_callers)
      report(c, "batch callers", std::move(batch_runs), false);
    if (async_callers)
      report(c, "async callers", std::move(async_runs), false);
  }
  std::uint64_t events_written = 0;
  double scan = 0;
  const double recovery =
      recovery_seconds(dir + "/recovery", recovery_pools, recovery_sandboxes, journal,
                       &events_written, &scan);
  std::printf("recovery of %zu pools and %zu sandboxes (%llu events): %.3f s "
              "(journal pass alone: %.3f s)\n",
              recovery_pools, recovery_sandboxes,
              static_cast<unsigned long long>(events_written), recovery, scan);
  figures.push_back(
      {"recovery: journal pass alone (decode + apply, one thread)", scan, "s", ""});
  figures.push_back({"recovery, " + std::to_string(recovery_pools) + " pools + " +
                         std::to_string(recovery_sandboxes) + " sandboxes",
                     recovery, "s", "<= 2"});
  std::filesystem::remove_all(dir);
  print_figures("controller", figures);
  return 0;
}
