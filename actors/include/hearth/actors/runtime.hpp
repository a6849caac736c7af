#pragma once

// The embedding API: open a data directory, start hearth's actors, and call
// them with typed requests. No CAF type appears here.

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <semaphore.h>
#include <string>
#include <vector>

#include "hearth/actors/api_types.hpp"
#include "hearth/model/error.hpp"
#include "hearth/model/pool_planner.hpp"
#include "hearth/store/storage.hpp"
#include "hearth/vmm/qemu_driver.hpp"
#include "hearth/vmm/sim_driver.hpp"

namespace hearth {

/// One machine that runs VMs.
struct host_config {
  std::string id = "local";
  // Default: 64
  std::uint32_t vcpus = 64;
  // Default: 64 GiB
  std::uint32_t memory_mb = 65536;
};

/// What runs the VMs.
enum class vm_driver {
  /// Simulated VMs: the pool logic's tests and benchmarks.
  simulated,
  /// Real QEMU microVMs on this machine.
  qemu,
};

/// How a runtime runs.
struct runtime_options {
  /// Where the journal lives (`<data_dir>/journal`). Empty: in memory only.
  // Default: empty
  std::string data_dir;
  /// How the journal in `data_dir` is opened and tuned.
  // Default: the storage's defaults
  store::storage_options journal;
  /// A storage the caller owns; overrides `data_dir` (tests use it to inject
  /// journal failures).
  // Default: none
  store::storage* storage = nullptr;
  /// Run on CAF's deterministic test scheduler: nothing happens until `run`
  /// or `advance` is called, and time only moves with `advance`.
  // Default: false
  bool deterministic = false;
  /// Scheduler threads (production mode).
  // Default: 2
  std::size_t scheduler_threads = 2;
  /// Reconciliation: budgets, TTLs, deadlines, backoff.
  model::pool_options pools;
  /// Turns reconciliation off for every pool (degraded: controller_disabled).
  // Default: false
  bool controller_disabled = false;
  /// Snapshot a pool's or sandbox's state after this many events, and not
  /// before those events' payloads add up to the size of its last
  /// snapshot (a large state is not written out again every few events);
  /// 0: never.
  // Default: 100
  std::uint64_t snapshot_every = 100;
  /// The hosts; registered (or re-registered with new capacity) at start.
  std::vector<host_config> hosts{host_config{}};
  /// What runs the VMs of every host.
  // Default: simulated
  vm_driver driver = vm_driver::simulated;
  /// The QEMU driver: where it keeps VMs, artifacts and images. Its
  /// `data_dir` defaults to the runtime's (which the QEMU driver needs).
  vmm::qemu_options qemu;
  /// Simulated VMs: their world (kept across runtimes if the caller holds it)
  /// and latencies.
  std::shared_ptr<vmm::sim_world> sim_world;
  vmm::sim_options sim;
  /// The tenant created at first start, and its quota.
  // Default: "default", 256 vcpus, 256 GiB
  std::string default_tenant = "default";
  std::uint32_t default_quota_vcpus = 256;
  std::uint32_t default_quota_memory_mb = 262144;
  /// The wall-clock time the deterministic mode starts at (ns since epoch);
  /// 0: now.
  // Default: 0
  std::int64_t start_time_ns = 0;
  /// Destroyed sandboxes that stay readable (get, list): the last this many
  /// destroyed (after a restart: the last created of them). An older one is
  /// `not_found`, forgotten in memory, not in the journal: a long-running
  /// hearthd does not grow with every sandbox it ever had.
  // Default: 10000
  std::size_t destroyed_sandboxes_kept = 10'000;
  /// How long a call waits for its answer (production mode).
  // Default: 120 s
  std::chrono::milliseconds call_timeout{120'000};
};

namespace detail {

/// How many `then` callbacks this thread is running: `get()` from inside
/// one would wait for the runtime on a thread the runtime may need (the
/// controller hands sandbox creates' answers over on its own thread).
inline thread_local int running_callbacks = 0;

/// What a blocked `get` sleeps on until `set` posts it: a POSIX semaphore
/// rather than a condition variable, because a thread woken from
/// `pthread_cond_wait` takes the mutex back marked contended, so its unlock
/// always costs one more futex system call (bench/controller, 256 blocked
/// callers: 3.9 futex calls per checkout with a condition variable, 2.9
/// with this).
class wakeup {
public:
  wakeup() { ::sem_init(&sem_, 0, 0); }
  ~wakeup() { ::sem_destroy(&sem_); }
  wakeup(const wakeup&) = delete;
  wakeup& operator=(const wakeup&) = delete;

