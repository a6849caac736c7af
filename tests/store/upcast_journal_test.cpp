// A journal written by an older build (event version 1) read by a newer one.
#include <doctest/doctest.h>

#include "backends.hpp"
#include "hearth/events/codec.hpp"
#include "hearth/events/upcaster_registry.hpp"

using namespace hearth;
using namespace hearth::testing;

namespace {

struct pool_created_v1 {
  std::string name;
  std::uint32_t min_ready = 0;
  MSGPACK_DEFINE_MAP(name, min_ready)
};

struct pool_created_v2 {
  std::string name;
  std::uint32_t min_ready = 0;
  std::uint32_t max_ready = 0;
  MSGPACK_DEFINE_MAP(name, min_ready, max_ready)
};

} // namespace

TEST_CASE("events stored in an old version are read in the current one") {
  rocksdb_backend backend;
  // The old build writes version 1.
  store::append_request request;
  request.stream = "pool/p";
  store::new_event old_event;
  old_event.type = "pool.created";
  old_event.version = 1;
  old_event.payload = events::encode_payload(pool_created_v1{"review-api", 2});
  request.events.push_back(old_event);
  REQUIRE(backend.journal().append(std::move(request)));
  backend.storage.reset();

  // The new build knows version 2: max_ready defaults to min_ready.
  events::upcaster_registry registry;
  registry.declare("pool.created", 2);
  registry.add("pool.created", 1,
               [](std::string_view payload) -> events::result<std::string> {
                 auto v1 = events::decode_payload<pool_created_v1>(payload);
                 if (!v1)
                   return v1.error();
                 return events::encode_payload(
                     pool_created_v2{v1->name, v1->min_ready, v1->min_ready});
               });
  backend.storage = backend.open();
  auto read = backend.journal().read_stream("pool/p");
  REQUIRE(read);
  REQUIRE(read->size() == 1);
  auto event = (*read)[0];
  CHECK(event.version == 1);
  REQUIRE(registry.upcast(event));
  CHECK(event.version == 2);
  auto current = events::decode_payload<pool_created_v2>(event.payload);
  REQUIRE(current);
  CHECK(current->name == "review-api");
  CHECK(current->max_ready == 2);
}
