// Definitions for funnelkit/grouping.hpp; config.hpp explains the compiled and header-only modes.
#pragma once

#include "funnelkit/grouping.hpp"

#include <exception>
#include <thread>

FUNNELKIT_BEGIN_NAMESPACE
namespace detail {

FUNNELKIT_INLINE void run_workers(unsigned threads, const std::function<void(unsigned)>& body) {
    if (threads <= 1) {
        body(0);
        return;
    }
    std::vector<std::exception_ptr> errors(threads);
    std::vector<std::thread> pool;
    pool.reserve(threads - 1);
    for (unsigned t = 1; t < threads; ++t)
        pool.emplace_back([&, t] {
            try {
                body(t);
            } catch (...) {
                errors[t] = std::current_exception();
            }
        });
    try {
        body(0);
    } catch (...) {
        errors[0] = std::current_exception();
    }
    for (auto& th : pool) th.join();
    for (auto& e : errors)
        if (e) std::rethrow_exception(e);
}

FUNNELKIT_INLINE unsigned grouping_bits(std::size_t n) {
    // About 32768 rows per bin before dropping (a bin's kept rows then fit in the L2 or L3
    // cache), 1 to 128 bins: few enough output streams for the scatter to stay in the TLB, and
    // a bin number fits in 7 bits.
    const std::size_t target = n / 32768;
    return target <= 1 ? 0u : std::min(7u, static_cast<unsigned>(std::bit_width(target) - 1));
}

FUNNELKIT_INLINE unsigned fused_grouping_bits(std::size_t n, unsigned threads) {
    // Few output streams: with 256 bins (two streams each) the pass measured 1.5 times slower
    // than with 16 on 1e7 rows, while the grouping of bins four times past the L2 cache was
    // only a tenth slower. About 2^19 input rows per bin, up to 128 bins, on one thread (1e8
    // shuffled events: grouping the bins took 1.08-1.37 s with 32, 0.68-0.86 s with 128; the
    // pass about the same). With more threads, bins of half that: each thread's pass writes as
    // many streams as one thread's, the bins' scratch is per thread, and the threads end
    // closer together (1e7 shuffled events on two threads: 0.0792 against 0.0830 s, medians
    // of 8 alternating runs; one thread measured 6% slower so).
    const unsigned more = threads > 1 ? 1u : 0u;
    const std::size_t target = n >> (19 - more);
    return target <= 1 ? 0u : std::min(7u, static_cast<unsigned>(std::bit_width(target) - 1));
}

FUNNELKIT_INLINE std::size_t grouping_chunk_bytes(std::size_t arena_bytes, std::size_t bins, unsigned threads) {
    const std::size_t share = arena_bytes / (32 * bins * std::max(1u, threads));
    // Whole pages, so that a bin's chunks can be given back to the kernel once grouped.
    return std::clamp<std::size_t>(share, std::size_t{4} << 10, std::size_t{256} << 10) & ~std::size_t{4095};
}

FUNNELKIT_INLINE std::vector<std::size_t> grouping_rounds(const std::vector<std::size_t>& kept,
                                                          const std::vector<std::size_t>& dropped, std::size_t row_bytes,
                                                          std::size_t budget) {
    // As many rounds as the budget needs, filled evenly: the buffers are sized for the largest
    // round, so two rounds of half the bytes each take less memory than one full round and a
    // small remainder.
    std::size_t total = 0;
    for (std::size_t b = 0; b < kept.size(); ++b) total += kept[b] * row_bytes + dropped[b] * sizeof(std::int64_t);
    budget = std::max<std::size_t>(budget, 1);
    const std::size_t count = std::max<std::size_t>(1, (total + budget - 1) / budget);
    const std::size_t target = (total + count - 1) / count;
    std::vector<std::size_t> start{0};
    std::size_t used = 0;
    for (std::size_t b = 0; b < kept.size(); ++b) {
        const std::size_t bytes = kept[b] * row_bytes + dropped[b] * sizeof(std::int64_t);
        // A bin goes to the next round when it would overflow the budget, or when most of it
        // lies past this round's share.
        if (used > 0 && (used + bytes > budget || used + bytes / 2 > target)) {
            start.push_back(b);
            used = 0;
        }
        used += bytes;
    }
    start.push_back(kept.size());
    return start;
}

}  // namespace detail
FUNNELKIT_END_NAMESPACE
