#include "api_commands.hpp"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <optional>
#include <sstream>
#include <tuple>
#include <unistd.h>

#include "api_client.hpp"

namespace hearth::tools {

using nlohmann::json;

namespace {

struct global_options {
  std::string server;
  std::string key;
  std::string key_file;
  bool json = false;
};

std::string env_or(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

/// `name` (tenant.key, admin.key) in hearthd's data directory.
std::string default_key_file(const std::string& name = "tenant.key") {
  std::string data = env_or("HEARTH_DATA_DIR", "");
  if (data.empty())
    data = env_or("HOME", ".") + "/.local/share/hearth";
  return data + "/" + name;
}

/// A client with the key of --key, $HEARTH_API_KEY or --key-file, else the
/// data directory's `key_name`.
api_client make_client(const global_options& g,
                       const std::string& key_name = "tenant.key") {
  std::string key = g.key.empty() ? env_or("HEARTH_API_KEY", "") : g.key;
  if (key.empty()) {
    std::ifstream in(g.key_file.empty() ? default_key_file(key_name) : g.key_file);
    std::getline(in, key);
  }
  return api_client(g.server.empty() ? env_or("HEARTH_SERVER", "http://127.0.0.1:4327")
                                     : g.server,
                    key);
}

std::string text(const json& value) {
  if (value.is_string())
    return value.get<std::string>();
  if (value.is_null())
    return "-";
  return value.dump();
}

/// Prints rows under headers, each column as wide as its widest cell.
void print_table(const std::vector<std::string>& headers,
                 const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths(headers.size());
  for (std::size_t i = 0; i < headers.size(); ++i)
    widths[i] = headers[i].size();
  for (const auto& row : rows)
    for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i)
      widths[i] = std::max(widths[i], row[i].size());
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      out += cells[i];
      if (i + 1 < cells.size())
        out += std::string(widths[i] - cells[i].size() + 2, ' ');
    }
    std::cout << out << "\n";
  };
  line(headers);
  for (const auto& row : rows)
    line(row);
}

std::vector<std::string> pool_row(const json& p) {
  const json s = p.value("status", json::object());
  return {text(p["id"]),
          text(p["template"]),
          text(p["build_id"]),
          std::to_string(s.value("ready", 0)) + "/" +
              std::to_string(s.value("target", 0)),
          std::to_string(s.value("warming", 0)),
          std::to_string(s.value("claimed", 0)),
          std::to_string(s.value("draining", 0)),
          p.value("enabled", true) ? (p.value("draining", false) ? "draining" : "enabled")
                                   : "disabled",
          text(p["degraded_reason"])};
}

const std::vector<std::string> pool_headers{"ID",       "TEMPLATE", "BUILD",
                                            "READY",    "WARMING",  "CLAIMED",
                                            "DRAINING", "STATE",    "DEGRADED"};

std::vector<std::string> sandbox_row(const json& s) {
  std::string endpoints;
  const json ports = s.value("endpoints", json::object());
  for (const auto& [port, address] : ports.items())
    endpoints += (endpoints.empty() ? "" : ",") + port + "=" + text(address);
  std::string checkout = "-";
  if (s.contains("warm_pool_checkout")) {
    const auto& c = s["warm_pool_checkout"];
    checkout = text(c["source"]) + (c.value("hit", false) ? " (hit)" : "");
  }
  return {text(s["id"]), text(s["template"]), text(s["state"]), checkout,
          endpoints.empty() ? "-" : endpoints};
}

const std::vector<std::string> sandbox_headers{"ID", "TEMPLATE", "STATE", "SOURCE",
                                               "ENDPOINTS"};

std::vector<std::string> build_row(const json& b) {
  std::string tags;
  const json tag_list = b.value("tags", json::array());
  for (const auto& t : tag_list)
    tags += (tags.empty() ? "" : ",") + text(t);
  return {text(b["canonical_ref"]), text(b["status"]), tags.empty() ? "-" : tags,
          b.value("error", "").empty() ? "-" : text(b["error"])};
}

const std::vector<std::string> build_headers{"BUILD", "STATUS", "TAGS", "ERROR"};

void print_status(const json& s) {
  print_table({"TARGET", "READY", "WARMING", "CLAIMED", "DRAINING", "FAILED", "EXPIRED",
               "UNAVAILABLE"},
              {{text(s["target"]), text(s["ready"]), text(s["warming"]),
                text(s["claimed"]), text(s["draining"]), text(s["failed"]),
                text(s["expired"]), text(s["unavailable"])}});
}

