#include "hearth/actors/runtime.hpp"

#include <atomic>
#include <caf/all.hpp>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <openssl/sha.h>
#include <optional>
#include <sys/random.h>
#include <thread>
#include <unordered_map>

#include "capacity_actor.hpp"
#include "controller_actor.hpp"
#include "feed_actor.hpp"
#include "hearth/model/world_state.hpp"
#include "journal_port.hpp"
#include "messages.hpp"
#include "runtime_context.hpp"
#include "templates_actor.hpp"
#include "vmm_actor.hpp"

namespace hearth {

using namespace actors;

namespace {

/// One call of the embedding API, handed to a gateway: `start` sends the
/// request from the gateway and calls `done` once it is answered; `fail`
/// answers the caller when the runtime closes first.
struct call_job {
  std::function<void(caf::event_based_actor*, std::function<void()> done)> start;
  std::function<void(model::error)> fail;
};

} // namespace
} // namespace hearth

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(hearth::call_job)

namespace hearth {
namespace {

using close_atom = caf::atom_constant<caf::atom("close")>;

struct gateway_state {
  std::uint64_t next_call = 0;
  /// Calls sent and not answered yet: how to fail each.
  std::unordered_map<std::uint64_t, std::function<void(model::error)>> outstanding;
};

/// Sends the embedding API's requests and hands their answers to the
/// callers. A few long-lived gateways replace an actor per call: spawning
/// and ending one cost ~15 % of a checkout's CPU, much of it waking CAF's
/// clock thread at every actor's end (bench/controller). On `close`
/// (the runtime is going away) every call still unanswered fails at once:
/// a stopping actor does not answer what it was still working on.
caf::behavior gateway(caf::stateful_actor<gateway_state>* self, std::size_t /*index*/) {
  return {
      [self](call_job& job) {
        const auto id = self->state.next_call++;
        self->state.outstanding.emplace(id, std::move(job.fail));
        job.start(self, [self, id] { self->state.outstanding.erase(id); });
      },
      [self](close_atom) {
        for (auto& [id, fail] : self->state.outstanding)
          fail(model::error{model::errc::unavailable,
                            "the runtime closed before it answered"});
        self->state.outstanding.clear();
        self->quit();
      },
  };
}

/// Rebuilds every aggregate's state with one pass over the journal in global
/// order. A reader thread reads and decodes the events while this thread
/// applies them in order: decoding is most of the pass (bench/controller).
model::result<model::world_state> recover_world(store::journal& journal) {
  struct decoded {
    std::string stream;
    std::uint64_t sequence;
    events::domain_event event;
  };
  using batch = std::vector<decoded>;
  constexpr std::size_t batch_size = 512;
  constexpr std::size_t max_batches = 16; // bounds what the reader runs ahead

  std::mutex mutex;
  std::condition_variable changed;
  std::deque<batch> handed;
  bool reader_done = false;
  bool applier_failed = false;
  std::optional<model::error> read_failure;

  std::thread reader([&] {
    batch current;
    current.reserve(batch_size);
    auto hand_over = [&] {
      std::unique_lock<std::mutex> lock(mutex);
      changed.wait(lock, [&] { return handed.size() < max_batches || applier_failed; });
      if (applier_failed)
        return false;
      handed.push_back(std::move(current));
      changed.notify_all();
      current = batch{};
      current.reserve(batch_size);
      return true;
    };
    std::optional<model::error> failure;
    auto scanned =
        journal.read_all(1, store::max_sequence, [&](const events::envelope& e) {
          auto event = events::decode_domain(e);
          if (!event) {
            failure = model::error{model::errc::internal,
                                   "cannot recover: event " + std::to_string(e.sequence) +
                                       " of " + e.stream + ": " + event.error().message};
            return false;
          }
          current.push_back(decoded{e.stream, e.sequence, std::move(*event)});
          return current.size() < batch_size || hand_over();
        });
    if (!failure && !scanned)
      failure =
          model::error{model::errc::unavailable,
                       "cannot recover from the journal: " + scanned.error().message};
    if (!failure && !current.empty())
      hand_over();
    std::lock_guard<std::mutex> lock(mutex);
    read_failure = std::move(failure);
    reader_done = true;
    changed.notify_all();
  });

  model::world_state world;
  std::optional<model::error> failure;
  for (;;) {
    batch next;
    {
      std::unique_lock<std::mutex> lock(mutex);
      changed.wait(lock, [&] { return !handed.empty() || reader_done; });
      if (handed.empty())
        break;
      next = std::move(handed.front());
      handed.pop_front();
      changed.notify_all();
    }
    for (const auto& d : next)
      if (auto ok = world.apply(d.stream, d.sequence, d.event); !ok) {
        failure =
            model::error{model::errc::internal, "cannot recover: " + ok.error().message};
        break;
      }
    if (failure) {
      std::lock_guard<std::mutex> lock(mutex);
      applier_failed = true;
      changed.notify_all();
      break;
    }
  }
  reader.join();
  if (read_failure)
    return *read_failure;
  if (failure)
    return *failure;
  return world;
}

} // namespace

class runtime::impl {
public:
  runtime_options options;
  std::unique_ptr<store::storage> owned_storage;
  store::storage* storage = nullptr;
  std::unique_ptr<journal_port> port;
  caf::actor_system_config config;
  std::unique_ptr<caf::actor_system> system;
  caf::scheduler::test_coordinator* scheduler = nullptr;
  std::shared_ptr<runtime_context> ctx;
  std::shared_ptr<vmm::sim_world> world;
  std::map<std::string, std::shared_ptr<vmm::qemu_host>> qemu_hosts;
  std::vector<caf::actor> services;
  /// What recovery found that did not fit (`counters::recovery_misfits`).
  std::uint64_t recovery_misfits = 0;
  /// Waiters on the journal as a whole (`wait_events`).
  caf::actor feed;
  /// Send the calls' requests, round robin.
  std::vector<caf::actor> gateways;
  std::atomic<std::size_t> next_gateway{0};
  std::atomic<bool> closing{false};
  /// Keys the capacity actor already vouched for (digest -> principal): it
  /// spares every request of an API client the round trip to the capacity
  /// actor. A revocation removes its key's entry before it answers, and
  /// bumps `keys_epoch`, so that a vouching answered before it but arriving
  /// after it is not cached.
  std::mutex known_keys_mutex;
  std::unordered_map<std::string, api::principal> known_keys;
  std::uint64_t keys_epoch = 0;

