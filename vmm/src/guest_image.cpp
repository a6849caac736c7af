#include "guest_image.hpp"

#include <cstdio>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guest_scripts.hpp"
#include "text_util.hpp" // generated from guest/*/*.sh

namespace hearth::vmm::detail {

namespace fs = std::filesystem;

namespace {

/// Bump when the way the image is put together changes.
constexpr const char* recipe_version = "guest-image-2";

/// The virtio modules the init script loads, in dependency order.
constexpr const char* modules[] = {
    "drivers/virtio/virtio_ring.ko",
    "drivers/virtio/virtio.ko",
    "drivers/virtio/virtio_pci_modern_dev.ko",
    "drivers/virtio/virtio_pci_legacy_dev.ko",
    "drivers/virtio/virtio_pci.ko",
    "drivers/virtio/virtio_mmio.ko",
    "net/core/failover.ko",
    "drivers/net/net_failover.ko",
    "drivers/net/virtio_net.ko",
    "drivers/char/virtio_console.ko",
    "drivers/block/virtio_blk.ko",
};

/// An initramfs in the "newc" cpio format, written entry by entry.
class cpio_writer {
public:
  explicit cpio_writer(const fs::path& path)
      : out_(path, std::ios::binary) {}

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
  void entry(const std::string& name, unsigned mode, const std::string& data,
             unsigned rmajor, unsigned rminor) {
    char header[111];
    std::snprintf(header, sizeof header,
                  "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", ++inode_,
                  mode, 0u, 0u, 1u, 0u, static_cast<unsigned>(data.size()), 0u, 0u,
                  rmajor, rminor, static_cast<unsigned>(name.size() + 1), 0u);
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

std::string quoted(const fs::path& p) {
  return "'" + p.string() + "'";
}

/// The .deb of `package` in `debs`, downloading it when absent.
result<fs::path> fetch_deb(const fs::path& debs, const std::string& package,
                           std::string& log) {
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
  const auto output = run_command(
      "cd " + quoted(debs) + " && apt-get download " + package + " 2>&1", code);
  log += "apt-get download " + package + "\n";
  if (code != 0)
    return error{errc::build_failed,
                 "apt-get download " + package + " failed: " + output};
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

namespace {

/// The Debian mirror apt uses on this host (debootstrap fetches from it).
std::string debian_mirror() {
  static const std::regex deb822(R"(URIs:\s*(\S+))");
  static const std::regex one_line(R"(^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s)");
  std::vector<fs::path> sources = {"/etc/apt/sources.list"};
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/etc/apt/sources.list.d", ec))
    sources.push_back(entry.path());
  for (const auto& path : sources) {
    const auto text = read_file(path);
    std::smatch match;
    if (path.extension() == ".sources") {
      // The first stanza that serves bookworm's main suite.
      std::istringstream stanzas(text);
      std::string stanza, line;
      auto consider = [&](const std::string& s) -> std::string {
        std::smatch m;
        if (s.find("Suites:") != std::string::npos &&
            std::regex_search(s, std::regex(R"(Suites:[^\n]*\bbookworm\b(?!-))")) &&
            std::regex_search(s, m, deb822) &&
            m[1].str().find("security") == std::string::npos)
          return m[1];
        return {};
      };
      while (std::getline(stanzas, line)) {
        if (line.empty()) {
          if (auto found = consider(stanza); !found.empty())
            return found;
          stanza.clear();
        } else {
          stanza += line + "\n";
        }
      }
      if (auto found = consider(stanza); !found.empty())
        return found;
    } else {
      std::istringstream lines(text);
      std::string line;
      while (std::getline(lines, line))
        if (std::regex_search(line, match, one_line))
          return match[1];
    }
  }
  return "http://deb.debian.org/debian";
}

/// A minimal Debian root from the mirror on a sparse ext4 disk, which
/// templates and clones see through copy-on-write overlays.
result<bool> make_debian_root(const fs::path& image_root, const fs::path& root_dir,
                              const std::string& mirror, const image_recipe& recipe,
                              std::string& log) {
  std::error_code ec;
  int code = 0;
  const fs::path work = image_root / ("work-" + root_dir.filename().string());
  fs::remove_all(work, ec);
  fs::create_directories(work, ec);
  const fs::path debian_root = work / "root";
  std::string include = "ca-certificates";
  for (const auto& p : recipe.packages)
    include += "," + p;
  log += "debootstrap bookworm from " + mirror + " (" + include + ")\n";
  const auto bootstrap =
      run_command("debootstrap --variant=minbase --include=" + include + " bookworm " +
                      quoted(debian_root) + " " + mirror + " 2>&1",
                  code);
  if (code != 0)
    return error{errc::build_failed,
                 "debootstrap failed: " + bootstrap.substr(bootstrap.size() > 2000
                                                               ? bootstrap.size() - 2000
                                                               : 0)};
  std::ofstream(debian_root / "etc" / "hostname") << "sandbox\n";
  fs::create_directories(debian_root / "usr" / "local" / "bin", ec);
  run_command("rm -f " + quoted(debian_root / "var/cache/apt/archives") + "/*.deb", code);
  const fs::path staging = work / "disk";
  fs::create_directories(staging, ec);
  const auto made = run_command(
      "mkfs.ext4 -q -F -L hearth-root -d " + quoted(debian_root) + " " +
          quoted(staging / "root.ext4") + " " + std::to_string(recipe.disk_mb) + "M 2>&1",
      code);
  if (code != 0)
    return error{errc::build_failed, "mkfs.ext4 failed: " + made};
  fs::remove_all(root_dir, ec);
  fs::rename(staging, root_dir, ec);
  if (ec)
    return error{errc::build_failed, "cannot move the root disk into " +
                                         root_dir.string() + ": " + ec.message()};
  fs::remove_all(work, ec);
  return true;
}

} // namespace

std::string debian_mirror_destination() {
  static const std::regex url(R"(^(\w+)://([^/:]+)(?::(\d+))?)");
  const auto mirror = debian_mirror();
  std::smatch m;
  if (!std::regex_search(mirror, m, url))
    return "deb.debian.org:80";
  const std::string port = m[3].matched ? m[3].str() : (m[1] == "https" ? "443" : "80");
  return m[2].str() + ":" + port;
}

result<guest_image> ensure_image(const std::string& image_dir,
                                 const std::string& agent_path,
                                 const image_recipe& recipe, std::string& log) {
  std::error_code ec;
  const fs::path root(image_dir);
  fs::create_directories(root / "debs", ec);
  if (ec)
    return error{errc::build_failed, "cannot create " + image_dir + ": " + ec.message()};
  file_lock lock(root / ".lock");

  const std::string agent = read_file(agent_path);
  if (agent.empty())
    return error{errc::build_failed, "the guest agent is missing at " + agent_path +
                                         " (build the hearth-agent target)"};
  // The versioned kernel package, through the meta-package: old versions
  // leave the mirror, so never pin the name.
  int code = 0;
  const auto depends =
      run_command("apt-cache depends linux-image-cloud-amd64 2>&1", code);
  std::smatch match;
  static const std::regex kernel_package(
      R"(Depends:\s*(linux-image-[0-9][^\s]*-cloud-amd64))");
  if (code != 0 || !std::regex_search(depends, match, kernel_package))
    return error{errc::build_failed,
                 "cannot resolve linux-image-cloud-amd64 (is apt's package "
                 "list there? run apt-get update): " +
                     depends};
  const std::string kernel_name = match[1];
  auto kernel_deb = fetch_deb(root / "debs", kernel_name, log);
  if (!kernel_deb)
    return kernel_deb.error();
  auto busybox_deb = fetch_deb(root / "debs", "busybox-static", log);
  if (!busybox_deb)
    return busybox_deb.error();

  const bool debian = recipe.debian_root;
  const std::string mirror = debian ? debian_mirror() : std::string();
  std::string packages;
  for (const auto& p : recipe.packages)
    packages += (packages.empty() ? "" : ",") + p;
  const std::string recipe_text =
      std::string(recipe_version) + "\n" + recipe.name + "\n" + busybox_init_script +
      "\n" +
      (debian ? std::string(debian_initramfs_init_script) + "\n" + debian_init_script +
                    "\n" + mirror + "\n" + packages + "\n"
              : std::string()) +
      kernel_deb->filename().string() + "\n" + busybox_deb->filename().string() + "\n" +
      fnv_hex(agent);
  const std::string key = fnv_hex(recipe_text);
  const fs::path dir = root / (recipe.name + "-" + key);
  // The Debian root is the slow part (a debootstrap): it is cached on its
  // own, keyed only by what goes into it.
  const std::string root_key =
      fnv_hex(std::string(recipe_version) + "\n" + mirror + "\n" + packages);
  const fs::path root_dir = root / (recipe.name + "-root-" + root_key);
  guest_image image{dir.string(), (dir / "vmlinuz").string(),
                    (dir / "initramfs.cpio").string(),
                    debian ? (root_dir / "root.ext4").string() : std::string(), key};
  if (debian && !fs::exists(root_dir / "root.ext4")) {
    if (auto made = make_debian_root(root, root_dir, mirror, recipe, log); !made)
      return made.error();
  }
  if (fs::exists(dir / "recipe.txt"))
    return image;

  log += "making the " + recipe.name + " guest image " + key + "\n";
  const fs::path work = root / ("work-" + key);
  fs::remove_all(work, ec);
  fs::create_directories(work, ec);
  const auto extracted =
      run_command("dpkg-deb -x " + quoted(*kernel_deb) + " " + quoted(work / "k") +
                      " 2>&1 && dpkg-deb -x " + quoted(*busybox_deb) + " " +
                      quoted(work / "b") + " 2>&1",
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
    return error{errc::build_failed,
                 "the kernel package " + kernel_name + " has no vmlinuz or modules"};
  const std::string busybox = read_file(work / "b" / "bin" / "busybox");

  const fs::path staging = work / "image";
  fs::create_directories(staging, ec);
  fs::copy_file(vmlinuz, staging / "vmlinuz", ec);
  cpio_writer cpio(staging / "initramfs.cpio");
  for (const char* d :
       {"bin", "sbin", "dev", "proc", "sys", "tmp", "etc", "lib", "lib/modules", "var",
        "var/log", "root", "run", "usr", "usr/bin", "usr/sbin", "www"})
    cpio.directory(d);
  cpio.char_device("dev/console", 5, 1);
  cpio.char_device("dev/null", 1, 3);
  cpio.file("init", debian ? debian_initramfs_init_script : busybox_init_script, 0755);
  cpio.file("bin/busybox", busybox, 0755);
  cpio.symlink("bin/sh", "busybox");
  cpio.file("sbin/hearth-agent", agent, 0755);
  if (debian) {
    cpio.file("hearth-init", debian_init_script, 0755);
  } else {
    cpio.file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n", 0644);
    cpio.file("etc/group", "root:x:0:\n", 0644);
  }
  for (const char* m : modules) {
    const fs::path source = module_root / m;
    if (!fs::exists(source))
      return error{errc::build_failed,
                   "the kernel package " + kernel_name + " lacks " + m};
    cpio.file("lib/modules/" + source.filename().string(), read_file(source), 0644);
  }
  if (!cpio.finish())
    return error{errc::build_failed,
                 "cannot write the initramfs under " + staging.string()};

  std::ofstream(staging / "recipe.txt") << recipe_text << "\n";
  fs::remove_all(dir, ec);
  fs::rename(staging, dir, ec);
  if (ec)
    return error{errc::build_failed,
                 "cannot move the image into " + dir.string() + ": " + ec.message()};
  fs::remove_all(work, ec);
  return image;
}

result<image_recipe> recipe_for_base(const std::string& base) {
  if (base == "busybox")
    return image_recipe{"busybox", false, {}, 0};
  if (base == "debian:bookworm")
    return image_recipe{"debian-bookworm", true, {}, 4096};
  if (base == "python:3.11")
    return image_recipe{"python-3.11", true, {"python3", "python3-pip"}, 4096};
  return error{errc::build_failed,
               "base '" + base + "' is unknown (busybox, debian:bookworm, python:3.11)"};
}

} // namespace hearth::vmm::detail
