#include <gtest/gtest.h>

#include <funnelkit/detail/random.hpp>
#include <funnelkit/error.hpp>
#include <funnelkit/funnel_analysis.hpp>
#include <funnelkit/window_funnel.hpp>

#include "event_stream_testing.hpp"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <limits>
#include <map>
#include <numeric>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <vector>

using namespace funnelkit;
using namespace funnelkit_testing;

namespace {

window_funnel_counts merged(const funnel_analysis_result& a) {
    window_funnel_counts c = a.closed;
    c.merge(a.open);
    return c;
}

// Brute force for exclusions: the longest prefix chain over the (time, step)-ordered
// occurrences in the window that no exclusion event killed.
unsigned brute_exclusion(const std::vector<std::pair<std::int64_t, std::uint64_t>>& ev, std::int64_t window,
                         unsigned n, const std::vector<funnel_exclusion>& ex) {
    std::vector<std::pair<std::int64_t, unsigned>> occ;  // (time, step) of the step occurrences
    for (auto [t, m] : ev)
        for (unsigned k = 0; k < n; ++k)
            if ((m >> k) & 1u) occ.emplace_back(t, k);
    std::sort(occ.begin(), occ.end());
    unsigned best = 0;
    std::vector<std::int64_t> chain;
    // A prefix of length L dies when an exclusion event falls after its `after` step and at or
    // before (ties count as before) its `before` step, or its last step while still short of it.
    auto killed = [&]() {
        for (const auto& x : ex) {
            if (x.after + 1 > chain.size()) continue;
            const std::size_t upto = std::min<std::size_t>(x.before, chain.size() - 1);
            if (upto == x.after) continue;
            for (auto [t, m] : ev)
                if (((m >> x.event) & 1u) && chain[x.after] < t && t <= chain[upto]) return true;
        }
        return false;
    };
    auto dfs = [&](auto&& self, std::size_t from) -> void {
        if (killed()) return;
        best = std::max(best, static_cast<unsigned>(chain.size()));
        if (chain.size() == n) return;
        for (std::size_t p = from; p < occ.size(); ++p) {
            if (occ[p].second != chain.size()) continue;
            if (!chain.empty() && occ[p].first - chain[0] > window) continue;
            chain.push_back(occ[p].first);
            self(self, p + 1);
            chain.pop_back();
        }
    };
    dfs(dfs, 0);
    return best;
}

}  // namespace

TEST(FunnelAnalysis, PlainEqualsWindowFunnel) {
    for (std::uint64_t seed = 1; seed <= 4; ++seed) {
        auto e = random_events(seed + 40, 800, 12, 4, 60, seed % 2 ? 0.3 : 0.0);
        funnel_analysis_options o{.window = 10, .steps = 4};
        const auto a = funnel_analysis(e.view(), {}, o);
        // funnel_analysis records the window (the time unit only when given) but no modes;
        // window_funnel records all three.
        auto plain = merged(a);
        plain.merge(window_funnel_counts(4, window_funnel_definition::of(opts(10, 4))));
        EXPECT_EQ(plain, window_funnel(e.view(), opts(10, 4)).counts);
        EXPECT_EQ(a.conversions, a.closed.at_level(4) + a.open.at_level(4));
        if (seed % 2 == 0) {
            // Events of one step each: the same analysis from step codes of 4 bytes and of 1.
            std::vector<std::int32_t> code;
            for (auto m : e.mask) code.push_back(m ? std::countr_zero(m) : -1);
            const std::vector<std::int8_t> code8(code.begin(), code.end());
            const auto c4 = funnel_analysis({.entity = e.entity, .time = e.time, .step = code}, {}, o);
            const auto c1 = funnel_analysis({.entity = e.entity, .time = e.time, .step_int8 = code8}, {}, o);
            EXPECT_EQ(merged(c4), merged(a));
            EXPECT_EQ(merged(c1), merged(a));
            EXPECT_EQ(c1.conversions, a.conversions);
        }
    }
}

// The level counts carry the window and the time unit they were computed with: merging counts
// of another window or unit is refused naming the field, and the durations state agrees.
TEST(FunnelAnalysis, CountsRecordWindowAndUnit) {
    auto e = random_events(7, 300, 12, 3, 60, 0.0);
    funnel_analysis_options o{.window = 10, .steps = 3, .period = 20, .ticks_per_second = 1};
    const auto a = funnel_analysis(e.view(), {}, o);
    for (const auto* c : {&a.closed, &a.open, &a.unattributed}) {
        EXPECT_EQ(c->definition().window, std::optional<std::int64_t>(10));
        EXPECT_EQ(c->definition().ticks_per_second, 1);
        EXPECT_FALSE(c->definition().modes.has_value());
    }
    ASSERT_FALSE(a.by_period.empty());
    for (const auto& c : a.by_period) EXPECT_EQ(c.definition(), a.closed.definition());
    EXPECT_EQ(a.durations.definition().window, 10);
    EXPECT_EQ(a.durations.definition().ticks_per_second, 1);

    // Same events, other window: the merge fails naming the window, and changes nothing.
    o.window = 20;
    const auto b = funnel_analysis(e.view(), {}, o);
    window_funnel_counts c = a.closed;
    try {
        c.merge(b.closed);
        ADD_FAILURE() << "merged counts of windows 10 and 20";
    } catch (const invalid_argument& ex) {
        EXPECT_NE(std::string(ex.what()).find("window"), std::string::npos) << ex.what();
    }
    EXPECT_EQ(c, a.closed);
    // Same window in milliseconds: the merge fails naming the time unit.
    o.window = 10;
    o.ticks_per_second = 1000;
    const auto ms = funnel_analysis(e.view(), {}, o);
    try {
        c.merge(ms.open);
        ADD_FAILURE() << "merged counts of seconds and milliseconds";
    } catch (const invalid_argument& ex) {
        EXPECT_NE(std::string(ex.what()).find("time unit"), std::string::npos) << ex.what();
    }
    // Same definition: the merge adds.
    c.merge(a.open);
    EXPECT_EQ(c.entities(), a.closed.entities() + a.open.entities());
}

