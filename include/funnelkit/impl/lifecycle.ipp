// Definitions for funnelkit/lifecycle.hpp; config.hpp explains the compiled and header-only modes.
#pragma once

#include "funnelkit/lifecycle.hpp"

#include <algorithm>
#include <atomic>
#include <memory>
#include <bit>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include "funnelkit/grouping.hpp"
#include "funnelkit/detail/stage_mask.hpp"
#include "funnelkit/error.hpp"
#include "funnelkit/survival.hpp"

FUNNELKIT_BEGIN_NAMESPACE

namespace detail::lifecycle_impl {

// Position of a record among records of the same entity and time: ladder stages by rank,
// then off-ladder outcomes by code.
inline std::uint32_t tie_key(const stage_model& m, std::int32_t code) noexcept {
    const std::int32_t r = m.rank(code);
    return r >= 0 ? static_cast<std::uint32_t>(r) : 64u + static_cast<std::uint32_t>(code);
}

struct history_payload {
    std::int32_t stage, segment, reason;
};

// Monotone map from entity id to one of 2^bits bins: bins hold about equal numbers of rows
// (quantiles of a sample of the ids) and a smaller id never lands in a later bin, so that
// visiting the bins in order visits the entities in ascending id order.
struct ordered_bins {
    std::uint64_t lo = 0;
    unsigned shift = 0;
    std::vector<std::uint8_t> slot_bin;  // bin of each slot of (id - lo) >> shift

    ordered_bins(std::span<const std::int64_t> ent, unsigned bits) {
        const std::size_t n = ent.size();
        std::int64_t mn = ent[0], mx = ent[0];
        for (const std::int64_t e : ent) {
            mn = std::min(mn, e);
            mx = std::max(mx, e);
        }
        lo = static_cast<std::uint64_t>(mn);
        const std::uint64_t range = static_cast<std::uint64_t>(mx) - lo;
        constexpr unsigned slot_bits = 16;
        shift = std::bit_width(range) > slot_bits ? static_cast<unsigned>(std::bit_width(range)) - slot_bits : 0u;
        const std::size_t slots = static_cast<std::size_t>(range >> shift) + 1;
        // Rows per slot in an evenly strided sample, then slots cut into bins of equal weight.
        std::vector<std::uint32_t> weight(slots, 0);
        const std::size_t step = std::max<std::size_t>(1, n / 65536);
        std::size_t sampled = 0;
        for (std::size_t i = 0; i < n; i += step, ++sampled) ++weight[slot(ent[i])];
        const std::size_t bins = std::size_t{1} << bits;
        slot_bin.resize(slots);
        std::size_t acc = 0;
        for (std::size_t k = 0; k < slots; ++k) {
            slot_bin[k] = static_cast<std::uint8_t>(std::min(bins - 1, acc * bins / sampled));
            acc += weight[k];
        }
    }
    std::size_t slot(std::int64_t id) const noexcept {
        return static_cast<std::size_t>((static_cast<std::uint64_t>(id) - lo) >> shift);
    }
    std::size_t bin(std::int64_t id) const noexcept { return slot_bin[slot(id)]; }
};

}  // namespace detail::lifecycle_impl

