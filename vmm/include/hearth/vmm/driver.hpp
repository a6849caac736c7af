#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "hearth/result.hpp"

namespace hearth::vmm {

enum class errc {
  /// A build step or the start command failed.
  build_failed,
  /// The readiness probe did not pass in time.
  readiness_timeout,
  /// Restoring a clone failed.
  restore_failed,
  /// Preparing an artifact on a host failed (copy or verification).
  prepare_failed,
  /// No such VM.
  not_found,
  /// The host is gone.
  host_lost,
};

std::string_view to_string(errc code);

struct error {
  errc code = errc::restore_failed;
  std::string message;
};

template <class T>
using result = basic_result<T, error>;

/// One build step, as the driver runs it.
struct step {
  std::string kind; // copy | run | apt_install | pip_install | env | workdir
  std::string text;
  std::string content_b64;
  std::uint32_t mode = 0644;
  std::vector<std::string> packages;
  std::map<std::string, std::string> env;
};

struct readiness {
  std::string kind; // wait_for_port | wait_for_http | wait_for_cmd | ""
  std::uint32_t port = 0;
  std::string path;
  std::string command;
  std::uint32_t timeout_ms = 30'000;
};

struct build_request {
  std::string build_id;
  std::string base;
  std::vector<step> steps;
  std::string start_cmd;
  readiness ready;
  std::uint32_t vcpus = 1;
  std::uint32_t memory_mb = 128;
  /// Outbound destinations ("host:port") the build VM and every clone may
  /// reach; nothing else (and never the host itself).
  std::vector<std::string> network_allow;
};

struct build_result {
  std::string artifact; // where the driver keeps it
  std::string log;
  /// From spawning the template VM until its readiness check passed, and
  /// the part of that spent in build steps (so cold boot to ready is the
  /// difference).
  std::uint64_t ready_us = 0;
  std::uint64_t steps_us = 0;
};

struct vm_request {
  std::string vm_id;
  std::string build_id;
  std::string artifact;
  std::uint32_t vcpus = 1;
  std::uint32_t memory_mb = 128;
  /// A cold create (no ready inventory was used): same artifact, but the
  /// driver may take a slower path.
  bool cold = false;
  /// This VM's outbound destinations instead of its template's (empty: the
  /// template's).
  std::vector<std::string> network_allow;
};

struct vm_info {
  std::string vm_id;
  std::map<std::string, std::string> endpoints; // guest port -> host:port
  std::uint64_t restore_us = 0;
};

template <class T>
using callback = std::function<void(result<T>)>;
using done_callback = std::function<void(result<bool>)>;

/// Runs `work` after `delay` in the owner's context. The driver calls every
/// callback through it, so an actor that owns a driver sees them as its own
/// messages, never on a foreign thread.
using executor =
    std::function<void(std::chrono::nanoseconds delay, std::function<void()> work)>;

/// What drives the VMs of one host. Every operation is asynchronous and
/// answers through its callback (via the executor).
class driver {
public:
  virtual ~driver();

  /// Builds a template: boots the base, runs the steps and the start command,
  /// waits for readiness, snapshots.
  virtual void build(build_request request, callback<build_result> done) = 0;

  /// Makes an artifact built elsewhere usable on this host (and verifies it).
  virtual void prepare(std::string build_id, std::string artifact,
                       done_callback done) = 0;

  /// Restores a clone of the artifact and waits until it is ready.
  virtual void restore(vm_request request, callback<vm_info> done) = 0;

  /// Stops a VM and removes its files. Destroying an unknown VM succeeds.
  virtual void destroy(std::string vm_id, done_callback done) = 0;

  /// The VMs this host runs now (for re-adoption after a restart).
  virtual std::vector<std::string> running() = 0;

  /// What a build printed, step by step (kept after the build ends).
  virtual std::string build_log(const std::string& build_id);

  /// Called when a VM exits on its own (it crashed, it was killed).
  virtual void
  on_vm_exit(std::function<void(std::string vm_id, std::string reason)> handler) = 0;

  /// Called when the whole host is lost or comes back.
  virtual void
  on_host_health(std::function<void(bool healthy, std::string reason)> handler) = 0;
};

} // namespace hearth::vmm
