#pragma once

// How the RocksDB storage lays out its keys. Internal: tests include it to
// damage records on purpose.

#include <cstdint>
#include <string>
#include <string_view>

namespace hearth::store::internal {

/// Column families:
///   events      be64(position)               -> record (events/record.hpp)
///   streams     stream \0 be64(first_seq)    -> be64(first_position) be32(count)
///               (one entry per append; its events have consecutive positions)
///   stream_meta stream                       -> be64(deleted_to)
///   snapshots   stream \0 be64(sequence)     -> snapshot record
///   default     "next_position"              -> be64
inline constexpr const char* events_family = "events";
inline constexpr const char* streams_family = "streams";
inline constexpr const char* stream_meta_family = "stream_meta";
inline constexpr const char* snapshots_family = "snapshots";
inline constexpr std::string_view next_position_key = "next_position";

inline void put_be64(std::string& out, std::uint64_t value) {
  for (int i = 7; i >= 0; --i)
    out.push_back(static_cast<char>((value >> (8 * i)) & 0xFFu));
}

inline void put_be32(std::string& out, std::uint32_t value) {
  for (int i = 3; i >= 0; --i)
    out.push_back(static_cast<char>((value >> (8 * i)) & 0xFFu));
}

inline std::uint64_t get_be(std::string_view bytes, std::size_t offset, int width) {
  std::uint64_t value = 0;
  for (int i = 0; i < width; ++i)
    value = (value << 8) | static_cast<unsigned char>(bytes[offset + i]);
  return value;
}

inline std::string position_key(std::uint64_t position) {
  std::string key;
  put_be64(key, position);
  return key;
}

/// stream \0 be64(sequence): every key of one stream shares `stream \0`.
inline std::string stream_key(std::string_view stream, std::uint64_t sequence) {
  std::string key;
  key.reserve(stream.size() + 9);
  key.append(stream);
  key.push_back('\0');
  put_be64(key, sequence);
  return key;
}

/// The first key past every key of `stream`.
inline std::string stream_end_key(std::string_view stream) {
  std::string key(stream);
  key.push_back('\x01');
  return key;
}

} // namespace hearth::store::internal
