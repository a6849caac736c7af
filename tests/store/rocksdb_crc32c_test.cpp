// RocksDB's CRC-32C sent to hearth's (store/src/rocksdb_crc32c.cpp): the
// same values as RocksDB's own, so that what either writes the other reads.

#include <cstddef>
#include <cstdint>
#include <doctest/doctest.h>
#include <random>
#include <rocksdb/db.h>
#include <string>

#include "support/temp_dir.hpp"

// `rocksdb::crc32c::Extend` as RocksDB's code calls it (the linker's `--wrap`
// makes that hearth's), and RocksDB's own, which `--wrap` names `__real_`.
std::uint32_t
extend_as_called(std::uint32_t crc, const char* data,
                 std::size_t size) __asm__("_ZN7rocksdb6crc32c6ExtendEjPKcm");
std::uint32_t
rocksdbs_own_extend(std::uint32_t crc, const char* data,
                    std::size_t size) __asm__("__real__ZN7rocksdb6crc32c6ExtendEjPKcm");

TEST_CASE("RocksDB's CRC-32C calls reach hearth's, with RocksDB's values") {
  CHECK(reinterpret_cast<void*>(&extend_as_called) !=
        reinterpret_cast<void*>(&rocksdbs_own_extend));
  const std::string check = "123456789"; // the standard check value
  CHECK(extend_as_called(0, check.data(), check.size()) == 0xE3069283u);

  // Lengths around the 8-byte steps, every alignment, seeds that continue
  // an earlier CRC.
  std::mt19937_64 random(20261207);
  std::string bytes(4096 + 16, '\0');
  for (auto& b : bytes)
    b = static_cast<char>(random());
  int compared = 0;
  for (std::size_t size : {0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 255, 1000, 4096})
    for (std::size_t offset = 0; offset < 16; ++offset) {
      const auto seed = static_cast<std::uint32_t>(random());
      const char* data = bytes.data() + offset;
      CHECK(extend_as_called(seed, data, size) == rocksdbs_own_extend(seed, data, size));
      CHECK(extend_as_called(0, data, size) == rocksdbs_own_extend(0, data, size));
      ++compared;
    }
  CHECK(compared == 14 * 16);
}

TEST_CASE("a RocksDB database reopens and reads back with hearth's CRC-32C") {
  hearth::testing::temp_dir dir;
  rocksdb::Options options;
  options.create_if_missing = true;
  std::string value(10000, 'x');
  for (std::size_t i = 0; i < value.size(); ++i)
    value[i] = static_cast<char>('a' + i % 26);
  {
    rocksdb::DB* raw = nullptr;
    REQUIRE(rocksdb::DB::Open(options, dir.path(), &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    rocksdb::WriteOptions sync;
    sync.sync = true;
    REQUIRE(db->Put(sync, "in the log", value).ok());
    REQUIRE(db->Put(sync, "in a table", value).ok());
    REQUIRE(db->Flush(rocksdb::FlushOptions{}).ok());
    REQUIRE(db->Put(sync, "in the log", value + "!").ok());
  }
  // Reopening replays the log and reads the table, checking every record's
  // and block's checksum (paranoid checks are RocksDB's default).
  rocksdb::DB* raw = nullptr;
  REQUIRE(rocksdb::DB::Open(options, dir.path(), &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::ReadOptions verify;
  verify.verify_checksums = true;
  std::string read;
  REQUIRE(db->Get(verify, "in the log", &read).ok());
  CHECK(read == value + "!");
  REQUIRE(db->Get(verify, "in a table", &read).ok());
  CHECK(read == value);
  CHECK(db->VerifyChecksum().ok());
}