// Records in any order to histories in ascending entity id. The grouping primitive's passes
// (grouping.hpp: one pass to count rows per bin, rounds of a scatter into bins, then each bin
// grouped in cache), but with bins in entity-id order instead of hash order: the bins are
// visited in ascending order and the entities of a bin are numbered in ascending id, so each
// history is appended in its final place and nothing is copied into id order afterwards.
// With threads, threads take the bins of a round in ascending order, each appends to a part of
// its own, and the parts are appended to the histories bin after bin.
FUNNELKIT_INLINE void stage_histories::group_histories_in_order(const stage_model& model, const stage_records& records,
                                                                unsigned threads_wanted, stage_histories& h) {
    using namespace detail::lifecycle_impl;
    using row = grouped_row<history_payload>;
    const std::size_t n = records.size();
    const std::int64_t* ent = records.entity.data();
    const std::int64_t* tim = records.time.data();
    const std::int32_t* stg = records.stage.data();
    const bool has_seg = records.has_segment();
    const bool has_reason = !records.reason.empty();
    const std::int32_t* seg_p = has_seg ? records.segment.data() : nullptr;
    const std::int32_t* rsn_p = has_reason ? records.reason.data() : nullptr;
    const unsigned threads =
        std::max(1u, static_cast<unsigned>(std::min<std::size_t>(threads_wanted, std::max<std::size_t>(1, n / 8192))));
    const unsigned bits = detail::grouping_bits(n);
    const std::size_t bins = std::size_t{1} << bits;
    const ordered_bins order(records.entity, bits);
    const auto chunk = [&](unsigned t) {
        return std::pair<std::size_t, std::size_t>{n * t / threads, n * (t + 1) / threads};
    };
    // Pass 1: every row's bin, and rows per bin and thread.
    std::unique_ptr<std::uint8_t[]> bin_of(new std::uint8_t[n]);
    std::vector<std::vector<std::size_t>> count(threads, std::vector<std::size_t>(bins, 0));
    detail::run_workers(threads, [&](unsigned t) {
        auto [b, e] = chunk(t);
        std::size_t* c = count[t].data();
        std::uint8_t* out = bin_of.get();
        for (std::size_t i = b; i < e; ++i) {
            const auto bin = static_cast<std::uint8_t>(order.bin(ent[i]));
            out[i] = bin;
            ++c[bin];
        }
    });
    std::vector<std::size_t> total(bins, 0);
    for (unsigned t = 0; t < threads; ++t)
        for (std::size_t b = 0; b < bins; ++b) total[b] += count[t][b];
    using part_row = detail::partitioned_row<history_payload>;
    constexpr std::size_t row_bytes = sizeof(part_row);
    const std::size_t budget = std::max<std::size_t>(std::size_t{8} << 20, n * row_bytes * 4 / 10);
    const std::vector<std::size_t> rounds =
        detail::grouping_rounds(total, std::vector<std::size_t>(bins, 0), row_bytes, budget);
    std::size_t most = 0;
    for (std::size_t r = 0; r + 1 < rounds.size(); ++r) {
        std::size_t a = 0;
        for (std::size_t b = rounds[r]; b < rounds[r + 1]; ++b) a += total[b];
        most = std::max(most, a);
    }
    // A round's rows, bin after bin, each written whole: one output stream per bin.
    detail::huge_array<part_row> k_row = detail::make_huge_array<part_row>(most);

    struct scratch {
        detail::bucket_index index;
        std::vector<grouped_row<std::uint32_t>> ids, ids_tmp;  // (entity id as the sort key, dense number)
        std::vector<std::uint32_t> dense, rank, start;
        std::vector<row> rows, tmp;
    };
    std::vector<scratch> work(threads);
    // Output of each bin when threads > 1: (part, first entity, end entity) of that part.
    struct piece {
        unsigned part = 0;
        std::size_t entity_begin = 0, entity_end = 0;
    };
    std::vector<stage_histories> parts;
    if (threads > 1) parts.assign(threads, stage_histories(model));
    std::vector<piece> pieces(bins);
    std::vector<std::vector<std::size_t>> at(threads, std::vector<std::size_t>(bins, 0));
    std::vector<std::size_t> bin_start(bins + 1, 0);
    // Room for every record and as many entities, so that appending never reallocates; only
    // the pages written are backed by memory.
    const auto make_room = [&](stage_histories& x, std::size_t rows) {
        const auto room = [&](auto& v) { v.reserve(rows + 1); };
        room(x.time_), room(x.stage_), room(x.entity_), room(x.segment_), room(x.offset_);
        room(x.recorded_), room(x.recycles_), room(x.exit_rank_);
        if (has_reason) room(x.reason_);
    };
    make_room(h, n);
    for (auto& p : parts) make_room(p, most);
    const auto tie_less = [&](const history_payload& a, const history_payload& b) {
        return tie_key(model, a.stage) < tie_key(model, b.stage);
    };
    for (std::size_t r = 0; r + 1 < rounds.size(); ++r) {
        const std::size_t lo = rounds[r], hi = rounds[r + 1];
        std::size_t nk = 0;
        for (std::size_t b = lo; b < hi; ++b) {
            bin_start[b] = nk;
            for (unsigned t = 0; t < threads; ++t) {
                at[t][b] = nk;
                nk += count[t][b];
            }
        }
        bin_start[hi] = nk;
        // Pass 2: scatter the round's rows into their bins.
        detail::run_workers(threads, [&](unsigned t) {
            auto [b, e] = chunk(t);
            std::size_t* cur = at[t].data();
            const std::uint8_t* bo = bin_of.get();
            part_row* const out = k_row.get();
            for (std::size_t i = b; i < e; ++i) {
                const std::size_t bin = bo[i];
                if (bin < lo || bin >= hi) continue;
                out[cur[bin]++] = {ent[i], tim[i], {stg[i], has_seg ? seg_p[i] : -1, has_reason ? rsn_p[i] : 0}};
            }
        });
        // Pass 3: bins in ascending order, entities of a bin in ascending id.
        std::atomic<std::size_t> next{lo};
        detail::run_workers(threads, [&](unsigned t) {
            scratch& s = work[t];
            stage_histories& out = threads > 1 ? parts[t] : h;
            for (;;) {
                const std::size_t b = next.fetch_add(1, std::memory_order_relaxed);
                if (b >= hi) break;
                const std::size_t m = bin_start[b + 1] - bin_start[b];
                pieces[b] = {t, out.entity_.size(), out.entity_.size()};
                if (m == 0) continue;
                const part_row* br = k_row.get() + bin_start[b];
                s.index.reset(m / 4 + 16);
                s.ids.clear();
                s.dense.resize(m);
                for (std::size_t i = 0; i < m; ++i) {
                    bool fresh;
                    const std::int64_t id = br[i].entity;
                    const std::uint32_t d = s.index.insert(id, fresh);
                    if (fresh) s.ids.push_back({id, d});
                    s.dense[i] = d;
                }
                const std::size_t ne = s.ids.size();
                // Ids in ascending order: the radix sort by the time field sorts them (signed
                // order: it works on the difference to the smallest id).
                s.ids_tmp.resize(ne);
                detail::sort_entity_rows(s.ids.data(), s.ids.data() + ne, no_tie_order{}, s.ids_tmp);
                s.rank.resize(ne);
                s.start.assign(ne + 1, 0);
                for (std::size_t k = 0; k < ne; ++k) s.rank[s.ids[k].payload] = static_cast<std::uint32_t>(k);
                for (std::size_t i = 0; i < m; ++i) ++s.start[s.rank[s.dense[i]] + 1];
                for (std::size_t k = 0; k < ne; ++k) s.start[k + 1] += s.start[k];
                if (m > s.rows.size()) s.rows.resize(std::max(m, s.rows.size() * 2));
                row* gr = s.rows.data();
                for (std::size_t i = 0; i < m; ++i) gr[s.start[s.rank[s.dense[i]]]++] = {br[i].time, br[i].payload};
                // start[k] is now the end of entity k's rows.
                for (std::size_t k = 0, from = 0; k < ne; ++k) {
                    row* eb = gr + from;
                    row* ee = gr + s.start[k];
                    from = s.start[k];
                    detail::sort_entity_rows(eb, ee, tie_less, s.tmp);
                    out.append_entity(
                        s.ids[k].time, static_cast<std::size_t>(ee - eb), [&](std::size_t q) { return eb[q].time; },
                        [&](std::size_t q) { return eb[q].payload.stage; },
                        [&](std::size_t q) { return eb[q].payload.segment; },
                        [&](std::size_t q) { return eb[q].payload.reason; }, has_seg, has_reason);
                }
                pieces[b].entity_end = out.entity_.size();
            }
        });
        if (threads == 1) continue;
        for (std::size_t b = lo; b < hi; ++b) h.append_part(parts[pieces[b].part], pieces[b].entity_begin, pieces[b].entity_end);
        for (auto& p : parts) p.clear_entities();
    }
}


