// A writer process killed with SIGKILL mid-write: after reopening, every
// stream holds whole batches only and every acknowledged append is there.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include "backends.hpp"
#include "hearth/store/group_committer.hpp"
#include "support/subprocess.hpp"

using namespace hearth;
using namespace hearth::testing;

namespace {

constexpr int streams_in_child = 40;

/// The child: 4 threads keep appending batches of 1..6 events to their
/// streams through a group committer and report each acknowledged append as
/// "stream last_sequence\n" on `report_fd`. It never returns.
[[noreturn]] void run_writer(const std::string& path, int report_fd, unsigned seed) {
  auto opened = store::open_rocksdb_storage(path);
  if (!opened)
    _exit(3);
  store::group_committer committer((*opened)->events());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 random(seed + static_cast<unsigned>(t));
      std::map<int, std::uint64_t> highest;
      for (std::uint64_t batch = 0;; ++batch) {
        const int stream_index = t + 4 * static_cast<int>(random() % (streams_in_child / 4));
        const std::string stream = "sandbox/s" + std::to_string(stream_index);
        const int size = 1 + static_cast<int>(random() % 6);
        store::append_request request;
        request.stream = stream;
        request.expected_sequence = highest[stream_index];
        for (int i = 0; i < size; ++i)
          request.events.push_back(make_event("b" + std::to_string(t) + "." + std::to_string(batch) + ":"
                                              + std::to_string(i) + "/" + std::to_string(size)));
        std::promise<store::result<store::append_ack>> acked;
        committer.append(std::move(request),
                         [&](store::result<store::append_ack> r) { acked.set_value(std::move(r)); });
        auto ack = acked.get_future().get();
        if (!ack)
          _exit(4);
        highest[stream_index] = ack->last_sequence;
        const std::string line = stream + " " + std::to_string(ack->last_sequence) + "\n";
        if (write(report_fd, line.data(), line.size()) != static_cast<ssize_t>(line.size()))
          _exit(5);
      }
    });
  }
  for (;;)
    pause();
}

struct batch_tag {
  std::string id;
  int index = 0;
  int size = 0;
};

batch_tag parse_tag(const std::string& payload) {
  batch_tag tag;
  const auto colon = payload.find(':');
  const auto slash = payload.find('/');
  tag.id = payload.substr(0, colon);
  tag.index = std::stoi(payload.substr(colon + 1, slash - colon - 1));
  tag.size = std::stoi(payload.substr(slash + 1));
  return tag;
}

} // namespace

TEST_CASE("a writer killed mid-write leaves whole batches and every acknowledged append") {
  for (unsigned round = 0; round < 3; ++round) {
    CAPTURE(round);
    temp_dir dir;
    const std::string path = dir.str("journal");
    int reports[2];
    REQUIRE(pipe(reports) == 0);
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      close(reports[0]);
      run_writer(path, reports[1], 1000 + round);
    }
    close(reports[1]);

    // Let the child get going, then kill it at an arbitrary moment.
    std::map<std::string, std::uint64_t> acknowledged;
    std::string pending;
    std::size_t lines = 0;
    const std::size_t kill_after = 200 + 300 * round;
    char buffer[4096];
    bool killed = false;
    for (;;) {
      const ssize_t got = read(reports[0], buffer, sizeof(buffer));
      if (got <= 0)
        break;
      pending.append(buffer, static_cast<std::size_t>(got));
      std::size_t newline;
      while ((newline = pending.find('\n')) != std::string::npos) {
        std::istringstream line(pending.substr(0, newline));
        pending.erase(0, newline + 1);
        std::string stream;
        std::uint64_t last = 0;
        line >> stream >> last;
        acknowledged[stream] = std::max(acknowledged[stream], last);
        ++lines;
      }
      if (!killed && lines >= kill_after) {
        kill(child, SIGKILL);
        killed = true; // keep reading what the child reported before dying
      }
    }
    int status = 0;
    waitpid(child, &status, 0);
    close(reports[0]);
    REQUIRE(killed);
    REQUIRE(WIFSIGNALED(status));

    // Inspect a copy, as an engineer would after an incident.
    std::filesystem::copy(path, dir.str("copy"), std::filesystem::copy_options::recursive);
    auto replay = run_command(binary("hearth") + " replay --data-dir " + dir.str("copy")
                              + " --json streams");
    CHECK(replay.exit_code == 0);
    CHECK(replay.out.find("\"stream\":\"sandbox/s") != std::string::npos);

    auto reopened = store::open_rocksdb_storage(path);
    REQUIRE(reopened);
    auto& journal = (*reopened)->events();
    for (const auto& [stream, last] : acknowledged) {
      CAPTURE(stream);
      auto read = journal.read_stream(stream);
      REQUIRE(read);
      CHECK(read->size() >= last); // every acknowledged append is there
      for (std::size_t k = 0; k < read->size(); ++k)
        CHECK((*read)[k].sequence == k + 1);
      // Whole batches only: each batch's events are together and complete.
      for (std::size_t k = 0; k < read->size();) {
        const auto head = parse_tag((*read)[k].payload);
        REQUIRE(head.index == 0);
        REQUIRE(k + static_cast<std::size_t>(head.size) <= read->size());
        for (int i = 0; i < head.size; ++i) {
          const auto tag = parse_tag((*read)[k + static_cast<std::size_t>(i)].payload);
          CHECK(tag.id == head.id);
          CHECK(tag.index == i);
        }
        k += static_cast<std::size_t>(head.size);
      }
    }
  }
}
