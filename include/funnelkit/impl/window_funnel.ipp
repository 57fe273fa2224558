// Definitions for funnelkit/window_funnel.hpp; config.hpp explains the compiled and header-only modes.
#pragma once

#include "funnelkit/window_funnel.hpp"

#include <algorithm>
#include <exception>
#include <limits>
#include <memory>
#include <numeric>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>

#include "funnelkit/detail/entity_index.hpp"
#include "funnelkit/detail/state_merge.hpp"
#include "funnelkit/detail/state_table.hpp"
#include "funnelkit/detail/window_funnel_kernel.hpp"
#include "funnelkit/error.hpp"
#include "funnelkit/grouping.hpp"
#include "funnelkit/serialize.hpp"

FUNNELKIT_BEGIN_NAMESPACE

namespace detail::window_funnel_impl {
inline constexpr char counts_magic[] = "FKWF";
inline constexpr std::uint16_t counts_format = 2;
inline constexpr std::size_t max_steps = 64;
inline constexpr std::string_view merge_what = "cannot merge window_funnel_counts";

inline std::string modes_text(std::optional<std::uint8_t> m) {
    if (!m) return "not recorded";
    if (*m == 0) return "default";
    static constexpr const char* names[] = {"strict_deduplication", "strict_order", "strict_increase", "allow_reentry",
                                            "exact_increase", "strict_once"};
    std::string out;
    for (int b = 0; b < 6; ++b)
        if (*m & (1u << b)) out += (out.empty() ? "" : "+") + std::string(names[b]);
    return out;
}

// The flag combinations window_funnel() accepts; empty when valid.
inline std::string invalid_modes(std::uint8_t m) {
    if (m >= 64) return "has unknown bits";
    if ((m & strict_once_mode) && (m & ~strict_once_mode)) return "has strict_once with another mode";
    if ((m & allow_reentry_mode) && !(m & strict_order_mode)) return "has allow_reentry without strict_order";
    if ((m & exact_increase_mode) &&
        (!(m & strict_increase_mode) || (m & strict_deduplication_mode) || (m & strict_order_mode)))
        return "has exact_increase without strict_increase alone";
    return {};
}

inline std::string window_text(std::optional<std::int64_t> w) { return w ? std::to_string(*w) : "not recorded"; }
inline std::string ticks_text(std::int64_t t) { return t == 0 ? "not recorded" : std::to_string(t); }

inline window_funnel_definition join(const window_funnel_definition& a, const window_funnel_definition& b) {
    return {detail::join_recorded(merge_what, "window", a.window, b.window, std::optional<std::int64_t>{}, window_text),
            detail::join_recorded(merge_what, "time unit", a.ticks_per_second, b.ticks_per_second, std::int64_t{0},
                                  ticks_text, "ticks per second"),
            detail::join_recorded(merge_what, "mode", a.modes, b.modes, std::optional<std::uint8_t>{}, modes_text)};
}
}  // namespace detail::window_funnel_impl

// ---------------------------------------------------------------------------------------------
// window_funnel_counts

FUNNELKIT_INLINE window_funnel_definition window_funnel_definition::of(const window_funnel_options& o) {
    std::uint8_t m = 0;
    if (o.strict_deduplication) m |= strict_deduplication_mode;
    if (o.strict_order) m |= strict_order_mode;
    if (o.strict_increase) m |= strict_increase_mode;
    if (o.allow_reentry) m |= allow_reentry_mode;
    if (o.exact_increase) m |= exact_increase_mode;
    if (o.strict_once) m |= strict_once_mode;
    return {o.window, o.ticks_per_second, m};
}

FUNNELKIT_INLINE window_funnel_counts::window_funnel_counts(std::size_t steps, const window_funnel_definition& definition)
    : steps_(steps), definition_(definition) {
    using namespace detail::window_funnel_impl;
    if (steps > max_steps) detail::throw_option("steps", std::to_string(steps), "exceeds the 64-step limit");
    if (definition.window && *definition.window < 0)
        detail::throw_option("window", std::to_string(*definition.window), "must be >= 0");
    if (definition.ticks_per_second < 0)
        detail::throw_option("ticks_per_second", std::to_string(definition.ticks_per_second), "must be > 0 (0: not recorded)");
    if (definition.modes)
        if (const std::string why = invalid_modes(*definition.modes); !why.empty())
            detail::throw_option("modes", std::to_string(*definition.modes), why);
    exact_.assign(steps + 1, 0);
}

FUNNELKIT_INLINE void window_funnel_counts::add(std::size_t level, std::int64_t count) {
    if (level > steps_)
        detail::throw_option("level", std::to_string(level),
                             "exceeds the number of steps (" + std::to_string(steps_) + ")");
    if (count < 0) detail::throw_option("count", std::to_string(count), "must be >= 0");
    // Every level's count is at most the total, so checking the total covers them all.
    total_ = detail::add_count(total_, count, "window_funnel_counts::add");
    exact_[level] += count;
}

// Merge: exact_[l] is the number of entities ending at level l; partitions by entity are
// disjoint, so the histogram of the union is the element-wise sum.
FUNNELKIT_INLINE void window_funnel_counts::merge(const window_funnel_counts& other) {
    using namespace detail::window_funnel_impl;
    const window_funnel_definition def = join(definition_, other.definition_);
    if (other.steps_ != steps_) {
        const bool self_empty = steps_ == 0 && exact_[0] == 0;
        const bool other_empty = other.steps_ == 0 && other.exact_[0] == 0;
        if (self_empty) {
            *this = other;
            definition_ = def;
            return;
        }
        if (other_empty) {
            definition_ = def;
            return;
        }
        detail::throw_incompatible(merge_what, "step count", std::to_string(steps_), std::to_string(other.steps_));
    }
    total_ = detail::add_count(total_, other.total_, merge_what);
    for (std::size_t i = 0; i < exact_.size(); ++i) exact_[i] += other.exact_[i];
    definition_ = def;
}

FUNNELKIT_INLINE void window_funnel_counts::reset() {
    std::fill(exact_.begin(), exact_.end(), 0);
    total_ = 0;
}

FUNNELKIT_INLINE std::int64_t window_funnel_counts::at_level(std::size_t level) const {
    if (level > steps_)
        detail::throw_option("level", std::to_string(level), "is not a level (expected 0.." + std::to_string(steps_) + ")");
    return exact_[level];
}

FUNNELKIT_INLINE std::int64_t window_funnel_counts::reached(std::size_t level) const {
    if (level > steps_)
        detail::throw_option("level", std::to_string(level), "is not a level (expected 0.." + std::to_string(steps_) + ")");
    return std::accumulate(exact_.begin() + static_cast<std::ptrdiff_t>(level), exact_.end(), std::int64_t{0});
}

FUNNELKIT_INLINE std::vector<std::int64_t> window_funnel_counts::reached_counts() const {
    std::vector<std::int64_t> out(exact_.size());
    std::int64_t acc = 0;
    for (std::size_t l = exact_.size(); l-- > 0;) out[l] = (acc += exact_[l]);
    return out;
}

FUNNELKIT_INLINE std::vector<std::byte> window_funnel_counts::serialize() const {
    using namespace detail::window_funnel_impl;
    detail::byte_writer w(counts_magic, counts_format);
    w.put(static_cast<std::uint64_t>(steps_));
    w.put(definition_.window.value_or(-1));
    w.put(definition_.ticks_per_second);
    w.put_code(definition_.modes);
    w.put(exact_);
    return std::move(w).finish();
}

