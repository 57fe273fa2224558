// Definitions for funnelkit/lifecycle.hpp; config.hpp explains the compiled and header-only modes.
// Flow counts, durations and aging over stage histories.
#pragma once

#include "funnelkit/lifecycle.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "funnelkit/detail/state_merge.hpp"
#include "funnelkit/error.hpp"
#include "funnelkit/serialize.hpp"

FUNNELKIT_BEGIN_NAMESPACE

namespace detail::lifecycle_flow_impl {
inline constexpr char flow_magic[] = "FKFL";
inline constexpr std::uint16_t flow_format = 2;
inline constexpr std::string_view flow_merge = "cannot merge flow_counts";

inline std::string shape_text(std::size_t codes, std::size_t ranks) {
    return std::to_string(codes) + " stage codes, " + std::to_string(ranks) + " ladder stages";
}
}  // namespace detail::lifecycle_flow_impl

FUNNELKIT_INLINE flow_counts::flow_counts(std::size_t n_codes, std::size_t n_ranks, std::size_t n_segments, std::size_t n_reasons,
                                          std::uint64_t model_fingerprint)
    : n_codes_(n_codes), n_ranks_(n_ranks), n_segments_(n_segments), n_reasons_(n_reasons),
      model_fingerprint_(model_fingerprint), transitions_(n_codes * n_codes, 0), exits_((n_segments + 1) * n_ranks * 4, 0),
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
    if (n < 0) detail::throw_option("n", std::to_string(n), "must be >= 0");
    auto& c = transitions_[static_cast<std::size_t>(from) * n_codes_ + static_cast<std::size_t>(to)];
    c = detail::add_count(c, n, "flow_counts::add_transition");
}

FUNNELKIT_INLINE void flow_counts::add_exit(std::size_t rank, outcome o, std::int32_t segment, std::int32_t reason) {
    if (static_cast<std::size_t>(o) > 3) detail::throw_option("outcome", std::to_string(static_cast<std::size_t>(o)), "is not 0..3");
    // Overall counters bound the segment counters: checking them covers both.
    (void)detail::add_count(exits_[exit_index(rank, o, overall)], 1, "flow_counts::add_exit");
    const bool with_reason = reason >= 0 && (o == lost || o == disqualified);
    if (with_reason) (void)detail::add_count(reasons_[reason_index(rank, reason, overall)], 1, "flow_counts::add_exit");
    if (segment >= 0) (void)exit_index(rank, o, segment);  // range check before any change
    exits_[exit_index(rank, o, overall)] += 1;
    if (segment >= 0) exits_[exit_index(rank, o, segment)] += 1;
    if (with_reason) {
        reasons_[reason_index(rank, reason, overall)] += 1;
        if (segment >= 0) reasons_[reason_index(rank, reason, segment)] += 1;
    }
}

FUNNELKIT_INLINE flow_counts flow_counts::reshaped(std::size_t n_segments, std::size_t n_reasons) const {
    flow_counts out(n_codes_, n_ranks_, n_segments, n_reasons, model_fingerprint_);
    out.transitions_ = transitions_;
    // Rows (overall, then each segment) keep their place; each (row, rank) block of reasons
    // widens to n_reasons. Nothing to copy without ladder stages, however many segments.
    if (n_ranks_ == 0) return out;
    std::copy(exits_.begin(), exits_.end(), out.exits_.begin());
    for (std::size_t block = 0; block < (n_segments_ + 1) * n_ranks_; ++block)
        std::copy_n(reasons_.begin() + static_cast<std::ptrdiff_t>(block * n_reasons_), n_reasons_,
                    out.reasons_.begin() + static_cast<std::ptrdiff_t>(block * n_reasons));
    return out;
}

