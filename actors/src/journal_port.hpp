#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include "hearth/store/group_committer.hpp"
#include "hearth/store/storage.hpp"

namespace hearth::actors {

/// How actors reach the journal without blocking: `append` returns at once
/// and `done` runs later (on another thread in production, inline in the
/// deterministic test mode).
class journal_port {
public:
  using append_done = std::function<void(store::result<store::append_ack>)>;

  virtual ~journal_port();

  /// Appends `request`; `done` runs once it is durable or failed. A request
  /// with a nonzero `may_wait` may wait up to that long for other requests
  /// to share its sync (see `store::group_committer::append`).
  virtual void append(store::append_request request, append_done done,
                      std::chrono::microseconds may_wait) = 0;

  /// Writes what waits for company now.
  virtual void flush() = 0;

  /// Saves a snapshot off the actor's thread; a failure only costs a longer
  /// replay later, so it is logged, not reported.
  virtual void save_snapshot(store::snapshot snap) = 0;

  virtual store::storage& storage() = 0;

  /// Durable writes, appends and events so far.
  virtual store::group_commit_stats stats() const = 0;
};

/// Appends synchronously on the caller's thread: for the deterministic test
/// scheduler, where everything runs on one thread anyway. `after_write`
/// (if set) runs after each append.
std::unique_ptr<journal_port> make_inline_port(store::storage& storage,
                                               std::function<void()> after_write = {});

/// Group commit on a dedicated thread; snapshots on another. `after_write`
/// (if set) runs on the commit thread after each durable write.
std::unique_ptr<journal_port>
make_group_commit_port(store::storage& storage, std::function<void()> after_write = {});

} // namespace hearth::actors
