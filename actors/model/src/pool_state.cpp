#include "hearth/model/pool_state.hpp"

#include <type_traits>

namespace hearth::model {

std::string_view to_string(member_state state) {
  switch (state) {
  case member_state::warming:
    return "warming";
  case member_state::ready:
    return "ready";
  case member_state::claimed:
    return "claimed";
  case member_state::failed:
    return "failed";
  case member_state::expired:
    return "expired";
  case member_state::draining:
    return "draining";
  case member_state::destroyed:
    return "destroyed";
  case member_state::unavailable:
    return "unavailable";
  }
  return "unknown";
}

std::optional<member_state> parse_member_state(std::string_view text) {
  for (auto state : {member_state::warming, member_state::ready, member_state::claimed,
                     member_state::failed, member_state::expired, member_state::draining,
                     member_state::destroyed, member_state::unavailable})
    if (to_string(state) == text)
      return state;
  return std::nullopt;
}

bool valid_transition(member_state from, member_state to) {
  switch (from) {
  case member_state::warming:
    return to == member_state::ready || to == member_state::failed ||
           to == member_state::draining || to == member_state::unavailable;
  case member_state::ready:
    return to == member_state::claimed || to == member_state::expired ||
           to == member_state::draining || to == member_state::unavailable ||
           to == member_state::failed;
  case member_state::draining:
    return to == member_state::destroyed || to == member_state::unavailable;
  case member_state::claimed:
  case member_state::failed:
  case member_state::expired:
  case member_state::destroyed:
  case member_state::unavailable:
    return false;
  }
  return false;
}

std::string pool_id_for(std::string_view name) {
  std::string id = "twp_";
  for (char c : name)
    id.push_back(c == '-' ? '_' : c);
  return id;
}

std::string pool_state::next_member_id() const {
  return id + ".m" + std::to_string(members_started + 1);
}

const pool_state::member_index& pool_state::indexed() const {
  if (!index_.built) {
    index_.clear();
    for (const auto& [member_id, m] : members)
      index_member(m, true);
    index_.built = true;
  }
  return index_;
}

void pool_state::index_member(const member& m, bool add) const {
  members_by_age* by_age = m.state == member_state::ready     ? &index_.ready
                           : m.state == member_state::warming ? &index_.warming
                                                              : nullptr;
  auto count = [add](std::uint32_t& n) { add ? ++n : --n; };
  if (by_age != nullptr) {
    if (add)
      by_age->insert({m.since_ns, &m});
    else
      by_age->erase({m.since_ns, &m});
    if (m.generation < generation) // a live member of an older generation
      count(index_.old_live);
  } else if (m.state == member_state::draining) {
    count(index_.draining);
  }
}

const member* pool_state::pick_ready() const {
  // Oldest first; a rollout's old-generation members are drained soon.
  for (const auto& entry : indexed().ready)
    if (entry.m->generation == generation)
      return entry.m;
  return nullptr;
}

pool_status pool_state::status() const {
  pool_status out;
  out.target = (draining || deleting || deleted) ? 0 : config.min_ready;
  const auto& index = indexed();
  out.ready = static_cast<std::uint32_t>(index.ready.size());
  out.warming = static_cast<std::uint32_t>(index.warming.size());
  out.draining = index.draining;
  out.claimed = claimed_count;
  out.failed = failed_count;
  out.expired = expired_count;
  out.unavailable = unavailable_count;
  return out;
}

namespace {

struct pool_applier {
  pool_state& s;

  bool operator()(const events::pool_created& e) {
    if (s.exists && !s.deleted)
      return false;
    // A deleted pool's name may be used again: its stream goes on with a
    // fresh pool, but member ids (VM ids) are never reused.
    const auto started = s.members_started;
    s = pool_state{};
    s.members_started = started;
    s.exists = true;
    s.id = e.id;
    s.tenant = e.tenant;
    s.name = e.name;
    s.config = e.config;
    s.build_id = e.build_id;
    s.generation = 1;
    return true;
  }

  bool operator()(const events::pool_updated& e) {
    if (!s.exists || s.deleted)
      return false;
    s.config = e.config;
    if (e.build_id != s.build_id) {
      s.build_id = e.build_id;
      ++s.generation;
    }
    return true;
  }

  bool operator()(const events::pool_lifecycle& e) {
    if (!s.exists || s.deleted)
      return false;
    if (e.change == "enabled") {
      s.enabled = true;
      if (!s.deleting)
        s.draining = false;
    } else if (e.change == "disabled") {
      s.enabled = false;
    } else if (e.change == "drain_started") {
      s.draining = true;
    } else if (e.change == "delete_requested") {
      s.draining = true;
      s.deleting = true;
    } else if (e.change == "deleted") {
      if (!s.members.empty())
        return false;
      s.deleted = true;
    } else {
      return false;
    }
    return true;
  }

