#pragma once

// hearthd and the benchmarks link `hearth_malloc`: tcmalloc, which takes its
// memory from the system through hearth's allocator below (see
// malloc/huge_pages.cpp). Libraries never link it: an embedding service keeps
// its own allocator.

namespace hearth::heap {

/// The environment variable that turns the huge-page allocator off: set it to
/// `0` or `off` (read once, when the program starts).
inline constexpr const char* huge_pages_variable = "HEARTH_HUGE_PAGES";

/// Whether tcmalloc takes its memory from the system in 2 MiB-aligned pieces
/// advised for transparent huge pages. False in a build without tcmalloc
/// (the sanitizer builds), when `HEARTH_HUGE_PAGES` turned it off, and on a
/// kernel without transparent huge pages.
bool huge_pages_active();

} // namespace hearth::heap
