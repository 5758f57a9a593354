// Giving freed heap memory back to the kernel.
#pragma once

namespace lj {

// Returns the free parts of the heap to the kernel, so that an idle daemon's RSS falls back after
// a burst (glibc keeps what its per-thread arenas freed; malloc_trim(3)). A no-op with an
// allocator that does this by itself (FreeBSD's jemalloc purges dirty pages on its own).
void release_free_memory();

}  // namespace lj