template <class Time, class Stage, class Segment, class Reason>
void stage_histories::append_entity(std::int64_t id, std::size_t rows, Time time_at, Stage stage_at, Segment segment_at,
                                    Reason reason_at, bool has_segment, bool has_reason) {
    const std::int64_t t0 = time_at(0);
    std::int32_t seg = has_segment ? segment_at(0) : -1;
    std::uint64_t recorded = 0;
    std::int32_t recycles = 0, last_rank = -1, exit_rank = -1;
    std::int64_t prev_time = never;
    std::int32_t prev_stage = -1;
    for (std::size_t k = 0; k < rows; ++k) {
        const std::int64_t t = time_at(k);
        const std::int32_t s = stage_at(k);
        if (has_segment && t == t0) seg = std::min(seg, segment_at(k));
        if (t == prev_time && s == prev_stage) {  // exact duplicate: counts once
            // Its reason is the smallest of the duplicates', whatever their row order.
            if (has_reason) reason_.back() = std::min(reason_.back(), reason_at(k));
            continue;
        }
        prev_time = t;
        prev_stage = s;
        time_.push_back(t);
        stage_.push_back(s);
        if (has_reason) reason_.push_back(reason_at(k));
        const std::int32_t rank = model_.rank(s);
        if (rank >= 0) {
            recorded |= std::uint64_t{1} << rank;
            if (last_rank >= 0 && rank < last_rank) ++recycles;
            last_rank = rank;
            if (!model_.is_terminal(s)) exit_rank = rank;
        }
    }
    entity_.push_back(id);
    segment_.push_back(seg);
    recorded_.push_back(recorded);
    recycles_.push_back(recycles);
    exit_rank_.push_back(exit_rank);
    offset_.push_back(time_.size());
}

FUNNELKIT_INLINE void stage_histories::append_part(const stage_histories& p, std::size_t first, std::size_t last) {
    if (first == last) return;
    const auto cut = [](const auto& v, std::size_t b, std::size_t e) {
        return std::pair{v.begin() + static_cast<std::ptrdiff_t>(b), v.begin() + static_cast<std::ptrdiff_t>(e)};
    };
    const auto append = [&](auto& to, const auto& from, std::size_t b, std::size_t e) {
        const auto [x, y] = cut(from, b, e);
        to.insert(to.end(), x, y);
    };
    append(entity_, p.entity_, first, last);
    append(segment_, p.segment_, first, last);
    append(recorded_, p.recorded_, first, last);
    append(recycles_, p.recycles_, first, last);
    append(exit_rank_, p.exit_rank_, first, last);
    const std::size_t eb = p.offset_[first], ee = p.offset_[last];
    const std::size_t base = time_.size();
    for (std::size_t i = first; i < last; ++i) offset_.push_back(base + p.offset_[i + 1] - eb);
    append(time_, p.time_, eb, ee);
    append(stage_, p.stage_, eb, ee);
    if (!p.reason_.empty()) append(reason_, p.reason_, eb, ee);
}