/// Prints a successful reply: its JSON with --json, else through `human`.
template <class Human>
int show(const global_options& g, const api_reply& reply, Human human) {
  if (!reply.ok())
    return report_failure(reply);
  if (g.json)
    std::cout << reply.json.dump(2) << "\n";
  else
    human(reply.json);
  return exit_ok;
}

std::string base64(const std::string& bytes) {
  static constexpr char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const unsigned n = (static_cast<unsigned char>(bytes[i]) << 16) |
                       (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                       static_cast<unsigned char>(bytes[i + 2]);
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += alphabet[(n >> 6) & 63];
    out += alphabet[n & 63];
  }
  if (i < bytes.size()) {
    unsigned n = static_cast<unsigned char>(bytes[i]) << 16;
    if (i + 1 < bytes.size())
      n |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += i + 1 < bytes.size() ? alphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

/// "team/name" as two URL segments; false if it is not.
bool split_template(const std::string& name, std::string& path) {
  const auto slash = name.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == name.size() ||
      name.find('/', slash + 1) != std::string::npos) {
    std::cerr << "hearth: '" << name
              << "' is not a template name of the form team/name\n";
    return false;
  }
  path = "/v1/templates/" + name;
  return true;
}

// -- template warm-pool
// -------------------------------------------------------------------

struct pool_flags {
  std::string template_ref;
  std::string name;
  std::optional<std::uint32_t> min_ready;
  std::optional<std::uint32_t> max_ready;
  std::optional<std::uint32_t> vcpus;
  std::optional<std::uint32_t> memory;
  std::string version_policy;
  std::string track_tag;

  json body() const {
    json out = json::object();
    if (!template_ref.empty())
      out["template"] = template_ref;
    if (!name.empty())
      out["name"] = name;
    if (min_ready)
      out["min_ready"] = *min_ready;
    if (max_ready)
      out["max_ready"] = *max_ready;
    if (vcpus)
      out["vcpus"] = *vcpus;
    if (memory)
      out["memory_mb"] = *memory;
    if (!version_policy.empty())
      out["version_policy"] = version_policy;
    if (!track_tag.empty())
      out["track_tag"] = track_tag;
    return out;
  }
};

void add_pool_flags(CLI::App& cmd, pool_flags& f) {
  cmd.add_option("--min-ready", f.min_ready, "keep at least this many ready");
  cmd.add_option("--max-ready", f.max_ready, "never hold more ready + warming");
  cmd.add_option("--vcpus", f.vcpus, "vcpus per VM");
  cmd.add_option("--memory", f.memory, "memory per VM, MiB");
  cmd.add_option("--version-policy", f.version_policy, "pinned_build or track_tag")
      ->check(CLI::IsMember({"pinned_build", "track_tag"}));
  cmd.add_option("--track-tag", f.track_tag, "the tag a track_tag pool follows");
}

/// How long one long poll of `wait` may last: a second on a TTY, whose
/// progress line counts seconds, else five; never past the deadline.
std::string wait_ms_for(bool tty, std::chrono::steady_clock::time_point started,
                        double timeout_s) {
  const double left_ms =
      timeout_s * 1000 - std::chrono::duration<double, std::milli>(
                             std::chrono::steady_clock::now() - started)
                             .count();
  const double most = tty ? 1000 : 5000;
  return std::to_string(static_cast<long>(std::clamp(left_ms + 1, 0.0, most)));
}

/// What following a pool waits for: when it is done, what the progress line
/// and the give-up message say.
struct pool_goal {
  std::function<bool(const json&)> reached;
  std::function<std::string(const json&)> progress;
  std::function<std::string(const json&)> missing;
  /// A pool that is gone (404) reached the goal: waiting for its deletion.
  bool gone_reaches = false;
};

/// Follows pool `id` through long polls (each answer comes with its next
/// change) until `goal` is reached or `timeout_s` has passed; prints the
/// pool it reached, or says what is missing and exits `exit_timeout`.
int follow_pool(const global_options& g, api_client& client, const std::string& id,
                const pool_goal& goal, double timeout_s, api_reply reply) {
  const bool tty = isatty(STDERR_FILENO) != 0;
  const auto started = std::chrono::steady_clock::now();
  const std::string path = "/v1/template-warm-pools/" + id;
  for (;;) {
    if (reply.status == 404 && goal.gone_reaches) {
      if (tty)
        std::cerr << "\n";
      if (g.json)
        std::cout << json{{"id", id}, {"deleted", true}}.dump(2) << "\n";
      else
        std::cout << id << " deleted\n";
      return exit_ok;
    }
    if (!reply.ok())
      return report_failure(reply);
    if (goal.reached(reply.json)) {
      if (tty)
        std::cerr << "\n";
      return show(g, reply,
                  [](const json& p) { print_table(pool_headers, {pool_row(p)}); });
    }
    const auto waited =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started);
    if (waited.count() > timeout_s) {
      std::cerr << (tty ? "\n" : "") << "hearth: " << id << " "
                << goal.missing(reply.json) << " after " << timeout_s << " s"
                << (reply.json["degraded_reason"].is_string()
                        ? " (degraded: " + text(reply.json["degraded_reason"]) + ")"
                        : std::string())
                << "\n";
      return exit_timeout;
    }
    if (tty)
      std::cerr << "\r" << id << ": " << goal.progress(reply.json) << " ("
                << static_cast<int>(waited.count()) << " s)" << std::flush;
    // Answered at the pool's next change, or as it is after the wait.
    reply = client.call("GET", path + "?wait_ms=" + wait_ms_for(tty, started, timeout_s) +
                                   "&after_revision=" + text(reply.json["revision"]));
  }
}

