// bench/journal: durable append throughput and latency of the RocksDB journal
// with group commit and with one fsync per append, and full replay speed.
#include <CLI/CLI.hpp>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>
#include <thread>

#include "bench_util.hpp"
#include "hearth/malloc/huge_pages.hpp"
#include "hearth/store/group_committer.hpp"
#include "hearth/store/storage.hpp"

using namespace hearth;
using namespace hearth::bench;

namespace {

struct run_result {
  double appends_per_second = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  double mean_batch = 0;
};

/// `streams` writers each keep one single-event append in flight, for
/// `duration`. The writers are driven from one client thread (standing in for
/// the actors that would issue them); acknowledgements hop back to it.
run_result run_appends(store::journal& journal, int streams, std::size_t max_batch,
                       std::chrono::milliseconds duration) {
  store::group_commit_options options;
  options.max_batch_requests = max_batch;
  store::group_committer committer(journal, options);
  const std::string payload(100, 'p');

  std::mutex mutex;
  std::condition_variable acked;
  std::deque<std::pair<int, store::result<store::append_ack>>> completions;
  std::vector<std::uint64_t> highest(static_cast<std::size_t>(streams), 0);
  std::vector<clock::time_point> sent_at(static_cast<std::size_t>(streams));
  std::vector<double> latencies_ms;
  latencies_ms.reserve(1 << 20);

  auto issue = [&](int stream) {
    store::append_request request;
    request.stream = "bench/s" + std::to_string(stream);
    request.expected_sequence = highest[static_cast<std::size_t>(stream)];
    request.events.push_back(store::new_event{"bench.appended", 1, payload, "", 0});
    sent_at[static_cast<std::size_t>(stream)] = clock::now();
    committer.append(std::move(request), [&, stream](store::result<store::append_ack> r) {
      std::lock_guard<std::mutex> lock(mutex);
      completions.emplace_back(stream, std::move(r));
      acked.notify_one();
    });
  };

  const auto start = clock::now();
  const auto stop_at = start + duration;
  for (int s = 0; s < streams; ++s)
    issue(s);
  std::uint64_t done = 0;
  int outstanding = streams;
  std::deque<std::pair<int, store::result<store::append_ack>>> batch;
  while (outstanding > 0) {
    {
      std::unique_lock<std::mutex> lock(mutex);
      acked.wait(lock, [&] { return !completions.empty(); });
      batch.swap(completions);
    }
    const auto now = clock::now();
    const bool stopping = now >= stop_at;
    for (auto& [stream, result] : batch) {
      --outstanding;
      if (!result) {
        std::fprintf(stderr, "append failed: %s\n", result.error().message.c_str());
        std::exit(1);
      }
      highest[static_cast<std::size_t>(stream)] = result->last_sequence;
      latencies_ms.push_back(std::chrono::duration<double, std::milli>(
                                 now - sent_at[static_cast<std::size_t>(stream)])
                                 .count());
      ++done;
      if (!stopping) {
        issue(stream);
        ++outstanding;
      }
    }
    batch.clear();
  }
  const double elapsed = seconds_since(start);
  const auto stats = committer.stats();
  run_result out;
  out.appends_per_second = static_cast<double>(done) / elapsed;
  out.p50_ms = percentile(latencies_ms, 50);
  out.p99_ms = percentile(latencies_ms, 99);
  out.mean_batch =
      stats.writes ? static_cast<double>(stats.events) / static_cast<double>(stats.writes)
                   : 0;
  return out;
}

/// The storage options every run opens the journal with (`--rocksdb-memtable`).
store::storage_options journal_options;

std::unique_ptr<store::storage> open_fresh(const std::string& path, bool sync = true) {
  std::filesystem::remove_all(path);
  store::storage_options options = journal_options;
  options.sync = sync;
  auto opened = store::open_rocksdb_storage(path, options);
  if (!opened) {
    std::fprintf(stderr, "%s\n", opened.error().message.c_str());
    std::exit(1);
  }
  return std::move(*opened);
}

/// Writes `total` events over 1,000 streams, then reopens and times one full
/// read in global order (decode and checksum of every record included).
double replay_events_per_second(const std::string& path, std::uint64_t total) {
  {
    auto storage = open_fresh(path, false);
    const std::string payload(100, 'p');
    constexpr int streams = 1000;
    std::vector<std::uint64_t> highest(streams, 0);
    std::uint64_t written = 0;
    while (written < total) {
      std::vector<store::append_request> requests;
      for (int s = 0; s < streams && written < total; ++s) {
        store::append_request request;
        request.stream = "bench/s" + std::to_string(s);
        request.expected_sequence = highest[static_cast<std::size_t>(s)];
        for (int e = 0; e < 10 && written < total; ++e, ++written)
          request.events.push_back(store::new_event{"bench.appended", 1, payload, "", 0});
        highest[static_cast<std::size_t>(s)] += request.events.size();
        requests.push_back(std::move(request));
      }
      for (auto& result : storage->events().append_many(std::move(requests)))
        if (!result) {
          std::fprintf(stderr, "%s\n", result.error().message.c_str());
          std::exit(1);
        }
    }
  }
  auto reopened = store::open_rocksdb_storage(path, journal_options);
  if (!reopened)
    std::exit(1);
  const auto start = clock::now();
  std::uint64_t seen = 0;
  std::uint64_t bytes = 0;
  auto read = (*reopened)->events().read_all(1, store::max_sequence,
                                             [&](const events::envelope& event) {
                                               ++seen;
                                               bytes += event.payload.size();
                                               return true;
                                             });
  const double elapsed = seconds_since(start);
  if (!read || seen != total) {
    std::fprintf(stderr, "replay read %llu of %llu events\n",
                 static_cast<unsigned long long>(seen),
                 static_cast<unsigned long long>(total));
    std::exit(1);
  }
  return static_cast<double>(seen) / elapsed;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench/journal: durable appends and replay of the RocksDB journal"};
  std::string dir =
      (std::filesystem::temp_directory_path() / "hearth-bench-journal").string();
  double seconds = 3;
  std::uint64_t replay_events = 1'000'000;
  app.add_option("--dir", dir, "scratch directory (on the disk to measure)")
      ->capture_default_str();
  app.add_option("--seconds", seconds, "duration of each append run")
      ->capture_default_str();
  app.add_option("--replay-events", replay_events,
                 "size of the replayed journal (0: skip)")
      ->capture_default_str();
  std::vector<int> stream_counts{1, 16, 1000};
  app.add_option("--streams", stream_counts, "concurrent streams of the append runs")
      ->capture_default_str();
  bool no_sync = false;
  app.add_flag("--no-sync", no_sync, "skip fsync (shows the CPU-bound ceiling)");
  bool rocksdb_memtable = false;
  app.add_flag("--rocksdb-memtable", rocksdb_memtable,
               "keep unflushed writes in RocksDB's skiplist instead of hearth's "
               "(for comparison)");
  CLI11_PARSE(app, argc, argv);
  journal_options.hearth_memtable = !rocksdb_memtable;
  const auto duration = std::chrono::milliseconds(static_cast<long>(seconds * 1000));

  std::printf(
      "bench/journal: RocksDB journal in %s, 100-byte payloads, fsync %s, heap %s "
      "huge pages\n",
      dir.c_str(), no_sync ? "OFF" : "on",
      hearth::heap::huge_pages_active() ? "in" : "without");
  std::printf("%-34s %12s %10s %10s %10s\n", "run", "appends/s", "p50 ms", "p99 ms",
              "batch");
  std::vector<figure> figures;
  double group_1000 = 0;
  double single_1000 = 0;
  for (int streams : stream_counts) {
    for (bool grouped : {true, false}) {
      auto storage = open_fresh(dir + "/appends", !no_sync);
      auto r = run_appends(storage->events(), streams, grouped ? 1u << 20 : 1, duration);
      const std::string label =
          std::string(grouped ? "group commit" : "one fsync per append") + ", " +
          std::to_string(streams) + " streams";
      std::printf("%-34s %12.0f %10.3f %10.3f %10.1f\n", label.c_str(),
                  r.appends_per_second, r.p50_ms, r.p99_ms, r.mean_batch);
      std::fflush(stdout);
      if (grouped) {
        figures.push_back(
            {"durable appends/s, group commit, " + std::to_string(streams) + " streams",
             r.appends_per_second, "1/s", streams == 1000 ? ">= 250000" : ""});
        if (streams == 1) {
          figures.push_back({"append latency p50, 1 stream", r.p50_ms, "ms", "<= 0.3"});
          figures.push_back({"append latency p99, 1 stream", r.p99_ms, "ms", ""});
        }
        if (streams == 1000) {
          group_1000 = r.appends_per_second;
          figures.push_back({"append latency p50, 1000 streams", r.p50_ms, "ms", ""});
          figures.push_back({"append latency p99, 1000 streams", r.p99_ms, "ms", ""});
        }
      } else if (streams == 1000) {
        single_1000 = r.appends_per_second;
        figures.push_back({"durable appends/s, one fsync per append, 1000 streams",
                           r.appends_per_second, "1/s", "baseline"});
      }
    }
  }
  figures.push_back({"group commit / one fsync per append, 1000 streams",
                     single_1000 > 0 ? group_1000 / single_1000 : 0, "x", ">= 40"});

  if (replay_events > 0) {
    const double replay = replay_events_per_second(dir + "/replay", replay_events);
    std::printf("full replay of %llu events: %.0f events/s\n",
                static_cast<unsigned long long>(replay_events), replay);
    figures.push_back({"full replay, " + std::to_string(replay_events) + " events",
                       replay, "1/s", ">= 1000000"});
  }
  std::filesystem::remove_all(dir);
  print_figures("journal", figures);
  return 0;
}
