#include "hearth/store/group_committer.hpp"

#include <pthread.h>
#include <vector>

namespace hearth::store {

group_committer::group_committer(journal& target, group_commit_options options)
    : target_(target)
    , options_(options) {
  if (options_.max_batch_requests == 0)
    options_.max_batch_requests = 1;
  worker_ = std::thread([this] { run(); });
  // Named for `top -H` and `perf`: the journal's writes all run there.
  pthread_setname_np(worker_.native_handle(), "hearth.journal");
}

group_committer::~group_committer() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wakeup_.notify_one();
  worker_.join();
}

void group_committer::append(append_request request, callback done,
                             std::chrono::microseconds may_wait) {
  const auto due = clock::now() + may_wait;
  bool sooner;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    sooner = queue_.empty() || due < due_;
    if (sooner)
      due_ = due;
    queue_.push_back(pending{std::move(request), std::move(done)});
  }
  if (sooner)
    wakeup_.notify_one();
}

void group_committer::flush() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (queue_.empty())
      return;
    due_ = clock::now();
  }
  wakeup_.notify_one();
}

group_commit_stats group_committer::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void group_committer::run() {
  std::vector<pending> taken;
  std::vector<append_request> requests;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      for (;;) {
        if (queue_.empty()) {
          if (stopping_)
            return; // drained
          wakeup_.wait(lock);
        } else if (stopping_ || due_ <= clock::now()) {
          break;
        } else {
          wakeup_.wait_until(lock, due_);
        }
      }
      // What a full batch leaves queued is due already (`due_` has passed).
      const std::size_t count = std::min(queue_.size(), options_.max_batch_requests);
      taken.clear();
      for (std::size_t i = 0; i < count; ++i) {
        taken.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    requests.clear();
    std::uint64_t event_count = 0;
    std::uint64_t append_count = 0;
    for (auto& item : taken) {
      append_count += 1 + item.request.together.size();
      event_count += item.request.events.size();
      for (const auto& other : item.request.together)
        event_count += other.events.size();
      requests.push_back(std::move(item.request));
    }
    auto results = target_.append_many(std::move(requests));
    requests = std::vector<append_request>();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ++stats_.writes;
      stats_.requests += append_count;
      stats_.events += event_count;
    }
    for (std::size_t i = 0; i < taken.size(); ++i)
      taken[i].done(std::move(results[i]));
    if (options_.after_write)
      options_.after_write();
  }
}

} // namespace hearth::store