TEST(FunnelAnalysis, ExclusionsAgainstBruteForce) {
    // Steps 0..2, event 5 excludes between steps 0 and 2, event 6 between steps 1 and 2.
    const std::vector<funnel_exclusion> ex{{.event = 5, .after = 0, .before = 2}, {.event = 6, .after = 1, .before = 2}};
    detail::rng r(3);
    events e;
    for (std::int64_t id = 0; id < 1500; ++id) {
        const auto cnt = 1 + r.below(9);
        for (std::uint64_t i = 0; i < cnt; ++i) {
            const auto u = r.below(6);
            const std::uint64_t m = u < 3 ? (std::uint64_t{1} << u) : u == 3 ? (std::uint64_t{1} << 5) : u == 4 ? (std::uint64_t{1} << 6) : 0;
            e.add(id, static_cast<std::int64_t>(r.below(20)), m);
        }
    }
    funnel_analysis_options o{.window = 8, .steps = 3, .exclusions = ex};
    const auto a = funnel_analysis(e.view(), {}, o);
    std::map<std::int64_t, std::vector<std::pair<std::int64_t, std::uint64_t>>> by;
    for (std::size_t i = 0; i < e.size(); ++i) by[e.entity[i]].emplace_back(e.time[i], e.mask[i]);
    window_funnel_counts want(3);
    for (auto& [id, ev] : by) {
        const unsigned lvl = brute_exclusion(ev, 8, 3, ex);
        want.add(lvl);
        events single;
        for (auto [t, m] : ev) single.add(id, t, m);
        ASSERT_EQ(merged(funnel_analysis(single.view(), {}, o)).at_level(lvl), 1) << "entity " << id;
    }
    EXPECT_EQ(merged(a).reached_counts(), want.reached_counts());
    // Hand-worked: A(0) B(1) X6(2) B(3) C(4): the chain through B(1) dies, B(3) C(4) survives.
    events h = one({{0, 1}, {1, 2}, {2, std::uint64_t{1} << 6}, {3, 2}, {4, 4}});
    EXPECT_EQ(funnel_analysis(h.view(), {}, o).closed.at_level(3), 1);
    events h2 = one({{0, 1}, {1, 2}, {3, std::uint64_t{1} << 5}, {4, 4}});
    EXPECT_EQ(funnel_analysis(h2.view(), {}, o).closed.at_level(2), 1);
}

TEST(FunnelAnalysis, HoldPropertyEqualsPerPropertyFunnel) {
    auto e = random_events(77, 600, 15, 3, 40, 0.0);
    detail::rng r(5);
    std::vector<std::int64_t> prop(e.size());
    for (auto& p : prop) p = static_cast<std::int64_t>(r.below(3));
    const auto a = funnel_analysis(e.view(), {.property = prop}, {.window = 12, .steps = 3});
    // Reference: window_funnel on (entity, property) pairs, then the best per entity.
    events pe = e;
    for (std::size_t i = 0; i < pe.size(); ++i) pe.entity[i] = e.entity[i] * 4 + prop[i];
    auto o = opts(12, 3);
    o.per_entity = true;
    const auto pr = window_funnel(pe.view(), o);
    std::map<std::int64_t, unsigned> best;
    for (std::size_t i = 0; i < pr.entity.size(); ++i) {
        auto& b = best[pr.entity[i] / 4];
        b = std::max<unsigned>(b, pr.level[i]);
    }
    window_funnel_counts want(3, funnel_analysis_result::counts_definition({.window = 12, .steps = 3}));
    for (auto [id, l] : best) want.add(l);
    EXPECT_EQ(merged(a), want);
    EXPECT_NE(merged(a), merged(funnel_analysis(e.view(), {}, {.window = 12, .steps = 3})));
}