unsigned count_of(const json& pool, const char* name) {
  return pool.value("status", json::object()).value(name, 0u);
}

/// `wait`: `min_ready` ready VMs; with `build`, of that build, and the older
/// build's VMs released. (A rollout marks the older generation's ready and
/// warming VMs draining in the same write that moves the pool to the new
/// build, so from then on `ready` counts the new build's VMs only.)
int run_wait(const global_options& g, const std::string& id, std::uint32_t min_ready,
             const std::string& build, double timeout_s) {
  auto client = make_client(g);
  auto on_build = [build](const json& p) {
    return build.empty() ||
           (p.value("build_id", "") == build && count_of(p, "draining") == 0);
  };
  pool_goal goal;
  goal.reached = [min_ready, on_build](const json& p) {
    return count_of(p, "ready") >= min_ready && on_build(p);
  };
  goal.progress = [min_ready, build](const json& p) {
    return (build.empty() ? std::string() : "build " + text(p["build_id"]) + ", ") +
           "ready " + std::to_string(count_of(p, "ready")) + "/" +
           std::to_string(min_ready) + ", warming " +
           std::to_string(count_of(p, "warming")) + ", failed " +
           std::to_string(count_of(p, "failed")) +
           (build.empty() ? std::string()
                          : ", draining " + std::to_string(count_of(p, "draining")));
  };
  goal.missing = [min_ready, build, on_build](const json& p) {
    if (!on_build(p))
      return "is on build " + text(p["build_id"]) + " with " +
             std::to_string(count_of(p, "draining")) + " draining, not yet on " + build;
    return "has " + std::to_string(count_of(p, "ready")) + " ready of " +
           std::to_string(min_ready);
  };
  return follow_pool(g, client, id, goal, timeout_s,
                     client.call("GET", "/v1/template-warm-pools/" + id));
}

/// `drain --wait` and `delete --wait`: the request, then the pool followed
/// until its inventory is released (drain) or it is gone (delete).
int run_release(const global_options& g, const std::string& id, bool deleting,
                double timeout_s) {
  auto client = make_client(g);
  const std::string path = "/v1/template-warm-pools/" + id;
  auto reply =
      deleting ? client.call("DELETE", path) : client.call("POST", path + "/drain");
  if (!reply.ok())
    return report_failure(reply);
  auto left = [](const json& p) {
    return count_of(p, "ready") + count_of(p, "warming") + count_of(p, "draining");
  };
  pool_goal goal;
  goal.gone_reaches = deleting;
  goal.reached = [deleting, left](const json& p) {
    return deleting ? p.value("deleted", false) : left(p) == 0;
  };
  goal.progress = [](const json& p) {
    return "releasing: ready " + std::to_string(count_of(p, "ready")) + ", warming " +
           std::to_string(count_of(p, "warming")) + ", draining " +
           std::to_string(count_of(p, "draining"));
  };
  goal.missing = [deleting, left](const json& p) {
    return std::string(deleting ? "is not deleted yet" : "is not drained yet") + " (" +
           std::to_string(left(p)) + " VMs to release)";
  };
  return follow_pool(g, client, id, goal, timeout_s, std::move(reply));
}

