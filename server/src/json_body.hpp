#pragma once

// Reading a JSON request body field by field: each field is checked for its
// type and bounds, every invalid field is named, and a field nobody asked for
// is an error (so a typo never passes silently as a default).

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace hearth::server::internal {

struct field_error {
  std::string field;
  std::string message;
};

/// Bounds every string and list a body may hold.
struct body_limits {
  // Default: 4096
  std::size_t max_string = 4096;
  // Default: 256
  std::size_t max_items = 256;
};

class json_body {
public:
  /// `prefix` names nested fields ("spec.readiness.").
  json_body(const nlohmann::json& object, std::vector<field_error>& errors,
            std::string prefix = {}, body_limits limits = {});

  /// Whether the field is present (and not null).
  bool has(const std::string& name) const;

  std::optional<std::string> string(const std::string& name, bool required = false,
                                    std::size_t max_size = 0);
  std::optional<std::uint32_t> uint(const std::string& name, std::uint64_t min,
                                    std::uint64_t max, bool required = false);
  std::optional<bool> boolean(const std::string& name);
  std::optional<std::vector<std::string>> strings(const std::string& name);
  std::optional<std::map<std::string, std::string>> string_map(const std::string& name);
  /// A nested object, for the caller to read with its own `json_body`.
  const nlohmann::json* object(const std::string& name, bool required = false);
  /// A nested array, unchecked beyond its size.
  const nlohmann::json* array(const std::string& name);

  /// Names every field of the body that no accessor asked for.
  void reject_unknown();

  void fail(const std::string& name, std::string message);
  std::string path(const std::string& name) const { return prefix_ + name; }

private:
  const nlohmann::json* find(const std::string& name);

  const nlohmann::json& object_;
  std::vector<field_error>& errors_;
  std::string prefix_;
  body_limits limits_;
  std::set<std::string> known_;
};

} // namespace hearth::server::internal
