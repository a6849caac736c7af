#include "hearth/store/error.hpp"

namespace hearth::store {

std::string_view to_string(errc code) {
  switch (code) {
  case errc::conflict:
    return "conflict";
  case errc::invalid_argument:
    return "invalid_argument";
  case errc::not_found:
    return "not_found";
  case errc::locked:
    return "locked";
  case errc::corrupt:
    return "corrupt";
  case errc::no_space:
    return "no_space";
  case errc::read_only:
    return "read_only";
  case errc::io_error:
    return "io_error";
  }
  return "unknown";
}

} // namespace hearth::store