  void post() { ::sem_post(&sem_); }

  /// Whether it was posted before `deadline` (steady clock).
  bool wait_until(std::chrono::steady_clock::time_point deadline) {
    const auto since_epoch = deadline.time_since_epoch();
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
    timespec at{};
    at.tv_sec = static_cast<std::time_t>(secs.count());
    at.tv_nsec = static_cast<long>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch - secs).count());
    for (;;) {
      if (::sem_clockwait(&sem_, CLOCK_MONOTONIC, &at) == 0)
        return true;
      if (errno != EINTR)
        return false;
    }
  }

private:
  sem_t sem_;
};

template <class T>
struct pending_state {
  std::mutex mutex;
  wakeup done;
  std::optional<model::result<T>> value;
  std::function<void(model::result<T>)> callback;

  void set(model::result<T>&& v) {
    std::function<void(model::result<T>)> call;
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (value)
        return;
      if (callback)
        call = std::move(callback);
      else
        value.emplace(std::move(v));
    }
    if (call) {
      struct counted {
        counted() { ++running_callbacks; }
        ~counted() { --running_callbacks; }
      } during;
      call(std::move(v));
      return;
    }
    done.post();
  }

  void then(std::function<void(model::result<T>)> fn) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (!value) {
        callback = std::move(fn);
        return;
      }
    }
    fn(std::move(*value));
  }
};

} // namespace detail

/// The answer to a call, once it comes. In production `get` blocks until it
/// does (or the call times out); in the deterministic mode `get` first runs
/// everything that is ready to run, and fails if the answer needs time to
/// pass (call `runtime::advance` first).
template <class T>
class pending {
public:
  pending(std::shared_ptr<detail::pending_state<T>> state, std::function<void()> drive,
          std::chrono::milliseconds timeout)
      : state_(std::move(state))
      , drive_(std::move(drive))
      , timeout_(timeout) {}

  /// Whether the answer is there (after running what can run).
  bool ready() {
    if (drive_)
      drive_();
    std::lock_guard<std::mutex> lock(state_->mutex);
    return state_->value.has_value();
  }

  /// Waits for the answer and returns a copy of it: `get` may be called again.
  model::result<T> get() & {
    return wait([](model::result<T>& v) { return v; });
  }

  /// Waits for the answer and hands it over, with no copy: the usual
  /// `rt.create_sandbox(...).get()`.
  model::result<T> get() && {
    return wait([](model::result<T>& v) { return std::move(v); });
  }

  /// Hands the answer to `fn` instead of `get`: at once if it is there, else
  /// on the thread that delivers it (never blocks). `get` must not be called
  /// afterwards. `fn` must not block either: a `get` of another call from
  /// inside `fn`, on the delivering thread, answers an `internal` error at
  /// once instead of waiting (chain `then` instead).
  void then(std::function<void(model::result<T>)> fn) {
    if (drive_)
      drive_();
    state_->then(std::move(fn));
  }

private:
  template <class Take>
  model::result<T> wait(Take take) {
    if (detail::running_callbacks > 0)
      return model::error{
          model::errc::internal,
          "get() inside a then() callback would wait on the runtime from a "
          "thread it needs; chain another then() instead"};
    if (drive_) {
      drive_();
      std::lock_guard<std::mutex> lock(state_->mutex);
      if (!state_->value)
        return model::error{model::errc::unavailable,
                            "no answer yet: it needs simulated time to pass"};
      return take(*state_->value);
    }
    {
      std::lock_guard<std::mutex> lock(state_->mutex);
      if (state_->value)
        return take(*state_->value);
    }
    // `set` fills the value before it posts: once posted, it is there.
    if (!state_->done.wait_until(std::chrono::steady_clock::now() + timeout_))
      return model::error{model::errc::unavailable, "no answer within the call timeout"};
    std::lock_guard<std::mutex> lock(state_->mutex);
    return take(*state_->value);
  }

  std::shared_ptr<detail::pending_state<T>> state_;
  std::function<void()> drive_;
  std::chrono::milliseconds timeout_;
};

/// hearth, embedded: templates, warm pools and sandboxes through typed calls.
/// Every call takes the tenant it acts for; another tenant's objects are
/// `not_found`.
class runtime {
public:
  /// Opens the journal, recovers every actor from it, reconciles with the
  /// hosts, and starts.
  static model::result<std::unique_ptr<runtime>> open(runtime_options options);

