#include "hearth/events/codec.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace hearth::events {

void detail::pack_buffer::grow(std::size_t more) {
  const std::size_t capacity = std::max({std::size_t{256}, 2 * capacity_, size_ + more});
  auto data = std::make_unique<char[]>(capacity);
  if (size_ != 0)
    std::memcpy(data.get(), data_.get(), size_);
  data_ = std::move(data);
  capacity_ = capacity;
}

namespace {

void append_json_string(std::string& out, std::string_view text) {
  out.push_back('"');
  for (unsigned char c : text) {
    switch (c) {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\n':
      out += "\\n";
      break;
    case '\r':
      out += "\\r";
      break;
    case '\t':
      out += "\\t";
      break;
    default:
      if (c < 0x20) {
        char escaped[8];
        std::snprintf(escaped, sizeof(escaped), "\\u%04x", c);
        out += escaped;
      } else {
        out.push_back(static_cast<char>(c));
      }
    }
  }
  out.push_back('"');
}

std::string base64(std::string_view bytes) {
  static constexpr char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) |
                       (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                       static_cast<unsigned char>(bytes[i + 2]);
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    out += alphabet[v & 63];
  }
  if (i < bytes.size()) {
    unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
    if (i + 1 < bytes.size())
      v |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? alphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

void append_json(std::string& out, const msgpack::object& value) {
  switch (value.type) {
  case msgpack::type::NIL:
    out += "null";
    break;
  case msgpack::type::BOOLEAN:
    out += value.via.boolean ? "true" : "false";
    break;
  case msgpack::type::POSITIVE_INTEGER:
    out += std::to_string(value.via.u64);
    break;
  case msgpack::type::NEGATIVE_INTEGER:
    out += std::to_string(value.via.i64);
    break;
  case msgpack::type::FLOAT32:
  case msgpack::type::FLOAT64:
    if (std::isfinite(value.via.f64)) {
      char text[32];
      std::snprintf(text, sizeof(text), "%.17g", value.via.f64);
      out += text;
    } else {
      out += "null";
    }
    break;
  case msgpack::type::STR:
    append_json_string(out, std::string_view(value.via.str.ptr, value.via.str.size));
    break;
  case msgpack::type::BIN:
    append_json_string(out,
                       base64(std::string_view(value.via.bin.ptr, value.via.bin.size)));
    break;
  case msgpack::type::EXT:
    append_json_string(
        out, base64(std::string_view(value.via.ext.data(), value.via.ext.size)));
    break;
  case msgpack::type::ARRAY:
    out.push_back('[');
    for (std::uint32_t i = 0; i < value.via.array.size; ++i) {
      if (i > 0)
        out.push_back(',');
      append_json(out, value.via.array.ptr[i]);
    }
    out.push_back(']');
    break;
  case msgpack::type::MAP:
    out.push_back('{');
    for (std::uint32_t i = 0; i < value.via.map.size; ++i) {
      if (i > 0)
        out.push_back(',');
      const auto& entry = value.via.map.ptr[i];
      if (entry.key.type == msgpack::type::STR) {
        append_json_string(
            out, std::string_view(entry.key.via.str.ptr, entry.key.via.str.size));
      } else {
        std::string key;
        append_json(key, entry.key);
        append_json_string(out, key);
      }
      out.push_back(':');
      append_json(out, entry.val);
    }
    out.push_back('}');
    break;
  }
}

} // namespace

result<std::string> payload_to_json(std::string_view bytes) {
  try {
    auto handle = msgpack::unpack(bytes.data(), bytes.size());
    std::string out;
    append_json(out, handle.get());
    return out;
  } catch (const std::exception& ex) {
    return error{errc::malformed_payload,
                 std::string("payload is not msgpack: ") + ex.what()};
  }
}

} // namespace hearth::events
