// funnelkit internals: transparent huge pages for large buffers written in random order.
#pragma once

#include <cstddef>
#include <cstdint>

#ifdef __linux__
#include <sys/mman.h>
#endif

#include "funnelkit/config.hpp"

FUNNELKIT_BEGIN_NAMESPACE
namespace detail {

/// Asks for transparent huge pages on the whole 2 MiB pages inside [p, p + bytes), before the
/// first touch; a no-op elsewhere than Linux.
inline void advise_huge_pages([[maybe_unused]] void* p, [[maybe_unused]] std::size_t bytes) noexcept {
#ifdef __linux__
    constexpr std::uintptr_t huge = std::uintptr_t{1} << 21;
    const auto addr = reinterpret_cast<std::uintptr_t>(p);
    const std::uintptr_t lo = (addr + huge - 1) & ~(huge - 1);
    const std::uintptr_t hi = (addr + bytes) & ~(huge - 1);
    if (hi > lo) madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_HUGEPAGE);
#endif
}

}  // namespace detail
FUNNELKIT_END_NAMESPACE