FUNNELKIT_INLINE window_funnel_counts window_funnel_counts::deserialize(const void* data, std::size_t size) {
    using namespace detail::window_funnel_impl;
    detail::byte_reader r(data, size, counts_magic, "window_funnel_counts");
    const std::uint16_t version = r.accept_versions(1, counts_format);
    const auto steps = r.get<std::uint64_t>();
    if (steps > max_steps) r.fail("step count " + std::to_string(steps) + " exceeds 64");
    window_funnel_definition def;
    if (version >= 2) {
        const auto window = r.get<std::int64_t>();
        if (window < -1) r.fail("window " + std::to_string(window) + " is negative");
        if (window >= 0) def.window = window;
        def.ticks_per_second = r.get<std::int64_t>();
        if (def.ticks_per_second < 0) r.fail("ticks per second " + std::to_string(def.ticks_per_second) + " is negative");
        def.modes = r.get_code(63, "modes");
        if (def.modes)
            if (const std::string why = invalid_modes(*def.modes); !why.empty()) r.fail("modes " + modes_text(def.modes) + " " + why);
    }
    auto exact = r.get_vector<std::int64_t>();
    r.finish();
    if (exact.size() != steps + 1)
        r.fail("level histogram of " + std::to_string(exact.size()) + " does not match " + std::to_string(steps) + " steps");
    std::int64_t total = 0;
    for (std::size_t l = 0; l < exact.size(); ++l) {
        if (exact[l] < 0) r.fail("level " + std::to_string(l) + ": negative count " + std::to_string(exact[l]));
        if (__builtin_add_overflow(total, exact[l], &total)) r.fail("the level counts sum beyond int64");
    }
    window_funnel_counts out;
    out.steps_ = static_cast<std::size_t>(steps);
    out.definition_ = def;
    out.exact_ = std::move(exact);
    out.total_ = total;
    return out;
}

// ---------------------------------------------------------------------------------------------
// Kernels

namespace detail::window_funnel_impl {

struct job {
    const std::int64_t* ent;
    const std::int64_t* tim;
    const std::int32_t* code;   // step codes, or null
    const std::int8_t* code8;   // step codes of one byte, or null
    const std::uint64_t* mask;  // step masks, or null
    std::size_t n;
    std::uint64_t valid;       // mask of valid steps
    std::int64_t max_time;     // INT64_MAX - window
    unsigned steps;
    bool per_entity;
    bool check_order;           // the caller promised an order: verify it
    bool keep_other;            // events matching no step matter (strict_order)
    bool once;                  // strict_once with step masks (with step codes it is the default mode)
    std::uint64_t window;
};

struct alignas(64) partial {  // one per thread, on cache lines of its own
    window_funnel_counts counts;
    std::vector<std::int64_t> entity;
    std::vector<std::uint8_t> level;
};

// Whether the job has step codes (of either width) rather than masks, and row i's code.
[[gnu::always_inline]] inline bool has_codes(const job& j) noexcept {
    return j.code != nullptr || j.code8 != nullptr;
}
[[gnu::always_inline]] inline std::int32_t code_at(const job& j, std::size_t i) noexcept {
    return j.code8 ? std::int32_t{j.code8[i]} : j.code[i];
}

[[noreturn]] inline void bad_row(const job& j, std::size_t i) {
    if (has_codes(j)) {
        const std::int32_t c = code_at(j, i);
        if (c < -1 || static_cast<std::int64_t>(c) >= static_cast<std::int64_t>(j.steps))
            detail::throw_at_row("step", i, detail::to_text(c),
                                 "is not a step code (expected -1 for no step or 0.." + std::to_string(j.steps - 1) + ")");
    } else {
        const std::uint64_t m = j.mask[i];
        if (m & ~j.valid)
            detail::throw_at_row("step_mask", i, detail::to_text(m),
                                 "has bits beyond the " + std::to_string(j.steps) + " steps");
    }
    if (j.tim[i] == std::numeric_limits<std::int64_t>::min())
        detail::throw_at_row("time", i, detail::to_text(j.tim[i]),
                             "is the smallest int64, which is reserved for 'no time'; it is not a valid timestamp");
    detail::throw_at_row("time", i, detail::to_text(j.tim[i]),
                         "overflows int64 when the window (" + std::to_string(std::numeric_limits<std::int64_t>::max() - j.max_time) +
                             ") is added");
}

// Step mask of row i; throws on an invalid code or mask or on a timestamp that overflows.
[[gnu::always_inline]] inline std::uint64_t row_mask(const job& j, std::size_t i) {
    std::uint64_t m;
    if (has_codes(j)) {
        const std::int32_t c = code_at(j, i);
        if (static_cast<std::uint32_t>(c) + 1u > j.steps) [[unlikely]] bad_row(j, i);  // -1 <= c < steps
        m = c >= 0 ? std::uint64_t{1} << c : 0;
    } else {
        m = j.mask[i];
        if (m & ~j.valid) [[unlikely]] bad_row(j, i);
    }
    // One unsigned comparison for INT64_MIN < time <= max_time (the smallest int64 is reserved).
    constexpr std::uint64_t least = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::min()) + 1;
    if (static_cast<std::uint64_t>(j.tim[i]) - least > static_cast<std::uint64_t>(j.max_time) - least) [[unlikely]]
        bad_row(j, i);
    return m;
}

[[noreturn]] inline void broken_promise(std::string_view column, std::size_t row, std::int64_t value, std::int64_t previous,
                                        std::string_view order) {
    detail::throw_at_row(column, row, detail::to_text(value),
                         "is smaller than the previous row's " + detail::to_text(previous) + " but the input was promised sorted by " +
                             std::string(order));
}

// strict_once (an event counts for one step of a chain at most). Events at different times are
// different events, so the rule only bites within one timestamp: there, a chain may take
// several steps at once only through distinct events. A chain at level j before the group
// (or a new chain, j = 0) reaches level k when steps j+1..k can be given to distinct events of
// the group, each matching its step (a matching, found step by step with augmenting paths);
// as in the default mode, the latest start wins at every level. With one step per event (step
// codes) this is the default mode.
class once_group {
public:
    /// Applies the group of events `masks` at time `ts`.
    void apply(std::int64_t ts, const std::uint64_t* masks, std::size_t r, std::uint64_t window, unsigned steps,
               unsigned& level, std::int64_t* first) {
        masks_ = masks;
        r_ = r;
        std::int64_t next[64];
        std::copy(first, first + level, next);
        unsigned top = level;
        for (unsigned j = 0; j <= level && j < steps; ++j) {
            std::int64_t start;
            if (j == 0) start = ts;
            else if (static_cast<std::uint64_t>(ts) - static_cast<std::uint64_t>(first[j - 1]) <= window) start = first[j - 1];
            else continue;
            // Steps j..k-1 (0-based) to distinct events.
            owner_.assign(r, -1);
            unsigned k = j;
            while (k < steps) {
                seen_.assign(r, 0);
                if (!augment(static_cast<int>(k))) break;
                ++k;
            }
            for (unsigned l = std::max(j, 1u); l <= k; ++l)
                if (l > top || next[l - 1] < start) next[l - 1] = start;
            top = std::max(top, k);
        }
        for (unsigned l = 0; l < top; ++l) first[l] = next[l];
        level = top;
    }

private:
    bool augment(int step) {
        for (std::size_t e = 0; e < r_; ++e) {
            if (!((masks_[e] >> step) & 1u) || seen_[e]) continue;
            seen_[e] = 1;
            if (owner_[e] < 0 || augment(owner_[e])) {
                owner_[e] = step;
                return true;
            }
        }
        return false;
    }
    const std::uint64_t* masks_ = nullptr;
    std::size_t r_ = 0;
    std::vector<int> owner_;
    std::vector<char> seen_;
};

