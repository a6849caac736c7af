// bench/api: hearth's HTTP API with real VMs. Starts hearthd (QEMU driver)
// on a scratch data directory, builds the busybox web guest, keeps a pool of
// ready VMs, and measures over HTTP with keep-alive connections:
//   - warm checkouts (prefer hits) with 1 and 16 concurrent clients;
//   - cold creates (prefer-mode misses: an empty pool) with 1 and 16;
//   - GET .../status requests per second (wrk), beside GET /healthz, the
//     same server answering without the actors (the baseline).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <arpa/inet.h>
#include <atomic>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "bench_util.hpp"
#include "support/http_client.hpp"

using namespace hearth::bench;
using nlohmann::json;

namespace {

/// One keep-alive HTTP/1.1 connection to hearthd.
class connection {
public:
  connection(std::uint16_t port, std::string key)
      : port_(port)
      , key_(std::move(key)) {}
  ~connection() { close_socket(); }

  /// Sends one request; answers (status, body). Status 0: no answer.
  std::pair<int, std::string> call(const std::string& method, const std::string& path,
                                   const std::string& body = "") {
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (fd_ < 0 && !open_socket())
        return {0, ""};
      std::string request = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
                            "Authorization: Bearer " + key_ + "\r\n" +
                            "Content-Type: application/json\r\nContent-Length: " +
                            std::to_string(body.size()) + "\r\n\r\n" + body;
      if (::send(fd_, request.data(), request.size(), MSG_NOSIGNAL) !=
          static_cast<ssize_t>(request.size())) {
        close_socket();
        continue;
      }
      auto reply = read_reply();
      if (reply.first != 0)
        return reply;
      close_socket();
    }
    return {0, ""};
  }

private:
  bool open_socket() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port_);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
      close_socket();
      return false;
    }
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    buffer_.clear();
    return true;
  }

  void close_socket() {
    if (fd_ >= 0)
      ::close(fd_);
    fd_ = -1;
  }

  bool fill() {
    char chunk[16384];
    const ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (n <= 0)
      return false;
    buffer_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }

  std::pair<int, std::string> read_reply() {
    std::size_t head_end;
    while ((head_end = buffer_.find("\r\n\r\n")) == std::string::npos)
      if (!fill())
        return {0, ""};
    const std::string head = buffer_.substr(0, head_end);
    std::size_t length = 0;
    for (const char* name : {"Content-Length: ", "content-length: "})
      if (auto at = head.find(name); at != std::string::npos)
        length = std::stoul(head.substr(at + std::strlen(name)));
    while (buffer_.size() < head_end + 4 + length)
      if (!fill())
        return {0, ""};
    const int status = std::atoi(head.c_str() + 9);
    std::string body = buffer_.substr(head_end + 4, length);
    buffer_.erase(0, head_end + 4 + length);
    return {status, body};
  }

  std::uint16_t port_;
  std::string key_;
  int fd_ = -1;
  std::string buffer_;
};

std::string self_dir() {
  return std::filesystem::read_symlink("/proc/self/exe").parent_path().string();
}

std::string run_output(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr)
    return out;
  char chunk[4096];
  std::size_t got;
  while ((got = fread(chunk, 1, sizeof(chunk), pipe)) > 0)
    out.append(chunk, got);
  pclose(pipe);
  return out;
}

/// wrk's "Requests/sec:" figure for `path`; 0 if wrk is missing.
double wrk_rate(std::uint16_t port, const std::string& key, const std::string& path,
                int seconds) {
  const auto out = run_output(
      "wrk -t2 -c32 -d" + std::to_string(seconds) + "s -H " + "'Authorization: Bearer " +
      key + "' http://127.0.0.1:" + std::to_string(port) + path + " 2>/dev/null");
  const auto at = out.find("Requests/sec:");
  return at == std::string::npos ? 0 : std::atof(out.c_str() + at + 13);
}

struct latency_run {
  std::vector<double> ms;
  double seconds = 0;
  int hits = 0;
  int failures = 0;
};

