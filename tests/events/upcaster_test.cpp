#include <doctest/doctest.h>

#include "hearth/events/codec.hpp"
#include "hearth/events/upcaster_registry.hpp"

using namespace hearth::events;

namespace {

// Version 1 of an example event, as an old build wrote it.
struct member_ready_v1 {
  std::string member;
  MSGPACK_DEFINE_MAP(member)
};

// Version 2 added the host; version 3 added the restore time.
struct member_ready_v3 {
  std::string member;
  std::string host;
  std::uint64_t restore_us = 0;
  MSGPACK_DEFINE_MAP(member, host, restore_us)
};

struct member_ready_v2 {
  std::string member;
  std::string host;
  MSGPACK_DEFINE_MAP(member, host)
};

upcaster_registry make_registry() {
  upcaster_registry registry;
  registry.declare("pool.member_ready", 3);
  registry.add("pool.member_ready", 1,
               [](std::string_view payload) -> result<std::string> {
                 auto old = decode_payload<member_ready_v1>(payload);
                 if (!old)
                   return old.error();
                 return encode_payload(member_ready_v2{old->member, "local"});
               });
  registry.add("pool.member_ready", 2,
               [](std::string_view payload) -> result<std::string> {
                 auto old = decode_payload<member_ready_v2>(payload);
                 if (!old)
                   return old.error();
                 return encode_payload(member_ready_v3{old->member, old->host, 0});
               });
  return registry;
}

} // namespace

TEST_CASE("a version 1 event is lifted through every step to the current version") {
  auto registry = make_registry();
  envelope event;
  event.type = "pool.member_ready";
  event.version = 1;
  event.payload = encode_payload(member_ready_v1{"m-7"});
  REQUIRE(registry.upcast(event));
  CHECK(event.version == 3);
  auto lifted = decode_payload<member_ready_v3>(event.payload);
  REQUIRE(lifted);
  CHECK(lifted->member == "m-7");
  CHECK(lifted->host == "local");
  CHECK(lifted->restore_us == 0);
}

TEST_CASE("a current event passes unchanged") {
  auto registry = make_registry();
  envelope event;
  event.type = "pool.member_ready";
  event.version = 3;
  event.payload = encode_payload(member_ready_v3{"m-1", "h-2", 150});
  const auto before = event.payload;
  REQUIRE(registry.upcast(event));
  CHECK(event.payload == before);
}

TEST_CASE("an event of an undeclared type passes unchanged") {
  auto registry = make_registry();
  envelope event;
  event.type = "something.else";
  event.version = 9;
  event.payload = "x";
  REQUIRE(registry.upcast(event));
  CHECK(event.version == 9);
}

TEST_CASE("a version newer than this build is refused") {
  auto registry = make_registry();
  envelope event;
  event.type = "pool.member_ready";
  event.version = 4;
  auto lifted = registry.upcast(event);
  REQUIRE_FALSE(lifted);
  CHECK(lifted.error().code == errc::version_from_future);
}

TEST_CASE("a gap in the upcaster chain is named") {
  upcaster_registry registry;
  registry.declare("t", 3);
  registry.add("t", 2,
               [](std::string_view p) -> result<std::string> { return std::string(p); });
  envelope event;
  event.type = "t";
  event.version = 1;
  auto lifted = registry.upcast(event);
  REQUIRE_FALSE(lifted);
  CHECK(lifted.error().code == errc::missing_upcaster);
  CHECK(lifted.error().message == "no upcaster lifts t version 1");
}

TEST_CASE("a payload that no longer matches its declared version fails the upcast") {
  auto registry = make_registry();
  envelope event;
  event.type = "pool.member_ready";
  event.version = 1;
  event.payload = "\xc1"; // never valid msgpack
  auto lifted = registry.upcast(event);
  REQUIRE_FALSE(lifted);
  CHECK(lifted.error().code == errc::malformed_payload);
}