TEST(FunnelAnalysis, UnorderedAgainstBruteForce) {
    auto e = random_events(8, 1000, 10, 4, 50, 0.2);
    const auto a = funnel_analysis(e.view(), {}, {.window = 7, .steps = 4, .unordered = true});
    std::map<std::int64_t, std::vector<std::pair<std::int64_t, std::uint64_t>>> by;
    for (std::size_t i = 0; i < e.size(); ++i) by[e.entity[i]].emplace_back(e.time[i], e.mask[i]);
    window_funnel_counts want(4, funnel_analysis_result::counts_definition({.window = 7, .steps = 4, .unordered = true}));
    for (auto& [id, ev] : by) {
        unsigned best = 0;
        for (auto [t0, m0] : ev) {
            std::uint64_t seen = 0;
            for (auto [t, m] : ev)
                if (t >= t0 && t - t0 <= 7) seen |= m;
            best = std::max(best, static_cast<unsigned>(std::popcount(seen & 15u)));
        }
        want.add(best);
    }
    EXPECT_EQ(merged(a), want);
    // C before A before B counts fully when unordered, not when ordered.
    events h = one({{0, 4}, {1, 1}, {2, 2}});
    EXPECT_EQ(funnel_analysis(h.view(), {}, {.window = 5, .steps = 3, .unordered = true}).closed.at_level(3), 1);
    EXPECT_EQ(funnel_analysis(h.view(), {}, {.window = 5, .steps = 3}).open.at_level(2), 1);
}

TEST(FunnelAnalysis, CountConversionsOpenTrendSegmentsDurations) {
    // Entity 1: A B C A B C -> 2 conversions; entity 2: A A B B C C -> 1; entity 3: A at 95,
    // B at 98 (window 10, data ends at 100) -> open at level 2; entity 4: A at 0 only -> closed 1.
    events e;
    for (auto [t, s] : std::vector<std::pair<int, int>>{{0, 0}, {1, 1}, {2, 2}, {10, 0}, {12, 1}, {16, 2}}) e.add(1, t, 1u << s);
    for (auto [t, s] : std::vector<std::pair<int, int>>{{20, 0}, {21, 0}, {22, 1}, {23, 1}, {24, 2}, {25, 2}}) e.add(2, t, 1u << s);
    e.add(3, 95, 1);
    e.add(3, 98, 2);
    e.add(4, 0, 1);
    std::vector<std::int32_t> seg{0, 1, 1, 1, 1, 1, 2, 0, 0, 0, 0, 0, 1, 1, 0};
    funnel_analysis_options o{.window = 10, .steps = 3, .count_conversions = true, .period = 50, .data_end = 100};
    const auto a = funnel_analysis(e.view(), {.segment = seg}, o);
    EXPECT_EQ(a.conversions, 3);
    EXPECT_EQ(a.closed.reached_counts(), (std::vector<std::int64_t>{3, 3, 2, 2}));
    EXPECT_EQ(a.open.reached_counts(), (std::vector<std::int64_t>{1, 1, 1, 0}));
    // First touch: entity 1 -> 0, entity 2 -> 2, entity 3 -> 1, entity 4 -> 0 (its only event).
    ASSERT_EQ(a.by_segment.size(), 3u);
    EXPECT_EQ(a.by_segment[0].reached_counts(), (std::vector<std::int64_t>{2, 2, 1, 1}));
    EXPECT_EQ(a.by_segment[1].reached_counts(), (std::vector<std::int64_t>{1, 1, 1, 0}));
    EXPECT_EQ(a.by_segment[2].reached_counts(), (std::vector<std::int64_t>{1, 1, 1, 1}));
    // Last touch: entity 1 -> 1 (t=16), entity 2 -> 0, entity 3 -> 1, entity 4 -> 0.
    o.attribute = funnel_attribution::last_touch;
    const auto last = funnel_analysis(e.view(), {.segment = seg}, o);
    EXPECT_EQ(last.by_segment[1].entities(), 2);
    EXPECT_EQ(last.by_segment[0].entities(), 2);
    // Trend by entry period of 50: entities 1, 2, 4 enter in period 0, entity 3 in period 1.
    ASSERT_EQ(a.period_start, (std::vector<std::int64_t>{0, 50}));
    EXPECT_EQ(a.by_period[0].entities(), 3);
    EXPECT_EQ(a.by_period[1].entities(), 1);
    // Time to convert (first completion, shortest chain): step 2: 1 (e1), 1 (e2: A21 -> B22),
    // 3 (e3); step 3: 2 (e1), 3 (e2: A21 -> C24).
    const auto& d2 = a.time_to_step[1];
    EXPECT_EQ(d2.count, 3);
    EXPECT_DOUBLE_EQ(d2.mean, 5.0 / 3.0);
    EXPECT_DOUBLE_EQ(d2.median, 1.0);
    EXPECT_EQ(d2.max, 3);
    const auto& d3 = a.time_to_step[2];
    EXPECT_EQ(d3.count, 2);
    EXPECT_DOUBLE_EQ(d3.median, 2.5);
    EXPECT_DOUBLE_EQ(d3.p90, 2.9);
    // Default edges: ten bins of width 1 over [0, 10] plus an overflow bin.
    ASSERT_EQ(d3.histogram.size(), 11u);
    EXPECT_EQ(d3.histogram[1], 1);  // (1, 2]
    EXPECT_EQ(d3.histogram[2], 1);  // (2, 3]
    // Without count_conversions, conversions counts entities at the last step.
    o.count_conversions = false;
    EXPECT_EQ(funnel_analysis(e.view(), {}, o).conversions, 2);
}

