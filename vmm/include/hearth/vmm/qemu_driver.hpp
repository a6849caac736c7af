#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "hearth/vmm/driver.hpp"

namespace hearth::vmm {

/// How the QEMU driver runs VMs on this machine.
struct qemu_options {
  /// Where VM records, sockets and logs live (`<data_dir>/vms/...`).
  // Default: none (required)
  std::string data_dir;
  /// Where finished artifacts live. Clones map the template's memory file
  /// from here, so a tmpfs is fastest.
  // Default: <data_dir>/artifacts
  std::string artifact_dir;
  /// Where guest images (kernel, initramfs) and the fetched .debs are
  /// cached; share it between data directories to build them once.
  // Default: <data_dir>/images
  std::string image_dir;
  /// The static guest agent binary.
  // Default: $HEARTH_AGENT, else `hearth-agent` next to the running program
  std::string agent_path;
  // Default: qemu-system-x86_64
  std::string qemu_binary = "qemu-system-x86_64";
  /// "kvm", "tcg", or empty: KVM if a canary boot proves it works (the
  /// answer is cached in image_dir), else TCG.
  // Default: empty (probe)
  std::string accel;
  /// Restores and destroys that run at once.
  // Default: 4
  std::size_t workers = 4;
  /// Builds that run at once (each boots a VM and may run for minutes).
  // Default: 1
  std::size_t build_workers = 1;
  /// A cold boot until the guest agent answers.
  // Default: 60 s
  std::chrono::milliseconds boot_timeout{60'000};
  /// One build step (`run`, `apt_install`, ...).
  // Default: 10 min
  std::chrono::milliseconds step_timeout{600'000};
  /// A QMP command, and a clone's migration from the artifact.
  // Default: 10 s
  std::chrono::milliseconds qmp_timeout{10'000};
  /// How long a template's warm-up request (one GET / through each
  /// forwarded port, before the snapshot) may take; 0: no warm-up.
  // Default: 10 s
  std::chrono::milliseconds warm_up_timeout{10'000};
  /// How long the template idles after its warm-up, before the snapshot.
  // Default: 1 s
  std::chrono::milliseconds warm_up_settle{1'000};
  /// How often the host looks for QEMU processes that died.
  // Default: 250 ms
  std::chrono::milliseconds watch_interval{250};
  /// The relay QEMU runs for each connection to an allowed outbound
  /// destination; `{host}` and `{port}` are replaced.
  // Default: socat - TCP:{host}:{port}
  std::string relay_command = "socat - TCP:{host}:{port}";
  /// Where forwarded ports listen on the host.
  // Default: 127.0.0.1
  std::string forward_address = "127.0.0.1";
  /// Snapshots keep the guest's RAM in a memory file that clones map
  /// copy-on-write (`x-ignore-shared`: the fast path). Off: RAM goes into
  /// the state file and every clone reads it back (classic migrate to file;
  /// the benchmark's baseline).
  // Default: true
  bool memory_file_snapshots = true;
  /// Stop every VM when the driver goes away. Off: VMs outlive hearth and
  /// the next start re-adopts them.
  // Default: false
  bool stop_vms_on_exit = false;
};

/// A QEMU process this host runs (for operators and tests).
struct vm_process {
  std::string vm_id;
  int pid = 0;
  std::string dir;
  std::map<std::string, std::string> endpoints;
  bool adopted = false;
  /// Being destroyed: its process is on its way out, and the host forgets
  /// the VM once it has gone.
  bool stopping = false;
};

class qemu_host;

/// Opens the QEMU host: checks QEMU and the agent, decides the accelerator,
/// and looks at the VMs recorded under `data_dir`: each one that still runs
/// and answers QMP is re-adopted (`driver::running` lists it), every other
/// record's process is killed and its files removed. Blocking: call it
/// before the actors start, never from an actor.
result<std::shared_ptr<qemu_host>> open_qemu_host(std::string host_id,
                                                  qemu_options options);

/// A driver on `host` that delivers its callbacks through `run`.
std::unique_ptr<driver> make_qemu_driver(std::shared_ptr<qemu_host> host, executor run);

/// The VMs `host` runs now.
std::vector<vm_process> processes(const qemu_host& host);

/// The accelerator `host` uses ("kvm" or "tcg").
std::string accelerator(const qemu_host& host);

/// Stops `host`'s workers and watcher: no driver callback runs after it
/// returns. Operations in flight fail fast (their VMs are stopped).
void close_qemu_host(qemu_host& host);

} // namespace hearth::vmm
