// The snapshot store test list of the Akka Persistence TCK (SnapshotStoreSpec),
// against both storages. Each case starts with snapshots at 10, 20, 30, 40.
#include <doctest/doctest.h>
#include <rocksdb/db.h>

#include "backends.hpp"
#include "rocksdb_layout.hpp"

using namespace hearth;
using namespace hearth::testing;

namespace {

constexpr const char* pid = "pool/p-1";

template <class Backend>
struct snapshot_fixture : Backend {
  snapshot_fixture() {
    for (std::uint64_t seq : {10, 20, 30, 40}) {
      auto saved = this->snapshots().save(
          store::snapshot{pid, seq, 1000 + static_cast<std::int64_t>(seq),
                          "state-" + std::to_string(seq)});
      if (!saved)
        throw std::runtime_error(saved.error().message);
    }
  }

  std::optional<std::uint64_t>
  loaded_sequence(std::uint64_t max_seq = store::max_sequence) {
    auto loaded = this->snapshots().load(pid, max_seq);
    if (!loaded)
      throw std::runtime_error(loaded.error().message);
    if (!*loaded)
      return std::nullopt;
    return (*loaded)->sequence;
  }
};

} // namespace

#define SNAPSHOT_TCK(name)                                                               \
  TEST_CASE_TEMPLATE("snapshots: " name, Backend, memory_backend, rocksdb_backend)

SNAPSHOT_TCK("nothing loads for an unknown stream") {
  snapshot_fixture<Backend> f;
  auto loaded = f.snapshots().load("pool/unknown");
  REQUIRE(loaded);
  CHECK_FALSE(loaded->has_value());
}

SNAPSHOT_TCK("nothing loads when the sequence bound excludes every snapshot") {
  snapshot_fixture<Backend> f;
  CHECK_FALSE(f.loaded_sequence(9).has_value());
}

SNAPSHOT_TCK("the latest snapshot loads with its data") {
  snapshot_fixture<Backend> f;
  auto loaded = f.snapshots().load(pid);
  REQUIRE(loaded);
  REQUIRE(loaded->has_value());
  CHECK((*loaded)->sequence == 40);
  CHECK((*loaded)->data == "state-40");
  CHECK((*loaded)->timestamp_ns == 1040);
  CHECK((*loaded)->stream == pid);
}

SNAPSHOT_TCK("the newest snapshot at or below a bound loads") {
  snapshot_fixture<Backend> f;
  CHECK(f.loaded_sequence(25) == 20u);
  CHECK(f.loaded_sequence(30) == 30u);
}

SNAPSHOT_TCK("a deleted snapshot no longer loads") {
  snapshot_fixture<Backend> f;
  REQUIRE(f.snapshots().remove(pid, 30));
  CHECK(f.loaded_sequence(35) == 20u);
  CHECK(f.loaded_sequence() == 40u);
}

SNAPSHOT_TCK("deleting up to a bound removes exactly those snapshots") {
  snapshot_fixture<Backend> f;
  REQUIRE(f.snapshots().remove_up_to(pid, 20));
  CHECK_FALSE(f.loaded_sequence(25).has_value());
  CHECK(f.loaded_sequence(35) == 30u);
  REQUIRE(f.snapshots().remove_up_to(pid, store::max_sequence));
  CHECK_FALSE(f.loaded_sequence().has_value());
}

SNAPSHOT_TCK("saving at the same sequence number overwrites") {
  snapshot_fixture<Backend> f;
  REQUIRE(f.snapshots().save(store::snapshot{pid, 40, 7, "newer"}));
  auto loaded = f.snapshots().load(pid);
  REQUIRE(loaded);
  REQUIRE(loaded->has_value());
  CHECK((*loaded)->data == "newer");
}

SNAPSHOT_TCK("a 10 MB snapshot saves and loads intact") {
  snapshot_fixture<Backend> f;
  std::string large(10u << 20, '\0');
  for (std::size_t i = 0; i < large.size(); ++i)
    large[i] = static_cast<char>((i * 2654435761u) >> 24);
  REQUIRE(f.snapshots().save(store::snapshot{pid, 50, 1, large}));
  auto loaded = f.snapshots().load(pid);
  REQUIRE(loaded);
  REQUIRE(loaded->has_value());
  CHECK((*loaded)->sequence == 50);
  CHECK((*loaded)->data == large);
}

SNAPSHOT_TCK("snapshots of different streams do not mix") {
  snapshot_fixture<Backend> f;
  REQUIRE(f.snapshots().save(store::snapshot{"pool/p-10", 5, 1, "other"}));
  CHECK(f.loaded_sequence() == 40u);
  auto other = f.snapshots().load("pool/p-10");
  REQUIRE(other);
  REQUIRE(other->has_value());
  CHECK((*other)->data == "other");
  REQUIRE(f.snapshots().remove_up_to("pool/p-10", store::max_sequence));
  CHECK(f.loaded_sequence() == 40u);
}

TEST_CASE("snapshots: a damaged snapshot is reported as corrupt, not loaded") {
  temp_dir dir;
  {
    auto opened = store::open_rocksdb_storage(dir.str("journal"));
    REQUIRE(opened);
    REQUIRE((*opened)->snapshots().save(store::snapshot{pid, 10, 1, "state-10"}));
  }
  {
    // Damage the stored bytes behind the storage's back.
    rocksdb::DB* raw = nullptr;
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    for (const char* name : {"default", "events", "streams", "stream_meta", "snapshots"})
      families.emplace_back(name, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    REQUIRE(rocksdb::DB::Open(rocksdb::Options(), dir.str("journal"), families, &handles,
                              &raw)
                .ok());
    const auto key = store::internal::stream_key(pid, 10);
    std::string value;
    REQUIRE(raw->Get(rocksdb::ReadOptions(), handles[4], key, &value).ok());
    value.back() = static_cast<char>(value.back() ^ 0x40);
    REQUIRE(raw->Put(rocksdb::WriteOptions(), handles[4], key, value).ok());
    for (auto* handle : handles)
      raw->DestroyColumnFamilyHandle(handle);
    delete raw;
  }
  auto opened = store::open_rocksdb_storage(dir.str("journal"));
  REQUIRE(opened);
  auto loaded = (*opened)->snapshots().load(pid);
  REQUIRE_FALSE(loaded);
  CHECK(loaded.error().code == store::errc::corrupt);
  CHECK(loaded.error().message ==
        "snapshot of pool/p-1 at sequence 10 failed its checksum");
}
