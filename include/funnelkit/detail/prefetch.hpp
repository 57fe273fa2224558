// funnelkit internals: software prefetch for passes that read several columns row by row.
#pragma once

#include <algorithm>
#include <cstddef>

#include "funnelkit/config.hpp"

FUNNELKIT_BEGIN_NAMESPACE
namespace detail {

/// Rows ahead of a sequential pass whose lines prefetch_ahead() asks for (2 KiB of int64).
inline constexpr std::size_t prefetch_distance = 256;

/// For a pass reading `columns` row by row, called at row i: once every 8 rows, asks for the
/// lines prefetch_distance rows ahead (clamped to the last of n rows). On the machines
/// measured, the hardware alone left a pass over several columns waiting on memory: this took
/// a sorted window funnel from 0.052-0.062 to 0.037 s on 1e7 rows. Always inlined: GCC drops
/// calls to a function that only prefetches.
template <class... T>
[[gnu::always_inline]] inline void prefetch_ahead(std::size_t i, std::size_t n, const T*... columns) noexcept {
    if ((i & 7) == 0) {
        const std::size_t f = std::min(i + prefetch_distance, n - 1);
        (__builtin_prefetch(columns + f), ...);
    }
}

/// prefetch_ahead() for a pass over one column of any width: once per cache line of it, the
/// line 2 KiB ahead (a row distance suits passes over several columns of mixed widths; for one
/// column of bytes it would ask for the same line eight times, too close).
template <class T>
[[gnu::always_inline]] inline void prefetch_column(std::size_t i, std::size_t n, const T* column) noexcept {
    constexpr std::size_t per_line = sizeof(T) >= 64 ? 1 : 64 / sizeof(T);
    constexpr std::size_t ahead = sizeof(T) >= 2048 ? 1 : 2048 / sizeof(T);
    if (i % per_line == 0) __builtin_prefetch(column + std::min(i + ahead, n - 1));
}

}  // namespace detail
FUNNELKIT_END_NAMESPACE
