#include "journal_port.hpp"

#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <pthread.h>
#include <thread>

#include "hearth/store/group_committer.hpp"

namespace hearth::actors {

journal_port::~journal_port() = default;

namespace {

void report_snapshot_failure(const store::snapshot& snap, const store::error& e) {
  std::fprintf(stderr, "hearth: snapshot of %s at %llu not saved: %s\n",
               snap.stream.c_str(), static_cast<unsigned long long>(snap.sequence),
               e.message.c_str());
}

class inline_port final : public journal_port {
public:
  inline_port(store::storage& storage, std::function<void()> after_write)
      : storage_(storage)
      , after_write_(std::move(after_write)) {}

  void append(store::append_request request, append_done done,
              std::chrono::microseconds) override {
    stats_.writes++;
    stats_.requests += 1 + request.together.size();
    stats_.events += request.events.size();
    for (const auto& other : request.together)
      stats_.events += other.events.size();
    done(storage_.events().append(std::move(request)));
    if (after_write_)
      after_write_();
  }

  store::group_commit_stats stats() const override { return stats_; }

  void flush() override {}

  void save_snapshot(store::snapshot snap) override {
    if (auto saved = storage_.snapshots().save(snap); !saved)
      report_snapshot_failure(snap, saved.error());
  }

  store::storage& storage() override { return storage_; }

private:
  store::storage& storage_;
  std::function<void()> after_write_;
  store::group_commit_stats stats_; // one thread: the test scheduler's
};

class group_commit_port final : public journal_port {
public:
  group_commit_port(store::storage& storage, std::function<void()> after_write)
      : storage_(storage)
      , committer_(storage.events(), options_with(std::move(after_write))) {
    snapshot_thread_ = std::thread([this] { save_snapshots(); });
    pthread_setname_np(snapshot_thread_.native_handle(), "hearth.snap");
  }

  ~group_commit_port() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wakeup_.notify_one();
    snapshot_thread_.join();
  }

  void append(store::append_request request, append_done done,
              std::chrono::microseconds may_wait) override {
    committer_.append(std::move(request), std::move(done), may_wait);
  }

  void flush() override { committer_.flush(); }

  store::group_commit_stats stats() const override { return committer_.stats(); }

  void save_snapshot(store::snapshot snap) override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      snapshots_.push_back(std::move(snap));
    }
    wakeup_.notify_one();
  }

  store::storage& storage() override { return storage_; }

private:
  static store::group_commit_options options_with(std::function<void()> after_write) {
    store::group_commit_options options;
    options.after_write = std::move(after_write);
    return options;
  }

  void save_snapshots() {
    for (;;) {
      store::snapshot snap;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wakeup_.wait(lock, [this] { return stopping_ || !snapshots_.empty(); });
        if (snapshots_.empty())
          return;
        snap = std::move(snapshots_.front());
        snapshots_.pop_front();
      }
      if (auto saved = storage_.snapshots().save(snap); !saved)
        report_snapshot_failure(snap, saved.error());
    }
  }

  store::storage& storage_;
  store::group_committer committer_;
  std::mutex mutex_;
  std::condition_variable wakeup_;
  std::deque<store::snapshot> snapshots_;
  bool stopping_ = false;
  std::thread snapshot_thread_;
};

} // namespace

std::unique_ptr<journal_port> make_inline_port(store::storage& storage,
                                               std::function<void()> after_write) {
  return std::make_unique<inline_port>(storage, std::move(after_write));
}

std::unique_ptr<journal_port> make_group_commit_port(store::storage& storage,
                                                     std::function<void()> after_write) {
  return std::make_unique<group_commit_port>(storage, std::move(after_write));
}

} // namespace hearth::actors
