#pragma once

#include <msgpack.hpp>
#include <string>
#include <string_view>

#include "hearth/events/error.hpp"

namespace hearth::events {

/// Encodes an event payload (an aggregate with a msgpack mapping).
template <class T>
std::string encode_payload(const T& value) {
  // One buffer per thread, kept between events: a fresh sbuffer is an 8 KiB
  // heap chunk, and a chunk that size makes glibc consolidate its free
  // lists, once per event (bench/controller).
  thread_local msgpack::sbuffer buffer;
  buffer.clear();
  msgpack::pack(buffer, value);
  return std::string(buffer.data(), buffer.size());
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
