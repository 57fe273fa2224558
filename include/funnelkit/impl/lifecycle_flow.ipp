// Definitions for funnelkit/lifecycle.hpp; config.hpp explains the compiled and header-only modes.
// Flow counts, durations and aging over stage histories.
#pragma once

#include "funnelkit/lifecycle.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "funnelkit/error.hpp"
#include "funnelkit/serialize.hpp"

FUNNELKIT_BEGIN_NAMESPACE

namespace detail::lifecycle_flow_impl {
inline constexpr char flow_magic[] = "FKFL";
inline constexpr std::uint16_t flow_format = 1;
}  // namespace detail::lifecycle_flow_impl

FUNNELKIT_INLINE flow_counts::flow_counts(std::size_t n_codes, std::size_t n_ranks, std::size_t n_segments, std::size_t n_reasons)
    : n_codes_(n_codes), n_ranks_(n_ranks), n_segments_(n_segments), n_reasons_(n_reasons),
      transitions_(n_codes * n_codes, 0), exits_((n_segments + 1) * n_ranks * 4, 0),
      reasons_((n_segments + 1) * n_ranks * n_reasons, 0) {}

FUNNELKIT_INLINE std::size_t flow_counts::exit_index(std::size_t rank, std::size_t o, std::int32_t segment) const {
    if (rank >= n_ranks_) detail::throw_option("rank", std::to_string(rank), "is not a ladder position of this table");
    if (segment < overall || (segment >= 0 && static_cast<std::size_t>(segment) >= n_segments_))
        detail::throw_option("segment", std::to_string(segment), "is not a segment of this table");
    return (static_cast<std::size_t>(segment + 1) * n_ranks_ + rank) * 4 + o;
}

FUNNELKIT_INLINE std::size_t flow_counts::reason_index(std::size_t rank, std::int32_t reason, std::int32_t segment) const {
    if (reason < 0 || static_cast<std::size_t>(reason) >= n_reasons_)
        detail::throw_option("reason", std::to_string(reason), "is not a reason code of this table");
    return (exit_index(rank, 0, segment) / 4) * n_reasons_ + static_cast<std::size_t>(reason);
}

FUNNELKIT_INLINE std::int64_t flow_counts::transitions(std::int32_t from, std::int32_t to) const {
    if (from < 0 || to < 0 || static_cast<std::size_t>(from) >= n_codes_ || static_cast<std::size_t>(to) >= n_codes_)
        detail::throw_option("stage", std::to_string(from < 0 || static_cast<std::size_t>(from) >= n_codes_ ? from : to),
                             "is not a stage code of this table");
    return transitions_[static_cast<std::size_t>(from) * n_codes_ + static_cast<std::size_t>(to)];
}

FUNNELKIT_INLINE std::int64_t flow_counts::exits(std::size_t rank, outcome o, std::int32_t segment) const {
    return exits_[exit_index(rank, o, segment)];
}

FUNNELKIT_INLINE std::int64_t flow_counts::reasons(std::size_t rank, std::int32_t reason, std::int32_t segment) const {
    return reasons_[reason_index(rank, reason, segment)];
}

FUNNELKIT_INLINE void flow_counts::add_transition(std::int32_t from, std::int32_t to, std::int64_t n) {
    (void)transitions(from, to);  // range check
    transitions_[static_cast<std::size_t>(from) * n_codes_ + static_cast<std::size_t>(to)] += n;
}

FUNNELKIT_INLINE void flow_counts::add_exit(std::size_t rank, outcome o, std::int32_t segment, std::int32_t reason) {
    exits_[exit_index(rank, o, overall)] += 1;
    if (segment >= 0) exits_[exit_index(rank, o, segment)] += 1;
    if (reason >= 0 && (o == lost || o == disqualified)) {
        reasons_[reason_index(rank, reason, overall)] += 1;
        if (segment >= 0) reasons_[reason_index(rank, reason, segment)] += 1;
    }
}

