#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace hearth {

/// A hash map from strings to `V` for the tables that hold an entry per
/// sandbox or VM (the controller's directory, the hosts' owners, the
/// capacity ledger, the journal's streams): hundreds of thousands of
/// entries, each looked up a few times per checkout, nearly always a cache
/// miss. `std::unordered_map` takes four misses for a hit (its bucket, the
/// node before the bucket's first, the node, the key's characters) and a
/// division; this one takes three (a slot holding the key's hash and its
/// node, the node, the key's characters) and a mask.
///
/// Open addressing with linear probing over slots of (hash, node); erased
/// slots become tombstones until the next rehash, so erasing never moves an
/// entry and iterating while erasing (`it = erase(it)`) visits each entry
/// once. Entries live in nodes of their own: references to them stay valid
/// until they are erased, as with `std::unordered_map`; iterators are
/// invalidated by an insertion that grows the table. Lookups take any
/// string-like key without building a `std::string`.
template <class V>
class string_map {
  struct slot {
    std::uint64_t tag = empty_tag; // the key's hash, or empty / erased
    std::pair<const std::string, V>* node = nullptr;
  };

  static constexpr std::uint64_t empty_tag = 0;
  static constexpr std::uint64_t erased_tag = 1;

public:
  using key_type = std::string;
  using mapped_type = V;
  using value_type = std::pair<const std::string, V>;
  using size_type = std::size_t;

  template <bool Const>
  class basic_iterator {
  public:
    using value_type = string_map::value_type;
    using reference = std::conditional_t<Const, const value_type&, value_type&>;
    using pointer = std::conditional_t<Const, const value_type*, value_type*>;
    using difference_type = std::ptrdiff_t;
    using iterator_category = std::forward_iterator_tag;

    basic_iterator() = default;
    /// An iterator converts to a const_iterator.
    template <bool C = Const, class = std::enable_if_t<C>>
    basic_iterator(const basic_iterator<false>& other)
        : at_(other.at_)
        , end_(other.end_) {}

    reference operator*() const { return *at_->node; }
    pointer operator->() const { return at_->node; }
    basic_iterator& operator++() {
      ++at_;
      skip();
      return *this;
    }
    basic_iterator operator++(int) {
      auto before = *this;
      ++*this;
      return before;
    }
    friend bool operator==(const basic_iterator& a, const basic_iterator& b) {
      return a.at_ == b.at_;
    }
    friend bool operator!=(const basic_iterator& a, const basic_iterator& b) {
      return a.at_ != b.at_;
    }

  private:
    friend class string_map;
    template <bool>
    friend class basic_iterator;
    basic_iterator(slot* at, slot* end)
        : at_(at)
        , end_(end) {
      skip();
    }
    void skip() {
      while (at_ != end_ && at_->tag <= erased_tag)
        ++at_;
    }
    slot* at_ = nullptr;
    slot* end_ = nullptr;
  };

  using iterator = basic_iterator<false>;
  using const_iterator = basic_iterator<true>;

  string_map() = default;
  ~string_map() { destroy_nodes(); }

  string_map(const string_map& other) {
    reserve(other.size_);
    for (const auto& [key, value] : other)
      try_emplace(key, value);
  }
  string_map& operator=(const string_map& other) {
    if (this != &other) {
      string_map copy(other);
      swap(copy);
    }
    return *this;
  }
  string_map(string_map&& other) noexcept { swap(other); }
  string_map& operator=(string_map&& other) noexcept {
    if (this != &other) {
      string_map gone(std::move(other));
      swap(gone);
    }
    return *this;
  }

  void swap(string_map& other) noexcept {
    std::swap(slots_, other.slots_);
    std::swap(capacity_, other.capacity_);
    std::swap(size_, other.size_);
    std::swap(used_, other.used_);
  }

  size_type size() const { return size_; }
  bool empty() const { return size_ == 0; }

  iterator begin() { return iterator(slots_.get(), slots_.get() + capacity_); }
  iterator end() { return iterator(slots_.get() + capacity_, slots_.get() + capacity_); }
  const_iterator begin() const {
    return const_iterator(slots_.get(), slots_.get() + capacity_);
  }
  const_iterator end() const {
    return const_iterator(slots_.get() + capacity_, slots_.get() + capacity_);
  }

  iterator find(std::string_view key) {
    slot* found = lookup(key, hash_of(key));
    return found == nullptr ? end() : iterator(found, slots_.get() + capacity_);
  }
  const_iterator find(std::string_view key) const {
    slot* found = lookup(key, hash_of(key));
    return found == nullptr ? end() : const_iterator(found, slots_.get() + capacity_);
  }
  size_type count(std::string_view key) const {
    return lookup(key, hash_of(key)) ? 1 : 0;
  }
  bool contains(std::string_view key) const { return count(key) > 0; }