void add_warm_pool_commands(CLI::App& tmpl, global_options& g, int& exit_code) {
  auto* wp = tmpl.add_subcommand("warm-pool", "warm pools of a template's VMs");
  wp->require_subcommand(1);

  auto create = std::make_shared<pool_flags>();
  auto* c = wp->add_subcommand("create", "create a warm pool");
  c->add_option("template", create->template_ref, "team/name:tag or team/name@build")
      ->required();
  c->add_option("--name", create->name, "the pool's name (its id is twp_<name>)")
      ->required();
  add_pool_flags(*c, *create);
  c->callback([&g, &exit_code, create] {
    auto reply = make_client(g).call("POST", "/v1/template-warm-pools", create->body());
    exit_code =
        show(g, reply, [](const json& p) { print_table(pool_headers, {pool_row(p)}); });
  });

  wp->add_subcommand("list", "the tenant's warm pools")->callback([&g, &exit_code] {
    auto reply = make_client(g).call("GET", "/v1/template-warm-pools");
    exit_code = show(g, reply, [](const json& list) {
      std::vector<std::vector<std::string>> rows;
      for (const auto& p : list)
        rows.push_back(pool_row(p));
      print_table(pool_headers, rows);
    });
  });

  auto update = std::make_shared<pool_flags>();
  auto update_id = std::make_shared<std::string>();
  auto* u =
      wp->add_subcommand("update", "change a warm pool's sizes, template or policy");
  u->add_option("id", *update_id, "the pool id, e.g. twp_review_api_small")->required();
  u->add_option("--template", update->template_ref, "a new template ref");
  add_pool_flags(*u, *update);
  u->callback([&g, &exit_code, update, update_id] {
    auto reply = make_client(g).call("PATCH", "/v1/template-warm-pools/" + *update_id,
                                     update->body());
    exit_code =
        show(g, reply, [](const json& p) { print_table(pool_headers, {pool_row(p)}); });
  });

  struct simple {
    const char* name;
    const char* help;
    const char* method;
    const char* suffix;
  };
  for (const auto& s :
       {simple{"get", "a warm pool with its status", "GET", ""},
        simple{"enable", "resume reconciliation", "POST", "/enable"},
        simple{"disable", "stop reconciliation, keep inventory", "POST", "/disable"},
        simple{"reconcile", "reconcile once now", "POST", "/reconcile"}}) {
    auto id = std::make_shared<std::string>();
    auto* cmd = wp->add_subcommand(s.name, s.help);
    cmd->add_option("id", *id, "the pool id")->required();
    cmd->callback([&g, &exit_code, id, s] {
      auto reply =
          make_client(g).call(s.method, "/v1/template-warm-pools/" + *id + s.suffix);
      exit_code =
          show(g, reply, [](const json& p) { print_table(pool_headers, {pool_row(p)}); });
    });
  }

  // drain and delete answer at once, or with --wait once their VMs are
  // released.
  for (const auto& [name, help, deleting] :
       {std::tuple{"drain", "stop refill; release ready VMs at the drain pace", false},
        std::tuple{"delete", "drain, then remove (checked-out sandboxes stay)", true}}) {
    struct release_flags {
      std::string id;
      bool wait = false;
      double timeout_s = 300;
    };
    auto f = std::make_shared<release_flags>();
    auto* cmd = wp->add_subcommand(name, help);
    cmd->add_option("id", f->id, "the pool id")->required();
    cmd->add_flag("--wait", f->wait,
                  deleting
                      ? "follow the pool until it is gone"
                      : "follow the pool until its ready and warming VMs are released");
    cmd->add_option("--timeout", f->timeout_s, "seconds to follow it with --wait [300]");
    cmd->callback([&g, &exit_code, f, deleting = deleting] {
      if (f->wait) {
        exit_code = run_release(g, f->id, deleting, f->timeout_s);
        return;
      }
      const std::string path = "/v1/template-warm-pools/" + f->id;
      auto reply = deleting ? make_client(g).call("DELETE", path)
                            : make_client(g).call("POST", path + "/drain");
      exit_code =
          show(g, reply, [](const json& p) { print_table(pool_headers, {pool_row(p)}); });
    });
  }

  auto status_id = std::make_shared<std::string>();
  auto* st = wp->add_subcommand("status", "a warm pool's status counts");
  st->add_option("id", *status_id, "the pool id")->required();
  st->callback([&g, &exit_code, status_id] {
    auto reply =
        make_client(g).call("GET", "/v1/template-warm-pools/" + *status_id + "/status");
    exit_code = show(g, reply, print_status);
  });

  struct wait_flags {
    std::string id;
    std::uint32_t min_ready = 1;
    std::string build;
    double timeout_s = 300;
  };
  auto wf = std::make_shared<wait_flags>();
  auto* w = wp->add_subcommand("wait", "block until the pool has enough ready VMs");
  w->add_option("id", wf->id, "the pool id")->required();
  w->add_option("--min-ready", wf->min_ready, "ready VMs to wait for [1]");
  w->add_option("--build", wf->build,
                "also wait until the pool runs this build and has released the older "
                "one's VMs (a rollout's end)");
  w->add_option("--timeout", wf->timeout_s, "seconds to wait [300]");
  w->callback([&g, &exit_code, wf] {
    exit_code = run_wait(g, wf->id, wf->min_ready, wf->build, wf->timeout_s);
  });
}