FUNNELKIT_INLINE flow_counts flow_counts::reshaped(std::size_t n_segments, std::size_t n_reasons) const {
    flow_counts out(n_codes_, n_ranks_, n_segments, n_reasons);
    out.transitions_ = transitions_;
    for (std::int32_t g = overall; g < static_cast<std::int32_t>(n_segments_); ++g)
        for (std::size_t r = 0; r < n_ranks_; ++r) {
            for (std::size_t o = 0; o < 4; ++o) out.exits_[out.exit_index(r, o, g)] = exits_[exit_index(r, o, g)];
            for (std::int32_t why = 0; why < static_cast<std::int32_t>(n_reasons_); ++why)
                out.reasons_[out.reason_index(r, why, g)] = reasons_[reason_index(r, why, g)];
        }
    return out;
}

FUNNELKIT_INLINE void flow_counts::merge(const flow_counts& o) {
    if (o.transitions_.empty() && o.exits_.empty()) return;
    if (transitions_.empty() && exits_.empty()) {
        *this = o;
        return;
    }
    if (o.n_codes_ != n_codes_ || o.n_ranks_ != n_ranks_)
        throw invalid_argument("flow_counts::merge: stage models differ (codes, ladder stages: " +
                               std::to_string(n_codes_) + ", " + std::to_string(n_ranks_) + " vs " +
                               std::to_string(o.n_codes_) + ", " + std::to_string(o.n_ranks_) + ")");
    // A part may have seen fewer segments or reason codes than another: grow to the larger shape.
    const std::size_t segs = std::max(n_segments_, o.n_segments_), whys = std::max(n_reasons_, o.n_reasons_);
    if (segs != n_segments_ || whys != n_reasons_) *this = reshaped(segs, whys);
    const flow_counts& b = (o.n_segments_ == segs && o.n_reasons_ == whys) ? o : o.reshaped(segs, whys);
    for (std::size_t i = 0; i < transitions_.size(); ++i) transitions_[i] += b.transitions_[i];
    for (std::size_t i = 0; i < exits_.size(); ++i) exits_[i] += b.exits_[i];
    for (std::size_t i = 0; i < reasons_.size(); ++i) reasons_[i] += b.reasons_[i];
}

FUNNELKIT_INLINE void flow_counts::reset() {
    std::fill(transitions_.begin(), transitions_.end(), 0);
    std::fill(exits_.begin(), exits_.end(), 0);
    std::fill(reasons_.begin(), reasons_.end(), 0);
}

FUNNELKIT_INLINE std::vector<std::byte> flow_counts::serialize() const {
    using namespace detail::lifecycle_flow_impl;
    detail::byte_writer w(flow_magic, flow_format);
    w.put(static_cast<std::uint64_t>(n_codes_));
    w.put(static_cast<std::uint64_t>(n_ranks_));
    w.put(static_cast<std::uint64_t>(n_segments_));
    w.put(static_cast<std::uint64_t>(n_reasons_));
    w.put(transitions_);
    w.put(exits_);
    w.put(reasons_);
    return std::move(w).finish();
}

FUNNELKIT_INLINE flow_counts flow_counts::deserialize(const void* data, std::size_t size) {
    using namespace detail::lifecycle_flow_impl;
    detail::byte_reader r(data, size, flow_magic, "flow_counts");
    if (r.version() != flow_format)
        r.fail("format version " + std::to_string(r.version()) + " is not supported (expected 1)");
    const auto codes = r.get<std::uint64_t>(), ranks = r.get<std::uint64_t>();
    const auto segments = r.get<std::uint64_t>(), reasons = r.get<std::uint64_t>();
    if (codes > stage_model::max_stages || ranks > stage_model::max_ladder || segments > (1u << 31) ||
        reasons > (1u << 31))
        r.fail("implausible shape");
    flow_counts out;
    out.n_codes_ = codes;
    out.n_ranks_ = ranks;
    out.n_segments_ = segments;
    out.n_reasons_ = reasons;
    out.transitions_ = r.get_vector<std::int64_t>();
    out.exits_ = r.get_vector<std::int64_t>();
    out.reasons_ = r.get_vector<std::int64_t>();
    r.finish();
    if (out.transitions_.size() != codes * codes || out.exits_.size() != (segments + 1) * ranks * 4 ||
        out.reasons_.size() != (segments + 1) * ranks * reasons)
        r.fail("array sizes do not match the shape");
    return out;
}

