#pragma once

#include <memory>
#include <utility>

#include "hearth/actors/runtime.hpp"
#include "messages.hpp"

namespace hearth::actors {

/// The answer to an embedding API call, handed by the actor that has it
/// straight to the caller's `pending`, with no gateway actor in between (a
/// gateway costs a call two more messages and a response handler; on the
/// hot path, a warm checkout, that is ~10 % of its CPU). Copies share one
/// answer, given once. When the last copy goes unanswered (a message
/// dropped by an actor that stopped, a continuation discarded with it), the
/// caller hears at once that no answer will come: CAF 0.17's response
/// promises give no such notice.
template <class T>
class direct_answer {
public:
  direct_answer() = default;

  explicit direct_answer(std::shared_ptr<detail::pending_state<T>> state)
      : box_(std::make_shared<box>(std::move(state))) {}

  /// Runs the caller's continuation, if it has one, on this thread. The
  /// answer is passed on by reference down to where it is kept: an answer
  /// such as a sandbox's has a dozen strings, each moved at every hop.
  void deliver(T&& value) const { box_->give(model::result<T>(std::move(value))); }
  void deliver(const caf::error& err) const { box_->give(from_caf(err)); }

private:
  struct box {
    explicit box(std::shared_ptr<detail::pending_state<T>> s)
        : state(std::move(s)) {}
    box(const box&) = delete;
    box& operator=(const box&) = delete;
    ~box() {
      give(model::error{
          model::errc::unavailable,
          "no answer: the actor that had the call stopped first (the runtime "
          "closing, or the pool deleted)"});
    }
    void give(model::result<T>&& answer) {
      if (auto taken = std::move(state))
        taken->set(std::move(answer));
    }
    std::shared_ptr<detail::pending_state<T>> state;
  };

  std::shared_ptr<box> box_;
};

} // namespace hearth::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(hearth::actors::direct_answer<hearth::api::sandbox_info>)