// -- template -------------------------------------------------------------------------
struct build_options {
  std::string name;
  std::string spec_file;
  std::string base;
  std::vector<std::string> copies;
  std::vector<std::string> runs;
  std::string start_cmd;
  std::uint32_t wait_for_port = 0;
  std::uint32_t memory = 0;
  std::vector<std::string> tags;
  bool no_wait = false;
  double timeout_s = 900;
};

int run_build(const global_options& g, const build_options& o) {
  std::string path;
  if (!split_template(o.name, path))
    return exit_invalid;
  json spec = json::object();
  json body = json::object();
  if (!o.spec_file.empty()) {
    std::ifstream in(o.spec_file);
    if (!in) {
      std::cerr << "hearth: cannot read " << o.spec_file << "\n";
      return exit_invalid;
    }
    auto file = json::parse(in, nullptr, false);
    if (file.is_discarded() || !file.is_object()) {
      std::cerr << "hearth: " << o.spec_file << " is not a JSON object\n";
      return exit_invalid;
    }
    // Either the spec itself, or {"spec": ..., "tags": [...]}.
    if (file.contains("spec")) {
      body = file;
      spec = file["spec"];
    } else {
      spec = file;
    }
  }
  if (!o.base.empty())
    spec["base"] = o.base;
  if (!spec.contains("base"))
    spec["base"] = "busybox";
  for (const auto& copy : o.copies) {
    const auto colon = copy.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == copy.size()) {
      std::cerr << "hearth: --copy " << copy << " is not SRC:DST\n";
      return exit_invalid;
    }
    std::ifstream in(copy.substr(0, colon), std::ios::binary);
    if (!in) {
      std::cerr << "hearth: cannot read " << copy.substr(0, colon) << "\n";
      return exit_invalid;
    }
    std::stringstream content;
    content << in.rdbuf();
    const bool executable = access(copy.substr(0, colon).c_str(), X_OK) == 0;
    spec["steps"].push_back(json{{"copy",
                                  {{"dst", copy.substr(colon + 1)},
                                   {"content_b64", base64(content.str())},
                                   {"mode", executable ? 0755 : 0644}}}});
  }
  for (const auto& run : o.runs)
    spec["steps"].push_back(json{{"run", run}});
  if (!o.start_cmd.empty())
    spec["start_cmd"] = o.start_cmd;
  if (o.wait_for_port != 0)
    spec["readiness"] = json{{"wait_for_port", o.wait_for_port}};
  if (o.memory != 0)
    spec["memory_mb"] = o.memory;
  body["spec"] = spec;
  for (const auto& tag : o.tags)
    body["tags"].push_back(tag);

  auto client = make_client(g);
  auto reply = client.call("POST", path + "/builds", body);
  if (!reply.ok() || o.no_wait)
    return show(g, reply,
                [](const json& b) { print_table(build_headers, {build_row(b)}); });

  // Follow the build until it is ready or failed.
  const auto build_path = path + "/builds/" + text(reply.json["build_id"]);
  const bool tty = isatty(STDERR_FILENO) != 0;
  const auto started = std::chrono::steady_clock::now();
  for (;;) {
    if (reply.json.value("status", "") != "building")
      break;
    const auto waited =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started);
    if (waited.count() > o.timeout_s) {
      std::cerr << "\nhearth: build " << text(reply.json["build_id"])
                << " still building after " << o.timeout_s << " s\n";
      return exit_timeout;
    }
    if (tty)
      std::cerr << "\rbuilding " << text(reply.json["canonical_ref"]) << " ... "
                << static_cast<int>(waited.count()) << " s" << std::flush;
    // Answered once the build ends, or as it is after the wait.
    reply = client.call("GET", build_path +
                                   "?wait_ms=" + wait_ms_for(tty, started, o.timeout_s));
    if (!reply.ok())
      return report_failure(reply);
  }
  if (tty)
    std::cerr << "\n";
  const int code =
      show(g, reply, [](const json& b) { print_table(build_headers, {build_row(b)}); });
  if (reply.json.value("status", "") == "failed") {
    if (!g.json)
      std::cerr << "hearth: the build failed; see hearth template logs " << o.name << " "
                << text(reply.json["build_id"]) << "\n";
    return exit_failed;
  }
  return code;
}