TEST(FunnelAnalysis, BadOptions) {
    events e = one({{0, 1}});
    EXPECT_THROW(funnel_analysis(e.view(), {}, {.window = -1, .steps = 2}), funnelkit::invalid_argument);
    EXPECT_THROW(funnel_analysis(e.view(), {}, {.window = 1, .steps = 2, .exclusions = {{.event = 1, .after = 0, .before = 1}}}),
                 funnelkit::invalid_argument);
    EXPECT_THROW(funnel_analysis(e.view(), {}, {.window = 1, .steps = 2, .exclusions = {{.event = 5, .after = 1, .before = 1}}}),
                 funnelkit::invalid_argument);
    EXPECT_THROW(funnel_analysis(e.view(), {}, {.window = 1, .steps = 2, .unordered = true, .count_conversions = true}),
                 funnelkit::invalid_argument);
    std::vector<std::int32_t> seg{-1};
    EXPECT_THROW(funnel_analysis(e.view(), {.segment = seg}, {.window = 1, .steps = 2}), funnelkit::invalid_argument);
    funnel_analysis_options o{.window = 1, .steps = 2, .attribute = funnel_attribution::step, .attribution_step = 2};
    EXPECT_THROW(funnel_analysis(e.view(), {}, o), funnelkit::invalid_argument);
    // A fixed-length trend and a calendar trend at once.
    funnel_analysis_options both{.window = 1, .steps = 2, .period = 10};
    both.trend_calendar = calendar_options{};
    EXPECT_THROW(funnel_analysis(e.view(), {}, both), funnelkit::invalid_argument);
}

TEST(FunnelAnalysis, TrendByCalendarMonth) {
    // Step 1 of entity 1 on 2024-01-31T23:30Z, of entity 2 on 2024-02-10, of entity 3 on
    // 2024-02-29 (then step 2 a day later, in March: the entry month counts).
    constexpr std::int64_t day = 86'400;
    const std::int64_t jan31 = 1706745600 - 1800, feb10 = 1707523200, feb29 = 1709164800;
    events e;
    e.add(1, jan31, 1);
    e.add(2, feb10, 1);
    e.add(3, feb29, 1);
    e.add(3, feb29 + day, 2);
    funnel_analysis_options o{.window = 7 * day, .steps = 2};
    o.trend_calendar = calendar_options{.period = period_kind::month};
    const auto a = funnel_analysis(e.view(), {}, o);
    ASSERT_EQ(a.period_start, (std::vector<std::int64_t>{1704067200, 1706745600}));  // 2024-01, 2024-02
    EXPECT_EQ(a.by_period[0].entities(), 1);
    EXPECT_EQ(a.by_period[1].entities(), 2);
    EXPECT_EQ(a.by_period[1].reached(2), 1);
    // One hour east of UTC, 23:30 on January 31st is already February.
    o.trend_calendar->utc_offset_seconds = 3600;
    const auto east = funnel_analysis(e.view(), {}, o);
    ASSERT_EQ(east.period_start, (std::vector<std::int64_t>{1706745600 - 3600}));
    EXPECT_EQ(east.by_period[0].entities(), 3);
}

// ---------------------------------------------------------------------------------------------
// funnel_analysis with step_rules: per-step gaps and optional steps

