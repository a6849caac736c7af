#include "hearth/vmm/driver.hpp"

namespace hearth::vmm {

driver::~driver() = default;

std::string driver::build_log(const std::string&) {
  return {};
}

std::string_view to_string(errc code) {
  switch (code) {
  case errc::build_failed:
    return "build_failed";
  case errc::readiness_timeout:
    return "readiness_timeout";
  case errc::restore_failed:
    return "restore_failed";
  case errc::prepare_failed:
    return "prepare_failed";
  case errc::not_found:
    return "not_found";
  case errc::host_lost:
    return "host_lost";
  }
  return "unknown";
}

} // namespace hearth::vmm
