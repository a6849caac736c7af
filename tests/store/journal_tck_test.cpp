// The journal test list of the Akka Persistence TCK (JournalSpec), run against
// the RocksDB and the in-memory journal. Each case starts with one stream
// holding events 1..5.
#include <doctest/doctest.h>

#include "backends.hpp"

using namespace hearth;
using namespace hearth::testing;
using seqs = std::vector<std::uint64_t>;

namespace {

constexpr const char* pid = "pool/p-1";

template <class Backend>
struct journal_fixture : Backend {
  journal_fixture() { write_events(*this, pid, 5); }
};

} // namespace

#define JOURNAL_TCK(name)                                                                \
  TEST_CASE_TEMPLATE("journal: " name, Backend, memory_backend, rocksdb_backend)

JOURNAL_TCK("replays all events") {
  journal_fixture<Backend> f;
  auto all = f.journal().read_stream(pid);
  CHECK(sequences(all) == seqs{1, 2, 3, 4, 5});
  REQUIRE(all);
  CHECK((*all)[2].payload == "e3");
  CHECK((*all)[2].stream == pid);
  CHECK((*all)[2].type == "test.event");
}

JOURNAL_TCK("replays from a lower bound") {
  journal_fixture<Backend> f;
  CHECK(sequences(f.journal().read_stream(pid, 3)) == seqs{3, 4, 5});
}

JOURNAL_TCK("replays up to an upper bound and still reports the highest") {
  journal_fixture<Backend> f;
  CHECK(sequences(f.journal().read_stream(pid, 1, 3)) == seqs{1, 2, 3});
  CHECK(*f.journal().highest_sequence(pid) == 5);
}

JOURNAL_TCK("replays at most max count events") {
  journal_fixture<Backend> f;
  CHECK(sequences(f.journal().read_stream(pid, 1, store::max_sequence, 2)) == seqs{1, 2});
}

JOURNAL_TCK("replays between a lower and an upper bound") {
  journal_fixture<Backend> f;
  CHECK(sequences(f.journal().read_stream(pid, 2, 3)) == seqs{2, 3});
}

JOURNAL_TCK("replays between bounds with a max count") {
  journal_fixture<Backend> f;
  CHECK(sequences(f.journal().read_stream(pid, 2, 5, 2)) == seqs{2, 3});
}

JOURNAL_TCK("replays a single event when lower equals upper") {
  journal_fixture<Backend> f;
  CHECK(sequences(f.journal().read_stream(pid, 2, 2)) == seqs{2});
}

JOURNAL_TCK("replays a single event when max count is 1") {
  journal_fixture<Backend> f;
  CHECK(sequences(f.journal().read_stream(pid, 2, 4, 1)) == seqs{2});
}

JOURNAL_TCK("replays nothing when max count is 0") {
  journal_fixture<Backend> f;
  auto read = f.journal().read_stream(pid, 1, 5, 0);
  REQUIRE(read);
  CHECK(read->empty());
}

JOURNAL_TCK("replays nothing when lower is above upper") {
  journal_fixture<Backend> f;
  auto read = f.journal().read_stream(pid, 3, 2);
  REQUIRE(read);
  CHECK(read->empty());
}

JOURNAL_TCK("replays nothing for an unknown stream, whose highest is 0") {
  journal_fixture<Backend> f;
  auto read = f.journal().read_stream("pool/unknown");
  REQUIRE(read);
  CHECK(read->empty());
  CHECK(*f.journal().highest_sequence("pool/unknown") == 0);
}

JOURNAL_TCK("reports the highest sequence number without a replay") {
  journal_fixture<Backend> f;
  auto highest = f.journal().highest_sequence(pid);
  REQUIRE(highest);
  CHECK(*highest == 5);
}

JOURNAL_TCK("a range delete hides the deleted events") {
  journal_fixture<Backend> f;
  REQUIRE(f.journal().delete_up_to(pid, 3));
  CHECK(sequences(f.journal().read_stream(pid)) == seqs{4, 5});
  CHECK(sequences(f.journal().read_stream(pid, 2, 4)) == seqs{4});
}

JOURNAL_TCK("the highest sequence number is kept after a range delete") {
  journal_fixture<Backend> f;
  REQUIRE(f.journal().delete_up_to(pid, 3));
  CHECK(*f.journal().highest_sequence(pid) == 5);
}