// The strict_once level of one entity's events, given in time order by mask_at(i)/time_at(i).
template <class Time, class Mask>
unsigned once_level(std::size_t n, Time time_at, Mask mask_at, std::uint64_t window, unsigned steps, once_group& g,
                    std::vector<std::uint64_t>& masks) {
    std::int64_t first[64];
    unsigned level = 0;
    for (std::size_t i = 0; i < n && level < steps;) {
        const std::int64_t ts = time_at(i);
        masks.clear();
        for (; i < n && time_at(i) == ts; ++i)
            if (mask_at(i)) masks.push_back(mask_at(i));
        if (!masks.empty()) g.apply(ts, masks.data(), masks.size(), window, steps, level, first);
    }
    return level;
}

// What the kernels need to know of a step machine: which parts of a group it reads.
template <class Machine>
struct machine_traits;
template <bool StrictOrder, bool StrictIncrease, bool Dedup>
struct machine_traits<detail::funnel_machine<StrictOrder, StrictIncrease, Dedup>> {
    static constexpr bool dedup = Dedup;
    static constexpr bool last = StrictIncrease;
    static constexpr bool strict_order = StrictOrder;
};

// Applies the groups of one entity's events that match a step (k of them, time ascending: the
// time of event q is time_at(q), its step code or mask step_at(q)) after the pending group
// (pending_time, pending_steps), which they may continue. The last group stays pending: the
// next events of the entity may continue it.
template <bool Codes, class TimeAt, class StepAt>
inline void apply_groups(std::size_t k, TimeAt time_at, StepAt step_at, std::int64_t& pending_time,
                         std::uint64_t& pending_steps, std::uint64_t window, unsigned& level, std::int64_t* chain) {
    const auto bit_of = [&](std::size_t q) -> std::uint64_t {
        if constexpr (Codes) return std::uint64_t{1} << step_at(q);
        else return step_at(q);
    };
    std::int64_t g = pending_time;
    std::uint64_t s = pending_steps;
    std::size_t q = 0;
    for (; q < k && time_at(q) == g; ++q) s |= bit_of(q);
    if (q < k) {
        detail::apply_default(g, s, window, level, chain);
        for (;;) {
            g = time_at(q);
            if constexpr (Codes) {
                // A group of one event, the common case: its one step, no loop over the bits.
                if (q + 1 < k && time_at(q + 1) != g) {
                    chain[0] = g;
                    detail::apply_default_step(g, step_at(q), window, level, chain);
                    ++q;
                    continue;
                }
            }
            s = bit_of(q);
            for (++q; q < k && time_at(q) == g; ++q) s |= bit_of(q);
            if (q == k) break;
            detail::apply_default(g, s, window, level, chain);
        }
    }
    pending_time = g;
    pending_steps = s;
}

// The default mode over rows grouped by entity, time ascending. An entity's rows are checked
// and its events that match a step copied (time and step code, or time and mask) into small
// buffers, with no branch on the data; the groups of the copy then go through apply_default.
// On event streams where most events match no step this takes about a fifth less time than
// running the step machine over every row, whose branches mispredict on such rows.
inline void run_entity_time_default(const job& j, std::size_t begin, std::size_t end, partial& out) {
    constexpr std::size_t block = 2048;
    std::int64_t times[block];
    std::uint64_t masks[block];
    std::uint8_t codes[block];
    std::int64_t chain[65];
    // One unsigned comparison for INT64_MIN < time <= max_time, as in row_mask.
    constexpr std::uint64_t least = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::min()) + 1;
    const std::uint64_t span = static_cast<std::uint64_t>(j.max_time) - least;
    const std::int64_t* const ent = j.ent;
    const std::int64_t* const tim = j.tim;
    const std::uint64_t window = j.window;
    const std::uint64_t invalid = ~j.valid;
    const unsigned steps = j.steps;
    // Throws the error of row x (the row_mask checks first, then the order of time).
    const auto fail = [&](std::size_t x, std::int64_t previous) {
        row_mask(j, x);
        broken_promise("time", x, tim[x], previous, "(entity, time)");
    };
    std::size_t i = begin;
    while (i < end) {
        const std::int64_t e = ent[i];
        std::size_t stop = i + 1;
        while (stop < end && ent[stop] == e) ++stop;
        std::fill(chain, chain + steps + 1, std::int64_t{0});
        unsigned level = 0;
        std::int64_t gts = tim[i];  // the pending group: its time and steps
        std::uint64_t s = 0;
        std::int64_t prev = tim[i];
        for (std::size_t b = i; b < stop; b += block) {
            const std::size_t stop_block = std::min(stop, b + block);
            std::size_t k = 0;
            // Codes of either width, the same loop.
            const auto take_codes = [&](const auto* const code) {
                for (std::size_t x = b; x < stop_block; ++x) {
                    detail::prefetch_ahead(x, j.n, tim, ent, code);
                    const std::int32_t c = code[x];
                    const std::int64_t t = tim[x];
                    // -1 <= c < steps, the time in range and not before the previous row's.
                    const bool bad = (static_cast<std::uint32_t>(c) + 1u > steps) | (t < prev) |
                                     (static_cast<std::uint64_t>(t) - least > span);
                    if (bad) [[unlikely]] fail(x, prev);
                    prev = t;
                    times[k] = t;
                    codes[k] = static_cast<std::uint8_t>(c);
                    k += c >= 0;
                }
            };
            if (j.code8) {
                take_codes(j.code8);
            } else if (j.code) {
                take_codes(j.code);
            } else {
                const std::uint64_t* const mask = j.mask;
                for (std::size_t x = b; x < stop_block; ++x) {
                    detail::prefetch_ahead(x, j.n, tim, ent, mask);
                    const std::uint64_t m = mask[x];
                    const std::int64_t t = tim[x];
                    const bool bad = ((m & invalid) != 0) | (t < prev) | (static_cast<std::uint64_t>(t) - least > span);
                    if (bad) [[unlikely]] fail(x, prev);
                    prev = t;
                    times[k] = t;
                    masks[k] = m;
                    k += m != 0;
                }
            }
            const auto time_at = [&](std::size_t q) { return times[q]; };
            if (has_codes(j))
                apply_groups<true>(k, time_at, [&](std::size_t q) { return codes[q]; }, gts, s, window, level, chain);
            else
                apply_groups<false>(k, time_at, [&](std::size_t q) { return masks[q]; }, gts, s, window, level, chain);
        }
        detail::apply_default(gts, s, window, level, chain);
        if (j.check_order && stop < j.n && ent[stop] < e) [[unlikely]]
            broken_promise("entity", stop, ent[stop], e, "(entity, time)");
        out.counts.add(level);
        if (j.per_entity) {
            out.entity.push_back(e);
            out.level.push_back(static_cast<std::uint8_t>(level));
        }
        i = stop;
    }
}

