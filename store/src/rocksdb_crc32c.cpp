// RocksDB's CRC-32C, computed with the CPU's instruction.
//
// RocksDB checksums every record of its log and every block of its tables
// with CRC-32C, through `rocksdb::crc32c::Extend`. Debian builds RocksDB
// portable, without SSE4.2, so that function computes it a byte at a time
// from tables: ~4 % of a warm checkout's instructions, all on the journal's
// thread (recovery checks every record and block it reads as well). The linker
// sends RocksDB's calls of it here instead (`--wrap`, set by this target's
// CMakeLists), to hearth's own CRC-32C, which uses the `crc32` instruction
// where the CPU has it. Same polynomial, same seed convention: the bytes on
// disk do not change, and a journal written either way reads back either
// way (tests/store/rocksdb_crc32c_test.cpp).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "hearth/events/checksum.hpp"

namespace hearth::store::internal {

/// RocksDB's `Extend(init_crc, data, size)`: the CRC-32C of `data`,
/// continuing from the CRC `init_crc` of what came before it.
std::uint32_t rocksdb_crc32c_extend(std::uint32_t init_crc, const char* data,
                                    std::size_t size) noexcept
    __asm__("__wrap__ZN7rocksdb6crc32c6ExtendEjPKcm");

std::uint32_t rocksdb_crc32c_extend(std::uint32_t init_crc, const char* data,
                                    std::size_t size) noexcept {
  return events::crc32c(std::string_view(data, size), init_crc);
}

} // namespace hearth::store::internal
