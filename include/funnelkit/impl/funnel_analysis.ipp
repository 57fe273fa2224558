// Definitions for funnelkit/funnel_analysis.hpp; config.hpp explains the compiled and header-only modes.
// funnel_analysis: the event-stream funnel with the features peers offer beyond windowFunnel.
// Rows sorted by (entity, time) are read as they are; any other order goes through the
// grouping primitive (grouping.hpp); then each entity (and each of its property values) is
// evaluated on its own.
#pragma once

#include "funnelkit/funnel_analysis.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <string>

#include "funnelkit/detail/state_merge.hpp"
#include "funnelkit/error.hpp"
#include "funnelkit/grouping.hpp"
#include "funnelkit/serialize.hpp"

FUNNELKIT_BEGIN_NAMESPACE

namespace detail::funnel_analysis_impl {

struct ev {
    std::int64_t t;
    std::uint64_t m;
    std::int64_t prop;
    std::int32_t seg;
};

struct outcome {
    unsigned level = 0;
    bool open = false;
    std::int64_t conversions = 0;
    std::int64_t entry = std::numeric_limits<std::int64_t>::max();  // first step-1 time
    std::int64_t dur[64];  // first-completion durations, -1 = not reached
    std::uint64_t through = 0;  // bit k: a valid chain went through step k
};

// Per-step rules resolved for the dynamic programme (step_rules).
struct step_plan {
    std::uint64_t min_gap[64] = {};
    std::uint64_t max_gap[64] = {};     // min(max_gap, window): larger gaps cannot occur
    bool optional[64] = {};
    std::uint64_t horizon[64] = {};     // largest max_gap of a step reachable from step p
    bool older_better[64] = {};         // from step p, an earlier last time never hurts
    bool newer_better[64] = {};         // from step p, a later last time never hurts
};

struct evaluator {
    const funnel_analysis_options& o;
    std::uint64_t step_bits;
    std::vector<std::uint64_t> guard;  // guard[k]: exclusion events that kill chains of length k
    const step_plan* plan = nullptr;   // set when step_rules are given

    // Calls f(q) for every step q a chain whose last step is p may take next.
    template <class F>
    void next_steps(unsigned p, F&& f) const {
        const unsigned n = static_cast<unsigned>(o.steps);
        for (unsigned q = p + 1; q < n; ++q) {
            f(q);
            if (!plan->optional[q]) break;
        }
    }

    // Ordered funnel with step_rules, exact. st[p] holds (last time, start) of the chains whose
    // last step is p, one entry per last time (the latest start), pruned by dominance: from
    // step p, if no next step has a minimum gap a chain with a later last time and a later
    // start is at least as good; if no next step has a maximum gap tighter than the window, a
    // chain with an earlier last time and a later start is.
    void ruled(const ev* b, const ev* e, outcome& r) const {
        const unsigned n = static_cast<unsigned>(o.steps);
        const auto window = static_cast<std::uint64_t>(o.window);
        const step_plan& pl = *plan;
        std::vector<std::pair<std::int64_t, std::int64_t>> st[64];
        std::uint64_t reached = 0;
        unsigned level = 0;
        const std::int64_t end = *o.data_end;
        auto add = [&](unsigned q, std::int64_t start, std::int64_t ts) {
            auto& v = st[q];
            if (pl.older_better[q])
                for (const auto& x : v)
                    if (x.second >= start) return;
            if (pl.newer_better[q])
                std::erase_if(v, [&](const auto& x) { return x.second <= start; });
            if (!v.empty() && v.back().first == ts) v.back().second = std::max(v.back().second, start);
            else v.emplace_back(ts, start);
        };
        for (const ev* p = b; p < e;) {
            const std::int64_t ts = p->t;
            std::uint64_t s = 0, x = 0;
            for (; p < e && p->t == ts; ++p) {
                s |= p->m & step_bits;
                x |= p->m & ~step_bits;
            }
            if (x)
                for (unsigned k = 0; k + 1 < n; ++k)
                    if (guard[k + 1] & x) st[k].clear();
            while (s) {
                const unsigned q = static_cast<unsigned>(std::countr_zero(s));
                s &= s - 1;
                bool found = false;
                std::int64_t start = 0;
                if (q == 0) {
                    found = true;
                    start = ts;
                    r.entry = std::min(r.entry, ts);
                } else {
                    for (unsigned from = q; from-- > 0;) {
                        auto& v = st[from];
                        // Drop chains that can no longer be extended (window or gap expired);
                        // before data_end only, so that the open test below stays exact when a
                        // caller's data_end precedes some events.
                        if (ts <= end)
                            std::erase_if(v, [&](const auto& c) {
                                const auto d = static_cast<std::uint64_t>(ts) - static_cast<std::uint64_t>(c.first);
                                return d > pl.horizon[from] ||
                                       static_cast<std::uint64_t>(ts) - static_cast<std::uint64_t>(c.second) > window;
                            });
                        for (const auto& c : v) {
                            const auto d = static_cast<std::uint64_t>(ts) - static_cast<std::uint64_t>(c.first);
                            if (d >= pl.min_gap[q] && d <= pl.max_gap[q] &&
                                static_cast<std::uint64_t>(ts) - static_cast<std::uint64_t>(c.second) <= window &&
                                (!found || c.second > start)) {
                                found = true;
                                start = c.second;
                            }
                        }
                        if (from == 0 || !pl.optional[from]) break;
                    }
                }
                if (!found) continue;
                r.through |= std::uint64_t{1} << q;
                level = std::max(level, q + 1);
                if (!((reached >> q) & 1u)) {
                    reached |= std::uint64_t{1} << q;
                    if (q > 0) r.dur[q] = ts - start;
                }
                if (q + 1 == n) {
                    if (o.count_conversions) {
                        ++r.conversions;
                        for (auto& v : st) v.clear();
                    }
                } else {
                    add(q, start, ts);
                }
            }
        }
        r.level = std::max(r.level, level);
        if (level < n) {
            // Open: some chain could still take a next step at a time t >= data_end.
            for (unsigned k = 0; k + 1 < n && !r.open; ++k)
                for (const auto& c : st[k])
                    next_steps(k, [&](unsigned q) {
                        // l + gap and start + window do not overflow: times were checked
                        // against the window and the gaps are at most the window.
                        const std::int64_t lo = std::max(end, c.first + static_cast<std::int64_t>(pl.min_gap[q]));
                        const std::int64_t hi = std::min(c.first + static_cast<std::int64_t>(pl.max_gap[q]), c.second + o.window);
                        if (lo <= hi) r.open = true;
                    });
        }
    }