FUNNELKIT_INLINE void stage_histories::clear_entities() noexcept {
    entity_.clear();
    segment_.clear();
    recorded_.clear();
    recycles_.clear();
    exit_rank_.clear();
    offset_.assign(1, 0);
    time_.clear();
    stage_.clear();
    reason_.clear();
}

// Entry times are read off the entity's few events rather than stored per (entity, stage):
// a dense matrix would be the largest part of the histories.
FUNNELKIT_INLINE std::int64_t stage_histories::first_entry(std::size_t i, std::size_t rank) const noexcept {
    for (std::size_t e = offset_[i]; e < offset_[i + 1]; ++e)
        if (model_.rank(stage_[e]) == static_cast<std::int32_t>(rank)) return time_[e];
    return never;
}

FUNNELKIT_INLINE std::int64_t stage_histories::reach_time(std::size_t i, std::size_t rank) const noexcept {
    // Events are in time order: the first one at this stage or beyond is the reach time.
    for (std::size_t e = offset_[i]; e < offset_[i + 1]; ++e)
        if (model_.rank(stage_[e]) >= static_cast<std::int32_t>(rank)) return time_[e];
    return never;
}

FUNNELKIT_INLINE std::uint64_t stage_histories::skipped(std::size_t i) const noexcept {
    return detail::close_downwards(recorded_[i]) & ~recorded_[i];
}

FUNNELKIT_INLINE stage_histories build_histories(const stage_model& model, const stage_records& records,
                                                 const history_options& options) {
    using namespace detail::lifecycle_impl;
    const std::int32_t n_segments = records.validate(model);
    const std::size_t n = records.size();
    if (n >= (std::size_t{1} << 32) * 4) throw invalid_argument("build_histories: more than 2^34 records");
    const auto* ent = records.entity.data();
    const auto* tim = records.time.data();
    const auto* stg = records.stage.data();
    const bool has_seg = records.has_segment();
    const bool has_reason = !records.reason.empty();

    if (options.ticks_per_second <= 0)
        detail::throw_option("ticks_per_second", std::to_string(options.ticks_per_second), "must be > 0");
    stage_histories h(model);
    h.ticks_per_second_ = options.ticks_per_second;
    h.n_segments_ = static_cast<std::size_t>(n_segments);
    std::int64_t max_time = never;
    std::int32_t max_reason = -1;
    // The least and greatest time as branch-free reductions (they vectorise); rows are looked
    // up only for an error.
    std::int64_t min_time = std::numeric_limits<std::int64_t>::max();
    for (std::size_t i = 0; i < n; ++i) {
        max_time = tim[i] > max_time ? tim[i] : max_time;
        min_time = tim[i] < min_time ? tim[i] : min_time;
    }
    const auto row_of = [&](std::int64_t t) { return static_cast<std::size_t>(std::find(tim, tim + n, t) - tim); };
    // The smallest int64 is the `never` of entry-time columns: no record may have it.
    if (n > 0 && min_time == never) [[unlikely]]
        detail::throw_at_row("time", row_of(never), std::to_string(never), "is reserved for 'never' (the smallest int64)");
    if (has_reason)
        for (std::size_t i = 0; i < n; ++i) max_reason = std::max(max_reason, records.reason[i]);
    h.n_reasons_ = static_cast<std::size_t>(max_reason + 1);
    if (options.as_of) {
        if (n > 0 && *options.as_of < max_time) {
            const auto row = static_cast<std::size_t>(std::max_element(tim, tim + n) - tim);
            detail::throw_option("as_of", std::to_string(*options.as_of),
                                 "is earlier than the record at row " + std::to_string(row) + " (time " +
                                     std::to_string(max_time) + ")");
        }
        h.as_of_ = *options.as_of;
    } else {
        h.as_of_ = n > 0 ? max_time : 0;
    }
    // Every duration of the histories (visits, times to convert, ages) lies within as_of minus
    // the earliest time, which must therefore fit int64.
    if (n > 0 && min_time < 0 && h.as_of_ > std::numeric_limits<std::int64_t>::max() + min_time)
        detail::throw_at_row("time", row_of(min_time), std::to_string(min_time),
                             "is more than 2^63 - 1 ticks before as_of " + std::to_string(h.as_of_) +
                                 ": durations would not fit int64");

    // History order: (entity, time, tie key, row). Skip the sort when the rows already are in it.
    bool in_order = true;
    for (std::size_t i = 1; i < n && in_order; ++i) {
        if (ent[i] != ent[i - 1]) {
            in_order = ent[i] > ent[i - 1];
        } else if (tim[i] != tim[i - 1]) {
            in_order = tim[i] > tim[i - 1];
        } else {
            in_order = tie_key(model, stg[i]) >= tie_key(model, stg[i - 1]);
        }
    }
    if (options.threads == 0) detail::throw_option("threads", "0", "must be >= 1");
    const std::int32_t* seg_p = has_seg ? records.segment.data() : nullptr;
    const std::int32_t* rsn_p = has_reason ? records.reason.data() : nullptr;
    if (in_order) {
        h.time_.reserve(n);
        h.stage_.reserve(n);
        if (has_reason) h.reason_.reserve(n);
        for (std::size_t j = 0; j < n;) {
            std::size_t e = j + 1;
            while (e < n && ent[e] == ent[j]) ++e;
            h.append_entity(
                ent[j], e - j, [&](std::size_t k) { return tim[j + k]; }, [&](std::size_t k) { return stg[j + k]; },
                [&](std::size_t k) { return has_seg ? seg_p[j + k] : -1; },
                [&](std::size_t k) { return has_reason ? rsn_p[j + k] : 0; }, has_seg, has_reason);
            j = e;
        }
        return h;
    }
    // Out of order: the records are grouped by entity in ascending id order
    // (group_histories_in_order below) and each entity's history appended as it comes.
    stage_histories::group_histories_in_order(model, records, options.threads, h);
    return h;
}

