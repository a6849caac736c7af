#pragma once

#include <optional>
#include <string>
#include <vector>

#include "hearth/model/error.hpp"

namespace hearth::model {

/// Checks outbound destinations ("host:port": a DNS name or IPv4 address and
/// a port 1-65535); the error names `field`.
std::optional<error> check_network_allow(const std::vector<std::string>& destinations,
                                         const std::string& field);

} // namespace hearth::model
