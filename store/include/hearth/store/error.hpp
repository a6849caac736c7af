#pragma once

#include <string>
#include <string_view>

#include "hearth/result.hpp"

namespace hearth::store {

/// What can go wrong in the journal or the snapshot store.
enum class errc {
  /// The append's expected sequence number is not the stream's highest.
  conflict,
  /// A request is malformed (no events, an empty stream name, ...).
  invalid_argument,
  /// The data directory holds no journal and creating one was not asked for.
  not_found,
  /// Another process holds the data directory.
  locked,
  /// Stored bytes failed a checksum or do not parse.
  corrupt,
  /// The disk is full; nothing of the failed write was acknowledged.
  no_space,
  /// The storage was opened read-only.
  read_only,
  /// Any other I/O failure of the storage engine.
  io_error,
};

/// The name of an error code, e.g. "conflict".
std::string_view to_string(errc code);

/// An error with the sentence that explains it.
struct error {
  errc code = errc::io_error;
  std::string message;
};

template <class T>
using result = basic_result<T, error>;

} // namespace hearth::store