FUNNELKIT_INLINE conversion_counts reach(const stage_histories& h, std::span<const std::int32_t> group, const reach_options& options) {
    const std::size_t n = h.size();
    std::span<const std::int32_t> g = group.empty() ? h.segments() : group;
    std::size_t n_groups = group.empty() ? h.n_segments() : 0;
    if (!group.empty()) {
        if (group.size() != n) detail::throw_length("group", group.size(), "entities", n);
        std::int32_t top = -1;
        for (std::size_t i = 0; i < n; ++i) {
            if (group[i] < -1)
                detail::throw_at_row("group", i, std::to_string(group[i]), "is not a group code (>= 0, or -1 for none)");
            top = std::max(top, group[i]);
        }
        n_groups = static_cast<std::size_t>(top + 1);
    }
    const stage_model& m = h.model();
    conversion_counts out(h.n_stages(), n_groups, {m.fingerprint(), options.skipped, options.passes});
    const bool implied = options.skipped == skipped_stages::implied;
    auto finish = [&](std::uint64_t mask) { return implied ? detail::close_downwards(mask) : mask; };
    for (std::size_t i = 0; i < n; ++i) {
        const std::int32_t gi = g[i] >= 0 ? g[i] : conversion_counts::overall;
        if (options.passes == recycled_passes::first_only) {
            out.add_entity(finish(h.recorded(i)), gi);
            continue;
        }
        std::uint64_t mask = 0;
        std::int32_t last_rank = -1;
        for (std::size_t e = h.offsets()[i]; e < h.offsets()[i + 1]; ++e) {
            const std::int32_t rank = m.rank(h.event_stages()[e]);
            if (rank < 0) continue;
            if (last_rank >= 0 && rank < last_rank) {
                out.add_entity(finish(mask), gi);
                mask = 0;
            }
            mask |= std::uint64_t{1} << rank;
            last_rank = rank;
        }
        out.add_entity(finish(mask), gi);
    }
    return out;
}

FUNNELKIT_INLINE cohort_assignment assign_cohorts(const stage_histories& h, const cohort_options& o) {
    if (o.stage >= h.n_stages())
        detail::throw_option("stage", std::to_string(o.stage),
                             "is not a ladder position (expected 0.." + std::to_string(h.n_stages() - 1) + ")");
    cohort_assignment out;
    out.code.assign(h.size(), -1);
    std::vector<std::int64_t> starts(h.size(), never);
    std::vector<period> seen;
    for (std::size_t i = 0; i < h.size(); ++i) {
        const std::int64_t t = h.reach_time(i, o.stage);
        if (t == never) continue;
        const period p = period_of(t, o);
        starts[i] = p.start;
        seen.push_back(p);
    }
    std::sort(seen.begin(), seen.end(), [](const period& a, const period& b) { return a.start < b.start; });
    seen.erase(std::unique(seen.begin(), seen.end(),
                           [](const period& a, const period& b) { return a.start == b.start; }),
               seen.end());
    for (const auto& p : seen) {
        out.start.push_back(p.start);
        out.end.push_back(p.end);
    }
    for (std::size_t i = 0; i < h.size(); ++i) {
        if (starts[i] == never) continue;
        const auto it = std::lower_bound(out.start.begin(), out.start.end(), starts[i]);
        out.code[i] = static_cast<std::int32_t>(it - out.start.begin());
    }
    if (o.maturity) out.mature = mature_cohorts(out.end, *o.maturity, h.as_of());
    return out;
}

// ---- option words ------------------------------------------------------------------------------

FUNNELKIT_INLINE std::string_view to_string(recycled_passes passes) noexcept {
    switch (passes) {
        case recycled_passes::first_only: return "first";
        case recycled_passes::every_pass: return "every";
    }
    return "?";
}

FUNNELKIT_INLINE recycled_passes parse_recycled_passes(std::string_view name) {
    if (name == "first" || name == "first_only") return recycled_passes::first_only;
    if (name == "every" || name == "every_pass") return recycled_passes::every_pass;
    detail::throw_option("passes", "'" + std::string(name) + "'", "is not one of 'first', 'every'");
}

