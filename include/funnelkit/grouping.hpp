// funnelkit: the one grouping primitive of the per-entity kernels.
//
// Every per-entity kernel (window funnel, funnel analysis, conversion, histories) needs the
// rows of each entity together and in time order. Input sorted by (entity, time) already is;
// any other order goes through group_by_entity(), which
//   1. classifies every row once: the kernel says whether the row can matter (a window-funnel
//      event that matches no step cannot, outside strict_order) and what it carries (its
//      payload, e.g. a step mask); rows that cannot matter are dropped, only their entity is
//      remembered so that an entity with no row left is still visited (it counts, at level 0),
//      and not even that when a small per-thread filter saw a row of the entity last; the pass
//      has no branch on the row (both questions are close to coin flips on real data);
//   2. partitions the kept rows by a hash of the entity into buckets. Usually in the same pass:
//      each thread writes a kept row whole (entity, time, payload packed) into a chunk of its
//      bucket, cut from one arena of half the input columns' size (a dropped row's entity goes
//      to a second chunk list, when it must be remembered), so every row is read once. When
//      the rows would not fit the arena (judged at an eighth of the rows, or met later), that
//      pass stops and a radix partition in two passes takes over: one histogram pass, then a
//      scatter pass, in rounds of buckets that fit a smaller budget;
//   3. within each bucket, numbers the entities with a small hash table and puts the rows in
//      (entity, time) order (ties by the kernel's tie order): a bucket of large entities (16
//      rows each or more on average) is radix-sorted by time as a whole and then
//      counting-sorted by entity; one of small entities is counting-sorted by entity first and
//      each entity's few rows are sorted on their own;
//   4. hands every entity's rows to the kernel's visitor.
// Threads split the passes by row ranges and then take buckets one at a time (largest first),
// so a thread never waits for another except between passes. The extra memory of a call is
// at most the arena (half the input columns: entity, time and payload) plus the scratch of
// one bucket per thread (two buffers of its rows, which serve the sort and the grouped output;
// with several threads the largest buckets, one per thread, picked from a sample of the rows,
// go first and give their rows' memory back once copied, from pages of their own on a
// huge-page arena). In
// the two-pass form, when the buffers of all buckets would exceed a
// budget (by default 30% of the input columns), the buckets are processed in rounds of about
// equal size; a byte per row remembers each row's bucket (or that it is a dropped row not to
// copy), so the scatter and each round read one byte per row to find their rows. Large
// buffers are on transparent huge pages (detail/huge_pages.hpp): the kernel zeroes fresh
// memory about three times faster so. The arena is the exception when it is larger than 128
// MiB (huge pages faulted in in such amounts measured slower); on small pages, with several
// threads, each thread gives back a share of the arena's pages at the end, in parallel.
//
// The visitor of an entity sees its rows in ascending time, and for equal times in the tie
// order the kernel gives (by default none: ties come in an unspecified order, which suits
// kernels that treat a timestamp's rows as one group). The order in which entities are
// visited, and on which thread, depends on the input; every kernel built on this merges
// per-thread results whose sum does not depend on either.
//
// Kernels whose per-entity result does not depend on the order of the entity's rows (reach
// by segment) use the primitive's other form, fold_by_entity(): one pass into a table of
// per-entity states with prefetched slots, nothing copied or sorted. Partitioning rows by
// entity hash into cache-sized buckets first (as DuckDB does) measured faster only when every
// row is copied at once, which breaks the memory bound (see benchmarks/README.md, "What bounds
// reach").
#pragma once

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <span>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "funnelkit/config.hpp"
#include "funnelkit/detail/entity_index.hpp"
#include "funnelkit/detail/huge_pages.hpp"
#include "funnelkit/detail/prefetch.hpp"
#include "funnelkit/detail/state_table.hpp"

FUNNELKIT_BEGIN_NAMESPACE

/// One row of an entity after grouping: its time and what the kernel kept of it.
template <class Payload>
struct grouped_row {
    std::int64_t time;
    Payload payload;
};

struct grouping_options {
    /// Worker threads, >= 1.
    unsigned threads = 1;
    /// Visit entities all of whose rows were dropped (with no rows), once each.
    bool visit_dropped = true;
    /// Bytes the partitioned rows may take at once; 0: half the input columns (entity, time and
    /// payload) for the one-pass partition and, when the rows do not fit in that, 30% of them
    /// for the two-pass one, at least 8 MiB each. More rows than fit are processed in rounds of
    /// about equal size.
    std::size_t budget_bytes = 0;
};

/// Tie order of group_by_entity's default: none.
struct no_tie_order {
    template <class P>
    constexpr bool operator()(const P&, const P&) const noexcept {
        return false;
    }
};

namespace detail {

/// A kept row between the scatter and the in-cache grouping, packed (17 bytes with a one-byte
/// payload) so that a bin's rows are one output stream of the scatter.
template <class Payload>
struct [[gnu::packed]] partitioned_row {
    std::int64_t entity;
    std::int64_t time;
    Payload payload;
};

/// Runs body(t) for t in [0, threads) on `threads` std::threads (the calling thread only when
/// threads == 1) and rethrows the exception of the lowest-numbered thread that threw.
void run_workers(unsigned threads, const std::function<void(unsigned)>& body);

/// A copy of f when it can be copied (a local object, whose fields the compiler may keep in
/// registers across stores of a character type), else f itself.
template <class F>
decltype(auto) local_copy(F& f) {
    if constexpr (std::is_copy_constructible_v<std::remove_cv_t<F>>) return std::remove_cv_t<F>(f);
    else return (f);
}

/// Tells the CPU that the thread is spinning on a value another thread will change (less
/// power, and the sibling hyperthread runs faster meanwhile).
inline void cpu_pause() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}

/// How group_by_entity() splits its work: 2^bits hash bins of the entity, rounds of
/// consecutive bins whose rows fit in the budget.
struct grouping_plan {
    unsigned bits = 0;
    /// round r covers bins [round_start[r], round_start[r + 1]).
    std::vector<std::size_t> round_start;
};

/// Hash bits for n rows (bins of a few thousand rows each, at most 4096 bins).
unsigned grouping_bits(std::size_t n);

/// Rounds of consecutive bins whose bytes (kept rows of row_bytes, dropped rows of 8 bytes)
/// fit in `budget` (a bin larger than the budget is a round of its own): as many rounds as the
/// total needs, each filled to about an equal share of it.
std::vector<std::size_t> grouping_rounds(const std::vector<std::size_t>& kept, const std::vector<std::size_t>& dropped,
                                         std::size_t row_bytes, std::size_t budget);

