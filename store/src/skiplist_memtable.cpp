#include "skiplist_memtable.hpp"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <new>
#include <utility>

namespace hearth::store::internal {
namespace {

using rocksdb::MemTableRep;
using rocksdb::Slice;

constexpr int max_height = 12;
/// One node in four reaches the next level up.
constexpr std::uint64_t branching = 4;

/// A node is followed in memory by its `height` links, then by its key
/// (RocksDB's length-prefixed internal key, which RocksDB writes there).
struct alignas(std::atomic<void*>) node {
  std::uint32_t height;

  std::atomic<node*>* links() { return reinterpret_cast<std::atomic<node*>*>(this + 1); }
  const std::atomic<node*>* links() const {
    return reinterpret_cast<const std::atomic<node*>*>(this + 1);
  }
  const char* key() const { return reinterpret_cast<const char*>(links() + height); }

  node* next(int level) const { return links()[level].load(std::memory_order_acquire); }
};
static_assert(sizeof(node) % alignof(std::atomic<node*>) == 0);

/// Where an insert goes, level by level: `prev[i]` is the last node before
/// the key at level `i` (or the head), `next[i]` the one after it (or null).
/// A hint keeps the splice of its last insert; levels nest
/// (`prev[i + 1]` is never after `prev[i]`, `next[i + 1]` never before
/// `next[i]`), and `prev[height]` / `next[height]` are the head and null.
struct splice {
  int height = 0;
  node* prev[max_height + 1];
  node* next[max_height + 1];
};

class skiplist_rep final : public MemTableRep {
public:
  skiplist_rep(const KeyComparator& compare, rocksdb::Allocator* allocator)
      : MemTableRep(allocator)
      , compare_(compare)
      , head_(make_node(max_height, 0))
      , sequential_(make_splice()) {}

  rocksdb::KeyHandle Allocate(const size_t len, char** buf) override {
    node* fresh = make_node(random_height(), len);
    *buf = const_cast<char*>(fresh->key());
    return fresh;
  }

  void Insert(rocksdb::KeyHandle handle) override { InsertKey(handle); }
  bool InsertKey(rocksdb::KeyHandle handle) override {
    return insert(static_cast<node*>(handle), *sequential_);
  }
  void InsertWithHint(rocksdb::KeyHandle handle, void** hint) override {
    InsertKeyWithHint(handle, hint);
  }
  bool InsertKeyWithHint(rocksdb::KeyHandle handle, void** hint) override {
    if (*hint == nullptr)
      *hint = make_splice();
    return insert(static_cast<node*>(handle), *static_cast<splice*>(*hint));
  }

  bool Contains(const char* key) const override {
    const Slice decoded = compare_.decode_key(key);
    const node* found =
        seek([&](const node* n) { return compare_(n->key(), decoded) < 0; });
    return found != nullptr && compare_(found->key(), decoded) == 0;
  }

  /// The memory is the arena's, which the memtable accounts for.
  size_t ApproximateMemoryUsage() override { return 0; }

  /// RocksDB passes an arena (whose class is not in its installed headers)
  /// and then only destroys the iterator, or none and then deletes it.
  /// Either way the iterator is on the heap, and its destructor hands the
  /// memory to `retire`.
  Iterator* GetIterator(rocksdb::Arena* /*arena*/) override {
    return ::new (::operator new(sizeof(iterator))) iterator(*this, true);
  }

  /// Without an arena, RocksDB's `MemTableRep::Get` asks for this iterator
  /// and never destroys it (a memtable without a prefix extractor, as the
  /// journal's are, is not otherwise asked for one without an arena): each
  /// thread reuses one for its lookups, which do not nest.
  Iterator* GetDynamicPrefixIterator(rocksdb::Arena* arena) override {
    if (arena != nullptr)
      return GetIterator(arena);
    alignas(iterator) thread_local unsigned char lookup[sizeof(iterator)];
    return ::new (lookup) iterator(*this, false);
  }

private:
  class iterator final : public Iterator {
  public:
    iterator(const skiplist_rep& list, bool on_heap)
        : list_(list)
        , on_heap_(on_heap) {}
    ~iterator() override {
      if (on_heap_)
        retire(this);
    }