namespace {

struct brute_outcome {
    unsigned level = 0;
    std::uint64_t through = 0;
    bool open = false;
    std::vector<std::int64_t> dur;  // -1 = step not reached
};

// Enumerates every chain over the (time, step)-ordered step occurrences of one entity.
brute_outcome brute_rules(const std::vector<std::pair<std::int64_t, std::uint64_t>>& ev, std::int64_t window, unsigned n,
                          const std::vector<funnel_step_rule>& rules, const std::vector<funnel_exclusion>& ex,
                          std::int64_t data_end) {
    std::vector<std::pair<std::int64_t, unsigned>> occ;
    for (auto [t, m] : ev)
        for (unsigned k = 0; k < n; ++k)
            if ((m >> k) & 1u) occ.emplace_back(t, k);
    std::sort(occ.begin(), occ.end());
    occ.erase(std::unique(occ.begin(), occ.end()), occ.end());
    auto excluded = [&](unsigned p, std::int64_t after_t, std::int64_t upto_t) {  // kill in (after_t, upto_t]
        for (const auto& x : ex) {
            if (p < x.after || p >= x.before) continue;
            for (auto [t, m] : ev)
                if (((m >> x.event) & 1u) && after_t < t && t <= upto_t) return true;
        }
        return false;
    };
    auto gap_ok = [&](unsigned q, std::int64_t d) {
        return d >= rules[q].min_gap && (!rules[q].max_gap || d <= *rules[q].max_gap);
    };
    brute_outcome r;
    r.dur.assign(n, -1);
    std::vector<std::int64_t> first_t(n, std::numeric_limits<std::int64_t>::max());
    std::vector<std::pair<std::int64_t, std::int64_t>> tails;  // (last time, start) per chain end
    std::vector<unsigned> tail_step;
    std::vector<std::size_t> chain;  // indices into occ
    auto dfs = [&](auto&& self) -> void {
        const auto [tq, q] = occ[chain.back()];
        const std::int64_t t0 = occ[chain.front()].first;
        r.level = std::max(r.level, q + 1);
        r.through |= std::uint64_t{1} << q;
        if (tq < first_t[q]) {
            first_t[q] = tq;
            r.dur[q] = tq - t0;
        } else if (tq == first_t[q]) {
            r.dur[q] = std::min(r.dur[q], tq - t0);
        }
        tails.emplace_back(tq, t0);
        tail_step.push_back(q);
        for (std::size_t i = chain.back() + 1; i < occ.size(); ++i) {
            const auto [t, k] = occ[i];
            if (k <= q || t - t0 > window || !gap_ok(k, t - tq) || excluded(q, tq, t)) continue;
            bool skips_ok = true;
            for (unsigned s = q + 1; s < k; ++s) skips_ok = skips_ok && rules[s].optional;
            if (!skips_ok) continue;
            chain.push_back(i);
            self(self);
            chain.pop_back();
        }
    };
    for (std::size_t i = 0; i < occ.size(); ++i)
        if (occ[i].second == 0) {
            chain = {i};
            dfs(dfs);
        }
    if (r.level < n)
        for (std::size_t c = 0; c < tails.size(); ++c) {
            const auto [l, s] = tails[c];
            const unsigned p = tail_step[c];
            if (excluded(p, l, std::numeric_limits<std::int64_t>::max())) continue;
            for (unsigned q = p + 1; q < n; ++q) {
                const std::int64_t lo = std::max(data_end, l + rules[q].min_gap);
                const std::int64_t hi = std::min(rules[q].max_gap ? l + *rules[q].max_gap : l + window, s + window);
                if (lo <= hi) r.open = true;
                if (!rules[q].optional) break;
            }
        }
    return r;
}

std::vector<funnel_step_rule> random_rules(detail::rng& r, unsigned n, std::int64_t window) {
    std::vector<funnel_step_rule> rules(n);
    for (unsigned k = 1; k < n; ++k) {
        if (k + 1 < n && r.below(5) < 2) rules[k].optional = true;
        if (r.below(2)) rules[k].max_gap = static_cast<std::int64_t>(r.below(static_cast<std::uint64_t>(window) + 1));
        if (r.below(5) < 2) {
            const std::int64_t cap = rules[k].max_gap ? *rules[k].max_gap : window;
            rules[k].min_gap = static_cast<std::int64_t>(r.below(static_cast<std::uint64_t>(cap) + 1));
        }
    }
    return rules;
}

}  // namespace

TEST(FunnelStepRules, AgainstBruteForce) {
    for (std::uint64_t seed = 1; seed <= 60; ++seed) {
        detail::rng r(seed * 7919);
        const unsigned n = 3 + static_cast<unsigned>(r.below(3));
        const std::int64_t window = 2 + static_cast<std::int64_t>(r.below(8));
        funnel_analysis_options o{.window = window, .steps = n};
        o.step_rules = random_rules(r, n, window);
        if (seed % 3 == 0) {
            const auto after = static_cast<unsigned>(r.below(n - 1));
            o.exclusions.push_back({.event = 10, .after = after, .before = after + 1 + static_cast<unsigned>(r.below(n - 1 - after))});
        }
        events e;
        std::map<std::int64_t, std::vector<std::pair<std::int64_t, std::uint64_t>>> by;
        for (std::int64_t id = 0; id < 250; ++id) {
            const auto cnt = 1 + r.below(7);
            for (std::uint64_t i = 0; i < cnt; ++i) {
                const auto u = r.below(10);
                std::uint64_t m = u < 6 ? std::uint64_t{1} << r.below(n) : u < 8 ? (r.next() & ((std::uint64_t{1} << n) - 1)) : u == 8 ? std::uint64_t{1} << 10 : 0;
                const auto t = static_cast<std::int64_t>(r.below(12));
                e.add(id, t, m);
                by[id].emplace_back(t, m);
            }
        }
        o.data_end = 10;  // some chains still open, some closed
        const auto all = funnel_analysis(e.view(), {}, o);
        window_funnel_counts closed(n, funnel_analysis_result::counts_definition(o)),
            open(n, funnel_analysis_result::counts_definition(o));
        std::vector<std::int64_t> through(n, 0);
        std::vector<std::vector<std::int64_t>> dur(n);
        for (auto& [id, ev] : by) {
            const auto want = brute_rules(ev, window, n, o.step_rules, o.exclusions, *o.data_end);
            (want.open ? open : closed).add(want.level);
            for (unsigned k = 0; k < n; ++k) {
                if ((want.through >> k) & 1u) ++through[k];
                if (k > 0 && want.dur[k] >= 0) dur[k].push_back(want.dur[k]);
            }
            events single;
            for (auto [t, m] : ev) single.add(id, t, m);
            const auto got = funnel_analysis(single.view(), {}, o);
            ASSERT_EQ((want.open ? got.open : got.closed).at_level(want.level), 1) << "seed " << seed << " entity " << id;
            for (unsigned k = 0; k < n; ++k) {
                ASSERT_EQ(got.through_step[k], static_cast<std::int64_t>((want.through >> k) & 1u)) << "seed " << seed << " entity " << id << " step " << k;
                if (k > 0) {
                    ASSERT_EQ(got.time_to_step[k].count, want.dur[k] >= 0 ? 1 : 0) << "seed " << seed << " entity " << id;
                    if (want.dur[k] >= 0) {
                        ASSERT_EQ(got.time_to_step[k].min, want.dur[k]) << "seed " << seed << " entity " << id;
                    }
                }
            }
        }
        EXPECT_EQ(all.closed, closed) << "seed " << seed;
        EXPECT_EQ(all.open, open) << "seed " << seed;
        EXPECT_EQ(all.through_step, through) << "seed " << seed;
        for (unsigned k = 1; k < n; ++k) EXPECT_EQ(all.time_to_step[k].count, static_cast<std::int64_t>(dur[k].size()));
    }
}

