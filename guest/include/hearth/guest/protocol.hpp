#pragma once

// The host <-> guest agent protocol, shared by the agent (guest/agent.cpp)
// and vmm's client. It runs over a virtio-serial port, so it carries its own
// framing: a fixed 16-byte header, then a JSON payload.
//
//   offset size  field
//   0      4     magic "HGA1" (bytes 'H' 'G' 'A' '1')
//   4      1     version (1)
//   5      1     kind: 1 request, 2 response
//   6      2     reserved, zero
//   8      4     id (little endian): a response carries its request's id
//   12     4     payload length (little endian), at most max_payload
//
// A frame with a bad magic, version, kind or length is rejected: the agent
// answers an error with id 0 and drops what it has buffered, so one bad
// frame costs the stream its buffer, never the agent.
//
// Requests are JSON objects with an "op":
//   ping                          -> version, pid
//   exec {cmd, env, cwd, timeout_ms}        -> exit_code, timed_out, output
//   write_file {path, content_b64, mode}    -> bytes
//   start {cmd, env, cwd}         the start command, in the background
//   ready {kind, port, path, command, timeout_ms}
//                                 -> attempts; or exit_code + output when the
//                                    start command exited, timed_out + output
//   fixup {time_ns, seed_b64, hosts}        clock, RNG reseed, /etc/hosts
//   restored {fixup fields..., ready: {...}}
//                                 both in one round trip (after a restore),
//                                 with fixup_us and ready_us as the guest saw
// Responses are {"ok": true, ...} or {"ok": false, "error": "...", ...}.
// Header-only and dependency-free, so the static agent can use it.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace hearth::guest {

inline constexpr char magic[4] = {'H', 'G', 'A', '1'};
inline constexpr std::uint8_t protocol_version = 1;
inline constexpr std::size_t header_size = 16;
/// The largest payload either side accepts (a copied file travels in one).
inline constexpr std::uint32_t max_payload = 8u << 20;
/// The virtio-serial port's name.
inline constexpr const char* port_name = "hearth.agent";

enum class frame_kind : std::uint8_t { request = 1, response = 2 };

enum class parse_status { ok, need_more, bad_magic, bad_version, bad_kind, too_large };

inline const char* to_string(parse_status s) {
  switch (s) {
  case parse_status::ok:
    return "ok";
  case parse_status::need_more:
    return "need more bytes";
  case parse_status::bad_magic:
    return "bad magic";
  case parse_status::bad_version:
    return "unsupported protocol version";
  case parse_status::bad_kind:
    return "bad frame kind";
  case parse_status::too_large:
    return "payload too large";
  }
  return "?";
}

struct frame {
  frame_kind kind = frame_kind::request;
  std::uint32_t id = 0;
  std::string payload;
};

namespace detail {

inline void put_u32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i)
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

inline std::uint32_t get_u32(const char* p) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i)
    v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

} // namespace detail

inline std::string encode_frame(frame_kind kind, std::uint32_t id,
                                std::string_view payload) {
  std::string out;
  out.reserve(header_size + payload.size());
  out.append(magic, 4);
  out.push_back(static_cast<char>(protocol_version));
  out.push_back(static_cast<char>(kind));
  out.push_back('\0');
  out.push_back('\0');
  detail::put_u32(out, id);
  detail::put_u32(out, static_cast<std::uint32_t>(payload.size()));
  out.append(payload);
  return out;
}

/// Takes one frame off the front of `buffer` if a whole one is there.
inline parse_status take_frame(std::string& buffer, frame& out) {
  if (buffer.size() < header_size) {
    // Reject a wrong magic as soon as its bytes are in.
    for (std::size_t i = 0; i < buffer.size() && i < 4; ++i)
      if (buffer[i] != magic[i])
        return parse_status::bad_magic;
    return parse_status::need_more;
  }
  const char* p = buffer.data();
  for (int i = 0; i < 4; ++i)
    if (p[i] != magic[i])
      return parse_status::bad_magic;
  if (static_cast<std::uint8_t>(p[4]) != protocol_version)
    return parse_status::bad_version;
  const auto kind = static_cast<std::uint8_t>(p[5]);
  if (kind != 1 && kind != 2)
    return parse_status::bad_kind;
  const std::uint32_t length = detail::get_u32(p + 12);
  if (length > max_payload)
    return parse_status::too_large;
  if (buffer.size() < header_size + length)
    return parse_status::need_more;
  out.kind = static_cast<frame_kind>(kind);
  out.id = detail::get_u32(p + 8);
  out.payload.assign(buffer, header_size, length);
  buffer.erase(0, header_size + length);
  return parse_status::ok;
}

// -- base64 (copy steps carry file contents in it) ------------------------------

inline std::string base64_encode(std::string_view in) {
  static constexpr char table[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const std::uint32_t n = (static_cast<unsigned char>(in[i]) << 16) |
                            (static_cast<unsigned char>(in[i + 1]) << 8) |
                            static_cast<unsigned char>(in[i + 2]);
    out += table[(n >> 18) & 63];
    out += table[(n >> 12) & 63];
    out += table[(n >> 6) & 63];
    out += table[n & 63];
  }
  if (i < in.size()) {
    std::uint32_t n = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size())
      n |= static_cast<unsigned char>(in[i + 1]) << 8;
    out += table[(n >> 18) & 63];
    out += table[(n >> 12) & 63];
    out += i + 1 < in.size() ? table[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

/// Decodes base64 (padding optional, whitespace ignored); false on a bad
/// character.
inline bool base64_decode(std::string_view in, std::string& out) {
  out.clear();
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '+')
      v = 62;
    else if (c == '/')
      v = 63;
    else if (c == '=' || c == '\n' || c == '\r' || c == ' ')
      continue;
    else
      return false;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return true;
}

} // namespace hearth::guest
