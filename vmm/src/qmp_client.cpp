#include "qmp_client.hpp"

namespace hearth::vmm::detail {

namespace {

const nlohmann::json closed_marker = {{"hearth-closed", true}};

} // namespace

qmp_client::qmp_client(io_loop& loop, int fd)
    : channel(loop, fd) {}

qmp_client::~qmp_client() {
  shutdown();
}

result<std::unique_ptr<qmp_client>>
qmp_client::connect(io_loop& loop, const std::string& path,
                    std::chrono::milliseconds timeout) {
  auto fd = connect_unix(path, timeout);
  if (!fd)
    return fd.error();
  std::unique_ptr<qmp_client> client(new qmp_client(loop, *fd));
  client->start();
  auto greeting = client->greeting_->wait_for(timeout);
  if (!greeting || greeting->contains("hearth-closed"))
    return error{errc::restore_failed, "QEMU sent no QMP greeting on " + path};
  auto negotiated = client->execute("qmp_capabilities", json::object(), timeout);
  if (!negotiated)
    return negotiated.error();
  return client;
}

result<nlohmann::json> qmp_client::execute(const std::string& command, json arguments,
                                           std::chrono::milliseconds timeout) {
  auto sent = submit(command, std::move(arguments));
  if (!sent)
    return sent.error();
  return await(command, *sent, timeout);
}

result<qmp_client::pending_reply> qmp_client::submit(const std::string& command,
                                                     json arguments) {
  auto reply = std::make_shared<slot<json>>();
  std::uint64_t id;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (closed())
      return error{errc::restore_failed, "QEMU exited before '" + command + "'"};
    id = next_id_++;
    pending_[id] = reply;
  }
  json request = {{"execute", command}, {"id", id}};
  if (!arguments.empty())
    request["arguments"] = std::move(arguments);
  if (auto sent = send(request.dump() + "\n"); !sent) {
    std::lock_guard<std::mutex> lock(mutex_);
    pending_.erase(id);
    return error{errc::restore_failed, "QMP '" + command + "': " + sent.error().message};
  }
  return pending_reply{id, reply};
}

result<nlohmann::json> qmp_client::await(const std::string& command,
                                         const pending_reply& reply,
                                         std::chrono::milliseconds timeout) {
  auto answer = reply.answer->wait_for(timeout);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    pending_.erase(reply.id);
  }
  if (!answer)
    return error{errc::restore_failed, "QMP '" + command + "' got no reply within " +
                                           std::to_string(timeout.count()) + " ms"};
  if (answer->contains("hearth-closed"))
    return error{errc::restore_failed, "QEMU exited during '" + command + "'"};
  if (answer->contains("error")) {
    const auto& e = (*answer)["error"];
    return error{errc::restore_failed,
                 "QMP '" + command + "' failed: " + e.value("desc", e.dump())};
  }
  return answer->value("return", json::object());
}

std::shared_ptr<slot<nlohmann::json>> qmp_client::expect(event_filter filter) {
  auto waiter = std::make_shared<slot<json>>();
  std::lock_guard<std::mutex> lock(mutex_);
  if (closed())
    waiter->set(closed_marker);
  else
    expected_.emplace_back(std::move(filter), waiter);
  return waiter;
}

void qmp_client::on_bytes(std::string& buffer) {
  std::size_t start = 0;
  for (std::size_t end; (end = buffer.find('\n', start)) != std::string::npos;
       start = end + 1) {
    json message =
        json::parse(buffer.begin() + static_cast<std::ptrdiff_t>(start),
                    buffer.begin() + static_cast<std::ptrdiff_t>(end), nullptr, false);
    if (message.is_discarded() || !message.is_object())
      continue;
    if (message.contains("QMP")) {
      greeting_->set(message);
      continue;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    if (message.contains("event")) {
      for (auto it = expected_.begin(); it != expected_.end();) {
        if (it->first(message)) {
          it->second->set(message);
          it = expected_.erase(it);
        } else {
          ++it;
        }
      }
      continue;
    }
    if (message.contains("id") && message["id"].is_number_unsigned()) {
      auto found = pending_.find(message["id"].get<std::uint64_t>());
      if (found != pending_.end())
        found->second->set(std::move(message));
    }
  }
  buffer.erase(0, start);
}

void qmp_client::on_closed() {
  greeting_->set(closed_marker);
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& [id, reply] : pending_)
    reply->set(closed_marker);
  for (auto& [filter, waiter] : expected_)
    waiter->set(closed_marker);
  expected_.clear();
}

} // namespace hearth::vmm::detail