// Rules that constrain nothing take the dynamic programme and must agree with the single-chain
// evaluation in everything: levels, open entrants, conversions, durations, trend, exclusions.
TEST(FunnelStepRules, TrivialRulesEqualPlainFunnel) {
    for (std::uint64_t seed = 1; seed <= 8; ++seed) {
        auto e = random_events(seed + 90, 600, 14, 4, 40, seed % 2 ? 0.3 : 0.0);
        detail::rng r(seed);
        for (auto& m : e.mask) {
            if (r.below(8) == 0) m = std::uint64_t{1} << 6;
        }
        funnel_analysis_options o{.window = 9, .steps = 4, .count_conversions = seed % 2 == 0, .period = 10};
        if (seed % 4 < 2) o.exclusions = {{.event = 6, .after = 1, .before = 3}};
        const auto plain = funnel_analysis(e.view(), {}, o);
        o.step_rules.resize(4);
        o.step_rules[2].max_gap = 9;  // no tighter than the window
        const auto ruled = funnel_analysis(e.view(), {}, o);
        EXPECT_EQ(plain.closed, ruled.closed);
        EXPECT_EQ(plain.open, ruled.open);
        EXPECT_EQ(plain.conversions, ruled.conversions);
        EXPECT_EQ(plain.by_period, ruled.by_period);
        EXPECT_EQ(plain.through_step, ruled.through_step);
        for (unsigned k = 1; k < 4; ++k) {
            EXPECT_EQ(plain.time_to_step[k].count, ruled.time_to_step[k].count);
            EXPECT_EQ(plain.time_to_step[k].histogram, ruled.time_to_step[k].histogram);
            EXPECT_DOUBLE_EQ(plain.time_to_step[k].mean, ruled.time_to_step[k].mean);
        }
    }
}

