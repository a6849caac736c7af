#include "hearth/store/group_committer.hpp"

#include <vector>

namespace hearth::store {

group_committer::group_committer(journal& target, group_commit_options options)
  : target_(target), options_(options) {
  if (options_.max_batch_requests == 0)
    options_.max_batch_requests = 1;
  worker_ = std::thread([this] { run(); });
}

group_committer::~group_committer() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wakeup_.notify_one();
  worker_.join();
}

void group_committer::append(append_request request, callback done) {
  bool was_empty;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    was_empty = queue_.empty();
    queue_.push_back(pending{std::move(request), std::move(done)});
  }
  if (was_empty)
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
      wakeup_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty())
        return; // stopping and drained
      const std::size_t count = std::min(queue_.size(), options_.max_batch_requests);
      taken.clear();
      for (std::size_t i = 0; i < count; ++i) {
        taken.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    requests.clear();
    std::uint64_t event_count = 0;
    for (auto& item : taken) {
      event_count += item.request.events.size();
      requests.push_back(std::move(item.request));
    }
    auto results = target_.append_many(std::move(requests));
    requests = std::vector<append_request>();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ++stats_.writes;
      stats_.requests += taken.size();
      stats_.events += event_count;
    }
    for (std::size_t i = 0; i < taken.size(); ++i)
      taken[i].done(std::move(results[i]));
  }
}

} // namespace hearth::store
