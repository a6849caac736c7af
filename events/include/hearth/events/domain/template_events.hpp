#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "hearth/events/fields.hpp"

namespace hearth::events {

/// One build step: `kind` is copy, run, apt_install, pip_install, env or
/// workdir; the other fields are what that kind uses.
struct build_step {
  std::string kind;
  std::string text;                       // run: command; workdir: dir; copy: dst
  std::string content_b64;                // copy: file content
  std::uint32_t mode = 0644;              // copy: file mode
  std::vector<std::string> packages;      // apt_install, pip_install
  std::map<std::string, std::string> env; // env
  HEARTH_FIELDS(kind, text, content_b64, mode, packages, env)
};

/// How the template proves its start command is ready.
struct readiness_spec {
  std::string kind;       // wait_for_port | wait_for_http | wait_for_cmd | "" (none)
  std::uint32_t port = 0; // wait_for_port, wait_for_http
  std::string path;       // wait_for_http
  std::string command;    // wait_for_cmd
  std::uint32_t timeout_ms = 30'000;
  HEARTH_FIELDS(kind, port, path, command, timeout_ms)
};

/// What a template build makes.
struct build_spec {
  std::string base; // busybox | debian:bookworm | python:3.11
  std::vector<build_step> steps;
  std::string start_cmd;
  readiness_spec readiness;
  std::uint32_t vcpus = 1;
  std::uint32_t memory_mb = 128;
  /// Outbound destinations ("host:port") the template's VMs may reach; none
  /// by default (version 2).
  std::vector<std::string> network_allow;
  HEARTH_FIELDS(base, steps, start_cmd, readiness, vcpus, memory_mb, network_allow)
};

struct build_started {
  static constexpr const char* type_name = "template.build_started";
  /// 2: spec.network_allow.
  static constexpr std::uint32_t version = 2;
  std::string build_id;
  std::string tenant;
  build_spec spec;
  std::vector<std::string> tags;
  std::int64_t at_ns = 0;
  HEARTH_FIELDS(build_id, tenant, spec, tags, at_ns)
};

struct build_succeeded {
  static constexpr const char* type_name = "template.build_succeeded";
  static constexpr std::uint32_t version = 1;
  std::string build_id;
  std::string host;     // where the artifact was made
  std::string artifact; // the driver's artifact reference
  std::int64_t at_ns = 0;
  HEARTH_FIELDS(build_id, host, artifact, at_ns)
};

struct build_failed {
  static constexpr const char* type_name = "template.build_failed";
  static constexpr std::uint32_t version = 1;
  std::string build_id;
  std::string error;
  std::int64_t at_ns = 0;
  HEARTH_FIELDS(build_id, error, at_ns)
};

struct tag_moved {
  static constexpr const char* type_name = "template.tag_moved";
  static constexpr std::uint32_t version = 1;
  std::string tag;
  std::string build_id;
  HEARTH_FIELDS(tag, build_id)
};

struct build_deleted {
  static constexpr const char* type_name = "template.build_deleted";
  static constexpr std::uint32_t version = 1;
  std::string build_id;
  HEARTH_FIELDS(build_id)
};

} // namespace hearth::events
