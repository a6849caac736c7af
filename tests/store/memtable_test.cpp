// hearth's memtable (store/src/skiplist_memtable.hpp) under a real RocksDB,
// against a std::map of what was written.

#include <atomic>
#include <doctest/doctest.h>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <rocksdb/db.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/write_batch.h>
#include <string>
#include <thread>

#include "skiplist_memtable.hpp"
#include "support/temp_dir.hpp"

using namespace hearth;

namespace {

/// A database whose memtables are hearth's, with insert hints by the keys'
/// first two bytes (as the journal's families have hints by stream).
struct memtable_db {
  testing::temp_dir dir;
  std::size_t write_buffer_bytes;
  std::unique_ptr<rocksdb::DB> db;

  explicit memtable_db(std::size_t buffer_bytes)
      : write_buffer_bytes(buffer_bytes) {
    reopen();
  }

  void reopen() {
    db.reset();
    rocksdb::Options options;
    options.create_if_missing = true;
    options.memtable_factory = store::internal::make_skiplist_memtable();
    options.allow_concurrent_memtable_write = false;
    options.write_buffer_size = write_buffer_bytes;
    options.memtable_insert_with_hint_prefix_extractor.reset(
        rocksdb::NewFixedPrefixTransform(2));
    rocksdb::DB* opened = nullptr;
    const auto status = rocksdb::DB::Open(options, dir.str("db"), &opened);
    REQUIRE_MESSAGE(status.ok(), status.ToString());
    db.reset(opened);
  }

  std::optional<std::string> get(const std::string& key) {
    std::string value;
    const auto status = db->Get(rocksdb::ReadOptions(), key, &value);
    if (status.IsNotFound())
      return std::nullopt;
    REQUIRE_MESSAGE(status.ok(), status.ToString());
    return value;
  }
};

/// Keys in eight prefixes: mostly each prefix's next key (a stream's next
/// event), sometimes a random one (inserted between existing keys).
class key_source {
public:
  explicit key_source(unsigned seed)
      : random_(seed) {}

  std::string next() {
    const int prefix = static_cast<int>(random_() % 8);
    const std::uint64_t suffix =
        random_() % 4 == 0 ? random_() % 100000 : ++counters_[prefix] * 7;
    char key[32];
    std::snprintf(key, sizeof(key), "p%d/%08llu", prefix,
                  static_cast<unsigned long long>(suffix));
    return key;
  }
  std::mt19937& random() { return random_; }

private:
  std::mt19937 random_;
  std::uint64_t counters_[8] = {};
};

/// Writes puts, overwrites and deletes in batches of 1-4, to the database
/// and to the model.
void write_random(memtable_db& db, std::map<std::string, std::string>& model, int batches,
                  unsigned seed) {
  key_source keys(seed);
  for (int b = 0; b < batches; ++b) {
    rocksdb::WriteBatch batch;
    const int size = 1 + static_cast<int>(keys.random()() % 4);
    for (int i = 0; i < size; ++i) {
      const auto roll = keys.random()() % 20;
      if (roll == 0 && !model.empty()) {
        const std::string key = model.begin()->first;
        REQUIRE(batch.Delete(key).ok());
        model.erase(key);
      } else if (roll == 1 && !model.empty()) {
        const std::string key = model.rbegin()->first; // an overwrite
        const std::string value = "again-" + std::to_string(b);
        REQUIRE(batch.Put(key, value).ok());
        model[key] = value;
      } else {
        const std::string key = keys.next();
        const std::string value = "v" + std::to_string(b) + "-" + std::to_string(i);
        REQUIRE(batch.Put(key, value).ok());
        model[key] = value;
      }
    }
    REQUIRE(db.db->Write(rocksdb::WriteOptions(), &batch).ok());
  }
}

/// Every way RocksDB reads a memtable, against the model.
void check_reads(memtable_db& db, const std::map<std::string, std::string>& model,
                 unsigned seed) {
  for (const auto& [key, value] : model) {
    const auto found = db.get(key);
    REQUIRE_MESSAGE(found.has_value(), key);
    CHECK(*found == value);
  }
  CHECK_FALSE(db.get("p3/absent").has_value());
  CHECK_FALSE(db.get("zz").has_value());

  std::unique_ptr<rocksdb::Iterator> it(db.db->NewIterator(rocksdb::ReadOptions()));
  auto expected = model.begin();
  for (it->SeekToFirst(); it->Valid(); it->Next(), ++expected) {
    REQUIRE(expected != model.end());
    CHECK(it->key().ToString() == expected->first);
    CHECK(it->value().ToString() == expected->second);
  }
  CHECK(expected == model.end());
  REQUIRE(it->status().ok());

  auto backwards = model.rbegin();
  for (it->SeekToLast(); it->Valid(); it->Prev(), ++backwards) {
    REQUIRE(backwards != model.rend());
    CHECK(it->key().ToString() == backwards->first);
  }
  CHECK(backwards == model.rend());

  key_source targets(seed);
  for (int i = 0; i < 500; ++i) {
    const std::string target = targets.next();
    it->Seek(target);
    const auto at_or_after = model.lower_bound(target);
    REQUIRE(it->Valid() == (at_or_after != model.end()));
    if (it->Valid())
      CHECK(it->key().ToString() == at_or_after->first);

    it->SeekForPrev(target);
    const auto after = model.upper_bound(target);
    REQUIRE(it->Valid() == (after != model.begin()));
    if (it->Valid())
      CHECK(it->key().ToString() == std::prev(after)->first);
  }
}

} // namespace

TEST_CASE("hearth's memtable reads back every write in key order") {
  // 64 MiB: everything stays in the one memtable.
  memtable_db db(64u << 20);
  std::map<std::string, std::string> model;
  write_random(db, model, 20000, 1);
  check_reads(db, model, 2);
}

TEST_CASE("hearth's memtable: flushes, immutable memtables and a reopen lose nothing") {
  // 64 KiB: hundreds of memtables, read while immutable and flushed to tables.
  memtable_db db(64u << 10);
  std::map<std::string, std::string> model;
  write_random(db, model, 20000, 3);
  check_reads(db, model, 4);
  // The log replays into a fresh memtable.
  db.reopen();
  check_reads(db, model, 5);
}

TEST_CASE(
    "hearth's memtable: readers see whole, ordered lists while the writer inserts") {
  memtable_db db(64u << 20);
  std::atomic<bool> done{false};
  std::thread writer([&] {
    key_source keys(6);
    for (int i = 0; i < 30000; ++i)
      REQUIRE(db.db->Put(rocksdb::WriteOptions(), keys.next(), "v").ok());
    done = true;
  });
  std::size_t last_count = 0;
  int scans = 0;
  while (!done || scans == 0) {
    std::unique_ptr<rocksdb::Iterator> it(db.db->NewIterator(rocksdb::ReadOptions()));
    std::size_t count = 0;
    std::string previous;
    for (it->SeekToFirst(); it->Valid(); it->Next(), ++count) {
      const std::string key = it->key().ToString();
      if (count > 0 && !(previous < key))
        FAIL("out of order: " << previous << " then " << key);
      previous = key;
    }
    // A later iterator reads at a later sequence: never fewer keys.
    CHECK(count >= last_count);
    last_count = count;
    ++scans;
  }
  writer.join();
  MESSAGE(scans << " scans during the writes");
}
