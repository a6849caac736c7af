#include "json_body.hpp"

namespace hearth::server::internal {

namespace {

std::string type_of(const nlohmann::json& value) {
  if (value.is_string())
    return "a string";
  if (value.is_boolean())
    return "a boolean";
  if (value.is_number_integer() || value.is_number_unsigned())
    return "an integer";
  if (value.is_number())
    return "a number";
  if (value.is_array())
    return "an array";
  if (value.is_object())
    return "an object";
  return "null";
}

} // namespace

json_body::json_body(const nlohmann::json& object, std::vector<field_error>& errors,
                     std::string prefix, body_limits limits)
    : object_(object)
    , errors_(errors)
    , prefix_(std::move(prefix))
    , limits_(limits) {}

bool json_body::has(const std::string& name) const {
  auto found = object_.find(name);
  return found != object_.end() && !found->is_null();
}

const nlohmann::json* json_body::find(const std::string& name) {
  known_.insert(name);
  auto found = object_.find(name);
  if (found == object_.end() || found->is_null())
    return nullptr;
  return &*found;
}

void json_body::fail(const std::string& name, std::string message) {
  errors_.push_back(field_error{path(name), std::move(message)});
}

std::optional<std::string> json_body::string(const std::string& name, bool required,
                                             std::size_t max_size) {
  const auto* value = find(name);
  if (value == nullptr) {
    if (required)
      fail(name, path(name) + " is required");
    return std::nullopt;
  }
  if (!value->is_string()) {
    fail(name, path(name) + " must be a string, not " + type_of(*value));
    return std::nullopt;
  }
  const auto& text = value->get_ref<const std::string&>();
  const std::size_t bound = max_size == 0 ? limits_.max_string : max_size;
  if (text.size() > bound) {
    fail(name, path(name) + " is longer than " + std::to_string(bound) + " bytes");
    return std::nullopt;
  }
  return text;
}

std::optional<std::uint32_t> json_body::uint(const std::string& name, std::uint64_t min,
                                             std::uint64_t max, bool required) {
  const auto* value = find(name);
  if (value == nullptr) {
    if (required)
      fail(name, path(name) + " is required");
    return std::nullopt;
  }
  const bool integral = value->is_number_integer() || value->is_number_unsigned();
  if (!integral) {
    fail(name, path(name) + " must be an integer, not " + type_of(*value));
    return std::nullopt;
  }
  if (value->is_number_integer() && value->get<std::int64_t>() < 0) {
    fail(name, path(name) + " must not be negative");
    return std::nullopt;
  }
  const auto number = value->get<std::uint64_t>();
  if (number < min || number > max) {
    fail(name, path(name) + " must be between " + std::to_string(min) + " and " +
                   std::to_string(max));
    return std::nullopt;
  }
  return static_cast<std::uint32_t>(number);
}

std::optional<bool> json_body::boolean(const std::string& name) {
  const auto* value = find(name);
  if (value == nullptr)
    return std::nullopt;
  if (!value->is_boolean()) {
    fail(name, path(name) + " must be a boolean, not " + type_of(*value));
    return std::nullopt;
  }
  return value->get<bool>();
}

std::optional<std::vector<std::string>> json_body::strings(const std::string& name) {
  const auto* value = find(name);
  if (value == nullptr)
    return std::nullopt;
  if (!value->is_array()) {
    fail(name, path(name) + " must be an array of strings, not " + type_of(*value));
    return std::nullopt;
  }
  if (value->size() > limits_.max_items) {
    fail(name,
         path(name) + " holds more than " + std::to_string(limits_.max_items) + " items");
    return std::nullopt;
  }
  std::vector<std::string> out;
  for (const auto& item : *value) {
    if (!item.is_string() ||
        item.get_ref<const std::string&>().size() > limits_.max_string) {
      fail(name, path(name) + " must hold strings of at most " +
                     std::to_string(limits_.max_string) + " bytes");
      return std::nullopt;
    }
    out.push_back(item.get<std::string>());
  }
  return out;
}

std::optional<std::map<std::string, std::string>>
json_body::string_map(const std::string& name) {
  const auto* value = find(name);
  if (value == nullptr)
    return std::nullopt;
  if (!value->is_object()) {
    fail(name, path(name) + " must be an object of strings, not " + type_of(*value));
    return std::nullopt;
  }
  if (value->size() > limits_.max_items) {
    fail(name,
         path(name) + " holds more than " + std::to_string(limits_.max_items) + " items");
    return std::nullopt;
  }
  std::map<std::string, std::string> out;
  for (const auto& [key, item] : value->items()) {
    if (!item.is_string() || key.size() > limits_.max_string ||
        item.get_ref<const std::string&>().size() > limits_.max_string) {
      fail(name, path(name) + " must map names to strings of at most " +
                     std::to_string(limits_.max_string) + " bytes");
      return std::nullopt;
    }
    out[key] = item.get<std::string>();
  }
  return out;
}

const nlohmann::json* json_body::object(const std::string& name, bool required) {
  const auto* value = find(name);
  if (value == nullptr) {
    if (required)
      fail(name, path(name) + " is required");
    return nullptr;
  }
  if (!value->is_object()) {
    fail(name, path(name) + " must be an object, not " + type_of(*value));
    return nullptr;
  }
  return value;
}

const nlohmann::json* json_body::array(const std::string& name) {
  const auto* value = find(name);
  if (value == nullptr)
    return nullptr;
  if (!value->is_array()) {
    fail(name, path(name) + " must be an array, not " + type_of(*value));
    return nullptr;
  }
  if (value->size() > limits_.max_items) {
    fail(name,
         path(name) + " holds more than " + std::to_string(limits_.max_items) + " items");
    return nullptr;
  }
  return value;
}

void json_body::reject_unknown() {
  for (const auto& [key, value] : object_.items())
    if (known_.count(key) == 0)
      errors_.push_back(field_error{path(key), "unknown field " + path(key)});
}

} // namespace hearth::server::internal
