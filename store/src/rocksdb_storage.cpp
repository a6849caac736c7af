#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include "hearth/events/record.hpp"
#include "hearth/store/storage.hpp"
#include "hearth/string_map.hpp"
#include "rocksdb_layout.hpp"
#include "skiplist_memtable.hpp"
#include "snapshot_record.hpp"
#include "validation.hpp"

namespace hearth::store {
namespace {

using namespace internal;

error from_status(const rocksdb::Status& status, const std::string& context) {
  const std::string detail = status.ToString();
  if (status.IsNoSpace() || status.subcode() == rocksdb::Status::kNoSpace)
    return error{errc::no_space, context + ": disk full (" + detail + ")"};
  if (status.IsCorruption())
    return error{errc::corrupt, context + ": " + detail};
  if (status.IsIOError() && detail.find("lock") != std::string::npos)
    return error{errc::locked,
                 context + ": another process holds the data directory (" + detail + ")"};
  if (status.IsInvalidArgument() && detail.find("does not exist") != std::string::npos)
    return error{errc::not_found, context + ": no journal there (" + detail + ")"};
  return error{errc::io_error, context + ": " + detail};
}

error corrupt_event(std::string_view stream, std::uint64_t sequence,
                    const events::error& cause) {
  return error{errc::corrupt, "event " + std::to_string(sequence) + " of stream " +
                                  std::string(stream) + ": " + cause.message};
}

/// RocksDB's warnings go to stderr, not to a LOG file on the data disk: on a
/// full disk that file's writer trips an assertion in Debian's RocksDB 7.8.
class stderr_logger final : public rocksdb::Logger {
public:
  stderr_logger()
      : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL) {}

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list args) override {
    char line[1024];
    std::vsnprintf(line, sizeof(line), format, args);
    std::fprintf(stderr, "rocksdb: %s\n", line);
  }
};

/// Streams whose names grow with time (sandboxes: `sandbox/sbx_<time>`): a
/// new one's keys land after every older one's.
constexpr std::string_view growing_kind = "sandbox/";

/// Memtable insert hints (see the column families' options). RocksDB keeps
/// the last insert position per prefix, and starts the next insert with that
/// prefix there instead of at the skiplist's top; a prefix that is written
/// once only costs an entry in its table of hints.
///
/// Index keys, `stream \0 be64(sequence)`: each stream's arrive in
/// increasing order, so most streams get a hint each; sandbox streams share
/// one, as each is new after the last and mostly written once.
class stream_prefix final : public rocksdb::SliceTransform {
public:
  const char* Name() const override { return "hearth.stream_prefix"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    if (key.starts_with(rocksdb::Slice(growing_kind.data(), growing_kind.size())))
      return rocksdb::Slice(key.data(), growing_kind.size());
    return rocksdb::Slice(key.data(), key.size() - 8);
  }
  bool InDomain(const rocksdb::Slice& key) const override { return key.size() >= 9; }
};

/// Stream metadata keys, the stream's name: sandbox streams share a hint
/// (new ones come last); others are rare and take none.
class growing_streams final : public rocksdb::SliceTransform {
public:
  const char* Name() const override { return "hearth.growing_streams"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return rocksdb::Slice(key.data(), growing_kind.size());
  }
  bool InDomain(const rocksdb::Slice& key) const override {
    return key.starts_with(rocksdb::Slice(growing_kind.data(), growing_kind.size()));
  }
};

/// Event keys, `be64(position)`: positions only grow, so one hint serves
/// all (their first four bytes are the same for 2^32 positions).
class growing_positions final : public rocksdb::SliceTransform {
public:
  const char* Name() const override { return "hearth.growing_positions"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return rocksdb::Slice(key.data(), 4);
  }
  bool InDomain(const rocksdb::Slice& key) const override { return key.size() == 8; }
};

bool has_stream_prefix(const rocksdb::Slice& key, std::string_view stream) {
  return key.size() == stream.size() + 9 && key[stream.size()] == '\0' &&
         std::string_view(key.data(), stream.size()) == stream;
}