  ~runtime();
  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;

  // -- templates ------------------------------------------------------------------
  pending<api::build_info> build_template(const std::string& tenant,
                                          const std::string& name,
                                          events::build_spec spec,
                                          std::vector<std::string> tags = {});
  pending<api::build_info> get_build(const std::string& tenant, const std::string& name,
                                     const std::string& build_id);
  /// The build once it is no longer `building` (ready, failed or deleted):
  /// at once if it is not. A build that takes longer than
  /// `runtime_options::call_timeout` answers `unavailable` ("no answer within
  /// the call timeout"): wait again.
  pending<api::build_info> wait_build(const std::string& tenant, const std::string& name,
                                      const std::string& build_id);
  /// `wait_build`, bounded: the build still `building` once `max_wait` has
  /// passed. `max_wait` must be below `runtime_options::call_timeout`.
  pending<api::build_info> wait_build(const std::string& tenant, const std::string& name,
                                      const std::string& build_id,
                                      std::chrono::milliseconds max_wait);
  pending<api::template_info> get_template(const std::string& tenant,
                                           const std::string& name);
  pending<std::vector<api::template_info>> list_templates(const std::string& tenant);
  pending<api::build_info> tag_template(const std::string& tenant,
                                        const std::string& name, const std::string& tag,
                                        const std::string& build_id);
  pending<api::build_info> delete_build(const std::string& tenant,
                                        const std::string& name,
                                        const std::string& build_id);
  /// What a build printed, step by step.
  pending<std::string> build_log(const std::string& tenant, const std::string& name,
                                 const std::string& build_id);

  // -- warm pools -----------------------------------------------------------------
  pending<api::pool_info> create_pool(const std::string& tenant, api::pool_spec spec);
  pending<api::pool_info> get_pool(const std::string& tenant, const std::string& id);
  /// The pool once its `revision` is past `after_revision` (at once if it
  /// already is), or as it is once `max_wait` has passed with no change: a
  /// caller follows a pool's changes by passing each answer's revision to
  /// the next call, with no polling. A pool deleted meanwhile answers with
  /// `deleted` set. `max_wait` must be below `runtime_options::call_timeout`.
  pending<api::pool_info> watch_pool(const std::string& tenant, const std::string& id,
                                     std::uint64_t after_revision,
                                     std::chrono::milliseconds max_wait);
  /// Blocks until `done(pool)` holds, following the pool with `watch_pool`
  /// (no polling), or until `timeout` passes: the last pool seen (test
  /// `done` on it to know which), or the error of a call that failed (the
  /// pool was deleted, the runtime is closing). The seed's
  /// `pool.wait_until_ready(min_ready=2)` is
  /// `wait_pool(t, id, [](auto& p) { return p.status.ready >= 2; }, 120s)`.
  /// Production mode only: in the deterministic mode time moves by `advance`.
  model::result<api::pool_info>
  wait_pool(const std::string& tenant, const std::string& id,
            const std::function<bool(const api::pool_info&)>& done,
            std::chrono::milliseconds timeout);
  pending<std::vector<api::pool_info>> list_pools(const std::string& tenant);
  pending<api::pool_info> update_pool(const std::string& tenant, const std::string& id,
                                      api::pool_patch patch);
  pending<api::pool_info> delete_pool(const std::string& tenant, const std::string& id);
  pending<api::pool_info> enable_pool(const std::string& tenant, const std::string& id);
  pending<api::pool_info> disable_pool(const std::string& tenant, const std::string& id);
  pending<api::pool_info> drain_pool(const std::string& tenant, const std::string& id);
  pending<api::pool_info> reconcile_pool(const std::string& tenant,
                                         const std::string& id);

  // -- sandboxes ------------------------------------------------------------------
  pending<api::sandbox_info> create_sandbox(const std::string& tenant,
                                            api::sandbox_request request);
  pending<api::sandbox_info> get_sandbox(const std::string& tenant,
                                         const std::string& id);
  pending<std::vector<api::sandbox_info>> list_sandboxes(const std::string& tenant);
  pending<api::sandbox_info> delete_sandbox(const std::string& tenant,
                                            const std::string& id);
  pending<api::sandbox_info> pause_sandbox(const std::string& tenant,
                                           const std::string& id);
  pending<api::sandbox_info> resume_sandbox(const std::string& tenant,
                                            const std::string& id);
  pending<api::sandbox_info> hibernate_sandbox(const std::string& tenant,
                                               const std::string& id);
  pending<api::sandbox_info> fork_sandbox(const std::string& tenant,
                                          const std::string& id);
  /// Starts a sandbox from a template snapshot: never from a warm pool.
  pending<api::sandbox_info> restore_snapshot(const std::string& tenant,
                                              const std::string& template_ref);

