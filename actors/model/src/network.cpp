#include "hearth/model/network.hpp"

#include <cctype>

namespace hearth::model {

namespace {

/// How many destinations one VM may have (each takes a guest address).
constexpr std::size_t max_destinations = 16;

bool valid_host(const std::string& host) {
  if (host.empty() || host.size() > 253 || host.front() == '-' || host.front() == '.')
    return false;
  for (char c : host)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.')
      return false;
  return true;
}

} // namespace

std::optional<error> check_network_allow(const std::vector<std::string>& destinations,
                                         const std::string& field) {
  if (destinations.size() > max_destinations)
    return invalid(field, field + " takes at most " + std::to_string(max_destinations) +
                              " destinations");
  for (const auto& d : destinations) {
    const auto colon = d.rfind(':');
    const std::string host = colon == std::string::npos ? d : d.substr(0, colon);
    const std::string port = colon == std::string::npos ? "" : d.substr(colon + 1);
    bool port_ok = !port.empty() && port.size() <= 5;
    for (char c : port)
      port_ok = port_ok && std::isdigit(static_cast<unsigned char>(c));
    if (!valid_host(host) || !port_ok || std::stoul(port) == 0 ||
        std::stoul(port) > 65535)
      return invalid(field, "'" + d + "' in " + field + " is not host:port");
  }
  return std::nullopt;
}

} // namespace hearth::model
