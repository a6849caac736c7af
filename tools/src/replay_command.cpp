#include "replay_command.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "hearth/events/codec.hpp"
#include "hearth/store/storage.hpp"

namespace hearth::tools {
namespace {

struct replay_options {
  std::string data_dir = "data";
  bool json = false;
  std::string stream;
  std::uint64_t from = 1;
  std::uint64_t to = store::max_sequence;
  std::uint64_t limit = store::max_sequence;
};

std::string format_time(std::int64_t timestamp_ns) {
  const std::time_t seconds = static_cast<std::time_t>(timestamp_ns / 1'000'000'000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[40];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &utc);
  char with_ms[48];
  std::snprintf(with_ms, sizeof(with_ms), "%s.%03dZ", text,
                static_cast<int>((timestamp_ns / 1'000'000) % 1000));
  return with_ms;
}

/// The journal lives in `<data-dir>/journal`; a path that is itself a
/// journal is accepted too.
std::unique_ptr<store::storage> open_journal(const std::string& data_dir,
                                             int& exit_code) {
  store::storage_options options;
  options.read_only = true;
  options.create_if_missing = false;
  auto opened = store::open_rocksdb_storage(data_dir + "/journal", options);
  if (!opened && opened.error().code == store::errc::not_found)
    opened = store::open_rocksdb_storage(data_dir, options);
  if (!opened) {
    std::cerr << "hearth replay: " << opened.error().message << "\n";
    exit_code = opened.error().code == store::errc::not_found ? 3 : 1;
    return nullptr;
  }
  return std::move(*opened);
}

nlohmann::json event_json(const events::envelope& event) {
  nlohmann::json out = {{"position", event.position},
                        {"stream", event.stream},
                        {"sequence", event.sequence},
                        {"type", event.type},
                        {"version", event.version},
                        {"time", format_time(event.timestamp_ns)},
                        {"correlation_id", event.correlation_id}};
  auto payload = events::payload_to_json(event.payload);
  if (payload)
    out["payload"] = nlohmann::json::parse(*payload, nullptr, false);
  else
    out["payload_error"] = payload.error().message;
  return out;
}

void print_event(const events::envelope& event, bool json) {
  if (json) {
    std::cout << event_json(event).dump() << "\n";
    return;
  }
  auto payload = events::payload_to_json(event.payload);
  std::printf("%8llu  %s  %-28s #%-5llu %-26s v%u  %s\n",
              static_cast<unsigned long long>(event.position),
              format_time(event.timestamp_ns).c_str(), event.stream.c_str(),
              static_cast<unsigned long long>(event.sequence), event.type.c_str(),
              event.version, payload ? payload->c_str() : "<payload does not decode>");
}

int run_streams(const replay_options& options) {
  int exit_code = 0;
  auto storage = open_journal(options.data_dir, exit_code);
  if (!storage)
    return exit_code;
  auto streams = storage->events().list_streams();
  if (!streams) {
    std::cerr << "hearth replay: " << streams.error().message << "\n";
    return 1;
  }
  if (options.json) {
    for (const auto& info : *streams)
      std::cout << nlohmann::json{{"stream", info.stream},
                                  {"highest_sequence", info.highest_sequence},
                                  {"deleted_to", info.deleted_to}}
                       .dump()
                << "\n";
    return 0;
  }
  std::printf("%-40s %10s %10s\n", "STREAM", "HIGHEST", "DELETED_TO");
  for (const auto& info : *streams)
    std::printf("%-40s %10llu %10llu\n", info.stream.c_str(),
                static_cast<unsigned long long>(info.highest_sequence),
                static_cast<unsigned long long>(info.deleted_to));
  return 0;
}

int run_events(const replay_options& options) {
  int exit_code = 0;
  auto storage = open_journal(options.data_dir, exit_code);
  if (!storage)
    return exit_code;
  auto print = [&](const events::envelope& event) {
    if (options.stream.empty() && event.position > options.to)
      return false;
    print_event(event, options.json);
    return true;
  };
  auto visited = options.stream.empty()
                     ? storage->events().read_all(options.from, options.limit, print)
                     : storage->events().read_stream(options.stream, options.from,
                                                     options.to, options.limit, print);
  if (!visited) {
    std::cerr << "hearth replay: " << visited.error().message << "\n";
    return visited.error().code == store::errc::corrupt ? 4 : 1;
  }
  return 0;
}

} // namespace

void add_replay_command(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<replay_options>();
  auto* replay = app.add_subcommand("replay", "inspect a journal, read-only");
  replay->require_subcommand(1);
  replay
      ->add_option("--data-dir", options->data_dir,
                   "hearthd's data directory (or a copy of it)")
      ->capture_default_str();
  replay->add_flag("--json", options->json, "one JSON object per line");

  auto* streams =
      replay->add_subcommand("streams", "list streams and their highest sequence");
  streams->callback([options, &exit_code] { exit_code = run_streams(*options); });

  auto* events = replay->add_subcommand("events", "print events in order");
  events->add_option("--stream", options->stream,
                     "only this stream; --from/--to are then sequence numbers");
  events->add_option("--from", options->from, "first position (or sequence)");
  events->add_option("--to", options->to, "last position (or sequence)");
  events->add_option("--limit", options->limit, "print at most this many events");
  events->callback([options, &exit_code] { exit_code = run_events(*options); });
}

} // namespace hearth::tools