    /// The destructor hands the memory to `retire`, whether RocksDB deletes
    /// the iterator or only destroys it.
    static void operator delete(void* /*memory*/) {}

    bool Valid() const override { return at_ != nullptr; }
    const char* key() const override { return at_->key(); }
    void Next() override { at_ = at_->next(0); }
    void Prev() override {
      const Slice current = list_.compare_.decode_key(at_->key());
      at_ = list_.last_before(current);
    }
    void Seek(const Slice& internal_key, const char* memtable_key) override {
      if (memtable_key != nullptr)
        at_ = list_.seek(
            [&](const node* n) { return list_.compare_(n->key(), memtable_key) < 0; });
      else
        at_ = list_.seek(
            [&](const node* n) { return list_.compare_(n->key(), internal_key) < 0; });
    }
    void SeekForPrev(const Slice& internal_key, const char* memtable_key) override {
      Seek(internal_key, memtable_key);
      if (at_ == nullptr)
        SeekToLast();
      const Slice target = memtable_key != nullptr
                               ? list_.compare_.decode_key(memtable_key)
                               : internal_key;
      while (at_ != nullptr && list_.compare_(at_->key(), target) > 0)
        Prev();
    }
    void SeekToFirst() override { at_ = list_.head_->next(0); }
    void SeekToLast() override { at_ = list_.last(); }

  private:
    const skiplist_rep& list_;
    const bool on_heap_;
    const node* at_ = nullptr;
  };

  /// Frees an iterator's memory when the thread retires its next one, or
  /// exits: by then the destructor that retired it has returned.
  static void retire(void* memory) {
    struct retired {
      void* memory = nullptr;
      ~retired() {
        ::operator delete(memory);
        exited = true;
      }
    };
    thread_local retired last;
    if (exited)
      return; // retired during the thread's exit: a few bytes left behind
    ::operator delete(std::exchange(last.memory, memory));
  }
  static thread_local bool exited;

  /// Memory from the memtable's arena. RocksDB's arena hands out unaligned
  /// memory through this interface, so it is aligned here.
  char* allocate_aligned(std::size_t size, std::size_t alignment) {
    char* raw = nullptr;
    MemTableRep::Allocate(size + alignment - 1, &raw);
    const auto address = reinterpret_cast<std::uintptr_t>(raw);
    return raw + (alignment - address % alignment) % alignment;
  }

  node* make_node(int height, std::size_t key_size) {
    const std::size_t size =
        sizeof(node) + sizeof(std::atomic<node*>) * static_cast<std::size_t>(height) +
        key_size;
    auto* fresh = ::new (allocate_aligned(size, alignof(node))) node{};
    fresh->height = static_cast<std::uint32_t>(height);
    for (int level = 0; level < height; ++level)
      ::new (&fresh->links()[level]) std::atomic<node*>(nullptr);
    return fresh;
  }

  splice* make_splice() {
    return ::new (allocate_aligned(sizeof(splice), alignof(splice))) splice{};
  }

  /// Only the writer calls it (`Allocate`, then `Insert`).
  int random_height() {
    int height = 1;
    while (height < max_height && next_random() % branching == 0)
      ++height;
    return height;
  }

  std::uint64_t next_random() {
    // xorshift64*
    random_ ^= random_ >> 12;
    random_ ^= random_ << 25;
    random_ ^= random_ >> 27;
    return (random_ * 0x2545F4914F6CDD1DULL) >> 32;
  }