  std::function<void()> driver() {
    if (scheduler == nullptr)
      return nullptr;
    return [this] { run(); };
  }

  template <class T, class... Ts>
  pending<T> call(const caf::actor& target, Ts&&... xs) {
    auto state = std::make_shared<detail::pending_state<T>>();
    if (closing.load()) {
      state->set(model::error{model::errc::unavailable, "the runtime is shutting down"});
      return pending<T>(state, driver(), options.call_timeout);
    }
    call_job job;
    job.fail = [state](model::error e) { state->set(std::move(e)); };
    job.start = [to = target, msg = caf::make_message(std::forward<Ts>(xs)...),
                 state](caf::event_based_actor* self, std::function<void()> done) {
      self->request(to, caf::infinite, msg)
          .then(
              [state, done](T& value) {
                state->set(std::move(value));
                done();
              },
              [state, done](caf::error& err) {
                state->set(from_caf(err));
                done();
              });
    };
    const auto which =
        next_gateway.fetch_add(1, std::memory_order_relaxed) % gateways.size();
    caf::anon_send(gateways[which], std::move(job));
    return pending<T>(state, driver(), options.call_timeout);
  }

  /// `call` for a handler that answers a `direct_answer<T>` appended to its
  /// message, with no gateway in between.
  template <class T, class... Ts>
  pending<T> call_direct(const caf::actor& target, Ts&&... xs) {
    auto state = std::make_shared<detail::pending_state<T>>();
    if (closing.load())
      state->set(model::error{model::errc::unavailable, "the runtime is shutting down"});
    else
      caf::anon_send(target, std::forward<Ts>(xs)..., direct_answer<T>(state));
    return pending<T>(state, driver(), options.call_timeout);
  }

