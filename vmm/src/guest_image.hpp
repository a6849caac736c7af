#pragma once

#include <string>

#include "hearth/vmm/driver.hpp"

namespace hearth::vmm::detail {

/// A bootable guest: a kernel and an initramfs whose /init brings up the
/// network and starts hearth's agent.
struct guest_image {
  std::string dir;
  std::string kernel;
  std::string initramfs;
  /// What the image was made from (changes when the recipe changes).
  std::string recipe_key;
};

/// Makes (or finds cached under `image_dir`) the busybox guest: Debian's
/// cloud kernel and busybox-static, fetched with `apt-get download`, the
/// virtio modules, our init script and the agent at `agent_path`. Appends
/// what it does to `log`. Safe against concurrent callers (a file lock).
result<guest_image> ensure_busybox_image(const std::string& image_dir,
                                         const std::string& agent_path, std::string& log);

/// Runs a fixed command line (no user input) and returns its output;
/// `exit_code` receives its exit status.
std::string run_command(const std::string& command_line, int& exit_code);

} // namespace hearth::vmm::detail
