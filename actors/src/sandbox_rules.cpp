#include "sandbox_rules.hpp"

#include "hearth/model/network.hpp"

namespace hearth::actors {

std::string unpoolable_reason(const api::sandbox_request& r) {
  if (!r.envs.empty())
    return "create-time envs are not poolable";
  if (!r.volumes.empty())
    return "volume mounts are not poolable";
  if (!r.cwd.empty())
    return "a cwd override is not poolable";
  if (r.desktop)
    return "desktop settings are not poolable";
  if (r.custom_network || !r.network_allow.empty())
    return "custom networking is not poolable";
  if (!r.timeout_policy.empty() && r.timeout_policy != "destroy")
    return "a non-destroy timeout policy is not poolable";
  if (r.auto_resume)
    return "auto-resume is not poolable";
  return {};
}

std::optional<model::error> check_sandbox_request(api::sandbox_request& r,
                                                  std::uint32_t max_wait_ms) {
  if (r.warm_pool_mode.empty())
    r.warm_pool_mode = "prefer";
  if (r.warm_pool_mode != "prefer" && r.warm_pool_mode != "require" &&
      r.warm_pool_mode != "bypass")
    return model::invalid("warm_pool_mode",
                          "warm_pool_mode must be prefer, require or bypass");
  if (auto bad = model::check_network_allow(r.network_allow, "network_allow"))
    return bad;
  if (r.warm_pool_wait_ms > max_wait_ms)
    return model::invalid("warm_pool_wait_ms", "warm_pool_wait_ms must be at most " +
                                                   std::to_string(max_wait_ms));
  if (r.warm_pool_mode == "require" && r.warm_pool.empty())
    return model::invalid("warm_pool", "warm_pool_mode require needs a warm_pool");
  if (r.template_ref.empty() && r.warm_pool.empty())
    return model::invalid("template", "a sandbox needs a template or a warm_pool");
  return std::nullopt;
}

} // namespace hearth::actors