// Rows grouped by entity, time ascending within an entity: one sequential pass, no table.
// Rows [begin, end) start and end at entity boundaries; the promised entity order is checked
// up to the row after `end` (a thread's range ends where the next one's begins).
template <class Machine>
void run_entity_time(const job& j, const Machine& mc, std::size_t begin, std::size_t end, partial& out) {
    if (j.once) {
        once_group g;
        std::vector<std::uint64_t> masks;
        for (std::size_t i = begin; i < end;) {
            const std::int64_t e = j.ent[i];
            std::size_t k = i;
            for (; k < end && j.ent[k] == e; ++k) {
                row_mask(j, k);
                if (k > i && j.tim[k] < j.tim[k - 1]) [[unlikely]] broken_promise("time", k, j.tim[k], j.tim[k - 1], "(entity, time)");
            }
            const unsigned level = once_level(
                k - i, [&](std::size_t x) { return j.tim[i + x]; }, [&](std::size_t x) { return j.mask[i + x]; },
                j.window, j.steps, g, masks);
            if (j.check_order && k < j.n && j.ent[k] < e) [[unlikely]] broken_promise("entity", k, j.ent[k], e, "(entity, time)");
            out.counts.add(level);
            if (j.per_entity) {
                out.entity.push_back(e);
                out.level.push_back(static_cast<std::uint8_t>(level));
            }
            i = k;
        }
        return;
    }
    using traits = machine_traits<Machine>;
    if constexpr (!traits::strict_order && !traits::dedup && !traits::last) {
        run_entity_time_default(j, begin, end, out);
        return;
    }
    std::int64_t first[64];
    std::int64_t last[64];
    std::size_t i = begin;
    while (i < end) {
        const std::int64_t e = j.ent[i];
        unsigned level = 0;
        bool done = false;
        std::int64_t gts = j.tim[i];
        std::uint64_t s = 0, d = 0;
        bool other = false;
        for (; i < end && j.ent[i] == e; ++i) {
            const std::int64_t t = j.tim[i];
            const std::uint64_t m = row_mask(j, i);
            if (t != gts) {
                if (t < gts) [[unlikely]] broken_promise("time", i, t, gts, "(entity, time)");
                if (!done) done = mc.apply(gts, s, d, other, level, first, last);
                gts = t;
                s = d = 0;
                other = false;
            }
            d |= s & m;
            s |= m;
            other |= m == 0;
        }
        if (!done) mc.apply(gts, s, d, other, level, first, last);
        if (j.check_order && i < j.n && j.ent[i] < e) [[unlikely]]
            broken_promise("entity", i, j.ent[i], e, "(entity, time)");
        out.counts.add(level);
        if (j.per_entity) {
            out.entity.push_back(e);
            out.level.push_back(static_cast<std::uint8_t>(level));
        }
    }
}

// Rows in any other order: the grouping primitive (funnelkit/grouping.hpp) drops the events
// that cannot change a level (those matching no step, unless strict_order looks at them),
// groups the rest by entity in cache-sized buckets and hands each entity's events, in time
// order, to the step machine. Entities whose events were all dropped count at level 0.
// What a kept event carries through the grouping: its step mask, or, with step codes, the
// code alone (one byte instead of eight; 0xff for an event matching no step).
struct mask_payload {
    using type = std::uint64_t;
    static type of(const job&, std::size_t, std::uint64_t m) noexcept { return m; }
    static std::uint64_t mask(type p) noexcept { return p; }
};
struct code_payload {
    using type = std::uint8_t;
    static type of(const job& j, std::size_t i, std::uint64_t) noexcept {
        const std::int32_t c = code_at(j, i);
        return c < 0 ? type{0xff} : static_cast<type>(c);
    }
    static std::uint64_t mask(type p) noexcept { return p == 0xff ? 0 : std::uint64_t{1} << p; }
};

template <class Payload, class Machine>
void run_grouped(const job& j, const Machine& mc, bool keep_other, unsigned threads, std::vector<partial>& parts) {
    using P = typename Payload::type;
    using traits = machine_traits<Machine>;
    constexpr bool default_mode = !traits::strict_order && !traits::dedup && !traits::last;
    grouping_options go;
    go.threads = threads;
    go.visit_dropped = true;
    // The job by value: the payload stores are of a character type, which may alias anything,
    // so fields read through a reference were read again for every row (4% of the call).
    const auto classify = [jc = j, keep_other](std::size_t i, P& p) {
        const std::uint64_t m = row_mask(jc, i);
        p = Payload::of(jc, i, m);
        return m != 0 || keep_other;
    };
    std::vector<once_group> once(j.once ? threads : 0);
    std::vector<std::vector<std::uint64_t>> once_masks(j.once ? threads : 0);
    const auto visit = [&](unsigned t, std::int64_t id, std::span<const grouped_row<P>> rows) {
        std::int64_t first[64];
        std::int64_t last[64];
        unsigned level = 0;
        if (j.once) {
            level = once_level(
                rows.size(), [&](std::size_t x) { return rows[x].time; },
                [&](std::size_t x) { return Payload::mask(rows[x].payload); }, j.window, j.steps, once[t], once_masks[t]);
        } else if (!rows.empty() && default_mode) {
            std::int64_t chain[65];
            std::fill(chain, chain + j.steps + 1, std::int64_t{0});
            std::int64_t g = rows[0].time;
            std::uint64_t s = 0;
            // Every kept event matches a step (keep_other is false in the default mode).
            apply_groups<std::is_same_v<Payload, code_payload>>(
                rows.size(), [&](std::size_t q) { return rows[q].time; }, [&](std::size_t q) { return rows[q].payload; }, g,
                s, j.window, level, chain);
            detail::apply_default(g, s, j.window, level, chain);
        } else if (!rows.empty()) {
            bool done = false;
            std::int64_t gts = rows[0].time;
            std::uint64_t s = 0, d = 0;
            bool other = false;
            for (const auto& r : rows) {
                if (r.time != gts) {
                    done = mc.apply(gts, s, d, other, level, first, last);
                    if (done) break;
                    gts = r.time;
                    s = d = 0;
                    other = false;
                }
                const std::uint64_t m = Payload::mask(r.payload);
                d |= s & m;
                s |= m;
                other |= m == 0;
            }
            if (!done) mc.apply(gts, s, d, other, level, first, last);
        }
        partial& out = parts[t];
        out.counts.add(level);
        if (j.per_entity) {
            out.entity.push_back(id);
            out.level.push_back(static_cast<std::uint8_t>(level));
        }
    };
    group_by_entity<P>(std::span<const std::int64_t>(j.ent, j.n), std::span<const std::int64_t>(j.tim, j.n), classify,
                       visit, go);
}

// Throws at the first row whose time is smaller than the previous row's (the promise of time
// order broken), each of `threads` threads checking a share of the rows.
inline void check_time_promise(const job& j, unsigned threads) {
    std::vector<std::size_t> first(threads, j.n);
    detail::run_workers(threads, [&](unsigned t) {
        const std::size_t b = std::max<std::size_t>(1, j.n * t / threads), e = j.n * (t + 1) / threads;
        for (std::size_t i = b; i < e; ++i)
            if (j.tim[i] < j.tim[i - 1]) [[unlikely]] {
                first[t] = i;
                break;
            }
    });
    const std::size_t i = *std::min_element(first.begin(), first.end());
    if (i < j.n) broken_promise("time", i, j.tim[i], j.tim[i - 1], "time");
}