TEST(FunnelStepRules, HandWorked) {
    // A@0 B@1 A@5 B@8 C@9; window 10; C at most 2 after B; B at least 3 after A.
    // Chains: A0-B1 (gap 1 < 3: invalid), A0-B8 (ok), A5-B8 (ok), then C9 (gap 1 <= 2): level 3.
    events h = one({{0, 1}, {1, 2}, {5, 1}, {8, 2}, {9, 4}});
    funnel_analysis_options o{.window = 10, .steps = 3, .data_end = 100};
    o.step_rules.resize(3);
    o.step_rules[1].min_gap = 3;
    o.step_rules[2].max_gap = 2;
    auto a = funnel_analysis(h.view(), {}, o);
    EXPECT_EQ(a.closed.at_level(3), 1);
    EXPECT_EQ(a.time_to_step[1].min, 3);  // first B reached at 8, latest start 5
    EXPECT_EQ(a.time_to_step[2].min, 4);
    // A single chain per level (latest start, newest B) is not exact: with min_gap 3 on B, the
    // newest A (5) cannot take B@7, the older A (0) can.
    events h2 = one({{0, 1}, {5, 1}, {7, 2}, {8, 4}});
    EXPECT_EQ(funnel_analysis(h2.view(), {}, o).closed.at_level(3), 1);
    // Max gap: B@4 is 4 after A@0; with max_gap 3 on B only A@2 -> B@4 remains.
    events h3 = one({{0, 1}, {2, 1}, {4, 2}});
    funnel_analysis_options g{.window = 10, .steps = 2, .data_end = 100};
    g.step_rules.resize(2);
    g.step_rules[1].max_gap = 1;
    EXPECT_EQ(funnel_analysis(h3.view(), {}, g).closed.at_level(1), 1);
    g.step_rules[1].max_gap = 2;
    EXPECT_EQ(funnel_analysis(h3.view(), {}, g).time_to_step[1].min, 2);
    // Optional step: A B? C. A@0 C@3 reaches level 3 without B; through_step[1] stays 0.
    // A second entity goes through B.
    events h4 = one({{0, 1}, {3, 4}});
    h4.add(2, 0, 1);
    h4.add(2, 1, 2);
    h4.add(2, 2, 4);
    funnel_analysis_options p{.window = 10, .steps = 3, .data_end = 100};
    p.step_rules.resize(3);
    p.step_rules[1].optional = true;
    a = funnel_analysis(h4.view(), {}, p);
    EXPECT_EQ(a.closed.at_level(3), 2);
    EXPECT_EQ(a.through_step, (std::vector<std::int64_t>{2, 1, 2}));
    // Gap after a skipped optional step is measured from the step before it: C max 2 after the
    // chain's previous step: A@0 C@3 fails (3 > 2), A@0 B@2 C@3 passes.
    p.step_rules[2].max_gap = 2;
    events h5 = one({{0, 1}, {3, 4}});
    EXPECT_EQ(funnel_analysis(h5.view(), {}, p).closed.at_level(1), 1);
    events h6 = one({{0, 1}, {2, 2}, {3, 4}});
    EXPECT_EQ(funnel_analysis(h6.view(), {}, p).closed.at_level(3), 1);
    // count_conversions with an optional step: A C A B C -> 2 conversions.
    events h7 = one({{0, 1}, {1, 4}, {2, 1}, {3, 2}, {4, 4}});
    p.step_rules[2].max_gap.reset();
    p.count_conversions = true;
    EXPECT_EQ(funnel_analysis(h7.view(), {}, p).conversions, 2);
    // Open: A@95, gap to B at most 3, data ends at 100: B can no longer come -> closed.
    events h8 = one({{95, 1}});
    funnel_analysis_options q{.window = 10, .steps = 2, .data_end = 100};
    q.step_rules.resize(2);
    q.step_rules[1].max_gap = 3;
    EXPECT_EQ(funnel_analysis(h8.view(), {}, q).closed.at_level(1), 1);
    q.step_rules[1].max_gap = 5;
    EXPECT_EQ(funnel_analysis(h8.view(), {}, q).open.at_level(1), 1);
}

TEST(FunnelStepRules, BadOptions) {
    events e = one({{0, 1}});
    auto expect_error = [&](const funnel_analysis_options& o, const std::string& needle) {
        try {
            funnel_analysis(e.view(), {}, o);
            ADD_FAILURE() << "no error for " << needle;
        } catch (const funnelkit::invalid_argument& x) {
            EXPECT_NE(std::string(x.what()).find(needle), std::string::npos) << x.what();
        }
    };
    funnel_analysis_options o{.window = 10, .steps = 3};
    o.step_rules.resize(2);
    expect_error(o, "step_rules");
    o.step_rules.resize(3);
    o.step_rules[1].min_gap = -1;
    expect_error(o, "step_rules[1].min_gap");
    o.step_rules[1].min_gap = 0;
    o.step_rules[2].max_gap = -5;
    expect_error(o, "-5");
    o.step_rules[2].max_gap = 2;
    o.step_rules[2].min_gap = 3;
    expect_error(o, "step_rules[2].min_gap");
    o.step_rules[2].max_gap.reset();
    o.step_rules[2].min_gap = 11;
    expect_error(o, "exceeds the window");
    o.step_rules[2].min_gap = 0;
    o.step_rules[0].optional = true;
    expect_error(o, "step_rules[0].optional");
    o.step_rules[0].optional = false;
    o.step_rules[2].optional = true;
    expect_error(o, "step_rules[2].optional");
    o.step_rules[2].optional = false;
    o.step_rules[0].max_gap = 1;
    expect_error(o, "step_rules[0]");
    o.step_rules[0].max_gap.reset();
    o.unordered = true;
    expect_error(o, "unordered");
    o.unordered = false;
    o.steps = 65;
    expect_error(o, "steps");
}

namespace {

// Rows of a random event stream: entity sizes from 1 to ~60, second timestamps with ties,
// step codes 0..3, exclusion event 4 and no step (-1), properties 0..2, segments 0..3.
struct order_stream {
    std::vector<std::int64_t> entity, time, property;
    std::vector<std::int32_t> step, segment;

