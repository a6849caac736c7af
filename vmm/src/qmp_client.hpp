#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "channel.hpp"

namespace hearth::vmm::detail {

/// The one QMP connection of one VM: greeting and capabilities negotiation,
/// commands matched to replies by id, events handed to waiters. Commands
/// block their caller (a driver worker, never an actor) up to a timeout; the
/// io_loop does the reading.
class qmp_client final : public channel {
public:
  using json = nlohmann::json;
  using event_filter = std::function<bool(const json& event)>;

  /// Connects, reads the greeting and negotiates capabilities.
  static result<std::unique_ptr<qmp_client>>
  connect(io_loop& loop, const std::string& path, std::chrono::milliseconds timeout);
  ~qmp_client() override;

  /// Runs `command`; its "return" value, or its error as a message.
  result<json> execute(const std::string& command, json arguments,
                       std::chrono::milliseconds timeout);

  /// A command sent whose reply is still to come: send, do other work,
  /// then `await` it.
  struct pending_reply {
    std::uint64_t id = 0;
    std::shared_ptr<slot<json>> answer;
  };
  result<pending_reply> submit(const std::string& command, json arguments);
  result<json> await(const std::string& command, const pending_reply& reply,
                     std::chrono::milliseconds timeout);

  /// Waits for an event accepted by `filter`. Arm it before the command that
  /// causes the event, then wait on the returned slot.
  std::shared_ptr<slot<json>> expect(event_filter filter);

private:
  qmp_client(io_loop& loop, int fd);
  void on_bytes(std::string& buffer) override;
  void on_closed() override;

  std::shared_ptr<slot<json>> greeting_ = std::make_shared<slot<json>>();
  std::uint64_t next_id_ = 1;
  std::map<std::uint64_t, std::shared_ptr<slot<json>>> pending_;
  std::vector<std::pair<event_filter, std::shared_ptr<slot<json>>>> expected_;
};

} // namespace hearth::vmm::detail