// Time order with few entities: one pass over the rows as they come, every entity's chain
// state in a hash table that stays in cache (funnelkit/detail/state_table.hpp, slots
// prefetched some rows ahead), nothing copied or sorted. An entity's rows arrive in time
// order, so its pending group (the steps seen at its latest timestamp) is applied when a later
// timestamp shows up, and the pending groups of all entities at the end: the same groups, in
// the same order, as the grouped kernels apply. The drivers below return false, having changed
// nothing, when a table would outgrow what it may hold (the caller then groups).
// 2^17 entities: a table of at most 2^18 slots, 16 MiB with 4 steps in the default mode. Past
// that, the stream estimates the entities of its input (detail::estimate_distinct, once) and
// goes on while their table stays within two fifths of the input columns' bytes, reserving room
// for them at once (time_stream::extend); else the caller groups. (1e8 events of 1e6 entities
// in time order, C++ alone: 0.86 s against 1.50-1.91 s grouped on one thread, 0.54-0.57 against
// 0.83-1.05 s on two; 1e7 events of 3e5 entities: 0.100 against 0.171-0.205 s, where the stream
// ran up to 2^17 entities before giving up.)
inline constexpr std::size_t stream_max_entities = std::size_t{1} << 17;
// Rows a stream lists at a time, and how far ahead of the table its slots are prefetched
// (1e7 rows in time order, C++ alone, eight alternating runs each: 32 rows ahead instead of 16
// took 0.069 against 0.070-0.073 s on one thread, 64 no better; blocks of 1024 rows instead of
// 512, fewer restarts of the prefetch, 0.038 against 0.040 s on two, the same on one).
inline constexpr std::size_t stream_block = 1024;
inline constexpr std::size_t stream_ahead = 32;

// Rows of a block listed for the table: entity, time and the step mask. The arrays are a
// cache line apart modulo 4 KiB: arrays whose size is a multiple of 4 KiB, a row's words at
// the same address bits, made loads wait on unrelated stores (4K aliasing) and took a third
// longer on one thread with some placements of the input columns.
struct stream_rows {
    std::int64_t entity[stream_block];
    std::int64_t gap0[8];
    std::int64_t time[stream_block];
    std::int64_t gap1[8];
    std::uint64_t mask[stream_block];
};

// The entities of a stream (all of them, or a thread's share): their chain states in a table.
template <class Machine>
class time_stream {
    using traits = machine_traits<Machine>;
    // Words of a state: flags (level, pending group, final level, an event matching no step
    // in the group), the group's time, its steps, [its repeated steps], first[steps], [last[steps]].
    static constexpr std::int64_t pending_bit = 1 << 8, done_bit = 1 << 9, other_bit = 1 << 10;

public:
    /// `parts`: how many streams share the input's entities (each holds about 1/parts).
    time_stream(const job& j, const Machine& mc, std::size_t max_entities, unsigned parts = 1)
        : j_(j), mc_(mc), max_(max_entities), parts_(parts), at_first_(traits::dedup ? 4 : 3),
          // Sized at once for the entities a stream of this many rows may hold (1e7 rows: the
          // most a stream keeps), not grown on the way: growing from 4096 moved every state
          // several times (7-10% of a 1e7-row time-order stream). Pages untouched stay unmapped.
          table_(at_first_ + j.steps * (traits::last ? 2 : 1), std::min(max_entities, std::max<std::size_t>(4096, j.n / 16))) {}

    /// An event of entity e (given its hash) at time ts with step mask m: false when the table
    /// outgrew max_entities.
    bool take(std::int64_t e, std::int64_t ts, std::uint64_t hash, std::uint64_t m) {
        bool fresh;
        std::int64_t* st = table_.find_or_insert_hashed(e, hash, fresh);
        if (fresh && table_.size() > max_) [[unlikely]] {
            if (!extend()) return false;
            st = table_.find_or_insert_hashed(e, hash, fresh);  // the table has moved
        }
        if (m == 0 && !j_.keep_other) return true;
        std::int64_t flags = st[0];
        if (flags & done_bit) return true;
        std::uint64_t s = static_cast<std::uint64_t>(st[2]);
        std::uint64_t d = traits::dedup ? static_cast<std::uint64_t>(st[3]) : 0;
        bool other = (flags & other_bit) != 0;
        if ((flags & pending_bit) && ts != st[1]) {
            unsigned level = static_cast<unsigned>(flags & 0xff);
            const bool done = mc_.apply(st[1], s, d, other, level, st + at_first_, st + at_first_ + j_.steps);
            flags = static_cast<std::int64_t>(level) | (done ? done_bit : 0);
            s = d = 0;
            other = false;
            if (done) {
                st[0] = flags;
                return true;
            }
        }
        d |= s & m;
        s |= m;
        other |= m == 0;
        st[0] = (flags & 0xff) | pending_bit | (other ? other_bit : 0);
        st[1] = ts;
        st[2] = static_cast<std::int64_t>(s);
        if constexpr (traits::dedup) st[3] = static_cast<std::int64_t>(d);
        return true;
    }

    /// take() in the default mode, with branches only where the data rarely takes them: the
    /// pending group is closed by a later event's time (a new timestamp that matches a step)
    /// through apply_default_step on its lowest step, and on its other steps, which are rare,
    /// in a loop; an event that matches no step changes nothing. The state's words: level and
    /// pending_bit, the group's time, its steps, then first[steps], the chain of
    /// apply_default_step from the word of the steps on (its scratch chain[0]).
    bool take_default(std::int64_t e, std::int64_t ts, std::uint64_t hash, std::uint64_t m) {
        bool fresh;
        std::int64_t* st = table_.find_or_insert_hashed(e, hash, fresh);
        if (fresh && table_.size() > max_) [[unlikely]] {
            if (!extend()) return false;
            st = table_.find_or_insert_hashed(e, hash, fresh);  // the table has moved
        }
        unsigned level = static_cast<unsigned>(st[0] & 0xff);
        const std::int64_t g = st[1];
        std::uint64_t s = static_cast<std::uint64_t>(st[2]);
        // The group closes when this event matches a step at another time (s == 0: none pending).
        const std::uint64_t closing = (m != 0) & (ts != g) ? s : 0;
        std::int64_t* chain = st + 2;
        chain[0] = g;
        // Its lowest step, or (nothing closing) a step that cannot move: k = 0 with ok false.
        // (apply_default_step's rule, written out: the same rule through a helper with an
        // on/off flag measured 8-10% slower here, in three alternating runs.)
        const unsigned k = static_cast<unsigned>(std::countr_zero(closing | (std::uint64_t{1} << 63))) & 63;
        const unsigned k0 = closing ? k : 0;
        const bool ok = (closing != 0) & (level >= k0) &
                        (static_cast<std::uint64_t>(g) - static_cast<std::uint64_t>(chain[k0]) <= j_.window);
        chain[k0 + 1] = ok ? chain[k0] : chain[k0 + 1];
        level = ok & (level <= k0) ? k0 + 1 : level;
        for (std::uint64_t rest = closing & (closing - 1); rest; rest &= rest - 1) [[unlikely]]
            detail::apply_default_step(g, static_cast<unsigned>(std::countr_zero(rest)), j_.window, level, chain);
        s = (closing ? 0 : s) | m;
        st[0] = static_cast<std::int64_t>(level) | (s ? pending_bit : 0);
        st[1] = m ? ts : g;
        st[2] = static_cast<std::int64_t>(s);
        return true;
    }