  /// A call's `max_wait` it cannot keep, answered at once: the call's own
  /// timeout would cut it short.
  template <class T>
  std::optional<pending<T>> refuse_wait(std::chrono::milliseconds max_wait) {
    if (max_wait.count() >= 0 && max_wait < options.call_timeout)
      return std::nullopt;
    auto state = std::make_shared<detail::pending_state<T>>();
    state->set(model::invalid(
        "max_wait", "max_wait must be from 0 to below the call "
                    "timeout (" +
                        std::to_string(options.call_timeout.count()) + " ms), not " +
                        std::to_string(max_wait.count()) + " ms"));
    return pending<T>(state, driver(), options.call_timeout);
  }

  void run() {
    if (scheduler != nullptr)
      scheduler->run();
  }

  void advance(std::chrono::milliseconds by) {
    if (scheduler == nullptr)
      return;
    auto& clock = dynamic_cast<caf::detail::test_actor_clock&>(scheduler->clock());
    const auto target = clock.now() + by;
    run();
    // Fire each timer at its own time, so timers set by handlers run in order.
    while (clock.has_pending_timeout()) {
      const auto next = clock.schedule().begin()->first;
      if (next > target)
        break;
      if (next > clock.now())
        clock.advance_time(next - clock.now());
      else
        clock.trigger_timeout();
      run();
    }
    if (target > clock.now())
      clock.advance_time(target - clock.now());
    run();
  }