/// A direct-mapped memory of recently seen entities (one slot per hash value): fresh(id) is
/// false only when id is already in its slot, and leaves id there; the same sequence of calls
/// after reset() gives the same answers.
class drop_filter {
public:
    void reset() {
        if (!slot_) slot_.reset(new std::int64_t[size]);
        std::fill(slot_.get(), slot_.get() + size, empty);
    }
    /// A hash good enough for the filter's slots (the top bits of a multiplication by 2^64
    /// divided by the golden ratio), where no better one is at hand.
    static std::uint64_t quick_hash(std::int64_t id) noexcept {
        return (static_cast<std::uint64_t>(id) * 0x9E3779B97F4A7C15ull) >> (64 - bits);
    }
    bool fresh(std::int64_t id, std::uint64_t hash) noexcept {
        std::int64_t& s = slot_[static_cast<std::size_t>(hash) & (size - 1)];
        const bool seen = s == id && id != empty;
        s = id;
        return !seen;
    }

private:
    // 128 KiB, an eighth of a core's L2 cache: with 256 KiB the filter competed with the pass's
    // output streams, and a 1e7 shuffled window funnel took 0.109 against 0.098 s on one
    // thread (alternating runs; time order 2-3% slower; 64 KiB measured the same as 128).
    static constexpr unsigned bits = 14;
    static constexpr std::size_t size = std::size_t{1} << bits;
    static constexpr std::int64_t empty = std::numeric_limits<std::int64_t>::min();
    std::unique_ptr<std::int64_t[]> slot_;
};

/// Open-addressing map from entity id to a dense number, reused from bucket to bucket.
class bucket_index {
public:
    void reset(std::size_t expected) {
        const std::size_t cap = std::bit_ceil(std::max<std::size_t>(64, expected * 2));
        if (cap != keys_.size()) {
            keys_.assign(cap, 0);
            vals_.assign(cap, empty);
        } else {
            std::fill(vals_.begin(), vals_.end(), empty);
        }
        mask_ = cap - 1;
        size_ = 0;
    }
    /// Dense number of `id`; `fresh` is set when it was inserted now.
    std::uint32_t insert(std::int64_t id, bool& fresh) {
        if ((size_ + 1) * 4 > keys_.size() * 3) grow();
        for (std::size_t pos = home(id);; pos = (pos + 1) & mask_) {
            if (vals_[pos] == empty) {
                keys_[pos] = id;
                vals_[pos] = static_cast<std::uint32_t>(size_++);
                fresh = true;
                return vals_[pos];
            }
            if (keys_[pos] == id) {
                fresh = false;
                return vals_[pos];
            }
        }
    }
    std::size_t size() const noexcept { return size_; }

private:
    static constexpr std::uint32_t empty = 0xffffffffu;
    std::size_t home(std::int64_t id) const noexcept {
        // The bucket's entities share the high hash bits: index by the low ones.
        return static_cast<std::size_t>(mix64(static_cast<std::uint64_t>(id))) & mask_;
    }
    void grow() {
        std::vector<std::int64_t> k = std::move(keys_);
        std::vector<std::uint32_t> v = std::move(vals_);
        keys_.assign(k.size() * 2, 0);
        vals_.assign(k.size() * 2, empty);
        mask_ = keys_.size() - 1;
        for (std::size_t i = 0; i < k.size(); ++i) {
            if (v[i] == empty) continue;
            std::size_t pos = home(k[i]);
            while (vals_[pos] != empty) pos = (pos + 1) & mask_;
            keys_[pos] = k[i];
            vals_[pos] = v[i];
        }
    }
    std::vector<std::int64_t> keys_;
    std::vector<std::uint32_t> vals_;
    std::size_t mask_ = 0;
    std::size_t size_ = 0;
};

/// A run of one bin's rows, contiguous in one buffer.
template <class T>
struct row_run {
    const T* data;
    std::size_t size;
};

/// Bits of the single-pass partition of group_by_entity for n rows on `threads` threads (0 to
/// 7).
unsigned fused_grouping_bits(std::size_t n, unsigned threads);

/// Bytes of a chunk of the single-pass partition: small enough that the chunks left partly
/// filled (two per bin and thread) take at most 1/16 of the arena; at least 4 KiB, at most
/// 256 KiB, a multiple of 4 KiB.
std::size_t grouping_chunk_bytes(std::size_t arena_bytes, std::size_t bins, unsigned threads);

/// Stable LSD radix sort of rows[0, n) by their time field, all within [lo, hi]: 11 bits a pass
/// over time - lo (no pass for digits above the range). `tmp` is scratch of n rows; returns
/// where the sorted rows are (rows or tmp).
template <class Row>
inline Row* radix_sort_by_time(Row* rows, Row* tmp, std::size_t n, std::int64_t lo, std::int64_t hi) {
    const std::uint64_t range = static_cast<std::uint64_t>(hi) - static_cast<std::uint64_t>(lo);
    constexpr unsigned digit = 11;
    constexpr std::size_t radix = std::size_t{1} << digit;
    std::size_t count[radix];
    Row* src = rows;
    Row* dst = tmp;
    for (unsigned shift = 0; shift < 64 && (range >> shift) != 0; shift += digit) {
        std::fill(count, count + radix, std::size_t{0});
        const auto key = [&](const Row& r) {
            return static_cast<std::size_t>(((static_cast<std::uint64_t>(r.time) - static_cast<std::uint64_t>(lo)) >> shift) &
                                            (radix - 1));
        };
        for (std::size_t i = 0; i < n; ++i) ++count[key(src[i])];
        std::size_t acc = 0;
        for (std::size_t d = 0; d < radix; ++d) {
            const std::size_t c = count[d];
            count[d] = acc;
            acc += c;
        }
        for (std::size_t i = 0; i < n; ++i) dst[count[key(src[i])]++] = src[i];
        std::swap(src, dst);
    }
    return src;
}

/// radix_sort_by_time over [b, e), finding the range first; the sorted rows end up in [b, e).
template <class Row>
inline void radix_sort_by_time(Row* b, Row* e, Row* tmp) {
    const std::size_t n = static_cast<std::size_t>(e - b);
    std::int64_t lo = b->time, hi = b->time;
    for (auto* p = b; p < e; ++p) {
        lo = std::min(lo, p->time);
        hi = std::max(hi, p->time);
    }
    Row* sorted = radix_sort_by_time(b, tmp, n, lo, hi);
    if (sorted != b) std::copy(sorted, sorted + n, b);
}

/// A row of a bin with its entity's dense number, on its way to grouped_row.
template <class Payload>
struct numbered_row {
    std::int64_t time;
    std::uint32_t entity;
    Payload payload;
};

/// What a worker of group_by_entity keeps from bin to bin.
template <class Payload>
struct grouping_scratch {
    bucket_index index;
    std::vector<std::int64_t> ids;
    std::vector<std::uint32_t> start;
    growing_scratch<numbered_row<Payload>> numbered_a, numbered_b;
    std::vector<grouped_row<Payload>> entity_tmp;
};

