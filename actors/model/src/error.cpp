#include "hearth/model/error.hpp"

namespace hearth::model {

std::string_view to_string(errc code) {
  switch (code) {
  case errc::invalid_argument:
    return "invalid_argument";
  case errc::not_found:
    return "not_found";
  case errc::conflict:
    return "conflict";
  case errc::warm_pool_unavailable:
    return "warm_pool_unavailable";
  case errc::quota_exceeded:
    return "quota_exceeded";
  case errc::unauthenticated:
    return "unauthenticated";
  case errc::unavailable:
    return "unavailable";
  case errc::internal:
    return "internal";
  }
  return "unknown";
}

} // namespace hearth::model
