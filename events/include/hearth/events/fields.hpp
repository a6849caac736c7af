#pragma once

#include <cstdint>
#include <msgpack.hpp>
#include <string_view>
#include <tuple>
#include <utility>

/// `HEARTH_FIELDS(a, b, ...)`: a struct's msgpack mapping as a map from field
/// name to value, the wire format of `MSGPACK_DEFINE_MAP`, read without the
/// `std::map<std::string, ...>` msgpack builds per object to look fields up.
/// Recovery decodes every event of the journal, and that map was most of the
/// time it took (bench/controller). Unknown keys are skipped, missing ones
/// keep their defaults, and of a repeated key the first counts, as before.
#define HEARTH_FIELDS(...)                                                               \
  template <typename Packer>                                                             \
  void msgpack_pack(Packer& msgpack_pk) const {                                          \
    msgpack::type::make_define_map MSGPACK_DEFINE_MAP_IMPL(__VA_ARGS__)                  \
        .msgpack_pack(msgpack_pk);                                                       \
  }                                                                                      \
  void msgpack_unpack(msgpack::object const& msgpack_o) {                                \
    ::hearth::events::detail::make_field_refs MSGPACK_DEFINE_MAP_IMPL(__VA_ARGS__)       \
        .unpack(msgpack_o);                                                              \
  }                                                                                      \
  template <typename MSGPACK_OBJECT>                                                     \
  void msgpack_object(MSGPACK_OBJECT* msgpack_o, msgpack::zone& msgpack_z) const {       \
    msgpack::type::make_define_map MSGPACK_DEFINE_MAP_IMPL(__VA_ARGS__)                  \
        .msgpack_object(msgpack_o, msgpack_z);                                           \
  }

namespace hearth::events::detail {

/// Alternating names and fields: ("a", a, "b", b, ...).
template <typename... Args>
class field_refs {
public:
  static constexpr std::size_t count = sizeof...(Args) / 2;
  static_assert(sizeof...(Args) % 2 == 0, "names and fields alternate");
  static_assert(count <= 64, "at most 64 fields");

  explicit field_refs(Args&... args)
      : refs_(args...) {}

  void unpack(const msgpack::object& o) const {
    if (o.type != msgpack::type::MAP)
      throw msgpack::type_error();
    std::uint64_t seen = 0;
    for (std::uint32_t i = 0; i < o.via.map.size; ++i) {
      const auto& kv = o.via.map.ptr[i];
      if (kv.key.type != msgpack::type::STR)
        throw msgpack::type_error();
      assign(std::string_view(kv.key.via.str.ptr, kv.key.via.str.size), kv.val, seen,
             std::make_index_sequence<count>{});
    }
  }

private:
  template <std::size_t... I>
  void assign(std::string_view key, const msgpack::object& value, std::uint64_t& seen,
              std::index_sequence<I...>) const {
    (void)(assign_one<I>(key, value, seen) || ...);
  }

  template <std::size_t I>
  bool assign_one(std::string_view key, const msgpack::object& value,
                  std::uint64_t& seen) const {
    if (key != std::string_view(std::get<2 * I>(refs_)))
      return false;
    const std::uint64_t bit = std::uint64_t{1} << I;
    if ((seen & bit) == 0) {
      seen |= bit;
      value.convert(std::get<2 * I + 1>(refs_));
    }
    return true;
  }

  std::tuple<Args&...> refs_;
};

template <typename... Args>
field_refs<Args...> make_field_refs(Args&... args) {
  return field_refs<Args...>(args...);
}

} // namespace hearth::events::detail