FUNNELKIT_INLINE void flow_counts::merge(const flow_counts& o) {
    using namespace detail::lifecycle_flow_impl;
    const std::uint64_t fingerprint = detail::join_recorded(flow_merge, "stage model", model_fingerprint_, o.model_fingerprint_,
                                                            std::uint64_t{0}, detail::fingerprint_text);
    // A state without stage codes and ladder stages (default-constructed) holds no count: it
    // is the identity, except that the larger numbers of segments and reasons are kept.
    const bool shapeless = n_codes_ == 0 && n_ranks_ == 0, other_shapeless = o.n_codes_ == 0 && o.n_ranks_ == 0;
    if (shapeless || other_shapeless) {
        const flow_counts& shaped = shapeless ? o : *this;
        *this = shaped.reshaped(std::max(n_segments_, o.n_segments_), std::max(n_reasons_, o.n_reasons_));
        model_fingerprint_ = fingerprint;
        return;
    }
    if (o.n_codes_ != n_codes_ || o.n_ranks_ != n_ranks_)
        detail::throw_incompatible(flow_merge, "stage model", shape_text(n_codes_, n_ranks_), shape_text(o.n_codes_, o.n_ranks_));
    // A part may have seen fewer segments or reason codes than another: grow to the larger
    // shape (into copies, so that a failed merge changes nothing), check, then add.
    const std::size_t segs = std::max(n_segments_, o.n_segments_), whys = std::max(n_reasons_, o.n_reasons_);
    const bool grow = segs != n_segments_ || whys != n_reasons_;
    flow_counts grown = grow ? reshaped(segs, whys) : flow_counts{};
    flow_counts& a = grow ? grown : *this;
    const flow_counts o_grown = (o.n_segments_ == segs && o.n_reasons_ == whys) ? flow_counts{} : o.reshaped(segs, whys);
    const flow_counts& b = (o.n_segments_ == segs && o.n_reasons_ == whys) ? o : o_grown;
    for (auto part : {&flow_counts::transitions_, &flow_counts::exits_, &flow_counts::reasons_})
        for (std::size_t i = 0; i < (a.*part).size(); ++i) (void)detail::add_count((a.*part)[i], (b.*part)[i], flow_merge);
    for (auto part : {&flow_counts::transitions_, &flow_counts::exits_, &flow_counts::reasons_})
        for (std::size_t i = 0; i < (a.*part).size(); ++i) (a.*part)[i] += (b.*part)[i];
    if (grow) *this = std::move(grown);
    model_fingerprint_ = fingerprint;
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
    w.put(model_fingerprint_);
    w.put(transitions_);
    w.put(exits_);
    w.put(reasons_);
    return std::move(w).finish();
}

FUNNELKIT_INLINE flow_counts flow_counts::deserialize(const void* data, std::size_t size) {
    using namespace detail::lifecycle_flow_impl;
    detail::byte_reader r(data, size, flow_magic, "flow_counts");
    const std::uint16_t version = r.accept_versions(1, flow_format);
    const auto codes = r.get<std::uint64_t>(), ranks = r.get<std::uint64_t>();
    const auto segments = r.get<std::uint64_t>(), reasons = r.get<std::uint64_t>();
    if (codes > stage_model::max_stages || ranks > stage_model::max_ladder || segments > (1u << 31) ||
        reasons > (1u << 31))
        r.fail("implausible shape (" + std::to_string(codes) + " codes, " + std::to_string(ranks) + " ranks, " +
               std::to_string(segments) + " segments, " + std::to_string(reasons) + " reasons)");
    flow_counts out;
    out.n_codes_ = codes;
    out.n_ranks_ = ranks;
    out.n_segments_ = segments;
    out.n_reasons_ = reasons;
    if (version >= 2) out.model_fingerprint_ = r.get<std::uint64_t>();
    out.transitions_ = r.get_vector<std::int64_t>();
    out.exits_ = r.get_vector<std::int64_t>();
    out.reasons_ = r.get_vector<std::int64_t>();
    r.finish();
    const std::uint64_t cells = (segments + 1) * ranks;  // < 2^38: no overflow
    std::uint64_t reason_cells = 0;
    if (out.transitions_.size() != codes * codes || out.exits_.size() != cells * 4 ||
        __builtin_mul_overflow(cells, reasons, &reason_cells) || out.reasons_.size() != reason_cells)
        r.fail("array sizes do not match the shape");
    for (auto part : {&flow_counts::transitions_, &flow_counts::exits_, &flow_counts::reasons_})
        for (std::int64_t c : out.*part)
            if (c < 0) r.fail("negative count " + std::to_string(c));
    // Overall rows count every entity, a segment row only those of its segment; reasons are
    // given for lost and disqualified exits only, at most one per exit.
    const std::size_t per_row_exits = ranks * 4, per_row_reasons = ranks * reasons;
    auto overall_bounds = [&](const std::vector<std::int64_t>& v, std::size_t width, const char* what) {
        for (std::size_t k = 0; k < width; ++k) {
            std::int64_t sum = 0;
            for (std::size_t g = 1; g <= segments; ++g) {
                const std::int64_t x = v[g * width + k];
                if (x > v[k] - sum) r.fail(std::string(what) + ": the segments sum to more than the overall count");
                sum += x;
            }
        }
    };
    overall_bounds(out.exits_, per_row_exits, "exits");
    overall_bounds(out.reasons_, per_row_reasons, "reasons");
    for (std::size_t cell = 0; cell < cells; ++cell) {
        // Unsigned: two counts below 2^63 sum below 2^64.
        const auto closed = static_cast<std::uint64_t>(out.exits_[cell * 4 + lost]) +
                            static_cast<std::uint64_t>(out.exits_[cell * 4 + disqualified]);
        std::uint64_t given = 0;
        for (std::size_t why = 0; why < reasons; ++why) {
            const auto x = static_cast<std::uint64_t>(out.reasons_[cell * reasons + why]);
            if (x > closed - given) r.fail("more reasons than lost and disqualified exits at rank " + std::to_string(cell % ranks));
            given += x;
        }
    }
    return out;
}

