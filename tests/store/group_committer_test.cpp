#include <atomic>
#include <condition_variable>
#include <doctest/doctest.h>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "backends.hpp"
#include "hearth/store/group_committer.hpp"

using namespace hearth;
using namespace hearth::testing;

namespace {

/// Counts callbacks and lets the test wait for a number of them.
struct completions {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<store::result<store::append_ack>> results;

  store::group_committer::callback record() {
    return [this](store::result<store::append_ack> result) {
      std::lock_guard<std::mutex> lock(mutex);
      results.push_back(std::move(result));
      changed.notify_all();
    };
  }
  void wait_for(std::size_t count) {
    std::unique_lock<std::mutex> lock(mutex);
    changed.wait(lock, [&] { return results.size() >= count; });
  }
};

store::append_request single(std::string stream, std::uint64_t expected,
                             std::string payload) {
  store::append_request request;
  request.stream = std::move(stream);
  request.expected_sequence = expected;
  request.events.push_back(make_event(std::move(payload)));
  return request;
}

} // namespace

TEST_CASE("group commit: many queued appends share few durable writes") {
  rocksdb_backend backend;
  completions done;
  constexpr int streams = 500;
  {
    store::group_committer committer(backend.journal());
    for (int i = 0; i < streams; ++i)
      committer.append(single("sandbox/s-" + std::to_string(i), 0, "x"), done.record());
    done.wait_for(streams);
    const auto stats = committer.stats();
    CHECK(stats.requests == streams);
    CHECK(stats.events == streams);
    // The first write goes out alone; the rest queue up behind it.
    CHECK(stats.writes < streams / 2);
  }
  for (auto& result : done.results)
    CHECK(result);
  auto listed = backend.journal().list_streams();
  REQUIRE(listed);
  CHECK(listed->size() == streams);
}

namespace {

/// How many threads of this process are named `name` (/proc/self/task).
int threads_named(const std::string& name) {
  int count = 0;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string line;
    if (std::getline(comm, line) && line == name)
      ++count;
  }
  return count;
}

} // namespace

TEST_CASE("group commit: the writer's thread is named hearth.journal, for top -H and "
          "perf") {
  rocksdb_backend backend;
  const int before = threads_named("hearth.journal");
  {
    store::group_committer committer(backend.journal());
    CHECK(threads_named("hearth.journal") == before + 1);
  }
  CHECK(threads_named("hearth.journal") == before);
}

TEST_CASE(
    "group commit: appends carried together count as appends, their events as events") {
  rocksdb_backend backend;
  completions done;
  {
    store::group_committer committer(backend.journal());
    auto claim = single("pool/p", 0, "claimed");
    claim.together.push_back(single("sandbox/s", 0, "created"));
    claim.together.back().events.push_back(make_event("running"));
    committer.append(std::move(claim), done.record());
    done.wait_for(1);
    const auto stats = committer.stats();
    CHECK(stats.writes == 1);
    CHECK(stats.requests == 2);
    CHECK(stats.events == 3);
  }
  REQUIRE(done.results.size() == 1);
  CHECK(done.results.front());
}

TEST_CASE("group commit: a conflict fails only its own request") {
  rocksdb_backend backend;
  write_events(backend, "pool/p", 2);
  completions done;
  {
    store::group_committer committer(backend.journal());
    committer.append(single("pool/p", 1, "stale"), done.record());
    committer.append(single("pool/p", 2, "fresh"), done.record());
    done.wait_for(2);
  }
  REQUIRE_FALSE(done.results[0]);
  CHECK(done.results[0].error().code == store::errc::conflict);
  REQUIRE(done.results[1]);
  CHECK(done.results[1]->first_sequence == 3);
}