FUNNELKIT_INLINE flow_counts compute_flow(const stage_histories& h) {
    const stage_model& m = h.model();
    flow_counts out(m.size(), h.n_stages(), h.n_segments(), h.n_reasons());
    const auto off = h.offsets();
    const auto stages = h.event_stages();
    for (std::size_t i = 0; i < h.size(); ++i) {
        for (std::size_t e = off[i] + 1; e < off[i + 1]; ++e) out.add_transition(stages[e - 1], stages[e]);
        const std::int32_t rank = h.exit_rank(i);
        if (rank < 0) continue;
        const std::int32_t last = h.current(i);
        flow_counts::outcome o = flow_counts::open;
        switch (m.at(last).kind) {
            case stage_kind::step: o = flow_counts::open; break;
            case stage_kind::won: o = flow_counts::won; break;
            case stage_kind::lost: o = flow_counts::lost; break;
            case stage_kind::disqualified: o = flow_counts::disqualified; break;
        }
        out.add_exit(static_cast<std::size_t>(rank), o, h.segments()[i], h.last_reason(i));
    }
    return out;
}

FUNNELKIT_INLINE stage_visits time_in_stage(const stage_histories& h) {
    const stage_model& m = h.model();
    stage_visits v;
    const auto off = h.offsets();
    const auto times = h.event_times();
    const auto stages = h.event_stages();
    v.entity.reserve(times.size());
    for (std::size_t i = 0; i < h.size(); ++i) {
        for (std::size_t e = off[i]; e < off[i + 1]; ++e) {
            if (m.is_terminal(stages[e])) continue;
            const bool left = e + 1 < off[i + 1];
            v.entity.push_back(static_cast<std::int32_t>(i));
            v.stage.push_back(stages[e]);
            v.entered.push_back(times[e]);
            v.duration.push_back((left ? times[e + 1] : h.as_of()) - times[e]);
            v.completed.push_back(left ? 1 : 0);
        }
    }
    return v;
}

FUNNELKIT_INLINE conversion_times time_to_convert(const stage_histories& h, std::size_t from, std::size_t to) {
    if (from >= h.n_stages() || to >= h.n_stages() || from >= to)
        detail::throw_option("from/to", std::to_string(from) + "/" + std::to_string(to),
                             "must be ladder positions with from < to < " + std::to_string(h.n_stages()));
    conversion_times out;
    for (std::size_t i = 0; i < h.size(); ++i) {
        const std::int64_t f = h.reach_time(i, from);
        if (f == never) continue;
        const std::int64_t c = h.reach_time(i, to);
        out.entity.push_back(static_cast<std::int32_t>(i));
        if (c != never) {
            out.duration.push_back(c - f);
            out.outcome.push_back(1);
        } else if (h.closed(i)) {
            out.duration.push_back(h.current_since(i) - f);
            out.outcome.push_back(2);
        } else {
            out.duration.push_back(h.as_of() - f);
            out.outcome.push_back(0);
        }
    }
    return out;
}

