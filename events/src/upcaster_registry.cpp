#include "hearth/events/upcaster_registry.hpp"

namespace hearth::events {

void upcaster_registry::declare(std::string type, std::uint32_t current_version) {
  types_[std::move(type)].current_version = current_version;
}

void upcaster_registry::add(std::string type, std::uint32_t from_version,
                            upcast_fn step) {
  types_[std::move(type)].steps[from_version] = std::move(step);
}

std::uint32_t upcaster_registry::current_version(std::string_view type) const {
  auto found = types_.find(type);
  return found == types_.end() ? 0 : found->second.current_version;
}

result<void> upcaster_registry::upcast(envelope& event) const {
  auto found = types_.find(event.type);
  if (found == types_.end() || found->second.current_version == 0)
    return {};
  const type_info& info = found->second;
  if (event.version > info.current_version)
    return error{errc::version_from_future, event.type + " version " +
                                                std::to_string(event.version) +
                                                " is newer than this build's version " +
                                                std::to_string(info.current_version)};
  while (event.version < info.current_version) {
    auto step = info.steps.find(event.version);
    if (step == info.steps.end())
      return error{errc::missing_upcaster, "no upcaster lifts " + event.type +
                                               " version " +
                                               std::to_string(event.version)};
    auto lifted = step->second(event.payload);
    if (!lifted)
      return error{lifted.error().code, "upcasting " + event.type + " version " +
                                            std::to_string(event.version) +
                                            " failed: " + lifted.error().message};
    event.payload = std::move(*lifted);
    ++event.version;
  }
  return {};
}

} // namespace hearth::events
