#include "hearth/events/domain_event.hpp"

#include <functional>
#include <unordered_map>

namespace hearth::events {
namespace {

using decoder = std::function<result<domain_event>(std::string_view)>;

template <class... Ts>
std::unordered_map<std::string, decoder> make_decoders(std::variant<Ts...>*) {
  std::unordered_map<std::string, decoder> table;
  (table.emplace(Ts::type_name,
                 [](std::string_view payload) -> result<domain_event> {
                   auto decoded = decode_payload<Ts>(payload);
                   if (!decoded)
                     return decoded.error();
                   return domain_event{std::move(*decoded)};
                 }),
   ...);
  return table;
}

template <class... Ts>
upcaster_registry make_registry(std::variant<Ts...>*) {
  upcaster_registry registry;
  (registry.declare(Ts::type_name, Ts::version), ...);
  return registry;
}

const std::unordered_map<std::string, decoder>& decoders() {
  static const auto table = make_decoders(static_cast<domain_event*>(nullptr));
  return table;
}

} // namespace

/// Version 1 lacked a field that version 2 added with an empty default: the
/// current decoder leaves a missing map key at its default, so lifting is
/// decoding and encoding again.
template <class Event>
upcast_fn added_defaulted_field() {
  return [](std::string_view payload) -> result<std::string> {
    auto decoded = decode_payload<Event>(payload);
    if (!decoded)
      return decoded.error();
    return encode_payload(*decoded);
  };
}

const upcaster_registry& domain_upcasters() {
  static const auto registry = [] {
    auto r = make_registry(static_cast<domain_event*>(nullptr));
    r.add(build_started::type_name, 1, added_defaulted_field<build_started>());
    r.add(sandbox_created::type_name, 1, added_defaulted_field<sandbox_created>());
    r.add(member_claimed::type_name, 1, added_defaulted_field<member_claimed>());
    return r;
  }();
  return registry;
}

const char* type_name(const domain_event& event) {
  return std::visit([](const auto& e) { return std::decay_t<decltype(e)>::type_name; },
                    event);
}

std::string encode_domain(const domain_event& event) {
  return std::visit([](const auto& e) { return encode_payload(e); }, event);
}

result<domain_event> decode_domain(const envelope& stored,
                                   const upcaster_registry* upcasters) {
  const auto found = decoders().find(stored.type);
  if (found == decoders().end())
    return error{errc::malformed_payload, "event type " + stored.type + " is not known"};
  if (upcasters == nullptr)
    upcasters = &domain_upcasters();
  if (stored.version != upcasters->current_version(stored.type)) {
    envelope lifted = stored;
    if (auto ok = upcasters->upcast(lifted); !ok)
      return ok.error();
    return found->second(lifted.payload);
  }
  return found->second(stored.payload);
}

} // namespace hearth::events
