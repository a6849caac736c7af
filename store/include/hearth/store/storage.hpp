#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "hearth/store/error.hpp"
#include "hearth/store/journal.hpp"
#include "hearth/store/snapshot_store.hpp"

namespace hearth::store {

/// How to open a storage.
struct storage_options {
  /// Create the data directory and an empty journal when none exists.
  // Default: true
  bool create_if_missing = true;
  /// Open without taking the directory's lock and refuse every write; works on
  /// a copy of the directory of a process that was killed.
  // Default: false
  bool read_only = false;
  /// fsync every write before acknowledging it. Only benchmarks of the
  /// non-durable case turn this off.
  // Default: true
  bool sync = true;
  /// Bytes of events the storage engine buffers in memory before flushing.
  // Default: 128 MiB
  std::size_t write_buffer_bytes = 128u << 20;
  /// Bytes of stream index and metadata buffered in memory before flushing.
  /// Kept small on purpose: see the note in rocksdb_storage.cpp.
  // Default: 4 MiB
  std::size_t index_buffer_bytes = 4u << 20;
  /// Block cache for reads.
  // Default: 64 MiB
  std::size_t block_cache_bytes = 64u << 20;
  /// Streams whose last sequence number the writer keeps in memory. A
  /// stream not written to for a while is read back from the database at
  /// its next append, so the writer's memory stays bounded however many
  /// streams (sandboxes) the journal holds.
  // Default: 32768 (the cache holds at most twice that many)
  std::size_t cached_streams = 32768;
  /// Which skiplist holds the writes not yet flushed to tables: hearth's own
  /// (`true`), or RocksDB's. Debian's RocksDB checks its skiplist's order
  /// after every insert (it is built without `NDEBUG`); hearth's does the
  /// same inserts without the checks (see `store/src/skiplist_memtable.hpp`).
  // Default: true
  bool hearth_memtable = true;
};

/// A journal and a snapshot store on one data directory.
class storage {
public:
  virtual ~storage();

  virtual journal& events() = 0;
  virtual snapshot_store& snapshots() = 0;

  /// Where the data lives; empty for the in-memory storage.
  virtual const std::string& path() const = 0;
};

/// Opens (or creates) the RocksDB storage in `directory`. Fails with `locked`
/// when another process holds it, `not_found` when it is missing and
/// `create_if_missing` is off, `corrupt` when its files are damaged.
result<std::unique_ptr<storage>>
open_rocksdb_storage(const std::string& directory, const storage_options& options = {});

/// A storage that lives in memory only, for fast tests of higher layers. It
/// passes the same test suite as the RocksDB storage.
std::unique_ptr<storage> make_memory_storage();

} // namespace hearth::store