/// What the writer knows of a stream. `pending` runs ahead of `highest` while
/// one `append_many` builds its batch.
struct stream_state {
  std::uint64_t highest = 0;
  std::uint64_t pending = 0;
  std::uint64_t deleted_to = 0;
  bool has_meta = false;
  bool pending_meta = false;
};

class rocksdb_storage;

class rocksdb_journal final : public journal {
public:
  explicit rocksdb_journal(rocksdb_storage& owner)
      : owner_(owner) {}

  std::vector<result<append_ack>>
  append_many(std::vector<append_request> requests) override;
  using journal::read_stream;
  result<std::uint64_t> read_stream(std::string_view stream, std::uint64_t from,
                                    std::uint64_t to, std::uint64_t max_count,
                                    const event_visitor& visit) override;
  result<std::uint64_t> highest_sequence(std::string_view stream) override;
  result<std::uint64_t> read_all(std::uint64_t from_position, std::uint64_t max_count,
                                 const event_visitor& visit) override;
  result<std::uint64_t> last_position() override;
  result<void> delete_up_to(std::string_view stream, std::uint64_t to) override;
  result<std::vector<stream_info>> list_streams() override;

private:
  /// Reads a stream's highest sequence and deletion mark from the database.
  result<stream_state> load_state(std::string_view stream,
                                  const rocksdb::Snapshot* at = nullptr);
  /// The writer's cached state of `stream`; needs `write_mutex_`.
  result<stream_state*> cached_state(const std::string& stream);

  /// Drops the streams not written to since the last turnover once the
  /// cache is full; needs `write_mutex_` and no `cached_state` pointer held.
  void turn_over_cache();

  rocksdb_storage& owner_;
  std::mutex write_mutex_;
  /// The writer's state of the streams written to lately, in two
  /// generations: a lookup moves a stream from `older_streams_` to
  /// `streams_`; a turnover drops `older_streams_` and makes `streams_` the
  /// older one. Approximately least-recently-used, at the cost of a hash
  /// lookup.
  string_map<stream_state> streams_;
  string_map<stream_state> older_streams_;
  rocksdb::WriteBatch batch_;
  std::string record_buffer_;
  /// Index and metadata entries of the batch being built; written sorted, so
  /// the memtable inserts them in key order (far cheaper than random order).
  std::vector<std::pair<std::string, std::string>> index_entries_;
  std::vector<std::string> new_streams_;
};

class rocksdb_snapshots final : public snapshot_store {
public:
  explicit rocksdb_snapshots(rocksdb_storage& owner)
      : owner_(owner) {}

  result<void> save(const snapshot& snap) override;
  result<std::optional<snapshot>> load(std::string_view stream,
                                       std::uint64_t max_seq) override;
  result<void> remove(std::string_view stream, std::uint64_t sequence) override;
  result<void> remove_up_to(std::string_view stream, std::uint64_t max_seq) override;

private:
  rocksdb_storage& owner_;
};

class rocksdb_storage final : public storage {
public:
  rocksdb_storage(std::string path, const storage_options& options)
      : path_(std::move(path))
      , options_(options)
      , journal_(*this)
      , snapshots_(*this) {
    write_options_.sync = options.sync;
    snapshot_write_options_.sync = false;
  }

  ~rocksdb_storage() override {
    if (db_) {
      for (auto* handle : handles_)
        db_->DestroyColumnFamilyHandle(handle);
      (void)db_->Close();
    }
  }