/// Sorts each run of equal times in [b, e), rows already in ascending time, by the tie order
/// (nothing without one).
template <class Payload, class TieLess>
inline void sort_time_ties(grouped_row<Payload>* b, grouped_row<Payload>* e, const TieLess& tie_less) {
    if constexpr (!std::is_same_v<TieLess, no_tie_order>) {
        const auto less = [&](const grouped_row<Payload>& x, const grouped_row<Payload>& y) {
            return tie_less(x.payload, y.payload);
        };
        for (auto* p = b; p < e;) {
            auto* q = p + 1;
            while (q < e && q->time == p->time) ++q;
            if (q - p > 1) std::sort(p, q, less);
            p = q;
        }
    }
}

/// Sorts one entity's rows by (time, tie order): nothing when already sorted, insertion sort
/// when short, a radix sort by time (then the tie order within equal times) when long. (On
/// shuffled second-resolution times, the radix sort measured faster than std::sort from about
/// 100 rows on.)
template <class Payload, class TieLess>
inline void sort_entity_rows(grouped_row<Payload>* b, grouped_row<Payload>* e, const TieLess& tie_less,
                             std::vector<grouped_row<Payload>>& tmp) {
    const auto less = [&](const grouped_row<Payload>& x, const grouped_row<Payload>& y) {
        return x.time < y.time || (x.time == y.time && tie_less(x.payload, y.payload));
    };
    bool sorted = true;
    for (auto* p = b + 1; p < e; ++p)
        if (less(*p, p[-1])) {
            sorted = false;
            break;
        }
    if (sorted) return;
    if (e - b <= 32) {
        for (auto* p = b + 1; p < e; ++p) {
            const grouped_row<Payload> x = *p;
            auto* q = p;
            while (q > b && less(x, q[-1])) {
                *q = q[-1];
                --q;
            }
            *q = x;
        }
        return;
    }
    if (e - b <= 128) {
        std::sort(b, e, less);
        return;
    }
    tmp.resize(static_cast<std::size_t>(e - b));
    radix_sort_by_time(b, e, tmp.data());
    sort_time_ties(b, e, tie_less);
}

/// Groups a bin's m numbered rows (in `rows`) by entity and returns them as grouped rows:
/// entity k's rows at [start[k], start[k + 1]), in ascending time, ties in tie order. They are
/// written over `rows` or `tmp` (scratch of m numbered rows): two buffers serve the sort and
/// the output. `start` comes in with the number of rows of each entity (entities + 1 entries,
/// the last one ignored) and leaves with the offsets; times lie within [lo, hi]; `entity_tmp`
/// is scratch for sorting one entity.
///
/// With many rows per entity (16 or more on average) the whole bin is sorted by time once (a
/// stable LSD radix sort) and then by entity (a stable counting sort): on 1e7 shuffled events
/// of 1e5 Zipf-sized entities this took half the time of sorting each entity's rows on its own
/// after the counting sort (most rows belong to large entities, each of which paid for its own
/// radix passes and counters). With few rows per entity the counting sort comes first and
/// each entity is sorted on its own: at 2.5 rows per entity (the lifecycle benchmark's
/// records) sorting whole bins measured 16% slower.
template <class Payload, class TieLess>
inline grouped_row<Payload>* group_numbered(numbered_row<Payload>* rows, numbered_row<Payload>* tmp, std::size_t m,
                                            std::int64_t lo, std::int64_t hi, std::vector<std::uint32_t>& start,
                                            const TieLess& tie_less, std::vector<grouped_row<Payload>>& entity_tmp) {
    static_assert(sizeof(grouped_row<Payload>) <= sizeof(numbered_row<Payload>) &&
                  alignof(grouped_row<Payload>) <= alignof(numbered_row<Payload>));
    const std::size_t slots = start.size() - 1;
    std::uint32_t acc = 0;
    for (std::size_t k = 0; k < slots; ++k) {
        const std::uint32_t c = start[k];
        start[k] = acc;
        acc += c;
    }
    start[slots] = acc;
    const bool whole = m >= 16 * slots;
    const numbered_row<Payload>* src = whole ? radix_sort_by_time(rows, tmp, m, lo, hi) : rows;
    // The output goes to the buffer the sorted rows are not in.
    auto* const out = reinterpret_cast<grouped_row<Payload>*>(src == rows ? tmp : rows);
    // start[k] serves as the cursor of entity k, then is shifted back.
    for (std::size_t i = 0; i < m; ++i) out[start[src[i].entity]++] = {src[i].time, src[i].payload};
    for (std::size_t k = slots; k > 0; --k) start[k] = start[k - 1];
    start[0] = 0;
    if (!whole) {
        for (std::size_t k = 0; k < slots; ++k) sort_entity_rows(out + start[k], out + start[k + 1], tie_less, entity_tmp);
        return out;
    }
    if constexpr (!std::is_same_v<TieLess, no_tie_order>)
        for (std::size_t k = 0; k < slots; ++k) sort_time_ties(out + start[k], out + start[k + 1], tie_less);
    return out;
}

}  // namespace detail

