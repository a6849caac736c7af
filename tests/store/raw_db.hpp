#pragma once

// Opens a journal's RocksDB directly, to damage it on purpose.

#include <memory>
#include <rocksdb/db.h>
#include <string>
#include <vector>

namespace hearth::testing {

struct raw_db {
  rocksdb::DB* db = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*>
      handles; // default, events, streams, meta, snaps

  explicit raw_db(const std::string& path) {
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    for (const char* name : {"default", "events", "streams", "stream_meta", "snapshots"})
      families.emplace_back(name, rocksdb::ColumnFamilyOptions());
    auto status = rocksdb::DB::Open(rocksdb::Options(), path, families, &handles, &db);
    if (!status.ok())
      throw std::runtime_error(status.ToString());
  }
  ~raw_db() {
    for (auto* handle : handles)
      db->DestroyColumnFamilyHandle(handle);
    delete db;
  }
};

} // namespace hearth::testing