  void shutdown() {
    if (!system)
      return;
    closing = true;
    for (const auto& service : services)
      caf::anon_send_exit(service, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(feed, caf::exit_reason::user_shutdown);
    // No caller is left waiting: the gateways fail what is unanswered.
    for (const auto& gateway : gateways)
      caf::anon_send(gateway, close_atom::value);
    if (scheduler != nullptr) {
      run();
    } else {
      system->await_all_actors_done();
    }
    // The context holds the services' handles and every actor holds the
    // context: break that cycle so the actors are freed.
    services.clear();
    feed = caf::actor{};
    gateways.clear();
    ctx->capacity = caf::actor{};
    ctx->templates = caf::actor{};
    ctx->controller = caf::actor{};
    ctx->vmms.clear();
    ctx->pool_actors.clear();
  }
};

runtime::runtime(std::unique_ptr<impl> self)
    : impl_(std::move(self)) {}

runtime::~runtime() {
  impl_->shutdown();
  // No driver callback may reach the actor system once it is gone.
  for (const auto& [id, host] : impl_->qemu_hosts)
    vmm::close_qemu_host(*host);
  // The port's threads may still deliver to actors: stop them while the
  // actor system exists.
  impl_->port.reset();
  impl_->system.reset();
}

model::result<std::unique_ptr<runtime>> runtime::open(runtime_options options) {
  auto self = std::make_unique<impl>();
  self->options = options;
  if (options.storage != nullptr) {
    self->storage = options.storage;
  } else if (options.data_dir.empty()) {
    self->owned_storage = store::make_memory_storage();
    self->storage = self->owned_storage.get();
  } else {
    auto opened =
        store::open_rocksdb_storage(options.data_dir + "/journal", options.journal);
    if (!opened)
      return model::error{opened.error().code == store::errc::locked
                              ? model::errc::conflict
                              : model::errc::unavailable,
                          opened.error().message};
    self->owned_storage = std::move(*opened);
    self->storage = self->owned_storage.get();
  }

  auto recovered = recover_world(self->storage->events());
  if (!recovered)
    return recovered.error();
  model::world_state world = std::move(*recovered);
  self->recovery_misfits = world.rejected;
  if (world.rejected > 0) {
    std::string first;
    for (const auto& misfit : world.misfits)
      first += (first.empty() ? "" : ", ") + misfit;
    std::fprintf(stderr,
                 "hearth: recovery: %llu %s in the journal did not fit their "
                 "aggregate's state (%s); `hearth replay state` shows them\n",
                 static_cast<unsigned long long>(world.rejected),
                 world.rejected == 1 ? "event" : "events", first.c_str());
  }

  // Real VMs: look at what the hosts run before any actor starts (blocking:
  // QEMU checks, the accelerator probe, re-adopting recorded VMs).
  if (options.driver == vm_driver::qemu) {
    auto qemu = options.qemu;
    if (qemu.data_dir.empty())
      qemu.data_dir = options.data_dir;
    if (qemu.data_dir.empty())
      return model::invalid("data_dir", "the QEMU driver needs a data directory");
    for (const auto& host : options.hosts) {
      auto opened = vmm::open_qemu_host(host.id, qemu);
      if (!opened)
        return model::error{model::errc::unavailable,
                            "host " + host.id + ": " + opened.error().message};
      self->qemu_hosts[host.id] = *opened;
    }
  }

  if (options.deterministic) {
    self->config.set("scheduler.policy", caf::atom("testing"));
  } else {
    self->config.set("scheduler.max-threads", options.scheduler_threads);
    // One shared queue and a condition variable: CAF's default work-stealing
    // workers poll for work, which on a 2-core machine burns the core the
    // journal and the other worker need.
    self->config.set("scheduler.policy", caf::atom("sharing"));
  }
  self->config.set("logger.console", caf::atom("none"));
  self->config.set("logger.verbosity", caf::atom("quiet"));
  self->system = std::make_unique<caf::actor_system>(self->config);
  if (options.deterministic)
    self->scheduler =
        &dynamic_cast<caf::scheduler::test_coordinator&>(self->system->scheduler());

  for (std::size_t i = 0; i < std::max<std::size_t>(1, options.scheduler_threads); ++i)
    self->gateways.push_back(self->system->spawn(gateway, i));

  auto signal = std::make_shared<feed_signal>();
  auto written = [signal] { signal->written(); };
  self->port = options.deterministic ? make_inline_port(*self->storage, written)
                                     : make_group_commit_port(*self->storage, written);
  signal->feed = self->system->spawn(feed_actor, signal, &self->storage->events());
  self->feed = signal->feed;
  self->world =
      options.sim_world ? options.sim_world : std::make_shared<vmm::sim_world>();

  auto ctx = std::make_shared<runtime_context>();
  ctx->port = self->port.get();
  ctx->pools = options.pools;
  ctx->controller_disabled = options.controller_disabled;
  ctx->snapshot_every = options.snapshot_every;
  ctx->destroyed_sandboxes_kept = options.destroyed_sandboxes_kept;
  ctx->wall_at_start_ns = options.start_time_ns != 0
                              ? options.start_time_ns
                              : std::chrono::duration_cast<std::chrono::nanoseconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count();
  ctx->clock_at_start = self->system->clock().now();
  ctx->build_host = options.hosts.empty() ? "" : options.hosts.front().id;
  const char* trace = std::getenv("HEARTH_TRACE");
  ctx->trace = trace != nullptr && std::string(trace) == "1";
  self->ctx = ctx;

  // Services first (actors look them up in the context), then the vmm
  // actors, then the controller, which spawns every pool and sandbox.
  ctx->capacity = self->system->spawn<capacity_actor>(ctx, world);
  ctx->templates = self->system->spawn<templates_actor>(ctx, world);
  for (const auto& host : options.hosts) {
    driver_factory factory;
    if (options.driver == vm_driver::qemu) {
      auto qemu = self->qemu_hosts.at(host.id);
      factory = [qemu](vmm::executor run) {
        return vmm::make_qemu_driver(qemu, std::move(run));
      };
    } else {
      auto sim_world = self->world;
      auto sim = options.sim;
      factory = [sim_world, sim, id = host.id](vmm::executor run) {
        return std::make_unique<vmm::sim_driver>(id, sim_world, sim, std::move(run));
      };
    }
    ctx->vmms[host.id] = self->system->spawn(vmm_actor, ctx, host.id, factory);
  }
  std::vector<model::host_state> known_hosts;
  for (const auto& [id, h] : world.hosts)
    known_hosts.push_back(h);
  const bool tenant_known = world.tenants.count(options.default_tenant) > 0;
  ctx->controller = self->system->spawn<controller_actor>(
      ctx, std::move(world), controller_limits{}, options.deterministic);
  self->services = {ctx->controller, ctx->capacity, ctx->templates};
  for (const auto& [id, vmm] : ctx->vmms)
    self->services.push_back(vmm);

  std::unique_ptr<runtime> rt(new runtime(std::move(self)));
  auto& s = *rt->impl_;
  // Register hosts whose capacity is new or changed, and the default tenant.
  for (const auto& host : options.hosts) {
    auto known = std::find_if(known_hosts.begin(), known_hosts.end(),
                              [&](const auto& h) { return h.id == host.id; });
    if (known != known_hosts.end() && known->vcpus == host.vcpus &&
        known->memory_mb == host.memory_mb)
      continue;
    auto registered = s.call<bool>(ctx->capacity, host_atom_register::value, host.id,
                                   host.vcpus, host.memory_mb)
                          .get();
    if (!registered)
      return registered.error();
  }
  if (!tenant_known) {
    auto created = rt->set_tenant(options.default_tenant, options.default_quota_vcpus,
                                  options.default_quota_memory_mb)
                       .get();
    if (!created)
      return created.error();
  }
  caf::anon_send(ctx->controller, start_atom::value);
  s.run();
  return rt;
}

// -- calls ----------------------------------------------------------------------------

pending<api::build_info> runtime::build_template(const std::string& tenant,
                                                 const std::string& name,
                                                 events::build_spec spec,
                                                 std::vector<std::string> tags) {
  return impl_->call<api::build_info>(impl_->ctx->templates, build_atom::value, tenant,
                                      name, std::move(spec), std::move(tags),
                                      std::string());
}

pending<api::build_info> runtime::get_build(const std::string& tenant,
                                            const std::string& name,
                                            const std::string& build_id) {
  return impl_->call<api::build_info>(impl_->ctx->templates, get_atom::value, tenant,
                                      name, build_id);
}

pending<api::build_info> runtime::wait_build(const std::string& tenant,
                                             const std::string& name,
                                             const std::string& build_id) {
  return impl_->call<api::build_info>(impl_->ctx->templates, wait_atom::value, tenant,
                                      name, build_id);
}

pending<api::build_info> runtime::wait_build(const std::string& tenant,
                                             const std::string& name,
                                             const std::string& build_id,
                                             std::chrono::milliseconds max_wait) {
  if (auto refused = impl_->refuse_wait<api::build_info>(max_wait))
    return std::move(*refused);
  return impl_->call<api::build_info>(impl_->ctx->templates, wait_atom::value, tenant,
                                      name, build_id,
                                      static_cast<std::uint64_t>(max_wait.count()));
}

pending<api::template_info> runtime::get_template(const std::string& tenant,
                                                  const std::string& name) {
  return impl_->call<api::template_info>(impl_->ctx->templates, get_atom::value, tenant,
                                         name);
}

pending<std::vector<api::template_info>>
runtime::list_templates(const std::string& tenant) {
  return impl_->call<std::vector<api::template_info>>(impl_->ctx->templates,
                                                      list_atom::value, tenant);
}

pending<api::build_info> runtime::tag_template(const std::string& tenant,
                                               const std::string& name,
                                               const std::string& tag,
                                               const std::string& build_id) {
  return impl_->call<api::build_info>(impl_->ctx->templates, tag_atom::value, tenant,
                                      name, tag, build_id);
}

pending<api::build_info> runtime::delete_build(const std::string& tenant,
                                               const std::string& name,
                                               const std::string& build_id) {
  return impl_->call<api::build_info>(impl_->ctx->templates, delete_atom::value, tenant,
                                      name, build_id);
}

pending<std::string> runtime::build_log(const std::string& tenant,
                                        const std::string& name,
                                        const std::string& build_id) {
  return impl_->call<std::string>(impl_->ctx->templates, log_atom::value, tenant, name,
                                  build_id);
}

pending<api::pool_info> runtime::create_pool(const std::string& tenant,
                                             api::pool_spec spec) {
  return impl_->call<api::pool_info>(impl_->ctx->controller, create_atom::value, tenant,
                                     std::move(spec), std::string());
}

pending<api::pool_info> runtime::get_pool(const std::string& tenant,
                                          const std::string& id) {
  return impl_->call<api::pool_info>(impl_->ctx->controller, get_atom::value,
                                     pools_atom::value, tenant, id);
}

pending<api::pool_info> runtime::watch_pool(const std::string& tenant,
                                            const std::string& id,
                                            std::uint64_t after_revision,
                                            std::chrono::milliseconds max_wait) {
  if (auto refused = impl_->refuse_wait<api::pool_info>(max_wait))
    return std::move(*refused);
  return impl_->call<api::pool_info>(impl_->ctx->controller, watch_atom::value,
                                     pools_atom::value, tenant, id, after_revision,
                                     static_cast<std::uint64_t>(max_wait.count()));
}

model::result<api::pool_info>
runtime::wait_pool(const std::string& tenant, const std::string& id,
                   const std::function<bool(const api::pool_info&)>& done,
                   std::chrono::milliseconds timeout) {
  using std::chrono::steady_clock;
  const auto until = steady_clock::now() + timeout;
  // One watch may last at most half a call's timeout, which it must stay below.
  const auto longest = impl_->options.call_timeout / 2;
  auto pool = get_pool(tenant, id).get();
  while (pool && !done(*pool)) {
    const auto now = steady_clock::now();
    if (now >= until)
      break;
    // Rounded up: the last watch must not end before `timeout` does.
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(until - now);
    pool = watch_pool(tenant, id, pool->revision, std::min(left, longest)).get();
  }
  return pool;
}

pending<std::vector<api::pool_info>> runtime::list_pools(const std::string& tenant) {
  return impl_->call<std::vector<api::pool_info>>(
      impl_->ctx->controller, list_atom::value, pools_atom::value, tenant);
}

pending<api::pool_info> runtime::update_pool(const std::string& tenant,
                                             const std::string& id,
                                             api::pool_patch patch) {
  return impl_->call<api::pool_info>(impl_->ctx->controller, update_atom::value, tenant,
                                     id, std::move(patch));
}

pending<api::pool_info> runtime::delete_pool(const std::string& tenant,
                                             const std::string& id) {
  return impl_->call<api::pool_info>(impl_->ctx->controller, delete_atom::value,
                                     pools_atom::value, tenant, id);
}

pending<api::pool_info> runtime::enable_pool(const std::string& tenant,
                                             const std::string& id) {
  return impl_->call<api::pool_info>(impl_->ctx->controller, enable_atom::value, tenant,
                                     id);
}

pending<api::pool_info> runtime::disable_pool(const std::string& tenant,
                                              const std::string& id) {
  return impl_->call<api::pool_info>(impl_->ctx->controller, disable_atom::value, tenant,
                                     id);
}

pending<api::pool_info> runtime::drain_pool(const std::string& tenant,
                                            const std::string& id) {
  return impl_->call<api::pool_info>(impl_->ctx->controller, drain_atom::value, tenant,
                                     id);
}

pending<api::pool_info> runtime::reconcile_pool(const std::string& tenant,
                                                const std::string& id) {
  return impl_->call<api::pool_info>(impl_->ctx->controller, reconcile_atom::value,
                                     tenant, id);
}

pending<api::sandbox_info> runtime::create_sandbox(const std::string& tenant,
                                                   api::sandbox_request request) {
  // The hot path, a checkout, goes straight to its pool, which answers the
  // caller directly; the rest (and a pool not known here) to the controller.
  if (!request.warm_pool.empty())
    if (auto pool = impl_->ctx->pool_actors.find(tenant, request.warm_pool))
      return impl_->call_direct<api::sandbox_info>(pool, checkout_atom::value, tenant,
                                                   std::move(request), std::string());
  return impl_->call_direct<api::sandbox_info>(impl_->ctx->controller, create_atom::value,
                                               tenant, std::move(request), std::string());
}

pending<api::sandbox_info> runtime::get_sandbox(const std::string& tenant,
                                                const std::string& id) {
  return impl_->call<api::sandbox_info>(impl_->ctx->controller, get_atom::value,
                                        sandboxes_atom::value, tenant, id);
}

pending<std::vector<api::sandbox_info>>
runtime::list_sandboxes(const std::string& tenant) {
  return impl_->call<std::vector<api::sandbox_info>>(
      impl_->ctx->controller, list_atom::value, sandboxes_atom::value, tenant);
}

pending<api::sandbox_info> runtime::delete_sandbox(const std::string& tenant,
                                                   const std::string& id) {
  return impl_->call<api::sandbox_info>(impl_->ctx->controller, delete_atom::value,
                                        sandboxes_atom::value, tenant, id);
}

pending<api::sandbox_info> runtime::pause_sandbox(const std::string& tenant,
                                                  const std::string& id) {
  return impl_->call<api::sandbox_info>(impl_->ctx->controller, pause_atom::value, tenant,
                                        id);
}

pending<api::sandbox_info> runtime::resume_sandbox(const std::string& tenant,
                                                   const std::string& id) {
  return impl_->call<api::sandbox_info>(impl_->ctx->controller, resume_atom::value,
                                        tenant, id);
}

pending<api::sandbox_info> runtime::hibernate_sandbox(const std::string& tenant,
                                                      const std::string& id) {
  return impl_->call<api::sandbox_info>(impl_->ctx->controller, hibernate_atom::value,
                                        tenant, id);
}

pending<api::sandbox_info> runtime::fork_sandbox(const std::string& tenant,
                                                 const std::string& id) {
  return impl_->call_direct<api::sandbox_info>(impl_->ctx->controller, fork_atom::value,
                                               tenant, id, std::string());
}

pending<api::sandbox_info> runtime::restore_snapshot(const std::string& tenant,
                                                     const std::string& template_ref) {
  return impl_->call_direct<api::sandbox_info>(
      impl_->ctx->controller, from_snap_atom::value, tenant, template_ref, std::string());
}

pending<std::vector<api::host_info>> runtime::hosts() {
  return impl_->call<std::vector<api::host_info>>(impl_->ctx->capacity,
                                                  hosts_atom::value);
}

pending<bool> runtime::set_tenant(const std::string& id, std::uint32_t quota_vcpus,
                                  std::uint32_t quota_memory_mb) {
  return impl_->call<bool>(impl_->ctx->capacity, tenant_atom::value, id, quota_vcpus,
                           quota_memory_mb);
}

pending<std::vector<api::tenant_info>> runtime::list_tenants() {
  return impl_->call<std::vector<api::tenant_info>>(impl_->ctx->capacity,
                                                    tenants_atom::value);
}

namespace {

std::string to_hex(const unsigned char* bytes, std::size_t size) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    out += digits[bytes[i] >> 4];
    out += digits[bytes[i] & 0xf];
  }
  return out;
}

/// `size` bytes from the kernel's CSPRNG, in hex.
std::string random_hex(std::size_t size) {
  std::vector<unsigned char> bytes(size);
  std::size_t filled = 0;
  while (filled < size) {
    const ssize_t n = getrandom(bytes.data() + filled, size - filled, 0);
    if (n > 0)
      filled += static_cast<std::size_t>(n);
  }
  return to_hex(bytes.data(), size);
}

} // namespace

