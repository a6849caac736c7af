#include "templates_actor.hpp"

#include "hearth/model/network.hpp"

namespace hearth::actors {

templates_actor::templates_actor(caf::actor_config& cfg,
                                 std::shared_ptr<runtime_context> ctx,
                                 const model::world_state& recovered)
    : event_sourced<model::template_state>(cfg, std::move(ctx)) {
  for (const auto& [name, tmpl] : recovered.templates) {
    const auto stream = model::template_stream(name);
    auto seq = recovered.sequences.find(stream);
    adopt(stream, tmpl, seq == recovered.sequences.end() ? 0 : seq->second);
  }
}

const model::template_state* templates_actor::owned(const std::string& tenant,
                                                    const std::string& name) const {
  const auto* t = state(model::template_stream(name));
  if (t == nullptr || !t->exists || t->tenant != tenant)
    return nullptr;
  return t;
}

const model::template_state*
templates_actor::owned_build(const std::string& tenant, const std::string& name,
                             const std::string& build_id) const {
  const auto* t = owned(tenant, name);
  return t != nullptr && t->builds.count(build_id) != 0 ? t : nullptr;
}

caf::error templates_actor::no_such_build(const std::string& name,
                                          const std::string& build_id) {
  return to_caf(model::errc::not_found,
                "build " + build_id + " of " + name + " does not exist", "build_id");
}

api::build_info templates_actor::build_view(const model::template_state& t,
                                            const std::string& build_id) const {
  api::build_info out;
  out.build_id = build_id;
  out.template_name = t.name;
  out.canonical_ref = t.name + "@" + build_id;
  auto found = t.builds.find(build_id);
  if (found != t.builds.end()) {
    out.status = found->second.deleted ? "deleted" : found->second.status;
    out.error = found->second.error;
  }
  for (const auto& [tag, target] : t.tags)
    if (target == build_id)
      out.tags.push_back(tag);
  return out;
}

api::template_info templates_actor::template_info(const model::template_state& t) const {
  api::template_info out;
  out.name = t.name;
  out.tags = t.tags;
  for (const auto& [id, build] : t.builds)
    out.builds.push_back(build_view(t, id));
  return out;
}

template_view templates_actor::view(const std::string& name) const {
  template_view out;
  if (const auto* t = durable(model::template_stream(name))) {
    out.tags = t->tags;
    for (const auto& [id, build] : t->builds)
      if (t->usable(id))
        out.usable_builds.insert(id);
  }
  return out;
}

void templates_actor::notify(const std::string& name) {
  auto found = watchers_.find(name);
  if (found == watchers_.end())
    return;
  const auto current = view(name);
  for (const auto& pool : found->second)
    send(pool, template_atom::value, name, current);
}

void templates_actor::answer_waiters(const std::string& stream,
                                     const std::string& build_id) {
  auto waiting = build_waiters_.find({stream, build_id});
  if (waiting == build_waiters_.end())
    return;
  const auto* t = durable(stream);
  auto build = t->builds.find(build_id);
  if (build != t->builds.end() && build->second.status == "building" &&
      !build->second.deleted)
    return;
  auto waiters = std::move(waiting->second);
  build_waiters_.erase(waiting);
  for (auto& w : waiters)
    w.answer.deliver(build_view(*t, build_id));
}

caf::result<api::build_info>
templates_actor::wait_for(const std::string& tenant, const std::string& name,
                          const std::string& build_id,
                          std::optional<std::uint64_t> wait_ms) {
  const auto* t = owned_build(tenant, name, build_id);
  if (t == nullptr)
    return no_such_build(name, build_id);
  // What is durable decides: a result on its way to the journal is answered
  // once it is there.
  const auto stream = model::template_stream(name);
  const auto* settled = durable(stream);
  auto build = settled->builds.find(build_id);
  if ((build != settled->builds.end() &&
       (build->second.status != "building" || build->second.deleted)) ||
      wait_ms == std::uint64_t{0})
    return build_view(*settled, build_id);
  auto rp = make_response_promise<api::build_info>();
  const auto id = next_build_waiter_++;
  build_waiters_[{stream, build_id}].push_back(build_waiter{id, rp});
  if (wait_ms)
    delayed_send(this, std::chrono::milliseconds(*wait_ms), unwatch_atom::value, stream,
                 build_id, id);
  return rp;
}

void templates_actor::run_build(const std::string& name, const std::string& build_id,
                                const events::build_spec& spec,
                                const std::vector<std::string>& tags) {
  const auto stream = model::template_stream(name);
  auto vmm = ctx_->vmms.find(ctx_->build_host);
  if (vmm == ctx_->vmms.end()) {
    persist(stream,
            events::build_failed{build_id, "no host to build on", now_ns(this, *ctx_)},
            [=] { answer_waiters(stream, build_id); });
    return;
  }
  const std::string host = ctx_->build_host;
  request(vmm->second, caf::infinite, build_atom::value, build_id, spec)
      .then(
          [=](const std::string& artifact, const std::string&) {
            // The host records the artifact first: once the build reads
            // "ready", a create finds a host that has it.
            request(ctx_->capacity, caf::infinite, artifact_atom::value, host, build_id,
                    artifact)
                .then(
                    [=](bool) {
                      std::vector<events::domain_event> done;
                      done.push_back(events::build_succeeded{build_id, host, artifact,
                                                             now_ns(this, *ctx_)});
                      for (const auto& tag : tags)
                        done.push_back(events::tag_moved{tag, build_id});
                      persist(stream, std::move(done), [=] {
                        notify(name);
                        answer_waiters(stream, build_id);
                      });
                    },
                    [=](const caf::error& err) {
                      persist(stream,
                              events::build_failed{build_id,
                                                   "host " + host +
                                                       " did not record the artifact: " +
                                                       from_caf(err).message,
                                                   now_ns(this, *ctx_)},
                              [=] {
                                notify(name);
                                answer_waiters(stream, build_id);
                              });
                    });
          },
          [=](const caf::error& err) {
            persist(stream,
                    events::build_failed{build_id, from_caf(err).message,
                                         now_ns(this, *ctx_)},
                    [=] {
                      notify(name);
                      answer_waiters(stream, build_id);
                    });
          });
}

caf::behavior templates_actor::make_behavior() {
  // A build that was running when hearth stopped has nobody to finish it:
  // it fails, so that its waiters hear of it and the same spec builds again.
  std::vector<std::pair<std::string, std::string>> interrupted; // stream, build
  for_each_durable([&](const std::string& stream, const model::template_state& t) {
    for (const auto& [id, build] : t.builds)
      if (build.status == "building" && !build.deleted)
        interrupted.emplace_back(stream, id);
  });
  for (const auto& [stream, build_id] : interrupted) {
    const auto name = durable(stream)->name;
    persist(stream,
            events::build_failed{build_id,
                                 "interrupted: hearth stopped during the build; "
                                 "build it again",
                                 now_ns(this, *ctx_)},
            [this, name, stream = stream, build_id = build_id] {
              notify(name);
              answer_waiters(stream, build_id);
            });
  }
  return {
      [this](persisted_atom, const std::string& stream, persist_outcome& outcome) {
        on_persisted(stream, outcome);
      },
      [this](build_atom, const std::string& tenant, const std::string& name,
             const events::build_spec& spec, const std::vector<std::string>& tags,
             const std::string& correlation) -> caf::result<api::build_info> {
        if (!model::valid_template_name(name))
          return to_caf(model::invalid("template", "'" + name + "' is not a team/name"));
        if (auto bad =
                model::check_network_allow(spec.network_allow, "spec.network_allow"))
          return to_caf(*bad);
        const auto stream = model::template_stream(name);
        const auto* existing = state(stream);
        if (existing != nullptr && existing->exists && existing->tenant != tenant)
          return to_caf(model::errc::conflict,
                        "template " + name + " belongs to another tenant", "template");
        const std::string build_id = model::build_id_for(spec);
        if (existing == nullptr) {
          model::template_state fresh;
          fresh.name = name;
          adopt(stream, std::move(fresh), 0);
          existing = state(stream);
        }
        auto rp = make_response_promise<api::build_info>();
        if (existing != nullptr) {
          auto found = existing->builds.find(build_id);
          if (found != existing->builds.end() && !found->second.deleted &&
              found->second.status != "failed") {
            // Same content, same build: only the tags may move.
            std::vector<events::domain_event> moves;
            if (found->second.status == "ready")
              for (const auto& tag : tags)
                if (existing->tags.count(tag) == 0 || existing->tags.at(tag) != build_id)
                  moves.push_back(events::tag_moved{tag, build_id});
            persist(stream, std::move(moves), [=]() mutable {
              notify(name);
              rp.deliver(build_view(*durable(stream), build_id));
            });
            return rp;
          }
        }
        persist(
            stream,
            events::build_started{build_id, tenant, spec, tags, now_ns(this, *ctx_)},
            [=]() mutable {
              rp.deliver(build_view(*durable(stream), build_id));
              run_build(name, build_id, spec, tags);
            },
            correlation);
        return rp;
      },
      [this](get_atom, const std::string& tenant,
             const std::string& name) -> caf::result<api::template_info> {
        const auto* t = owned(tenant, name);
        if (t == nullptr)
          return to_caf(model::errc::not_found, "template " + name + " does not exist",
                        "template");
        return template_info(*t);
      },
      [this](get_atom, const std::string& tenant, const std::string& name,
             const std::string& build_id) -> caf::result<api::build_info> {
        const auto* t = owned_build(tenant, name, build_id);
        if (t == nullptr)
          return no_such_build(name, build_id);
        return build_view(*t, build_id);
      },
      [this](wait_atom, const std::string& tenant, const std::string& name,
             const std::string& build_id) {
        return wait_for(tenant, name, build_id, std::nullopt);
      },
      [this](wait_atom, const std::string& tenant, const std::string& name,
             const std::string& build_id,
             std::uint64_t wait_ms) { return wait_for(tenant, name, build_id, wait_ms); },
      [this](unwatch_atom, const std::string& stream, const std::string& build_id,
             std::uint64_t id) {
        auto waiting = build_waiters_.find({stream, build_id});
        if (waiting == build_waiters_.end())
          return; // answered already
        auto& list = waiting->second;
        auto found = std::find_if(list.begin(), list.end(),
                                  [id](const build_waiter& w) { return w.id == id; });
        if (found == list.end())
          return;
        found->answer.deliver(build_view(*durable(stream), build_id));
        list.erase(found);
        if (list.empty())
          build_waiters_.erase(waiting);
      },
      [this](log_atom, const std::string& tenant, const std::string& name,
             const std::string& build_id) -> caf::result<std::string> {
        const auto* t = owned_build(tenant, name, build_id);
        if (t == nullptr)
          return no_such_build(name, build_id);
        const auto& host = t->builds.at(build_id).host;
        auto vmm = ctx_->vmms.find(host.empty() ? ctx_->build_host : host);
        if (vmm == ctx_->vmms.end())
          return to_caf(model::errc::unavailable,
                        "the host that built " + build_id + " is gone");
        auto rp = make_response_promise<std::string>();
        request(vmm->second, caf::infinite, log_atom::value, build_id)
            .then([rp](std::string& text) mutable { rp.deliver(std::move(text)); },
                  [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
        return rp;
      },
      [this](list_atom, const std::string& tenant) {
        std::vector<api::template_info> out;
        for_each_durable([&](const std::string&, const model::template_state& t) {
          if (t.exists && t.tenant == tenant)
            out.push_back(template_info(t));
        });
        return out;
      },
      [this](tag_atom, const std::string& tenant, const std::string& name,
             const std::string& tag,
             const std::string& build_id) -> caf::result<api::build_info> {
        const auto* t = owned(tenant, name);
        if (t == nullptr)
          return to_caf(model::errc::not_found, "template " + name + " does not exist",
                        "template");
        if (t->builds.count(build_id) == 0)
          return to_caf(model::errc::not_found, "build " + build_id + " does not exist",
                        "build_id");
        if (!t->usable(build_id))
          return to_caf(model::errc::conflict,
                        "build " + build_id + " is " + t->builds.at(build_id).status +
                            (t->builds.at(build_id).deleted ? " and deleted" : "") +
                            "; only a ready build can be tagged",
                        "build_id");
        auto rp = make_response_promise<api::build_info>();
        const auto stream = model::template_stream(name);
        persist(stream, events::tag_moved{tag, build_id}, [=]() mutable {
          notify(name);
          rp.deliver(build_view(*durable(stream), build_id));
        });
        return rp;
      },
      [this](delete_atom, const std::string& tenant, const std::string& name,
             const std::string& build_id) -> caf::result<api::build_info> {
        const auto* t = owned_build(tenant, name, build_id);
        if (t == nullptr || t->builds.at(build_id).deleted)
          return no_such_build(name, build_id);
        for (const auto& [tag, target] : t->tags)
          if (target == build_id)
            return to_caf(model::errc::conflict,
                          "tag " + tag + " points at build " + build_id +
                              "; move it first",
                          "build_id");
        auto rp = make_response_promise<api::build_info>();
        const auto stream = model::template_stream(name);
        persist(stream, events::build_deleted{build_id}, [=]() mutable {
          notify(name);
          answer_waiters(stream, build_id);
          rp.deliver(build_view(*durable(stream), build_id));
        });
        return rp;
      },
      [this](resolve_atom, const std::string& tenant,
             const std::string& ref) -> caf::result<std::string, std::string> {
        auto parsed = model::parse_template_ref(ref);
        if (!parsed)
          return to_caf(parsed.error());
        const auto* t = owned(tenant, parsed->name);
        if (t == nullptr)
          return to_caf(model::errc::not_found,
                        "template " + parsed->name + " does not exist", "template");
        std::string build_id = parsed->build_id;
        if (build_id.empty()) {
          auto tag = t->tags.find(parsed->tag);
          if (tag == t->tags.end())
            return to_caf(model::errc::not_found,
                          "template " + parsed->name + " has no tag " + parsed->tag,
                          "template");
          build_id = tag->second;
        }
        if (!t->usable(build_id))
          return to_caf(model::errc::not_found,
                        "build " + build_id + " of " + parsed->name + " is not ready",
                        "template");
        return caf::result<std::string, std::string>(parsed->name, build_id);
      },
      [this](watch_atom, const std::string& name) {
        watchers_[name].insert(caf::actor_cast<caf::actor>(current_sender()));
        return view(name);
      },
      [this](dump_atom) {
        std::string out;
        for_each_durable([&](const std::string& stream, const model::template_state& t) {
          out += stream + " " + model::describe(t) + "\n";
        });
        return out;
      },
  };
}

} // namespace hearth::actors
