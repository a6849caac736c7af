#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "channel.hpp"

namespace hearth::vmm::detail {

/// The host's end of the guest agent's virtio-serial port (QEMU serves it as
/// a unix socket). Frames as in hearth/guest/protocol.hpp; requests block
/// their caller up to a timeout and are matched to responses by id.
class agent_client final : public channel {
public:
  using json = nlohmann::json;

  static result<std::unique_ptr<agent_client>>
  connect(io_loop& loop, const std::string& path, std::chrono::milliseconds timeout);
  ~agent_client() override;

  /// Sends `request` ({"op": ...}) and waits for the agent's answer. A
  /// response with "ok": false is still a value: the caller reads "error".
  result<json> call(json request, std::chrono::milliseconds timeout);

  /// Pings until the agent answers (it starts after the guest boots).
  result<json> wait_until_up(std::chrono::milliseconds timeout);

private:
  agent_client(io_loop& loop, int fd);
  void on_bytes(std::string& buffer) override;
  void on_closed() override;

  std::uint32_t next_id_ = 1;
  std::map<std::uint32_t, std::shared_ptr<slot<json>>> pending_;
};

} // namespace hearth::vmm::detail
