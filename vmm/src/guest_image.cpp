#include "guest_image.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "busybox_init.hpp" // generated: the text of guest/busybox/init.sh

namespace hearth::vmm::detail {

namespace fs = std::filesystem;

namespace {

/// Bump when the way the image is put together changes.
constexpr const char* recipe_version = "busybox-image-1";

/// The virtio modules the init script loads, in dependency order.
constexpr const char* modules[] = {
  "drivers/virtio/virtio_ring.ko",   "drivers/virtio/virtio.ko",
  "drivers/virtio/virtio_pci_modern_dev.ko", "drivers/virtio/virtio_pci_legacy_dev.ko",
  "drivers/virtio/virtio_pci.ko",    "drivers/virtio/virtio_mmio.ko",
  "net/core/failover.ko",            "drivers/net/net_failover.ko",
  "drivers/net/virtio_net.ko",       "drivers/char/virtio_console.ko",
  "drivers/block/virtio_blk.ko",
};

std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string fnv_hex(const std::string& text) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text)
    h = (h ^ c) * 1099511628211ull;
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h));
  return out;
}

/// An initramfs in the "newc" cpio format, written entry by entry.
class cpio_writer {
public:
  explicit cpio_writer(const fs::path& path) : out_(path, std::ios::binary) {}

  void directory(const std::string& name) { entry(name, 040755, "", 0, 0); }
  void file(const std::string& name, const std::string& data, unsigned mode) {
    entry(name, 0100000 | mode, data, 0, 0);
  }
  void symlink(const std::string& name, const std::string& target) {
    entry(name, 0120777, target, 0, 0);
  }
  void char_device(const std::string& name, unsigned major, unsigned minor) {
    entry(name, 020600, "", major, minor);
  }
  bool finish() {
    entry("TRAILER!!!", 0, "", 0, 0);
    out_.flush();
    return static_cast<bool>(out_);
  }

private:
  void entry(const std::string& name, unsigned mode, const std::string& data, unsigned rmajor,
             unsigned rminor) {
    char header[111];
    std::snprintf(header, sizeof header,
                  "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", ++inode_, mode,
                  0u, 0u, 1u, 0u, static_cast<unsigned>(data.size()), 0u, 0u, rmajor, rminor,
                  static_cast<unsigned>(name.size() + 1), 0u);
    write(header, 110);
    write(name.c_str(), name.size() + 1);
    pad();
    write(data.data(), data.size());
    pad();
  }
  void write(const char* data, std::size_t size) {
    out_.write(data, static_cast<std::streamsize>(size));
    written_ += size;
  }
  void pad() {
    static const char zeros[4] = {0, 0, 0, 0};
    write(zeros, (4 - written_ % 4) % 4);
  }

  std::ofstream out_;
  std::size_t written_ = 0;
  unsigned inode_ = 0;
};

/// Holds an exclusive lock on a file while in scope.
class file_lock {
public:
  explicit file_lock(const fs::path& path)
    : fd_(open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644)) {
    if (fd_ >= 0)
      flock(fd_, LOCK_EX);
  }
  ~file_lock() {
    if (fd_ >= 0)
      close(fd_);
  }
  file_lock(const file_lock&) = delete;
  file_lock& operator=(const file_lock&) = delete;

private:
  int fd_;
};

std::string quoted(const fs::path& p) { return "'" + p.string() + "'"; }

/// The .deb of `package` in `debs`, downloading it when absent.
result<fs::path> fetch_deb(const fs::path& debs, const std::string& package, std::string& log) {
  auto find = [&]() -> fs::path {
    for (const auto& entry : fs::directory_iterator(debs)) {
      const auto name = entry.path().filename().string();
      if (name.rfind(package + "_", 0) == 0 && entry.path().extension() == ".deb")
        return entry.path();
    }
    return {};
  };
  if (auto found = find(); !found.empty())
    return found;
  int code = 0;
  const auto output =
    run_command("cd " + quoted(debs) + " && apt-get download " + package + " 2>&1", code);
  log += "apt-get download " + package + "\n";
  if (code != 0)
    return error{errc::build_failed, "apt-get download " + package + " failed: " + output};
  if (auto found = find(); !found.empty())
    return found;
  return error{errc::build_failed, "apt-get download " + package + " left no .deb"};
}

} // namespace

std::string run_command(const std::string& command_line, int& exit_code) {
  std::string output;
  FILE* pipe = popen(command_line.c_str(), "r");
  if (pipe == nullptr) {
    exit_code = -1;
    return "cannot run: " + command_line;
  }
  char chunk[4096];
  while (std::size_t n = std::fread(chunk, 1, sizeof chunk, pipe))
    output.append(chunk, n);
  const int status = pclose(pipe);
  exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return output;
}

