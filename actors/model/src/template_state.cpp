#include "hearth/model/template_state.hpp"

#include <cstdio>

namespace hearth::model {
namespace {

bool valid_segment(std::string_view part) {
  if (part.empty() || part.size() > 64)
    return false;
  for (char c : part)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ||
          c == '.'))
      return false;
  return true;
}

struct template_applier {
  template_state& s;

  bool operator()(const events::build_started& e) {
    if (s.builds.count(e.build_id) > 0 && !s.builds[e.build_id].deleted &&
        s.builds[e.build_id].status != "failed")
      return false;
    s.exists = true;
    if (s.tenant.empty())
      s.tenant = e.tenant;
    build_info info;
    info.id = e.build_id;
    info.spec = e.spec;
    info.started_ns = e.at_ns;
    s.builds[e.build_id] = std::move(info);
    return true;
  }
  bool operator()(const events::build_succeeded& e) {
    auto found = s.builds.find(e.build_id);
    if (found == s.builds.end() || found->second.status != "building")
      return false;
    found->second.status = "ready";
    found->second.host = e.host;
    found->second.artifact = e.artifact;
    return true;
  }
  bool operator()(const events::build_failed& e) {
    auto found = s.builds.find(e.build_id);
    if (found == s.builds.end() || found->second.status != "building")
      return false;
    found->second.status = "failed";
    found->second.error = e.error;
    return true;
  }
  bool operator()(const events::tag_moved& e) {
    if (s.builds.count(e.build_id) == 0)
      return false;
    s.tags[e.tag] = e.build_id;
    return true;
  }
  bool operator()(const events::build_deleted& e) {
    auto found = s.builds.find(e.build_id);
    if (found == s.builds.end() || found->second.deleted)
      return false;
    found->second.deleted = true;
    return true;
  }
  template <class Other>
  bool operator()(const Other&) {
    return false;
  }
};

} // namespace

bool template_state::apply(const events::domain_event& event) {
  return std::visit(template_applier{*this}, event);
}

bool template_state::usable(const std::string& build_id) const {
  auto found = builds.find(build_id);
  return found != builds.end() && found->second.status == "ready" &&
         !found->second.deleted;
}

bool valid_template_name(std::string_view text) {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos)
    return false;
  return valid_segment(text.substr(0, slash)) && valid_segment(text.substr(slash + 1));
}

result<template_ref> parse_template_ref(std::string_view text) {
  template_ref ref;
  const auto at = text.find('@');
  const auto colon = text.find(':');
  std::string_view name = text;
  if (at != std::string_view::npos) {
    name = text.substr(0, at);
    ref.build_id = std::string(text.substr(at + 1));
    if (!valid_segment(ref.build_id))
      return invalid("template", "build id in '" + std::string(text) + "' is not valid");
  } else if (colon != std::string_view::npos) {
    name = text.substr(0, colon);
    ref.tag = std::string(text.substr(colon + 1));
    if (!valid_segment(ref.tag))
      return invalid("template", "tag in '" + std::string(text) + "' is not valid");
  } else {
    ref.tag = "latest";
  }
  if (!valid_template_name(name))
    return invalid("template", "'" + std::string(text) +
                                   "' is not a template reference (team/name:tag or "
                                   "team/name@build)");
  ref.name = std::string(name);
  return ref;
}

std::string build_id_for(const events::build_spec& spec) {
  // FNV-1a 64 of the msgpack spec: stable, and enough to address builds.
  const std::string bytes = events::encode_payload(spec);
  std::uint64_t hash = 1469598103934665603ull;
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  char text[20];
  std::snprintf(text, sizeof(text), "b%016llx", static_cast<unsigned long long>(hash));
  return text;
}

} // namespace hearth::model
