#include <doctest/doctest.h>
#include <map>
#include <vector>

#include "hearth/events/codec.hpp"
#include "hearth/events/fields.hpp"

using namespace hearth::events;

namespace {

struct sample {
  std::string name;
  std::int64_t delta = 0;
  bool ok = false;
  std::vector<std::string> tags;
  MSGPACK_DEFINE_MAP(name, delta, ok, tags)
};

/// The same fields through hearth's own mapping (what every event uses).
struct fast_sample {
  std::string name;
  std::int64_t delta = 7;
  bool ok = false;
  std::vector<std::string> tags;
  HEARTH_FIELDS(name, delta, ok, tags)
};

/// A map payload written key by key, as another writer might.
template <class... KeyValues>
std::string raw_map(const KeyValues&... kv) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> pk(buffer);
  pk.pack_map(sizeof...(kv) / 2);
  (pk.pack(kv), ...);
  return std::string(buffer.data(), buffer.size());
}

} // namespace

TEST_CASE("a payload decodes to the value it was encoded from") {
  sample value{"pool \"a\"", -3, true, {"stable", "x"}};
  auto decoded = decode_payload<sample>(encode_payload(value));
  REQUIRE(decoded);
  CHECK(decoded->name == value.name);
  CHECK(decoded->delta == -3);
  CHECK(decoded->ok);
  CHECK(decoded->tags == value.tags);
}

TEST_CASE("payloads of every size encode to msgpack's own bytes, one after another") {
  // encode_payload packs into a buffer of its own that it keeps between
  // payloads and grows on demand: a payload many times its first size, one
  // that grows it in the middle of a field, and a small one after them.
  auto msgpack_bytes = [](const sample& value) {
    msgpack::sbuffer buffer;
    msgpack::pack(buffer, value);
    return std::string(buffer.data(), buffer.size());
  };
  std::vector<sample> values{
      {"pool-a", 1, true, {}},
      {std::string(100'000, 'n'), -2, false, {"a", std::string(300, 't')}},
      {"b", 3, true, std::vector<std::string>(2'000, "tag")},
      {"", 0, false, {}},
  };
  for (const auto& value : values) {
    CAPTURE(value.name.size());
    const std::string bytes = encode_payload(value);
    CHECK(bytes == msgpack_bytes(value));
    auto decoded = decode_payload<sample>(bytes);
    REQUIRE(decoded);
    CHECK(decoded->name == value.name);
    CHECK(decoded->tags == value.tags);
  }
}

TEST_CASE("the payload buffer takes an empty write with no bytes behind it") {
  // msgpack may hand over a null pointer with a length of 0; copying from
  // it would be undefined (the sanitizer build reports it).
  detail::pack_buffer buffer;
  buffer.write(nullptr, 0);
  CHECK(buffer.view().empty());
  buffer.write("ab", 2);
  buffer.write(nullptr, 0);
  CHECK(buffer.view() == "ab");
}

TEST_CASE("a payload of the wrong shape is an error value, not an exception") {
  auto decoded = decode_payload<sample>(encode_payload(std::vector<int>{1, 2}));
  REQUIRE_FALSE(decoded);
  CHECK(decoded.error().code == errc::malformed_payload);
  auto garbage = decode_payload<sample>("\xc1\xc1");
  REQUIRE_FALSE(garbage);
  CHECK(garbage.error().code == errc::malformed_payload);
}

TEST_CASE("payloads render as JSON for people and tools") {
  sample value{"line\nbreak", -3, true, {"stable"}};
  auto json = payload_to_json(encode_payload(value));
  REQUIRE(json);
  CHECK(*json == R"({"name":"line\nbreak","delta":-3,"ok":true,"tags":["stable"]})");
}

TEST_CASE("HEARTH_FIELDS writes and reads the same bytes as msgpack's map mapping") {
  sample value{"pool-a", -3, true, {"stable"}};
  fast_sample fast{"pool-a", -3, true, {"stable"}};
  CHECK(encode_payload(fast) == encode_payload(value));
  auto decoded = decode_payload<fast_sample>(encode_payload(value));
  REQUIRE(decoded);
  CHECK(decoded->name == "pool-a");
  CHECK(decoded->delta == -3);
  CHECK(decoded->ok);
  CHECK(decoded->tags == std::vector<std::string>{"stable"});
}

TEST_CASE(
    "HEARTH_FIELDS skips unknown keys, keeps defaults of missing ones, and takes the "
    "first of a repeated key") {
  auto decoded = decode_payload<fast_sample>(
      raw_map(std::string("later_field"), 1, std::string("name"), std::string("first"),
              std::string("ok"), true, std::string("name"), std::string("second")));
  REQUIRE(decoded);
  CHECK(decoded->name == "first");
  CHECK(decoded->ok);
  CHECK(decoded->delta == 7);
  CHECK(decoded->tags.empty());
  // The same rules as msgpack's own mapping.
  auto reference = decode_payload<sample>(raw_map(
      std::string("name"), std::string("first"), std::string("name"), std::string("x")));
  REQUIRE(reference);
  CHECK(reference->name == "first");
}

TEST_CASE("HEARTH_FIELDS rejects a non-map, a non-string key and a wrong field type, and "
          "decodes the next payload as usual") {
  CHECK_FALSE(decode_payload<fast_sample>(encode_payload(std::vector<int>{1, 2})));
  CHECK_FALSE(decode_payload<fast_sample>(raw_map(1, std::string("name"))));
  auto wrong =
      decode_payload<fast_sample>(raw_map(std::string("delta"), std::string("x")));
  REQUIRE_FALSE(wrong);
  CHECK(wrong.error().code == errc::malformed_payload);
  auto fine = decode_payload<fast_sample>(raw_map(std::string("delta"), 5));
  REQUIRE(fine);
  CHECK(fine->delta == 5);
}
