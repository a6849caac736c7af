// API keys: a revoked key authenticates nobody, at once and after restarts;
// the last admin key stays.
#include <algorithm>

#include "runtime_fixture.hpp"

using namespace hearth;
using namespace hearth::testing;

TEST_CASE_FIXTURE(runtime_fixture,
                  "a revoked API key authenticates nobody, also after a restart") {
  temp_dir dir;
  options.data_dir = dir.str();
  start();
  auto admin = ok(rt->create_api_key(tenant, "admin").get());
  auto leaked = ok(rt->create_api_key(tenant, "tenant").get());
  auto kept = ok(rt->create_api_key(tenant, "tenant").get());
  // Vouched for once: the runtime caches the answer, and revocation must
  // clear that too.
  CHECK(ok(rt->authenticate(leaked.key).get()).key_id == leaked.key_id);

  CHECK(ok(rt->revoke_api_key(tenant, leaked.key_id).get()));
  fails(rt->authenticate(leaked.key).get(), model::errc::unauthenticated);
  CHECK(ok(rt->authenticate(kept.key).get()).key_id == kept.key_id);
  auto listed = ok(rt->list_tenants().get());
  REQUIRE(listed.size() == 1);
  CHECK(std::count(listed[0].key_ids.begin(), listed[0].key_ids.end(), leaked.key_id) ==
        0);

  // Revoking it again, or a key nobody made: not found, nothing written.
  auto again =
      fails(rt->revoke_api_key(tenant, leaked.key_id).get(), model::errc::not_found);
  CHECK(again.field == "key_id");
  fails(rt->revoke_api_key("nobody", kept.key_id).get(), model::errc::not_found);

  stop();
  start();
  fails(rt->authenticate(leaked.key).get(), model::errc::unauthenticated);
  CHECK(ok(rt->authenticate(kept.key).get()).key_id == kept.key_id);
  CHECK(ok(rt->authenticate(admin.key).get()).role == "admin");
}

TEST_CASE_FIXTURE(runtime_fixture, "the last admin key cannot be revoked") {
  start();
  auto first = ok(rt->create_api_key(tenant, "admin").get());
  auto conflict =
      fails(rt->revoke_api_key(tenant, first.key_id).get(), model::errc::conflict);
  CHECK(conflict.message.find("last admin key") != std::string::npos);
  CHECK(ok(rt->authenticate(first.key).get()).role == "admin");
  // With a second one, the first can go.
  auto second = ok(rt->create_api_key(tenant, "admin").get());
  CHECK(ok(rt->revoke_api_key(tenant, first.key_id).get()));
  fails(rt->authenticate(first.key).get(), model::errc::unauthenticated);
  fails(rt->revoke_api_key(tenant, second.key_id).get(), model::errc::conflict);
}
