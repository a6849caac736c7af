#pragma once

#include <cstdint>
#include <string_view>

namespace hearth::events {

/// CRC-32C (Castagnoli) of `data`, continuing from `seed` (0 to start).
std::uint32_t crc32c(std::string_view data, std::uint32_t seed = 0) noexcept;

} // namespace hearth::events
