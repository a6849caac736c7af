// A writer process (crash_writer.cpp) killed with SIGKILL mid-write: after
// reopening, every stream holds whole batches only, every acknowledged
// append is there, and so is every snapshot whose save returned (snapshots
// are written without an fsync of their own).
#include <chrono>
#include <doctest/doctest.h>
#include <filesystem>
#include <map>
#include <sstream>
#include <utility>
#include <vector>

#include "backends.hpp"
#include "support/child_reports.hpp"
#include "support/subprocess.hpp"

using namespace hearth;
using namespace hearth::testing;
using namespace std::chrono_literals;

namespace {

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

TEST_CASE(
    "a writer killed mid-write leaves whole batches, every acknowledged append and every "
    "saved snapshot") {
  for (unsigned round = 0; round < 3; ++round) {
    CAPTURE(round);
    temp_dir dir;
    const std::string path = dir.str("journal");
    const auto child =
        start_reporting_child({HEARTH_CRASH_WRITER, path, std::to_string(1000 + round)});
    REQUIRE(child.pid > 0);

    // Let the child get going, then kill it at an arbitrary moment.
    std::map<std::string, std::uint64_t> acknowledged;
    std::vector<std::pair<std::string, std::uint64_t>> snapshots;
    const std::size_t kill_after = 200 + 300 * round;
    const auto reports =
        read_until_killed(child, kill_after, 60s, [&](const std::string& text) {
          std::istringstream line(text);
          std::string stream;
          std::uint64_t last = 0;
          line >> stream;
          if (stream == "snapshot") {
            line >> stream >> last;
            snapshots.emplace_back(stream, last);
            return;
          }
          line >> last;
          acknowledged[stream] = std::max(acknowledged[stream], last);
        });
    REQUIRE_MESSAGE(!reports.stuck, "the writer reported "
                                        << reports.lines
                                        << " appends, then nothing for 60 s");
    REQUIRE_MESSAGE(WIFSIGNALED(reports.status), "the writer exited with status "
                                                     << WEXITSTATUS(reports.status)
                                                     << " after " << reports.lines
                                                     << " appends");
    REQUIRE(reports.lines >= kill_after);

    // Inspect a copy, as an engineer would after an incident.
    std::filesystem::copy(path, dir.str("copy"),
                          std::filesystem::copy_options::recursive);
    auto replay = run_command(binary("hearth") + " replay --data-dir " + dir.str("copy") +
                              " --json streams");
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
    CHECK(snapshots.size() > 10);
    for (const auto& [stream, sequence] : snapshots) {
      CAPTURE(stream);
      CAPTURE(sequence);
      auto loaded = (*reopened)->snapshots().load(stream, sequence);
      REQUIRE(loaded);
      REQUIRE(loaded->has_value());
      CHECK((*loaded)->sequence == sequence);
      CHECK((*loaded)->data == snapshot_data(stream, sequence));
    }
  }
}