void add_template_commands(CLI::App& app, global_options& g, int& exit_code) {
  auto* tmpl =
      app.add_subcommand("template", "templates, their builds and tags; warm pools");
  tmpl->require_subcommand(1);

  auto build = std::make_shared<build_options>();
  auto* b = tmpl->add_subcommand(
      "build", "build a template: boot, run the steps, start, snapshot");
  b->add_option("name", build->name, "team/name")->required();
  b->add_option("--spec", build->spec_file,
                "JSON file: the build spec (base, steps, start_cmd, "
                "readiness), or {\"spec\": ..., \"tags\": [...]}");
  b->add_option("--base", build->base,
                "busybox, debian:bookworm or python:3.11 [busybox]");
  b->add_option("--copy", build->copies,
                "SRC:DST: copy a local file into the image (repeatable; "
                "copies come before --run steps)");
  b->add_option("--run", build->runs, "a command to run in the image (repeatable)");
  b->add_option("--start-cmd", build->start_cmd,
                "the command the snapshot is taken running");
  b->add_option("--wait-for-port", build->wait_for_port,
                "ready once this guest port listens");
  b->add_option("--memory", build->memory, "guest memory in MiB");
  b->add_option("--tag", build->tags, "tag the build once it is ready (repeatable)");
  b->add_flag("--no-wait", build->no_wait,
              "answer at once instead of following the build");
  b->add_option("--timeout", build->timeout_s, "seconds to follow the build [900]");
  b->callback([&g, &exit_code, build] { exit_code = run_build(g, *build); });

  tmpl->add_subcommand("list", "the tenant's templates")->callback([&g, &exit_code] {
    auto reply = make_client(g).call("GET", "/v1/templates");
    exit_code = show(g, reply, [](const json& list) {
      std::vector<std::vector<std::string>> rows;
      for (const auto& t : list) {
        std::string tags;
        const json tag_map = t.value("tags", json::object());
        for (const auto& [tag, build] : tag_map.items())
          tags += (tags.empty() ? "" : ",") + tag + "=" + text(build);
        rows.push_back({text(t["name"]),
                        std::to_string(t.value("builds", json::array()).size()),
                        tags.empty() ? "-" : tags});
      }
      print_table({"NAME", "BUILDS", "TAGS"}, rows);
    });
  });

  auto name = std::make_shared<std::string>();
  auto* get = tmpl->add_subcommand("get", "a template's builds and tags");
  get->add_option("name", *name, "team/name")->required();
  get->callback([&g, &exit_code, name] {
    std::string path;
    if (!split_template(*name, path)) {
      exit_code = exit_invalid;
      return;
    }
    exit_code = show(g, make_client(g).call("GET", path), [](const json& t) {
      std::vector<std::vector<std::string>> rows;
      const json builds = t.value("builds", json::array());
      for (const auto& b : builds)
        rows.push_back(build_row(b));
      print_table(build_headers, rows);
    });
  });

  auto tag_args = std::make_shared<std::array<std::string, 3>>();
  auto* tag =
      tmpl->add_subcommand("tag", "point a tag at a build (track_tag pools follow it)");
  tag->add_option("name", (*tag_args)[0], "team/name")->required();
  tag->add_option("tag", (*tag_args)[1], "the tag, e.g. stable")->required();
  tag->add_option("build_id", (*tag_args)[2], "the build")->required();
  tag->callback([&g, &exit_code, tag_args] {
    std::string path;
    if (!split_template((*tag_args)[0], path)) {
      exit_code = exit_invalid;
      return;
    }
    auto reply = make_client(g).call("PUT", path + "/tags/" + (*tag_args)[1],
                                     json{{"build_id", (*tag_args)[2]}});
    exit_code =
        show(g, reply, [](const json& b) { print_table(build_headers, {build_row(b)}); });
  });

  auto log_args = std::make_shared<std::array<std::string, 2>>();
  auto* logs = tmpl->add_subcommand("logs", "what a build printed, step by step");
  logs->add_option("name", (*log_args)[0], "team/name")->required();
  logs->add_option("build_id", (*log_args)[1], "the build")->required();
  logs->callback([&g, &exit_code, log_args] {
    std::string path;
    if (!split_template((*log_args)[0], path)) {
      exit_code = exit_invalid;
      return;
    }
    auto reply = make_client(g).call("GET", path + "/builds/" + (*log_args)[1] + "/logs");
    if (!reply.ok()) {
      exit_code = report_failure(reply);
      return;
    }
    std::cout << reply.body;
    exit_code = exit_ok;
  });

  add_warm_pool_commands(*tmpl, g, exit_code);
}

