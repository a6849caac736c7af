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

const upcaster_registry& domain_upcasters() {
  static const auto registry = make_registry(static_cast<domain_event*>(nullptr));
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