JOURNAL_TCK("the highest sequence number is kept after deleting everything") {
  journal_fixture<Backend> f;
  REQUIRE(f.journal().delete_up_to(pid, store::max_sequence));
  auto read = f.journal().read_stream(pid);
  REQUIRE(read);
  CHECK(read->empty());
  CHECK(*f.journal().highest_sequence(pid) == 5);
  // The stream goes on where it was.
  write_events(f, pid, 1);
  CHECK(sequences(f.journal().read_stream(pid)) == seqs{6});
}

JOURNAL_TCK("an append with a stale expected sequence is a conflict and writes nothing") {
  journal_fixture<Backend> f;
  store::append_request request;
  request.stream = pid;
  request.expected_sequence = 4;
  request.events.push_back(make_event("late"));
  request.events.push_back(make_event("late2"));
  auto ack = f.journal().append(std::move(request));
  REQUIRE_FALSE(ack);
  CHECK(ack.error().code == store::errc::conflict);
  CHECK(ack.error().message == "stream pool/p-1 is at sequence 5, the append expected 4");
  CHECK(*f.journal().highest_sequence(pid) == 5);
  CHECK(sequences(f.journal().read_stream(pid)) == seqs{1, 2, 3, 4, 5});
}

JOURNAL_TCK("a batch lands whole, with consecutive sequences and positions") {
  journal_fixture<Backend> f;
  store::append_request request;
  request.stream = pid;
  request.expected_sequence = 5;
  for (int i = 0; i < 3; ++i)
    request.events.push_back(make_event("b" + std::to_string(i)));
  auto ack = f.journal().append(std::move(request));
  REQUIRE(ack);
  CHECK(ack->first_sequence == 6);
  CHECK(ack->last_sequence == 8);
  CHECK(ack->last_position == ack->first_position + 2);
  auto read = f.journal().read_stream(pid, 6);
  REQUIRE(read);
  REQUIRE(read->size() == 3);
  CHECK((*read)[1].payload == "b1");
  CHECK((*read)[1].position == ack->first_position + 1);
}

JOURNAL_TCK("conflicts within one group affect only the conflicting request") {
  journal_fixture<Backend> f;
  std::vector<store::append_request> requests(3);
  requests[0].stream = pid;
  requests[0].expected_sequence = 5;
  requests[0].events.push_back(make_event("first"));
  requests[1].stream = pid; // also expects 5, but the first request moved it to 6
  requests[1].expected_sequence = 5;
  requests[1].events.push_back(make_event("loser"));
  requests[2].stream = "pool/other";
  requests[2].events.push_back(make_event("other"));
  auto results = f.journal().append_many(std::move(requests));
  REQUIRE(results.size() == 3);
  CHECK(results[0]);
  REQUIRE_FALSE(results[1]);
  CHECK(results[1].error().code == store::errc::conflict);
  CHECK(results[2]);
  CHECK(sequences(f.journal().read_stream(pid)) == seqs{1, 2, 3, 4, 5, 6});
}

JOURNAL_TCK("appends carried together are written with their request, in one piece") {
  journal_fixture<Backend> f;
  store::append_request claim;
  claim.stream = pid;
  claim.expected_sequence = 5;
  claim.events.push_back(make_event("claimed"));
  store::append_request record;
  record.stream = "sandbox/s-1";
  record.events.push_back(make_event("created"));
  record.events.push_back(make_event("running"));
  claim.together.push_back(std::move(record));
  auto ack = f.journal().append(std::move(claim));
  REQUIRE(ack);
  CHECK(ack->first_sequence == 6);
  CHECK(ack->last_sequence == 6);
  CHECK(sequences(f.journal().read_stream(pid)) == seqs{1, 2, 3, 4, 5, 6});
  auto carried = f.journal().read_stream("sandbox/s-1");
  CHECK(sequences(carried) == seqs{1, 2});
  REQUIRE(carried);
  CHECK((*carried)[0].payload == "created");
  // In the global order, right after the request's own events.
  CHECK((*carried)[0].position == ack->last_position + 1);
  CHECK(*f.journal().highest_sequence("sandbox/s-1") == 2);
}

