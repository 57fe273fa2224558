// Definitions for funnelkit/lifecycle.hpp; config.hpp explains the compiled and header-only modes.
#pragma once

#include "funnelkit/lifecycle.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <numeric>
#include <string>

#include "funnelkit/detail/entity_index.hpp"
#include "funnelkit/detail/stage_mask.hpp"
#include "funnelkit/error.hpp"

FUNNELKIT_BEGIN_NAMESPACE

namespace detail::lifecycle_impl {

// Position of a record among records of the same entity and time: ladder stages by rank,
// then off-ladder outcomes by code.
inline std::uint32_t tie_key(const stage_model& m, std::int32_t code) noexcept {
    const std::int32_t r = m.rank(code);
    return r >= 0 ? static_cast<std::uint32_t>(r) : 64u + static_cast<std::uint32_t>(code);
}

}  // namespace detail::lifecycle_impl

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
    for (std::size_t i = 0; i < n; ++i) max_time = std::max(max_time, tim[i]);
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
    // Out of order: group rows by entity with a hash map and a counting sort (O(n)), order
    // the distinct entities by id (m log m), then sort each entity's few rows by (time, tie,
    // row). Much cheaper than sorting all n rows by a composite key.
    std::vector<std::uint64_t> order;  // rows in history order
    if (!in_order) {
        detail::entity_index index(n / 2);
        std::vector<std::uint32_t> dense(n);
        std::vector<std::uint32_t> count;
        for (std::size_t i = 0; i < n; ++i) {
            const std::uint32_t d = index.insert(ent[i]);
            dense[i] = d;
            if (d == count.size()) count.push_back(0);
            ++count[d];
        }
        const std::size_t m = count.size();
        std::vector<std::uint32_t> by_id(m);
        {
            // Sort (id, dense index) pairs held together: no indirection in the comparisons.
            std::vector<std::pair<std::int64_t, std::uint32_t>> ids(m);
            for (std::size_t i = 0; i < n; ++i) ids[dense[i]] = {ent[i], dense[i]};
            std::sort(ids.begin(), ids.end());
            for (std::size_t r = 0; r < m; ++r) by_id[r] = ids[r].second;
        }
        std::vector<std::uint64_t> start(m + 1, 0);  // by dense id: where its rows go
        {
            std::uint64_t at = 0;
            for (std::uint32_t d : by_id) {
                start[d] = at;
                at += count[d];
            }
        }
        order.resize(n);
        for (std::size_t i = 0; i < n; ++i) order[start[dense[i]]++] = i;
        std::vector<std::uint32_t>().swap(dense);
    }
    // Gather every column into entity order with tight, independent loads (the CPU overlaps
    // their cache misses), so everything below reads memory sequentially.
    std::vector<std::int64_t> ent_s, tim_s;
    std::vector<std::int32_t> stg_s, seg_s, rsn_s;
    const std::int32_t* seg_p = has_seg ? records.segment.data() : nullptr;
    const std::int32_t* rsn_p = has_reason ? records.reason.data() : nullptr;
    if (!in_order) {
        auto gather = [&](auto& out, const auto* col) {
            out.resize(n);
            for (std::size_t j = 0; j < n; ++j) out[j] = col[order[j]];
            return out.data();
        };
        ent = gather(ent_s, ent);
        tim = gather(tim_s, tim);
        stg = gather(stg_s, stg);
        if (has_seg) seg_p = gather(seg_s, seg_p);
        if (has_reason) rsn_p = gather(rsn_s, rsn_p);
        // Each entity's rows, now contiguous, into (time, tie key, original row) order.
        std::vector<std::uint32_t> idx;
        std::vector<std::int64_t> t_buf;
        std::vector<std::int32_t> s_buf, g_buf, r_buf;
        std::size_t b = 0;
        while (b < n) {
            std::size_t e = b + 1;
            while (e < n && ent_s[e] == ent_s[b]) ++e;
            bool sorted_group = true;
            for (std::size_t j = b + 1; j < e && sorted_group; ++j)
                sorted_group = tim_s[j - 1] < tim_s[j] ||
                               (tim_s[j - 1] == tim_s[j] && tie_key(model, stg_s[j - 1]) < tie_key(model, stg_s[j]));
            if (!sorted_group) {
                const std::size_t g = e - b;
                idx.resize(g);
                std::iota(idx.begin(), idx.end(), 0u);
                std::sort(idx.begin(), idx.end(), [&](std::uint32_t x, std::uint32_t y) {
                    const std::size_t a = b + x, c = b + y;
                    if (tim_s[a] != tim_s[c]) return tim_s[a] < tim_s[c];
                    const auto ta = tie_key(model, stg_s[a]), tc = tie_key(model, stg_s[c]);
                    return ta != tc ? ta < tc : order[a] < order[c];
                });
                auto permute = [&](auto& col, auto& buf) {
                    buf.resize(g);
                    for (std::size_t j = 0; j < g; ++j) buf[j] = col[b + idx[j]];
                    std::copy(buf.begin(), buf.end(), col.begin() + static_cast<std::ptrdiff_t>(b));
                };
                permute(tim_s, t_buf);
                permute(stg_s, s_buf);
                if (has_seg) permute(seg_s, g_buf);
                if (has_reason) permute(rsn_s, r_buf);
            }
            b = e;
        }
        std::vector<std::uint64_t>().swap(order);
    }
    auto row_at = [](std::size_t j) noexcept { return j; };

    h.time_.reserve(n);
    h.stage_.reserve(n);
    if (has_reason) h.reason_.reserve(n);
    std::size_t j = 0;
    while (j < n) {
        const std::size_t first = row_at(j);
        const std::int64_t id = ent[first];
        const std::int64_t t0 = tim[first];
        std::int32_t seg = has_seg ? seg_p[first] : -1;
        std::uint64_t recorded = 0;
        std::int32_t recycles = 0, last_rank = -1, exit_rank = -1;
        std::int64_t prev_time = never;
        std::int32_t prev_stage = -1;
        for (; j < n; ++j) {
            const std::size_t r = row_at(j);
            if (ent[r] != id) break;
            const std::int64_t t = tim[r];
            const std::int32_t s = stg[r];
            if (has_seg && t == t0) seg = std::min(seg, seg_p[r]);
            if (t == prev_time && s == prev_stage) continue;  // exact duplicate
            prev_time = t;
            prev_stage = s;
            h.time_.push_back(t);
            h.stage_.push_back(s);
            if (has_reason) h.reason_.push_back(rsn_p[r]);
            const std::int32_t rank = model.rank(s);
            if (rank >= 0) {
                recorded |= std::uint64_t{1} << rank;
                if (last_rank >= 0 && rank < last_rank) ++recycles;
                last_rank = rank;
                if (!model.is_terminal(s)) exit_rank = rank;
            }
        }
        h.entity_.push_back(id);
        h.segment_.push_back(seg);
        h.recorded_.push_back(recorded);
        h.recycles_.push_back(recycles);
        h.exit_rank_.push_back(exit_rank);
        h.offset_.push_back(h.time_.size());
    }
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
    return out;
}

FUNNELKIT_END_NAMESPACE