std::string runtime::key_digest(const std::string& key) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(), digest);
  return to_hex(digest, sizeof(digest));
}

pending<api::api_key> runtime::create_api_key(const std::string& tenant,
                                              const std::string& role) {
  auto state = std::make_shared<detail::pending_state<api::api_key>>();
  pending<api::api_key> answer(state, impl_->driver(), impl_->options.call_timeout);
  if (role != "tenant" && role != "admin") {
    state->set(model::invalid("role", "role must be tenant or admin, not " + role));
    return answer;
  }
  api::api_key key{tenant, "key_" + random_hex(6), role, "hk_" + random_hex(24)};
  impl_
      ->call<bool>(impl_->ctx->capacity, key_atom::value, tenant, key.key_id,
                   key_digest(key.key), role)
      .then([state, key](model::result<bool> written) {
        if (written)
          state->set(key);
        else
          state->set(written.error());
      });
  return answer;
}

pending<api::principal> runtime::authenticate(const std::string& key) {
  auto digest = key_digest(key);
  auto state = std::make_shared<detail::pending_state<api::principal>>();
  pending<api::principal> answer(state, impl_->driver(), impl_->options.call_timeout);
  {
    std::lock_guard<std::mutex> lock(impl_->known_keys_mutex);
    auto known = impl_->known_keys.find(digest);
    if (known != impl_->known_keys.end()) {
      state->set(known->second);
      return answer;
    }
  }
  auto* self = impl_.get();
  std::uint64_t epoch = 0;
  {
    std::lock_guard<std::mutex> lock(impl_->known_keys_mutex);
    epoch = impl_->keys_epoch;
  }
  impl_->call<api::principal>(impl_->ctx->capacity, auth_atom::value, digest)
      .then([self, state, digest, epoch](model::result<api::principal> who) {
        if (who) {
          std::lock_guard<std::mutex> lock(self->known_keys_mutex);
          if (self->keys_epoch == epoch)
            self->known_keys.emplace(digest, *who);
        }
        state->set(std::move(who));
      });
  return answer;
}

