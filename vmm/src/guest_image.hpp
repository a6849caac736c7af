#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "hearth/vmm/driver.hpp"

namespace hearth::vmm::detail {

/// A bootable guest: a kernel and an initramfs whose /init brings up the
/// network and starts hearth's agent.
struct guest_image {
  std::string dir;
  std::string kernel;
  std::string initramfs;
  /// The root disk (raw ext4), for Debian bases; empty for busybox, whose
  /// root is the initramfs.
  std::string disk;
  /// What the image was made from (changes when the recipe changes).
  std::string recipe_key;
};

/// How a base image is made.
struct image_recipe {
  std::string name;
  /// A Debian root (debootstrap, on an ext4 disk) instead of busybox in the
  /// initramfs.
  bool debian_root = false;
  /// Packages on top of Debian's minbase.
  std::vector<std::string> packages;
  /// The root disk's size (sparse).
  std::uint32_t disk_mb = 0;
};

/// The recipe of a template base: busybox, debian:bookworm, python:3.11.
result<image_recipe> recipe_for_base(const std::string& base);

/// Makes (or finds cached under `image_dir`) a guest image: Debian's cloud
/// kernel and busybox-static, fetched with `apt-get download`, the virtio
/// modules, our init scripts and the agent at `agent_path`; for Debian bases
/// also a debootstrap root on ext4 from apt's configured mirror. Appends
/// what it does to `log`. Safe against concurrent callers (a file lock).
result<guest_image> ensure_image(const std::string& image_dir,
                                 const std::string& agent_path,
                                 const image_recipe& recipe, std::string& log);

/// The Debian mirror apt uses on this host, as "host:port" (what a build
/// VM's apt_install needs to reach).
std::string debian_mirror_destination();

/// Runs a fixed command line (no user input) and returns its output;
/// `exit_code` receives its exit status.
std::string run_command(const std::string& command_line, int& exit_code);

} // namespace hearth::vmm::detail
