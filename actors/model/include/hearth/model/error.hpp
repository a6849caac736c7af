#pragma once

#include <string>
#include <string_view>

#include "hearth/result.hpp"

namespace hearth::model {

/// The errors a caller of hearth sees: the embedding API's and the HTTP API's.
enum class errc {
  invalid_argument,
  not_found,
  conflict,
  warm_pool_unavailable,
  quota_exceeded,
  /// The request carries no API key, or one hearth does not know.
  unauthenticated,
  /// The controller could not do it now (a journal failure, a stopped actor).
  unavailable,
  internal,
};

/// The name of an error code, e.g. "warm_pool_unavailable".
std::string_view to_string(errc code);

struct error {
  error() = default;
  error(errc code_, std::string message_, std::string field_ = {})
      : code(code_)
      , message(std::move(message_))
      , field(std::move(field_)) {}

  errc code = errc::internal;
  std::string message;
  /// The request field at fault, if one is.
  std::string field;
};

template <class T>
using result = basic_result<T, error>;

inline error invalid(std::string field, std::string message) {
  return error{errc::invalid_argument, std::move(message), std::move(field)};
}

} // namespace hearth::model
