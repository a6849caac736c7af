#include "agent_client.hpp"

#include "hearth/guest/protocol.hpp"

namespace hearth::vmm::detail {

namespace {

const nlohmann::json closed_marker = {{"hearth-closed", true}};

} // namespace

agent_client::agent_client(io_loop& loop, int fd)
    : channel(loop, fd) {}

agent_client::~agent_client() {
  shutdown();
}

result<std::unique_ptr<agent_client>>
agent_client::connect(io_loop& loop, const std::string& path,
                      std::chrono::milliseconds timeout) {
  auto fd = connect_unix(path, timeout);
  if (!fd)
    return fd.error();
  std::unique_ptr<agent_client> client(new agent_client(loop, *fd));
  client->start();
  return client;
}

result<nlohmann::json> agent_client::call(json request,
                                          std::chrono::milliseconds timeout) {
  auto reply = std::make_shared<slot<json>>();
  std::uint32_t id;
  const std::string op = request.value("op", "");
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (closed())
      return error{errc::restore_failed, "the VM exited before agent '" + op + "'"};
    id = next_id_++;
    pending_[id] = reply;
  }
  const auto frame = guest::encode_frame(guest::frame_kind::request, id, request.dump());
  if (auto sent = send(frame); !sent) {
    std::lock_guard<std::mutex> lock(mutex_);
    pending_.erase(id);
    return error{errc::restore_failed, "agent '" + op + "': " + sent.error().message};
  }
  auto answer = reply->wait_for(timeout);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    pending_.erase(id);
  }
  if (!answer)
    return error{errc::readiness_timeout, "the guest agent did not answer '" + op +
                                              "' within " +
                                              std::to_string(timeout.count()) + " ms"};
  if (answer->contains("hearth-closed"))
    return error{errc::restore_failed, "the VM exited during agent '" + op + "'"};
  return *answer;
}

result<nlohmann::json> agent_client::wait_until_up(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      return error{errc::readiness_timeout, "the guest agent did not come up within " +
                                                std::to_string(timeout.count()) + " ms"};
    // Before the guest opens its port, QEMU drops what we write: ask again.
    auto answer = call({{"op", "ping"}}, std::min(left, std::chrono::milliseconds(250)));
    if (answer && answer->value("ok", false))
      return answer;
    if (!answer && answer.error().code != errc::readiness_timeout)
      return answer;
  }
}

void agent_client::on_bytes(std::string& buffer) {
  for (;;) {
    guest::frame response;
    const auto status = guest::take_frame(buffer, response);
    if (status == guest::parse_status::need_more)
      return;
    if (status != guest::parse_status::ok) {
      // A guest that speaks garbage gets no further hearing on this stream.
      buffer.clear();
      return;
    }
    json message = json::parse(response.payload, nullptr, false);
    if (message.is_discarded() || !message.is_object())
      continue;
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = pending_.find(response.id);
    if (found != pending_.end())
      found->second->set(std::move(message));
  }
}

void agent_client::on_closed() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& [id, reply] : pending_)
    reply->set(closed_marker);
}

} // namespace hearth::vmm::detail
