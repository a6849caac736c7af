#pragma once

// Snapshots of aggregate states, and recovery of one stream from its latest
// snapshot plus the events after it.

#include <string>
#include <utility>

#include "hearth/events/codec.hpp"
#include "hearth/events/domain_event.hpp"
#include "hearth/model/error.hpp"
#include "hearth/model/pool_state.hpp"
#include "hearth/model/sandbox_state.hpp"
#include "hearth/store/storage.hpp"

namespace hearth::actors {

/// Snapshot format: one version byte, then the msgpack state.
inline constexpr char snapshot_state_version = 1;

template <class State>
std::string encode_state_snapshot(const State& state) {
  return std::string(1, snapshot_state_version) + events::encode_payload(state);
}

inline std::string encode_pool_snapshot(const model::pool_state& s) {
  return encode_state_snapshot(s);
}

inline std::string encode_sandbox_snapshot(const model::sandbox_state& s) {
  return encode_state_snapshot(s);
}

template <class State>
model::result<State> decode_state_snapshot(const std::string& data) {
  if (data.empty() || data[0] != snapshot_state_version)
    return model::error{model::errc::internal, "snapshot has an unknown version"};
  auto decoded = events::decode_payload<State>(std::string_view(data).substr(1));
  if (!decoded)
    return model::error{model::errc::internal, decoded.error().message};
  return std::move(*decoded);
}

/// A stream's state and the sequence number it reflects.
template <class State>
struct recovered {
  State state;
  std::uint64_t sequence = 0;
  bool from_snapshot = false;
};

/// Recovers `stream`: the latest snapshot (if it loads and decodes), then
/// every later event. A snapshot that fails either way is skipped with a
/// note in `notes`, and the stream is replayed in full.
template <class State>
model::result<recovered<State>> recover_stream(store::storage& storage,
                                               const std::string& stream,
                                               std::string* notes = nullptr) {
  recovered<State> out;
  auto snap = storage.snapshots().load(stream);
  if (snap && snap->has_value()) {
    auto decoded = decode_state_snapshot<State>((*snap)->data);
    if (decoded) {
      out.state = std::move(*decoded);
      out.sequence = (*snap)->sequence;
      out.from_snapshot = true;
    } else if (notes != nullptr) {
      *notes += "snapshot of " + stream + " does not decode (" + decoded.error().message +
                "); replaying in full\n";
    }
  } else if (!snap && notes != nullptr) {
    *notes += snap.error().message + "; replaying in full\n";
  }
  model::error failure;
  bool failed = false;
  auto read = storage.events().read_stream(
      stream, out.sequence + 1, store::max_sequence, store::max_sequence,
      [&](const events::envelope& e) {
        auto event = events::decode_domain(e);
        if (!event) {
          failure = model::error{model::errc::internal, stream + " event " +
                                                            std::to_string(e.sequence) +
                                                            ": " + event.error().message};
          failed = true;
          return false;
        }
        out.state.apply(*event);
        out.sequence = e.sequence;
        return true;
      });
  if (!read)
    return model::error{model::errc::unavailable, read.error().message};
  if (failed)
    return failure;
  return out;
}

} // namespace hearth::actors
