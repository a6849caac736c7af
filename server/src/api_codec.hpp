#pragma once

// The HTTP API's JSON: request bodies into the embedding API's typed values
// (every field checked), and its answers back into JSON with the seed's names.

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "hearth/actors/api_types.hpp"
#include "hearth/events/envelope.hpp"
#include "json_body.hpp"

namespace hearth::server::internal {

struct build_request {
  events::build_spec spec;
  std::vector<std::string> tags;
};

build_request decode_build(const nlohmann::json& body, std::vector<field_error>& errors);
api::pool_spec decode_pool_spec(const nlohmann::json& body,
                                std::vector<field_error>& errors);
api::pool_patch decode_pool_patch(const nlohmann::json& body,
                                  std::vector<field_error>& errors);
api::sandbox_request decode_sandbox_request(const nlohmann::json& body,
                                            std::vector<field_error>& errors);
std::string decode_tag_move(const nlohmann::json& body, std::vector<field_error>& errors);

struct tenant_request {
  std::string id;
  std::uint32_t quota_vcpus = 0;
  std::uint32_t quota_memory_mb = 0;
};
tenant_request decode_tenant(const nlohmann::json& body,
                             std::vector<field_error>& errors);
std::string decode_key_request(const nlohmann::json& body,
                               std::vector<field_error>& errors);

nlohmann::json to_json(const api::build_info& build);
nlohmann::json to_json(const api::template_info& info);
nlohmann::json to_json(const api::pool_status& status);
nlohmann::json to_json(const api::pool_info& pool);
nlohmann::json to_json(const api::sandbox_info& sandbox);
nlohmann::json to_json(const api::host_info& host);
nlohmann::json to_json(const api::tenant_info& tenant);
nlohmann::json to_json(const api::api_key& key);
nlohmann::json to_json(const events::envelope& event);

template <class T>
nlohmann::json to_json(const std::vector<T>& items) {
  auto out = nlohmann::json::array();
  for (const auto& item : items)
    out.push_back(to_json(item));
  return out;
}

} // namespace hearth::server::internal
