// The writer store/crash_test.cpp kills: `crash_writer JOURNAL SEED FD`.
// 4 threads keep appending batches of 1..6 events to 40 streams through a
// group committer and report each acknowledged append as
// "stream last_sequence\n" on file descriptor FD. The first thread also saves
// a snapshot of its stream after each of its appends, as an actor does, and
// reports it as "snapshot stream sequence\n" once `save` returned. It never
// returns.
//
// A program of its own, not a forked copy of the test (see
// support/child_reports.hpp).
#define DOCTEST_CONFIG_DISABLE
#include <cstdio>
#include <cstdlib>
#include <future>
#include <map>
#include <random>
#include <thread>
#include <unistd.h>

#include "backends.hpp"
#include "hearth/store/group_committer.hpp"

using namespace hearth;
using namespace hearth::testing;

namespace {

constexpr int streams_in_child = 40;

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "crash_writer: %s\n", what.c_str());
  std::_Exit(3); // not exit(): the other threads go on using what exit() destroys
}

[[noreturn]] void run_writer(const std::string& path, int report_fd, unsigned seed) {
  auto opened = store::open_rocksdb_storage(path);
  if (!opened)
    fail("cannot open the journal: " + opened.error().message);
  store::group_committer committer((*opened)->events());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 random(seed + static_cast<unsigned>(t));
      std::map<int, std::uint64_t> highest;
      for (std::uint64_t batch = 0;; ++batch) {
        const int stream_index =
            t + 4 * static_cast<int>(random() % (streams_in_child / 4));
        const std::string stream = "sandbox/s" + std::to_string(stream_index);
        const int size = 1 + static_cast<int>(random() % 6);
        store::append_request request;
        request.stream = stream;
        request.expected_sequence = highest[stream_index];
        for (int i = 0; i < size; ++i)
          request.events.push_back(
              make_event("b" + std::to_string(t) + "." + std::to_string(batch) + ":" +
                         std::to_string(i) + "/" + std::to_string(size)));
        std::promise<store::result<store::append_ack>> acked;
        committer.append(std::move(request), [&](store::result<store::append_ack> r) {
          acked.set_value(std::move(r));
        });
        auto ack = acked.get_future().get();
        if (!ack)
          fail("an append failed: " + ack.error().message);
        highest[stream_index] = ack->last_sequence;
        std::string line = stream + " " + std::to_string(ack->last_sequence) + "\n";
        if (t == 0) {
          const store::snapshot snap{stream, ack->last_sequence, 0,
                                     snapshot_data(stream, ack->last_sequence)};
          if (auto saved = (*opened)->snapshots().save(snap); !saved)
            fail("a snapshot failed: " + saved.error().message);
          line += "snapshot " + stream + " " + std::to_string(ack->last_sequence) + "\n";
        }
        if (write(report_fd, line.data(), line.size()) !=
            static_cast<ssize_t>(line.size()))
          fail("cannot report an append on file descriptor " + std::to_string(report_fd));
      }
    });
  }
  for (;;)
    pause();
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: crash_writer JOURNAL SEED FD\n");
    return 2;
  }
  run_writer(argv[1], std::atoi(argv[3]),
             static_cast<unsigned>(std::strtoul(argv[2], nullptr, 10)));
}
