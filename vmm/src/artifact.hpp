#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "hearth/vmm/driver.hpp"

namespace hearth::vmm::detail {

/// What an artifact fixes about every VM restored from it: the clone's QEMU
/// command line must match the template's (machine, devices, memory).
struct vm_config {
  std::string accel = "tcg";
  std::uint32_t vcpus = 1;
  std::uint32_t memory_mb = 128;
  std::string append;               // the kernel command line
  std::vector<std::uint32_t> ports; // guest ports forwarded to the host
  readiness ready;                  // checked again after every restore
  /// Debian bases: the raw root image the template's overlay sits on (in
  /// the image cache); empty for busybox, whose root is in memory.
  std::string base_disk;
  /// RAM lives in the memory file (fast path); else in the state file.
  bool memory_file = true;
  /// Outbound destinations ("host:port") the VMs may reach.
  std::vector<std::string> network_allow;
};

/// A finished template build: a content-addressed folder holding kernel,
/// initramfs, memory file, device state, the template's exact argv and a
/// manifest with a checksum of every file.
struct artifact {
  std::string dir;
  std::string build_id;
  vm_config config;
  std::map<std::string, std::pair<std::uint64_t, std::uint32_t>>
      files; // name -> size, crc32c
  std::pair<std::uint64_t, std::uint32_t> base_disk_sum{0, 0};

  std::string kernel() const { return dir + "/vmlinuz"; }
  std::string initramfs() const { return dir + "/initramfs.cpio"; }
  std::string memory() const { return dir + "/memory"; }
  std::string state() const { return dir + "/state"; }
  /// The template's frozen disk overlay (Debian bases).
  std::string disk() const { return dir + "/disk.qcow2"; }
  bool has_disk() const { return !config.base_disk.empty(); }
};

/// Checksums the files of a staged artifact and writes its manifest.
result<artifact> seal_artifact(const std::string& staging, const std::string& build_id,
                               const vm_config& config,
                               const std::vector<std::string>& argv);

/// Moves a sealed artifact to its content address under `artifact_dir`.
result<artifact> publish_artifact(artifact sealed, const std::string& artifact_dir);

/// Reads an artifact's manifest; with `verify`, also checks every file's size
/// and checksum.
result<artifact> load_artifact(const std::string& dir, bool verify);

nlohmann::json to_json(const readiness& r);
readiness readiness_from_json(const nlohmann::json& j);

} // namespace hearth::vmm::detail
