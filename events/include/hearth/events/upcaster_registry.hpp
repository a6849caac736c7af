#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "hearth/events/envelope.hpp"
#include "hearth/events/error.hpp"

namespace hearth::events {

/// Turns a payload of version N of one event type into version N + 1.
using upcast_fn = std::function<result<std::string>(std::string_view payload)>;

/// Knows each event type's current schema version and how to lift every older
/// version to it, one step at a time. Old journals stay readable forever: a
/// type's change adds a version and an upcaster, it never rewrites records.
class upcaster_registry {
public:
  /// Declares `type`'s current version (the one this build writes).
  void declare(std::string type, std::uint32_t current_version);

  /// Registers the step from `from_version` to `from_version + 1`.
  void add(std::string type, std::uint32_t from_version, upcast_fn step);

  /// The current version of `type`, or 0 when the type is not declared.
  std::uint32_t current_version(std::string_view type) const;

  /// Lifts `event` to its type's current version in place. Events of
  /// undeclared types pass unchanged (a reader may not know every type).
  /// Fails on a missing step, a version newer than current, or a step error.
  result<void> upcast(envelope& event) const;

private:
  struct type_info {
    std::uint32_t current_version = 0;
    std::map<std::uint32_t, upcast_fn> steps;
  };

  std::map<std::string, type_info, std::less<>> types_;
};

} // namespace hearth::events