/// Groups the rows of an entity column and a time column by entity and calls
/// `visit(thread, entity, std::span<const grouped_row<Payload>> rows)` once per entity, its
/// kept rows in ascending time (ties in `tie_less` order). `classify(row, Payload& payload)`
/// returns whether the row is kept and fills its payload; it may throw for a bad row (the
/// exception of the lowest row range is rethrown) and may be called again with the same row,
/// so it must be a pure function of the row. With options.visit_dropped, an entity none of
/// whose rows was kept is visited once with no rows. visit runs on `options.threads` threads
/// (thread = 0..threads-1); calls with the same thread number never overlap.
template <class Payload, class Classify, class Visit, class TieLess = no_tie_order>
void group_by_entity(std::span<const std::int64_t> entity, std::span<const std::int64_t> time, Classify&& classify,
                     Visit&& visit, const grouping_options& options, TieLess tie_less = {}) {
    const std::size_t n = entity.size();
    if (n == 0) return;
    const unsigned threads =
        std::max(1u, static_cast<unsigned>(std::min<std::size_t>(options.threads, std::max<std::size_t>(1, n / 8192))));
    const bool dropped_too = options.visit_dropped;
    const std::int64_t* ent = entity.data();
    const std::int64_t* tim = time.data();
    const auto chunk = [&](unsigned t) {
        return std::pair<std::size_t, std::size_t>{n * t / threads, n * (t + 1) / threads};
    };
    using part_row = detail::partitioned_row<Payload>;
    using kept_run = detail::row_run<part_row>;
    using drop_run = detail::row_run<std::int64_t>;
    constexpr std::size_t row_bytes = sizeof(part_row);

    // Step 3 for one bin, whose kept rows and dropped entities come as runs in any order.
    std::vector<detail::grouping_scratch<Payload>> work(threads);
    // With several threads, the one-pass partition gives the memory of the kept rows of the
    // bins grouped first back to the kernel as soon as they are copied (`copied(bin, runs)`).
    // Those bins' scratch is what the peak adds to the arena (the scratch only grows, so later
    // bins add nothing): on 1e7 shuffled events two threads otherwise peaked 12 MB higher.
    // (Giving back every bin's chunks cost 6% of the call.)
    std::function<void(std::size_t, std::span<const kept_run>)> copied;
    const auto group_bin = [&](unsigned t, std::size_t bin, std::span<const kept_run> kr, std::span<const drop_run> dr) {
        detail::grouping_scratch<Payload>& s = work[t];
        std::size_t m = 0;
        for (const kept_run& r : kr) m += r.size;
        // Number the entities and count their rows, then sort the bin by time and by entity.
        s.index.reset(m / 8 + 16);
        s.ids.clear();
        s.start.clear();
        // Each row with its entity's number, copied once (reading the runs' packed rows in the
        // sort's first pass instead measured 6% slower for the whole call).
        detail::numbered_row<Payload>* const numbered = s.numbered_a.room(m);
        detail::numbered_row<Payload>* nr = numbered;
        std::int64_t lo = std::numeric_limits<std::int64_t>::max(), hi = std::numeric_limits<std::int64_t>::min();
        for (const kept_run& r : kr)
            for (std::size_t i = 0; i < r.size; ++i) {
                bool fresh;
                const std::int64_t id = r.data[i].entity;
                const std::uint32_t d = s.index.insert(id, fresh);
                if (fresh) {
                    s.ids.push_back(id);
                    s.start.push_back(0);
                }
                ++s.start[d];
                const std::int64_t tm = r.data[i].time;
                lo = std::min(lo, tm);
                hi = std::max(hi, tm);
                *nr++ = {tm, d, r.data[i].payload};
            }
        if (copied) copied(bin, kr);
        const std::size_t ne = s.ids.size();
        s.start.push_back(0);
        const grouped_row<Payload>* gr =
            m > 0 ? detail::group_numbered(numbered, s.numbered_b.room(m), m, lo, hi, s.start, tie_less, s.entity_tmp) : nullptr;
        for (std::size_t k = 0; k < ne; ++k)
            visit(t, s.ids[k], std::span<const grouped_row<Payload>>(gr + s.start[k], gr + s.start[k + 1]));
        for (const drop_run& r : dr)
            for (std::size_t i = 0; i < r.size; ++i) {
                bool fresh;
                s.index.insert(r.data[i], fresh);
                if (fresh) visit(t, r.data[i], std::span<const grouped_row<Payload>>());
            }
    };
    // Step 4's schedule: threads take bins one at a time, largest first, except that the bins
    // flagged in `leading` (when given) come before all others. With `at_end`, every thread
    // then waits for the others' last bins and calls at_end(thread).
    const auto group_bins = [&](std::vector<std::size_t>& order, const auto& kept_rows_of, const auto& runs_of,
                                const std::function<void(unsigned)>& at_end, const std::vector<std::uint8_t>* leading) {
        std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
            if (leading && (*leading)[a] != (*leading)[b]) return (*leading)[a] > (*leading)[b];
            return kept_rows_of(a) > kept_rows_of(b);
        });
        std::atomic<std::size_t> next{0}, grouped{0};
        std::atomic<bool> failed{false};
        // Scratch mapped once for the largest bin (it is touched only as far as a bin fills
        // it): grown on the way, a bin a little larger than the ones before held the old and
        // the new buffers at once.
        std::size_t most = 0;
        for (const std::size_t b : order) most = std::max(most, kept_rows_of(b));
        detail::run_workers(threads, [&](unsigned t) {
            try {
                if (most > 0) {
                    work[t].numbered_a.room(most);
                    work[t].numbered_b.room(most);
                }
                for (;;) {
                    const std::size_t q = next.fetch_add(1, std::memory_order_relaxed);
                    if (q >= order.size()) break;
                    const auto [kr, dr] = runs_of(order[q]);
                    group_bin(t, order[q], kr, dr);
                    grouped.fetch_add(1, std::memory_order_acq_rel);
                }
            } catch (...) {
                failed.store(true, std::memory_order_release);  // nobody waits for this thread's bins
                throw;
            }
            if (!at_end) return;
            while (grouped.load(std::memory_order_acquire) < order.size())
                if (failed.load(std::memory_order_acquire)) return;
                else std::this_thread::yield();
            at_end(t);
        });
    };

    // The usual way: steps 1 and 2 in one pass. Each thread writes its kept rows and dropped
    // entities straight into chunks per bin, taken from one arena of `fused_budget` bytes, so
    // no histogram pass is needed and every row is read once. When the arena would overflow
    // (on present trends at an eighth of the rows, or for real later), the pass stops and the
    // two passes below take over with their rounds.
    {
        const std::size_t fused_budget =
            options.budget_bytes ? options.budget_bytes : std::max<std::size_t>(std::size_t{8} << 20, n * row_bytes / 2);
        const std::size_t bins = std::size_t{1} << detail::fused_grouping_bits(n, threads);
        const std::size_t chunk_bytes = detail::grouping_chunk_bytes(fused_budget, bins, threads);
        const std::size_t kept_cap = chunk_bytes / sizeof(part_row), drop_cap = chunk_bytes / sizeof(std::int64_t);
        // On huge pages for an arena of at most 128 MiB (fewer page faults: 115 against 137 ms
        // for 1e7 rows, an 85 MB arena, on one thread; on two, 0.056-0.063 against
        // 0.070-0.078 s, where small pages spent a third of the CPU time in the kernel).
        // Larger arenas measured slower on huge pages: the pass took 0.27 against 0.24 s on
        // small pages at 3e7 rows (255 MB), 0.95-2.7 against 0.77 s at 1e8 (850 MB).
        constexpr std::size_t huge_arena_limit = std::size_t{128} << 20;
        const bool huge_arena = fused_budget <= huge_arena_limit;
        detail::huge_array<unsigned char> arena;
        if (fused_budget >= chunk_bytes) arena = detail::huge_array<unsigned char>(fused_budget, huge_arena);
        // With several threads, the largest bins, one per thread, are grouped first and their
        // kept rows given back once copied (see group_bin). Which bins are largest is judged
        // from a sample of 65,536 rows' entities (every row counted, kept or not; 0.25-0.4 ms
        // at 1e7 rows): with skewed entities one bin may hold six times the rows of another.
        // On a huge-page arena each thread takes each such bin's chunks from whole 2 MiB pages
        // of their own, cut from the arena's top, which go back as soon as the bin is copied,
        // splitting no huge page (giving back the chunks alone split them: 3-4% of the call at
        // 1e7 rows). (One stream of pages per thread for all these bins saved pages, but gave
        // them back only when the last was copied: a 4 MB higher peak.) A thread leaves at
        // most one page per such bin part-filled, so only on arenas of at least 8 pages for
        // each.
        constexpr std::size_t huge_page = std::size_t{2} << 20;
        const std::size_t lead = threads > 1 ? std::min<std::size_t>(threads, bins) : 0;
        std::vector<std::uint8_t> leading(bins, 0);  // 1 + the bin's place among the largest, or 0
        if (lead > 0) {
            std::vector<std::size_t> seen(bins, 0), by_size(bins);
            const std::size_t stride = std::max<std::size_t>(1, n >> 16);
            for (std::size_t i = 0; i < n; i += stride)
                ++seen[((detail::mix64(static_cast<std::uint64_t>(ent[i])) >> 32) * bins) >> 32];
            for (std::size_t b = 0; b < bins; ++b) by_size[b] = b;
            std::partial_sort(by_size.begin(), by_size.begin() + static_cast<std::ptrdiff_t>(lead), by_size.end(),
                              [&](std::size_t a, std::size_t b) { return seen[a] > seen[b]; });
            for (std::size_t k = 0; k < lead; ++k) leading[by_size[k]] = static_cast<std::uint8_t>(1 + k);
        }
        const bool own_pages = lead > 0 && huge_arena && arena.get() != nullptr &&
                               reinterpret_cast<std::uintptr_t>(arena.get()) % huge_page == 0 &&
                               fused_budget >= 8 * huge_page * threads * lead;
        // The arena is cut from both ends: blocks from the bottom, own pages from the top.
        std::mutex take_lock;
        std::size_t low = 0, high = own_pages ? fused_budget & ~(huge_page - 1) : fused_budget;
        std::atomic<bool> overflow{fused_budget < chunk_bytes};
        // Chunk records of every thread: (bin, kept or dropped, start, rows).
        struct record {
            std::size_t bin;
            bool kept;
            void* data;
            std::size_t size;
        };
        std::vector<std::vector<record>> records(threads);
        // Every thread's own pages: (place among the largest bins, page).
        std::vector<std::vector<std::pair<std::size_t, unsigned char*>>> pages_of(threads);
        // Each thread cuts its chunks from blocks of its own (2 MiB when the arena allows), so
        // that threads do not write to the same pages.
        const std::size_t block_share = std::min<std::size_t>(std::size_t{2} << 20, fused_budget / (4 * threads));
        const std::size_t block_bytes = chunk_bytes * std::max<std::size_t>(1, block_share / chunk_bytes);
        struct block {
            unsigned char* at = nullptr;
            unsigned char* end = nullptr;
        };
        // A chunk from block k, which takes a new block when full: thread t's own page for the
        // largest bins' place `own` (1-based), or from the bottom when own is 0.
        const auto take = [&](block& k, unsigned t, std::size_t own) -> unsigned char* {
            if (static_cast<std::size_t>(k.end - k.at) < chunk_bytes) {
                if (overflow.load(std::memory_order_relaxed)) return nullptr;
                const std::lock_guard<std::mutex> hold(take_lock);
                if (own ? high < low + huge_page : low + chunk_bytes > high) {
                    overflow.store(true, std::memory_order_relaxed);
                    return nullptr;
                }
                if (own) {
                    high -= huge_page;
                    k.at = arena.get() + high;
                    k.end = k.at + huge_page;
                    pages_of[t].emplace_back(own, k.at);
                } else {
                    k.at = arena.get() + low;
                    k.end = arena.get() + std::min(high, low + block_bytes);
                    low = std::min(high, low + block_bytes);
                }
            }
            unsigned char* q = k.at;
            k.at += chunk_bytes;
            return q;
        };
        bool failed = false;
        try {
            detail::run_workers(threads, [&](unsigned t) {
                if (overflow.load(std::memory_order_relaxed)) return;
                auto [b, e] = chunk(t);
                struct cursor {
                    part_row* kept;
                    part_row* kept_end;
                    std::int64_t* drop;
                    std::int64_t* drop_end;
                };
                // Without dropped entities to remember, every bin's drop cursor points at a sink
                // that never fills (a dropped row is then never copied, so it never advances).
                std::int64_t sink[2];
                std::vector<cursor> cur(bins, dropped_too ? cursor{nullptr, nullptr, nullptr, nullptr}
                                                          : cursor{nullptr, nullptr, sink, sink + 2});
                std::vector<record>& rec = records[t];
                const auto close = [&](std::size_t bin) {
                    cursor& c = cur[bin];
                    if (c.kept) {
                        part_row* first = c.kept_end - kept_cap;
                        if (c.kept > first) rec.push_back({bin, true, first, static_cast<std::size_t>(c.kept - first)});
                    }
                    if (c.drop && dropped_too) {
                        std::int64_t* first = c.drop_end - drop_cap;
                        if (c.drop > first) rec.push_back({bin, false, first, static_cast<std::size_t>(c.drop - first)});
                    }
                };
                block mine;
                std::vector<block> own(own_pages ? lead + 1 : 0);
                const std::uint8_t* const lead_bin = leading.data();
                detail::drop_filter filter;
                filter.reset();
                const std::size_t check_at = b + (e - b) / 8;
                std::size_t nk = 0, nd = 0;
                Payload p{};
                // Local copies of what the loop reads, the classifier included: a row's payload
                // may be stored as a character type, which may alias anything, so values read
                // through the captures were read again for every row (1e7 shuffled events: 6-8%
                // of the call on one thread, alternating runs).
                auto&& cls = detail::local_copy(classify);
                const std::int64_t* const row_ent = ent;
                const std::int64_t* const row_time = tim;
                const std::size_t n_bins = bins, rows = n;
                const bool remember = dropped_too;
                for (std::size_t i = b; i < e; ++i) {
                    detail::prefetch_ahead(i, rows, row_ent, row_time);
                    const std::int64_t id = row_ent[i];
                    const std::uint64_t h = detail::mix64(static_cast<std::uint64_t>(id));
                    const std::size_t bin = static_cast<std::size_t>(((h >> 32) * n_bins) >> 32);
                    const bool keep = cls(i, p);
                    const bool copy = filter.fresh(id, h) & !keep & remember;
                    cursor& c = cur[bin];
                    // Both are written, and the cursors advance by whether the row is kept or
                    // copied: no branch on either.
                    if (c.kept == c.kept_end || c.drop == c.drop_end) [[unlikely]] {
                        if (c.kept == c.kept_end) {
                            if (c.kept) rec.push_back({bin, true, c.kept_end - kept_cap, kept_cap});
                            auto* q = reinterpret_cast<part_row*>(own_pages && lead_bin[bin] ? take(own[lead_bin[bin]], t, lead_bin[bin]) : take(mine, t, 0));
                            if (!q) return;
                            c.kept = q;
                            c.kept_end = q + kept_cap;
                        }
                        if (c.drop == c.drop_end) {
                            if (c.drop) rec.push_back({bin, false, c.drop_end - drop_cap, drop_cap});
                            auto* q = reinterpret_cast<std::int64_t*>(take(mine, t, 0));
                            if (!q) return;
                            c.drop = q;
                            c.drop_end = q + drop_cap;
                        }
                    }
                    *c.kept = {id, row_time[i], p};
                    c.kept += keep;
                    *c.drop = id;
                    c.drop += copy;
                    nk += keep;
                    nd += copy;
                    if (i == check_at && (nk * row_bytes + nd * 8) * 8 * threads > fused_budget) [[unlikely]] {
                        overflow.store(true, std::memory_order_relaxed);
                        return;
                    }
                }
                for (std::size_t bin = 0; bin < bins; ++bin) close(bin);
            });
        } catch (...) {
            // A thread that stopped at the overflow may not have reached the first bad row:
            // the two passes below find it again.
            if (!overflow.load()) throw;
            failed = true;
        }
        if (!failed && !overflow.load()) {
            // Every bin's runs, in the order of the threads' rows.
            std::vector<std::size_t> first(bins + 1, 0), kept_rows(bins, 0);
            for (const auto& rec : records)
                for (const record& r : rec) {
                    ++first[r.bin + 1];
                    if (r.kept) kept_rows[r.bin] += r.size;
                }
            for (std::size_t b = 0; b < bins; ++b) first[b + 1] += first[b];
            std::vector<kept_run> kept_runs;
            std::vector<drop_run> drop_runs;
            std::vector<std::size_t> kept_at(bins + 1, 0), drop_at(bins + 1, 0);
            {
                std::vector<std::size_t> kc(bins, 0), dc(bins, 0);
                for (const auto& rec : records)
                    for (const record& r : rec) (r.kept ? kc : dc)[r.bin] += 1;
                for (std::size_t b = 0; b < bins; ++b) {
                    kept_at[b + 1] = kept_at[b] + kc[b];
                    drop_at[b + 1] = drop_at[b] + dc[b];
                }
                kept_runs.resize(kept_at[bins]);
                drop_runs.resize(drop_at[bins]);
                std::copy(kept_at.begin(), kept_at.end() - 1, kc.begin());
                std::copy(drop_at.begin(), drop_at.end() - 1, dc.begin());
                for (const auto& rec : records)
                    for (const record& r : rec) {
                        if (r.kept) kept_runs[kc[r.bin]++] = {static_cast<const part_row*>(r.data), r.size};
                        else drop_runs[dc[r.bin]++] = {static_cast<const std::int64_t*>(r.data), r.size};
                    }
            }
            std::vector<std::size_t> order;
            for (std::size_t b = 0; b < bins; ++b)
                if (kept_at[b + 1] > kept_at[b] || drop_at[b + 1] > drop_at[b]) order.push_back(b);
            std::function<void(unsigned)> give_back;
            // The first bins' rows go back early (without it the peak with categorical steps on
            // two threads was 61% over the input's 162 MB): their own pages, or else their
            // chunks (whole 4 KiB pages, splitting huge pages).
            if (own_pages)
                copied = [&](std::size_t bin, std::span<const kept_run>) {
                    if (!leading[bin]) return;
                    for (const auto& pages : pages_of)
                        for (const auto& [place, page] : pages)
                            if (place == static_cast<std::size_t>(leading[bin])) detail::release_pages(page, huge_page);
                };
            else if (lead > 0)
                copied = [&](std::size_t bin, std::span<const kept_run> kr) {
                    if (!leading[bin]) return;
                    for (const kept_run& r : kr) detail::release_pages(const_cast<part_row*>(r.data), chunk_bytes);
                };
            // On huge pages the arena is unmapped whole at the end (giving back the rest of it in
            // parts would split more of them: about 5% slower at 1e7).
            if (threads > 1 && !huge_arena) {
                // On small pages unmapping the arena frees its pages one by one on
                // the calling thread (about 6 ms for 84 MB). Instead each thread gives back a
                // share once every bin is grouped, while the others do the same (1e7 shuffled
                // events on two threads: 0.0747 against 0.0844 s and 0.0755 against 0.0785 s,
                // medians of 8 alternating runs).
                // (Whole 4 KiB pages inside the arena; release_pages does nothing unless the
                // arena starts on a system page.)
                const std::size_t touched = low & ~std::size_t{4095};
                give_back = [&, touched](unsigned t) {
                    const auto page_at = [&](unsigned k) { return (touched / threads * k) & ~std::size_t{4095}; };
                    const std::size_t lo = page_at(t), hi = t + 1 == threads ? touched : page_at(t + 1);
                    if (hi > lo) detail::release_pages(arena.get() + lo, hi - lo);
                };
            }
            group_bins(
                order, [&](std::size_t b) { return kept_rows[b]; },
                [&](std::size_t b) {
                    return std::pair{std::span<const kept_run>(kept_runs.data() + kept_at[b], kept_at[b + 1] - kept_at[b]),
                                     std::span<const drop_run>(drop_runs.data() + drop_at[b], drop_at[b + 1] - drop_at[b])};
                },
                give_back, &leading);
            return;
        }
    }

    // Rows that do not fit the arena: two passes over the input, and rounds of bins.
    // Bins by a multiply-shift of the hash's high half: up to 127, so that a row's code (bin,
    // kept bit, or the skip code 0x7f) fits in a byte.
    const std::size_t bins = std::min<std::size_t>(127, std::size_t{1} << detail::grouping_bits(n));

    // Pass 1: per thread, kept and dropped rows per bin, and every row's code: its bin with the
    // kept bit for a kept row, its bin for a dropped row to copy, `skip` for a dropped row not
    // to copy, so that pass 2 reads one byte per row instead of hashing or filtering again. A
    // dropped row matters only through its entity: it is skipped when the thread's filter saw
    // its entity last in its slot.
    detail::huge_array<std::uint8_t> bin_of = detail::make_huge_array<std::uint8_t>(n);
    constexpr std::uint8_t kept_bit = 0x80, skip = 0x7f;
    std::vector<std::vector<std::size_t>> kept(threads, std::vector<std::size_t>(bins, 0));
    std::vector<std::vector<std::size_t>> dropped(threads, std::vector<std::size_t>(bins, 0));
    detail::run_workers(threads, [&](unsigned t) {
        auto [b, e] = chunk(t);
        std::size_t* const k = kept[t].data();
        std::size_t* const d = dropped[t].data();
        std::uint8_t* const out = bin_of.get();
        detail::drop_filter filter;
        filter.reset();
        Payload p{};
        // Without branches on the row (whether it is kept, and whether its entity was seen, are
        // both close to coin flips): every row's entity goes into the filter, so that a dropped
        // row is copied only when no row of its entity (kept or dropped) was the slot's last.
        for (std::size_t i = b; i < e; ++i) {
            const std::int64_t id = ent[i];
            const std::uint64_t h = detail::mix64(static_cast<std::uint64_t>(id));
            const auto bin = static_cast<std::uint8_t>(((h >> 32) * bins) >> 32);
            const bool keep = classify(i, p);
            const bool copy = filter.fresh(id, h) & !keep & dropped_too;
            k[bin] += keep;
            d[bin] += copy;
            out[i] = keep ? static_cast<std::uint8_t>(bin | kept_bit) : copy ? bin : skip;
        }
    });
    std::vector<std::size_t> kept_total(bins, 0), dropped_total(bins, 0);
    for (unsigned t = 0; t < threads; ++t)
        for (std::size_t b = 0; b < bins; ++b) {
            kept_total[b] += kept[t][b];
            dropped_total[b] += dropped_too ? dropped[t][b] : 0;
        }
    const std::size_t budget =
        options.budget_bytes ? options.budget_bytes : std::max<std::size_t>(std::size_t{8} << 20, n * row_bytes * 3 / 10);
    const std::vector<std::size_t> rounds = detail::grouping_rounds(kept_total, dropped_total, row_bytes, budget);

    // The round's rows, bin after bin: kept rows whole (one output stream per bin for the
    // scatter, not three), dropped rows only their entity.
    detail::huge_array<part_row> k_row;
    detail::huge_array<std::int64_t> d_ent;
    // Cursors of thread t's rows of bin b within the round's columns.
    std::vector<std::vector<std::size_t>> kept_at(threads, std::vector<std::size_t>(bins, 0));
    std::vector<std::vector<std::size_t>> drop_at(threads, std::vector<std::size_t>(bins, 0));
    std::vector<std::size_t> bin_start(bins + 1, 0), drop_start(bins + 1, 0);
    std::vector<kept_run> one_kept(bins);  // each bin's rows, one run
    std::vector<drop_run> one_drop(bins);
    std::vector<std::size_t> order;

    for (std::size_t r = 0; r + 1 < rounds.size(); ++r) {
        const std::size_t lo = rounds[r], hi = rounds[r + 1];
        std::size_t nk = 0, nd = 0;
        for (std::size_t b = lo; b < hi; ++b) {
            bin_start[b] = nk;
            drop_start[b] = nd;
            for (unsigned t = 0; t < threads; ++t) {
                kept_at[t][b] = nk;
                nk += kept[t][b];
                drop_at[t][b] = nd;
                nd += dropped_too ? dropped[t][b] : 0;
            }
        }
        bin_start[hi] = nk;
        drop_start[hi] = nd;
        if (r == 0) {
            // Sized once for the largest round; written in random order, so on huge pages.
            std::size_t most_k = 0, most_d = 0;
            for (std::size_t q = 0; q + 1 < rounds.size(); ++q) {
                std::size_t a = 0, c = 0;
                for (std::size_t b = rounds[q]; b < rounds[q + 1]; ++b) {
                    a += kept_total[b];
                    c += dropped_total[b];
                }
                most_k = std::max(most_k, a);
                most_d = std::max(most_d, c);
            }
            k_row = detail::make_huge_array<part_row>(most_k);
            d_ent = detail::make_huge_array<std::int64_t>(most_d);
        }
        // Pass 2: scatter this round's rows into their bins.
        detail::run_workers(threads, [&](unsigned t) {
            auto [b, e] = chunk(t);
            std::size_t* const kc = kept_at[t].data();
            std::size_t* const dc = drop_at[t].data();
            part_row* const ok = k_row.get();
            std::int64_t* const od = d_ent.get();
            const std::uint8_t* const bo = bin_of.get();
            Payload p{};
            for (std::size_t i = b; i < e; ++i) {
                const std::uint8_t code = bo[i];
                const std::size_t bin = code & (kept_bit - 1);
                if (bin < lo || bin >= hi) continue;  // the skip code is past every bin
                if (code & kept_bit) {
                    classify(i, p);
                    ok[kc[bin]++] = {ent[i], tim[i], p};
                } else {
                    od[dc[bin]++] = ent[i];
                }
            }
        });
        // Pass 3: the round's bins.
        order.clear();
        for (std::size_t b = lo; b < hi; ++b) {
            one_kept[b] = {k_row.get() + bin_start[b], bin_start[b + 1] - bin_start[b]};
            one_drop[b] = {d_ent.get() + drop_start[b], drop_start[b + 1] - drop_start[b]};
            if (one_kept[b].size > 0 || one_drop[b].size > 0) order.push_back(b);
        }
        group_bins(
            order, [&](std::size_t b) { return one_kept[b].size; },
            [&](std::size_t b) {
                return std::pair{std::span<const kept_run>(&one_kept[b], 1), std::span<const drop_run>(&one_drop[b], 1)};
            },
            nullptr, nullptr);
    }
}