    /// The first k listed rows, the table slots prefetched ahead: false when the table
    /// outgrew max_entities. The entities' hashes are taken here, for listed rows only (moved
    /// from the lister, then the slower side of the two-thread pipeline).
    bool take_all(const stream_rows& r, std::size_t k) {
        constexpr bool default_mode = !traits::strict_order && !traits::dedup && !traits::last;
        for (std::size_t q = 0; q < k; ++q) hash_[q] = detail::table_hash(static_cast<std::uint64_t>(r.entity[q]));
        for (std::size_t q = 0; q < std::min(stream_ahead, k); ++q) table_.prefetch_hashed(hash_[q]);
        for (std::size_t q = 0; q < k; ++q) {
            if (q + stream_ahead < k) table_.prefetch_hashed(hash_[q + stream_ahead]);
            if constexpr (default_mode) {
                if (!take_default(r.entity[q], r.time[q], hash_[q], r.mask[q])) return false;
            } else {
                if (!take(r.entity[q], r.time[q], hash_[q], r.mask[q])) return false;
            }
        }
        return true;
    }

    /// Applies every entity's pending group and reports the levels.
    void finish(partial& out) {
        table_.for_each([&](std::int64_t id, std::int64_t* st) {
            unsigned level = static_cast<unsigned>(st[0] & 0xff);
            if ((st[0] & pending_bit) && !(st[0] & done_bit))
                mc_.apply(st[1], static_cast<std::uint64_t>(st[2]), traits::dedup ? static_cast<std::uint64_t>(st[3]) : 0,
                          (st[0] & other_bit) != 0, level, st + at_first_, st + at_first_ + j_.steps);
            out.counts.add(level);
            if (j_.per_entity) {
                out.entity.push_back(id);
                out.level.push_back(static_cast<std::uint8_t>(level));
            }
        });
    }

private:
    // The table outgrew max_: once, the entities of the whole input are estimated, and the
    // stream goes on (its table reserved for its share of them) when the table of its share
    // stays within two fifths of its share of the input columns' bytes; false to give up.
    [[gnu::noinline]] bool extend() {
        if (extended_) return false;
        extended_ = true;
        const std::size_t share = detail::estimate_distinct(j_.ent, j_.n) / parts_;
        const std::size_t want = share + share / 16 + 1024;  // room for the estimate's error
        const std::size_t slot_bytes = (at_first_ + j_.steps * (traits::last ? 2 : 1) + 1) * sizeof(std::int64_t);
        const std::size_t step_bytes = j_.code8 ? 1 : j_.code ? sizeof(std::int32_t) : sizeof(std::uint64_t);
        const std::size_t budget = j_.n * (2 * sizeof(std::int64_t) + step_bytes) / parts_ * 2 / 5;
        if (detail::state_table::capacity_for(want) * slot_bytes > budget) return false;
        // Twice the room when the budget allows: at a load near 3/8 most lookups end at their
        // first slot.
        const std::size_t room = detail::state_table::capacity_for(2 * want) * slot_bytes <= budget ? 2 * want : want;
        max_ = detail::state_table::capacity_for(room) * 3 / 4;  // as many as the table holds without growing
        table_.reserve(room);
        return true;
    }

    const job& j_;
    const Machine& mc_;
    std::size_t max_;
    unsigned parts_;
    bool extended_ = false;
    std::size_t at_first_;
    detail::state_table table_;
    std::uint64_t hash_[stream_block];
};

// Which rows of a stream go through the table. Rows are checked, hashed and listed a block at
// a time without a branch on the data (a branch on whether a row matches a step mispredicts on
// a third of the rows), except rows that match no step and whose entity the filter saw last:
// outside strict_order they only make their entity known, and the filter only holds entities
// of listed rows, whose table the entity is then sure to reach.
class stream_lister {
public:
    stream_lister() { filter_.reset(); }

    /// Lists rows b + row_at(x), x < count, into `out`; returns how many.
    template <class RowAt>
    std::size_t list(const job& j, std::size_t b, std::size_t count, RowAt row_at, stream_rows& out) {
        std::size_t k = 0;
        for (std::size_t x = 0; x < count; ++x) {
            const std::size_t i = b + row_at(x);
            // Without the prefetch, a thread listing rows alone waited on each new page of the
            // columns, more or less depending on how they are placed relative to each other (1e7
            // rows: 0.101 against 0.091 s on one thread, 0.065 to 0.083 against 0.062 s on two).
            if (j.code8)
                detail::prefetch_ahead(i, j.n, j.ent, j.tim, j.code8);
            else if (j.code)
                detail::prefetch_ahead(i, j.n, j.ent, j.tim, j.code);
            else
                detail::prefetch_ahead(i, j.n, j.ent, j.tim, j.mask);
            const std::int64_t id = j.ent[i];
            const std::uint64_t m = row_mask(j, i);
            out.entity[k] = id;
            out.time[k] = j.tim[i];
            out.mask[k] = m;
            // The filter's slot from one multiplication; the table's full hash is taken for
            // the listed rows only, by take_all (1e7 rows in time order, C++ alone, eight
            // alternating runs: 0.066 against 0.068 s on one thread, 0.0365 against 0.038 s
            // on two, where listing was the slower side of the pipeline).
            k += (m != 0) | j.keep_other | filter_.fresh(id, detail::drop_filter::quick_hash(id));
        }
        return k;
    }

    /// Every row of [b, e) in order, also checking the promise of time order when the job
    /// carries one (`previous`: the time of row b - 1, or of row b). A bad row met here is
    /// reported only when the promise holds on every row of the input.
    std::size_t list_in_order(const job& j, std::size_t b, std::size_t e, std::int64_t& previous, stream_rows& out) {
        std::size_t k;
        try {
            k = list(j, b, e - b, [](std::size_t x) { return x; }, out);
        } catch (const invalid_argument&) {
            if (j.check_order) check_time_promise(j, 1);
            throw;
        }
        if (j.check_order) {
            bool broken = false;
            for (std::size_t i = b; i < e; ++i) {
                broken |= j.tim[i] < previous;
                previous = j.tim[i];
            }
            if (broken) [[unlikely]] check_time_promise(j, 1);
        }
        return k;
    }

private:
    detail::drop_filter filter_;
};

// One thread: list a block, take it, and so on.
template <class Machine>
bool run_time_stream(const job& j, const Machine& mc, std::size_t max_entities, partial& out) {
    time_stream<Machine> stream(j, mc, max_entities);
    stream_lister lister;
    auto rows = std::make_unique<stream_rows>();
    std::int64_t previous = j.n ? j.tim[0] : 0;
    for (std::size_t b = 0; b < j.n; b += stream_block) {
        const std::size_t k = lister.list_in_order(j, b, std::min(j.n, b + stream_block), previous, *rows);
        if (!stream.take_all(*rows, k)) return false;
    }
    stream.finish(out);
    return true;
}

