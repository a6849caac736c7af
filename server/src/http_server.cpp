// The only translation unit that includes Boost.Beast: its headers cost
// seconds of compile time each.
#include "hearth/server/http_server.hpp"

#include <algorithm>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <list>
#include <mutex>
#include <optional>
#include <thread>

namespace hearth::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

std::string_view to_string(errc code) {
  switch (code) {
  case errc::invalid_address:
    return "invalid_address";
  case errc::bind_failed:
    return "bind_failed";
  }
  return "unknown";
}

std::string_view http_request::header(std::string_view name) const {
  for (const auto& [key, value] : headers)
    if (key.size() == name.size() &&
        std::equal(key.begin(), key.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        }))
      return value;
  return {};
}

http_server::~http_server() = default;

namespace {

/// The bounds of `options` on a request parser.
void limit(http::request_parser<http::string_body>& parser, const http_options& options) {
  parser.body_limit(options.max_body_bytes);
  parser.header_limit(static_cast<std::uint32_t>(options.max_header_bytes));
}

/// A parsed request, free of Beast's types.
http_request to_request(http::request<http::string_body>& message) {
  http_request request;
  request.method = std::string(message.method_string());
  request.target = std::string(message.target());
  const auto query_at = request.target.find('?');
  request.path = request.target.substr(0, query_at);
  if (query_at != std::string::npos)
    request.query = request.target.substr(query_at + 1);
  for (const auto& field : message)
    request.headers.emplace_back(std::string(field.name_string()),
                                 std::string(field.value()));
  request.body = std::move(message.body());
  return request;
}

} // namespace

std::optional<http_request>
parse_request(std::string_view raw, const http_options& options, std::string& error) {
  http::request_parser<http::string_body> parser;
  limit(parser, options);
  parser.eager(true);
  beast::error_code ec;
  std::size_t used = 0;
  while (used < raw.size() && !parser.is_done()) {
    const auto n = parser.put(asio::buffer(raw.data() + used, raw.size() - used), ec);
    if (ec == http::error::need_more)
      break;
    if (ec) {
      error = ec.message();
      return std::nullopt;
    }
    if (n == 0)
      break;
    used += n;
  }
  if (!parser.is_done()) {
    error = "incomplete request";
    return std::nullopt;
  }
  auto message = parser.release();
  return to_request(message);
}

namespace {

class server_impl;

class session : public std::enable_shared_from_this<session> {
public:
  session(tcp::socket socket, server_impl& owner);
  ~session();

  void start() { read_next(); }
  /// Closes the connection now if it is idle, else after the answer in flight.
  void shutdown();

private:
  void read_next();
  void on_read(beast::error_code ec);
  void send(http_response response, bool keep_alive, unsigned version);
  void reject(http::status status, std::string code, std::string message);

  /// The one answer to the request being handled. The copies of its
  /// `respond` share it; if the last copy goes without having answered (a
  /// handler dropped it), the client gets a 500 rather than a closed
  /// connection it cannot tell from a crash.
  class reply_slot {
  public:
    reply_slot(std::shared_ptr<session> owner, bool keep_alive, unsigned version)
        : owner_(std::move(owner))
        , keep_alive_(keep_alive)
        , version_(version) {}
    reply_slot(const reply_slot&) = delete;
    reply_slot& operator=(const reply_slot&) = delete;
    ~reply_slot() {
      http_response dropped;
      dropped.status = 500;
      dropped.body = R"({"error":{"code":"internal","message":")"
                     R"(the request was dropped without an answer"}})";
      answer(std::move(dropped));
    }

    void answer(http_response response) {
      if (answered_.exchange(true))
        return;
      asio::post(owner_->stream_.get_executor(),
                 [owner = owner_, response = std::move(response),
                  keep_alive = keep_alive_, version = version_]() mutable {
                   owner->send(std::move(response), keep_alive, version);
                 });
    }

  private:
    std::shared_ptr<session> owner_;
    bool keep_alive_;
    unsigned version_;
    std::atomic<bool> answered_{false};
  };

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  server_impl& owner_;
  bool busy_ = false;
  bool closing_ = false;
};

class server_impl final : public http_server {
public:
  server_impl(const http_options& options, handler_fn handler)
      : options_(options)
      , handler_(std::move(handler))
      , acceptor_(io_) {}

  ~server_impl() override { stop(); }

  result<void> listen() {
    beast::error_code ec;
    auto address = asio::ip::make_address(options_.address, ec);
    if (ec)
      return error{errc::invalid_address,
                   "listen address " + options_.address + " does not parse"};
    tcp::endpoint endpoint(address, options_.port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec)
      acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec)
      acceptor_.bind(endpoint, ec);
    if (!ec)
      acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
      return error{errc::bind_failed, "cannot listen on " + options_.address + ":" +
                                          std::to_string(options_.port) + ": " +
                                          ec.message()};
    port_ = acceptor_.local_endpoint().port();
    accept_next();
    for (std::size_t i = 0; i < std::max<std::size_t>(1, options_.io_threads); ++i)
      threads_.emplace_back([this] { io_.run(); });
    return {};
  }

  std::uint16_t port() const override { return port_; }

  void stop() override {
    if (stopped_.exchange(true))
      return;
    asio::post(io_, [this] {
      beast::error_code ignored;
      acceptor_.close(ignored);
      std::lock_guard<std::mutex> lock(sessions_mutex_);
      for (auto& weak : sessions_)
        if (auto alive = weak.lock())
          alive->shutdown();
    });
    // The work guard stays until every session is gone: a session waiting for
    // its handler's answer has no I/O pending, and the answer is posted to
    // these threads, so they must still be running when it comes.
    std::unique_lock<std::mutex> lock(sessions_mutex_);
    sessions_gone_.wait_for(lock, options_.shutdown_grace, [this] {
      return std::none_of(sessions_.begin(), sessions_.end(),
                          [](const auto& weak) { return !weak.expired(); });
    });
    lock.unlock();
    guard_.reset();
    io_.stop();
    for (auto& thread : threads_)
      thread.join();
    threads_.clear();
  }

  const http_options& options() const { return options_; }
  const handler_fn& handler() const { return handler_; }
  asio::io_context& io() { return io_; }

  void session_ended() {
    std::lock_guard<std::mutex> lock(sessions_mutex_);
    sessions_.remove_if([](const auto& weak) { return weak.expired(); });
    sessions_gone_.notify_all();
  }