void add_sandbox_commands(CLI::App& app, global_options& g, int& exit_code) {
  auto* sb = app.add_subcommand("sandbox", "sandboxes: running VMs");
  sb->require_subcommand(1);

  struct create_flags {
    std::string template_ref;
    std::string warm_pool;
    std::string mode;
    std::optional<std::uint32_t> wait_ms;
    std::vector<std::string> envs;
    std::string cwd;
  };
  auto flags = std::make_shared<create_flags>();
  auto* c =
      sb->add_subcommand("create", "create a sandbox, from a warm pool where it can");
  c->add_option("--template", flags->template_ref, "team/name:tag or team/name@build");
  c->add_option("--warm-pool", flags->warm_pool, "the pool to take a ready VM from");
  c->add_option("--warm-pool-mode", flags->mode, "prefer, require or bypass [prefer]")
      ->check(CLI::IsMember({"prefer", "require", "bypass"}));
  c->add_option("--warm-pool-wait-ms", flags->wait_ms, "how long to wait for a ready VM");
  c->add_option("--env", flags->envs, "NAME=VALUE (not poolable: a pool is skipped)");
  c->add_option("--cwd", flags->cwd, "working directory (not poolable)");
  c->callback([&g, &exit_code, flags] {
    json body = json::object();
    if (!flags->template_ref.empty())
      body["template"] = flags->template_ref;
    if (!flags->warm_pool.empty())
      body["warm_pool"] = flags->warm_pool;
    if (!flags->mode.empty())
      body["warm_pool_mode"] = flags->mode;
    if (flags->wait_ms)
      body["warm_pool_wait_ms"] = *flags->wait_ms;
    for (const auto& env : flags->envs) {
      const auto eq = env.find('=');
      if (eq == std::string::npos || eq == 0) {
        std::cerr << "hearth: --env " << env << " is not NAME=VALUE\n";
        exit_code = exit_invalid;
        return;
      }
      body["envs"][env.substr(0, eq)] = env.substr(eq + 1);
    }
    if (!flags->cwd.empty())
      body["cwd"] = flags->cwd;
    auto reply = make_client(g).call("POST", "/v1/sandboxes", body);
    exit_code = show(
        g, reply, [](const json& s) { print_table(sandbox_headers, {sandbox_row(s)}); });
  });

  sb->add_subcommand("list", "the tenant's sandboxes")->callback([&g, &exit_code] {
    auto reply = make_client(g).call("GET", "/v1/sandboxes");
    exit_code = show(g, reply, [](const json& list) {
      std::vector<std::vector<std::string>> rows;
      for (const auto& s : list)
        rows.push_back(sandbox_row(s));
      print_table(sandbox_headers, rows);
    });
  });

  for (const auto& [name, method, help] :
       {std::tuple{"get", "GET", "a sandbox"}, {"kill", "DELETE", "destroy a sandbox"}}) {
    auto id = std::make_shared<std::string>();
    auto* cmd = sb->add_subcommand(name, help);
    cmd->add_option("id", *id, "the sandbox id")->required();
    cmd->callback([&g, &exit_code, id, method = std::string(method)] {
      auto reply = make_client(g).call(method, "/v1/sandboxes/" + *id);
      exit_code = show(g, reply, [](const json& s) {
        print_table(sandbox_headers, {sandbox_row(s)});
      });
    });
  }
}

