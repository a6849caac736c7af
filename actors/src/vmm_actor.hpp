#pragma once

#include <atomic>
#include <caf/all.hpp>
#include <functional>
#include <map>
#include <memory>
#include <thread>

#include "hearth/string_map.hpp"
#include "hearth/vmm/driver.hpp"
#include "runtime_context.hpp"

namespace hearth::actors {

/// Makes the driver of one host, given the executor through which the driver
/// must deliver its callbacks.
using driver_factory = std::function<std::unique_ptr<vmm::driver>(vmm::executor)>;

/// Who hears of a VM's exit: `vm_exit(vm, reason)`, or with a nonempty
/// `tag`, `vm_exit(vm, reason, tag)` (the controller stands in for parked
/// sandboxes and tags each VM with its sandbox's id).
struct vm_owner {
  caf::actor actor;
  std::string tag;
};

struct vmm_state {
  std::unique_ptr<vmm::driver> driver;
  /// Hashed: it holds every VM of the host, and a warm checkout changes one.
  string_map<vm_owner> owners;
  /// Driver work due later, by deadline, behind one clock timer for the
  /// earliest: a busy simulated host starts thousands of restores a second,
  /// and a timer each kept CAF's clock thread waking for every one.
  std::multimap<caf::actor_clock::time_point, std::function<void()>> timers;
  /// The deadline the clock timer is set for; none when unset.
  caf::actor_clock::time_point armed{};
  /// The thread running one of this actor's handlers now, if any: delayed
  /// work the driver asks for from there joins `timers`; from any other
  /// thread it becomes a delayed message of its own. Shared with the
  /// driver's executor, which a host's thread may call after this actor
  /// is gone.
  std::shared_ptr<std::atomic<std::thread::id>> handling =
      std::make_shared<std::atomic<std::thread::id>>();
  static inline const char* name = "vmm";
};

/// The actor that drives one host's VMs:
///   (restore_atom, vm_request)       -> vm_info     (the sender owns the VM)
///   (destroy_atom, vm_id)            -> bool
///   (build_atom, build_request...)   -> (artifact, log)
///   (prepare_atom, build_id, artifact) -> bool
///   (adopt_atom, vm_id, owner[, tag]) VM exits now go to `owner` (as
///                                    (vm_exit_atom, vm_id, reason, tag))
///   (adopt_atom, [(vm_id, tag)], owner) the same for many VMs
///   (running_atom)                   -> vector<string>
/// A VM that exits on its own is reported to its owner as (vm_exit_atom,
/// vm_id, reason); host health goes to the capacity actor.
caf::behavior vmm_actor(caf::stateful_actor<vmm_state>* self,
                        std::shared_ptr<runtime_context> ctx, std::string host,
                        driver_factory make_driver);

} // namespace hearth::actors