FUNNELKIT_INLINE std::string_view to_string(flow_counts::outcome o) noexcept {
    switch (o) {
        case flow_counts::open: return "open";
        case flow_counts::won: return "won";
        case flow_counts::lost: return "lost";
        case flow_counts::disqualified: return "disqualified";
    }
    return "?";
}

FUNNELKIT_INLINE flow_counts::outcome parse_outcome(std::string_view name) {
    if (name == "open") return flow_counts::open;
    if (name == "won") return flow_counts::won;
    if (name == "lost") return flow_counts::lost;
    if (name == "disqualified") return flow_counts::disqualified;
    detail::throw_option("outcome", "'" + std::string(name) + "'",
                         "is not one of 'open', 'won', 'lost', 'disqualified'");
}

// ---- cohort maturity -----------------------------------------------------------------------------

FUNNELKIT_INLINE bool cohort_mature(std::int64_t end, std::int64_t maturity, std::int64_t as_of) {
    if (maturity < 0) detail::throw_option("maturity", std::to_string(maturity), "is negative; a maturity is >= 0");
    // end + maturity <= as_of, where a sum above the int64 range exceeds every as_of.
    if (end > std::numeric_limits<std::int64_t>::max() - maturity) return false;
    return end + maturity <= as_of;
}

FUNNELKIT_INLINE std::vector<std::uint8_t> mature_cohorts(std::span<const std::int64_t> end, std::int64_t maturity,
                                                          std::int64_t as_of) {
    std::vector<std::uint8_t> out(end.size());
    for (std::size_t i = 0; i < end.size(); ++i) out[i] = cohort_mature(end[i], maturity, as_of) ? 1 : 0;
    return out;
}

// ---- tables ----------------------------------------------------------------------------------------

namespace detail::lifecycle_tables {

inline constexpr double undefined = std::numeric_limits<double>::quiet_NaN();
inline constexpr double not_reached = std::numeric_limits<double>::infinity();

inline void check_confidence(double confidence) {
    if (!(confidence > 0.0 && confidence < 1.0))
        detail::throw_option("confidence", detail::to_text(confidence), "must lie strictly between 0 and 1");
}

// Number of segment blocks: 0 overall only, else the larger of the data's and the option's.
inline std::size_t segment_blocks(std::size_t in_data, const lifecycle_table_options& o) {
    return o.by_segment ? std::max(in_data, o.n_segments) : 0;
}

// The duration columns shared by the time-in-stage and time-to-convert tables, appended for one
// group: statistics of the finished durations and the Kaplan-Meier median of all of them.
template <class Table>
void append_durations(Table& t, std::span<const double> finished, std::span<const double> all,
                      std::span<const std::uint8_t> observed, double confidence) {
    duration_summary s(true);
    s.fill(finished);
    const duration_stats st = s.stats();
    t.mean.push_back(st.mean.value_or(undefined));
    t.median.push_back(st.median.value_or(undefined));
    t.p90.push_back(st.p90.value_or(undefined));
    t.min.push_back(st.min.value_or(undefined));
    t.max.push_back(st.max.value_or(undefined));
    if (all.empty()) {
        t.km_median.push_back(undefined);
        t.km_median_lower.push_back(undefined);
        t.km_median_upper.push_back(undefined);
        return;
    }
    const auto km = kaplan_meier(all, observed, {.confidence = confidence});
    t.km_median.push_back(km.median.value_or(not_reached));
    t.km_median_lower.push_back(km.median_lower.value_or(not_reached));
    t.km_median_upper.push_back(km.median_upper.value_or(not_reached));
}

// Row positions of each group: rows of group g (-1 overall, then segments) in input order.
// `segment_of(row)` gives the row's segment (-1 for none).
template <class SegmentOf>
std::vector<std::vector<std::size_t>> group_rows(std::size_t rows, std::size_t blocks, SegmentOf segment_of) {
    std::vector<std::vector<std::size_t>> out(blocks + 1);
    out[0].resize(rows);
    for (std::size_t j = 0; j < rows; ++j) out[0][j] = j;
    if (blocks == 0) return out;
    for (std::size_t j = 0; j < rows; ++j) {
        const std::int32_t g = segment_of(j);
        if (g >= 0) out[static_cast<std::size_t>(g) + 1].push_back(j);
    }
    return out;
}

}  // namespace detail::lifecycle_tables