    // A span starting at `start` has not closed by `end` (exclusive end of the data).
    bool still_open(std::int64_t end, std::int64_t start) const noexcept {
        return end <= start || static_cast<std::uint64_t>(end) - static_cast<std::uint64_t>(start) <= static_cast<std::uint64_t>(o.window);
    }

    // Ordered funnel over events [b, e) sorted by time.
    void ordered(const ev* b, const ev* e, outcome& r) const {
        const unsigned n = static_cast<unsigned>(o.steps);
        const auto window = static_cast<std::uint64_t>(o.window);
        bool live[65] = {};
        std::int64_t start[65];
        unsigned level = 0;
        for (const ev* p = b; p < e;) {
            const std::int64_t ts = p->t;
            std::uint64_t s = 0, x = 0;
            for (; p < e && p->t == ts; ++p) {
                s |= p->m & step_bits;
                x |= p->m & ~step_bits;
            }
            if (x)
                for (unsigned k = 1; k < n; ++k)
                    if (guard[k] & x) live[k] = false;
            while (s) {
                const unsigned k = static_cast<unsigned>(std::countr_zero(s));
                s &= s - 1;
                if (k == 0) {
                    live[1] = true;
                    start[1] = ts;
                    r.entry = std::min(r.entry, ts);
                    if (level == 0) level = 1;
                } else if (live[k] && static_cast<std::uint64_t>(ts) - static_cast<std::uint64_t>(start[k]) <= window) {
                    live[k + 1] = true;
                    start[k + 1] = start[k];
                    if (level < k + 1) {
                        level = k + 1;
                        r.dur[k] = ts - start[k];
                    }
                }
                if (live[n] && o.count_conversions) {
                    ++r.conversions;
                    std::fill(std::begin(live), std::end(live), false);
                }
            }
        }
        r.level = std::max(r.level, level);
        if (level < n) {
            const std::int64_t end = *o.data_end;
            for (unsigned k = 1; k < n; ++k)
                if (live[k] && still_open(end, start[k])) r.open = true;
        }
    }

