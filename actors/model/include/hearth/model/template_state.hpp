#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "hearth/events/domain_event.hpp"
#include "hearth/model/error.hpp"

namespace hearth::model {

struct build_info {
  std::string id;
  std::string status = "building"; // building | ready | failed
  events::build_spec spec;
  std::string error;
  std::string host;
  std::string artifact;
  bool deleted = false;
  std::int64_t started_ns = 0;
};

/// One template (`team/name`): its builds and where its tags point.
struct template_state {
  bool exists = false;
  std::string name;
  std::string tenant;
  std::map<std::string, build_info> builds;
  std::map<std::string, std::string> tags;

  bool apply(const events::domain_event& event);

  /// Whether `build_id` exists, is ready and is not deleted.
  bool usable(const std::string& build_id) const;
};

/// A parsed template reference: `team/name:tag`, `team/name@build` or
/// `team/name` (meaning tag "latest").
struct template_ref {
  std::string name; // team/name
  std::string tag;
  std::string build_id;
};

result<template_ref> parse_template_ref(std::string_view text);

/// Whether `text` is a valid `team/name`.
bool valid_template_name(std::string_view text);

/// A build's content address: a hash of its spec.
std::string build_id_for(const events::build_spec& spec);

} // namespace hearth::model
