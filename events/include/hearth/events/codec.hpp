#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <msgpack.hpp>
#include <string>
#include <string_view>

#include "hearth/events/error.hpp"

namespace hearth::events {
namespace detail {

/// The stream `encode_payload` packs into. msgpack's `sbuffer` takes each
/// field through one more out-of-line call, `sbuffer::write`: 164 calls and
/// ~7.1k instructions a checkout in bench/controller, ~4.2k with this
/// buffer, whose `write` is inline and whose growing is not.
class pack_buffer {
public:
  void write(const char* bytes, std::size_t size) {
    if (size == 0) // `bytes` may then be null, which memcpy must not see
      return;
    if (size > capacity_ - size_)
      grow(size);
    std::memcpy(data_.get() + size_, bytes, size);
    size_ += size;
  }

  void clear() noexcept { size_ = 0; }

  std::string_view view() const noexcept { return {data_.get(), size_}; }

private:
  /// Makes room for `more` bytes past the current size, keeping them.
  void grow(std::size_t more);

  std::unique_ptr<char[]> data_;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

} // namespace detail

/// Encodes an event payload (an aggregate with a msgpack mapping).
template <class T>
std::string encode_payload(const T& value) {
  // One buffer per thread, kept between events: a buffer per event is a
  // heap chunk per event.
  thread_local detail::pack_buffer buffer;
  buffer.clear();
  msgpack::pack(buffer, value);
  return std::string(buffer.view());
}

/// Decodes an event payload; a payload of the wrong shape is
/// `malformed_payload`, never an exception.
template <class T>
result<T> decode_payload(std::string_view bytes) {
  // One zone per thread, emptied after each payload: unpacking into a fresh
  // zone costs a heap chunk per event, which recovery pays for every event.
  thread_local msgpack::zone zone;
  struct emptied {
    msgpack::zone& z;
    ~emptied() { z.clear(); }
  } guard{zone};
  try {
    std::size_t offset = 0;
    const msgpack::object object =
        msgpack::unpack(zone, bytes.data(), bytes.size(), offset);
    T value{};
    object.convert(value);
    return value;
  } catch (const std::exception& ex) {
    return error{errc::malformed_payload,
                 std::string("payload does not decode: ") + ex.what()};
  }
}

/// Renders any msgpack payload as JSON text, for people and tools (`hearth
/// replay`). Binary values become base64 strings.
result<std::string> payload_to_json(std::string_view bytes);

} // namespace hearth::events