    std::vector<std::int64_t> permuted64(const std::vector<std::int64_t>& v, const std::vector<std::size_t>& p) const {
        std::vector<std::int64_t> out(p.size());
        for (std::size_t i = 0; i < p.size(); ++i) out[i] = v[p[i]];
        return out;
    }
    std::vector<std::int32_t> permuted32(const std::vector<std::int32_t>& v, const std::vector<std::size_t>& p) const {
        std::vector<std::int32_t> out(p.size());
        for (std::size_t i = 0; i < p.size(); ++i) out[i] = v[p[i]];
        return out;
    }
};

order_stream random_order_stream(std::size_t n, std::uint64_t seed) {
    detail::rng g(seed);
    order_stream s;
    for (std::size_t i = 0; i < n; ++i) {
        s.entity.push_back(static_cast<std::int64_t>(g.below(n / 30)) * 7919 - 5000);
        s.time.push_back(static_cast<std::int64_t>(g.below(2000)));
        // Half the events match nothing; the rest a step or the exclusion event.
        s.step.push_back(g.below(2) == 0 ? -1 : static_cast<std::int32_t>(g.below(5)));
        s.property.push_back(static_cast<std::int64_t>(g.below(3)));
        s.segment.push_back(static_cast<std::int32_t>(g.below(4)));
    }
    return s;
}

void expect_same_analysis(const funnel_analysis_result& a, const funnel_analysis_result& b, const std::string& what) {
    EXPECT_EQ(a.closed, b.closed) << what;
    EXPECT_EQ(a.open, b.open) << what;
    EXPECT_EQ(a.unattributed, b.unattributed) << what;
    EXPECT_EQ(a.by_segment, b.by_segment) << what;
    EXPECT_EQ(a.period_start, b.period_start) << what;
    EXPECT_EQ(a.by_period, b.by_period) << what;
    EXPECT_EQ(a.conversions, b.conversions) << what;
    EXPECT_EQ(a.through_step, b.through_step) << what;
    EXPECT_EQ(a.data_end, b.data_end) << what;
    EXPECT_EQ(a.durations, b.durations) << what;
    ASSERT_EQ(a.time_to_step.size(), b.time_to_step.size()) << what;
    for (std::size_t k = 0; k < a.time_to_step.size(); ++k) {
        EXPECT_EQ(a.time_to_step[k].count, b.time_to_step[k].count) << what;
        EXPECT_EQ(a.time_to_step[k].median, b.time_to_step[k].median) << what;
        EXPECT_EQ(a.time_to_step[k].histogram, b.time_to_step[k].histogram) << what;
    }
}

}  // namespace

// Rows sorted by (entity, time), in time order or shuffled, on 1 to 3 threads: the same result
// in every mode (the grouped path drops events matching nothing unless they may attribute).
TEST(FunnelAnalysis, AnyRowOrderAndThreadCountGiveTheSameResult) {
    const auto s = random_order_stream(30000, 99);
    const std::size_t n = s.entity.size();
    std::vector<std::size_t> shuffled(n), by_time(n), sorted(n);
    std::iota(shuffled.begin(), shuffled.end(), 0);
    std::mt19937_64 g(5);
    std::shuffle(shuffled.begin(), shuffled.end(), g);
    by_time = shuffled;
    std::stable_sort(by_time.begin(), by_time.end(), [&](std::size_t a, std::size_t b) { return s.time[a] < s.time[b]; });
    sorted = shuffled;
    std::stable_sort(sorted.begin(), sorted.end(), [&](std::size_t a, std::size_t b) {
        return s.entity[a] != s.entity[b] ? s.entity[a] < s.entity[b] : s.time[a] < s.time[b];
    });
    std::vector<funnel_analysis_options> modes(6);
    for (auto& o : modes) o.steps = 4, o.window = 300;
    modes[0].period = 500;                                                        // segments by first touch, trend
    modes[1].exclusions = {{4, 0, 2}}, modes[1].attribute = funnel_attribution::last_touch;
    modes[2].unordered = true, modes[2].attribute = funnel_attribution::step, modes[2].attribution_step = 1;
    modes[3].step_rules = {{}, {std::optional<std::int64_t>{100}, 5, false}, {std::nullopt, 0, true}, {}};
    modes[4].count_conversions = true, modes[4].data_end = 1500;
    modes[5].attribute = funnel_attribution::step, modes[5].attribution_step = 0;  // events matching nothing dropped
    for (std::size_t mode = 0; mode < modes.size(); ++mode) {
        for (const bool with_property : {false, true}) {
            std::optional<funnel_analysis_result> ref;
            for (const auto* p : {&sorted, &by_time, &shuffled}) {
                const auto e = s.permuted64(s.entity, *p), t = s.permuted64(s.time, *p), pr = s.permuted64(s.property, *p);
                const auto st = s.permuted32(s.step, *p), sg = s.permuted32(s.segment, *p);
                for (unsigned threads : {1u, 2u, 3u}) {
                    funnel_analysis_options o = modes[mode];
                    o.threads = threads;
                    const auto r = funnel_analysis({e, t, st}, {sg, with_property ? std::span<const std::int64_t>(pr)
                                                                                   : std::span<const std::int64_t>()},
                                                   o);
                    if (!ref) ref = r;
                    else
                        expect_same_analysis(r, *ref, "mode " + std::to_string(mode) + " property " +
                                                          std::to_string(with_property) + " threads " + std::to_string(threads));
                }
            }
            EXPECT_GT(ref->closed.entities() + ref->open.entities(), 0);
        }
    }
    funnel_analysis_options bad;
    bad.steps = 2, bad.threads = 0;
    EXPECT_THROW(funnel_analysis({s.entity, s.time, s.step}, {}, bad), invalid_argument);
}
