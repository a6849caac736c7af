#pragma once

#include <caf/all.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "event_sourced.hpp"
#include "hearth/model/sandbox_state.hpp"
#include "hearth/model/world_state.hpp"
#include "messages.hpp"

namespace hearth::actors {

/// The status a pause, a resume and a hibernate ask for.
constexpr model::sandbox_status target_of(pause_atom) {
  return model::sandbox_status::paused;
}
constexpr model::sandbox_status target_of(resume_atom) {
  return model::sandbox_status::running;
}
constexpr model::sandbox_status target_of(hibernate_atom) {
  return model::sandbox_status::hibernated;
}

/// One sandbox: its stream `sandbox/<id>` and its VM.
///   (start_atom)       -> api::sandbox_info once running (or the failure)
///   (get_atom)         -> api::sandbox_info
///   (delete_atom)      -> api::sandbox_info once destroyed
///   (pause_atom) (resume_atom) (hibernate_atom) -> api::sandbox_info
/// None of these ever takes from a warm pool. From other actors:
/// (vm_exit_atom, vm, reason), (host_lost_atom, host).
class sandbox_actor : public event_sourced<model::sandbox_state> {
public:
  /// A sandbox recovered from the journal.
  sandbox_actor(caf::actor_config& cfg, std::shared_ptr<runtime_context> ctx,
                model::sandbox_state recovered, std::uint64_t sequence);

  /// A new sandbox: persists `created` first; a non-pool origin then restores
  /// its VM.
  sandbox_actor(caf::actor_config& cfg, std::shared_ptr<runtime_context> ctx,
                events::sandbox_created created, std::string correlation_id);

  caf::behavior make_behavior() override;
  void on_exit() override;

  static api::sandbox_info info_of(const model::sandbox_state& s);
  /// Why sandbox `s` cannot go `to` now (a pause of a destroyed one), or
  /// nothing when it can.
  static std::optional<caf::error> refusal(const model::sandbox_state& s,
                                           model::sandbox_status to);

private:
  const model::sandbox_state& current() const { return *state(stream_); }
  const model::sandbox_state& settled() const { return *durable(stream_); }
  caf::result<api::sandbox_info> move_to(model::sandbox_status to);
  void fail(const std::string& reason, bool release);
  void answer_starters();
  /// Hands a failed or destroyed sandbox's state to the controller, which
  /// answers for it from then on, once nothing is on its way.
  void maybe_retire();
  std::string encode_state(const model::sandbox_state& s) const override;

  std::string stream_;
  std::optional<events::sandbox_created> pending_create_;
  std::string correlation_id_;
  std::vector<caf::response_promise> starters_;
  /// Deletes this actor was asked: the controller counts those it sent, and
  /// refuses a retirement asked for before all of them came.
  std::uint32_t deletes_ = 0;
};

} // namespace hearth::actors
