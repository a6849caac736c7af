#include "hearth/events/checksum.hpp"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace hearth::events {
namespace {

constexpr std::uint32_t castagnoli_polynomial = 0x82F63B78u;

constexpr std::array<std::uint32_t, 256> make_table() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t crc = i;
    for (int bit = 0; bit < 8; ++bit)
      crc = (crc >> 1) ^ ((crc & 1u) ? castagnoli_polynomial : 0u);
    table[i] = crc;
  }
  return table;
}

constexpr auto crc_table = make_table();

std::uint32_t crc32c_portable(std::string_view data, std::uint32_t crc) noexcept {
  for (unsigned char byte : data)
    crc = crc_table[(crc ^ byte) & 0xFFu] ^ (crc >> 8);
  return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) std::uint32_t crc32c_sse42(std::string_view data,
                                                             std::uint32_t crc) noexcept {
  const char* ptr = data.data();
  std::size_t size = data.size();
  std::uint64_t wide = crc;
  while (size >= 8) {
    std::uint64_t word;
    std::memcpy(&word, ptr, 8);
    wide = _mm_crc32_u64(wide, word);
    ptr += 8;
    size -= 8;
  }
  crc = static_cast<std::uint32_t>(wide);
  while (size > 0) {
    crc = _mm_crc32_u8(crc, static_cast<unsigned char>(*ptr));
    ++ptr;
    --size;
  }
  return crc;
}

const bool have_sse42 = __builtin_cpu_supports("sse4.2");
#endif

} // namespace

std::uint32_t crc32c(std::string_view data, std::uint32_t seed) noexcept {
  std::uint32_t crc = ~seed;
#if defined(__x86_64__)
  if (have_sse42)
    return ~crc32c_sse42(data, crc);
#endif
  return ~crc32c_portable(data, crc);
}

} // namespace hearth::events
