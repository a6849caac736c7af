#include <map>
#include <mutex>
#include <optional>

#include "hearth/store/storage.hpp"
#include "validation.hpp"

namespace hearth::store {
namespace {

class memory_journal final : public journal {
public:
  std::vector<result<append_ack>>
  append_many(std::vector<append_request> requests) override {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<result<append_ack>> results;
    results.reserve(requests.size());
    const std::int64_t now = internal::now_ns();
    for (auto& request : requests) {
      if (auto invalid = internal::validate(request)) {
        results.emplace_back(std::move(*invalid));
        continue;
      }
      if (auto refused = check_sequences(request)) {
        results.emplace_back(std::move(*refused));
        continue;
      }
      append_ack ack = write(request, now);
      for (auto& other : request.together)
        write(other, now);
      results.emplace_back(ack);
    }
    return results;
  }

  using journal::read_stream;

  result<std::uint64_t> read_stream(std::string_view stream, std::uint64_t from,
                                    std::uint64_t to, std::uint64_t max_count,
                                    const event_visitor& visit) override {
    std::vector<events::envelope> selected;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto found = streams_.find(std::string(stream));
      if (found == streams_.end() || from > to || max_count == 0)
        return std::uint64_t{0};
      for (auto it = found->second.positions.lower_bound(from);
           it != found->second.positions.end() && it->first <= to &&
           selected.size() < max_count;
           ++it)
        selected.push_back(all_.at(it->second));
    }
    std::uint64_t visited = 0;
    for (const auto& event : selected) {
      ++visited;
      if (!visit(event))
        break;
    }
    return visited;
  }

  result<std::uint64_t> highest_sequence(std::string_view stream) override {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = streams_.find(std::string(stream));
    return found == streams_.end() ? std::uint64_t{0} : found->second.highest;
  }

  result<std::uint64_t> read_all(std::uint64_t from_position, std::uint64_t max_count,
                                 const event_visitor& visit) override {
    std::vector<events::envelope> selected;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (auto it = all_.lower_bound(from_position);
           it != all_.end() && selected.size() < max_count; ++it)
        selected.push_back(it->second);
    }
    std::uint64_t visited = 0;
    for (const auto& event : selected) {
      ++visited;
      if (!visit(event))
        break;
    }
    return visited;
  }

  result<std::uint64_t> last_position() override {
    std::lock_guard<std::mutex> lock(mutex_);
    return next_position_ - 1;
  }

  result<void> delete_up_to(std::string_view stream, std::uint64_t to) override {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = streams_.find(std::string(stream));
    if (found == streams_.end())
      return {};
    auto& state = found->second;
    const std::uint64_t target = std::min(to, state.highest);
    for (auto it = state.positions.begin();
         it != state.positions.end() && it->first <= target;) {
      all_.erase(it->second);
      it = state.positions.erase(it);
    }
    state.deleted_to = std::max(state.deleted_to, target);
    return {};
  }

  result<std::vector<stream_info>> list_streams() override {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<stream_info> out;
    for (const auto& [name, state] : streams_)
      out.push_back(stream_info{name, state.highest, state.deleted_to});
    return out;
  }

private:
  /// Refuses `request` if it, or an append it carries, expects another
  /// sequence number than its stream is at (counting the ones before it).
  std::optional<error> check_sequences(const append_request& request) const {
    std::map<std::string, std::uint64_t> at;
    auto check = [&](const append_request& r) -> std::optional<error> {
      auto known = at.find(r.stream);
      std::uint64_t highest = 0;
      if (known != at.end()) {
        highest = known->second;
      } else if (auto found = streams_.find(r.stream); found != streams_.end()) {
        highest = found->second.highest;
      }
      if (r.expected_sequence != highest)
        return internal::conflict(r.stream, highest, r.expected_sequence);
      at[r.stream] = highest + r.events.size();
      return std::nullopt;
    };
    if (auto refused = check(request))
      return refused;
    for (const auto& other : request.together)
      if (auto refused = check(other))
        return refused;
    return std::nullopt;
  }

  append_ack write(append_request& request, std::int64_t now) {
    auto& state = streams_[request.stream];
    append_ack ack;
    ack.first_sequence = state.highest + 1;
    ack.first_position = next_position_;
    for (auto& event : request.events) {
      events::envelope stored;
      stored.stream = request.stream;
      stored.sequence = ++state.highest;
      stored.position = next_position_++;
      stored.type = std::move(event.type);
      stored.version = event.version;
      stored.timestamp_ns = event.timestamp_ns != 0 ? event.timestamp_ns : now;
      stored.correlation_id = std::move(event.correlation_id);
      stored.payload = std::move(event.payload);
      state.positions[stored.sequence] = stored.position;
      all_.emplace(stored.position, std::move(stored));
    }
    ack.last_sequence = state.highest;
    ack.last_position = next_position_ - 1;
    return ack;
  }

  struct stream_state {
    std::uint64_t highest = 0;
    std::uint64_t deleted_to = 0;
    std::map<std::uint64_t, std::uint64_t> positions;
  };

  std::mutex mutex_;
  std::map<std::string, stream_state> streams_;
  std::map<std::uint64_t, events::envelope> all_;
  std::uint64_t next_position_ = 1;
};

class memory_snapshots final : public snapshot_store {
public:
  result<void> save(const snapshot& snap) override {
    std::lock_guard<std::mutex> lock(mutex_);
    snapshots_[snap.stream][snap.sequence] = snap;
    return {};
  }

  result<std::optional<snapshot>> load(std::string_view stream,
                                       std::uint64_t max_seq) override {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = snapshots_.find(std::string(stream));
    if (found == snapshots_.end())
      return std::optional<snapshot>{};
    auto it = found->second.upper_bound(max_seq);
    if (it == found->second.begin())
      return std::optional<snapshot>{};
    return std::optional<snapshot>{std::prev(it)->second};
  }

  result<void> remove(std::string_view stream, std::uint64_t sequence) override {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = snapshots_.find(std::string(stream));
    if (found != snapshots_.end())
      found->second.erase(sequence);
    return {};
  }

  result<void> remove_up_to(std::string_view stream, std::uint64_t max_seq) override {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = snapshots_.find(std::string(stream));
    if (found != snapshots_.end())
      found->second.erase(found->second.begin(), found->second.upper_bound(max_seq));
    return {};
  }

private:
  std::mutex mutex_;
  std::map<std::string, std::map<std::uint64_t, snapshot>> snapshots_;
};

class memory_storage final : public storage {
public:
  journal& events() override { return journal_; }
  snapshot_store& snapshots() override { return snapshots_; }
  const std::string& path() const override { return path_; }

private:
  memory_journal journal_;
  memory_snapshots snapshots_;
  std::string path_;
};

} // namespace

std::unique_ptr<storage> make_memory_storage() {
  return std::make_unique<memory_storage>();
}

} // namespace hearth::store