    // Unordered funnel: the most distinct steps within one span of `window`.
    void unordered(const ev* b, const ev* e, outcome& r) const {
        const unsigned n = static_cast<unsigned>(o.steps);
        std::uint32_t cnt[64] = {};
        unsigned distinct = 0, best = 0;
        const ev* left = b;
        std::int64_t last_step_time = std::numeric_limits<std::int64_t>::min();
        bool any = false;
        for (const ev* p = b; p < e; ++p) {
            for (std::uint64_t m = p->m & step_bits; m; m &= m - 1)
                if (cnt[std::countr_zero(m)]++ == 0) ++distinct;
            while (static_cast<std::uint64_t>(p->t) - static_cast<std::uint64_t>(left->t) > static_cast<std::uint64_t>(o.window)) {
                for (std::uint64_t m = left->m & step_bits; m; m &= m - 1)
                    if (--cnt[std::countr_zero(m)] == 0) --distinct;
                ++left;
            }
            best = std::max(best, distinct);
            if (p->m & step_bits) {
                last_step_time = p->t;
                any = true;
            }
            if ((p->m & 1u) != 0) r.entry = std::min(r.entry, p->t);
        }
        r.level = std::max(r.level, best);
        if (best < n && any && still_open(*o.data_end, last_step_time)) r.open = true;
    }
};

inline step_duration_summary summarise(std::vector<std::int64_t>& d, const std::vector<std::int64_t>& edges) {
    step_duration_summary s;
    s.histogram.assign(edges.size() + 1, 0);
    s.count = static_cast<std::int64_t>(d.size());
    if (d.empty()) return s;
    std::sort(d.begin(), d.end());
    double sum = 0;
    for (auto v : d) {
        sum += static_cast<double>(v);
        const auto bin = static_cast<std::size_t>(std::lower_bound(edges.begin(), edges.end(), v) - edges.begin());
        ++s.histogram[bin];
    }
    s.mean = sum / static_cast<double>(d.size());
    auto q = [&](double p) {
        const double pos = p * static_cast<double>(d.size() - 1);
        const auto lo = static_cast<std::size_t>(std::floor(pos));
        const std::size_t hi = std::min(lo + 1, d.size() - 1);
        return static_cast<double>(d[lo]) + (pos - static_cast<double>(lo)) * static_cast<double>(d[hi] - d[lo]);
    };
    s.median = q(0.5);
    s.p90 = q(0.9);
    s.min = d.front();
    s.max = d.back();
    return s;
}

}  // namespace detail::funnel_analysis_impl

// ---------------------------------------------------------------------------------------------
// funnel_durations

namespace detail::funnel_analysis_impl {
inline constexpr char durations_magic[] = "FKFA";
inline constexpr std::uint16_t durations_format = 2;
inline constexpr std::string_view merge_what = "cannot merge funnel_durations";

inline std::string list_text(const std::vector<std::int64_t>& v) {
    std::string s = "[";
    for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
    return s + "]";
}

// The joined definition, or a throw naming the first option that differs.
inline funnel_analysis_definition join(const funnel_analysis_definition& a, const funnel_analysis_definition& b) {
    auto same = [](std::string_view field, auto x, auto y) {
        if (x != y) throw_incompatible(merge_what, field, std::to_string(x), std::to_string(y));
    };
    auto same_list = [](std::string_view field, const std::vector<std::int64_t>& x, const std::vector<std::int64_t>& y) {
        if (x != y) throw_incompatible(merge_what, field, list_text(x), list_text(y));
    };
    same("steps", a.steps, b.steps);
    same("window", a.window, b.window);
    funnel_analysis_definition d = a;
    d.ticks_per_second = join_recorded(merge_what, "time unit", a.ticks_per_second, b.ticks_per_second, std::int64_t{0},
                                       [](std::int64_t t) { return t == 0 ? std::string("not recorded") : std::to_string(t); },
                                       "ticks per second");
    same("unordered", a.unordered, b.unordered);
    same("count_conversions", a.count_conversions, b.count_conversions);
    same("attribution", a.attribution, b.attribution);
    same("attribution_step", a.attribution_step, b.attribution_step);
    same("period", a.period, b.period);
    same("period_origin", a.period_origin, b.period_origin);
    same("data_end", a.data_end, b.data_end);
    same_list("histogram_edges", a.histogram_edges, b.histogram_edges);
    same_list("exclusions", a.exclusions, b.exclusions);
    same_list("step_rules", a.step_rules, b.step_rules);
    same_list("trend_calendar", a.calendar, b.calendar);
    return d;
}
}  // namespace detail::funnel_analysis_impl

FUNNELKIT_INLINE funnel_analysis_definition funnel_analysis_definition::of(const funnel_analysis_options& o) {
    funnel_analysis_definition d;
    d.steps = o.steps;
    d.window = o.window;
    d.ticks_per_second = o.ticks_per_second;
    d.unordered = o.unordered;
    d.count_conversions = o.count_conversions;
    d.attribution = static_cast<std::uint8_t>(o.attribute);
    d.attribution_step = o.attribute == funnel_attribution::step ? o.attribution_step : 0;
    d.period = o.period;
    d.period_origin = o.period > 0 ? o.period_origin : 0;
    d.data_end = o.data_end.value_or(0);
    d.histogram_edges = o.histogram_edges;
    for (const auto& x : o.exclusions) d.exclusions.insert(d.exclusions.end(), {x.event, x.after, x.before});
    for (const auto& r : o.step_rules) d.step_rules.insert(d.step_rules.end(), {r.min_gap, r.max_gap.value_or(-1), r.optional ? 1 : 0});
    if (o.trend_calendar)
        d.calendar = {static_cast<std::int64_t>(o.trend_calendar->period), o.trend_calendar->ticks_per_second,
                      o.trend_calendar->utc_offset_seconds};
    return d;
}

