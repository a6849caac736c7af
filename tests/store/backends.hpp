#pragma once

#include <memory>

#include "hearth/store/storage.hpp"
#include "support/temp_dir.hpp"

namespace hearth::testing {

/// The in-memory storage.
struct memory_backend {
  std::unique_ptr<store::storage> storage = store::make_memory_storage();
  store::journal& journal() { return storage->events(); }
  store::snapshot_store& snapshots() { return storage->snapshots(); }
};

/// A real RocksDB storage in a fresh directory.
struct rocksdb_backend {
  temp_dir dir;
  store::storage_options options;
  std::unique_ptr<store::storage> storage = open();

  std::unique_ptr<store::storage> open() {
    auto opened = store::open_rocksdb_storage(dir.str("journal"), options);
    if (!opened)
      throw std::runtime_error(opened.error().message);
    return std::move(*opened);
  }
  store::journal& journal() { return storage->events(); }
  store::snapshot_store& snapshots() { return storage->snapshots(); }
};

inline store::new_event make_event(std::string payload, std::string type = "test.event") {
  store::new_event event;
  event.type = std::move(type);
  event.payload = std::move(payload);
  return event;
}

/// What the crash writer stores as the snapshot of `stream` at `sequence`.
inline std::string snapshot_data(const std::string& stream, std::uint64_t sequence) {
  return "state of " + stream + " at " + std::to_string(sequence);
}

/// Appends `count` single-event appends to `stream`, payloads "e<seq>".
template <class Backend>
void write_events(Backend& backend, const std::string& stream, std::uint64_t count) {
  auto highest = backend.journal().highest_sequence(stream);
  if (!highest)
    throw std::runtime_error(highest.error().message);
  for (std::uint64_t i = 0; i < count; ++i) {
    store::append_request request;
    request.stream = stream;
    request.expected_sequence = *highest + i;
    request.events.push_back(make_event("e" + std::to_string(*highest + i + 1)));
    auto ack = backend.journal().append(std::move(request));
    if (!ack)
      throw std::runtime_error(ack.error().message);
  }
}

inline std::vector<std::uint64_t>
sequences(const store::result<std::vector<events::envelope>>& read) {
  std::vector<std::uint64_t> out;
  if (read)
    for (const auto& event : *read)
      out.push_back(event.sequence);
  return out;
}

} // namespace hearth::testing