private:
  void accept_next() {
    acceptor_.async_accept(
        asio::make_strand(io_), [this](beast::error_code ec, tcp::socket socket) {
          if (ec)
            return; // acceptor closed
          auto created = std::make_shared<session>(std::move(socket), *this);
          {
            std::lock_guard<std::mutex> lock(sessions_mutex_);
            sessions_.remove_if([](const auto& weak) { return weak.expired(); });
            sessions_.push_back(created);
          }
          created->start();
          accept_next();
        });
  }

  // Declared before the io_context: sessions still queued in it at
  // destruction report to these.
  http_options options_;
  handler_fn handler_;
  std::mutex sessions_mutex_;
  std::condition_variable sessions_gone_;
  std::list<std::weak_ptr<session>> sessions_;
  std::atomic<bool> stopped_{false};
  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard_{
      io_.get_executor()};
  tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::vector<std::thread> threads_;
};

session::session(tcp::socket socket, server_impl& owner)
    : stream_(std::move(socket))
    , owner_(owner) {}

session::~session() {
  owner_.session_ended();
}

void session::shutdown() {
  asio::dispatch(stream_.get_executor(), [self = shared_from_this()] {
    self->closing_ = true;
    if (!self->busy_) {
      beast::error_code ignored;
      self->stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
      self->stream_.close();
    }
  });
}

void session::read_next() {
  if (closing_) {
    stream_.close();
    return;
  }
  parser_.emplace();
  limit(*parser_, owner_.options());
  stream_.expires_after(owner_.options().request_timeout);
  http::async_read(stream_, buffer_, *parser_,
                   [self = shared_from_this()](beast::error_code ec, std::size_t) {
                     self->on_read(ec);
                   });
}

void session::reject(http::status status, std::string code, std::string message) {
  http_response response;
  response.status = static_cast<unsigned>(status);
  response.body =
      R"({"error":{"code":")" + code + R"(","message":")" + message + R"("}})";
  send(std::move(response), false, 11);
}

void session::on_read(beast::error_code ec) {
  if (ec == http::error::body_limit)
    return reject(http::status::payload_too_large, "invalid_argument",
                  "request body exceeds the server's limit");
  if (ec == http::error::header_limit)
    return reject(http::status::request_header_fields_too_large, "invalid_argument",
                  "request head exceeds the server's limit");
  if (ec == http::error::bad_method || ec == http::error::bad_target ||
      ec == http::error::bad_version || ec == http::error::bad_field ||
      ec == http::error::bad_value || ec == http::error::bad_content_length ||
      ec == http::error::bad_transfer_encoding || ec == http::error::bad_chunk ||
      ec == http::error::bad_line_ending || ec == http::error::bad_obs_fold)
    return reject(http::status::bad_request, "invalid_argument",
                  "malformed HTTP request");
  if (ec) { // closed by the peer, timed out, or shut down
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
    return;
  }

  auto message = parser_->release();
  http_request request = to_request(message);

  busy_ = true;
  const bool keep_alive = message.keep_alive();
  const unsigned version = message.version();
  stream_.expires_after(owner_.options().request_timeout);
  auto slot = std::make_shared<reply_slot>(shared_from_this(), keep_alive, version);
  respond_fn respond = [slot](http_response response) {
    slot->answer(std::move(response));
  };
  owner_.handler()(std::move(request), std::move(respond));
}

void session::send(http_response response, bool keep_alive, unsigned version) {
  auto message = std::make_shared<http::response<http::string_body>>(
      static_cast<http::status>(response.status), version);
  message->set(http::field::server, "hearthd");
  message->set(http::field::content_type, response.content_type);
  for (auto& [name, value] : response.headers)
    message->set(name, value);
  message->body() = std::move(response.body);
  message->keep_alive(keep_alive && !closing_);
  message->prepare_payload();
  http::async_write(
      stream_, *message,
      [self = shared_from_this(), message](beast::error_code ec, std::size_t) {
        self->busy_ = false;
        if (ec || !message->keep_alive()) {
          beast::error_code ignored;
          self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
          self->stream_.close();
          return;
        }
        self->read_next();
      });
}

} // namespace

result<std::unique_ptr<http_server>> http_server::start(const http_options& options,
                                                        handler_fn handler) {
  auto server = std::make_unique<server_impl>(options, std::move(handler));
  if (auto listening = server->listen(); !listening)
    return std::move(listening).error();
  return std::unique_ptr<http_server>(std::move(server));
}

} // namespace hearth::server