result<guest_image> ensure_busybox_image(const std::string& image_dir,
                                         const std::string& agent_path, std::string& log) {
  std::error_code ec;
  const fs::path root(image_dir);
  fs::create_directories(root / "debs", ec);
  if (ec)
    return error{errc::build_failed, "cannot create " + image_dir + ": " + ec.message()};
  file_lock lock(root / ".lock");

  const std::string agent = read_all(agent_path);
  if (agent.empty())
    return error{errc::build_failed, "the guest agent is missing at " + agent_path
                                       + " (build the hearth-agent target)"};
  // The versioned kernel package, through the meta-package: old versions
  // leave the mirror, so never pin the name.
  int code = 0;
  const auto depends = run_command("apt-cache depends linux-image-cloud-amd64 2>&1", code);
  std::smatch match;
  static const std::regex kernel_package(R"(Depends:\s*(linux-image-[0-9][^\s]*-cloud-amd64))");
  if (code != 0 || !std::regex_search(depends, match, kernel_package))
    return error{errc::build_failed,
                 "cannot resolve linux-image-cloud-amd64 (is apt's package list there? run "
                 "apt-get update): "
                   + depends};
  const std::string kernel_name = match[1];
  auto kernel_deb = fetch_deb(root / "debs", kernel_name, log);
  if (!kernel_deb)
    return kernel_deb.error();
  auto busybox_deb = fetch_deb(root / "debs", "busybox-static", log);
  if (!busybox_deb)
    return busybox_deb.error();

  const std::string recipe = std::string(recipe_version) + "\n" + busybox_init_script + "\n"
                             + kernel_deb->filename().string() + "\n"
                             + busybox_deb->filename().string() + "\n" + fnv_hex(agent);
  const std::string key = fnv_hex(recipe);
  const fs::path dir = root / ("busybox-" + key);
  guest_image image{dir.string(), (dir / "vmlinuz").string(), (dir / "initramfs.cpio").string(),
                    key};
  if (fs::exists(dir / "recipe.txt"))
    return image;

  log += "making the busybox guest image " + key + "\n";
  const fs::path work = root / ("work-" + key);
  fs::remove_all(work, ec);
  fs::create_directories(work, ec);
  const auto extracted = run_command("dpkg-deb -x " + quoted(*kernel_deb) + " " + quoted(work / "k")
                                       + " 2>&1 && dpkg-deb -x " + quoted(*busybox_deb) + " "
                                       + quoted(work / "b") + " 2>&1",
                                     code);
  if (code != 0)
    return error{errc::build_failed, "dpkg-deb -x failed: " + extracted};
  fs::path vmlinuz;
  for (const auto& entry : fs::directory_iterator(work / "k" / "boot"))
    if (entry.path().filename().string().rfind("vmlinuz-", 0) == 0)
      vmlinuz = entry.path();
  fs::path module_root;
  for (const auto& entry : fs::directory_iterator(work / "k" / "lib" / "modules"))
    module_root = entry.path() / "kernel";
  if (vmlinuz.empty() || module_root.empty())
    return error{errc::build_failed, "the kernel package " + kernel_name + " has no vmlinuz or modules"};

  const fs::path staging = work / "image";
  fs::create_directories(staging, ec);
  fs::copy_file(vmlinuz, staging / "vmlinuz", ec);
  cpio_writer cpio(staging / "initramfs.cpio");
  for (const char* d : {"bin", "sbin", "dev", "proc", "sys", "tmp", "etc", "lib", "lib/modules",
                        "var", "var/log", "root", "run", "usr", "usr/bin", "usr/sbin", "www"})
    cpio.directory(d);
  cpio.char_device("dev/console", 5, 1);
  cpio.char_device("dev/null", 1, 3);
  cpio.file("init", busybox_init_script, 0755);
  cpio.file("bin/busybox", read_all(work / "b" / "bin" / "busybox"), 0755);
  cpio.symlink("bin/sh", "busybox");
  cpio.file("sbin/hearth-agent", agent, 0755);
  cpio.file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n", 0644);
  cpio.file("etc/group", "root:x:0:\n", 0644);
  for (const char* m : modules) {
    const fs::path source = module_root / m;
    if (!fs::exists(source))
      return error{errc::build_failed, "the kernel package " + kernel_name + " lacks " + m};
    cpio.file("lib/modules/" + source.filename().string(), read_all(source), 0644);
  }
  if (!cpio.finish())
    return error{errc::build_failed, "cannot write the initramfs under " + staging.string()};
  std::ofstream(staging / "recipe.txt") << recipe << "\n";
  fs::remove_all(dir, ec);
  fs::rename(staging, dir, ec);
  if (ec)
    return error{errc::build_failed, "cannot move the image into " + dir.string() + ": " + ec.message()};
  fs::remove_all(work, ec);
  return image;
}

} // namespace hearth::vmm::detail