  result<void> open() {
    rocksdb::Options db_options;
    db_options.create_if_missing = options_.create_if_missing;
    db_options.create_missing_column_families = true;
    db_options.max_background_jobs = 2;
    db_options.write_buffer_size = options_.write_buffer_bytes;
    db_options.max_write_buffer_number = 4;
    db_options.keep_log_file_num = 4;
    db_options.avoid_flush_during_recovery = true;
    if (options_.hearth_memtable) {
      db_options.memtable_factory = make_skiplist_memtable();
      // Its skiplist takes one writer at a time: RocksDB then inserts a
      // write group's entries from the group's leader alone.
      db_options.allow_concurrent_memtable_write = false;
    }
    db_options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
    db_options.info_log = std::make_shared<stderr_logger>();

    rocksdb::BlockBasedTableOptions table;
    table.block_cache = rocksdb::NewLRUCache(options_.block_cache_bytes);
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    db_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));

    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    for (const char* name : {rocksdb::kDefaultColumnFamilyName.c_str(), events_family,
                             streams_family, stream_meta_family, snapshots_family}) {
      rocksdb::ColumnFamilyOptions family_options(db_options);
      // Index and metadata entries are tiny and arrive in random key order: a
      // small memtable keeps their skiplist in cache, and per-stream insert
      // hints skip most of the search. bench/journal, 1,000 streams: ~200k
      // appends/s with neither, ~300k/s with both.
      if (std::string_view(name) != events_family)
        family_options.write_buffer_size = options_.index_buffer_bytes;
      // Insert hints (above). RocksDB 7.8 shares a column family's hints
      // between its point and range-deletion tables, so a family with hints
      // must never see a DeleteRange (delete_up_to deletes events one by one).
      if (std::string_view(name) == streams_family)
        family_options.memtable_insert_with_hint_prefix_extractor =
            std::make_shared<stream_prefix>();
      if (std::string_view(name) == stream_meta_family)
        family_options.memtable_insert_with_hint_prefix_extractor =
            std::make_shared<growing_streams>();
      if (std::string_view(name) == events_family)
        family_options.memtable_insert_with_hint_prefix_extractor =
            std::make_shared<growing_positions>();
      // A new stream's first append looks its metadata up and misses; a
      // memtable bloom filter answers most misses without a skiplist search.
      if (std::string_view(name) == stream_meta_family) {
        family_options.memtable_whole_key_filtering = true;
        family_options.memtable_prefix_bloom_size_ratio = 0.1;
      }
      families.emplace_back(name, family_options);
    }

    if (!options_.create_if_missing && !std::filesystem::exists(path_))
      return error{errc::not_found, "no journal at " + path_ + ": directory is missing"};
    if (options_.read_only && !std::filesystem::exists(path_ + "/CURRENT"))
      return error{errc::not_found, "no journal at " + path_};
    if (options_.create_if_missing && !options_.read_only) {
      std::error_code ec;
      std::filesystem::create_directories(path_, ec);
      if (ec)
        return error{errc::io_error, "cannot create " + path_ + ": " + ec.message()};
    }

    rocksdb::DB* db = nullptr;
    rocksdb::Status status =
        options_.read_only
            ? rocksdb::DB::OpenForReadOnly(db_options, path_, families, &handles_, &db)
            : rocksdb::DB::Open(db_options, path_, families, &handles_, &db);
    if (!status.ok())
      return from_status(status, "cannot open journal at " + path_);
    db_.reset(db);

    std::string value;
    status = db_->Get(rocksdb::ReadOptions(), handles_[0], next_position_key, &value);
    if (status.ok() && value.size() == 8)
      next_position_ = get_be(value, 0, 8);
    else if (status.ok())
      return error{errc::corrupt,
                   "journal at " + path_ + " has a damaged position counter"};
    else if (!status.IsNotFound())
      return from_status(status, "cannot read journal at " + path_);
    // The greatest name of a stream of the growing kind: one above it is new.
    std::unique_ptr<rocksdb::Iterator> last(
        db_->NewIterator(rocksdb::ReadOptions(), stream_meta_cf()));
    std::string past_kind(growing_kind);
    past_kind.back() = static_cast<char>(past_kind.back() + 1);
    last->SeekForPrev(past_kind);
    if (last->Valid() &&
        last->key().starts_with(rocksdb::Slice(growing_kind.data(), growing_kind.size())))
      newest_growing_ = last->key().ToString();
    else if (!last->status().ok())
      return from_status(last->status(), "cannot read journal at " + path_);
    return {};
  }

  journal& events() override { return journal_; }
  snapshot_store& snapshots() override { return snapshots_; }
  const std::string& path() const override { return path_; }

  rocksdb::DB& db() { return *db_; }
  rocksdb::ColumnFamilyHandle* meta_cf() { return handles_[0]; }
  rocksdb::ColumnFamilyHandle* events_cf() { return handles_[1]; }
  rocksdb::ColumnFamilyHandle* streams_cf() { return handles_[2]; }
  rocksdb::ColumnFamilyHandle* stream_meta_cf() { return handles_[3]; }
  rocksdb::ColumnFamilyHandle* snapshots_cf() { return handles_[4]; }
  const rocksdb::WriteOptions& write_options() const { return write_options_; }
  /// Snapshots are written without an fsync of their own. A snapshot only
  /// saves replaying what the journal already holds, so losing the newest
  /// one to a power cut loses nothing; and a write that syncs holds up the
  /// journal's next write for its fsync (RocksDB writes in groups, one
  /// group at a time). Every later synced write (the journal's next append,
  /// or a `delete_up_to` of the events the snapshot covers) makes it
  /// durable: RocksDB 7.8 syncs every live log file on a synced write
  /// (`DBImpl::WriteToWAL`). A process that dies keeps it too: RocksDB has
  /// handed it to the operating system before `save` returns.
  const rocksdb::WriteOptions& snapshot_write_options() const {
    return snapshot_write_options_;
  }
  const storage_options& options() const { return options_; }
  bool read_only() const { return options_.read_only; }

  std::uint64_t next_position_ = 1;
  /// The greatest name of a stream of `growing_kind` in the journal: a
  /// stream of that kind named above it does not exist, which spares a new
  /// sandbox's first append a lookup (needs the journal's write mutex).
  std::string newest_growing_;