TEST_CASE("group commit: a callback may queue the stream's next append") {
  rocksdb_backend backend;
  std::mutex mutex;
  std::condition_variable finished;
  std::uint64_t acknowledged = 0;
  constexpr std::uint64_t total = 200;
  {
    store::group_committer committer(backend.journal());
    std::function<void(store::result<store::append_ack>)> next;
    next = [&](store::result<store::append_ack> result) {
      REQUIRE(result);
      std::lock_guard<std::mutex> lock(mutex);
      acknowledged = result->last_sequence;
      if (acknowledged < total)
        committer.append(single("pool/chain", acknowledged, "n"), next);
      else
        finished.notify_all();
    };
    committer.append(single("pool/chain", 0, "n"), next);
    std::unique_lock<std::mutex> lock(mutex);
    finished.wait(lock, [&] { return acknowledged == total; });
  }
  CHECK(*backend.journal().highest_sequence("pool/chain") == total);
}

TEST_CASE("group commit: the destructor writes what is still queued") {
  rocksdb_backend backend;
  completions done;
  {
    store::group_committer committer(backend.journal());
    for (int i = 0; i < 50; ++i)
      committer.append(single("pool/p" + std::to_string(i), 0, "x"), done.record());
  }
  CHECK(done.results.size() == 50);
  auto listed = backend.journal().list_streams();
  REQUIRE(listed);
  CHECK(listed->size() == 50);
}

TEST_CASE(
    "group commit: a request that may wait goes out with the next one that may not") {
  rocksdb_backend backend;
  completions done;
  store::group_committer committer(backend.journal());
  committer.append(single("sandbox/lazy", 0, "record"), done.record(),
                   std::chrono::hours(1));
  committer.append(single("pool/p", 0, "claim"), done.record());
  done.wait_for(2);
  CHECK(committer.stats().writes == 1);
  for (auto& result : done.results)
    CHECK(result);
}

TEST_CASE(
    "group commit: a request that may wait is written once its wait is over, or at a "
    "flush, or when the committer stops") {
  rocksdb_backend backend;
  completions done;
  {
    store::group_committer committer(backend.journal());
    committer.append(single("sandbox/a", 0, "alone"), done.record(),
                     std::chrono::milliseconds(20));
    done.wait_for(1); // nothing else comes: it goes out on its own
    committer.append(single("sandbox/b", 0, "flushed"), done.record(),
                     std::chrono::hours(1));
    committer.flush();
    done.wait_for(2);
    committer.append(single("sandbox/c", 0, "at stop"), done.record(),
                     std::chrono::hours(1));
    CHECK(committer.stats().writes == 2);
  }
  REQUIRE(done.results.size() == 3);
  for (auto& result : done.results)
    CHECK(result);
  CHECK(backend.journal().list_streams()->size() == 3);
}

TEST_CASE("group commit: after_write runs once per write, after that write's callbacks, "
          "with its events readable") {
  rocksdb_backend backend;
  completions done;
  std::mutex mutex;
  std::vector<std::size_t> callbacks_before; // callbacks run before each after_write
  std::vector<std::uint64_t> readable;       // the journal's last position then
  store::group_commit_options options;
  options.after_write = [&] {
    std::size_t ran = 0;
    {
      std::lock_guard<std::mutex> lock(done.mutex);
      ran = done.results.size();
    }
    std::lock_guard<std::mutex> lock(mutex);
    callbacks_before.push_back(ran);
    readable.push_back(*backend.journal().last_position());
  };
  std::uint64_t writes = 0;
  {
    store::group_committer committer(backend.journal(), options);
    for (int i = 0; i < 200; ++i)
      committer.append(single("pool/p" + std::to_string(i), 0, "x"), done.record());
    done.wait_for(200);
    writes = committer.stats().writes;
  } // joins the writer: its last after_write has run
  std::lock_guard<std::mutex> lock(mutex);
  CHECK(callbacks_before.size() == writes);
  REQUIRE_FALSE(callbacks_before.empty());
  CHECK(callbacks_before.back() == 200);
  CHECK(readable.back() == 200);
  for (std::size_t i = 1; i < callbacks_before.size(); ++i) {
    CHECK(callbacks_before[i] > callbacks_before[i - 1]);
    CHECK(readable[i] > readable[i - 1]);
  }
}
