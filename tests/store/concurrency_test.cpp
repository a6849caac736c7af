#include <doctest/doctest.h>
#include <future>
#include <map>
#include <thread>

#include "backends.hpp"
#include "hearth/store/group_committer.hpp"

using namespace hearth;
using namespace hearth::testing;

namespace {

constexpr int writer_count = 8;
constexpr int appends_per_writer = 150;
constexpr int shared_streams = 3;

/// Each writer appends "w<writer>:<i>" to the shared streams in turn, with
/// optimistic concurrency: read the highest, append, retry on conflict.
template <class Backend>
void run_writers(Backend& backend) {
  std::vector<std::thread> writers;
  for (int w = 0; w < writer_count; ++w) {
    writers.emplace_back([&backend, w] {
      for (int i = 0; i < appends_per_writer; ++i) {
        const std::string stream = "pool/shared-" + std::to_string(i % shared_streams);
        for (;;) {
          auto highest = backend.journal().highest_sequence(stream);
          if (!highest) {
            FAIL_CHECK(highest.error().message);
            return;
          }
          store::append_request request;
          request.stream = stream;
          request.expected_sequence = *highest;
          request.events.push_back(
              make_event("w" + std::to_string(w) + ":" + std::to_string(i)));
          auto ack = backend.journal().append(std::move(request));
          if (ack)
            break;
          if (ack.error().code != store::errc::conflict) {
            FAIL_CHECK(ack.error().message);
            return;
          }
        }
      }
    });
  }
  for (auto& writer : writers)
    writer.join();
}

template <class Backend>
void check_order(Backend& backend) {
  std::size_t total = 0;
  for (int s = 0; s < shared_streams; ++s) {
    const std::string stream = "pool/shared-" + std::to_string(s);
    auto read = backend.journal().read_stream(stream);
    REQUIRE(read);
    std::map<int, int> last_index_of_writer;
    for (std::size_t k = 0; k < read->size(); ++k) {
      const auto& event = (*read)[k];
      CHECK(event.sequence == k + 1); // gap-free
      const auto colon = event.payload.find(':');
      const int writer = std::stoi(event.payload.substr(1, colon - 1));
      const int index = std::stoi(event.payload.substr(colon + 1));
      auto [it, fresh] = last_index_of_writer.emplace(writer, index);
      if (!fresh) {
        CHECK(index > it->second); // each writer's order is kept
        it->second = index;
      }
    }
    total += read->size();
  }
  CHECK(total == static_cast<std::size_t>(writer_count * appends_per_writer));
}

} // namespace

TEST_CASE_TEMPLATE("8 concurrent writers keep per-stream order and gap-free sequences",
                   Backend, memory_backend, rocksdb_backend) {
  Backend backend;
  run_writers(backend);
  check_order(backend);
}

TEST_CASE("8 writers through one group committer keep order and gap-free sequences") {
  rocksdb_backend backend;
  store::group_committer committer(backend.journal());
  std::vector<std::thread> writers;
  std::atomic<int> failures{0};
  for (int w = 0; w < writer_count; ++w) {
    writers.emplace_back([&, w] {
      // Each writer owns a stream and keeps one append in flight at a time.
      const std::string stream = "sandbox/w" + std::to_string(w);
      for (int i = 0; i < appends_per_writer; ++i) {
        std::promise<store::result<store::append_ack>> acked;
        store::append_request request;
        request.stream = stream;
        request.expected_sequence = static_cast<std::uint64_t>(i);
        request.events.push_back(make_event(std::to_string(i)));
        committer.append(std::move(request),
                         [&acked](store::result<store::append_ack> r) {
                           acked.set_value(std::move(r));
                         });
        if (!acked.get_future().get())
          ++failures;
      }
    });
  }
  for (auto& writer : writers)
    writer.join();
  CHECK(failures == 0);
  for (int w = 0; w < writer_count; ++w) {
    auto read = backend.journal().read_stream("sandbox/w" + std::to_string(w));
    REQUIRE(read);
    REQUIRE(read->size() == static_cast<std::size_t>(appends_per_writer));
    for (std::size_t k = 0; k < read->size(); ++k)
      CHECK((*read)[k].payload == std::to_string(k));
  }
}