private:
  struct db_closer {
    void operator()(rocksdb::DB* db) const { delete db; }
  };

  std::string path_;
  storage_options options_;
  rocksdb::WriteOptions write_options_;
  rocksdb::WriteOptions snapshot_write_options_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::unique_ptr<rocksdb::DB, db_closer> db_;
  rocksdb_journal journal_;
  rocksdb_snapshots snapshots_;
};

error read_only_error(const rocksdb_storage& owner) {
  return error{errc::read_only, "journal at " + owner.path() + " is open read-only"};
}

// -- journal --------------------------------------------------------------------

result<stream_state> rocksdb_journal::load_state(std::string_view stream,
                                                 const rocksdb::Snapshot* at) {
  stream_state state;
  rocksdb::ReadOptions read;
  read.snapshot = at;
  std::string value;
  auto status = owner_.db().Get(read, owner_.stream_meta_cf(),
                                rocksdb::Slice(stream.data(), stream.size()), &value);
  if (status.ok()) {
    if (value.size() != 8)
      return error{errc::corrupt,
                   "stream " + std::string(stream) + " has damaged metadata"};
    state.has_meta = true;
    state.deleted_to = get_be(value, 0, 8);
  } else if (status.IsNotFound()) {
    // Every stream's first append writes its metadata entry: without one
    // the stream has no events (a bloom-filtered point lookup, no seek).
    return state;
  } else {
    return from_status(status, "cannot read stream " + std::string(stream));
  }
  std::unique_ptr<rocksdb::Iterator> it(
      owner_.db().NewIterator(read, owner_.streams_cf()));
  it->SeekForPrev(stream_key(stream, max_sequence));
  if (it->Valid() && has_stream_prefix(it->key(), stream)) {
    if (it->value().size() != 12)
      return error{errc::corrupt,
                   "stream " + std::string(stream) + " has a damaged index"};
    const auto first = get_be(std::string_view(it->key().data(), it->key().size()),
                              stream.size() + 1, 8);
    const auto count = get_be(std::string_view(it->value().data(), 12), 8, 4);
    state.highest = first + count - 1;
  } else if (!it->status().ok()) {
    return from_status(it->status(), "cannot read stream " + std::string(stream));
  }
  state.highest = std::max(state.highest, state.deleted_to);
  state.pending = state.highest;
  return state;
}

