// The heap hearthd and the benchmarks run with: tcmalloc growing through
// hearth's allocator, which maps its pieces advised for transparent huge pages
// (malloc/huge_pages.cpp). CTest runs this file twice: as a program starts by
// default, and with HEARTH_HUGE_PAGES=0.

#include <cstdlib>
#include <cstring>
#include <doctest/doctest.h>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "hearth/malloc/huge_pages.hpp"

namespace {

/// The `VmFlags` of the mapping that holds `address` (/proc/self/smaps),
/// with a space before each flag; empty when no mapping holds it.
std::string flags_of_mapping_holding(const void* address) {
  const auto at = reinterpret_cast<std::uintptr_t>(address);
  std::ifstream smaps("/proc/self/smaps");
  REQUIRE(smaps);
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    unsigned long long from = 0, to = 0;
    char dash = 0;
    std::istringstream range(line);
    // A mapping's first line: "from-to perms offset dev inode path".
    if (line.find("VmFlags:") != 0 && (range >> std::hex >> from >> dash >> to) &&
        dash == '-') {
      inside = at >= from && at < to;
      continue;
    }
    if (inside && line.rfind("VmFlags:", 0) == 0)
      return line.substr(std::strlen("VmFlags:")) + " ";
  }
  return {};
}

bool turned_off() {
  const char* value = std::getenv(hearth::heap::huge_pages_variable);
  return value != nullptr && (std::string(value) == "0" || std::string(value) == "off");
}

/// Whether this kernel has transparent huge pages at all (it may still have
/// them set to `never`; the advice is taken either way).
bool kernel_has_huge_pages() {
  return std::filesystem::exists("/sys/kernel/mm/transparent_hugepage/enabled");
}

} // namespace

TEST_CASE(
    "the heap grows in pieces advised for huge pages, unless HEARTH_HUGE_PAGES=0 says "
    "not to") {
  const bool expected = HEARTH_TEST_TCMALLOC && !turned_off() && kernel_has_huge_pages();
  CHECK(hearth::heap::huge_pages_active() == expected);

  // A large allocation, as a memtable's arena block, and small ones, as
  // actors and messages: each lives in a mapping advised for huge pages
  // ("hg") exactly when the allocator is active.
  auto large = std::make_unique<char[]>(std::size_t{64} << 20);
  std::memset(large.get(), 1, std::size_t{64} << 20);
  std::vector<std::unique_ptr<std::string>> small;
  for (int i = 0; i < 100'000; ++i)
    small.push_back(std::make_unique<std::string>(40, 'x'));

  for (const void* address : {static_cast<const void*>(large.get()),
                              static_cast<const void*>(small.back()->data())}) {
    const std::string flags = flags_of_mapping_holding(address);
    INFO("VmFlags:" << flags);
    REQUIRE(!flags.empty());
    CHECK((flags.find(" hg ") != std::string::npos) == expected);
  }
}
