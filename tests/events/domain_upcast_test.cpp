// Events that changed shape: journals written by the old code read through
// the current decoders (the upcasters registered in domain_upcasters).
#include <doctest/doctest.h>

#include "hearth/events/codec.hpp"
#include "hearth/events/domain_event.hpp"

using namespace hearth;
using namespace hearth::events;

namespace {

// The version 1 shapes, as the old code wrote them.
struct build_spec_v1 {
  std::string base;
  std::vector<build_step> steps;
  std::string start_cmd;
  readiness_spec readiness;
  std::uint32_t vcpus = 1;
  std::uint32_t memory_mb = 128;
  MSGPACK_DEFINE_MAP(base, steps, start_cmd, readiness, vcpus, memory_mb)
};

struct build_started_v1 {
  std::string build_id;
  std::string tenant;
  build_spec_v1 spec;
  std::vector<std::string> tags;
  std::int64_t at_ns = 0;
  MSGPACK_DEFINE_MAP(build_id, tenant, spec, tags, at_ns)
};

struct sandbox_created_v1 {
  std::string id;
  std::string tenant;
  std::string template_name;
  std::string build_id;
  std::string origin;
  std::string vm_id;
  std::string host;
  std::uint32_t vcpus = 0;
  std::uint32_t memory_mb = 0;
  warm_pool_checkout checkout;
  std::map<std::string, std::string> endpoints;
  std::int64_t at_ns = 0;
  MSGPACK_DEFINE_MAP(id, tenant, template_name, build_id, origin, vm_id, host, vcpus,
                     memory_mb, checkout, endpoints, at_ns)
};

struct member_claimed_v1 {
  std::string member_id;
  std::string sandbox_id;
  std::int64_t at_ns = 0;
  MSGPACK_DEFINE_MAP(member_id, sandbox_id, at_ns)
};

template <class Old>
envelope stored(const char* type, const Old& payload) {
  envelope e;
  e.stream = "s";
  e.sequence = 1;
  e.type = type;
  e.version = 1;
  e.payload = encode_payload(payload);
  return e;
}

} // namespace

TEST_CASE("a version 1 build_started reads as version 2 with no outbound destinations") {
  build_started_v1 old;
  old.build_id = "b1";
  old.spec.base = "busybox";
  old.spec.start_cmd = "httpd -f -p 8080";
  old.spec.memory_mb = 256;
  auto decoded = decode_domain(stored(build_started::type_name, old));
  REQUIRE(decoded);
  const auto& current = std::get<build_started>(*decoded);
  CHECK(current.build_id == "b1");
  CHECK(current.spec.start_cmd == "httpd -f -p 8080");
  CHECK(current.spec.memory_mb == 256);
  CHECK(current.spec.network_allow.empty());
}

TEST_CASE("a version 1 sandbox.created reads as version 2 with its template's network") {
  sandbox_created_v1 old;
  old.id = "sb1";
  old.origin = "warm_pool";
  old.endpoints = {{"8080", "127.0.0.1:4000"}};
  auto decoded = decode_domain(stored(sandbox_created::type_name, old));
  REQUIRE(decoded);
  const auto& current = std::get<sandbox_created>(*decoded);
  CHECK(current.id == "sb1");
  CHECK(current.endpoints.at("8080") == "127.0.0.1:4000");
  CHECK(current.network_allow.empty());
}

TEST_CASE("a version 1 pool.member_claimed reads as version 2 with no mode recorded") {
  member_claimed_v1 old{"p.m1", "sbx_1", 42};
  auto decoded = decode_domain(stored(member_claimed::type_name, old));
  REQUIRE(decoded);
  const auto& current = std::get<member_claimed>(*decoded);
  CHECK(current.member_id == "p.m1");
  CHECK(current.sandbox_id == "sbx_1");
  CHECK(current.at_ns == 42);
  CHECK(current.mode.empty());
}