  V& at(std::string_view key) {
    slot* found = lookup(key, hash_of(key));
    if (found == nullptr)
      throw std::out_of_range("string_map::at: no entry " + std::string(key));
    return found->node->second;
  }
  const V& at(std::string_view key) const {
    return const_cast<string_map&>(*this).at(key);
  }

  V& operator[](std::string_view key) { return try_emplace(key).first->second; }

  /// Inserts `key` with a value made of `args` unless it is there.
  template <class... Args>
  std::pair<iterator, bool> try_emplace(std::string_view key, Args&&... args) {
    const auto hash = hash_of(key);
    if (slot* found = lookup(key, hash))
      return {iterator(found, slots_.get() + capacity_), false};
    if ((used_ + 1) * 4 > capacity_ * 3)
      rehash(size_ + 1);
    auto node =
        std::make_unique<value_type>(std::piecewise_construct, std::forward_as_tuple(key),
                                     std::forward_as_tuple(std::forward<Args>(args)...));
    slot* free = vacancy(hash);
    if (free->tag == empty_tag)
      ++used_;
    free->tag = hash;
    free->node = node.release();
    ++size_;
    return {iterator(free, slots_.get() + capacity_), true};
  }
  template <class Value>
  std::pair<iterator, bool> emplace(std::string_view key, Value&& value) {
    return try_emplace(key, std::forward<Value>(value));
  }
  template <class Value>
  std::pair<iterator, bool> insert_or_assign(std::string_view key, Value&& value) {
    auto [at, fresh] = try_emplace(key, std::forward<Value>(value));
    if (!fresh)
      at->second = std::forward<Value>(value);
    return {at, fresh};
  }

  /// Erases the entry at `at`; returns the entry after it.
  iterator erase(const_iterator at) {
    slot* s = at.at_;
    delete s->node;
    s->node = nullptr;
    s->tag = erased_tag;
    --size_;
    return iterator(s + 1, slots_.get() + capacity_);
  }
  iterator erase(iterator at) { return erase(const_iterator(at)); }
  size_type erase(std::string_view key) {
    slot* found = lookup(key, hash_of(key));
    if (found == nullptr)
      return 0;
    erase(const_iterator(iterator(found, slots_.get() + capacity_)));
    return 1;
  }

  void clear() {
    destroy_nodes();
    slots_.reset();
    capacity_ = size_ = used_ = 0;
  }

  /// Room for `count` entries without growing.
  void reserve(size_type count) {
    if (count * 4 > capacity_ * 3)
      rehash(count);
  }

private:
  static std::uint64_t hash_of(std::string_view key) {
    const std::uint64_t h = std::hash<std::string_view>{}(key);
    return h <= erased_tag ? h + 2 : h;
  }

  slot* lookup(std::string_view key, std::uint64_t hash) const {
    if (size_ == 0)
      return nullptr;
    const std::size_t mask = capacity_ - 1;
    for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
      slot& s = slots_[i];
      if (s.tag == empty_tag)
        return nullptr;
      if (s.tag == hash && s.node->first == key)
        return &s;
    }
  }

  /// The first empty or erased slot of `hash`'s probe sequence.
  slot* vacancy(std::uint64_t hash) {
    const std::size_t mask = capacity_ - 1;
    for (std::size_t i = hash & mask;; i = (i + 1) & mask)
      if (slots_[i].tag <= erased_tag)
        return &slots_[i];
  }

  /// A table for at least `count` entries at a load of at most 3/4, without
  /// tombstones.
  void rehash(size_type count) {
    std::size_t capacity = 16;
    while (capacity * 3 < count * 4 + 4)
      capacity *= 2;
    auto old = std::move(slots_);
    const std::size_t old_capacity = capacity_;
    slots_ = std::make_unique<slot[]>(capacity);
    capacity_ = capacity;
    used_ = size_;
    for (std::size_t i = 0; i < old_capacity; ++i)
      if (old[i].tag > erased_tag)
        *vacancy(old[i].tag) = old[i];
  }

  void destroy_nodes() {
    for (std::size_t i = 0; i < capacity_; ++i)
      if (slots_[i].tag > erased_tag)
        delete slots_[i].node;
  }

  std::unique_ptr<slot[]> slots_;
  std::size_t capacity_ = 0;
  std::size_t size_ = 0;
  std::size_t used_ = 0; // full and erased slots
};

} // namespace hearth
