#include "replay_command.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "hearth/events/codec.hpp"
#include "hearth/model/world_state.hpp"
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
  /// `state`: the last position applied.
  std::uint64_t at = store::max_sequence;
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

/// The state `stream` names in `world` as JSON text, or empty if there is
/// no such aggregate.
std::string describe_stream(const model::world_state& world, const std::string& stream) {
  const auto slash = stream.find('/');
  if (slash == std::string::npos)
    return {};
  const std::string kind = stream.substr(0, slash);
  const std::string id = stream.substr(slash + 1);
  auto find = [&id](const auto& map) -> std::string {
    auto found = map.find(id);
    return found == map.end() ? std::string() : model::describe(found->second);
  };
  if (kind == "pool")
    return find(world.pools);
  if (kind == "sandbox")
    return find(world.sandboxes);
  if (kind == "host")
    return find(world.hosts);
  if (kind == "tenant")
    return find(world.tenants);
  if (kind == "template")
    return find(world.templates);
  return {};
}

/// What must hold in any journal hearth wrote: every event fitted its
/// aggregate's state (the first that did not are named), and no VM went to
/// two sandboxes.
std::vector<std::string> broken_invariants(const model::world_state& world) {
  std::vector<std::string> broken;
  for (const auto& misfit : world.misfits)
    broken.push_back("event " + misfit + " did not fit its aggregate's state");
  if (world.rejected > world.misfits.size())
    broken.push_back("... and " + std::to_string(world.rejected - world.misfits.size()) +
                     " more that did not fit");
  for (const auto& [vm, claims] : world.claims_per_vm)
    if (claims > 1)
      broken.push_back("VM " + vm + " was claimed " + std::to_string(claims) + " times");
  return broken;
}

/// Rebuilds every aggregate's state from the journal's events up to
/// position `at`, as recovery does, and prints one aggregate (`stream`) or
/// a summary with the invariants' checks.
int run_state(const replay_options& options) {
  int exit_code = 0;
  auto storage = open_journal(options.data_dir, exit_code);
  if (!storage)
    return exit_code;
  model::world_state world;
  std::uint64_t applied = 0;
  std::uint64_t last_position = 0;
  std::string failure;
  auto visited =
      storage->events().read_all(1, store::max_sequence, [&](const events::envelope& e) {
        if (e.position > options.at)
          return false;
        if (auto ok = world.apply(e); !ok) {
          failure = "event " + std::to_string(e.position) + " (" + e.stream + " #" +
                    std::to_string(e.sequence) + "): " + ok.error().message;
          return false;
        }
        ++applied;
        last_position = e.position;
        return true;
      });
  if (!visited) {
    std::cerr << "hearth replay: " << visited.error().message << "\n";
    return visited.error().code == store::errc::corrupt ? 4 : 1;
  }
  if (!failure.empty()) {
    std::cerr << "hearth replay: cannot apply " << failure << "\n";
    return 4;
  }

  if (!options.stream.empty()) {
    const auto described = describe_stream(world, options.stream);
    if (described.empty()) {
      std::cerr << "hearth replay: no " << options.stream << " at position "
                << last_position << "\n";
      return 3;
    }
    const auto parsed = nlohmann::json::parse(described);
    std::cout << (options.json ? parsed.dump() : parsed.dump(2)) << "\n";
    return 0;
  }

  const auto broken = broken_invariants(world);
  std::map<std::string, std::uint64_t> sandboxes_by_state;
  for (const auto& [id, s] : world.sandboxes)
    ++sandboxes_by_state[std::string(model::to_string(s.status))];
  if (options.json) {
    nlohmann::json pools = nlohmann::json::object();
    for (const auto& [id, p] : world.pools)
      pools[id] = nlohmann::json::parse(model::describe(p));
    std::cout << nlohmann::json{{"position", last_position},
                                {"events", applied},
                                {"pools", pools},
                                {"sandboxes_by_state", sandboxes_by_state},
                                {"hosts", world.hosts.size()},
                                {"tenants", world.tenants.size()},
                                {"templates", world.templates.size()},
                                {"broken_invariants", broken}}
                     .dump()
              << "\n";
  } else {
    std::printf("position %llu (%llu events): %zu pools, %zu sandboxes, %zu hosts, %zu "
                "tenants, %zu templates\n",
                static_cast<unsigned long long>(last_position),
                static_cast<unsigned long long>(applied), world.pools.size(),
                world.sandboxes.size(), world.hosts.size(), world.tenants.size(),
                world.templates.size());
    if (!world.pools.empty()) {
      std::printf("\n%-28s %-34s %4s %6s %8s %8s %9s %7s  %-9s %s\n", "POOL", "BUILD",
                  "GEN", "READY", "WARMING", "CLAIMED", "DRAINING", "FAILED", "STATE",
                  "DEGRADED");
      for (const auto& [id, p] : world.pools) {
        const auto st = p.status();
        const char* state = p.deleted    ? "deleted"
                            : p.deleting ? "deleting"
                            : p.draining ? "draining"
                            : p.enabled  ? "enabled"
                                         : "disabled";
        std::printf("%-28s %-34s %4llu %6u %8u %8u %9u %7u  %-9s %s\n", id.c_str(),
                    p.build_id.c_str(), static_cast<unsigned long long>(p.generation),
                    static_cast<unsigned>(st.ready), static_cast<unsigned>(st.warming),
                    static_cast<unsigned>(st.claimed), static_cast<unsigned>(st.draining),
                    static_cast<unsigned>(st.failed), state,
                    p.degraded_reason.empty() ? "-" : p.degraded_reason.c_str());
      }
    }
    if (!sandboxes_by_state.empty()) {
      std::printf("\nsandboxes:");
      for (const auto& [state, count] : sandboxes_by_state)
        std::printf(" %s %llu", state.c_str(), static_cast<unsigned long long>(count));
      std::printf("\n");
    }
    std::printf("\n%s\n", broken.empty() ? "invariants hold: every event fitted its "
                                           "state, no VM was claimed twice"
                                         : "INVARIANTS BROKEN:");
    for (const auto& b : broken)
      std::printf("  %s\n", b.c_str());
  }
  return broken.empty() ? 0 : 1;
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

  auto* state = replay->add_subcommand(
      "state", "every pool's, sandbox's, host's... state rebuilt from the events up to "
               "--at, as recovery would; checks the journal's invariants");
  state->add_option("--at", options->at,
                    "the last position to apply [the journal's end]");
  state->add_option("--stream", options->stream,
                    "print this aggregate's state in full (pool/<id>, sandbox/<id>, "
                    "host/<id>, tenant/<id>, template/<team>/<name>)");
  state->callback([options, &exit_code] { exit_code = run_state(*options); });
}

} // namespace hearth::tools