  bool operator()(const events::rollout_started& e) {
    if (!s.exists || e.generation <= s.generation)
      return false;
    s.generation = e.generation;
    s.build_id = e.build_id;
    return true;
  }

  bool operator()(const events::member_warming& e) {
    if (!s.exists || s.members.count(e.member_id) > 0)
      return false;
    member m;
    m.id = e.member_id;
    m.build_id = e.build_id;
    m.generation = e.generation;
    m.host = e.host;
    m.state = member_state::warming;
    m.since_ns = e.at_ns;
    s.members.emplace(m.id, std::move(m));
    ++s.members_started;
    return true;
  }

  bool operator()(const events::member_ready& e) {
    auto found = s.members.find(e.member_id);
    if (found == s.members.end() ||
        !valid_transition(found->second.state, member_state::ready))
      return false;
    found->second.state = member_state::ready;
    found->second.since_ns = e.at_ns;
    found->second.endpoints = e.endpoints;
    s.consecutive_failures = 0;
    return true;
  }

  bool operator()(const events::member_claimed& e) {
    auto found = s.members.find(e.member_id);
    if (found == s.members.end() ||
        !valid_transition(found->second.state, member_state::claimed))
      return false;
    s.members.erase(found);
    ++s.claimed_count;
    return true;
  }

  bool operator()(const events::member_changed& e) {
    auto found = s.members.find(e.member_id);
    const auto to = parse_member_state(e.to);
    if (found == s.members.end() || !to || !valid_transition(found->second.state, *to))
      return false;
    switch (*to) {
    case member_state::draining:
      found->second.state = member_state::draining;
      found->second.since_ns = e.at_ns;
      return true;
    case member_state::failed:
      // Only a fill that failed (still warming) counts toward the fill
      // backoff; a ready VM that dies later says nothing about filling.
      if (found->second.state == member_state::warming) {
        ++s.consecutive_failures;
        s.last_failure_ns = e.at_ns;
      }
      s.members.erase(found);
      ++s.failed_count;
      return true;
    case member_state::expired:
      s.members.erase(found);
      ++s.expired_count;
      return true;
    case member_state::unavailable:
      s.members.erase(found);
      ++s.unavailable_count;
      return true;
    case member_state::destroyed:
      s.members.erase(found);
      return true;
    case member_state::warming:
    case member_state::ready:
    case member_state::claimed:
      return false;
    }
    return false;
  }

  bool operator()(const events::degraded_changed& e) {
    if (!s.exists)
      return false;
    s.degraded_reason = e.reason;
    return true;
  }

  template <class Other>
  bool operator()(const Other&) {
    return false; // not a pool event
  }
};

} // namespace

namespace {

/// Whether an applied member event takes its member out of `members`.
bool leaves_pool(const events::domain_event& event) {
  if (std::holds_alternative<events::member_claimed>(event))
    return true;
  const auto* change = std::get_if<events::member_changed>(&event);
  return change != nullptr && change->to != "draining";
}

} // namespace

bool pool_state::apply(const events::domain_event& event) {
  // The member an event adds, moves or removes: out of the index before,
  // back in after (its entry's place depends on its state and age).
  const std::string* touched = std::visit(
      [](const auto& e) -> const std::string* {
        using E = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<E, events::member_warming> ||
                      std::is_same_v<E, events::member_ready> ||
                      std::is_same_v<E, events::member_claimed> ||
                      std::is_same_v<E, events::member_changed>)
          return &e.member_id;
        else
          return nullptr;
      },
      event);
  if (!index_.built || touched == nullptr) {
    const bool applied = std::visit(pool_applier{*this}, event);
    // A new generation changes which members are old; a pool created anew
    // has no members: the index is rebuilt when next used.
    if (applied && (std::holds_alternative<events::pool_created>(event) ||
                    std::holds_alternative<events::pool_updated>(event) ||
                    std::holds_alternative<events::rollout_started>(event)))
      index_.clear();
    return applied;
  }
  auto found = members.find(*touched);
  const bool existed = found != members.end();
  if (existed)
    index_member(found->second, false);
  const bool applied = std::visit(pool_applier{*this}, event);
  // A member that left is out of the map (its iterator with it); one that
  // stayed is where it was; a new one is looked up.
  if (!existed)
    found = members.find(*touched);
  else if (applied && leaves_pool(event))
    found = members.end();
  if (found != members.end())
    index_member(found->second, true);
  return applied;
}

} // namespace hearth::model
