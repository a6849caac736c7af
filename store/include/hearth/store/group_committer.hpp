#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "hearth/store/journal.hpp"

namespace hearth::store {

/// Limits of a group committer.
struct group_commit_options {
  /// Requests written by one durable write at most.
  // Default: 4096
  std::size_t max_batch_requests = 4096;
  /// Runs on the committer's thread after each write, once its callbacks
  /// have run (a failed write's too): a signal that the journal may have
  /// grown, for whoever follows it. It must not block.
  std::function<void()> after_write;
};

/// Counters of a group committer, for benchmarks and metrics.
struct group_commit_stats {
  std::uint64_t writes = 0;
  /// Appends, each stream's carried along with a request's counted apart.
  std::uint64_t requests = 0;
  std::uint64_t events = 0;
};

/// Makes many writers share one durable write. `append` queues a request and
/// returns at once; a dedicated thread takes everything queued, writes it with
/// one `journal::append_many` (one fsync), then calls each request's callback
/// on that thread. So a caller never blocks, and under load a write carries
/// whatever arrived while the previous one was being synced.
class group_committer {
public:
  using callback = std::function<void(result<append_ack>)>;

  explicit group_committer(journal& target, group_commit_options options = {});

  /// Writes what is still queued, then stops the thread.
  ~group_committer();

  group_committer(const group_committer&) = delete;
  group_committer& operator=(const group_committer&) = delete;

  /// Queues `request`; `done` runs on the committer's thread once the request
  /// is durable or has failed. `done` may call `append` again.
  ///
  /// `may_wait`: how long the request may wait for company. Zero (the
  /// default) starts a write at once; otherwise the request goes out with the
  /// next write anyone starts, or after `may_wait` at the latest. For events
  /// nobody waits on, it saves a sync of their own, which would otherwise
  /// delay whoever comes next.
  void append(append_request request, callback done,
              std::chrono::microseconds may_wait = std::chrono::microseconds::zero());

  /// Starts a write of everything queued now, however long it may wait.
  void flush();

  group_commit_stats stats() const;

private:
  using clock = std::chrono::steady_clock;

  struct pending {
    append_request request;
    callback done;
  };

  void run();

  journal& target_;
  group_commit_options options_;
  mutable std::mutex mutex_;
  std::condition_variable wakeup_;
  std::deque<pending> queue_;
  clock::time_point due_{}; // when the queue must be written, at the latest
  bool stopping_ = false;
  group_commit_stats stats_;
  std::thread worker_;
};

} // namespace hearth::store