namespace detail {
/// fold_by_entity() with rows numbered as Row in the lists of its first pass (several threads);
/// it takes std::uint32_t while the rows allow.
template <class Row, class Fold, class Visit>
void fold_by_entity_numbered(std::span<const std::int64_t> entity, std::size_t words, Fold&& fold, Visit&& visit,
                             unsigned threads) {
    const std::size_t n = entity.size();
    if (n == 0) return;
    threads = std::max(1u, static_cast<unsigned>(std::min<std::size_t>(threads, std::max<std::size_t>(1, n / 8192))));
    const std::int64_t* ent = entity.data();
    // Which thread folds an entity: the top half of its mix64, independent of the tables' hash.
    const auto part_of = [threads](std::uint64_t mixed) { return static_cast<unsigned>(((mixed >> 32) * threads) >> 32); };
    // With several threads, a first pass: each thread lists the rows of its share of the input
    // by the thread that folds them (row numbers), and sketches their entities on the way
    // (distinct_sketch, from the same mix64). Then each thread folds the rows listed for it.
    // Each row is read and hashed once (when each thread read every row and folded its own,
    // two threads measured 1.13x one thread on 1e7 shuffled reach records: the reading was
    // half of each thread's work).
    const std::size_t share = (n + threads - 1) / threads;
    std::vector<huge_array<Row>> lists(threads > 1 ? threads * threads : 0);  // [from * threads + to]
    std::vector<std::size_t> list_size(lists.size(), 0);
    std::vector<distinct_sketch> sketch(threads > 1 ? threads : 0);
    if (threads > 1)
        run_workers(threads, [&](unsigned t) {
            const std::size_t b = std::min(n, t * share), e = std::min(n, b + share);
            std::uint8_t* const reg = sketch[t].registers();
            std::vector<Row*> out(threads);
            std::vector<std::size_t> count(threads, 0);
            for (unsigned p = 0; p < threads; ++p) {
                lists[t * threads + p] = huge_array<Row>(e - b);  // pages mapped as they are written
                out[p] = lists[t * threads + p].get();
            }
            if (threads == 2) {
                // Both lists written, one advanced: no branch, the counts in registers.
                Row* const o0 = out[0];
                Row* const o1 = out[1];
                std::size_t c0 = 0, c1 = 0;
                for (std::size_t i = b; i < e; ++i) {
                    prefetch_ahead(i, n, ent);
                    const std::uint64_t mixed = mix64(static_cast<std::uint64_t>(ent[i]));
                    distinct_sketch::offer_to(reg, mixed);
                    const unsigned p = part_of(mixed);
                    o0[c0] = static_cast<Row>(i);
                    o1[c1] = static_cast<Row>(i);
                    c0 += p == 0;
                    c1 += p == 1;
                }
                count[0] = c0;
                count[1] = c1;
            } else {
                for (std::size_t i = b; i < e; ++i) {
                    prefetch_ahead(i, n, ent);
                    const std::uint64_t mixed = mix64(static_cast<std::uint64_t>(ent[i]));
                    distinct_sketch::offer_to(reg, mixed);
                    const unsigned p = part_of(mixed);
                    out[p][count[p]++] = static_cast<Row>(i);
                }
            }
            for (unsigned p = 0; p < threads; ++p) list_size[t * threads + p] = count[p];
        });
    // The tables are sized once from the estimate of the entities: the merged sketches of the
    // lists' pass, or (one thread) one more read of the entity column.
    std::size_t expected;
    if (threads > 1) {
        for (unsigned t = 1; t < threads; ++t) sketch[0].merge(sketch[t]);
        expected = sketch[0].estimate(n);
    } else {
        expected = estimate_distinct(ent, n);
    }
    // Folds thread t's rows into `table`, then visits its entities.
    const auto fold_with = [&](unsigned t, auto& table) {
        auto&& fold_row = local_copy(fold);
        // Folds rows row_at(0..count) a block at a time: a block's hashes are taken, and its
        // slots prefetched, one block ahead of the folding, so that the cache misses overlap.
        const auto fold_rows = [&](std::size_t count, auto row_at, auto in_order) {
            constexpr std::size_t block = 32;
            std::uint64_t hashes[2][block];
            const auto prepare = [&](std::size_t b, std::uint64_t* h) {
                const std::size_t e = std::min(count, b + block);
                for (std::size_t q = b; q < e; ++q) {
                    const std::size_t i = row_at(q);
                    if constexpr (decltype(in_order)::value) prefetch_ahead(i, n, ent);
                    const std::uint64_t x = table_hash(static_cast<std::uint64_t>(ent[i]));
                    h[q - b] = x;
                    table.prefetch_hashed(x);
                }
            };
            if (count == 0) return;
            prepare(0, hashes[0]);
            bool fresh;
            for (std::size_t b = 0, k = 0; b < count; b += block, k ^= 1) {
                if (b + block < count) prepare(b + block, hashes[k ^ 1]);
                const std::size_t e = std::min(count, b + block);
                for (std::size_t q = b; q < e; ++q) {
                    const std::size_t i = row_at(q);
                    std::int64_t* state = table.find_or_insert_hashed(ent[i], hashes[k][q - b], fresh);
                    fold_row(i, state, fresh);
                }
            }
        };
        if (threads == 1) {
            fold_rows(n, [](std::size_t q) { return q; }, std::true_type{});
        } else {
            for (unsigned from = 0; from < threads; ++from) {
                const Row* rows = lists[from * threads + t].get();
                fold_rows(list_size[from * threads + t], [rows](std::size_t q) { return static_cast<std::size_t>(rows[q]); },
                          std::false_type{});
                lists[from * threads + t] = {};  // its pages go back once folded
            }
        }
        table.for_each([&](std::int64_t id, std::int64_t* state) { visit(t, id, static_cast<const std::int64_t*>(state)); });
    };
    // Room for the estimate's error and an uneven split between threads; past it, growth.
    const std::size_t room = expected / threads + expected / (8 * threads) + 16;
    run_workers(threads, [&](unsigned t) {
        if (words == 1) {
            // A state of one word: four slots to a cache line (bucket_table), at a load of 0.4
            // while the tables take at most 8 bytes per row, else 0.8 (1e7 shuffled reach
            // records, C++ alone: 0.118-0.127 s against 0.128-0.133 s in state_table).
            const double load = bucket_table::bytes_for(room, 0.4) * threads <= n * 8 ? 0.4 : 0.8;
            bucket_table table(room, load);
            fold_with(t, table);
        } else {
            // At a load of 3/8 or less most lookups end at their first slot, a branch the CPU
            // then guesses right (at up to 3/4 a third of them probe on: 8% of a 1e7-row reach
            // fold when its one-word state was kept here). Twice the room when the tables stay
            // within the size of the entity column.
            const std::size_t r = state_table::capacity_for(2 * room) * (words + 1) * threads <= n ? 2 * room : room;
            state_table table(words, r);
            fold_with(t, table);
        }
    });
}
}  // namespace detail