/// `total` sandbox creates with `body` over `clients` connections.
latency_run creates(std::uint16_t port, const std::string& key, const std::string& body,
                    int clients, int total, std::vector<std::string>& ids) {
  latency_run run;
  std::mutex mutex;
  std::atomic<int> next{0};
  std::vector<std::thread> threads;
  const auto started = clock::now();
  for (int c = 0; c < clients; ++c)
    threads.emplace_back([&] {
      connection conn(port, key);
      while (next.fetch_add(1) < total) {
        const auto t0 = clock::now();
        auto [status, reply] = conn.call("POST", "/v1/sandboxes", body);
        const double ms = seconds_since(t0) * 1e3;
        std::lock_guard<std::mutex> lock(mutex);
        if (status != 201) {
          ++run.failures;
          std::fprintf(stderr, "create failed: %d %s\n", status, reply.c_str());
          continue;
        }
        auto sandbox = json::parse(reply);
        run.ms.push_back(ms);
        ids.push_back(sandbox["id"]);
        if (sandbox["warm_pool_checkout"]["hit"] == true)
          ++run.hits;
      }
    });
  for (auto& t : threads)
    t.join();
  run.seconds = seconds_since(started);
  return run;
}

void kill_all(std::uint16_t port, const std::string& key, std::vector<std::string>& ids) {
  connection conn(port, key);
  for (const auto& id : ids)
    conn.call("DELETE", "/v1/sandboxes/" + id);
  ids.clear();
}

