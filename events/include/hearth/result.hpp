#pragma once

#include <cassert>
#include <type_traits>
#include <utility>
#include <variant>

namespace hearth {

/// Either a value of type `T` or an error of type `Error`. Errors are values in
/// hearth: no exception crosses a module boundary. Each module defines its own
/// `error` (an `errc` plus a short sentence) and a `result<T>` alias.
template <class T, class Error>
class [[nodiscard]] basic_result {
public:
  using value_type = T;
  using error_type = Error;

  basic_result(T value)
      : data_(std::in_place_index<0>, std::move(value)) {}
  basic_result(Error err)
      : data_(std::in_place_index<1>, std::move(err)) {}

  bool has_value() const noexcept { return data_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  T& value() & { return assert_value(), std::get<0>(data_); }
  const T& value() const& { return assert_value(), std::get<0>(data_); }
  T&& value() && { return assert_value(), std::get<0>(std::move(data_)); }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& {
    assert(!has_value());
    return std::get<1>(data_);
  }
  Error&& error() && {
    assert(!has_value());
    return std::get<1>(std::move(data_));
  }

private:
  void assert_value() const { assert(has_value()); }

  std::variant<T, Error> data_;
};

/// The `void` case: success carries nothing.
template <class Error>
class [[nodiscard]] basic_result<void, Error> {
public:
  using value_type = void;
  using error_type = Error;

  basic_result() = default;
  basic_result(Error err)
      : error_(std::move(err))
      , failed_(true) {}

  bool has_value() const noexcept { return !failed_; }
  explicit operator bool() const noexcept { return has_value(); }

  const Error& error() const& {
    assert(failed_);
    return error_;
  }
  Error&& error() && {
    assert(failed_);
    return std::move(error_);
  }

private:
  Error error_{};
  bool failed_ = false;
};

} // namespace hearth
