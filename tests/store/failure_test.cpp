// The storage facing a hostile world: a directory another process holds, a
// missing or damaged directory, a full disk, a damaged record.
#include <doctest/doctest.h>
#include <fstream>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backends.hpp"
#include "raw_db.hpp"
#include "rocksdb_layout.hpp"

using namespace hearth;
using namespace hearth::testing;

TEST_CASE("opening a journal that another process holds is a clear locked error") {
  temp_dir dir;
  int ready[2];
  REQUIRE(pipe(ready) == 0);
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    auto opened = store::open_rocksdb_storage(dir.str("journal"));
    const char status = opened ? 'y' : 'n';
    (void)!write(ready[1], &status, 1);
    pause(); // hold the lock until killed
    _exit(0);
  }
  char status = 0;
  pollfd readable{ready[0], POLLIN, 0};
  if (poll(&readable, 1, 60'000) != 1 || read(ready[0], &status, 1) != 1 ||
      status != 'y') {
    kill(child, SIGKILL); // it must not outlive the test
    waitpid(child, nullptr, 0);
  }
  REQUIRE_MESSAGE(status == 'y',
                  (status == 0 ? "the other process did not answer in 60 s"
                               : "the other process could not open the journal"));
  auto second = store::open_rocksdb_storage(dir.str("journal"));
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  close(ready[0]);
  close(ready[1]);
  REQUIRE_FALSE(second);
  CHECK(second.error().code == store::errc::locked);
  CHECK(second.error().message.find("another process holds the data directory") !=
        std::string::npos);
  // Once the holder is gone, the journal opens.
  CHECK(store::open_rocksdb_storage(dir.str("journal")));
}

TEST_CASE("a missing directory is not_found when creating is not asked for") {
  temp_dir dir;
  store::storage_options options;
  options.create_if_missing = false;
  auto opened = store::open_rocksdb_storage(dir.str("nothing-here"), options);
  REQUIRE_FALSE(opened);
  CHECK(opened.error().code == store::errc::not_found);
  CHECK(opened.error().message.find(dir.str("nothing-here")) != std::string::npos);

  options.read_only = true;
  auto read_only = store::open_rocksdb_storage(dir.str(), options);
  REQUIRE_FALSE(read_only);
  CHECK(read_only.error().code == store::errc::not_found);
}

TEST_CASE("a damaged data directory is a corrupt error and is left as it was") {
  temp_dir dir;
  {
    rocksdb_backend backend;
    write_events(backend, "pool/p", 3);
    backend.storage.reset();
    std::filesystem::copy(backend.dir.str("journal"), dir.str("journal"),
                          std::filesystem::copy_options::recursive);
  }
  {
    std::ofstream current(dir.str("journal/CURRENT"), std::ios::trunc);
    current << "garbage";
  }
  auto opened = store::open_rocksdb_storage(dir.str("journal"));
  REQUIRE_FALSE(opened);
  CHECK(opened.error().code == store::errc::corrupt);
  std::ifstream current(dir.str("journal/CURRENT"));
  std::string content;
  std::getline(current, content);
  CHECK(content == "garbage");
}

