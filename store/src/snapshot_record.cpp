#include "snapshot_record.hpp"

#include <cstring>

#include "hearth/events/checksum.hpp"

namespace hearth::store::internal {
namespace {

constexpr unsigned char snapshot_format = 1;
constexpr std::size_t header_size = 1 + 4;
constexpr std::size_t fixed_size = header_size + 8 + 8;

void put_u64(std::string& out, std::uint64_t value) {
  for (int i = 0; i < 8; ++i)
    out.push_back(static_cast<char>((value >> (8 * i)) & 0xFFu));
}

std::uint64_t get_u64(const char* ptr) {
  std::uint64_t value = 0;
  for (int i = 0; i < 8; ++i)
    value |= static_cast<std::uint64_t>(static_cast<unsigned char>(ptr[i])) << (8 * i);
  return value;
}

} // namespace

std::string encode_snapshot(const snapshot& snap) {
  std::string out;
  out.reserve(fixed_size + snap.data.size());
  out.push_back(static_cast<char>(snapshot_format));
  out.append(4, '\0');
  put_u64(out, snap.sequence);
  put_u64(out, static_cast<std::uint64_t>(snap.timestamp_ns));
  out.append(snap.data);
  const std::uint32_t sum = events::crc32c(std::string_view(out).substr(header_size));
  for (int i = 0; i < 4; ++i)
    out[1 + i] = static_cast<char>((sum >> (8 * i)) & 0xFFu);
  return out;
}

result<snapshot> decode_snapshot(std::string_view stream, std::string_view bytes) {
  const std::string where = "snapshot of " + std::string(stream);
  if (bytes.size() < fixed_size)
    return error{errc::corrupt, where + " is truncated"};
  if (static_cast<unsigned char>(bytes[0]) != snapshot_format)
    return error{errc::corrupt, where + " has unknown format " +
                                    std::to_string(static_cast<unsigned char>(bytes[0]))};
  std::uint32_t stored = 0;
  for (int i = 0; i < 4; ++i)
    stored |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[1 + i]))
              << (8 * i);
  if (events::crc32c(bytes.substr(header_size)) != stored)
    return error{errc::corrupt, where + " at sequence " +
                                    std::to_string(get_u64(bytes.data() + header_size)) +
                                    " failed its checksum"};
  snapshot snap;
  snap.stream = std::string(stream);
  snap.sequence = get_u64(bytes.data() + header_size);
  snap.timestamp_ns = static_cast<std::int64_t>(get_u64(bytes.data() + header_size + 8));
  snap.data = std::string(bytes.substr(fixed_size));
  return snap;
}

} // namespace hearth::store::internal