struct events_options {
  std::string stream;
  std::uint64_t from = 1;
  std::uint64_t limit = 0; // 0: no limit
  bool follow = false;
};

/// One event per line: position, stream #sequence, type, payload; or with
/// --json the API's object.
void print_event(const global_options& g, const json& event) {
  if (g.json) {
    std::cout << event.dump() << "\n";
    return;
  }
  std::cout << text(event["position"]) << " " << text(event["stream"]) << " #"
            << text(event["sequence"]) << " " << text(event["type"]) << " "
            << event["payload"].dump() << "\n";
}

/// Pages through the journal (or one stream of it) over HTTP; with
/// `follow`, long-polls its end for what is written next.
int run_events(const global_options& g, const events_options& o) {
  auto client = make_client(g, "admin.key");
  std::uint64_t from = std::max<std::uint64_t>(o.from, 1);
  std::uint64_t printed = 0;
  for (;;) {
    const std::uint64_t page =
        o.limit == 0 ? 1000 : std::min<std::uint64_t>(1000, o.limit - printed);
    std::string path =
        "/v1/events?from=" + std::to_string(from) + "&limit=" + std::to_string(page);
    if (!o.stream.empty())
      path += "&stream=" + o.stream;
    if (o.follow)
      path += "&wait_ms=5000";
    auto reply = client.call("GET", path);
    if (!reply.ok())
      return report_failure(reply);
    const auto& events = reply.json["events"];
    for (const auto& event : events)
      print_event(g, event);
    std::cout << std::flush;
    printed += events.size();
    if (o.limit != 0 && printed >= o.limit)
      return exit_ok;
    if (!events.empty())
      from =
          events.back()[o.stream.empty() ? "position" : "sequence"].get<std::uint64_t>() +
          1;
    else if (!o.follow)
      return exit_ok; // the end of the journal
  }
}

void add_events_command(CLI::App& app, global_options& g, int& exit_code) {
  auto o = std::make_shared<events_options>();
  auto* ev = app.add_subcommand(
      "events", "the journal of a running hearthd, in order (an admin key: "
                "$HEARTH_DATA_DIR/admin.key unless --key or --key-file)");
  ev->add_option(
      "--stream", o->stream,
      "only this stream (e.g. pool/twp_web); --from is then a sequence number");
  ev->add_option("--from", o->from, "the first position (or sequence) [1]");
  ev->add_option("--limit", o->limit, "stop after this many events");
  ev->add_flag("--follow,-f", o->follow,
               "at the end, wait for the events written next (of --stream, if given)");
  ev->callback([&g, &exit_code, o] { exit_code = run_events(g, *o); });
}

} // namespace

void add_api_commands(CLI::App& app, int& exit_code) {
  static global_options g;
  app.add_option("--server", g.server,
                 "hearthd's address [$HEARTH_SERVER or http://127.0.0.1:4327]");
  app.add_option("--key", g.key, "the API key [$HEARTH_API_KEY, else the key file]");
  app.add_option("--key-file", g.key_file,
                 "a file holding the API key [$HEARTH_DATA_DIR/tenant.key or "
                 "~/.local/share/hearth/tenant.key]");
  app.add_flag("--json", g.json, "print the API's JSON instead of a table");
  app.footer(
      "Exit codes: 0 ok, 1 failed (server error, failed build), 2 invalid input, "
      "3 not found, 4 unavailable (warm_pool_unavailable, conflict, quota_exceeded), "
      "5 unauthenticated, 6 hearthd unreachable, 7 timed out.");
  add_template_commands(app, g, exit_code);
  add_sandbox_commands(app, g, exit_code);
  add_events_command(app, g, exit_code);
}

} // namespace hearth::tools