/// The primitive's other form, for kernels whose per-entity result is an order-free reduction
/// (reach, counts): no row is copied and nothing sorted. One pass folds every row into its
/// entity's state, `words` int64 stored inline in an open-addressing table (zero when the
/// entity first appears); the rows' hashes are taken a block at a time and their slots
/// prefetched a block ahead, so that the cache misses overlap. Then
/// `visit(thread, entity, const std::int64_t* state)` runs once per entity.
/// `fold(row, std::int64_t* state, bool fresh)` (fresh: the entity's first row) must give the
/// same state whatever the order of an entity's rows, and `visit` must not depend on the order
/// in which entities come. The table is sized once from an estimate of the number of entities
/// (detail::distinct_sketch), so it does not grow on the way. With threads, each thread first
/// lists the rows of its share of the input by the thread whose hash partition holds their
/// entity, then folds the rows listed for it into a table of its own. Extra memory: the
/// tables; for one word, 40 bytes per entity at a load of 0.4 while that is at most 8 bytes
/// per row, else 20; for more, 1.33 to 2.7 times (words + 1) * 8 bytes per entity, or twice
/// that while at most 8 bytes per row; with threads, 4 bytes per row for the lists (8 past
/// 2^32 rows), each list given back once folded.
template <class Fold, class Visit>
void fold_by_entity(std::span<const std::int64_t> entity, std::size_t words, Fold&& fold, Visit&& visit,
                    unsigned threads = 1) {
    if (entity.size() <= std::numeric_limits<std::uint32_t>::max())
        detail::fold_by_entity_numbered<std::uint32_t>(entity, words, std::forward<Fold>(fold), std::forward<Visit>(visit), threads);
    else
        detail::fold_by_entity_numbered<std::uint64_t>(entity, words, std::forward<Fold>(fold), std::forward<Visit>(visit), threads);
}

FUNNELKIT_END_NAMESPACE

#ifdef FUNNELKIT_HEADER_ONLY
#include "funnelkit/impl/grouping.ipp"
#endif