JOURNAL_TCK("a conflict in an append carried together refuses the whole request") {
  journal_fixture<Backend> f;
  write_events(f, "sandbox/s-1", 1);
  const auto last = *f.journal().last_position();
  std::vector<store::append_request> requests(2);
  requests[0].stream = pid;
  requests[0].expected_sequence = 5;
  requests[0].events.push_back(make_event("claimed"));
  store::append_request taken;
  taken.stream = "sandbox/s-1"; // exists: expecting a new stream conflicts
  taken.events.push_back(make_event("created"));
  requests[0].together.push_back(std::move(taken));
  store::append_request fresh;
  fresh.stream = "sandbox/s-2";
  fresh.events.push_back(make_event("created"));
  requests[0].together.push_back(std::move(fresh));
  requests[1].stream = "pool/other";
  requests[1].events.push_back(make_event("other"));
  auto results = f.journal().append_many(std::move(requests));
  REQUIRE(results.size() == 2);
  REQUIRE_FALSE(results[0]);
  CHECK(results[0].error().code == store::errc::conflict);
  CHECK(results[0].error().message.find("sandbox/s-1") != std::string::npos);
  CHECK(results[1]); // the rest of the group is unaffected
  // Nothing of the refused request: not the claim, not the fresh stream.
  CHECK(sequences(f.journal().read_stream(pid)) == seqs{1, 2, 3, 4, 5});
  CHECK(*f.journal().highest_sequence("sandbox/s-2") == 0);
  CHECK(sequences(f.journal().read_stream("sandbox/s-1")) == seqs{1});
  // The positions go on without a gap; the pool stream goes on at 6.
  CHECK(*f.journal().last_position() == last + 1);
  auto retried = f.journal().append([] {
    store::append_request r;
    r.stream = pid;
    r.expected_sequence = 5;
    r.events.push_back(make_event("claimed"));
    return r;
  }());
  REQUIRE(retried);
  CHECK(retried->first_sequence == 6);
  CHECK(retried->first_position == last + 2);
}

JOURNAL_TCK("an append carried together may not carry appends of its own") {
  journal_fixture<Backend> f;
  store::append_request outer;
  outer.stream = pid;
  outer.expected_sequence = 5;
  outer.events.push_back(make_event("x"));
  store::append_request inner;
  inner.stream = "sandbox/s-1";
  inner.events.push_back(make_event("y"));
  store::append_request nested;
  nested.stream = "sandbox/s-2";
  nested.events.push_back(make_event("z"));
  inner.together.push_back(std::move(nested));
  outer.together.push_back(std::move(inner));
  auto refused = f.journal().append(std::move(outer));
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == store::errc::invalid_argument);
  CHECK(*f.journal().highest_sequence(pid) == 5);
}

JOURNAL_TCK("malformed appends are refused with a reason") {
  journal_fixture<Backend> f;
  store::append_request empty_stream;
  empty_stream.events.push_back(make_event("x"));
  auto no_stream = f.journal().append(std::move(empty_stream));
  REQUIRE_FALSE(no_stream);
  CHECK(no_stream.error().code == store::errc::invalid_argument);

  store::append_request no_events;
  no_events.stream = pid;
  no_events.expected_sequence = 5;
  auto nothing = f.journal().append(std::move(no_events));
  REQUIRE_FALSE(nothing);
  CHECK(nothing.error().code == store::errc::invalid_argument);

  store::append_request nul;
  nul.stream = std::string("a\0b", 3);
  nul.events.push_back(make_event("x"));
  auto with_nul = f.journal().append(std::move(nul));
  REQUIRE_FALSE(with_nul);
  CHECK(with_nul.error().code == store::errc::invalid_argument);
}

JOURNAL_TCK("all streams replay in global order from a position") {
  journal_fixture<Backend> f;
  write_events(f, "sandbox/s-1", 2);
  write_events(f, pid, 1);
  std::vector<std::pair<std::string, std::uint64_t>> seen;
  std::uint64_t last_position = 0;
  bool ordered = true;
  auto visited =
      f.journal().read_all(1, store::max_sequence, [&](const events::envelope& e) {
        ordered = ordered && e.position > last_position;
        last_position = e.position;
        seen.emplace_back(e.stream, e.sequence);
        return true;
      });
  REQUIRE(visited);
  CHECK(*visited == 8);
  CHECK(ordered);
  CHECK(seen[5] == std::make_pair(std::string("sandbox/s-1"), std::uint64_t{1}));
  CHECK(seen[7] == std::make_pair(std::string(pid), std::uint64_t{6}));
  CHECK(*f.journal().last_position() == last_position);

  std::vector<std::uint64_t> tail;
  REQUIRE(f.journal().read_all(last_position - 1, 10, [&](const events::envelope& e) {
    tail.push_back(e.position);
    return true;
  }));
  CHECK(tail == seqs{last_position - 1, last_position});
}