result<stream_state*> rocksdb_journal::cached_state(const std::string& stream) {
  auto found = streams_.find(stream);
  if (found != streams_.end())
    return &found->second;
  if (auto older = older_streams_.find(stream); older != older_streams_.end()) {
    const stream_state moved = older->second;
    older_streams_.erase(older);
    return &streams_.try_emplace(stream, moved).first->second;
  }
  if (std::string_view(stream).substr(0, growing_kind.size()) == growing_kind &&
      stream > owner_.newest_growing_)
    return &streams_.emplace(stream, stream_state{}).first->second;
  auto loaded = load_state(stream);
  if (!loaded)
    return std::move(loaded).error();
  return &streams_.emplace(stream, *loaded).first->second;
}

void rocksdb_journal::turn_over_cache() {
  if (streams_.size() < std::max<std::size_t>(1, owner_.options().cached_streams))
    return;
  older_streams_ = std::move(streams_);
  streams_ = {};
}

std::vector<result<append_ack>>
rocksdb_journal::append_many(std::vector<append_request> requests) {
  std::vector<result<append_ack>> results;
  results.reserve(requests.size());
  if (owner_.read_only()) {
    for (std::size_t i = 0; i < requests.size(); ++i)
      results.emplace_back(read_only_error(owner_));
    return results;
  }

  std::lock_guard<std::mutex> lock(write_mutex_);
  turn_over_cache(); // before any state is staged: every cached one is settled
  batch_.Clear();
  index_entries_.clear();
  new_streams_.clear();
  std::vector<stream_state*> touched;
  std::uint64_t position = owner_.next_position_;
  const std::int64_t now = now_ns();
  events::envelope stored;
  std::string index_value;

  // Stages one stream's append into the batch; what it changed is undone
  // below when a request's appends carried `together` are refused.
  auto stage = [&](append_request& request) -> result<append_ack> {
    auto state = cached_state(request.stream);
    if (!state)
      return std::move(state).error();
    stream_state& stream = **state;
    if (request.expected_sequence != stream.pending)
      return conflict(request.stream, stream.pending, request.expected_sequence);
    append_ack ack;
    ack.first_sequence = stream.pending + 1;
    ack.first_position = position;
    stored.stream = request.stream;
    for (auto& event : request.events) {
      stored.sequence = ++stream.pending;
      stored.position = position++;
      stored.type = std::move(event.type);
      stored.version = event.version;
      stored.timestamp_ns = event.timestamp_ns != 0 ? event.timestamp_ns : now;
      stored.correlation_id = std::move(event.correlation_id);
      stored.payload = std::move(event.payload);
      record_buffer_.clear();
      // validate() checked every bound encode_record enforces.
      (void)events::encode_record(stored, record_buffer_);
      batch_.Put(owner_.events_cf(), position_key(stored.position), record_buffer_);
    }
    index_value.clear();
    put_be64(index_value, ack.first_position);
    put_be32(index_value, static_cast<std::uint32_t>(request.events.size()));
    index_entries_.emplace_back(stream_key(request.stream, ack.first_sequence),
                                index_value);
    if (!stream.has_meta && !stream.pending_meta) {
      new_streams_.push_back(request.stream);
      stream.pending_meta = true;
    }
    touched.push_back(&stream);
    ack.last_sequence = stream.pending;
    ack.last_position = position - 1;
    return ack;
  };

  for (auto& request : requests) {
    if (auto invalid = validate(request)) {
      results.emplace_back(std::move(*invalid));
      continue;
    }
    if (request.together.empty()) {
      results.push_back(stage(request));
      continue;
    }
    // All or nothing: remember where everything stood.
    batch_.SetSavePoint();
    const std::uint64_t position_before = position;
    const std::size_t index_before = index_entries_.size();
    const std::size_t new_before = new_streams_.size();
    const std::size_t touched_before = touched.size();
    std::vector<std::pair<stream_state*, stream_state>> prior;
    auto remember = [&](const std::string& name) {
      if (auto state = cached_state(name))
        prior.emplace_back(*state, **state);
    };
    remember(request.stream);
    for (const auto& other : request.together)
      remember(other.stream);
    auto ack = stage(request);
    for (auto& other : request.together) {
      if (!ack)
        break;
      if (auto part = stage(other); !part)
        ack = std::move(part).error();
    }
    if (!ack) {
      (void)batch_.RollbackToSavePoint();
      position = position_before;
      index_entries_.resize(index_before);
      new_streams_.resize(new_before);
      touched.resize(touched_before);
      // Newest first: a stream named twice gets its first remembered state.
      for (auto it = prior.rbegin(); it != prior.rend(); ++it)
        *it->first = it->second;
    } else {
      (void)batch_.PopSavePoint();
    }
    results.push_back(std::move(ack));
  }

  if (touched.empty())
    return results;
  std::sort(index_entries_.begin(), index_entries_.end());
  for (const auto& [key, value] : index_entries_)
    batch_.Put(owner_.streams_cf(), key, value);
  std::sort(new_streams_.begin(), new_streams_.end());
  std::string fresh_meta;
  put_be64(fresh_meta, 0);
  for (const auto& name : new_streams_)
    batch_.Put(owner_.stream_meta_cf(), name, fresh_meta);
  std::string counter;
  put_be64(counter, position);
  batch_.Put(owner_.meta_cf(), next_position_key, counter);
  auto status = owner_.db().Write(owner_.write_options(), &batch_);
  if (!status.ok()) {
    const error failure =
        from_status(status, "cannot append to journal at " + owner_.path());
    for (auto* stream : touched) {
      stream->pending = stream->highest;
      stream->pending_meta = false;
    }
    for (auto& result : results)
      if (result)
        result = failure;
    return results;
  }
  owner_.next_position_ = position;
  for (const auto& name : new_streams_)
    if (std::string_view(name).substr(0, growing_kind.size()) == growing_kind &&
        name > owner_.newest_growing_)
      owner_.newest_growing_ = name;
  for (auto* stream : touched) {
    stream->highest = stream->pending;
    stream->has_meta = stream->has_meta || stream->pending_meta;
    stream->pending_meta = false;
  }
  return results;
}

