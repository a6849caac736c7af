// tcmalloc's memory from the system, in pieces advised for transparent huge
// pages.
//
// tcmalloc grows its heap in pieces of 1 MiB or more, which Linux backs with
// 4 KiB pages, each taking a page fault at its first touch. hearth touches
// fresh memory all the time: the journal's memtables (128 MiB of events
// before each flush) and every new actor. On the paravirtualized machines
// hearth is benchmarked on, a first touch of a 4 KiB page costs ~10.7 us
// (0.7 us per 4 KiB in a huge page), and at 256 callers the faults took
// ~6 % of the CPU of a checkout. With this allocator: 363 faults in 5 s
// instead of 48,066, and ~3.5 % less CPU per checkout (bench/NOTES.md,
// 2026-12-07).
//
// Pieces mapped 2 MiB-aligned and advised with MADV_HUGEPAGE get huge pages
// where the kernel allows them (its `transparent_hugepage/enabled` is
// `always` or `madvise`): a fault per 2 MiB instead of per 4 KiB, and the
// TLB covers 512 times as much memory. What tcmalloc gives back it still
// gives back (MADV_DONTNEED on its pages).

#include "hearth/malloc/huge_pages.hpp"

#if HEARTH_WITH_TCMALLOC

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <gperftools/malloc_extension.h>
#include <sys/mman.h>

namespace hearth::heap {
namespace {

constexpr std::size_t huge_page = std::size_t{2} << 20;

constexpr std::size_t round_up(std::size_t n) {
  return (n + huge_page - 1) & ~(huge_page - 1);
}

/// Maps each piece tcmalloc asks for on its own, rounded up to whole huge
/// pages and aligned to one (the kernel only backs a 2 MiB-aligned range
/// with a huge page). Anything it cannot serve goes to tcmalloc's own
/// allocator. tcmalloc calls `Alloc` under its own lock.
class huge_page_allocator final : public SysAllocator {
public:
  explicit huge_page_allocator(SysAllocator* fallback)
      : fallback_(fallback) {}

  void* Alloc(size_t size, size_t* actual_size, size_t alignment) override {
    if (size == 0 || alignment > huge_page || size > max_piece)
      return fallback_->Alloc(size, actual_size, alignment);
    const std::size_t length = round_up(size);
    void* piece = map_aligned(length);
    if (piece == nullptr)
      return fallback_->Alloc(size, actual_size, alignment);
    if (actual_size != nullptr)
      *actual_size = length;
    return piece;
  }

  /// Maps `length` bytes (whole huge pages) at a 2 MiB boundary, advised
  /// for huge pages; null when the system refuses either.
  static void* map_aligned(std::size_t length) {
    const std::size_t span = length + huge_page;
    void* raw =
        ::mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED)
      return nullptr;
    const auto start = reinterpret_cast<std::uintptr_t>(raw);
    const std::uintptr_t aligned =
        (start + huge_page - 1) & ~std::uintptr_t{huge_page - 1};
    if (aligned > start)
      ::munmap(raw, aligned - start);
    const std::uintptr_t end = aligned + length;
    if (start + span > end)
      ::munmap(reinterpret_cast<void*>(end), start + span - end);
    void* piece = reinterpret_cast<void*>(aligned);
    if (::madvise(piece, length, MADV_HUGEPAGE) != 0) {
      ::munmap(piece, length);
      return nullptr;
    }
    return piece;
  }

private:
  /// Larger requests (one allocation of over 1 GiB) go to tcmalloc's own.
  static constexpr std::size_t max_piece = std::size_t{1} << 30;
  SysAllocator* fallback_;
};

bool turned_off() {
  const char* value = std::getenv(huge_pages_variable);
  return value != nullptr &&
         (std::strcmp(value, "0") == 0 || std::strcmp(value, "off") == 0);
}

/// Whether the kernel takes the advice at all: without transparent huge
/// pages `madvise(MADV_HUGEPAGE)` fails, and tcmalloc keeps its own way.
bool kernel_takes_advice() {
  void* probe = huge_page_allocator::map_aligned(huge_page);
  if (probe == nullptr)
    return false;
  ::munmap(probe, huge_page);
  return true;
}

bool install() {
  if (turned_off() || !kernel_takes_advice())
    return false;
  // tcmalloc sets up its own system allocator at its first growth, and would
  // then replace one installed before: allocate first.
  void* first = std::malloc(1);
  std::free(first);
  MallocExtension* extension = MallocExtension::instance();
  SysAllocator* own = extension->GetSystemAllocator();
  if (own == nullptr)
    return false;
  // Never destroyed: tcmalloc may grow its heap until the very end.
  static auto* mine = new huge_page_allocator(own);
  extension->SetSystemAllocator(mine);
  return extension->GetSystemAllocator() == mine;
}

// Installed before main(): everything the program allocates afterwards grows
// the heap through it.
const bool installed = install();

} // namespace

bool huge_pages_active() {
  return installed;
}

} // namespace hearth::heap

#else

namespace hearth::heap {
bool huge_pages_active() {
  return false;
}
} // namespace hearth::heap

#endif
