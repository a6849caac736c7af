#include "hearth/events/error.hpp"

namespace hearth::events {

std::string_view to_string(errc code) {
  switch (code) {
  case errc::corrupt_record:
    return "corrupt_record";
  case errc::unknown_format:
    return "unknown_format";
  case errc::malformed_payload:
    return "malformed_payload";
  case errc::missing_upcaster:
    return "missing_upcaster";
  case errc::version_from_future:
    return "version_from_future";
  case errc::too_large:
    return "too_large";
  }
  return "unknown";
}

} // namespace hearth::events