pending<bool> runtime::revoke_api_key(const std::string& tenant,
                                      const std::string& key_id) {
  auto state = std::make_shared<detail::pending_state<bool>>();
  pending<bool> answer(state, impl_->driver(), impl_->options.call_timeout);
  auto* self = impl_.get();
  impl_->call<bool>(impl_->ctx->capacity, revoke_atom::value, tenant, key_id)
      .then([self, state, tenant, key_id](model::result<bool> revoked) {
        if (revoked) {
          std::lock_guard<std::mutex> lock(self->known_keys_mutex);
          ++self->keys_epoch;
          for (auto it = self->known_keys.begin(); it != self->known_keys.end();)
            if (it->second.tenant == tenant && it->second.key_id == key_id)
              it = self->known_keys.erase(it);
            else
              ++it;
        }
        state->set(std::move(revoked));
      });
  return answer;
}

pending<bool> runtime::wait_events(std::uint64_t from_position,
                                   std::chrono::milliseconds max_wait) {
  return wait_events(std::string(), from_position, max_wait);
}

pending<bool> runtime::wait_events(const std::string& stream, std::uint64_t from,
                                   std::chrono::milliseconds max_wait) {
  if (auto refused = impl_->refuse_wait<bool>(max_wait))
    return std::move(*refused);
  return impl_->call<bool>(impl_->feed, wait_atom::value, stream, from,
                           static_cast<std::uint64_t>(max_wait.count()));
}

