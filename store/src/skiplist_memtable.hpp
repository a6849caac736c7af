#pragma once

// The journal's memtable: a skiplist RocksDB keeps its unflushed writes in.
// Internal to the store; tests include it.

#include <memory>
#include <rocksdb/memtablerep.h>

namespace hearth::store::internal {

/// A skiplist with one writer and readers that take no lock, which starts an
/// insert at the position of the last one with the same hint (RocksDB's
/// `memtable_insert_with_hint_prefix_extractor`).
///
/// Why not RocksDB's own skiplist: Debian builds RocksDB without `NDEBUG`, so
/// its skiplist re-checks the order of every level of the hint after each
/// insert (~15 key comparisons an insert). This one makes the same hinted
/// inserts without the checks: a warm checkout takes ~14 % fewer
/// instructions (bench/NOTES.md).
///
/// The database must not insert concurrently
/// (`allow_concurrent_memtable_write = false`; RocksDB refuses to open
/// otherwise). Iterators live in the memtable's own memory (RocksDB's
/// interface gives no way to allocate from the arena it passes): each costs
/// ~40 bytes of the memtable's budget until the memtable is flushed.
std::shared_ptr<rocksdb::MemTableRepFactory> make_skiplist_memtable();

} // namespace hearth::store::internal
