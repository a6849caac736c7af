#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "hearth/string_map.hpp"
#include "hearth/vmm/driver.hpp"

namespace hearth::vmm {

/// Latencies of the simulated driver.
struct sim_options {
  // Default: 2 s
  std::chrono::milliseconds build_latency{2000};
  // Default: 500 ms
  std::chrono::milliseconds prepare_latency{500};
  // Default: 150 ms (a fast-path restore on TCG)
  std::chrono::milliseconds restore_latency{150};
  // Default: 2 s (a cold boot on TCG)
  std::chrono::milliseconds cold_latency{2000};
  // Default: 10 ms
  std::chrono::milliseconds destroy_latency{10};
};

class sim_driver;

/// The simulated machines: which VMs and artifacts each host has, and the
/// failures a test injects. It outlives a runtime, so a restarted runtime
/// finds the VMs it left running, as it would on real hosts.
///
/// Build convention: a build fails when a `run` step or the start command is
/// exactly "false".
class sim_world {
public:
  /// The next `count` restores on `host` fail.
  void fail_restores(const std::string& host, int count);
  /// The next `count` restores on `host` never become ready.
  void hang_restores(const std::string& host, int count);
  /// Preparing `build_id` on `host` fails.
  void fail_prepare(const std::string& host, const std::string& build_id);
  /// A running VM dies.
  void kill_vm(const std::string& vm_id);
  /// The host and all its VMs are gone.
  void lose_host(const std::string& host);
  /// A lost host is back (empty).
  void restore_host(const std::string& host);

  /// VMs running on `host` that the simulation did not start: what a
  /// restarted controller finds on hosts that kept running.
  void add_running(const std::string& host, const std::vector<std::string>& vm_ids);

  bool has_vm(const std::string& vm_id) const;
  std::size_t vm_count() const;
  /// Every VM ever restored here, with how often (a VM id is never reused).
  std::map<std::string, int> restores() const;

private:
  friend class sim_driver;
  /// What the simulation keeps of a running VM: its id, the key.
  struct running_vm {};
  struct host_record {
    bool lost = false;
    string_map<running_vm> vms;
    std::set<std::string> artifacts;
    int failing_restores = 0;
    int hanging_restores = 0;
    std::set<std::string> failing_prepares;
    sim_driver* driver = nullptr;
  };

  mutable std::mutex mutex_;
  std::map<std::string, host_record> hosts_;
  // Hashed: a benchmark restores hundreds of thousands of VMs.
  string_map<int> restores_;
};

/// A deterministic driver for the pool logic's tests and benchmarks: every
/// operation completes after its configured latency through the owner's
/// executor (so simulated time drives it), with the failures `sim_world`
/// injects.
class sim_driver final : public driver {
public:
  sim_driver(std::string host, std::shared_ptr<sim_world> world, sim_options options,
             executor run);
  ~sim_driver() override;

  void build(build_request request, callback<build_result> done) override;
  void prepare(std::string build_id, std::string artifact, done_callback done) override;
  void restore(vm_request request, callback<vm_info> done) override;
  void destroy(std::string vm_id, done_callback done) override;
  std::vector<std::string> running() override;
  void on_vm_exit(std::function<void(std::string, std::string)> handler) override;
  void on_host_health(std::function<void(bool, std::string)> handler) override;

private:
  friend class sim_world;
  void notify_exit(const std::string& vm_id, const std::string& reason);
  void notify_health(bool healthy, const std::string& reason);

  std::string host_;
  std::shared_ptr<sim_world> world_;
  sim_options options_;
  executor run_;
  std::function<void(std::string, std::string)> exit_handler_;
  std::function<void(bool, std::string)> health_handler_;
  std::uint32_t next_port_ = 20000;
};

} // namespace hearth::vmm
