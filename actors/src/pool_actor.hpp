#pragma once

#include <caf/all.hpp>
#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "direct_answer.hpp"
#include "event_sourced.hpp"
#include "hearth/model/pool_planner.hpp"
#include "hearth/model/pool_state.hpp"
#include "hearth/model/world_state.hpp"
#include "templates_actor.hpp"

namespace hearth::actors {

/// One warm pool: its stream `pool/<id>`, its reconciliation loop, its
/// checkout queue.
///   (checkout_atom, tenant, api::sandbox_request, correlation, direct_answer)
///        a create through this pool, from the runtime or the controller: a
///        claimed member answers the caller directly (waiters are served in
///        arrival order); a miss in prefer mode, bypass and unpoolable shapes
///        go to the controller as a (cold_atom, cold_request, direct_answer).
///   (get_atom)                        -> api::pool_info
///   (watch_atom, after_revision, wait_ms) -> api::pool_info once its revision
///        passes `after_revision`, or as it is after `wait_ms`
///   (update_atom, config, build_id)   -> api::pool_info
///   (enable_atom) (disable_atom) (drain_atom) (delete_atom) -> api::pool_info
///   (reconcile_atom)                  -> api::pool_info after one reconciliation
///   (dump_atom)                       -> the state as JSON
/// From other actors: (vm_exit_atom, vm, reason), (host_lost_atom, host),
/// (template_atom, name, view), (capacity_atom).
class pool_actor : public event_sourced<model::pool_state> {
public:
  /// A pool recovered from the journal.
  pool_actor(caf::actor_config& cfg, std::shared_ptr<runtime_context> ctx,
             model::pool_state recovered, std::uint64_t sequence);

  /// A new pool: persists `created` before anything else. `prior` is the
  /// state of a deleted pool of the same id at `prior_sequence`, if any.
  pool_actor(caf::actor_config& cfg, std::shared_ptr<runtime_context> ctx,
             events::pool_created created, std::string correlation_id,
             model::pool_state prior, std::uint64_t prior_sequence);

  caf::behavior make_behavior() override;
  void on_exit() override;

  /// The pool as the journal has it, with its revision.
  api::pool_info info() const;

  /// A pool's state as the API shows it, at `revision` of its stream.
  static api::pool_info info_of(const model::pool_state& s, std::uint64_t revision);

private:
  /// A create that came to this pool.
  struct checkout {
    std::string tenant;
    api::sandbox_request request;
    std::string correlation_id;
    direct_answer<api::sandbox_info> answer;
  };

  struct waiter {
    std::uint64_t id;
    checkout wanting;
  };

  /// A caller of `watch_atom`, until the revision passes `after` or its
  /// wait ends.
  struct watcher {
    std::uint64_t id;
    std::uint64_t after;
    caf::typed_response_promise<api::pool_info> answer;
  };

  /// A claim whose append the journal acknowledged. The sandbox's state is
  /// shared, not moved, from the claim to its answer: it is large, and the
  /// continuation that carries it is a `std::function` (copyable).
  struct claimed {
    std::shared_ptr<model::sandbox_state> sandbox;
    direct_answer<api::sandbox_info> answer;
  };

  const model::pool_state& current() const { return *state(stream_); }
  const model::pool_state& settled() const { return *durable(stream_); }

  void watch_template();
  void apply_view(const template_view& view);
  void reconcile(std::function<void()> then = nullptr);
  void schedule_reconcile();
  /// A reconcile after `pool_options::refill_delay` (refills after checkouts).
  void schedule_refill();
  void start_fills(std::uint32_t count);
  void restore(const model::member& member);
  void destroy(const std::string& vm_id, bool confirm_destroyed);
  void take_checkout(checkout wanting);
  void claim(const model::member& member, checkout wanting);
  /// Tells the controller, the hosts and the capacity ledger of the claims
  /// just made durable, one message each, then answers their callers.
  void after_continuations() override;
  void serve_waiters();
  /// Answers the watchers whose revision has passed.
  void answer_watchers();
  /// No member for `wanting`: a cold create by the controller, or (require)
  /// warm_pool_unavailable.
  void miss(checkout wanting);
  events::warm_pool_checkout checkout_record(const checkout& c, bool hit) const;
  caf::result<api::pool_info> lifecycle(const std::string& change);
  std::string encode_state(const model::pool_state& s) const override;

  std::string stream_;
  std::string id_;
  std::optional<events::pool_created> pending_create_;
  std::string correlation_id_;
  model::pool_context context_;
  template_view view_;
  bool template_known_ = false;
  bool placement_in_flight_ = false;
  bool placement_blocked_ = false;
  bool reconcile_scheduled_ = false;
  std::uint32_t fills_this_tick_ = 0;
  std::uint32_t destroys_this_tick_ = 0;
  std::deque<waiter> waiters_;
  std::vector<claimed> claimed_;
  /// The claims being answered; kept to reuse its capacity (and so
  /// `claimed_`'s, which it swaps with).
  std::vector<claimed> answering_;
  std::uint64_t next_waiter_ = 1;
  std::vector<watcher> watchers_;
  std::uint64_t next_watcher_ = 1;
  /// What this pool added to the runtime's waiter gauge.
  std::int64_t waiters_counted_ = 0;
  /// Brings the gauge up to date after `waiters_` changed.
  void count_waiters();
};

} // namespace hearth::actors
