#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <dirent.h>
#include <doctest/doctest.h>
#include <execinfo.h>
#include <mutex>
#include <semaphore.h>
#include <signal.h>
#include <string>
#include <sys/syscall.h>
#include <thread>
#include <time.h>
#include <unistd.h>

// A test that hangs is killed by CTest at its timeout and prints nothing, so
// a CI log names the test but not where it stuck. The watchdog below ends a
// test case that runs longer than HEARTH_TEST_WATCHDOG_S seconds (default:
// 30 s below CTest's limit, HEARTH_TEST_TIMEOUT_S) itself: it names the test
// case, prints every thread's stack (test executables export their symbols,
// so the frames have names) and aborts. CI machines have no gdb; this needs
// none.

namespace {

using watchdog_clock = std::chrono::steady_clock;

/// Posted by each thread once it printed its stack (sem_post is
/// async-signal-safe; a condition variable is not).
sem_t stack_printed;

void write_text(const char* text, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(STDERR_FILENO, text, size);
    if (n <= 0)
      return;
    text += n;
    size -= static_cast<std::size_t>(n);
  }
}

void write_text(const std::string& text) {
  write_text(text.data(), text.size());
}

/// Runs on the signalled thread: only async-signal-safe calls, after
/// backtrace() was called once outside a handler (its first call loads
/// libgcc, which allocates).
void print_own_stack(int) {
  char head[48] = "\n-- thread ";
  std::size_t at = 11;
  char digits[16];
  std::size_t n = 0;
  for (long tid = ::syscall(SYS_gettid); tid > 0 && n < sizeof digits; tid /= 10)
    digits[n++] = static_cast<char>('0' + tid % 10);
  while (n > 0)
    head[at++] = digits[--n];
  head[at++] = '\n';
  write_text(head, at);
  void* frames[64];
  const int depth = ::backtrace(frames, 64);
  ::backtrace_symbols_fd(frames, depth, STDERR_FILENO);
  ::sem_post(&stack_printed);
}

int stack_signal() {
  return SIGRTMIN + 5;
}

/// Asks every other thread of the process to print its stack, one at a time,
/// waiting up to a second for each (a thread that blocks the signal stays
/// silent).
void print_every_stack() {
  DIR* tasks = ::opendir("/proc/self/task");
  if (tasks == nullptr)
    return;
  const long self = ::syscall(SYS_gettid);
  while (const dirent* entry = ::readdir(tasks)) {
    const long tid = std::atol(entry->d_name);
    if (tid <= 0 || tid == self)
      continue;
    if (::syscall(SYS_tgkill, ::getpid(), tid, stack_signal()) != 0)
      continue;
    timespec deadline{};
    ::clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 1;
    while (::sem_timedwait(&stack_printed, &deadline) != 0 && errno == EINTR) {
    }
  }
  ::closedir(tasks);
}

struct watchdog {
  std::mutex mutex;
  std::condition_variable changed;
  std::string test_case;
  watchdog_clock::time_point deadline;
  bool running = false;
  bool watching = false; // the thread waits for test cases
  std::chrono::seconds limit{HEARTH_TEST_TIMEOUT_S - 30};

  watchdog() {
    if (const char* text = std::getenv("HEARTH_TEST_WATCHDOG_S"); text != nullptr)
      limit = std::chrono::seconds(std::max(1L, std::atol(text)));
    ::sem_init(&stack_printed, 0, 0);
    void* warm_up[1];
    ::backtrace(warm_up, 1);
    struct sigaction action {};
    action.sa_handler = print_own_stack;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    ::sigaction(stack_signal(), &action, nullptr);
    // Some tests fork children that go on running code (one holds a
    // journal open in store/failure_test.cpp). A thread that is starting
    // holds locks of the allocator (ASan's, at least), and a child forked
    // meanwhile deadlocks on them at its first allocation. So the thread is
    // started before any test case and parked before the first one begins.
    std::thread([this] { watch(); }).detach();
    std::unique_lock<std::mutex> lock(mutex);
    changed.wait(lock, [&] { return watching; });
  }

  void start(const char* name) {
    std::lock_guard<std::mutex> lock(mutex);
    test_case = name;
    deadline = watchdog_clock::now() + limit;
    running = true;
    changed.notify_all();
  }

  void end() {
    std::lock_guard<std::mutex> lock(mutex);
    running = false;
    changed.notify_all();
  }

  [[noreturn]] void watch() {
    std::unique_lock<std::mutex> lock(mutex);
    watching = true;
    changed.notify_all();
    for (;;) {
      changed.wait(lock, [&] { return running; });
      if (changed.wait_until(lock, deadline, [&] { return !running; }))
        continue;
      // doctest's SIGABRT handler reports the end of the test case, which
      // takes the mutex.
      const std::string name = test_case;
      lock.unlock();
      write_text("\nwatchdog: test case \"" + name + "\" has run for " +
                 std::to_string(limit.count()) +
                 " s; the stacks of its threads follow\n");
      print_every_stack();
      write_text("\nwatchdog: aborting \"" + name + "\"\n");
      std::abort();
    }
  }
};

watchdog& the_watchdog() {
  static auto* instance = new watchdog; // lives as long as its detached thread
  return *instance;
}

struct watchdog_listener : doctest::IReporter {
  // doctest makes its listeners before it runs the first test case.
  explicit watchdog_listener(const doctest::ContextOptions&) { the_watchdog(); }
  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats&) override {}
  void test_case_start(const doctest::TestCaseData& data) override {
    the_watchdog().start(data.m_name);
  }
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_end(const doctest::CurrentTestCaseStats&) override {
    the_watchdog().end();
  }
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}
};

} // namespace

DOCTEST_REGISTER_LISTENER("watchdog", 1, watchdog_listener);