FUNNELKIT_INLINE aging_list stuck_entities(const stage_histories& h, const aging_options& o) {
    const stage_model& m = h.model();
    const std::size_t k = h.n_stages();
    if (o.limit.size() > k)
        detail::throw_option("limit", std::to_string(o.limit.size()) + " entries",
                             "has more entries than the " + std::to_string(k) + " ladder stages");
    if (!(o.percentile >= 0.0 && o.percentile <= 100.0))
        detail::throw_option("percentile", detail::to_text(o.percentile), "must be in [0, 100]");
    std::vector<double> limit(k, std::nan(""));
    std::vector<bool> need_percentile(k, false);
    for (std::size_t r = 0; r < k; ++r) {
        if (r < o.limit.size() && o.limit[r] > 0) limit[r] = static_cast<double>(o.limit[r]);
        else need_percentile[r] = o.percentile > 0.0;
    }
    if (std::find(need_percentile.begin(), need_percentile.end(), true) != need_percentile.end()) {
        const stage_visits v = time_in_stage(h);
        std::vector<std::vector<double>> done(k);
        for (std::size_t j = 0; j < v.stage.size(); ++j)
            if (v.completed[j]) done[static_cast<std::size_t>(m.rank(v.stage[j]))].push_back(static_cast<double>(v.duration[j]));
        for (std::size_t r = 0; r < k; ++r) {
            if (!need_percentile[r]) continue;
            if (auto q = select_quantile(done[r], o.percentile / 100.0)) limit[r] = *q;
        }
    }
    struct row {
        std::int64_t entity, entered, age;
        std::int32_t stage;
        double limit, over;
    };
    std::vector<row> rows;
    for (std::size_t i = 0; i < h.size(); ++i) {
        if (h.closed(i)) continue;
        const std::int32_t s = h.current(i);
        const auto r = static_cast<std::size_t>(m.rank(s));
        if (std::isnan(limit[r])) continue;
        const std::int64_t age = h.as_of() - h.current_since(i);
        if (static_cast<double>(age) > limit[r])
            rows.push_back({h.entities()[i], h.current_since(i), age, s, limit[r], static_cast<double>(age) - limit[r]});
    }
    std::sort(rows.begin(), rows.end(), [](const row& a, const row& b) {
        return a.over != b.over ? a.over > b.over : a.entity < b.entity;
    });
    aging_list out;
    for (const row& x : rows) {
        out.entity.push_back(x.entity);
        out.stage.push_back(x.stage);
        out.entered.push_back(x.entered);
        out.age.push_back(x.age);
        out.limit.push_back(x.limit);
        out.over.push_back(x.over);
    }
    return out;
}

FUNNELKIT_END_NAMESPACE

FUNNELKIT_BEGIN_NAMESPACE

namespace {
constexpr char summary_magic[] = "FKLS";
constexpr std::uint16_t summary_format = 1;
}  // namespace

FUNNELKIT_INLINE const duration_summary& lifecycle_summary::time_in_stage(std::size_t rank, std::int32_t segment) const {
    if (rank >= n_stages_) detail::throw_option("rank", std::to_string(rank), "is not a ladder position of this summary");
    if (segment < overall || (segment >= 0 && static_cast<std::size_t>(segment) >= n_segments_))
        detail::throw_option("segment", std::to_string(segment), "is not a segment of this summary");
    return durations_[static_cast<std::size_t>(segment + 1) * n_stages_ + rank];
}

FUNNELKIT_INLINE void lifecycle_summary::grow_segments(std::size_t n_segments) {
    if (n_segments <= n_segments_) return;
    durations_.resize((n_segments + 1) * n_stages_);
    n_segments_ = n_segments;
}

FUNNELKIT_INLINE void lifecycle_summary::merge(const lifecycle_summary& o) {
    if (o.n_stages_ == 0) return;
    if (n_stages_ == 0) {
        *this = o;
        return;
    }
    if (o.n_stages_ != n_stages_)
        throw invalid_argument("lifecycle_summary::merge: ladder lengths differ (" + std::to_string(n_stages_) + " vs " +
                               std::to_string(o.n_stages_) + ")");
    conversion_.merge(o.conversion_);
    flow_.merge(o.flow_);
    grow_segments(o.n_segments_);
    for (std::size_t i = 0; i < o.durations_.size(); ++i) durations_[i].merge(o.durations_[i]);
}

