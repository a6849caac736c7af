#include <doctest/doctest.h>

#include <map>
#include <vector>

#include "hearth/events/codec.hpp"

using namespace hearth::events;

namespace {

struct sample {
  std::string name;
  std::int64_t delta = 0;
  bool ok = false;
  std::vector<std::string> tags;
  MSGPACK_DEFINE_MAP(name, delta, ok, tags)
};

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