JOURNAL_TCK("every stream is listed with its highest sequence number") {
  journal_fixture<Backend> f;
  write_events(f, "host/local", 2);
  REQUIRE(f.journal().delete_up_to("host/local", 1));
  auto streams = f.journal().list_streams();
  REQUIRE(streams);
  REQUIRE(streams->size() == 2);
  CHECK((*streams)[0].stream == "host/local");
  CHECK((*streams)[0].highest_sequence == 2);
  CHECK((*streams)[0].deleted_to == 1);
  CHECK((*streams)[1].stream == pid);
  CHECK((*streams)[1].highest_sequence == 5);
}

TEST_CASE("journal: what was appended is there after the storage is reopened") {
  rocksdb_backend backend;
  write_events(backend, pid, 5);
  write_events(backend, "sandbox/s-1", 3);
  REQUIRE(backend.journal().delete_up_to(pid, 2));
  const auto last = *backend.journal().last_position();
  backend.storage.reset();
  backend.storage = backend.open();
  CHECK(sequences(backend.journal().read_stream(pid)) == seqs{3, 4, 5});
  CHECK(*backend.journal().highest_sequence(pid) == 5);
  CHECK(*backend.journal().last_position() == last);
  // New appends continue both the stream and the global order.
  write_events(backend, pid, 1);
  auto read = backend.journal().read_stream(pid, 6);
  REQUIRE(read);
  REQUIRE(read->size() == 1);
  CHECK((*read)[0].position == last + 1);
}

TEST_CASE(
    "journal: after a reopen, a sandbox stream is new only if it is named above every "
    "stored one") {
  // New sandbox streams skip the existence lookup when named above the
  // greatest stored one; streams at or below it must still be found.
  rocksdb_backend backend;
  write_events(backend, "sandbox/sbx_0002", 1);
  write_events(backend, "sandbox/sbx_0005", 2);
  write_events(backend, "tenant/zzz", 1); // sorts after every sandbox stream
  backend.storage.reset();
  backend.storage = backend.open();
  auto first_append = [&](const std::string& stream) {
    store::append_request request;
    request.stream = stream;
    request.expected_sequence = 0;
    request.events.push_back(make_event("first"));
    return backend.journal().append(std::move(request));
  };
  for (const char* stored : {"sandbox/sbx_0002", "sandbox/sbx_0005"}) {
    CAPTURE(stored);
    auto again = first_append(stored);
    REQUIRE_FALSE(again);
    CHECK(again.error().code == store::errc::conflict);
  }
  CHECK(first_append("sandbox/sbx_0003")); // below the greatest, looked up: new
  CHECK(first_append("sandbox/sbx_0009")); // above it: new without a lookup
  auto twice = first_append("sandbox/sbx_0009");
  REQUIRE_FALSE(twice);
  CHECK(twice.error().code == store::errc::conflict);
  CHECK(sequences(backend.journal().read_stream("sandbox/sbx_0005")) == seqs{1, 2});
  CHECK(sequences(backend.journal().read_stream("sandbox/sbx_0009")) == seqs{1});
}

TEST_CASE(
    "journal: a stream the writer no longer caches is read back at its next append") {
  rocksdb_backend backend;
  backend.options.cached_streams = 4;
  backend.storage.reset();
  backend.storage = backend.open();
  // Twenty streams, each written twice, turn the cache of four over often.
  std::vector<std::string> streams;
  for (int i = 0; i < 10; ++i) {
    streams.push_back("sandbox/sbx_" + std::to_string(1000 + i));
    streams.push_back("pool/twp_" + std::to_string(i));
  }
  for (int round = 0; round < 2; ++round)
    for (const auto& stream : streams)
      write_events(backend, stream, 1 + round);
  auto append_at = [&](const std::string& stream, std::uint64_t expected) {
    store::append_request request;
    request.stream = stream;
    request.expected_sequence = expected;
    request.events.push_back(make_event("again"));
    return backend.journal().append(std::move(request));
  };
  for (const auto& stream : streams) {
    CAPTURE(stream);
    // A stale expectation is still refused, a new stream still detected...
    for (std::uint64_t stale : {0, 1, 2}) {
      auto refused = append_at(stream, stale);
      REQUIRE_FALSE(refused);
      CHECK(refused.error().code == store::errc::conflict);
    }
    // ...and the right one continues the stream.
    auto continued = append_at(stream, 3);
    REQUIRE(continued);
    CHECK(continued->first_sequence == 4);
    CHECK(sequences(backend.journal().read_stream(stream)) == seqs{1, 2, 3, 4});
  }
}