  // -- hosts and tenants ----------------------------------------------------------
  pending<std::vector<api::host_info>> hosts();
  pending<bool> set_tenant(const std::string& id, std::uint32_t quota_vcpus,
                           std::uint32_t quota_memory_mb);
  pending<std::vector<api::tenant_info>> list_tenants();
  /// Creates an API key for `tenant` (`role` "tenant" or "admin"). The answer
  /// holds the key itself; the journal keeps only its SHA-256 digest.
  pending<api::api_key> create_api_key(const std::string& tenant,
                                       const std::string& role);
  /// Revokes `tenant`'s key `key_id`: once this answers, the key
  /// authenticates nobody, now and after restarts. The last admin key is
  /// not revoked (`conflict`); an unknown key is `not_found`.
  pending<bool> revoke_api_key(const std::string& tenant, const std::string& key_id);
  /// Who `key` speaks for; `unauthenticated` if nobody.
  pending<api::principal> authenticate(const std::string& key);
  /// The SHA-256 digest of `key`, in hex: what the journal keeps of a key.
  static std::string key_digest(const std::string& key);

  // -- the journal, read-only -------------------------------------------------------
  /// Up to `limit` events from global position `from` (all streams), or of
  /// `stream` from sequence number `from`.
  model::result<std::vector<events::envelope>>
  read_events(const std::string& stream, std::uint64_t from, std::size_t limit) const;
  /// True once the journal holds an event at `from_position` or later (at
  /// once if it does), false once `max_wait` has passed without one: a
  /// reader that has read up to position P waits with P + 1, then reads.
  /// `max_wait` must be below `runtime_options::call_timeout`.
  pending<bool> wait_events(std::uint64_t from_position,
                            std::chrono::milliseconds max_wait);
  /// The same for one stream: true once `stream` holds an event with
  /// sequence number `from_sequence` or later (a stream not written yet
  /// is empty, and may be waited on).
  pending<bool> wait_events(const std::string& stream, std::uint64_t from_sequence,
                            std::chrono::milliseconds max_wait);

  // -- inspection -----------------------------------------------------------------
  /// Every actor's state as text, one line per stream: equal dumps mean equal
  /// states.
  pending<std::string> dump();
  /// The simulated hosts.
  vmm::sim_world& sim();
  /// The QEMU processes of every host (empty with simulated VMs).
  std::vector<vmm::vm_process> vm_processes() const;

  /// A latency distribution: `counts[i]` observations at most `bounds_s[i]`
  /// seconds (and above the bound before it); the last count is above every
  /// bound.
  struct latency_histogram {
    std::vector<double> bounds_s;
    std::vector<std::uint64_t> counts;
    double sum_s = 0;
  };

  struct counters {
    std::uint64_t checkouts_hit = 0;
    std::uint64_t checkouts_miss = 0;
    std::uint64_t cold_creates = 0;
    std::uint64_t persists = 0;
    std::uint64_t persist_failures = 0;
    std::uint64_t actor_restarts = 0;
    /// The journal's durable writes (one sync each), the appends they
    /// carried (one per stream written) and their events.
    std::uint64_t journal_writes = 0;
    std::uint64_t journal_appends = 0;
    std::uint64_t journal_events = 0;
    /// Checkouts waiting for a pool's ready VM now.
    std::int64_t checkout_waiters = 0;
    /// Sandboxes with a live actor now. The controller answers for the
    /// others (parked) from their state, and wakes an actor for a change.
    std::int64_t sandbox_actors = 0;
    /// Events recovery found that did not fit their aggregate's state
    /// (should be 0; `hearth replay state` names them).
    std::uint64_t recovery_misfits = 0;
    /// From an actor's append to the journal's durable acknowledgement.
    latency_histogram journal_append;
    /// From a restore request to the VM being ready (the driver's work).
    latency_histogram vm_restore;
  };
  counters metrics() const;

  // -- deterministic mode -----------------------------------------------------------
  /// Runs every message that can run without time passing.
  void run();
  /// Moves simulated time forward by `by`, firing each timer at its time.
  void advance(std::chrono::milliseconds by);

  class impl;

private:
  explicit runtime(std::unique_ptr<impl> self);
  std::unique_ptr<impl> impl_;
};

} // namespace hearth
