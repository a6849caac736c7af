#include "hearth/server/http_api.hpp"

#include <array>
#include <atomic>
#include <cctype>
#include <charconv>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>

#include "api_codec.hpp"
#include "hearth/actors/runtime.hpp"

namespace hearth::server {

using nlohmann::json;
using namespace internal;

namespace {

unsigned status_of(model::errc code) {
  switch (code) {
  case model::errc::invalid_argument:
    return 400;
  case model::errc::unauthenticated:
    return 401;
  case model::errc::not_found:
    return 404;
  case model::errc::conflict:
  case model::errc::warm_pool_unavailable:
    return 409;
  case model::errc::quota_exceeded:
    return 429;
  case model::errc::unavailable:
    return 503;
  case model::errc::internal:
    return 500;
  }
  return 500;
}

http_response json_response(unsigned status, const json& body) {
  http_response out;
  out.status = status;
  // Request bytes echoed in a message need not be UTF-8: replace, never throw.
  out.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return out;
}

http_response error_response(unsigned status, std::string_view code,
                             const std::string& message, const std::string& field = {}) {
  json error{{"code", code}, {"message", message}};
  if (!field.empty())
    error["field"] = field;
  return json_response(status, json{{"error", error}});
}

http_response error_response(const model::error& e) {
  return error_response(status_of(e.code), model::to_string(e.code), e.message, e.field);
}

http_response invalid_fields(const std::vector<field_error>& errors) {
  json details = json::array();
  for (const auto& e : errors)
    details.push_back(json{{"field", e.field}, {"message", e.message}});
  auto out = json{{"error",
                   {{"code", "invalid_argument"},
                    {"message", errors.front().message},
                    {"field", errors.front().field},
                    {"details", details}}}};
  return json_response(400, out);
}

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> out;
  std::size_t start = 1;
  while (start <= path.size()) {
    const auto slash = path.find('/', start);
    const auto end = slash == std::string::npos ? path.size() : slash;
    out.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

/// `text` with %XX escapes and '+' decoded; a malformed escape stays as is.
std::string url_decode(const std::string& text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out += ' ';
    } else if (text[i] == '%' && i + 2 < text.size() &&
               std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      out += static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::map<std::string, std::string> parse_query(const std::string& query) {
  std::map<std::string, std::string> out;
  std::size_t start = 0;
  while (start < query.size()) {
    auto end = query.find('&', start);
    if (end == std::string::npos)
      end = query.size();
    const auto pair = query.substr(start, end - start);
    const auto eq = pair.find('=');
    if (eq == std::string::npos)
      out[url_decode(pair)] = "";
    else
      out[url_decode(pair.substr(0, eq))] = url_decode(pair.substr(eq + 1));
    start = end + 1;
  }
  return out;
}

/// A query parameter's value as a count: decimal digits only, no sign, no
/// overflow.
std::optional<std::uint64_t> parse_count(const std::string& text) {
  std::uint64_t value = 0;
  const auto* end = text.data() + text.size();
  auto [at, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || at != end)
    return std::nullopt;
  return value;
}

/// Buckets of the latency histograms, in seconds.
constexpr std::array<double, 14> latency_buckets{
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

struct histogram {
  std::array<std::atomic<std::uint64_t>, latency_buckets.size() + 1> counts{};
  std::atomic<std::uint64_t> sum_us{0};

  void observe(std::chrono::microseconds took) {
    const double seconds = static_cast<double>(took.count()) / 1e6;
    std::size_t i = 0;
    while (i < latency_buckets.size() && seconds > latency_buckets[i])
      ++i;
    counts[i].fetch_add(1, std::memory_order_relaxed);
    sum_us.fetch_add(static_cast<std::uint64_t>(took.count()), std::memory_order_relaxed);
  }

  runtime::latency_histogram snapshot() const {
    runtime::latency_histogram out;
    out.bounds_s.assign(latency_buckets.begin(), latency_buckets.end());
    for (const auto& count : counts)
      out.counts.push_back(count.load(std::memory_order_relaxed));
    out.sum_s = static_cast<double>(sum_us.load(std::memory_order_relaxed)) / 1e6;
    return out;
  }
};

/// Prometheus buckets (cumulative), sum and count of `h`, with `labels`.
void render_histogram(std::string& out, const std::string& name,
                      const std::string& labels, const runtime::latency_histogram& h) {
  const std::string sep = labels.empty() ? "" : ",";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < h.counts.size(); ++i) {
    cumulative += h.counts[i];
    char le[32];
    if (i < h.bounds_s.size())
      std::snprintf(le, sizeof(le), "%g", h.bounds_s[i]);
    else
      std::snprintf(le, sizeof(le), "+Inf");
    out += name + "_bucket{" + labels + sep + "le=\"" + le + "\"} " +
           std::to_string(cumulative) + "\n";
  }
  char sum[32];
  std::snprintf(sum, sizeof(sum), "%.6f", h.sum_s);
  const std::string braces = labels.empty() ? "" : "{" + labels + "}";
  out += name + "_sum" + braces + " " + sum + "\n" + name + "_count" + braces + " " +
         std::to_string(cumulative) + "\n";
}

constexpr std::array<const char*, 3> modes{"prefer", "require", "bypass"};
constexpr std::array<const char*, 4> outcomes{"hit", "cold", "unavailable", "error"};

} // namespace

class http_api::impl : public std::enable_shared_from_this<http_api::impl> {
public:
  struct call {
    http_request request;
    respond_fn respond;
    std::vector<std::string> params;
    api::principal who;
    std::chrono::steady_clock::time_point started;
  };
  using handler = void (impl::*)(call&);

  struct route {
    route_spec spec;
    handler run;
  };

  impl(runtime& rt, api_options options)
      : rt_(rt)
      , options_(options) {}

  static const std::vector<route>& table();

  void handle(http_request request, respond_fn respond) {
    call c{
        std::move(request), std::move(respond), {}, {}, std::chrono::steady_clock::now()};
    const auto segments = split_path(c.request.path);
    const route* matched = nullptr;
    bool path_known = false;
    for (const auto& r : table()) {
      std::vector<std::string> params;
      if (!match(r.spec.pattern, segments, params))
        continue;
      path_known = true;
      if (r.spec.method != c.request.method)
        continue;
      matched = &r;
      c.params = std::move(params);
      break;
    }
    if (matched == nullptr) {
      c.respond(path_known ? error_response(405, "method_not_allowed",
                                            c.request.method + " is not allowed on " +
                                                c.request.path)
                           : error_response(404, "not_found",
                                            "no route for " + c.request.method + " " +
                                                c.request.path));
      return;
    }
    if (matched->spec.who == access::open) {
      (this->*(matched->run))(c);
      return;
    }
    const auto authorization = c.request.header("authorization");
    constexpr std::string_view bearer = "Bearer ";
    if (authorization.size() <= bearer.size() ||
        authorization.substr(0, bearer.size()) != bearer) {
      c.respond(error_response(401, "unauthenticated",
                               "an API key is required: Authorization: Bearer <key>"));
      return;
    }
    auto self = shared_from_this();
    const auto who = matched->spec.who;
    const auto run = matched->run;
    rt_.authenticate(std::string(authorization.substr(bearer.size())))
        .then([self, who, run,
               c = std::move(c)](model::result<api::principal> principal) mutable {
          if (!principal) {
            c.respond(error_response(principal.error()));
            return;
          }
          if (who == access::admin && principal->role != "admin") {
            c.respond(error_response(401, "unauthenticated", "this needs an admin key"));
            return;
          }
          c.who = std::move(*principal);
          (self.get()->*run)(c);
        });
  }

  // -- helpers ------------------------------------------------------------------
  static bool match(const std::string& pattern, const std::vector<std::string>& segments,
                    std::vector<std::string>& params) {
    const auto parts = split_path(pattern);
    if (parts.size() != segments.size())
      return false;
    for (std::size_t i = 0; i < parts.size(); ++i) {
      if (!parts[i].empty() && parts[i].front() == '{') {
        if (segments[i].empty())
          return false;
        params.push_back(segments[i]);
      } else if (parts[i] != segments[i]) {
        return false;
      }
    }
    return true;
  }

  /// Parses the body as JSON; an empty body is `null`. Answers 400 itself.
  static bool parse_body(call& c, json& out) {
    if (c.request.body.empty()) {
      out = nullptr;
      return true;
    }
    out = json::parse(c.request.body, nullptr, false);
    if (out.is_discarded()) {
      c.respond(
          error_response(400, "invalid_argument", "the request body is not valid JSON"));
      return false;
    }
    return true;
  }

  template <class T>
  static void answer(call& c, pending<T> reply, unsigned status = 200) {
    reply.then([respond = std::move(c.respond), status](model::result<T> r) {
      respond(r ? json_response(status, to_json(*r)) : error_response(r.error()));
    });
  }

  /// A GET's `wait_ms` (absent: none) and, where `after_revision` is not
  /// null (a pool's GET), its `after_revision`: each needs the other there.
  /// Answers 400 itself.
  bool parse_wait(call& c, std::optional<std::chrono::milliseconds>& wait,
                  std::uint64_t* after_revision) const {
    auto query = parse_query(c.request.query);
    std::vector<field_error> errors;
    if (query.count("wait_ms")) {
      auto ms = parse_count(query["wait_ms"]);
      const auto most = static_cast<std::uint64_t>(options_.max_wait.count());
      if (!ms || *ms > most)
        errors.push_back({"wait_ms", "wait_ms must be a whole number of milliseconds "
                                     "from 0 to " +
                                         std::to_string(most) + ", not \"" +
                                         query["wait_ms"] + "\""});
      else
        wait = std::chrono::milliseconds(*ms);
    }
    if (after_revision != nullptr) {
      if (query.count("after_revision")) {
        auto revision = parse_count(query["after_revision"]);
        if (!revision)
          errors.push_back({"after_revision", "after_revision must be a revision the "
                                              "pool answered with, not \"" +
                                                  query["after_revision"] + "\""});
        else
          *after_revision = *revision;
        if (!query.count("wait_ms"))
          errors.push_back(
              {"wait_ms", "after_revision needs wait_ms: how long to wait for a change"});
      } else if (query.count("wait_ms")) {
        errors.push_back({"after_revision",
                          "wait_ms needs after_revision: the revision to wait past"});
      }
    }
    if (!errors.empty()) {
      c.respond(invalid_fields(errors));
      return false;
    }
    return true;
  }

  std::string template_name(const call& c) const {
    return c.params[0] + "/" + c.params[1];
  }

  // -- templates ----------------------------------------------------------------
  void build(call& c) {
    json body;
    if (!parse_body(c, body))
      return;
    std::vector<field_error> errors;
    auto request = decode_build(body, errors);
    if (!errors.empty())
      return c.respond(invalid_fields(errors));
    answer(c,
           rt_.build_template(c.who.tenant, template_name(c), std::move(request.spec),
                              std::move(request.tags)),
           202);
  }
  void get_build(call& c) {
    std::optional<std::chrono::milliseconds> wait;
    if (!parse_wait(c, wait, nullptr))
      return;
    if (wait)
      return answer(c,
                    rt_.wait_build(c.who.tenant, template_name(c), c.params[2], *wait));
    answer(c, rt_.get_build(c.who.tenant, template_name(c), c.params[2]));
  }
  void delete_build(call& c) {
    answer(c, rt_.delete_build(c.who.tenant, template_name(c), c.params[2]));
  }
  void build_log(call& c) {
    rt_.build_log(c.who.tenant, template_name(c), c.params[2])
        .then([respond = std::move(c.respond)](model::result<std::string> log) {
          if (!log)
            return respond(error_response(log.error()));
          http_response out;
          out.content_type = "text/plain; charset=utf-8";
          out.body = std::move(*log);
          respond(std::move(out));
        });
  }
  void list_templates(call& c) { answer(c, rt_.list_templates(c.who.tenant)); }
  void get_template(call& c) {
    answer(c, rt_.get_template(c.who.tenant, template_name(c)));
  }
  void tag(call& c) {
    json body;
    if (!parse_body(c, body))
      return;
    std::vector<field_error> errors;
    auto build_id = decode_tag_move(body, errors);
    if (!errors.empty())
      return c.respond(invalid_fields(errors));
    answer(c, rt_.tag_template(c.who.tenant, template_name(c), c.params[2], build_id));
  }

  // -- warm pools ---------------------------------------------------------------
  void create_pool(call& c) {
    json body;
    if (!parse_body(c, body))
      return;
    std::vector<field_error> errors;
    auto spec = decode_pool_spec(body, errors);
    if (!errors.empty())
      return c.respond(invalid_fields(errors));
    answer(c, rt_.create_pool(c.who.tenant, std::move(spec)), 201);
  }
  void list_pools(call& c) { answer(c, rt_.list_pools(c.who.tenant)); }
  void get_pool(call& c) {
    std::optional<std::chrono::milliseconds> wait;
    std::uint64_t after = 0;
    if (!parse_wait(c, wait, &after))
      return;
    if (wait)
      return answer(c, rt_.watch_pool(c.who.tenant, c.params[0], after, *wait));
    answer(c, rt_.get_pool(c.who.tenant, c.params[0]));
  }
  void update_pool(call& c) {
    json body;
    if (!parse_body(c, body))
      return;
    std::vector<field_error> errors;
    auto patch = decode_pool_patch(body, errors);
    if (!errors.empty())
      return c.respond(invalid_fields(errors));
    answer(c, rt_.update_pool(c.who.tenant, c.params[0], std::move(patch)));
  }
  void delete_pool(call& c) {
    answer(c, rt_.delete_pool(c.who.tenant, c.params[0]), 202);
  }
  void pool_status(call& c) {
    rt_.get_pool(c.who.tenant, c.params[0])
        .then([respond = std::move(c.respond)](model::result<api::pool_info> pool) {
          respond(pool ? json_response(200, to_json(pool->status))
                       : error_response(pool.error()));
        });
  }
  void enable_pool(call& c) { answer(c, rt_.enable_pool(c.who.tenant, c.params[0])); }
  void disable_pool(call& c) { answer(c, rt_.disable_pool(c.who.tenant, c.params[0])); }
  void drain_pool(call& c) { answer(c, rt_.drain_pool(c.who.tenant, c.params[0])); }
  void reconcile_pool(call& c) {
    answer(c, rt_.reconcile_pool(c.who.tenant, c.params[0]));
  }

  // -- sandboxes ----------------------------------------------------------------
  void create_sandbox(call& c) {
    json body;
    if (!parse_body(c, body))
      return;
    std::vector<field_error> errors;
    auto request = decode_sandbox_request(body, errors);
    if (!errors.empty())
      return c.respond(invalid_fields(errors));
    const bool considers_pool =
        request.warm_pool_mode != "bypass" && !request.warm_pool.empty();
    const std::size_t mode = request.warm_pool_mode == "require"  ? 1
                             : request.warm_pool_mode == "bypass" ? 2
                                                                  : 0;
    auto self = shared_from_this();
    rt_.create_sandbox(c.who.tenant, std::move(request))
        .then([self, considers_pool, mode, started = c.started,
               respond = std::move(c.respond)](model::result<api::sandbox_info> sandbox) {
          const auto took = std::chrono::duration_cast<std::chrono::microseconds>(
              std::chrono::steady_clock::now() - started);
          std::size_t outcome = 3;
          if (sandbox)
            outcome = sandbox->warm_pool_checkout.hit ? 0 : 1;
          else if (sandbox.error().code == model::errc::warm_pool_unavailable)
            outcome = 2;
          if (considers_pool || mode == 2)
            self->checkouts_[mode][outcome].fetch_add(1, std::memory_order_relaxed);
          if (sandbox)
            self->create_latency_[outcome].observe(took);
          respond(sandbox ? json_response(201, to_json(*sandbox))
                          : error_response(sandbox.error()));
        });
  }
  void list_sandboxes(call& c) { answer(c, rt_.list_sandboxes(c.who.tenant)); }
  void get_sandbox(call& c) { answer(c, rt_.get_sandbox(c.who.tenant, c.params[0])); }
  void delete_sandbox(call& c) {
    answer(c, rt_.delete_sandbox(c.who.tenant, c.params[0]));
  }

  // -- hosts, tenants, the journal ------------------------------------------------
  void list_hosts(call& c) { answer(c, rt_.hosts()); }
  void list_tenants(call& c) { answer(c, rt_.list_tenants()); }
  void create_tenant(call& c) {
    json body;
    if (!parse_body(c, body))
      return;
    std::vector<field_error> errors;
    auto tenant = decode_tenant(body, errors);
    if (!errors.empty())
      return c.respond(invalid_fields(errors));
    rt_.set_tenant(tenant.id, tenant.quota_vcpus, tenant.quota_memory_mb)
        .then([tenant, respond = std::move(c.respond)](model::result<bool> done) {
          respond(
              done ? json_response(201, json{{"id", tenant.id},
                                             {"quota_vcpus", tenant.quota_vcpus},
                                             {"quota_memory_mb", tenant.quota_memory_mb}})
                   : error_response(done.error()));
        });
  }
  void create_key(call& c) {
    json body;
    if (!parse_body(c, body))
      return;
    std::vector<field_error> errors;
    auto role = decode_key_request(body, errors);
    if (!errors.empty())
      return c.respond(invalid_fields(errors));
    answer(c, rt_.create_api_key(c.params[0], role), 201);
  }
  void revoke_key(call& c) {
    rt_.revoke_api_key(c.params[0], c.params[1])
        .then([tenant = c.params[0], key_id = c.params[1],
               respond = std::move(c.respond)](model::result<bool> revoked) {
          respond(revoked ? json_response(200, json{{"tenant", tenant},
                                                    {"key_id", key_id},
                                                    {"revoked", true}})
                          : error_response(revoked.error()));
        });
  }
  void read_events(call& c) {
    auto query = parse_query(c.request.query);
    std::uint64_t from = 1;
    std::uint64_t limit = 100;
    for (auto [name, value] : {std::pair{"from", &from}, std::pair{"limit", &limit}}) {
      if (!query.count(name))
        continue;
      auto parsed = parse_count(query[name]);
      if (!parsed)
        return c.respond(error_response(
            400, "invalid_argument",
            std::string(name) + " must be a whole number, not \"" + query[name] + "\"",
            name));
      *value = *parsed;
    }
    if (limit == 0 || limit > options_.max_events_page)
      return c.respond(error_response(400, "invalid_argument",
                                      "limit must be between 1 and " +
                                          std::to_string(options_.max_events_page),
                                      "limit"));
    std::optional<std::chrono::milliseconds> wait;
    if (!parse_wait(c, wait, nullptr))
      return;
    std::string stream = query["stream"];
    from = std::max<std::uint64_t>(from, 1);
    // A bounded read of the local RocksDB: microseconds, like parsing.
    auto page = rt_.read_events(stream, from, limit);
    if (!page || !page->empty() || !wait)
      return c.respond(events_page(page, stream, limit));
    // Nothing there yet: answer once the journal grows, or after the wait.
    rt_.wait_events(stream, from, *wait)
        .then([self = shared_from_this(), stream = std::move(stream), from, limit,
               respond = std::move(c.respond)](model::result<bool> grown) {
          if (!grown)
            return respond(error_response(grown.error()));
          respond(self->events_page(self->rt_.read_events(stream, from, limit), stream,
                                    limit));
        });
  }

  static http_response
  events_page(const model::result<std::vector<events::envelope>>& page,
              const std::string& stream, std::size_t limit) {
    if (!page)
      return error_response(page.error());
    json out{{"events", to_json(*page)}};
    if (page->size() == limit) {
      const auto& last = page->back();
      out["next"] = (stream.empty() ? last.position : last.sequence) + 1;
    }
    return json_response(200, out);
  }

  // -- open routes ----------------------------------------------------------------
  void healthz(call& c) { c.respond(json_response(200, json{{"status", "ok"}})); }
  void openapi(call& c) {
    http_response out;
    out.body = http_api::openapi_document();
    c.respond(std::move(out));
  }
  void metrics(call& c);

private:
  runtime& rt_;
  api_options options_;
  std::array<std::array<std::atomic<std::uint64_t>, outcomes.size()>, modes.size()>
      checkouts_{};
  std::array<histogram, outcomes.size()> create_latency_{};

  friend class http_api;
};

const std::vector<http_api::impl::route>& http_api::impl::table() {
  static const std::vector<route> routes{
      {{"GET", "/healthz", access::open}, &impl::healthz},
      {{"GET", "/metrics", access::open}, &impl::metrics},
      {{"GET", "/v1/openapi.json", access::open}, &impl::openapi},
      {{"GET", "/v1/templates", access::tenant}, &impl::list_templates},
      {{"GET", "/v1/templates/{team}/{name}", access::tenant}, &impl::get_template},
      {{"POST", "/v1/templates/{team}/{name}/builds", access::tenant}, &impl::build},
      {{"GET", "/v1/templates/{team}/{name}/builds/{build_id}", access::tenant},
       &impl::get_build},
      {{"DELETE", "/v1/templates/{team}/{name}/builds/{build_id}", access::tenant},
       &impl::delete_build},
      {{"GET", "/v1/templates/{team}/{name}/builds/{build_id}/logs", access::tenant},
       &impl::build_log},
      {{"PUT", "/v1/templates/{team}/{name}/tags/{tag}", access::tenant}, &impl::tag},
      {{"POST", "/v1/template-warm-pools", access::tenant}, &impl::create_pool},
      {{"GET", "/v1/template-warm-pools", access::tenant}, &impl::list_pools},
      {{"GET", "/v1/template-warm-pools/{id}", access::tenant}, &impl::get_pool},
      {{"PATCH", "/v1/template-warm-pools/{id}", access::tenant}, &impl::update_pool},
      {{"DELETE", "/v1/template-warm-pools/{id}", access::tenant}, &impl::delete_pool},
      {{"GET", "/v1/template-warm-pools/{id}/status", access::tenant},
       &impl::pool_status},
      {{"POST", "/v1/template-warm-pools/{id}/enable", access::tenant},
       &impl::enable_pool},
      {{"POST", "/v1/template-warm-pools/{id}/disable", access::tenant},
       &impl::disable_pool},
      {{"POST", "/v1/template-warm-pools/{id}/drain", access::tenant}, &impl::drain_pool},
      {{"POST", "/v1/template-warm-pools/{id}/reconcile", access::tenant},
       &impl::reconcile_pool},
      {{"POST", "/v1/sandboxes", access::tenant}, &impl::create_sandbox},
      {{"GET", "/v1/sandboxes", access::tenant}, &impl::list_sandboxes},
      {{"GET", "/v1/sandboxes/{id}", access::tenant}, &impl::get_sandbox},
      {{"DELETE", "/v1/sandboxes/{id}", access::tenant}, &impl::delete_sandbox},
      {{"GET", "/v1/hosts", access::tenant}, &impl::list_hosts},
      {{"GET", "/v1/events", access::admin}, &impl::read_events},
      {{"GET", "/v1/tenants", access::admin}, &impl::list_tenants},
      {{"POST", "/v1/tenants", access::admin}, &impl::create_tenant},
      {{"POST", "/v1/tenants/{id}/keys", access::admin}, &impl::create_key},
      {{"DELETE", "/v1/tenants/{id}/keys/{key_id}", access::admin}, &impl::revoke_key},
  };
  return routes;
}

void http_api::impl::metrics(call& c) {
  std::string out;
  out += "# HELP hearth_checkouts_total Sandbox creates that considered a warm pool, by "
         "mode "
         "and outcome.\n# TYPE hearth_checkouts_total counter\n";
  for (std::size_t m = 0; m < modes.size(); ++m)
    for (std::size_t o = 0; o < outcomes.size(); ++o)
      out += std::string("hearth_checkouts_total{mode=\"") + modes[m] + "\",outcome=\"" +
             outcomes[o] + "\"} " + std::to_string(checkouts_[m][o].load()) + "\n";
  out +=
      "# HELP hearth_sandbox_create_seconds Time to answer a sandbox create, by source.\n"
      "# TYPE hearth_sandbox_create_seconds histogram\n";
  render_histogram(out, "hearth_sandbox_create_seconds", "source=\"warm_pool\"",
                   create_latency_[0].snapshot());
  render_histogram(out, "hearth_sandbox_create_seconds", "source=\"cold\"",
                   create_latency_[1].snapshot());
  const auto counters = rt_.metrics();
  out += "# TYPE hearth_journal_persists_total counter\nhearth_journal_persists_total " +
         std::to_string(counters.persists) + "\n";
  out += "# TYPE hearth_journal_persist_failures_total counter\n"
         "hearth_journal_persist_failures_total " +
         std::to_string(counters.persist_failures) + "\n";
  out += "# TYPE hearth_actor_restarts_total counter\nhearth_actor_restarts_total " +
         std::to_string(counters.actor_restarts) + "\n";
  out += "# HELP hearth_recovery_misfit_events Journal events the last recovery found "
         "not fitting their aggregate's state (should be 0; hearth replay state names "
         "them).\n# TYPE hearth_recovery_misfit_events "
         "gauge\nhearth_recovery_misfit_events " +
         std::to_string(counters.recovery_misfits) + "\n";
  out += "# HELP hearth_checkout_waiters Sandbox creates waiting for a pool's ready VM.\n"
         "# TYPE hearth_checkout_waiters gauge\nhearth_checkout_waiters " +
         std::to_string(counters.checkout_waiters) + "\n";
  out +=
      "# HELP hearth_sandbox_actors Sandboxes with a live actor; the others are parked.\n"
      "# TYPE hearth_sandbox_actors gauge\nhearth_sandbox_actors " +
      std::to_string(counters.sandbox_actors) + "\n";
  out += "# HELP hearth_journal_append_seconds From an actor's append to the journal's "
         "durable acknowledgement.\n# TYPE hearth_journal_append_seconds histogram\n";
  render_histogram(out, "hearth_journal_append_seconds", "", counters.journal_append);
  out +=
      "# HELP hearth_vm_restore_seconds From a restore request to the VM being ready.\n"
      "# TYPE hearth_vm_restore_seconds histogram\n";
  render_histogram(out, "hearth_vm_restore_seconds", "", counters.vm_restore);

  // Pool gauges: every tenant's pools, gathered without blocking.
  struct gather {
    std::mutex mutex;
    std::string text;
    std::size_t waiting = 0;
    respond_fn respond;
    void finish() {
      http_response response;
      response.content_type = "text/plain; version=0.0.4";
      response.body = std::move(text);
      respond(std::move(response));
    }
  };
  auto state = std::make_shared<gather>();
  state->text = std::move(out);
  state->text += "# HELP hearth_pool_members Warm pool members by status count.\n"
                 "# TYPE hearth_pool_members gauge\n";
  state->respond = std::move(c.respond);
  auto self = shared_from_this();
  rt_.list_tenants().then(
      [self, state](model::result<std::vector<api::tenant_info>> tenants) {
        if (!tenants || tenants->empty())
          return state->finish();
        state->waiting = tenants->size();
        for (const auto& tenant : *tenants) {
          self->rt_.list_pools(tenant.id).then(
              [state, id = tenant.id](model::result<std::vector<api::pool_info>> pools) {
                std::unique_lock<std::mutex> lock(state->mutex);
                if (pools)
                  for (const auto& pool : *pools) {
                    const auto counts = to_json(pool.status);
                    for (const auto& [name, value] : counts.items())
                      state->text += "hearth_pool_members{tenant=\"" + id + "\",pool=\"" +
                                     pool.id + "\",status=\"" + name + "\"} " +
                                     value.dump() + "\n";
                  }
                if (--state->waiting == 0) {
                  lock.unlock();
                  state->finish();
                }
              });
        }
      });
}

http_api::http_api(runtime& rt, api_options options)
    : impl_(std::make_shared<impl>(rt, options)) {}

http_api::~http_api() = default;

void http_api::handle(http_request request, respond_fn respond) {
  impl_->handle(std::move(request), std::move(respond));
}

const std::vector<route_spec>& http_api::routes() {
  static const std::vector<route_spec> specs = [] {
    std::vector<route_spec> out;
    for (const auto& r : impl::table())
      out.push_back(r.spec);
    return out;
  }();
  return specs;
}

} // namespace hearth::server