FUNNELKIT_INLINE void lifecycle_summary::reset() {
    conversion_.reset();
    flow_.reset();
    for (auto& d : durations_) d.reset();
}

FUNNELKIT_INLINE std::vector<std::byte> lifecycle_summary::serialize() const {
    detail::byte_writer w(summary_magic, summary_format);
    w.put(static_cast<std::uint64_t>(n_stages_));
    w.put(static_cast<std::uint64_t>(n_segments_));
    w.put_blob(conversion_.serialize());
    w.put_blob(flow_.serialize());
    w.put(static_cast<std::uint64_t>(durations_.size()));
    for (const auto& d : durations_) w.put_blob(d.serialize());
    return std::move(w).finish();
}

FUNNELKIT_INLINE lifecycle_summary lifecycle_summary::deserialize(const void* data, std::size_t size) {
    detail::byte_reader r(data, size, summary_magic, "lifecycle_summary");
    if (r.version() != summary_format)
        r.fail("format version " + std::to_string(r.version()) + " is not supported (expected 1)");
    lifecycle_summary s;
    s.n_stages_ = static_cast<std::size_t>(r.get<std::uint64_t>());
    s.n_segments_ = static_cast<std::size_t>(r.get<std::uint64_t>());
    if (s.n_stages_ > stage_model::max_ladder) r.fail("implausible ladder length");
    auto [cp, cn] = r.get_blob();
    s.conversion_ = conversion_counts::deserialize(cp, cn);
    auto [fp, fn] = r.get_blob();
    s.flow_ = flow_counts::deserialize(fp, fn);
    const auto count = r.get<std::uint64_t>();
    if (count != (s.n_segments_ + 1) * s.n_stages_) r.fail("duration summary count does not match the shape");
    s.durations_.reserve(static_cast<std::size_t>(count));
    for (std::uint64_t i = 0; i < count; ++i) {
        auto [dp, dn] = r.get_blob();
        s.durations_.push_back(duration_summary::deserialize(dp, dn));
    }
    r.finish();
    if (s.conversion_.n_stages() != s.n_stages_ || s.conversion_.n_segments() != s.n_segments_ ||
        s.flow_.n_ranks() != s.n_stages_)
        r.fail("parts disagree on the shape");
    return s;
}

FUNNELKIT_INLINE lifecycle_summary summarize(const stage_histories& h, const reach_options& options) {
    lifecycle_summary s;
    s.n_stages_ = h.n_stages();
    s.n_segments_ = h.n_segments();
    s.conversion_ = reach(h, {}, options);
    s.flow_ = compute_flow(h);
    s.durations_.resize((s.n_segments_ + 1) * s.n_stages_);
    // Completed visits per (segment, stage) cell, then one batch per cell.
    const stage_model& m = h.model();
    const auto off = h.offsets();
    const auto times = h.event_times();
    const auto stages = h.event_stages();
    std::vector<std::vector<double>> cells(s.durations_.size());
    for (std::size_t i = 0; i < h.size(); ++i) {
        const std::int32_t seg = h.segments()[i];
        for (std::size_t e = off[i]; e + 1 < off[i + 1]; ++e) {
            if (m.is_terminal(stages[e])) continue;
            const auto rank = static_cast<std::size_t>(m.rank(stages[e]));
            const auto d = static_cast<double>(times[e + 1] - times[e]);
            cells[rank].push_back(d);
            if (seg >= 0) cells[static_cast<std::size_t>(seg + 1) * s.n_stages_ + rank].push_back(d);
        }
    }
    for (std::size_t c = 0; c < cells.size(); ++c) s.durations_[c].fill(cells[c]);
    return s;
}

FUNNELKIT_END_NAMESPACE