result<std::uint64_t> rocksdb_journal::read_stream(std::string_view stream,
                                                   std::uint64_t from, std::uint64_t to,
                                                   std::uint64_t max_count,
                                                   const event_visitor& visit) {
  const rocksdb::Snapshot* snap = owner_.db().GetSnapshot();
  struct release {
    rocksdb::DB& db;
    const rocksdb::Snapshot* snap;
    ~release() { db.ReleaseSnapshot(snap); }
  } releaser{owner_.db(), snap};

  auto state = load_state(stream, snap);
  if (!state)
    return std::move(state).error();
  from = std::max(from, state->deleted_to + 1);
  if (from > to || max_count == 0 || from > state->highest)
    return std::uint64_t{0};

  rocksdb::ReadOptions read;
  read.snapshot = snap;
  std::unique_ptr<rocksdb::Iterator> index(
      owner_.db().NewIterator(read, owner_.streams_cf()));
  std::unique_ptr<rocksdb::Iterator> records(
      owner_.db().NewIterator(read, owner_.events_cf()));

  // The append holding `from` starts at or before it.
  index->SeekForPrev(stream_key(stream, from));
  if (!index->Valid() || !has_stream_prefix(index->key(), stream))
    index->Seek(stream_key(stream, from));

  std::uint64_t visited = 0;
  for (; index->Valid() && has_stream_prefix(index->key(), stream); index->Next()) {
    const std::string_view key(index->key().data(), index->key().size());
    const std::string_view value(index->value().data(), index->value().size());
    if (value.size() != 12)
      return error{errc::corrupt,
                   "stream " + std::string(stream) + " has a damaged index"};
    const std::uint64_t first_seq = get_be(key, stream.size() + 1, 8);
    const std::uint64_t first_position = get_be(value, 0, 8);
    const std::uint64_t count = get_be(value, 8, 4);
    if (first_seq > to)
      break;
    if (first_seq + count <= from)
      continue;
    std::uint64_t sequence = std::max(first_seq, from);
    const std::uint64_t last = std::min(first_seq + count - 1, to);
    records->Seek(position_key(first_position + (sequence - first_seq)));
    for (; sequence <= last; ++sequence, records->Next()) {
      if (!records->Valid()) {
        if (!records->status().ok())
          return from_status(records->status(),
                             "cannot read stream " + std::string(stream));
        return error{errc::corrupt, "event " + std::to_string(sequence) + " of stream " +
                                        std::string(stream) + " is missing"};
      }
      auto event = events::decode_record(
          std::string_view(records->value().data(), records->value().size()));
      if (!event)
        return corrupt_event(stream, sequence, event.error());
      if (event->stream != stream || event->sequence != sequence)
        return error{errc::corrupt, "event " + std::to_string(sequence) + " of stream " +
                                        std::string(stream) +
                                        " points at another record"};
      ++visited;
      if (!visit(*event) || visited == max_count)
        return visited;
    }
  }
  if (!index->status().ok())
    return from_status(index->status(), "cannot read stream " + std::string(stream));
  return visited;
}

