// Not a test: the watchdog's test (watchdog_test.cpp) runs this program's
// test cases and reads what the watchdog prints.
#include <condition_variable>
#include <doctest/doctest.h>
#include <mutex>
#include <thread>

/// Blocks for good; its name must show in the watchdog's stacks.
[[gnu::noinline]] void hearth_probe_stuck_here() {
  std::mutex mutex;
  std::condition_variable never;
  std::unique_lock<std::mutex> lock(mutex);
  never.wait(lock, [] { return false; });
}

TEST_CASE("a test that never ends") {
  std::thread stuck(hearth_probe_stuck_here);
  stuck.join();
}

TEST_CASE("a test that ends in time") {
  CHECK(true);
}
