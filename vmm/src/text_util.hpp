#pragma once

// Small helpers the vmm sources share: whole-file reads and the FNV-1a hash
// that names cached images, VM folders and content-addressed artifacts.

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

namespace hearth::vmm::detail {

/// The whole file, or empty when it cannot be read.
inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::uint64_t fnv1a(std::string_view text,
                           std::uint64_t h = 1469598103934665603ull) {
  for (unsigned char c : text)
    h = (h ^ c) * 1099511628211ull;
  return h;
}

inline std::string hex16(std::uint64_t v) {
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(v));
  return out;
}

/// FNV-1a of `text` as 16 hex digits.
inline std::string fnv_hex(std::string_view text) {
  return hex16(fnv1a(text));
}

} // namespace hearth::vmm::detail