FUNNELKIT_INLINE time_in_stage_table tabulate_time_in_stage(const stage_histories& h, const lifecycle_table_options& o) {
    using namespace detail::lifecycle_tables;
    check_confidence(o.confidence);
    const stage_model& m = h.model();
    const std::size_t k_stages = h.n_stages();
    const std::size_t blocks = segment_blocks(h.n_segments(), o);
    const stage_visits v = time_in_stage(h);
    // Visits of each (group, rank) cell, in visit order: overall cells first, then per segment.
    std::vector<std::vector<std::size_t>> cells((blocks + 1) * k_stages);
    for (std::size_t j = 0; j < v.stage.size(); ++j) {
        const auto rank = static_cast<std::size_t>(m.rank(v.stage[j]));
        cells[rank].push_back(j);
        const std::int32_t g = h.segments()[static_cast<std::size_t>(v.entity[j])];
        if (blocks > 0 && g >= 0) cells[(static_cast<std::size_t>(g) + 1) * k_stages + rank].push_back(j);
    }
    time_in_stage_table t;
    std::vector<double> all, finished;
    std::vector<std::uint8_t> observed;
    for (std::size_t b = 0; b <= blocks; ++b) {
        for (std::size_t k = 0; k < k_stages; ++k) {
            if (m.is_terminal(m.ladder()[k])) continue;  // the won stage: an outcome, never visited
            const auto& rows = cells[b * k_stages + k];
            all.clear();
            finished.clear();
            observed.clear();
            for (std::size_t j : rows) {
                const auto d = static_cast<double>(v.duration[j]);
                all.push_back(d);
                observed.push_back(v.completed[j]);
                if (v.completed[j]) finished.push_back(d);
            }
            t.segment.push_back(static_cast<std::int32_t>(b) - 1);
            t.rank.push_back(static_cast<std::int32_t>(k));
            t.visits.push_back(static_cast<std::int64_t>(all.size()));
            t.completed.push_back(static_cast<std::int64_t>(finished.size()));
            t.open.push_back(static_cast<std::int64_t>(all.size() - finished.size()));
            append_durations(t, finished, all, observed, o.confidence);
        }
    }
    return t;
}

FUNNELKIT_INLINE time_to_convert_table tabulate_time_to_convert(const stage_histories& h, std::size_t from, std::size_t to,
                                                                const lifecycle_table_options& o) {
    using namespace detail::lifecycle_tables;
    check_confidence(o.confidence);
    const conversion_times c = time_to_convert(h, from, to);
    const std::size_t blocks = segment_blocks(h.n_segments(), o);
    const auto groups = group_rows(c.entity.size(), blocks, [&](std::size_t j) {
        return h.segments()[static_cast<std::size_t>(c.entity[j])];
    });
    time_to_convert_table t;
    std::vector<double> all, converted;
    std::vector<std::uint8_t> observed;
    std::vector<std::int32_t> outcome;
    for (std::size_t b = 0; b <= blocks; ++b) {
        all.clear();
        converted.clear();
        observed.clear();
        outcome.clear();
        std::int64_t n_closed = 0;
        for (std::size_t j : groups[b]) {
            const auto d = static_cast<double>(c.duration[j]);
            all.push_back(d);
            observed.push_back(c.outcome[j] == 1 ? 1 : 0);
            outcome.push_back(c.outcome[j]);
            if (c.outcome[j] == 1) converted.push_back(d);
            if (c.outcome[j] == 2) ++n_closed;
        }
        const auto n = static_cast<std::int64_t>(all.size());
        const auto n_converted = static_cast<std::int64_t>(converted.size());
        t.segment.push_back(static_cast<std::int32_t>(b) - 1);
        t.entered.push_back(n);
        t.converted.push_back(n_converted);
        t.closed_otherwise.push_back(n_closed);
        t.open.push_back(n - n_converted - n_closed);
        append_durations(t, converted, all, observed, o.confidence);
        if (all.empty()) {
            t.p_convert.push_back(undefined);
            t.p_closed_otherwise.push_back(undefined);
        } else {
            const auto aj = aalen_johansen(all, outcome, {.n_outcomes = 2});
            t.p_convert.push_back(aj.final_incidence(1));
            t.p_closed_otherwise.push_back(aj.final_incidence(2));
        }
    }
    return t;
}

FUNNELKIT_INLINE exit_table tabulate_exits(const flow_counts& f, const stage_model& m, const lifecycle_table_options& o) {
    using namespace detail::lifecycle_tables;
    if (f.n_ranks() != m.ladder().size())
        detail::throw_option("flow", std::to_string(f.n_ranks()) + " ladder stages",
                             "does not match the model's " + std::to_string(m.ladder().size()));
    const std::size_t blocks = segment_blocks(f.n_segments(), o);
    exit_table t;
    for (std::size_t b = 0; b <= blocks; ++b) {
        const auto g = static_cast<std::int32_t>(b) - 1;
        const bool present = g < static_cast<std::int32_t>(f.n_segments());
        for (std::size_t k = 0; k < f.n_ranks(); ++k) {
            if (m.is_terminal(m.ladder()[k])) continue;  // won: an outcome, never a stage to exit from
            std::int64_t n[4] = {0, 0, 0, 0};
            if (present)
                for (std::size_t j = 0; j < 4; ++j) n[j] = f.exits(k, static_cast<flow_counts::outcome>(j), g);
            const std::int64_t total = n[0] + n[1] + n[2] + n[3];
            auto share = [total](std::int64_t x) {
                return total > 0 ? static_cast<double>(x) / static_cast<double>(total) : undefined;
            };
            t.segment.push_back(g);
            t.rank.push_back(static_cast<std::int32_t>(k));
            t.open.push_back(n[flow_counts::open]);
            t.won.push_back(n[flow_counts::won]);
            t.lost.push_back(n[flow_counts::lost]);
            t.disqualified.push_back(n[flow_counts::disqualified]);
            t.total.push_back(total);
            t.open_share.push_back(share(n[flow_counts::open]));
            t.won_share.push_back(share(n[flow_counts::won]));
            t.lost_share.push_back(share(n[flow_counts::lost]));
            t.disqualified_share.push_back(share(n[flow_counts::disqualified]));
        }
    }
    return t;
}