FUNNELKIT_INLINE window_funnel_definition funnel_analysis_result::counts_definition(const funnel_analysis_options& o) {
    window_funnel_definition d;
    d.window = o.window;
    d.ticks_per_second = o.ticks_per_second;
    return d;
}

FUNNELKIT_INLINE funnel_durations::funnel_durations(const funnel_analysis_definition& definition,
                                                    std::vector<std::vector<std::int64_t>> per_step)
    : recorded_(true), definition_(definition), durations_(std::move(per_step)) {
    if (durations_.size() != definition_.steps)
        detail::throw_option("per_step", std::to_string(durations_.size()) + " entries",
                             "must have one entry per step (" + std::to_string(definition_.steps) + ")");
    if (!durations_.empty() && !durations_[0].empty())
        detail::throw_option("per_step[0]", std::to_string(durations_[0].size()) + " durations",
                             "must be empty: step 1 has no time to convert");
    for (std::size_t k = 0; k < durations_.size(); ++k) {
        for (std::int64_t d : durations_[k])
            if (d < 0) detail::throw_option("per_step[" + std::to_string(k) + "]", std::to_string(d), "is a negative duration");
        std::sort(durations_[k].begin(), durations_[k].end());
    }
}

FUNNELKIT_INLINE std::vector<step_duration_summary> funnel_durations::summaries() const {
    using namespace detail::funnel_analysis_impl;
    std::vector<step_duration_summary> out(durations_.size());
    for (std::size_t s = 1; s < durations_.size(); ++s) {
        std::vector<std::int64_t> copy = durations_[s];
        out[s] = summarise(copy, definition_.histogram_edges);
    }
    if (!out.empty()) out[0].histogram.assign(definition_.histogram_edges.size() + 1, 0);
    return out;
}

FUNNELKIT_INLINE void funnel_durations::merge(const funnel_durations& other) {
    using namespace detail::funnel_analysis_impl;
    if (&other == this) {
        const funnel_durations copy = other;
        merge(copy);
        return;
    }
    if (!other.recorded_) {
        if (other.durations_.empty()) return;
        if (recorded_ && other.durations_.size() != durations_.size())
            detail::throw_incompatible(merge_what, "steps", std::to_string(durations_.size()), std::to_string(other.durations_.size()));
    }
    funnel_analysis_definition def = other.definition_;
    if (recorded_ && other.recorded_) def = join(definition_, other.definition_);
    else if (recorded_) def = definition_;
    std::vector<std::vector<std::int64_t>> out = durations_;
    if (out.empty()) out.resize(other.durations_.size());
    if (out.size() != other.durations_.size() && !other.durations_.empty())
        detail::throw_incompatible(merge_what, "steps", std::to_string(out.size()), std::to_string(other.durations_.size()));
    for (std::size_t k = 0; k < other.durations_.size(); ++k) {
        auto& dst = out[k];
        const auto mid = static_cast<std::ptrdiff_t>(dst.size());
        dst.insert(dst.end(), other.durations_[k].begin(), other.durations_[k].end());
        std::inplace_merge(dst.begin(), dst.begin() + mid, dst.end());
    }
    recorded_ = recorded_ || other.recorded_;
    definition_ = std::move(def);
    durations_ = std::move(out);
}

FUNNELKIT_INLINE void funnel_durations::reset() {
    for (auto& d : durations_) d.clear();
}

FUNNELKIT_INLINE std::vector<std::byte> funnel_durations::serialize() const {
    using namespace detail::funnel_analysis_impl;
    detail::byte_writer w(durations_magic, durations_format);
    const auto& d = definition_;
    w.put(static_cast<std::uint8_t>(recorded_ ? 1 : 0));
    w.put(d.steps);
    w.put(d.window);
    w.put(d.ticks_per_second);
    w.put(static_cast<std::uint8_t>((d.unordered ? 1 : 0) | (d.count_conversions ? 2 : 0)));
    w.put(d.attribution);
    w.put(d.attribution_step);
    w.put(d.period);
    w.put(d.period_origin);
    w.put(d.data_end);
    w.put(d.histogram_edges);
    w.put(d.exclusions);
    w.put(d.step_rules);
    w.put(d.calendar);
    w.put(static_cast<std::uint64_t>(durations_.size()));
    for (const auto& v : durations_) w.put(v);
    return std::move(w).finish();
}

