#pragma once

#include <caf/all.hpp>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "event_sourced.hpp"
#include "hearth/model/template_state.hpp"
#include "hearth/model/world_state.hpp"

namespace hearth::actors {

/// What pools watching a template hear: its tags and its usable builds.
struct template_view {
  std::map<std::string, std::string> tags;
  std::set<std::string> usable_builds;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, template_view& x) {
  return f(caf::meta::type_name("template_view"), x.tags, x.usable_builds);
}

/// The template registry: one `template/<team>/<name>` stream per template.
///   (build_atom, tenant, name, spec, tags, correlation) -> api::build_info
///   (get_atom, tenant, name)                  -> api::template_info
///   (get_atom, tenant, name, build_id)        -> api::build_info
///   (list_atom, tenant)                       -> vector<api::template_info>
///   (tag_atom, tenant, name, tag, build_id)   -> api::build_info
///   (delete_atom, tenant, name, build_id)     -> api::build_info
///   (wait_atom, tenant, name, build_id)       -> api::build_info, once the build
///                                                is no longer building
///   (wait_atom, tenant, name, build_id, wait_ms) -> the same, or the build
///                                                still building after wait_ms
///   (resolve_atom, tenant, ref)               -> (name, build_id)
///   (watch_atom, name)                        -> template_view, and later
///        (template_atom, name, template_view) whenever it changes
class templates_actor : public event_sourced<model::template_state> {
public:
  templates_actor(caf::actor_config& cfg, std::shared_ptr<runtime_context> ctx,
                  const model::world_state& recovered);

  caf::behavior make_behavior() override;
  void on_exit() override {
    watchers_.clear();
    build_waiters_.clear();
    event_sourced<model::template_state>::on_exit();
  }

private:
  const model::template_state* owned(const std::string& tenant,
                                     const std::string& name) const;
  /// `owned`, when it also has `build_id` (deleted or not).
  const model::template_state* owned_build(const std::string& tenant,
                                           const std::string& name,
                                           const std::string& build_id) const;
  static caf::error no_such_build(const std::string& name, const std::string& build_id);
  api::build_info build_view(const model::template_state& t,
                             const std::string& build_id) const;
  api::template_info template_info(const model::template_state& t) const;
  template_view view(const std::string& name) const;
  void notify(const std::string& name);
  void run_build(const std::string& name, const std::string& build_id,
                 const events::build_spec& spec, const std::vector<std::string>& tags);
  /// Answers the waiters of `build_id` in `stream` if it is no longer
  /// building (durably).
  void answer_waiters(const std::string& stream, const std::string& build_id);
  /// A `wait_atom`: the build at once if it is settled, else a promise
  /// kept in `build_waiters_`, answered as it is after `wait_ms` if set.
  caf::result<api::build_info> wait_for(const std::string& tenant,
                                        const std::string& name,
                                        const std::string& build_id,
                                        std::optional<std::uint64_t> wait_ms);

  struct build_waiter {
    std::uint64_t id;
    caf::typed_response_promise<api::build_info> answer;
  };

  std::map<std::string, std::set<caf::actor>> watchers_;
  /// Callers of `wait_atom`, by stream and build id.
  std::map<std::pair<std::string, std::string>, std::vector<build_waiter>> build_waiters_;
  std::uint64_t next_build_waiter_ = 1;
};

} // namespace hearth::actors