bool wait_ready(std::uint16_t port, const std::string& key, const std::string& pool,
                int ready, double timeout_s) {
  connection conn(port, key);
  const auto started = clock::now();
  while (seconds_since(started) < timeout_s) {
    auto [status, body] = conn.call("GET", "/v1/template-warm-pools/" + pool + "/status");
    if (status == 200 && json::parse(body)["ready"].get<int>() >= ready)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench/api: warm and cold creates and status reads over HTTP, real VMs"};
  int pool_size = 32;
  int cold_samples = 12;
  int wrk_seconds = 5;
  int rounds = 5;
  std::string image_dir = "/var/tmp/hearth-test-images";
  app.add_option("--pool", pool_size,
                 "ready VMs kept in the pool (warm samples per phase)");
  app.add_option("--cold", cold_samples, "cold creates per phase");
  app.add_option("--rounds", rounds,
                 "warm rounds per client count (each empties the pool, then waits for "
                 "it to refill)")
      ->capture_default_str();
  app.add_option("--wrk-seconds", wrk_seconds, "duration of each wrk run");
  app.add_option("--image-dir", image_dir, "guest image cache");
  CLI11_PARSE(app, argc, argv);

  const auto data = std::filesystem::temp_directory_path() /
                    ("hearth-bench-api-" + std::to_string(getpid()));
  std::filesystem::create_directories(data);
  std::filesystem::create_directories(image_dir);
  const auto port = hearth::testing::free_port();
  const std::string hearthd = self_dir() + "/../hearthd";
  const pid_t daemon = fork();
  if (daemon == 0) {
    const int fd =
        open((data / "hearthd.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    const std::string listen = "127.0.0.1:" + std::to_string(port);
    execl(hearthd.c_str(), hearthd.c_str(), "--data-dir", data.c_str(), "--listen",
          listen.c_str(), "--image-dir", image_dir.c_str(), "--host-vcpus", "1024",
          "--host-memory-mb", "1048576", "--log-level", "warn",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  auto finish = [&](int code) {
    kill(daemon, SIGTERM);
    waitpid(daemon, nullptr, 0);
    run_output("pkill -f 'qemu-system-x86_64.*" + data.string() + "'");
    std::filesystem::remove_all(data);
    return code;
  };

  std::string key;
  for (int i = 0; i < 600 && key.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::ifstream in(data / "tenant.key");
    std::getline(in, key);
  }
  connection conn(port, key);
  for (int i = 0; i < 600 && conn.call("GET", "/healthz").first != 200; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  if (key.empty()) {
    std::fprintf(stderr, "hearthd did not start; see its log\n");
    return finish(1);
  }

  std::fprintf(stderr, "building the busybox web guest...\n");
  json spec{
      {"base", "busybox"},
      {"steps",
       json::array({json{{"run", "mkdir -p /www && echo hello > /www/index.html"}}})},
      {"start_cmd", "httpd -f -p 8080 -h /www"},
      {"readiness", {{"wait_for_port", 8080}}}};
  auto [built, build] = conn.call("POST", "/v1/templates/bench/web/builds",
                                  json{{"spec", spec}, {"tags", {"stable"}}}.dump());
  if (built != 202) {
    std::fprintf(stderr, "build failed: %s\n", build.c_str());
    return finish(1);
  }
  const std::string build_path = "/v1/templates/bench/web/builds/" +
                                 json::parse(build)["build_id"].get<std::string>();
  for (;;) {
    auto status = json::parse(conn.call("GET", build_path).second)["status"];
    if (status == "ready")
      break;
    if (status != "building") {
      std::fprintf(stderr, "build failed\n");
      return finish(1);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  for (const auto& [name, min_ready, max_ready] :
       {std::tuple{"warm", pool_size, pool_size}, {"empty", 0, 1}})
    conn.call("POST", "/v1/template-warm-pools",
              json{{"template", "bench/web:stable"},
                   {"name", name},
                   {"min_ready", min_ready},
                   {"max_ready", max_ready}}
                  .dump());
  std::fprintf(stderr, "filling %d ready VMs...\n", pool_size);
  if (!wait_ready(port, key, "twp_warm", pool_size, 600)) {
    std::fprintf(stderr, "the pool did not fill\n");
    return finish(1);
  }

  std::vector<figure> figures;
  std::vector<std::string> ids;
  const std::string warm_body =
      json{{"warm_pool", "twp_warm"}, {"warm_pool_mode", "prefer"}}.dump();
  const std::string cold_body =
      json{{"warm_pool", "twp_empty"}, {"warm_pool_mode", "prefer"}}.dump();
  for (int clients : {1, 16}) {
    // One round is only `pool_size` checkouts (with 16 clients, a few
    // milliseconds, while the refills' QEMU processes start on the same two
    // cores): the figures are over several rounds, the rate their median.
    latency_run warm;
    std::vector<double> rates;
    for (int round = 1; round <= std::max(rounds, 1); ++round) {
      std::fprintf(stderr, "warm checkouts, %d client(s), round %d of %d...\n", clients,
                   round, std::max(rounds, 1));
      auto one = creates(port, key, warm_body, clients, pool_size, ids);
      rates.push_back(static_cast<double>(one.ms.size()) / one.seconds);
      warm.ms.insert(warm.ms.end(), one.ms.begin(), one.ms.end());
      warm.hits += one.hits;
      kill_all(port, key, ids);
      wait_ready(port, key, "twp_warm", pool_size, 600);
    }
    std::sort(rates.begin(), rates.end());
    const std::string c =
        std::to_string(clients) + (clients == 1 ? " client" : " clients");
    figures.push_back({"warm checkout over HTTP p50, " + c, percentile(warm.ms, 50), "ms",
                       clients == 1 ? "<= 2" : "", ""});
    figures.push_back({"warm checkout over HTTP p99, " + c, percentile(warm.ms, 99), "ms",
                       clients == 1 ? "<= 10" : "", ""});
    figures.push_back({"warm checkouts per second, " + c + " (median round; range " +
                           std::to_string(static_cast<long>(rates.front())) + "-" +
                           std::to_string(static_cast<long>(rates.back())) + ")",
                       rates[rates.size() / 2], "1/s", "", ""});
    figures.push_back({"warm checkouts that hit a ready VM, " + c,
                       100.0 * warm.hits / std::max<std::size_t>(warm.ms.size(), 1), "%",
                       ""});
  }
  for (int clients : {1, 16}) {
    std::fprintf(stderr, "cold creates (prefer-mode misses), %d client(s)...\n", clients);
    auto cold =
        creates(port, key, cold_body, clients, clients == 1 ? cold_samples : 16, ids);
    const std::string c =
        std::to_string(clients) + (clients == 1 ? " client" : " clients");
    figures.push_back({"cold create over HTTP p50, " + c, percentile(cold.ms, 50), "ms",
                       clients == 1 ? "<= 250" : "", ""});
    figures.push_back(
        {"cold create over HTTP p99, " + c, percentile(cold.ms, 99), "ms", "", ""});
    kill_all(port, key, ids);
  }
  std::fprintf(stderr, "status reads (wrk, %d s each)...\n", wrk_seconds);
  const double healthz = wrk_rate(port, key, "/healthz", wrk_seconds);
  const double status =
      wrk_rate(port, key, "/v1/template-warm-pools/twp_warm/status", wrk_seconds);
  figures.push_back(
      {"GET .../status requests per second", status, "1/s", ">= 20000",
       "GET /healthz: " + std::to_string(static_cast<long>(healthz)) + "/s"});
  print_figures("api", figures);
  return finish(0);
}