result<std::uint64_t> rocksdb_journal::highest_sequence(std::string_view stream) {
  auto state = load_state(stream);
  if (!state)
    return std::move(state).error();
  return state->highest;
}

result<std::uint64_t> rocksdb_journal::read_all(std::uint64_t from_position,
                                                std::uint64_t max_count,
                                                const event_visitor& visit) {
  if (max_count == 0)
    return std::uint64_t{0};
  rocksdb::ReadOptions read;
  read.readahead_size = 4u << 20;
  read.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> records(
      owner_.db().NewIterator(read, owner_.events_cf()));
  std::uint64_t visited = 0;
  for (records->Seek(position_key(from_position)); records->Valid(); records->Next()) {
    const std::string_view key(records->key().data(), records->key().size());
    auto event = events::decode_record(
        std::string_view(records->value().data(), records->value().size()));
    if (!event)
      return error{errc::corrupt, "event at position " +
                                      std::to_string(get_be(key, 0, 8)) + ": " +
                                      event.error().message};
    ++visited;
    if (!visit(*event) || visited == max_count)
      return visited;
  }
  if (!records->status().ok())
    return from_status(records->status(), "cannot read journal at " + owner_.path());
  return visited;
}

result<std::uint64_t> rocksdb_journal::last_position() {
  std::lock_guard<std::mutex> lock(write_mutex_);
  return owner_.next_position_ - 1;
}

result<void> rocksdb_journal::delete_up_to(std::string_view stream, std::uint64_t to) {
  if (owner_.read_only())
    return read_only_error(owner_);
  std::lock_guard<std::mutex> lock(write_mutex_);
  auto cached = cached_state(std::string(stream));
  if (!cached)
    return std::move(cached).error();
  stream_state& state = **cached;
  const std::uint64_t target = std::min(to, state.highest);
  if (target <= state.deleted_to)
    return {};

  rocksdb::WriteBatch batch;
  std::unique_ptr<rocksdb::Iterator> index(
      owner_.db().NewIterator(rocksdb::ReadOptions(), owner_.streams_cf()));
  for (index->Seek(stream_key(stream, 0));
       index->Valid() && has_stream_prefix(index->key(), stream); index->Next()) {
    const std::string_view key(index->key().data(), index->key().size());
    const std::string_view value(index->value().data(), index->value().size());
    const std::uint64_t first_seq = get_be(key, stream.size() + 1, 8);
    const std::uint64_t first_position = get_be(value, 0, 8);
    const std::uint64_t last_seq = first_seq + get_be(value, 8, 4) - 1;
    if (first_seq > target)
      break;
    const std::uint64_t delete_from = std::max(first_seq, state.deleted_to + 1);
    const std::uint64_t delete_to = std::min(last_seq, target);
    // One by one, not DeleteRange: the events' family has insert hints
    // (deleting is rare; appending is the hot path).
    for (std::uint64_t seq = delete_from; seq <= delete_to; ++seq)
      batch.Delete(owner_.events_cf(), position_key(first_position + (seq - first_seq)));
    // The newest append's entry stays: it carries the highest sequence number.
    if (last_seq <= target && last_seq < state.highest)
      batch.Delete(owner_.streams_cf(), index->key());
  }
  if (!index->status().ok())
    return from_status(index->status(),
                       "cannot delete from stream " + std::string(stream));
  std::string meta;
  put_be64(meta, target);
  batch.Put(owner_.stream_meta_cf(), rocksdb::Slice(stream.data(), stream.size()), meta);
  auto status = owner_.db().Write(owner_.write_options(), &batch);
  if (!status.ok())
    return from_status(status, "cannot delete from stream " + std::string(stream));
  state.deleted_to = target;
  state.has_meta = true;
  return {};
}