// Two threads: a pipeline. The first thread lists the blocks (checking the promise of time
// order as it goes) and copies them into a ring, the second takes them through the table.
// (Listing into the ring directly measured slower than listing into memory of the first
// thread's own and copying; giving the first thread a share of the entities to take through a
// table of its own measured slower too.) Errors are those of one thread going through the rows
// in order.
template <class Machine>
bool run_time_stream_pipeline(const job& j, const Machine& mc, std::size_t max_entities, partial& out) {
    struct slot {
        std::size_t k;
        stream_rows rows;
    };
    constexpr std::size_t ring = 64;  // blocks in flight, 2 MiB (32 measured 2% slower)
    std::vector<slot> slots(ring);
    const std::size_t blocks = (j.n + stream_block - 1) / stream_block;
    std::atomic<std::size_t> listed{0}, taken{0};  // blocks, counted from the start
    std::atomic<bool> stop{false};
    bool fitted = true;
    // Waits until ready(counter) holds, spinning a little first; false when the other side
    // stopped (it then moves `counter` past every block and wakes the waiter).
    const auto wait_until = [&](std::atomic<std::size_t>& counter, auto ready) {
        std::size_t v = counter.load(std::memory_order_acquire);
        for (unsigned spins = 0; !ready(v); ++spins) {
            if (spins >= 1024) counter.wait(v, std::memory_order_acquire);
            else detail::cpu_pause();
            v = counter.load(std::memory_order_acquire);
        }
        return !stop.load(std::memory_order_acquire);
    };
    const auto give_up = [&](std::atomic<std::size_t>& other) {
        stop.store(true, std::memory_order_release);
        other.store(blocks + ring, std::memory_order_release);
        other.notify_all();
    };
    detail::run_workers(2, [&](unsigned t) {
        if (t == 0) {
            stream_lister lister;
            auto rows = std::make_unique<stream_rows>();
            std::int64_t previous = j.n ? j.tim[0] : 0;
            try {
                for (std::size_t blk = 0; blk < blocks; ++blk) {
                    const std::size_t b = blk * stream_block;
                    const std::size_t k = lister.list_in_order(j, b, std::min(j.n, b + stream_block), previous, *rows);
                    if (!wait_until(taken, [&](std::size_t v) { return v + ring > blk; })) return;
                    slot& sl = slots[blk % ring];
                    std::copy_n(rows->entity, k, sl.rows.entity);
                    std::copy_n(rows->time, k, sl.rows.time);
                    std::copy_n(rows->mask, k, sl.rows.mask);
                    sl.k = k;
                    listed.store(blk + 1, std::memory_order_release);
                    listed.notify_one();
                }
            } catch (...) {
                give_up(listed);
                throw;
            }
        } else {
            time_stream<Machine> stream(j, mc, max_entities);
            for (std::size_t blk = 0; blk < blocks; ++blk) {
                if (!wait_until(listed, [&](std::size_t v) { return v > blk; })) return;
                const slot& sl = slots[blk % ring];
                if (!stream.take_all(sl.rows, sl.k)) {
                    fitted = false;
                    give_up(taken);
                    return;
                }
                taken.store(blk + 1, std::memory_order_release);
                taken.notify_one();
            }
            stream.finish(out);
        }
    });
    return fitted;
}

/// Which of `parts` stream threads takes entity e (the answer does not depend on it). By
/// mix64, independent of the bits the tables index by: a part chosen by the top bits of
/// table_hash's product would leave each thread's keys in one part of its table, and linear
/// probing then crawled (a unit test on 3 threads took 60 s instead of 2).
inline unsigned stream_part(std::int64_t e, unsigned parts) noexcept {
    const std::uint64_t x = detail::mix64(static_cast<std::uint64_t>(e));
    return static_cast<unsigned>(((x >> 32) * parts) >> 32);
}

// More threads: thread `part` of `parts` takes the entities stream_part assigns to it, finding
// its rows of each block first, then listing and taking them. The caller checks the promise
// of time order first.
template <class Machine>
bool run_time_stream_part(const job& j, const Machine& mc, std::size_t max_entities, partial& out, unsigned part,
                          unsigned parts) {
    time_stream<Machine> stream(j, mc, max_entities, parts);
    stream_lister lister;
    auto rows = std::make_unique<stream_rows>();
    std::uint32_t mine[stream_block];
    for (std::size_t b = 0; b < j.n; b += stream_block) {
        const std::size_t e = std::min(j.n, b + stream_block);
        std::size_t c = 0;
        for (std::size_t i = b; i < e; ++i) {
            mine[c] = static_cast<std::uint32_t>(i - b);
            c += stream_part(j.ent[i], parts) == part;
        }
        const std::size_t k = lister.list(j, b, c, [&](std::size_t x) { return mine[x]; }, *rows);
        if (!stream.take_all(*rows, k)) return false;
    }
    stream.finish(out);
    return true;
}

template <class F>
void run_threads(unsigned threads, std::vector<partial>& parts, F&& body) {
    detail::run_workers(threads, [&](unsigned t) { body(t, parts[t]); });
}

template <class Machine>
void dispatch_order(const job& j, const Machine& mc, input_order order, unsigned threads, std::vector<partial>& parts) {
    if (order == input_order::entity_time) {
        // Split the rows into `threads` ranges at entity boundaries.
        std::vector<std::size_t> cut(threads + 1, j.n);
        cut[0] = 0;
        for (unsigned t = 1; t < threads; ++t) {
            std::size_t c = std::max(cut[t - 1], j.n / threads * t);
            while (c > 0 && c < j.n && j.ent[c] == j.ent[c - 1]) ++c;
            // An entity order broken at the cut is found by the thread before it, after its
            // own rows, so the first bad row of the input is named whatever the thread count.
            cut[t] = c;
        }
        run_threads(threads, parts, [&](unsigned t, partial& p) { run_entity_time(j, mc, cut[t], cut[t + 1], p); });
    } else {
        // Time order streams through tables of entity states while the entities are few
        // enough for a table to stay in cache, or past that while their table fits the stream's
        // memory budget (time_stream::extend); with more, grouping measured faster (the table
        // misses the cache on every row and the rows per entity are few). One or two threads
        // streaming check the promise of time order as they go, in row order; otherwise it is
        // checked first.
        const bool stream = order == input_order::time && !j.once;
        if (order == input_order::time && j.check_order && (!stream || threads > 2)) check_time_promise(j, threads);
        if (stream) {
            if (threads <= 2) {
                std::vector<partial> streamed(parts);
                const bool fitted = threads == 1 ? run_time_stream(j, mc, stream_max_entities, streamed[0])
                                                 : run_time_stream_pipeline(j, mc, stream_max_entities, streamed[1]);
                if (fitted) {
                    parts.swap(streamed);
                    return;
                }
                if (j.check_order) check_time_promise(j, threads);  // the stream stopped before the end
            } else {
                // Each thread streams its share of the entities into a part of its own; the
                // parts are kept only when every thread's entities fitted.
                std::vector<partial> streamed(parts);
                std::vector<char> fitted(threads, 0);
                try {
                    run_threads(threads, streamed, [&](unsigned t, partial& p) {
                        fitted[t] = run_time_stream_part(j, mc, stream_max_entities, p, t, threads);
                    });
                } catch (const invalid_argument&) {
                    // A bad row: each thread meets the first of its own entities' rows, so the
                    // grouped path below reports the first bad row of the input instead.
                    fitted.assign(threads, 0);
                }
                if (std::all_of(fitted.begin(), fitted.end(), [](char f) { return f != 0; })) {
                    parts.swap(streamed);
                    return;
                }
            }
        }
        if (has_codes(j)) run_grouped<code_payload>(j, mc, j.keep_other, threads, parts);
        else run_grouped<mask_payload>(j, mc, j.keep_other, threads, parts);
    }
}

template <bool StrictOrder, bool StrictIncrease, bool Dedup>
void dispatch(const job& j, const window_funnel_options& o, input_order order, unsigned threads, std::vector<partial>& parts) {
    const detail::funnel_machine<StrictOrder, StrictIncrease, Dedup> mc{static_cast<std::uint64_t>(o.window), j.steps,
                                                                         o.allow_reentry, o.exact_increase};
    dispatch_order(j, mc, order, threads, parts);
}

}  // namespace detail::window_funnel_impl

