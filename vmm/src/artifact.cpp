#include "artifact.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "hearth/events/checksum.hpp"
#include "text_util.hpp"

namespace hearth::vmm::detail {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr int manifest_format = 1;
constexpr const char* payload_files[] = {"vmlinuz", "initramfs.cpio", "state",
                                         "argv.json"};

result<std::pair<std::uint64_t, std::uint32_t>> checksum_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return error{errc::prepare_failed, "artifact file " + path.string() + " is missing"};
  std::uint32_t crc = 0;
  std::uint64_t size = 0;
  std::string chunk(1 << 20, '\0');
  while (in) {
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    const auto n = static_cast<std::size_t>(in.gcount());
    crc = events::crc32c(std::string_view(chunk.data(), n), crc);
    size += n;
  }
  return std::make_pair(size, crc);
}

json manifest_json(const artifact& a) {
  json files = json::object();
  for (const auto& [name, sum] : a.files)
    files[name] = {{"size", sum.first}, {"crc32c", sum.second}};
  return {{"format", manifest_format},
          {"build_id", a.build_id},
          {"accel", a.config.accel},
          {"vcpus", a.config.vcpus},
          {"memory_mb", a.config.memory_mb},
          {"append", a.config.append},
          {"memory_file", a.config.memory_file},
          {"network_allow", a.config.network_allow},
          {"ports", a.config.ports},
          {"readiness", to_json(a.config.ready)},
          {"base_disk",
           {{"path", a.config.base_disk},
            {"size", a.base_disk_sum.first},
            {"crc32c", a.base_disk_sum.second}}},
          {"files", files}};
}

} // namespace

json to_json(const readiness& r) {
  return {{"kind", r.kind},
          {"port", r.port},
          {"path", r.path},
          {"command", r.command},
          {"timeout_ms", r.timeout_ms}};
}

readiness readiness_from_json(const json& j) {
  readiness r;
  r.kind = j.value("kind", "");
  r.port = j.value("port", 0u);
  r.path = j.value("path", "");
  r.command = j.value("command", "");
  r.timeout_ms = j.value("timeout_ms", 30'000u);
  return r;
}

result<artifact> seal_artifact(const std::string& staging, const std::string& build_id,
                               const vm_config& config,
                               const std::vector<std::string>& argv) {
  std::ofstream(fs::path(staging) / "argv.json") << json(argv).dump(1) << "\n";
  artifact a;
  a.dir = staging;
  a.build_id = build_id;
  a.config = config;
  std::vector<std::string> names(std::begin(payload_files), std::end(payload_files));
  if (config.memory_file)
    names.push_back("memory");
  if (a.has_disk()) {
    names.push_back("disk.qcow2");
    auto sum = checksum_file(a.config.base_disk);
    if (!sum)
      return sum.error();
    a.base_disk_sum = *sum;
  }
  for (const auto& name : names) {
    auto sum = checksum_file(fs::path(staging) / name);
    if (!sum)
      return sum.error();
    a.files[name] = *sum;
  }
  std::ofstream out(fs::path(staging) / "manifest.json");
  out << manifest_json(a).dump(1) << "\n";
  if (!out)
    return error{errc::build_failed, "cannot write the manifest in " + staging};
  return a;
}

result<artifact> publish_artifact(artifact sealed, const std::string& artifact_dir) {
  // The address is a hash of the manifest, which holds every file's checksum.
  const auto manifest = manifest_json(sealed).dump();
  const fs::path target = fs::path(artifact_dir) / fnv_hex(manifest);
  std::error_code ec;
  if (fs::exists(target / "manifest.json")) {
    fs::remove_all(sealed.dir, ec);
  } else {
    fs::remove_all(target, ec);
    fs::rename(sealed.dir, target, ec);
    if (ec)
      return error{errc::build_failed, "cannot move the artifact to " + target.string() +
                                           ": " + ec.message()};
  }
  sealed.dir = target.string();
  return sealed;
}

result<artifact> load_artifact(const std::string& dir, bool verify) {
  std::ifstream in(fs::path(dir) / "manifest.json");
  if (!in)
    return error{errc::prepare_failed, "artifact " + dir + " has no manifest"};
  std::stringstream text;
  text << in.rdbuf();
  const json manifest = json::parse(text.str(), nullptr, false);
  if (manifest.is_discarded() || manifest.value("format", 0) != manifest_format)
    return error{errc::prepare_failed, "artifact " + dir + " has an unreadable manifest"};
  artifact a;
  a.dir = dir;
  try {
    a.build_id = manifest.value("build_id", "");
    a.config.accel = manifest.value("accel", "tcg");
    a.config.vcpus = manifest.value("vcpus", 1u);
    a.config.memory_mb = manifest.value("memory_mb", 128u);
    a.config.append = manifest.value("append", "");
    a.config.memory_file = manifest.value("memory_file", true);
    a.config.network_allow = manifest.value("network_allow", std::vector<std::string>{});
    a.config.ports = manifest.value("ports", std::vector<std::uint32_t>{});
    a.config.ready = readiness_from_json(manifest.value("readiness", json::object()));
    const auto base = manifest.value("base_disk", json::object());
    a.config.base_disk = base.value("path", "");
    a.base_disk_sum = {base.value("size", std::uint64_t{0}), base.value("crc32c", 0u)};
    for (const auto& [name, sum] : manifest.at("files").items())
      a.files[name] = {sum.at("size").get<std::uint64_t>(),
                       sum.at("crc32c").get<std::uint32_t>()};
  } catch (const json::exception& e) {
    return error{errc::prepare_failed,
                 "artifact " + dir + " has a bad manifest: " + e.what()};
  }
  if (verify) {
    for (const auto& [name, expected] : a.files) {
      auto actual = checksum_file(fs::path(dir) / name);
      if (!actual)
        return actual.error();
      if (*actual != expected)
        return error{errc::prepare_failed, "artifact file " + dir + "/" + name +
                                               " does not match its manifest checksum"};
    }
  }
  return a;
}

} // namespace hearth::vmm::detail