FUNNELKIT_INLINE reason_table tabulate_reasons(const flow_counts& f, const lifecycle_table_options& o) {
    using namespace detail::lifecycle_tables;
    // Segments beyond the flow's have no exits, hence no rows.
    const std::size_t blocks = std::min(segment_blocks(f.n_segments(), o), f.n_segments());
    reason_table t;
    for (std::size_t b = 0; b <= blocks; ++b) {
        const auto g = static_cast<std::int32_t>(b) - 1;
        for (std::size_t k = 0; k < f.n_ranks(); ++k) {
            const std::int64_t closed = f.exits(k, flow_counts::lost, g) + f.exits(k, flow_counts::disqualified, g);
            for (std::size_t why = 0; why < f.n_reasons(); ++why) {
                const std::int64_t c = f.reasons(k, static_cast<std::int32_t>(why), g);
                if (c == 0) continue;
                t.segment.push_back(g);
                t.rank.push_back(static_cast<std::int32_t>(k));
                t.reason.push_back(static_cast<std::int32_t>(why));
                t.count.push_back(c);
                t.share.push_back(closed > 0 ? static_cast<double>(c) / static_cast<double>(closed) : undefined);
            }
        }
    }
    return t;
}

FUNNELKIT_INLINE reach_table tabulate_reach(const conversion_counts& c, const reach_table_options& o) {
    using namespace detail::lifecycle_tables;
    check_confidence(o.confidence);
    reach_table t;
    std::vector<std::int32_t> groups;
    if (o.overall) groups.push_back(conversion_counts::overall);
    if (o.groups)
        for (std::size_t g = 0; g < c.n_segments(); ++g) groups.push_back(static_cast<std::int32_t>(g));
    for (const std::int32_t g : groups) {
        for (std::size_t k = 0; k < c.n_stages(); ++k) {
            const std::int64_t reached = c.reached(k, g);
            t.segment.push_back(g);
            t.rank.push_back(static_cast<std::int32_t>(k));
            t.entities.push_back(c.entities(g));
            t.reached.push_back(reached);
            t.step_rate.push_back(c.step_rate(k, g).value_or(undefined));
            t.cumulative_rate.push_back(c.cumulative_rate(k, g).value_or(undefined));
            const auto step = k > 0 ? proportion_interval(reached, c.reached(k - 1, g), o.confidence, o.interval)
                                    : std::optional<rate_bounds>{};
            const auto cum = proportion_interval(reached, c.reached(0, g), o.confidence, o.interval);
            t.step_lower.push_back(step ? step->lower : undefined);
            t.step_upper.push_back(step ? step->upper : undefined);
            t.cum_lower.push_back(cum ? cum->lower : undefined);
            t.cum_upper.push_back(cum ? cum->upper : undefined);
        }
    }
    return t;
}

FUNNELKIT_INLINE summary_table tabulate_summary(const lifecycle_summary& s, const lifecycle_table_options& o) {
    using namespace detail::lifecycle_tables;
    const conversion_counts& c = s.conversion();
    const std::size_t blocks = segment_blocks(s.n_segments(), o);
    summary_table t;
    for (std::size_t b = 0; b <= blocks; ++b) {
        const auto g = static_cast<std::int32_t>(b) - 1;
        const bool counted = g < static_cast<std::int32_t>(c.n_segments());
        const bool timed = g < static_cast<std::int32_t>(s.n_segments());
        for (std::size_t k = 0; k < s.n_stages(); ++k) {
            t.segment.push_back(g);
            t.rank.push_back(static_cast<std::int32_t>(k));
            t.entities.push_back(counted ? c.entities(g) : 0);
            t.reached.push_back(counted ? c.reached(k, g) : 0);
            t.step_rate.push_back(counted ? c.step_rate(k, g).value_or(undefined) : undefined);
            t.cumulative_rate.push_back(counted ? c.cumulative_rate(k, g).value_or(undefined) : undefined);
            const duration_stats st = timed ? s.time_in_stage(k, g).stats() : duration_stats{};
            t.completed.push_back(st.count);
            t.mean.push_back(st.mean.value_or(undefined));
            t.median.push_back(st.median.value_or(undefined));
            t.p90.push_back(st.p90.value_or(undefined));
            t.min.push_back(st.min.value_or(undefined));
            t.max.push_back(st.max.value_or(undefined));
        }
    }
    return t;
}

FUNNELKIT_END_NAMESPACE