namespace detail::window_funnel_impl {
/// detect_order() over rows [1, n) split between threads, each comparing its rows with the
/// row before (so the pairs across a cut are compared too).
inline input_order detect_order_threads(const std::int64_t* entity, const std::int64_t* time, std::size_t n,
                                        unsigned threads) {
    std::vector<char> by_entity(threads, 1), by_time(threads, 1);
    detail::run_workers(threads, [&](unsigned t) {
        const std::size_t b = std::max<std::size_t>(1, n * t / threads), e = n * (t + 1) / threads;
        bool be = true, bt = true;
        for (std::size_t i = b; i < e && (be || bt); ++i) {
            const bool time_up = time[i] >= time[i - 1];
            bt = bt && time_up;
            be = be && (entity[i] > entity[i - 1] || (entity[i] == entity[i - 1] && time_up));
        }
        by_entity[t] = be;
        by_time[t] = bt;
    });
    const auto all = [](const std::vector<char>& v) { return std::all_of(v.begin(), v.end(), [](char c) { return c != 0; }); };
    return all(by_entity) ? input_order::entity_time : all(by_time) ? input_order::time : input_order::unsorted;
}
}  // namespace detail::window_funnel_impl

FUNNELKIT_INLINE input_order detect_order(std::span<const std::int64_t> entity, std::span<const std::int64_t> time) {
    if (entity.size() != time.size()) detail::throw_length("time", time.size(), "entity", entity.size());
    return detail::window_funnel_impl::detect_order_threads(entity.data(), time.data(), entity.size(), 1);
}

FUNNELKIT_INLINE window_funnel_result window_funnel(const event_columns& events, const window_funnel_options& o) {
    using namespace detail::window_funnel_impl;
    if (o.window < 0) detail::throw_option("window", detail::to_text(o.window), "must be >= 0");
    if (o.steps == 0 || o.steps > max_steps)
        detail::throw_option("steps", std::to_string(o.steps), "must be between 1 and 64");
    if (o.allow_reentry && !o.strict_order)
        detail::throw_option("allow_reentry", "true", "requires strict_order");
    if (o.threads == 0) detail::throw_option("threads", "0", "must be >= 1");
    if (o.ticks_per_second <= 0) detail::throw_option("ticks_per_second", std::to_string(o.ticks_per_second), "must be > 0");
    if (o.exact_increase && (!o.strict_increase || o.strict_deduplication || o.strict_order))
        detail::throw_option("exact_increase", "true",
                             "requires strict_increase without strict_deduplication or strict_order");
    if (o.strict_once && (o.strict_deduplication || o.strict_order || o.strict_increase || o.allow_reentry || o.exact_increase))
        detail::throw_option("strict_once", "true", "does not combine with another mode");
    if (o.order != input_order::detect && o.order != input_order::entity_time && o.order != input_order::time &&
        o.order != input_order::unsorted)
        detail::throw_option("order", std::to_string(static_cast<int>(o.order)), "is not an input order");
    const std::size_t n = events.entity.size();
    if (events.time.size() != n) detail::throw_length("time", events.time.size(), "entity", n);
    const bool has_code8 = !events.step_int8.empty();
    const bool has_code = !events.step.empty() || has_code8 || (n == 0 && events.step_mask.empty());
    if (int{!events.step.empty()} + int{has_code8} + int{!events.step_mask.empty()} > 1)
        throw invalid_argument("give one of column 'step', its one-byte form 'step_int8' and column 'step_mask'");
    if (has_code8 && events.step_int8.size() != n) detail::throw_length("step", events.step_int8.size(), "entity", n);
    if (has_code && !has_code8 && events.step.size() != n) detail::throw_length("step", events.step.size(), "entity", n);
    if (!has_code && events.step_mask.size() != n) detail::throw_length("step_mask", events.step_mask.size(), "entity", n);

    job j{};
    j.ent = events.entity.data();
    j.tim = events.time.data();
    j.code = has_code && !has_code8 ? events.step.data() : nullptr;
    j.code8 = has_code8 ? events.step_int8.data() : nullptr;
    j.mask = has_code ? nullptr : events.step_mask.data();
    j.n = n;
    j.steps = static_cast<unsigned>(o.steps);
    j.valid = o.steps == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << o.steps) - 1;
    j.max_time = std::numeric_limits<std::int64_t>::max() - o.window;
    j.per_entity = o.per_entity;
    j.check_order = o.order != input_order::detect && o.order != input_order::unsorted;
    j.keep_other = o.strict_order;
    j.once = o.strict_once && j.mask != nullptr;
    j.window = static_cast<std::uint64_t>(o.window);

    window_funnel_result result;
    const window_funnel_definition definition = window_funnel_definition::of(o);
    result.counts = window_funnel_counts(o.steps, definition);
    if (n == 0) return result;

    const unsigned threads = static_cast<unsigned>(std::min<std::size_t>(o.threads, std::max<std::size_t>(1, n / 4096)));
    const input_order order =
        o.order == input_order::detect ? detect_order_threads(j.ent, j.tim, n, threads) : o.order;
    std::vector<partial> parts(threads);
    for (auto& p : parts) p.counts = window_funnel_counts(o.steps, definition);

    const unsigned key = (o.strict_order ? 4u : 0u) | (o.strict_increase ? 2u : 0u) | (o.strict_deduplication ? 1u : 0u);
    switch (key) {
        case 0: dispatch<false, false, false>(j, o, order, threads, parts); break;
        case 1: dispatch<false, false, true>(j, o, order, threads, parts); break;
        case 2: dispatch<false, true, false>(j, o, order, threads, parts); break;
        case 3: dispatch<false, true, true>(j, o, order, threads, parts); break;
        case 4: dispatch<true, false, false>(j, o, order, threads, parts); break;
        case 5: dispatch<true, false, true>(j, o, order, threads, parts); break;
        case 6: dispatch<true, true, false>(j, o, order, threads, parts); break;
        default: dispatch<true, true, true>(j, o, order, threads, parts); break;
    }

    for (auto& p : parts) result.counts.merge(p.counts);
    if (o.per_entity) {
        std::size_t total = 0;
        for (auto& p : parts) total += p.entity.size();
        result.entity.reserve(total);
        result.level.reserve(total);
        for (auto& p : parts) {
            result.entity.insert(result.entity.end(), p.entity.begin(), p.entity.end());
            result.level.insert(result.level.end(), p.level.begin(), p.level.end());
            std::vector<std::int64_t>().swap(p.entity);
            std::vector<std::uint8_t>().swap(p.level);
        }
        if (!std::is_sorted(result.entity.begin(), result.entity.end())) {
            std::vector<std::uint32_t> idx(total);
            std::iota(idx.begin(), idx.end(), 0u);
            std::sort(idx.begin(), idx.end(), [&](std::uint32_t a, std::uint32_t b) { return result.entity[a] < result.entity[b]; });
            std::vector<std::int64_t> e(total);
            std::vector<std::uint8_t> l(total);
            for (std::size_t i = 0; i < total; ++i) {
                e[i] = result.entity[idx[i]];
                l[i] = result.level[idx[i]];
            }
            result.entity = std::move(e);
            result.level = std::move(l);
        }
    }
    return result;
}

FUNNELKIT_END_NAMESPACE
