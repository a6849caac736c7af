#include "hearthd_config.hpp"

#include <cstdlib>
#include <set>
#include <toml++/toml.h>

namespace hearth::server {

std::string default_data_dir() {
  if (const char* env = std::getenv("HEARTH_DATA_DIR"); env != nullptr && *env != '\0')
    return env;
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0')
    return std::string(home) + "/.local/share/hearth";
  return "hearth-data";
}

bool parse_listen(const std::string& text, std::string& host, std::uint16_t& port) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
    return false;
  const auto digits = text.substr(colon + 1);
  if (digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 5)
    return false;
  const unsigned long number = std::stoul(digits);
  if (number > 65535)
    return false;
  host = text.substr(0, colon);
  port = static_cast<std::uint16_t>(number);
  return true;
}

namespace {

/// Reads a TOML table's keys into settings, rejecting keys it does not know
/// and values of the wrong type, with the file's line in the message.
class table_reader {
public:
  table_reader(const toml::table& table, std::string prefix, std::string& error)
      : table_(table)
      , prefix_(std::move(prefix))
      , error_(error) {}

  void string(const char* key, std::string& out) {
    if (auto node = take(key)) {
      if (auto value = node->value<std::string>())
        out = *value;
      else
        fail(*node, key, "a string");
    }
  }

  template <class Int>
  void integer(const char* key, Int& out, std::int64_t min, std::int64_t max) {
    if (auto node = take(key)) {
      auto value = node->value<std::int64_t>();
      if (!value || *value < min || *value > max)
        fail(*node, key,
             "an integer from " + std::to_string(min) + " to " + std::to_string(max));
      else
        out = static_cast<Int>(*value);
    }
  }

  void millis(const char* key, std::chrono::milliseconds& out, std::int64_t max) {
    std::int64_t value = out.count();
    integer(key, value, 0, max);
    out = std::chrono::milliseconds(value);
  }

  void boolean(const char* key, bool& out) {
    if (auto node = take(key)) {
      if (auto value = node->value<bool>())
        out = *value;
      else
        fail(*node, key, "true or false");
    }
  }

  const toml::table* table(const char* key) {
    if (auto node = take(key)) {
      if (auto* t = node->as_table())
        return t;
      fail(*node, key, "a table");
    }
    return nullptr;
  }

  void reject_unknown() {
    for (const auto& [key, node] : table_)
      if (seen_.count(std::string(key.str())) == 0 && error_.empty())
        error_ = "line " + std::to_string(node.source().begin.line) +
                 ": unknown setting " + prefix_ + std::string(key.str());
  }

private:
  const toml::node* take(const char* key) {
    seen_.insert(key);
    return table_.get(key);
  }

  void fail(const toml::node& node, const char* key, const std::string& wanted) {
    if (error_.empty())
      error_ = "line " + std::to_string(node.source().begin.line) + ": " + prefix_ + key +
               " must be " + wanted;
  }

  const toml::table& table_;
  std::string prefix_;
  std::string& error_;
  std::set<std::string> seen_;
};

} // namespace

std::string load_toml(const std::string& path, hearthd_config& config) {
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    return path + ":" + std::to_string(e.source().begin.line) + ": " +
           std::string(e.description());
  }
  std::string error;
  auto& rt = config.runtime;
  table_reader top(root, "", error);
  top.string("listen", config.listen);
  top.string("data_dir", config.data_dir);
  top.string("log_level", config.log_level);
  std::string driver;
  top.string("driver", driver);
  if (!driver.empty() && error.empty()) {
    if (driver == "qemu")
      rt.driver = vm_driver::qemu;
    else if (driver == "simulated")
      rt.driver = vm_driver::simulated;
    else
      error = "driver must be qemu or simulated, not " + driver;
  }
  top.boolean("controller_disabled", rt.controller_disabled);
  top.integer("destroyed_sandboxes_kept", rt.destroyed_sandboxes_kept, 0, 100'000'000);
  top.millis("shutdown_timeout_ms", config.shutdown_timeout, 3'600'000);
  if (const auto* pools = top.table("pools")) {
    table_reader t(*pools, "pools.", error);
    t.millis("tick_ms", rt.pools.tick, 3'600'000);
    t.integer("fill_budget_per_tick", rt.pools.fill_budget_per_tick, 1, 10'000);
    t.integer("destroy_budget_per_tick", rt.pools.destroy_budget_per_tick, 1, 10'000);
    t.millis("idle_ttl_ms", rt.pools.idle_ttl, 30LL * 24 * 3'600'000);
    t.millis("warming_deadline_ms", rt.pools.warming_deadline, 3'600'000);
    t.millis("refill_delay_ms", rt.pools.refill_delay, 60'000);
    t.reject_unknown();
  }
  if (const auto* host = top.table("host")) {
    table_reader t(*host, "host.", error);
    auto& local = rt.hosts.front();
    t.string("id", local.id);
    t.integer("vcpus", local.vcpus, 1, 4096);
    t.integer("memory_mb", local.memory_mb, 64, 64 * 1024 * 1024);
    t.reject_unknown();
  }
  if (const auto* tenant = top.table("tenant")) {
    table_reader t(*tenant, "tenant.", error);
    t.string("id", rt.default_tenant);
    t.integer("quota_vcpus", rt.default_quota_vcpus, 0, 1 << 20);
    t.integer("quota_memory_mb", rt.default_quota_memory_mb, 0, 1 << 30);
    t.reject_unknown();
  }
  if (const auto* qemu = top.table("qemu")) {
    table_reader t(*qemu, "qemu.", error);
    t.string("image_dir", rt.qemu.image_dir);
    t.string("agent_path", rt.qemu.agent_path);
    t.string("accel", rt.qemu.accel);
    t.integer("workers", rt.qemu.workers, 1, 64);
    t.reject_unknown();
  }
  if (const auto* http = top.table("http")) {
    table_reader t(*http, "http.", error);
    t.integer("io_threads", config.http.io_threads, 1, 64);
    t.integer("max_body_bytes", config.http.max_body_bytes, 1024, 64LL << 20);
    t.millis("request_timeout_ms", config.http.request_timeout, 3'600'000);
    t.reject_unknown();
  }
  top.reject_unknown();
  return error.empty() ? std::string() : path + ": " + error;
}

} // namespace hearth::server