FUNNELKIT_INLINE flow_counts compute_flow(const stage_histories& h) {
    const stage_model& m = h.model();
    flow_counts out(m.size(), h.n_stages(), h.n_segments(), h.n_reasons(), m.fingerprint());
    const auto off = h.offsets();
    const auto stages = h.event_stages();
    // Transitions tallied in a plain table, then added once per pair (the histories hold
    // valid codes only, and a count of events cannot overflow): add_transition's checks per
    // event took a fifth of summarize().
    const std::size_t codes = m.size();
    std::vector<std::int64_t> tally(codes * codes, 0);
    for (std::size_t i = 0; i < h.size(); ++i)
        for (std::size_t e = off[i] + 1; e < off[i + 1]; ++e)
            tally[static_cast<std::size_t>(stages[e - 1]) * codes + static_cast<std::size_t>(stages[e])] += 1;
    for (std::size_t from = 0; from < codes; ++from)
        for (std::size_t to = 0; to < codes; ++to)
            if (const std::int64_t c = tally[from * codes + to]; c > 0)
                out.add_transition(static_cast<std::int32_t>(from), static_cast<std::int32_t>(to), c);
    for (std::size_t i = 0; i < h.size(); ++i) {
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

namespace detail::lifecycle_flow_impl {
inline constexpr char summary_magic[] = "FKLS";
inline constexpr std::uint16_t summary_format = 2;
inline constexpr std::string_view summary_merge = "cannot merge lifecycle_summary";
}  // namespace detail::lifecycle_flow_impl

FUNNELKIT_INLINE const duration_summary& lifecycle_summary::time_in_stage(std::size_t rank, std::int32_t segment) const {
    if (rank >= n_stages_) detail::throw_option("rank", std::to_string(rank), "is not a ladder position of this summary");
    if (segment < overall || (segment >= 0 && static_cast<std::size_t>(segment) >= n_segments_))
        detail::throw_option("segment", std::to_string(segment), "is not a segment of this summary");
    return durations_[static_cast<std::size_t>(segment + 1) * n_stages_ + rank];
}

FUNNELKIT_INLINE void lifecycle_summary::grow_segments(std::size_t n_segments) {
    if (n_segments <= n_segments_) return;
    durations_.resize((n_segments + 1) * n_stages_, duration_summary(true, ticks_per_second_));
    n_segments_ = n_segments;
}

FUNNELKIT_INLINE void lifecycle_summary::merge(const lifecycle_summary& o) {
    using namespace detail::lifecycle_flow_impl;
    if (o.n_stages_ == 0) return;
    if (n_stages_ == 0) {
        *this = o;
        return;
    }
    // Everything that can fail is checked, or done on copies, before this summary changes.
    const std::int64_t unit = detail::join_recorded(summary_merge, "time unit", ticks_per_second_, o.ticks_per_second_,
                                                    std::int64_t{0}, [](std::int64_t t) {
                                                        return t == 0 ? std::string("not recorded") : std::to_string(t);
                                                    }, "ticks per second");
    (void)detail::join_definitions(conversion_.definition(), o.conversion_.definition(), summary_merge);
    if (o.n_stages_ != n_stages_)
        detail::throw_incompatible(summary_merge, "ladder length", std::to_string(n_stages_), std::to_string(o.n_stages_),
                                   "stages");
    conversion_counts conversion = conversion_;
    conversion.merge(o.conversion_);
    flow_counts flow = flow_;
    flow.merge(o.flow_);
    for (std::size_t i = 0; i < o.durations_.size() && i < durations_.size(); ++i)
        (void)detail::check_duration_merge(durations_[i], o.durations_[i], summary_merge);
    conversion_ = std::move(conversion);
    flow_ = std::move(flow);
    ticks_per_second_ = unit;
    grow_segments(o.n_segments_);
    for (std::size_t i = 0; i < o.durations_.size(); ++i) durations_[i].merge(o.durations_[i]);
    // Cells the other side did not have take the joined unit too (a part read from format
    // version 1 records none).
    for (auto& d : durations_)
        if (d.ticks_per_second() != unit) d.merge(duration_summary(true, unit));
}

FUNNELKIT_INLINE void lifecycle_summary::reset() {
    conversion_.reset();
    flow_.reset();
    for (auto& d : durations_) d.reset();
}

FUNNELKIT_INLINE std::vector<std::byte> lifecycle_summary::serialize() const {
    using namespace detail::lifecycle_flow_impl;
    detail::byte_writer w(summary_magic, summary_format);
    w.put(static_cast<std::uint64_t>(n_stages_));
    w.put(static_cast<std::uint64_t>(n_segments_));
    w.put(ticks_per_second_);
    w.put_blob(conversion_.serialize());
    w.put_blob(flow_.serialize());
    w.put(static_cast<std::uint64_t>(durations_.size()));
    for (const auto& d : durations_) w.put_blob(d.serialize());
    return std::move(w).finish();
}

FUNNELKIT_INLINE lifecycle_summary lifecycle_summary::deserialize(const void* data, std::size_t size) {
    using namespace detail::lifecycle_flow_impl;
    detail::byte_reader r(data, size, summary_magic, "lifecycle_summary");
    const std::uint16_t version = r.accept_versions(1, summary_format);
    // Parts are written in the format of the whole; a part's own errors are reported as such.
    auto part = [&](const char* what, auto read) {
        auto [p, n] = r.get_blob();
        if (detail::blob_version(p, n) != version)
            r.fail(std::string("the nested ") + what + " is not in format version " + std::to_string(version));
        try {
            return read(p, n);
        } catch (const invalid_argument& e) {
            r.fail(std::string("nested part: ") + e.what());
        }
    };
    lifecycle_summary s;
    s.n_stages_ = static_cast<std::size_t>(r.get<std::uint64_t>());
    s.n_segments_ = static_cast<std::size_t>(r.get<std::uint64_t>());
    if (s.n_stages_ > stage_model::max_ladder) r.fail("implausible ladder length");
    if (version >= 2) {
        s.ticks_per_second_ = r.get<std::int64_t>();
        if (s.ticks_per_second_ < 0) r.fail("ticks per second " + std::to_string(s.ticks_per_second_) + " is negative");
    }
    s.conversion_ = part("conversion_counts", conversion_counts::deserialize);
    s.flow_ = part("flow_counts", flow_counts::deserialize);
    const auto count = r.get<std::uint64_t>();
    if (s.n_segments_ > count || count != (s.n_segments_ + 1) * s.n_stages_)
        r.fail("duration summary count does not match the shape");
    s.durations_.reserve(static_cast<std::size_t>(count));
    for (std::uint64_t i = 0; i < count; ++i) {
        s.durations_.push_back(part("duration_summary", duration_summary::deserialize));
        if (s.durations_.back().ticks_per_second() != s.ticks_per_second_)
            r.fail("a duration summary's time unit differs from the summary's");
    }
    r.finish();
    if (s.conversion_.n_stages() != s.n_stages_ || s.conversion_.n_segments() != s.n_segments_ ||
        s.flow_.n_ranks() != s.n_stages_ || s.flow_.n_segments() != s.n_segments_)
        r.fail("parts disagree on the shape");
    if (s.flow_.model_fingerprint() != s.conversion_.definition().model_fingerprint)
        r.fail("parts disagree on the stage model");
    // Every entity exits at most once (at its last step stage) and is counted at least once.
    const std::int64_t entities = s.conversion_.entities();
    std::int64_t exits = 0;
    for (std::size_t rank = 0; rank < s.n_stages_; ++rank)
        for (std::size_t o = 0; o < 4; ++o) {
            const std::int64_t x = s.flow_.exits(rank, static_cast<flow_counts::outcome>(o));
            if (x > entities - exits) r.fail("the exits exceed the " + std::to_string(entities) + " entities");
            exits += x;
        }
    return s;
}

FUNNELKIT_INLINE lifecycle_summary summarize(const stage_histories& h, const reach_options& options) {
    lifecycle_summary s;
    s.n_stages_ = h.n_stages();
    s.n_segments_ = h.n_segments();
    s.ticks_per_second_ = h.ticks_per_second();
    s.conversion_ = reach(h, {}, options);
    s.flow_ = compute_flow(h);
    s.durations_.assign((s.n_segments_ + 1) * s.n_stages_, duration_summary(true, s.ticks_per_second_));
    // Completed visits per (segment, stage) cell, then one batch per cell.
    const stage_model& m = h.model();
    const auto off = h.offsets();
    const auto times = h.event_times();
    const auto stages = h.event_stages();
    // Counted first, so that each cell is written once at its final size (grown by push_back,
    // the cells were copied on the way: a third of this loop's time).
    const auto segments = h.segments();
    std::vector<std::int32_t> rank_of(m.size());
    for (std::size_t c = 0; c < m.size(); ++c)
        rank_of[c] = m.is_terminal(static_cast<std::int32_t>(c)) ? -1 : m.rank(static_cast<std::int32_t>(c));
    // Calls visit(cell, event) for every completed visit of a ladder stage: its overall cell,
    // and its segment's when it has one.
    const auto each_visit = [&](auto visit) {
        for (std::size_t i = 0; i < h.size(); ++i) {
            const std::int32_t seg = segments[i];
            const std::size_t seg_cell = static_cast<std::size_t>(seg + 1) * s.n_stages_;
            for (std::size_t e = off[i]; e + 1 < off[i + 1]; ++e) {
                const std::int32_t rank = rank_of[static_cast<std::size_t>(stages[e])];
                if (rank < 0) continue;
                visit(static_cast<std::size_t>(rank), e);
                if (seg >= 0) visit(seg_cell + static_cast<std::size_t>(rank), e);
            }
        }
    };
    std::vector<std::size_t> count(s.durations_.size(), 0);
    each_visit([&](std::size_t cell, std::size_t) { ++count[cell]; });
    std::vector<std::vector<double>> cells(s.durations_.size());
    std::vector<double*> at(cells.size());
    for (std::size_t c = 0; c < cells.size(); ++c) {
        cells[c].resize(count[c]);
        at[c] = cells[c].data();
    }
    each_visit([&](std::size_t cell, std::size_t e) { *at[cell]++ = static_cast<double>(times[e + 1] - times[e]); });
    for (std::size_t c = 0; c < cells.size(); ++c) s.durations_[c].fill(std::move(cells[c]));
    return s;
}

FUNNELKIT_END_NAMESPACE