result<std::vector<stream_info>> rocksdb_journal::list_streams() {
  std::vector<stream_info> out;
  std::unique_ptr<rocksdb::Iterator> it(
      owner_.db().NewIterator(rocksdb::ReadOptions(), owner_.stream_meta_cf()));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::string name = it->key().ToString();
    auto state = load_state(name);
    if (!state)
      return std::move(state).error();
    out.push_back(stream_info{std::move(name), state->highest, state->deleted_to});
  }
  if (!it->status().ok())
    return from_status(it->status(), "cannot list streams of " + owner_.path());
  return out;
}

// -- snapshots ------------------------------------------------------------------

result<void> rocksdb_snapshots::save(const snapshot& snap) {
  if (owner_.read_only())
    return read_only_error(owner_);
  if (snap.stream.empty() || snap.stream.find('\0') != std::string::npos)
    return error{errc::invalid_argument, "a snapshot needs a valid stream name"};
  auto status =
      owner_.db().Put(owner_.snapshot_write_options(), owner_.snapshots_cf(),
                      stream_key(snap.stream, snap.sequence), encode_snapshot(snap));
  if (!status.ok())
    return from_status(status, "cannot save snapshot of " + snap.stream);
  return {};
}

result<std::optional<snapshot>> rocksdb_snapshots::load(std::string_view stream,
                                                        std::uint64_t max_seq) {
  std::unique_ptr<rocksdb::Iterator> it(
      owner_.db().NewIterator(rocksdb::ReadOptions(), owner_.snapshots_cf()));
  it->SeekForPrev(stream_key(stream, max_seq));
  if (!it->Valid() || !has_stream_prefix(it->key(), stream)) {
    if (!it->status().ok())
      return from_status(it->status(), "cannot load snapshot of " + std::string(stream));
    return std::optional<snapshot>{};
  }
  auto snap =
      decode_snapshot(stream, std::string_view(it->value().data(), it->value().size()));
  if (!snap)
    return std::move(snap).error();
  return std::optional<snapshot>{std::move(*snap)};
}

result<void> rocksdb_snapshots::remove(std::string_view stream, std::uint64_t sequence) {
  if (owner_.read_only())
    return read_only_error(owner_);
  auto status = owner_.db().Delete(owner_.snapshot_write_options(), owner_.snapshots_cf(),
                                   stream_key(stream, sequence));
  if (!status.ok())
    return from_status(status, "cannot remove snapshot of " + std::string(stream));
  return {};
}

result<void> rocksdb_snapshots::remove_up_to(std::string_view stream,
                                             std::uint64_t max_seq) {
  if (owner_.read_only())
    return read_only_error(owner_);
  const std::string end =
      max_seq == max_sequence ? stream_end_key(stream) : stream_key(stream, max_seq + 1);
  auto status = owner_.db().DeleteRange(
      owner_.snapshot_write_options(), owner_.snapshots_cf(), stream_key(stream, 0), end);
  if (!status.ok())
    return from_status(status, "cannot remove snapshots of " + std::string(stream));
  return {};
}

} // namespace

result<std::unique_ptr<storage>> open_rocksdb_storage(const std::string& directory,
                                                      const storage_options& options) {
  auto opened = std::make_unique<rocksdb_storage>(directory, options);
  if (auto status = opened->open(); !status)
    return std::move(status).error();
  return std::unique_ptr<storage>(std::move(opened));
}

} // namespace hearth::store
