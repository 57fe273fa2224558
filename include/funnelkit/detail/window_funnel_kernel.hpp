// funnelkit internals: the per-entity step machine of window_funnel, shared by the kernels
// for every input order.
//
// All occurrences of one entity at one timestamp form a *group*: the set S of steps that
// occurred, the set D of steps that occurred more than once (only strict_deduplication looks
// at it) and whether an event matching no step occurred (only strict_order looks at it).
// ClickHouse takes tied occurrences in ascending step order with no-step events first, so the
// result of a group depends only on (S, D, other) and the state before it: kernels accumulate
// a group while its timestamp lasts and apply it when time moves on, whatever the row order of
// the ties was.
#pragma once

#include <bit>
#include <cstdint>

#include "funnelkit/config.hpp"

FUNNELKIT_BEGIN_NAMESPACE
namespace detail {

/// Chain state of one entity: `level` = number of steps reached (a prefix); for each reached
/// level j (1-based) first[j-1] = start time of the chain that reached it and last[j-1] = time
/// of its latest step (kept only when strict_increase needs it).
template <bool StrictOrder, bool StrictIncrease, bool Dedup>
struct funnel_machine {
    std::uint64_t window;
    unsigned steps;
    bool reentry;
    /// funnelkit's exact strict_increase (window_funnel_options::exact_increase): the group's
    /// steps are applied from the highest down, each reading the state from before the group,
    /// so every chain takes at most one step per timestamp and none is overwritten.
    bool exact_increase = false;

    /// Applies one group at time `ts`; returns true when the entity's level is final.
    bool apply(std::int64_t ts, std::uint64_t s, std::uint64_t d, bool other, unsigned& level,
               std::int64_t* first, std::int64_t* last) const noexcept {
        if constexpr (StrictOrder) {
            if (other && level >= 1) return true;
        } else {
            (void)other;
        }
        if constexpr (!Dedup) (void)d;
        if constexpr (!StrictIncrease) (void)last;
        if constexpr (StrictIncrease && !Dedup && !StrictOrder) {
            if (exact_increase) {
                while (s) {
                    const unsigned k = 63u - static_cast<unsigned>(std::countl_zero(s));
                    s &= ~(std::uint64_t{1} << k);
                    if (k == 0) {
                        first[0] = ts;
                        if (level == 0) level = 1;
                    } else if (level >= k &&
                               static_cast<std::uint64_t>(ts) - static_cast<std::uint64_t>(first[k - 1]) <= window &&
                               (level == k || first[k - 1] > first[k])) {
                        // Latest start wins; every chain in the state ended before ts.
                        first[k] = first[k - 1];
                        if (level < k + 1) level = k + 1;
                    }
                }
                return level == steps;
            }
        }
        while (s) {
            const unsigned k = static_cast<unsigned>(std::countr_zero(s));
            s &= s - 1;
            if (k == 0) {
                first[0] = ts;
                if constexpr (StrictIncrease) last[0] = ts;
                if (level == 0) {
                    level = 1;
                    if (steps == 1) return true;
                }
                continue;
            }
            int reps = 1;
            if constexpr (Dedup) reps = ((d >> k) & 1u) ? 2 : 1;
            for (int r = 0; r < reps; ++r) {
                if constexpr (Dedup) {
                    if (level > k) return true;
                }
                if constexpr (StrictOrder) {
                    if (level >= 1 && level < k) {
                        if (reentry) break;
                        return true;
                    }
                }
                if (level >= k) {
                    // ts >= first[k-1]: the difference is exact in unsigned arithmetic.
                    bool ok = static_cast<std::uint64_t>(ts) - static_cast<std::uint64_t>(first[k - 1]) <= window;
                    if constexpr (StrictIncrease) ok = ok && last[k - 1] < ts;
                    if (ok) {
                        first[k] = first[k - 1];
                        if constexpr (StrictIncrease) last[k] = ts;
                        if (level < k + 1) {
                            level = k + 1;
                            if (level == steps) return true;
                        }
                    }
                }
            }
        }
        return false;
    }
};

/// funnel_machine<false, false, false>::apply (the default mode) written without branches on
/// the data, for kernels that hold an entity's chain starts as one array: chain[j] (j >= 1) is
/// the start of the chain that reached level j, funnel_machine's first[j-1], and chain[0] is
/// scratch that receives `ts`, so step 0 reads like every other step. The machine stops at the
/// last level; here later groups keep running, which changes no level (levels only grow).
/// Entries above `level` must be initialised (to anything): they are read, never used.
/// Step k (0-based) of a group at time ts; chain[0] must hold ts.
inline void apply_default_step(std::int64_t ts, unsigned k, std::uint64_t window, unsigned& level,
                               std::int64_t* chain) noexcept {
    // A chain at level k (or above) moves on when ts is within the window of its start.
    const bool ok = (level >= k) & (static_cast<std::uint64_t>(ts) - static_cast<std::uint64_t>(chain[k]) <= window);
    chain[k + 1] = ok ? chain[k] : chain[k + 1];
    level = ok & (level <= k) ? k + 1 : level;
}

inline void apply_default(std::int64_t ts, std::uint64_t s, std::uint64_t window, unsigned& level,
                          std::int64_t* chain) noexcept {
    chain[0] = ts;
    for (; s; s &= s - 1) apply_default_step(ts, static_cast<unsigned>(std::countr_zero(s)), window, level, chain);
}

}  // namespace detail
FUNNELKIT_END_NAMESPACE