FUNNELKIT_INLINE funnel_durations funnel_durations::deserialize(const void* data, std::size_t size) {
    using namespace detail::funnel_analysis_impl;
    detail::byte_reader r(data, size, durations_magic, "funnel_durations");
    r.accept_versions(durations_format, durations_format);
    funnel_durations st;
    auto& d = st.definition_;
    const auto recorded = r.get<std::uint8_t>();
    if (recorded > 1) r.fail("definition flag " + std::to_string(recorded) + " is not 0 or 1");
    st.recorded_ = recorded == 1;
    d.steps = r.get<std::uint64_t>();
    d.window = r.get<std::int64_t>();
    d.ticks_per_second = r.get<std::int64_t>();
    const auto modes = r.get<std::uint8_t>();
    if (modes > 3) r.fail("mode bits " + std::to_string(modes) + " are not 0..3");
    d.unordered = modes & 1, d.count_conversions = (modes & 2) != 0;
    d.attribution = r.get<std::uint8_t>();
    d.attribution_step = r.get<std::uint64_t>();
    d.period = r.get<std::int64_t>();
    d.period_origin = r.get<std::int64_t>();
    d.data_end = r.get<std::int64_t>();
    d.histogram_edges = r.get_vector<std::int64_t>();
    d.exclusions = r.get_vector<std::int64_t>();
    d.step_rules = r.get_vector<std::int64_t>();
    d.calendar = r.get_vector<std::int64_t>();
    if (d.steps > 64) r.fail("step count " + std::to_string(d.steps) + " is not 0..64");
    if (d.window < 0 || d.ticks_per_second < 0 || d.period < 0) r.fail("a negative window, time unit or period");
    if (d.attribution > 2) r.fail("attribution code " + std::to_string(d.attribution) + " is not 0..2");
    if (d.steps > 0 && d.attribution_step >= d.steps) r.fail("attribution step outside the steps");
    if (!std::is_sorted(d.histogram_edges.begin(), d.histogram_edges.end())) r.fail("histogram edges not ascending");
    if (d.exclusions.size() % 3 != 0 || d.step_rules.size() % 3 != 0) r.fail("exclusions or step rules of a bad size");
    if (!d.step_rules.empty() && d.step_rules.size() != 3 * d.steps) r.fail("step rules for another number of steps");
    if (!d.calendar.empty() && d.calendar.size() != 3) r.fail("a calendar of a bad size");
    const auto n = r.get<std::uint64_t>();
    if (n != (st.recorded_ ? d.steps : n) || n > 64) r.fail("duration lists " + std::to_string(n) + " do not match the steps");
    st.durations_.resize(static_cast<std::size_t>(n));
    for (std::size_t k = 0; k < st.durations_.size(); ++k) {
        st.durations_[k] = r.get_vector<std::int64_t>();
        const auto& v = st.durations_[k];
        if (k == 0 && !v.empty()) r.fail("durations to the first step");
        if (!std::is_sorted(v.begin(), v.end())) r.fail("durations to step " + std::to_string(k) + " not ascending");
        if (!v.empty() && v.front() < 0) r.fail("a negative duration to step " + std::to_string(k));
    }
    r.finish();
    return st;
}

