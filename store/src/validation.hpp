#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "hearth/events/record.hpp"
#include "hearth/store/journal.hpp"

namespace hearth::store::internal {

/// Checks what both storages require of an append before touching data.
inline std::optional<error> validate(const append_request& request) {
  if (request.stream.empty())
    return error{errc::invalid_argument, "an append needs a stream name"};
  if (request.stream.size() > events::max_name_size)
    return error{errc::invalid_argument, "stream name of " +
                                             std::to_string(request.stream.size()) +
                                             " bytes is too long"};
  if (request.stream.find('\0') != std::string::npos)
    return error{errc::invalid_argument, "stream name contains a NUL byte"};
  if (request.events.empty())
    return error{errc::invalid_argument,
                 "append to " + request.stream + " carries no events"};
  for (const auto& other : request.together) {
    if (!other.together.empty())
      return error{errc::invalid_argument, "append to " + other.stream +
                                               ", carried with " + request.stream +
                                               ", carries further appends of its own"};
    if (auto invalid = validate(other))
      return invalid;
  }
  for (const auto& event : request.events) {
    if (event.type.empty())
      return error{errc::invalid_argument,
                   "append to " + request.stream + " has an event without a type"};
    if (event.type.size() > events::max_name_size ||
        event.correlation_id.size() > events::max_name_size)
      return error{errc::invalid_argument,
                   "append to " + request.stream +
                       " has an over-long type or correlation id"};
    if (event.payload.size() > events::max_payload_size)
      return error{errc::invalid_argument,
                   "append to " + request.stream + " has a payload of " +
                       std::to_string(event.payload.size()) + " bytes, over the limit"};
  }
  return std::nullopt;
}

inline error conflict(const std::string& stream, std::uint64_t highest,
                      std::uint64_t expected) {
  return error{errc::conflict, "stream " + stream + " is at sequence " +
                                   std::to_string(highest) + ", the append expected " +
                                   std::to_string(expected)};
}

inline std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

} // namespace hearth::store::internal