  /// Links `fresh` in, starting from `at`'s levels. False (and nothing
  /// changed) when the list already holds the same key.
  bool insert(node* fresh, splice& at) {
    const Slice key = compare_.decode_key(fresh->key());
    const int height = static_cast<int>(fresh->height);
    const int levels = std::max(height_.load(std::memory_order_relaxed), height);
    const auto before = [&](const node* n) {
      return n != head_ && compare_(n->key(), key) < 0;
    };
    const auto after = [&](const node* n) {
      return n == nullptr || compare_(n->key(), key) > 0;
    };

    // The lowest level whose bracket still holds the key with nothing
    // inserted into it since; the levels below it are searched again.
    int from = 0;
    if (at.height < levels) {
      at.height = levels;
      at.prev[levels] = head_;
      at.next[levels] = nullptr;
      from = levels;
    }
    while (from < at.height) {
      node* prev = at.prev[from];
      node* next = at.next[from];
      if (prev->next(from) != next) {
        ++from; // something was inserted into this level's bracket
      } else if (prev != head_ && !before(prev)) {
        while (from < at.height && at.prev[from] == prev)
          ++from;
      } else if (!after(next)) {
        while (from < at.height && at.next[from] == next)
          ++from;
      } else {
        break;
      }
    }
    for (int level = from - 1; level >= 0; --level) {
      node* prev = at.prev[level + 1];
      node* next = prev->next(level);
      while (next != nullptr && before(next)) {
        prev = next;
        next = prev->next(level);
      }
      at.prev[level] = prev;
      at.next[level] = next;
    }
    // Above the checked level, a bracket another insert went into is walked
    // forward again (by nesting, its `prev` is still before the key).
    for (int level = from + 1; level < height; ++level) {
      node* prev = at.prev[level];
      node* next = prev->next(level);
      if (next == at.next[level])
        continue;
      while (next != nullptr && before(next)) {
        prev = next;
        next = prev->next(level);
      }
      at.prev[level] = prev;
      at.next[level] = next;
    }
    if (from > 0 && at.next[0] != nullptr && compare_(at.next[0]->key(), key) == 0)
      return false; // found by a search: the key is already there

    if (height > height_.load(std::memory_order_relaxed))
      height_.store(height, std::memory_order_relaxed);
    for (int level = 0; level < height; ++level) {
      fresh->links()[level].store(at.next[level], std::memory_order_relaxed);
      // Release: a reader that finds `fresh` sees its key and links.
      at.prev[level]->links()[level].store(fresh, std::memory_order_release);
      at.prev[level] = fresh;
    }
    return true;
  }

  /// The first node for which `less` is false (`less` holds for a prefix of
  /// the list), or null.
  template <class Less>
  const node* seek(Less less) const {
    const node* at = head_;
    int level = height_.load(std::memory_order_relaxed) - 1;
    while (true) {
      const node* next = at->next(level);
      if (next != nullptr && less(next))
        at = next;
      else if (level == 0)
        return next;
      else
        --level;
    }
  }

  /// The last node before `key`, or null.
  const node* last_before(const Slice& key) const {
    const node* at = head_;
    int level = height_.load(std::memory_order_relaxed) - 1;
    while (true) {
      const node* next = at->next(level);
      if (next != nullptr && compare_(next->key(), key) < 0)
        at = next;
      else if (level == 0)
        return at == head_ ? nullptr : at;
      else
        --level;
    }
  }

  const node* last() const {
    const node* at = head_;
    int level = height_.load(std::memory_order_relaxed) - 1;
    while (true) {
      const node* next = at->next(level);
      if (next != nullptr)
        at = next;
      else if (level == 0)
        return at == head_ ? nullptr : at;
      else
        --level;
    }
  }

  const KeyComparator& compare_;
  node* const head_;
  /// Highest level in use; only the writer raises it. Readers that see an
  /// old value start lower, which costs them steps, not correctness.
  std::atomic<int> height_{1};
  /// The hint of inserts that come without one.
  splice* const sequential_;
  std::uint64_t random_ = 0x9E3779B97F4A7C15ULL;
};

thread_local bool skiplist_rep::exited = false;

class skiplist_factory final : public rocksdb::MemTableRepFactory {
public:
  using MemTableRepFactory::CreateMemTableRep;
  MemTableRep* CreateMemTableRep(const MemTableRep::KeyComparator& compare,
                                 rocksdb::Allocator* allocator,
                                 const rocksdb::SliceTransform* /*prefix*/,
                                 rocksdb::Logger* /*logger*/) override {
    return new skiplist_rep(compare, allocator);
  }
  const char* Name() const override { return "HearthSkipList"; }
  bool IsInsertConcurrentlySupported() const override { return false; }
  bool CanHandleDuplicatedKey() const override { return true; }
};

} // namespace

std::shared_ptr<rocksdb::MemTableRepFactory> make_skiplist_memtable() {
  return std::make_shared<skiplist_factory>();
}

} // namespace hearth::store::internal
