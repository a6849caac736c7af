#pragma once

// A storage that forwards to a real one but fails the next appends to
// streams with a given prefix, as a full or broken disk would.

#include <atomic>
#include <mutex>
#include <string>

#include "hearth/store/storage.hpp"

namespace hearth::testing {

class faulty_journal final : public store::journal {
public:
  explicit faulty_journal(store::journal& inner)
      : inner_(inner) {}

  /// The next `count` appends to streams starting with `prefix` fail.
  void fail_next(std::string prefix, int count) {
    std::lock_guard<std::mutex> lock(mutex_);
    prefix_ = std::move(prefix);
    failures_ = count;
  }

  std::vector<store::result<store::append_ack>>
  append_many(std::vector<store::append_request> requests) override {
    std::vector<store::result<store::append_ack>> out(
        requests.size(), store::result<store::append_ack>{store::error{}});
    std::vector<store::append_request> passed;
    std::vector<std::size_t> where;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (std::size_t i = 0; i < requests.size(); ++i) {
        // An append carried with another fails the whole request.
        bool hit = requests[i].stream.rfind(prefix_, 0) == 0;
        for (const auto& other : requests[i].together)
          hit = hit || other.stream.rfind(prefix_, 0) == 0;
        if (failures_ > 0 && hit) {
          --failures_;
          out[i] = store::error{store::errc::io_error, "injected: the disk failed"};
        } else {
          passed.push_back(std::move(requests[i]));
          where.push_back(i);
        }
      }
    }
    auto results = inner_.append_many(std::move(passed));
    for (std::size_t k = 0; k < where.size(); ++k)
      out[where[k]] = std::move(results[k]);
    return out;
  }

  using store::journal::read_stream;
  store::result<std::uint64_t> read_stream(std::string_view s, std::uint64_t f,
                                           std::uint64_t t, std::uint64_t m,
                                           const store::event_visitor& v) override {
    return inner_.read_stream(s, f, t, m, v);
  }
  store::result<std::uint64_t> highest_sequence(std::string_view s) override {
    return inner_.highest_sequence(s);
  }
  store::result<std::uint64_t> read_all(std::uint64_t f, std::uint64_t m,
                                        const store::event_visitor& v) override {
    return inner_.read_all(f, m, v);
  }
  store::result<std::uint64_t> last_position() override { return inner_.last_position(); }
  store::result<void> delete_up_to(std::string_view s, std::uint64_t to) override {
    return inner_.delete_up_to(s, to);
  }
  store::result<std::vector<store::stream_info>> list_streams() override {
    return inner_.list_streams();
  }

private:
  store::journal& inner_;
  std::mutex mutex_;
  std::string prefix_;
  int failures_ = 0;
};

class faulty_storage final : public store::storage {
public:
  explicit faulty_storage(std::unique_ptr<store::storage> inner)
      : inner_(std::move(inner))
      , journal_(inner_->events()) {}

  store::journal& events() override { return journal_; }
  store::snapshot_store& snapshots() override { return inner_->snapshots(); }
  const std::string& path() const override { return inner_->path(); }
  faulty_journal& faults() { return journal_; }

private:
  std::unique_ptr<store::storage> inner_;
  faulty_journal journal_;
};

} // namespace hearth::testing