model::result<std::vector<events::envelope>>
runtime::read_events(const std::string& stream, std::uint64_t from,
                     std::size_t limit) const {
  auto& journal = impl_->storage->events();
  std::vector<events::envelope> out;
  auto collect = [&out](const events::envelope& e) {
    out.push_back(e);
    return true;
  };
  auto read = stream.empty() ? journal.read_all(from, limit, collect)
                             : journal.read_stream(stream, from, store::max_sequence,
                                                   limit, collect);
  if (!read)
    return model::error{model::errc::internal, read.error().message};
  return out;
}

pending<std::string> runtime::dump() {
  return impl_->call<std::string>(impl_->ctx->controller, dump_atom::value);
}

vmm::sim_world& runtime::sim() {
  return *impl_->world;
}

std::vector<vmm::vm_process> runtime::vm_processes() const {
  std::vector<vmm::vm_process> out;
  for (const auto& [id, host] : impl_->qemu_hosts) {
    auto some = vmm::processes(*host);
    out.insert(out.end(), some.begin(), some.end());
  }
  return out;
}

runtime::counters runtime::metrics() const {
  const auto& m = impl_->ctx->metrics;
  counters out;
  out.checkouts_hit = m.checkouts_hit.load();
  out.checkouts_miss = m.checkouts_miss.load();
  out.cold_creates = m.cold_creates.load();
  out.persists = m.persists.load();
  out.persist_failures = m.persist_failures.load();
  out.actor_restarts = m.actor_restarts.load();
  out.checkout_waiters = m.checkout_waiters.load();
  out.sandbox_actors = m.sandbox_actors.load();
  out.recovery_misfits = impl_->recovery_misfits;
  const auto journal = impl_->ctx->port->stats();
  out.journal_writes = journal.writes;
  out.journal_appends = journal.requests;
  out.journal_events = journal.events;
  m.journal_append.copy_to(out.journal_append);
  m.vm_restore.copy_to(out.vm_restore);
  return out;
}

void runtime::run() {
  impl_->run();
}

void runtime::advance(std::chrono::milliseconds by) {
  impl_->advance(by);
}

} // namespace hearth