FUNNELKIT_INLINE funnel_analysis_result funnel_analysis(const event_columns& events, const event_attributes& attributes,
                                                        const funnel_analysis_options& options) {
    using namespace detail::funnel_analysis_impl;
    funnel_analysis_options o = options;
    if (o.window < 0) detail::throw_option("window", detail::to_text(o.window), "must be >= 0");
    if (o.steps == 0 || o.steps > 64) detail::throw_option("steps", std::to_string(o.steps), "must be between 1 and 64");
    if (o.period < 0) detail::throw_option("period", detail::to_text(o.period), "must be >= 0 (0 = no trend)");
    if (o.trend_calendar) {
        if (o.period != 0)
            detail::throw_option("period", detail::to_text(o.period), "cannot be combined with trend_calendar");
        o.trend_calendar->validate();
    }
    if (o.attribute == funnel_attribution::step && o.attribution_step >= o.steps)
        detail::throw_option("attribution_step", std::to_string(o.attribution_step),
                             "is not a step (expected 0.." + std::to_string(o.steps - 1) + ")");
    if (o.unordered && (!o.exclusions.empty() || o.count_conversions))
        detail::throw_option("unordered", "true", "cannot be combined with exclusions or count_conversions");
    for (const auto& x : o.exclusions) {
        if (x.event < o.steps || x.event > 63)
            detail::throw_option("exclusions.event", std::to_string(x.event),
                                 "must be an event code after the steps (" + std::to_string(o.steps) + "..63)");
        if (x.after >= x.before || x.before >= o.steps)
            detail::throw_option("exclusions", std::to_string(x.after) + ".." + std::to_string(x.before),
                                 "must satisfy after < before < steps");
    }
    if (!o.step_rules.empty()) {
        if (o.step_rules.size() != o.steps)
            detail::throw_option("step_rules", std::to_string(o.step_rules.size()) + " entries",
                                 "must be empty or have one entry per step (" + std::to_string(o.steps) + ")");
        if (o.unordered) detail::throw_option("unordered", "true", "cannot be combined with step_rules");
        for (std::size_t k = 0; k < o.steps; ++k) {
            const auto& rule = o.step_rules[k];
            const std::string name = "step_rules[" + std::to_string(k) + "]";
            if (rule.min_gap < 0) detail::throw_option(name + ".min_gap", detail::to_text(rule.min_gap), "must be >= 0");
            if (rule.max_gap && *rule.max_gap < 0)
                detail::throw_option(name + ".max_gap", detail::to_text(*rule.max_gap), "must be >= 0");
            if (rule.max_gap && rule.min_gap > *rule.max_gap)
                detail::throw_option(name + ".min_gap", detail::to_text(rule.min_gap),
                                     "exceeds the step's max_gap (" + detail::to_text(*rule.max_gap) + ")");
            if (rule.min_gap > o.window)
                detail::throw_option(name + ".min_gap", detail::to_text(rule.min_gap),
                                     "exceeds the window (" + detail::to_text(o.window) + "): the step could never be reached");
            if (k == 0 && rule.max_gap)
                detail::throw_option(name + ".max_gap", detail::to_text(*rule.max_gap),
                                     "is not allowed: the first step has no previous step");
            if (k == 0 && rule.min_gap != 0)
                detail::throw_option(name + ".min_gap", detail::to_text(rule.min_gap),
                                     "is not allowed: the first step has no previous step");
            if (rule.optional && (k == 0 || k + 1 == o.steps))
                detail::throw_option(name + ".optional", "true", "is not allowed: the first and the last step must be required");
        }
    }
    if (o.ticks_per_second < 0)
        detail::throw_option("ticks_per_second", detail::to_text(o.ticks_per_second), "must be > 0 (0: not recorded)");
    if (!std::is_sorted(o.histogram_edges.begin(), o.histogram_edges.end()))
        detail::throw_option("histogram_edges", "(unsorted)", "must be ascending");
    if (o.histogram_edges.empty())
        for (int b = 1; b <= 10; ++b) o.histogram_edges.push_back(o.window / 10 * b + (b == 10 ? o.window % 10 : 0));

    const std::size_t n = events.entity.size();
    if (events.time.size() != n) detail::throw_length("time", events.time.size(), "entity", n);
    const bool has_code = events.step_mask.empty();
    const bool has_code8 = !events.step_int8.empty();
    if (int{!events.step.empty()} + int{has_code8} + int{!events.step_mask.empty()} > 1)
        throw invalid_argument("give one of column 'step', its one-byte form 'step_int8' and column 'step_mask'");
    if (has_code8 && events.step_int8.size() != n) detail::throw_length("step", events.step_int8.size(), "entity", n);
    if (has_code && !has_code8 && events.step.size() != n) detail::throw_length("step", events.step.size(), "entity", n);
    // The step code of row i, of either width.
    const auto code_of = [&](std::size_t i) -> std::int32_t { return has_code8 ? events.step_int8[i] : events.step[i]; };
    if (!has_code && events.step_mask.size() != n) detail::throw_length("step_mask", events.step_mask.size(), "entity", n);
    const bool has_seg = !attributes.segment.empty();
    const bool has_prop = !attributes.property.empty();
    if (has_seg && attributes.segment.size() != n) detail::throw_length("segment", attributes.segment.size(), "entity", n);
    if (has_prop && attributes.property.size() != n) detail::throw_length("property", attributes.property.size(), "entity", n);

    // Events usable: the steps and the exclusion events.
    std::uint64_t known = o.steps == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << o.steps) - 1;
    for (const auto& x : o.exclusions) known |= std::uint64_t{1} << x.event;
    if (o.threads == 0) detail::throw_option("threads", "0", "must be >= 1");
    std::int32_t max_seg = -1;
    std::int64_t max_t = std::numeric_limits<std::int64_t>::min();
    const auto* ent = events.entity.data();
    const auto* tim = events.time.data();
    bool sorted = true;  // by (entity, time)
    for (std::size_t i = 0; i < n; ++i) {
        if (has_code) {
            const std::int32_t c = code_of(i);
            if (c < -1 || c > 63)
                detail::throw_at_row("step", i, detail::to_text(c), "is not an event code (expected -1..63)");
        }
        const std::int64_t t = tim[i];
        if (t > std::numeric_limits<std::int64_t>::max() - o.window)
            detail::throw_at_row("time", i, detail::to_text(t), "overflows int64 when the window is added");
        const std::int32_t sg = has_seg ? attributes.segment[i] : 0;
        if (sg < 0) detail::throw_at_row("segment", i, detail::to_text(sg), "is not a segment code (expected >= 0)");
        max_seg = std::max(max_seg, has_seg ? sg : -1);
        max_t = std::max(max_t, t);
        if (i > 0 && sorted) sorted = ent[i] > ent[i - 1] || (ent[i] == ent[i - 1] && t >= tim[i - 1]);
    }
    if (!o.data_end) o.data_end = n ? max_t + 1 : 0;
    // The event of row i as the evaluators read it.
    const auto mask_of = [&](std::size_t i) {
        if (has_code) {
            const std::int32_t c = code_of(i);
            return (c >= 0 ? std::uint64_t{1} << c : 0) & known;
        }
        return events.step_mask[i] & known;
    };

    evaluator ev_{o, o.steps == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << o.steps) - 1, std::vector<std::uint64_t>(o.steps + 1, 0)};
    for (const auto& x : o.exclusions)
        for (unsigned k = x.after + 1; k <= x.before; ++k) ev_.guard[k] |= std::uint64_t{1} << x.event;
    step_plan plan;
    if (!o.step_rules.empty()) {
        const auto window = static_cast<std::uint64_t>(o.window);
        for (std::size_t k = 0; k < o.steps; ++k) {
            const auto& rule = o.step_rules[k];
            plan.optional[k] = rule.optional;
            plan.min_gap[k] = static_cast<std::uint64_t>(rule.min_gap);
            plan.max_gap[k] = rule.max_gap ? std::min(static_cast<std::uint64_t>(*rule.max_gap), window) : window;
        }
        ev_.plan = &plan;
        for (unsigned p = 0; p + 1 < o.steps; ++p) {
            plan.older_better[p] = plan.newer_better[p] = true;
            ev_.next_steps(p, [&](unsigned q) {
                plan.horizon[p] = std::max(plan.horizon[p], plan.max_gap[q]);
                if (plan.min_gap[q] > 0) plan.newer_better[p] = false;
                if (plan.max_gap[q] < window) plan.older_better[p] = false;
            });
        }
    }

    funnel_analysis_result out;
    // Every level count records the window and the time unit it was computed with, so a merge
    // of counts of another window or unit is refused naming the field. The modes are
    // window_funnel's and not recorded here (the durations state records the whole definition).
    const window_funnel_definition counts_definition = funnel_analysis_result::counts_definition(o);
    const window_funnel_counts empty(o.steps, counts_definition);
    out.closed = empty;
    out.open = empty;
    out.unattributed = empty;
    out.by_segment.assign(static_cast<std::size_t>(max_seg + 1), empty);
    out.histogram_edges = o.histogram_edges;
    out.data_end = *o.data_end;
    if (!o.unordered) out.through_step.assign(o.steps, 0);

    // What each thread counts; the sums do not depend on which thread saw which entity.
    struct tally {
        window_funnel_counts closed, open, unattributed;
        std::vector<window_funnel_counts> by_segment;
        std::int64_t conversions = 0;
        std::vector<std::int64_t> through_step;
        std::map<std::int64_t, window_funnel_counts> trend;
        std::vector<std::vector<std::int64_t>> durations;
        std::vector<ev> buf;
    };
    // One entity: its events in `buf`, in time order; evaluated per property value.
    const auto account = [&](tally& T) {
        std::vector<ev>& buf = T.buf;
        if (has_prop) std::stable_sort(buf.begin(), buf.end(), [](const ev& a, const ev& b) { return a.prop < b.prop; });
        outcome r;
        std::fill(std::begin(r.dur), std::end(r.dur), std::int64_t{-1});
        // Attribution over all the entity's events.
        std::int64_t seg_time = 0;
        std::int32_t seg = -1;
        for (const ev& x : buf) {
            bool take = false;
            switch (o.attribute) {
                case funnel_attribution::first_touch: take = seg < 0 || x.t < seg_time || (x.t == seg_time && x.seg < seg); break;
                case funnel_attribution::last_touch: take = seg < 0 || x.t > seg_time || (x.t == seg_time && x.seg < seg); break;
                case funnel_attribution::step:
                    take = ((x.m >> o.attribution_step) & 1u) && (seg < 0 || x.t < seg_time || (x.t == seg_time && x.seg < seg));
                    break;
            }
            if (take) {
                seg = x.seg;
                seg_time = x.t;
            }
        }
        // One evaluation per property value (a single one without a property column).
        outcome best;
        std::fill(std::begin(best.dur), std::end(best.dur), std::int64_t{-1});
        for (std::size_t k = 0; k < buf.size();) {
            std::size_t j = k + 1;
            while (j < buf.size() && buf[j].prop == buf[k].prop) ++j;
            const ev* b = buf.data() + k;
            const ev* e = buf.data() + j;
            k = j;
            outcome g;
            std::fill(std::begin(g.dur), std::end(g.dur), std::int64_t{-1});
            if (o.unordered) ev_.unordered(b, e, g);
            else if (ev_.plan) ev_.ruled(b, e, g);
            else {
                ev_.ordered(b, e, g);
                g.through = g.level >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << g.level) - 1;
            }
            best.level = std::max(best.level, g.level);
            best.conversions += o.count_conversions ? g.conversions : 0;
            best.entry = std::min(best.entry, g.entry);
            best.through |= g.through;
            for (unsigned s = 1; s < o.steps; ++s)
                if (g.dur[s] >= 0 && (best.dur[s] < 0 || g.dur[s] < best.dur[s])) best.dur[s] = g.dur[s];
            if (g.open && g.level >= best.level) best.open = true;
        }
        if (best.level == o.steps) best.open = false;
        if (!o.count_conversions && best.level == o.steps) best.conversions = 1;
        T.conversions += best.conversions;
        (best.open ? T.open : T.closed).add(best.level);
        if (has_seg) {
            if (seg >= 0) T.by_segment[static_cast<std::size_t>(seg)].add(best.level);
            else T.unattributed.add(best.level);
        }
        if ((o.period > 0 || o.trend_calendar) && best.entry != std::numeric_limits<std::int64_t>::max()) {
            std::int64_t start = 0;
            if (o.trend_calendar) {
                start = period_start(best.entry, *o.trend_calendar);
            } else {
                const std::int64_t rel = best.entry - o.period_origin;
                const std::int64_t p = rel >= 0 ? rel / o.period : -((-rel + o.period - 1) / o.period);
                start = o.period_origin + p * o.period;
            }
            T.trend.try_emplace(start, empty).first->second.add(best.level);
        }
        if (!o.unordered) {
            for (unsigned s = 1; s < o.steps; ++s)
                if (best.dur[s] >= 0) T.durations[s].push_back(best.dur[s]);
            for (std::uint64_t m = best.through; m; m &= m - 1) ++T.through_step[static_cast<std::size_t>(std::countr_zero(m))];
        }
    };
    const auto event_at = [&](std::size_t i) {
        return ev{tim[i], mask_of(i), has_prop ? attributes.property[i] : 0, has_seg ? attributes.segment[i] : 0};
    };
    const unsigned threads = sorted ? 1u : o.threads;
    std::vector<tally> tallies(threads);
    for (auto& T : tallies) {
        T.closed = T.open = T.unattributed = empty;
        T.by_segment = out.by_segment;
        if (!o.unordered) T.through_step.assign(o.steps, 0);
        T.durations.resize(o.steps);
    }
    if (sorted) {
        // Rows sorted by (entity, time): each entity's run as it is.
        tally& T = tallies[0];
        for (std::size_t i = 0; i < n;) {
            std::size_t j = i + 1;
            while (j < n && ent[j] == ent[i]) ++j;
            T.buf.clear();
            for (std::size_t k = i; k < j; ++k) T.buf.push_back(event_at(k));
            account(T);
            i = j;
        }
    } else {
        // Any other order: the grouping primitive. An event that is neither a step nor an
        // exclusion changes no evaluation; it is dropped unless it may attribute its entity's
        // segment (first or last touch). An entity left without events still counts, at level 0.
        struct payload {
            std::uint64_t m;
            std::int64_t prop;
            std::int32_t seg;
        };
        const bool keep_all = has_seg && o.attribute != funnel_attribution::step;
        grouping_options go;
        go.threads = threads;
        group_by_entity<payload>(
            events.entity, events.time,
            [&](std::size_t i, payload& p) {
                p = {mask_of(i), has_prop ? attributes.property[i] : 0, has_seg ? attributes.segment[i] : 0};
                return keep_all || p.m != 0;
            },
            [&](unsigned t, std::int64_t, std::span<const grouped_row<payload>> rows) {
                tally& T = tallies[t];
                T.buf.clear();
                for (const auto& r : rows) T.buf.push_back({r.time, r.payload.m, r.payload.prop, r.payload.seg});
                account(T);
            },
            go);
    }
    std::map<std::int64_t, window_funnel_counts> trend;
    std::vector<std::vector<std::int64_t>> durations(o.steps);
    for (auto& T : tallies) {
        out.closed.merge(T.closed);
        out.open.merge(T.open);
        out.unattributed.merge(T.unattributed);
        for (std::size_t g = 0; g < out.by_segment.size(); ++g) out.by_segment[g].merge(T.by_segment[g]);
        out.conversions += T.conversions;
        for (std::size_t k = 0; k < out.through_step.size(); ++k) out.through_step[k] += T.through_step[k];
        for (auto& [start, c] : T.trend) {
            auto [it, fresh] = trend.try_emplace(start, c);
            if (!fresh) it->second.merge(c);
        }
        for (std::size_t k = 0; k < o.steps; ++k) durations[k].insert(durations[k].end(), T.durations[k].begin(), T.durations[k].end());
    }
    for (auto& [start, c] : trend) {
        out.period_start.push_back(start);
        out.by_period.push_back(std::move(c));
    }
    out.durations = funnel_durations(funnel_analysis_definition::of(o), std::move(durations));
    out.time_to_step = out.durations.summaries();
    return out;
}

FUNNELKIT_END_NAMESPACE