TEST_CASE("a damaged event is reported with its stream and sequence, never skipped") {
  rocksdb_backend backend;
  write_events(backend, "pool/p", 5);
  backend.storage.reset();
  {
    raw_db raw(backend.dir.str("journal"));
    // Event 3 of pool/p is at position 3: flip one payload bit.
    const auto key = store::internal::position_key(3);
    std::string value;
    REQUIRE(raw.db->Get(rocksdb::ReadOptions(), raw.handles[1], key, &value).ok());
    value.back() = static_cast<char>(value.back() ^ 0x01);
    REQUIRE(raw.db->Put(rocksdb::WriteOptions(), raw.handles[1], key, value).ok());
  }
  backend.storage = backend.open();
  std::vector<std::uint64_t> seen;
  auto read =
      backend.journal().read_stream("pool/p", 1, store::max_sequence, store::max_sequence,
                                    [&](const events::envelope& e) {
                                      seen.push_back(e.sequence);
                                      return true;
                                    });
  REQUIRE_FALSE(read);
  CHECK(read.error().code == store::errc::corrupt);
  CHECK(read.error().message == "event 3 of stream pool/p: record failed its checksum");
  CHECK(seen == std::vector<std::uint64_t>{1, 2});

  auto all = backend.journal().read_all(1, store::max_sequence,
                                        [](const events::envelope&) { return true; });
  REQUIRE_FALSE(all);
  CHECK(all.error().code == store::errc::corrupt);
  CHECK(all.error().message.find("position 3") != std::string::npos);
  // Events around the damage are still readable one by one.
  CHECK(sequences(backend.journal().read_stream("pool/p", 4)) ==
        std::vector<std::uint64_t>{4, 5});
}

TEST_CASE("a read-only journal refuses writes and reads what is there") {
  rocksdb_backend backend;
  write_events(backend, "pool/p", 2);
  store::storage_options options;
  options.read_only = true;
  auto reader = store::open_rocksdb_storage(backend.dir.str("journal"), options);
  REQUIRE(reader);
  CHECK(sequences((*reader)->events().read_stream("pool/p")) ==
        std::vector<std::uint64_t>{1, 2});
  store::append_request request;
  request.stream = "pool/p";
  request.expected_sequence = 2;
  request.events.push_back(make_event("x"));
  auto ack = (*reader)->events().append(std::move(request));
  REQUIRE_FALSE(ack);
  CHECK(ack.error().code == store::errc::read_only);
}

TEST_CASE("a full disk fails appends with no_space and loses nothing acknowledged") {
  temp_dir dir;
  const std::string mount_point = dir.str("small");
  std::filesystem::create_directories(mount_point);
  if (geteuid() != 0 || mount("tmpfs", mount_point.c_str(), "tmpfs", 0, "size=6m") != 0) {
    MESSAGE("skipped: mounting a small tmpfs needs root");
    return;
  }
  struct unmount_at_end {
    std::string path;
    ~unmount_at_end() { umount2(path.c_str(), MNT_DETACH); }
  } unmount{mount_point};

  std::uint64_t acknowledged = 0;
  store::error failure;
  {
    store::storage_options options;
    options.write_buffer_bytes = 1u << 20;
    auto opened = store::open_rocksdb_storage(mount_point + "/journal", options);
    REQUIRE(opened);
    const std::string payload(4096, 'p');
    for (std::uint64_t i = 0; i < 100'000; ++i) {
      store::append_request request;
      request.stream = "pool/fill";
      request.expected_sequence = acknowledged;
      request.events.push_back(make_event(payload));
      auto ack = (*opened)->events().append(std::move(request));
      if (!ack) {
        failure = ack.error();
        break;
      }
      acknowledged = ack->last_sequence;
    }
  }
  REQUIRE(acknowledged > 0);
  CHECK(failure.code == store::errc::no_space);
  CHECK(failure.message.find("disk full") != std::string::npos);

  // Copy the directory to a disk with room and check every acknowledged event.
  std::filesystem::copy(mount_point + "/journal", dir.str("copy"),
                        std::filesystem::copy_options::recursive);
  auto reopened = store::open_rocksdb_storage(dir.str("copy"));
  REQUIRE(reopened);
  auto highest = (*reopened)->events().highest_sequence("pool/fill");
  REQUIRE(highest);
  CHECK(*highest >= acknowledged);
  std::uint64_t count = 0;
  REQUIRE((*reopened)->events().read_stream(
      "pool/fill", 1, acknowledged, store::max_sequence, [&](const events::envelope& e) {
        ++count;
        return e.payload.size() == 4096;
      }));
  CHECK(count == acknowledged);
}
