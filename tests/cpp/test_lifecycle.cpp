#include <gtest/gtest.h>

#include <funnelkit/error.hpp>
#include <funnelkit/lifecycle.hpp>
#include <funnelkit/serialize.hpp>
#include <funnelkit/synthetic.hpp>

#include "error_testing.hpp"
#include "golden_testing.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <string>
#include <numeric>
#include <random>

using namespace funnelkit;

namespace {
using funnelkit_testing::error_of;

// Lead=0 MQL=1 SAL=2 SQL=3 Opportunity=4 Customer=5 Lost=6 Disqualified=7
struct rows {
    std::vector<std::int64_t> entity, time;
    std::vector<std::int32_t> stage, segment, reason;
    stage_records view() const { return {entity, time, stage, segment, {}, reason}; }
    void add(std::int64_t e, std::int64_t t, std::int32_t s, std::int32_t g, std::int32_t why = -1) {
        entity.push_back(e); time.push_back(t); stage.push_back(s); segment.push_back(g); reason.push_back(why);
    }
};

// 1 (seg 0): Lead@10 MQL@11 SAL@12 SQL@13 Opp@14 Customer@15          won from Opportunity
// 2 (seg 0): Lead@5 MQL@6 Disqualified@7 (reason 2)                   disqualified from MQL
// 3 (seg 1): Lead@1 SQL@9 Lost@20 (reason 6)                          skipped MQL, SAL; lost from SQL
// 4 (seg 1): Lead@2 MQL@3 SAL@4 Lead@5 MQL@6                          recycled once, open in MQL
// 5 (seg 1 first, later 0): Lead@3 Lead@8                             open in Lead
rows example() {
    rows r;
    for (int s : {0, 1, 2, 3, 4, 5}) r.add(1, 10 + s, s, 0);
    r.add(2, 5, 0, 0); r.add(2, 6, 1, 0); r.add(2, 7, 7, 0, 2);
    r.add(3, 1, 0, 1); r.add(3, 9, 3, 1); r.add(3, 20, 6, 1, 6);
    r.add(4, 2, 0, 1); r.add(4, 3, 1, 1); r.add(4, 4, 2, 1); r.add(4, 5, 0, 1); r.add(4, 6, 1, 1);
    r.add(5, 3, 0, 1); r.add(5, 8, 0, 0);
    return r;
}

template <class T>
std::vector<T> permuted(const std::vector<T>& v, const std::vector<std::size_t>& p) {
    std::vector<T> out(v.size());
    for (std::size_t i = 0; i < p.size(); ++i) out[i] = v[p[i]];
    return out;
}
}  // namespace

TEST(Lifecycle, HistoriesOfHandWorkedExample) {
    const auto r = example();
    const auto h = build_histories(stage_model::b2b(), r.view(), {.as_of = 30});
    ASSERT_EQ(h.size(), 5u);
    EXPECT_EQ(h.as_of(), 30);
    EXPECT_EQ(std::vector<std::int64_t>(h.entities().begin(), h.entities().end()), (std::vector<std::int64_t>{1, 2, 3, 4, 5}));
    EXPECT_EQ(std::vector<std::int32_t>(h.segments().begin(), h.segments().end()), (std::vector<std::int32_t>{0, 0, 1, 1, 1}));
    EXPECT_EQ(h.first_entry(0, 5), 15);
    EXPECT_EQ(h.first_entry(2, 1), never);
    EXPECT_EQ(h.reach_time(2, 1), 9);   // implied: at MQL or beyond first at SQL@9
    EXPECT_EQ(h.first_entry(3, 0), 2);  // first pass entry kept
    EXPECT_EQ(h.recorded(2), 0b1001u);
    EXPECT_EQ(h.skipped(2), 0b0110u);
    EXPECT_EQ(h.skipped(0), 0u);
    EXPECT_EQ(h.recycles(3), 1);
    EXPECT_EQ(h.recycles(0), 0);
    EXPECT_EQ(h.current(1), 7);
    EXPECT_TRUE(h.closed(1));
    EXPECT_FALSE(h.closed(3));
    EXPECT_EQ(h.current(3), 1);
    EXPECT_EQ(h.current_since(3), 6);
    EXPECT_EQ(h.exit_rank(0), 4);  // won from Opportunity
    EXPECT_EQ(h.exit_rank(1), 1);
    EXPECT_EQ(h.exit_rank(2), 3);
    EXPECT_EQ(h.exit_rank(3), 1);
    EXPECT_EQ(h.n_reasons(), 7u);
}

TEST(Lifecycle, HistoriesDoNotDependOnRowOrderAndTies) {
    auto r = example();
    r.add(6, 100, 1, 0);  // MQL and Lead at the same time, MQL listed first: reads Lead -> MQL
    r.add(6, 100, 0, 0);
    r.add(6, 100, 0, 0);  // exact duplicate counts once
    const auto model = stage_model::b2b();
    const auto ref = build_histories(model, r.view());
    EXPECT_EQ(ref.offsets()[6] - ref.offsets()[5], 2u);
    EXPECT_EQ(ref.event_stages()[ref.offsets()[5]], 0);
    EXPECT_EQ(ref.recycles(5), 0);
    std::vector<std::size_t> p(r.entity.size());
    std::iota(p.begin(), p.end(), 0);
    std::mt19937_64 g(1);
    for (int trial = 0; trial < 20; ++trial) {
        std::shuffle(p.begin(), p.end(), g);
        rows s;
        s.entity = permuted(r.entity, p); s.time = permuted(r.time, p); s.stage = permuted(r.stage, p);
        s.segment = permuted(r.segment, p); s.reason = permuted(r.reason, p);
        const auto h = build_histories(model, s.view());
        ASSERT_TRUE(std::equal(h.event_times().begin(), h.event_times().end(), ref.event_times().begin(), ref.event_times().end()));
        ASSERT_TRUE(std::equal(h.event_stages().begin(), h.event_stages().end(), ref.event_stages().begin(), ref.event_stages().end()));
        ASSERT_TRUE(std::equal(h.segments().begin(), h.segments().end(), ref.segments().begin(), ref.segments().end()));
        ASSERT_EQ(compute_flow(h), compute_flow(ref));
        ASSERT_EQ(reach(h), reach(ref));
    }
}

// Few entities with hundreds of records each, most of them tied in time: each tie in stage
// order whatever the row order and thread count.
TEST(Lifecycle, LongTiedHistoriesDoNotDependOnRowOrder) {
    rows r;
    std::mt19937_64 g(5);
    for (std::int64_t e = 0; e < 3; ++e)
        for (int k = 0; k < 400; ++k)
            r.add(e * 1000 + 7, static_cast<std::int64_t>(g() % 25), static_cast<std::int32_t>(g() % 8),
                  static_cast<std::int32_t>(g() % 3));
    const auto model = stage_model::b2b();
    const auto ref = build_histories(model, r.view());
    ASSERT_EQ(ref.size(), 3u);
    std::vector<std::size_t> p(r.entity.size());
    std::iota(p.begin(), p.end(), 0);
    for (int trial = 0; trial < 10; ++trial) {
        std::shuffle(p.begin(), p.end(), g);
        rows s;
        s.entity = permuted(r.entity, p); s.time = permuted(r.time, p); s.stage = permuted(r.stage, p);
        s.segment = permuted(r.segment, p); s.reason = permuted(r.reason, p);
        for (unsigned threads : {1u, 2u}) {
            history_options o;
            o.threads = threads;
            const auto h = build_histories(model, s.view(), o);
            ASSERT_TRUE(std::equal(h.event_times().begin(), h.event_times().end(), ref.event_times().begin(), ref.event_times().end()));
            ASSERT_TRUE(std::equal(h.event_stages().begin(), h.event_stages().end(), ref.event_stages().begin(), ref.event_stages().end()));
            ASSERT_TRUE(std::equal(h.segments().begin(), h.segments().end(), ref.segments().begin(), ref.segments().end()));
        }
    }
}

TEST(Lifecycle, ReachMatchesComputeConversionAndCountsPasses) {
    const auto d = generate_sample({.leads = 4000, .seed = 8});
    const auto model = sample_model();
    const auto h = build_histories(model, d.records());
    EXPECT_EQ(reach(h), conversion(model, d.records()));
    EXPECT_EQ(reach(h, {}, {.skipped = skipped_stages::not_implied}),
              conversion(model, d.records(), {.skipped = skipped_stages::not_implied}));
    // Every pass: entity 4 of the example counts twice (Lead..SAL, then Lead..MQL).
    const auto r = example();
    const auto e = build_histories(model, r.view());
    const auto passes = reach(e, {}, {.passes = recycled_passes::every_pass});
    EXPECT_EQ(passes.entities(), 6);
    EXPECT_EQ(passes.reached(0), 6);
    EXPECT_EQ(passes.reached(1), 5);
    EXPECT_EQ(passes.reached(2), 3);
    // Custom grouping: -1 leaves an entity out of the groups but not out of the total.
    const std::vector<std::int32_t> group{0, -1, 1, 1, 0};
    const auto grouped = reach(e, group);
    EXPECT_EQ(grouped.entities(), 5);
    EXPECT_EQ(grouped.entities(0), 2);
    EXPECT_EQ(grouped.entities(1), 2);
    EXPECT_THROW((void)reach(e, std::vector<std::int32_t>{0, 1}), invalid_argument);
}

TEST(Lifecycle, FlowTransitionsExitsReasons) {
    const auto r = example();
    const auto f = compute_flow(build_histories(stage_model::b2b(), r.view()));
    EXPECT_EQ(f.transitions(0, 1), 4);  // Lead -> MQL: entities 1, 2, 4 (twice)
    EXPECT_EQ(f.transitions(2, 0), 1);  // SAL -> Lead: the recycle
    EXPECT_EQ(f.transitions(0, 3), 1);  // Lead -> SQL: the skip
    EXPECT_EQ(f.transitions(0, 0), 1);  // Lead -> Lead (entity 5's second record)
    EXPECT_EQ(f.transitions(4, 5), 1);
    EXPECT_EQ(f.exits(4, flow_counts::won), 1);
    EXPECT_EQ(f.exits(1, flow_counts::disqualified), 1);
    EXPECT_EQ(f.exits(1, flow_counts::open), 1);
    EXPECT_EQ(f.exits(0, flow_counts::open), 1);
    EXPECT_EQ(f.exits(3, flow_counts::lost), 1);
    EXPECT_EQ(f.exits(3, flow_counts::lost, 1), 1);
    EXPECT_EQ(f.exits(3, flow_counts::lost, 0), 0);
    EXPECT_EQ(f.reasons(1, 2), 1);
    EXPECT_EQ(f.reasons(1, 2, 0), 1);
    EXPECT_EQ(f.reasons(3, 6, 1), 1);
    EXPECT_EQ(f.reasons(3, 2), 0);
    const auto blob = f.serialize();
    EXPECT_EQ(flow_counts::deserialize(blob.data(), blob.size()), f);
    for (std::size_t cut = 0; cut < blob.size(); cut += 7)
        EXPECT_THROW((void)flow_counts::deserialize(blob.data(), cut), invalid_argument);
}

TEST(Lifecycle, FlowMergeOfPartsEqualsWhole) {
    const auto model = sample_model();
    const auto whole = generate_sample({.leads = 3000, .seed = 2});
    const auto a = generate_sample({.leads = 1000, .seed = 2});
    const auto b = generate_sample({.leads = 2000, .first_lead = 1000, .seed = 2});
    const auto fw = compute_flow(build_histories(model, whole.records()));
    auto fa = compute_flow(build_histories(model, a.records()));
    const auto fb = compute_flow(build_histories(model, b.records()));
    flow_counts ba = fb;
    ba.merge(fa);
    fa.merge(fb);
    EXPECT_EQ(fa, fw);
    EXPECT_EQ(ba, fw);
    // Parts that saw fewer segments or reasons grow on merge.
    const auto r = example();
    auto small = compute_flow(build_histories(model, r.view()));
    ASSERT_EQ(small.n_segments(), 2u);
    auto grown = small;
    grown.merge(fw);
    EXPECT_EQ(grown.n_segments(), fw.n_segments());
    EXPECT_EQ(grown.n_reasons(), fw.n_reasons());
    EXPECT_EQ(grown.exits(4, flow_counts::won, 0), fw.exits(4, flow_counts::won, 0) + small.exits(4, flow_counts::won, 0));
    EXPECT_EQ(grown.reasons(1, 2), fw.reasons(1, 2) + 1);
    flow_counts other(3, 2, 1, 1);
    EXPECT_THROW(fa.merge(other), invalid_argument);
}

TEST(Lifecycle, TimeInStageAndTimeToConvert) {
    const auto r = example();
    const auto h = build_histories(stage_model::b2b(), r.view(), {.as_of = 30});
    const auto v = time_in_stage(h);
    // Entity 4's visits: Lead 2->3, MQL 3->4, SAL 4->5, Lead 5->6, MQL 6->as_of (censored 24).
    std::vector<std::int64_t> d4;
    std::vector<std::uint8_t> c4;
    for (std::size_t j = 0; j < v.entity.size(); ++j)
        if (v.entity[j] == 3) { d4.push_back(v.duration[j]); c4.push_back(v.completed[j]); }
    EXPECT_EQ(d4, (std::vector<std::int64_t>{1, 1, 1, 1, 24}));
    EXPECT_EQ(c4, (std::vector<std::uint8_t>{1, 1, 1, 1, 0}));
    // No visits of terminal stages.
    for (std::int32_t s : v.stage) EXPECT_LT(s, 5);

    const auto t = time_to_convert(h, 0, 1);  // Lead -> MQL
    ASSERT_EQ(t.entity.size(), 5u);
    EXPECT_EQ(t.duration, (std::vector<std::int64_t>{1, 1, 8, 1, 27}));
    EXPECT_EQ(t.outcome, (std::vector<std::uint8_t>{1, 1, 1, 1, 0}));
    const auto w = time_to_convert(h, 3, 5);  // SQL -> Customer
    ASSERT_EQ(w.entity.size(), 2u);          // entities 1 and 3
    EXPECT_EQ(w.duration, (std::vector<std::int64_t>{2, 11}));
    EXPECT_EQ(w.outcome, (std::vector<std::uint8_t>{1, 2}));  // won; lost first (competing)
    EXPECT_THROW((void)time_to_convert(h, 3, 3), invalid_argument);
    EXPECT_THROW((void)time_to_convert(h, 0, 6), invalid_argument);
}

TEST(Lifecycle, CalendarPeriods) {
    const std::int64_t feb29_23h = 1709247600;  // 2024-02-29T23:00:00Z, a Thursday
    auto month = period_of(feb29_23h, {.period = period_kind::month});
    EXPECT_EQ(month.start, 1706745600);  // 2024-02-01
    EXPECT_EQ(month.end, 1709251200);    // 2024-03-01
    // Two hours east of UTC it is already March 1st.
    auto east = period_of(feb29_23h, {.period = period_kind::month, .utc_offset_seconds = 7200});
    EXPECT_EQ(east.start, 1709251200 - 7200);
    EXPECT_EQ(period_of(feb29_23h, {.period = period_kind::quarter}).start, 1704067200);  // 2024-01-01
    EXPECT_EQ(period_of(feb29_23h, {.period = period_kind::quarter}).end, 1711929600);    // 2024-04-01
    EXPECT_EQ(period_of(feb29_23h, {.period = period_kind::year}).end, 1735689600);       // 2025-01-01
    EXPECT_EQ(period_of(feb29_23h, {.period = period_kind::week}).start, 1708905600);     // Monday 2024-02-26
    EXPECT_EQ(period_of(0, {.period = period_kind::week}).start, -259200);                // Monday 1969-12-29
    EXPECT_EQ(period_of(-1, {.period = period_kind::day}).start, -86400);
    // Milliseconds.
    auto ms = period_of(feb29_23h * 1000 + 999, {.period = period_kind::day, .ticks_per_second = 1000});
    EXPECT_EQ(ms.start, (feb29_23h - 23 * 3600) * 1000);
    EXPECT_THROW((void)period_of(0, {.ticks_per_second = 0}), invalid_argument);
    EXPECT_THROW((void)period_of(std::numeric_limits<std::int64_t>::max(), {.period = period_kind::year, .ticks_per_second = 1'000'000'000}),
                 invalid_argument);
}

TEST(Lifecycle, CohortsByMonth) {
    const auto d = generate_sample({.leads = 3000, .seed = 5, .days = 90});
    const auto h = build_histories(sample_model(), d.records());
    const auto c = assign_cohorts(h, {.stage = 0, .period = period_kind::month});
    ASSERT_EQ(c.start.size(), 3u);  // Jan, Feb, Mar 2024
    EXPECT_EQ(c.start[0], 1704067200);
    for (std::size_t i = 0; i < h.size(); ++i) {
        ASSERT_GE(c.code[i], 0);
        const auto t = h.reach_time(i, 0);
        ASSERT_GE(t, c.start[static_cast<std::size_t>(c.code[i])]);
        ASSERT_LT(t, c.end[static_cast<std::size_t>(c.code[i])]);
    }
    // Grouping reach by cohort: totals agree.
    const auto by = reach(h, c.code);
    std::int64_t total = 0;
    for (std::int32_t g = 0; g < 3; ++g) total += by.entities(g);
    EXPECT_EQ(total, 3000);
    // Entities that never reached SQL get no SQL cohort.
    const auto sql = assign_cohorts(h, {.stage = 3});
    EXPECT_GT(std::count(sql.code.begin(), sql.code.end(), -1), 0);
}

TEST(Lifecycle, StuckEntities) {
    const auto r = example();
    const auto h = build_histories(stage_model::b2b(), r.view(), {.as_of = 30});
    // Fixed limits: Lead 10, MQL 30. Entity 5 in Lead since 8 (age 22 > 10); entity 4 in MQL
    // since 6 (age 24 <= 30).
    auto a = stuck_entities(h, {.limit = {10, 30}, .percentile = 0});
    ASSERT_EQ(a.size(), 1u);
    EXPECT_EQ(a.entity[0], 5);
    EXPECT_EQ(a.stage[0], 0);
    EXPECT_EQ(a.age[0], 22);
    EXPECT_EQ(a.limit[0], 10.0);
    // Percentile limits from completed visits: MQL visits completed: 1 (e1), 1 (e2), 1 (e4) ->
    // p90 = 1, so entity 4 (age 24) is stuck; Lead visits completed: 1,1,8,1,1,5 -> p90 = 6.5.
    auto b = stuck_entities(h, {.percentile = 90});
    ASSERT_EQ(b.size(), 2u);
    EXPECT_EQ(b.entity[0], 4);  // 23 over
    EXPECT_EQ(b.limit[0], 1.0);
    EXPECT_EQ(b.entity[1], 5);  // 15.5 over
    EXPECT_EQ(b.limit[1], 6.5);
    EXPECT_THROW((void)stuck_entities(h, {.percentile = 150}), invalid_argument);
}

TEST(Lifecycle, BadInput) {
    auto r = example();
    EXPECT_THROW((void)build_histories(stage_model::b2b(), r.view(), {.as_of = 5}), invalid_argument);
    try {
        (void)build_histories(stage_model::b2b(), r.view(), {.as_of = 5});
    } catch (const invalid_argument& e) {
        EXPECT_STREQ(e.what(), "option 'as_of': value 5 is earlier than the record at row 11 (time 20)");
    }
    r.reason[3] = -4;
    EXPECT_THROW((void)build_histories(stage_model::b2b(), r.view()), invalid_argument);
    const std::vector<std::int64_t> none;
    const std::vector<std::int32_t> none32;
    const auto empty = build_histories(stage_model::b2b(), {none, none, none32});
    EXPECT_EQ(empty.size(), 0u);
    EXPECT_EQ(reach(empty).entities(), 0);
    EXPECT_EQ(stuck_entities(empty).size(), 0u);
}

TEST(Lifecycle, SummaryMergeOfPartsEqualsWholeAndRoundTrips) {
    const auto model = sample_model();
    const auto whole = generate_sample({.leads = 3000, .seed = 12});
    const auto a = generate_sample({.leads = 1300, .seed = 12});
    const auto b = generate_sample({.leads = 1700, .first_lead = 1300, .seed = 12});
    // One as_of for all parts, so censoring is the same.
    const history_options ho{.as_of = whole.end};
    const auto sw = summarize(build_histories(model, whole.records(), ho));
    auto sa = summarize(build_histories(model, a.records(), ho));
    const auto sb = summarize(build_histories(model, b.records(), ho));
    auto sba = sb;
    sba += sa;
    sa += sb;
    EXPECT_EQ(sa, sw);
    EXPECT_EQ(sba, sw);
    EXPECT_EQ(sw.conversion(), conversion(model, whole.records()));
    // Time in stage: overall MQL count equals the completed MQL visits.
    const auto v = time_in_stage(build_histories(model, whole.records(), ho));
    std::int64_t mql_done = 0;
    for (std::size_t j = 0; j < v.stage.size(); ++j) mql_done += (v.stage[j] == 1 && v.completed[j]) ? 1 : 0;
    EXPECT_EQ(sw.time_in_stage(1).count(), mql_done);
    const auto blob = sw.serialize();
    EXPECT_EQ(lifecycle_summary::deserialize(blob.data(), blob.size()), sw);
    for (std::size_t cut = 0; cut < blob.size(); cut += 97)
        EXPECT_THROW((void)lifecycle_summary::deserialize(blob.data(), cut), invalid_argument);
    lifecycle_summary empty;
    empty.merge(sw);
    EXPECT_EQ(empty, sw);
}

// summarize() against the histories read one event at a time: every (segment, stage) cell of
// time in stage holds the completed visits of that stage by entities of that segment (count,
// exact sum, extremes, median), and the flow counts every consecutive pair of an entity's
// events, never a pair across two entities.
TEST(Lifecycle, SummaryCellsAndTransitionsMatchTheEvents) {
    const auto model = sample_model();
    const auto data = generate_sample({.leads = 2500, .seed = 31});
    const auto h = build_histories(model, data.records(), {.as_of = data.end});
    const auto s = summarize(h);
    ASSERT_GT(h.n_segments(), 2u);
    const auto off = h.offsets();
    const auto times = h.event_times();
    const auto stages = h.event_stages();
    std::map<std::pair<std::int32_t, std::int32_t>, std::vector<double>> cells;  // (segment or -1, rank)
    std::map<std::pair<std::int32_t, std::int32_t>, std::int64_t> pairs;
    for (std::size_t i = 0; i < h.size(); ++i)
        for (std::size_t e = off[i]; e + 1 < off[i + 1]; ++e) {
            ++pairs[{stages[e], stages[e + 1]}];
            if (model.is_terminal(stages[e])) continue;
            const double d = static_cast<double>(times[e + 1] - times[e]);
            cells[{-1, model.rank(stages[e])}].push_back(d);
            cells[{h.segments()[i], model.rank(stages[e])}].push_back(d);
        }
    std::size_t checked = 0;
    for (std::int32_t seg = -1; seg < static_cast<std::int32_t>(h.n_segments()); ++seg)
        for (std::size_t rank = 0; rank < h.n_stages(); ++rank) {
            std::vector<double> want = cells[{seg, static_cast<std::int32_t>(rank)}];
            const duration_summary& got = s.time_in_stage(rank, seg);
            ASSERT_EQ(got.count(), static_cast<std::int64_t>(want.size())) << seg << " " << rank;
            if (want.empty()) continue;
            std::sort(want.begin(), want.end());
            EXPECT_EQ(got.sum(), std::accumulate(want.begin(), want.end(), 0.0)) << seg << " " << rank;
            EXPECT_EQ(got.min(), want.front());
            EXPECT_EQ(got.max(), want.back());
            const std::size_t mid = (want.size() - 1) / 2;
            EXPECT_EQ(got.quantile(0.5), want.size() % 2 ? want[mid] : 0.5 * (want[mid] + want[mid + 1]));
            ++checked;
        }
    EXPECT_GT(checked, 10u);
    const flow_counts& f = s.flow();
    for (std::size_t from = 0; from < model.size(); ++from)
        for (std::size_t to = 0; to < model.size(); ++to) {
            const auto it = pairs.find({static_cast<std::int32_t>(from), static_cast<std::int32_t>(to)});
            EXPECT_EQ(f.transitions(static_cast<std::int32_t>(from), static_cast<std::int32_t>(to)),
                      it == pairs.end() ? 0 : it->second)
                << from << " -> " << to;
        }
}

// Format version 1 of flow_counts and lifecycle_summary must keep loading: the blobs under
// tests/data hold the hand-worked example's states (as_of 30). Version 1 recorded no model
// fingerprint, unit or options: the loaded states leave them "not recorded" and take them on
// from the first state they are merged with.
TEST(Lifecycle, GoldenBlobsVersion1) {
    const auto r = example();
    const auto h = build_histories(stage_model::b2b(), r.view(), {.as_of = 30});
    const auto flow = funnelkit_testing::read_golden("flow_counts_v1.bin");
    ASSERT_FALSE(flow.empty()) << "missing golden blob";
    auto loaded_flow = flow_counts::deserialize(flow.data(), flow.size());
    EXPECT_EQ(loaded_flow.model_fingerprint(), 0u);
    auto empty_flow = compute_flow(h);
    empty_flow.reset();
    loaded_flow.merge(empty_flow);
    EXPECT_EQ(loaded_flow, compute_flow(h));
    const auto summary = funnelkit_testing::read_golden("lifecycle_summary_v1.bin");
    ASSERT_FALSE(summary.empty()) << "missing golden blob";
    auto loaded = lifecycle_summary::deserialize(summary.data(), summary.size());
    EXPECT_EQ(loaded.ticks_per_second(), 0);
    EXPECT_EQ(loaded.definition(), conversion_definition{});
    EXPECT_EQ(loaded.time_in_stage(0).count(), 6);  // completed Lead visits: 1, 1, 8, 1, 1, 5
    auto empty = summarize(h);
    empty.reset();
    loaded.merge(empty);
    EXPECT_EQ(loaded, summarize(h));
}

// Format version 2 of both: load, equal the computed states, are what the writers write, and
// no flipped bit, truncation or extra byte of them loads.
TEST(Lifecycle, GoldenBlobsVersion2) {
    const auto r = example();
    const auto h = build_histories(stage_model::b2b(), r.view(), {.as_of = 30});
    const auto flow = compute_flow(h);
    const auto summary = summarize(h);
    funnelkit_testing::write_golden_if_asked("flow_counts_v2.bin", flow.serialize());
    funnelkit_testing::write_golden_if_asked("lifecycle_summary_v2.bin", summary.serialize());
    const auto flow_blob = funnelkit_testing::read_golden("flow_counts_v2.bin");
    const auto summary_blob = funnelkit_testing::read_golden("lifecycle_summary_v2.bin");
    ASSERT_FALSE(flow_blob.empty() || summary_blob.empty()) << "missing golden blob";
    EXPECT_EQ(flow_counts::deserialize(flow_blob.data(), flow_blob.size()), flow);
    const auto loaded = lifecycle_summary::deserialize(summary_blob.data(), summary_blob.size());
    EXPECT_EQ(loaded, summary);
    EXPECT_EQ(loaded.ticks_per_second(), 1);
    EXPECT_EQ(loaded.definition().model_fingerprint, stage_model::b2b().fingerprint());
    EXPECT_EQ(loaded.flow().model_fingerprint(), stage_model::b2b().fingerprint());
    EXPECT_EQ(flow.serialize(), flow_blob);
    EXPECT_EQ(summary.serialize(), summary_blob);
    EXPECT_EQ(funnelkit_testing::corruptions_accepted<flow_counts>(flow_blob), 0);
    EXPECT_EQ(funnelkit_testing::corruptions_accepted<lifecycle_summary>(summary_blob), 0);
}

// The case: a summary of seconds merged with one of milliseconds gave durations 500
// times too large. Now the merge names the field that differs, and changes nothing.
TEST(Lifecycle, SummaryMergeChecksUnitModelAndOptions) {
    const auto r = example();
    const auto s = summarize(build_histories(stage_model::b2b(), r.view(), {.as_of = 30}));
    auto ms_rows = r;
    for (auto& t : ms_rows.time) t *= 1000;
    const auto ms = summarize(build_histories(stage_model::b2b(), ms_rows.view(), {.as_of = 30'000, .ticks_per_second = 1000}));
    auto a = s;
    EXPECT_EQ(error_of([&] { a.merge(ms); }),
              "cannot merge lifecycle_summary: time unit differs (1 vs 1000 ticks per second)");
    EXPECT_EQ(a, s);
    const auto every = summarize(build_histories(stage_model::b2b(), r.view(), {.as_of = 30}),
                                 {.passes = recycled_passes::every_pass});
    EXPECT_EQ(error_of([&] { a.merge(every); }),
              "cannot merge lifecycle_summary: option 'passes' differs (first_only vs every_pass)");
    const auto b2b = stage_model::b2b();
    auto stages = std::vector<stage>(b2b.stages().begin(), b2b.stages().end());
    stages[0].owner = "growth";
    const auto other = summarize(build_histories(stage_model(stages, {.recycle_target = "Lead"}), r.view(), {.as_of = 30}));
    EXPECT_EQ(error_of([&] { a.merge(other); }).rfind("cannot merge lifecycle_summary: stage model differs (fingerprint 0x", 0),
              0u);
    EXPECT_EQ(a, s);
    auto flow = s.flow();
    EXPECT_EQ(error_of([&] { flow.merge(other.flow()); }).rfind("cannot merge flow_counts: stage model differs (fingerprint", 0),
              0u);
    EXPECT_EQ(error_of([&] { (void)build_histories(stage_model::b2b(), r.view(), {.ticks_per_second = 0}); }),
              "option 'ticks_per_second': value 0 must be > 0");
}

TEST(Lifecycle, FlowCountsNeverWrapAndCheckInvariantsOnLoad) {
    flow_counts f(3, 2, 1, 1);
    f.add_transition(0, 1, std::numeric_limits<std::int64_t>::max());
    const auto before = f;
    EXPECT_EQ(error_of([&] { f.add_transition(0, 1); }),
              "flow_counts::add_transition: a count overflows int64 (9223372036854775807 + 1)");
    EXPECT_EQ(error_of([&] { f.add_transition(0, 1, -2); }), "option 'n': value -2 must be >= 0");
    flow_counts g(3, 2, 2, 1);  // more segments: the merge grows into a copy first
    g.add_transition(0, 1);
    EXPECT_EQ(error_of([&] { f.merge(g); }),
              "cannot merge flow_counts: a count overflows int64 (9223372036854775807 + 1)");
    EXPECT_EQ(f, before);
    // A blob with more reasons than lost and disqualified exits, with a valid checksum.
    funnelkit::detail::byte_writer w("FKFL", 2);
    for (std::uint64_t v : {3u, 2u, 0u, 1u}) w.put(std::uint64_t{v});
    w.put(std::uint64_t{0});
    w.put(std::vector<std::int64_t>(9, 0));
    w.put(std::vector<std::int64_t>{0, 0, 1, 0, 0, 0, 0, 0});
    w.put(std::vector<std::int64_t>{2, 0});
    const auto blob = std::move(w).finish();
    EXPECT_EQ(error_of([&] { (void)flow_counts::deserialize(blob.data(), blob.size()); }),
              "cannot deserialise flow_counts: more reasons than lost and disqualified exits at rank 0");
}

// ---- the lifecycle report's tables, by hand on the example (as_of 30) --------------------------

namespace {
constexpr double inf = std::numeric_limits<double>::infinity();

template <class Table>
std::size_t row_of(const Table& t, std::int32_t segment, std::int32_t rank) {
    for (std::size_t i = 0; i < t.size(); ++i)
        if (t.segment[i] == segment && t.rank[i] == rank) return i;
    ADD_FAILURE() << "no row for segment " << segment << ", rank " << rank;
    return 0;
}
}  // namespace

TEST(LifecycleTables, TimeInStageHandWorked) {
    const auto r = example();
    const auto h = build_histories(stage_model::b2b(), r.view(), {.as_of = 30});
    const auto t = tabulate_time_in_stage(h);
    // Overall only, every ladder stage but the won one (Customer).
    ASSERT_EQ(t.size(), 5u);
    EXPECT_EQ(t.rank, (std::vector<std::int32_t>{0, 1, 2, 3, 4}));
    EXPECT_EQ(t.segment, (std::vector<std::int32_t>(5, -1)));
    // Lead visits: e1 1, e2 1, e3 8, e4 1 and 1, e5 5 and 22 (open at as_of).
    EXPECT_EQ(t.visits[0], 7);
    EXPECT_EQ(t.completed[0], 6);
    EXPECT_EQ(t.open[0], 1);
    EXPECT_EQ(t.mean[0], 17.0 / 6);
    EXPECT_EQ(t.median[0], 1.0);  // sorted 1 1 1 1 5 8: h = 2.5
    EXPECT_EQ(t.p90[0], 6.5);     // h = 4.5: 5 + 0.5 * 3
    EXPECT_EQ(t.min[0], 1.0);
    EXPECT_EQ(t.max[0], 8.0);
    // Kaplan-Meier: S(1) = 3/7 <= 1/2, so the median is 1; the upper band first falls to 1/2 at
    // t = 8 (S = 1/7, V = 4/21 + 1/6 + 1/2). lifelines gives 1 [1, 8].
    EXPECT_EQ(t.km_median[0], 1.0);
    EXPECT_EQ(t.km_median_lower[0], 1.0);
    EXPECT_EQ(t.km_median_upper[0], 8.0);
    // MQL: 1, 1, 1 and 24 open: S(1) = 1/4, but the upper band stays above 1/2 (not reached).
    EXPECT_EQ(t.visits[1], 4);
    EXPECT_EQ(t.open[1], 1);
    EXPECT_EQ(t.median[1], 1.0);
    EXPECT_EQ(t.km_median[1], 1.0);
    EXPECT_EQ(t.km_median_upper[1], inf);
    // SQL: 1 and 11, both done: mean 6, p90 1 + 0.9 * 10; KM 1 [1, 11].
    EXPECT_EQ(t.mean[3], 6.0);
    EXPECT_EQ(t.p90[3], 10.0);
    EXPECT_EQ(t.km_median_upper[3], 11.0);

    // Per segment, with a third segment that has no entities.
    const auto s = tabulate_time_in_stage(h, {.by_segment = true, .n_segments = 3, .confidence = 0.95});
    ASSERT_EQ(s.size(), 20u);
    EXPECT_EQ(std::vector<std::int64_t>(s.visits.begin(), s.visits.begin() + 5), t.visits);  // overall first
    // Segment 1 (entities 3, 4, 5) in Lead: 8, 1, 1, 5 done, 22 open: mean 3.75, median 3,
    // p90 = 5 + 0.7 * 3 (numpy: 7.1000000000000005); Kaplan-Meier S(1) = 3/5, S(5) = 2/5: median 5 (lifelines 5 [1, inf]).
    const auto i = row_of(s, 1, 0);
    EXPECT_EQ(s.visits[i], 5);
    EXPECT_EQ(s.mean[i], 3.75);
    EXPECT_EQ(s.median[i], 3.0);
    EXPECT_EQ(s.p90[i], 7.1000000000000005);
    EXPECT_EQ(s.km_median[i], 5.0);
    EXPECT_EQ(s.km_median_lower[i], 1.0);
    EXPECT_EQ(s.km_median_upper[i], inf);
    // An empty segment: zero counts, undefined statistics.
    const auto e = row_of(s, 2, 1);
    EXPECT_EQ(s.visits[e], 0);
    EXPECT_TRUE(std::isnan(s.mean[e]) && std::isnan(s.median[e]) && std::isnan(s.km_median[e]));
    // Segment rows add up to the overall ones (every entity has a segment here).
    for (std::int32_t k = 0; k < 5; ++k)
        EXPECT_EQ(s.visits[row_of(s, 0, k)] + s.visits[row_of(s, 1, k)], t.visits[static_cast<std::size_t>(k)]);
    EXPECT_THROW((void)tabulate_time_in_stage(h, {.confidence = 1.0}), invalid_argument);
}

TEST(LifecycleTables, TimeToConvertHandWorked) {
    const auto r = example();
    const auto h = build_histories(stage_model::b2b(), r.view(), {.as_of = 30});
    // SQL -> Customer: entity 1 converts after 2, entity 3 is lost after 11.
    const auto t = tabulate_time_to_convert(h, 3, 5, {.by_segment = true});
    ASSERT_EQ(t.size(), 3u);
    EXPECT_EQ(t.segment, (std::vector<std::int32_t>{-1, 0, 1}));
    EXPECT_EQ(t.entered, (std::vector<std::int64_t>{2, 1, 1}));
    EXPECT_EQ(t.converted, (std::vector<std::int64_t>{1, 1, 0}));
    EXPECT_EQ(t.closed_otherwise, (std::vector<std::int64_t>{1, 0, 1}));
    EXPECT_EQ(t.open, (std::vector<std::int64_t>{0, 0, 0}));
    EXPECT_EQ(t.mean[0], 2.0);
    EXPECT_EQ(t.median[0], 2.0);
    EXPECT_TRUE(std::isnan(t.mean[2]));  // nobody converted in segment 1
    // Kaplan-Meier with the lost deal censored: S(2) = 1/2, so the median is 2 (lifelines 2 [2, inf]).
    EXPECT_EQ(t.km_median[0], 2.0);
    EXPECT_EQ(t.km_median_lower[0], 2.0);
    EXPECT_EQ(t.km_median_upper[0], inf);
    EXPECT_EQ(t.km_median[2], inf);  // only a censored duration: never reached
    // Aalen-Johansen: F_won(2) = 1/2; then the one left at risk is lost: F_lost(11) = 1/2 * 1/1.
    EXPECT_EQ(t.p_convert, (std::vector<double>{0.5, 1.0, 0.0}));
    EXPECT_EQ(t.p_closed_otherwise, (std::vector<double>{0.5, 0.0, 1.0}));
    // Lead -> MQL overall: 1, 1, 8, 1 converted, 27 open.
    const auto lm = tabulate_time_to_convert(h, 0, 1);
    ASSERT_EQ(lm.size(), 1u);
    EXPECT_EQ(lm.entered[0], 5);
    EXPECT_EQ(lm.converted[0], 4);
    EXPECT_EQ(lm.open[0], 1);
    EXPECT_EQ(lm.mean[0], 11.0 / 4);
    EXPECT_EQ(lm.p_closed_otherwise[0], 0.0);
    EXPECT_THROW((void)tabulate_time_to_convert(h, 3, 3), invalid_argument);
}

TEST(LifecycleTables, ExitsAndReasonsHandWorked) {
    const auto r = example();
    const auto model = stage_model::b2b();
    const auto f = compute_flow(build_histories(model, r.view()));
    const auto e = tabulate_exits(f, model);
    // Lead: e5 open; MQL: e4 open, e2 disqualified; SAL: nobody; SQL: e3 lost; Opportunity: e1 won.
    ASSERT_EQ(e.size(), 5u);
    EXPECT_EQ(e.open, (std::vector<std::int64_t>{1, 1, 0, 0, 0}));
    EXPECT_EQ(e.won, (std::vector<std::int64_t>{0, 0, 0, 0, 1}));
    EXPECT_EQ(e.lost, (std::vector<std::int64_t>{0, 0, 0, 1, 0}));
    EXPECT_EQ(e.disqualified, (std::vector<std::int64_t>{0, 1, 0, 0, 0}));
    EXPECT_EQ(e.total, (std::vector<std::int64_t>{1, 2, 0, 1, 1}));
    EXPECT_EQ(e.open_share[1], 0.5);
    EXPECT_EQ(e.disqualified_share[1], 0.5);
    EXPECT_EQ(e.won_share[4], 1.0);
    EXPECT_TRUE(std::isnan(e.open_share[2]));  // no exits from SAL: shares undefined
    const auto es = tabulate_exits(f, model, {.by_segment = true, .n_segments = 3});
    ASSERT_EQ(es.size(), 20u);
    EXPECT_EQ(es.total[row_of(es, 1, 0)], 1);  // e5 (segment 1) open in Lead
    EXPECT_EQ(es.total[row_of(es, 2, 0)], 0);  // segment 2 has nobody
    EXPECT_THROW((void)tabulate_exits(flow_counts(8, 3, 0, 0), model), invalid_argument);

    const auto why = tabulate_reasons(f);
    ASSERT_EQ(why.size(), 2u);
    EXPECT_EQ(why.rank, (std::vector<std::int32_t>{1, 3}));
    EXPECT_EQ(why.reason, (std::vector<std::int32_t>{2, 6}));
    EXPECT_EQ(why.count, (std::vector<std::int64_t>{1, 1}));
    EXPECT_EQ(why.share, (std::vector<double>{1.0, 1.0}));
    const auto ws = tabulate_reasons(f, {.by_segment = true, .n_segments = 5});
    EXPECT_EQ(ws.segment, (std::vector<std::int32_t>{-1, -1, 0, 1}));
}

TEST(LifecycleTables, ReachWithIntervals) {
    const auto r = example();
    const auto h = build_histories(stage_model::b2b(), r.view());
    const auto counts = reach(h);
    // Reached: Lead 5, MQL 4, SAL 3, SQL 2, Opportunity 1, Customer 1.
    const auto t = tabulate_reach(counts, {.groups = false});
    ASSERT_EQ(t.size(), 6u);
    EXPECT_EQ(t.reached, (std::vector<std::int64_t>{5, 4, 3, 2, 1, 1}));
    EXPECT_EQ(t.step_rate[1], 4.0 / 5);
    EXPECT_TRUE(std::isnan(t.step_rate[0]) && std::isnan(t.step_lower[0]));
    EXPECT_EQ(t.step_lower[2], rate_interval(3, 4)->lower);
    EXPECT_EQ(t.step_upper[2], rate_interval(3, 4)->upper);
    EXPECT_EQ(t.cum_lower[3], rate_interval(2, 5)->lower);
    EXPECT_EQ(t.cum_upper[0], 1.0);  // 5 of 5
    const auto g = tabulate_reach(counts, {.overall = false, .confidence = 0.9,
                                           .interval = interval_method::jeffreys});
    ASSERT_EQ(g.size(), 12u);
    EXPECT_EQ(g.segment[0], 0);
    EXPECT_EQ(g.entities[0], 2);
    EXPECT_EQ(g.cum_lower[6 + 3], rate_interval(1, 3, 0.9, interval_method::jeffreys)->lower);  // segment 1, SQL: e3
    EXPECT_EQ(tabulate_reach(counts).size(), 18u);
    // Recorded stages only: 3 entities recorded Lead and SQL but one recorded MQL and SAL, so
    // the SQL step rate is 3 / 1, no proportion: no interval.
    conversion_counts skipped(4, 0);
    skipped.add_entity(0b1001);
    skipped.add_entity(0b1001);
    skipped.add_entity(0b1111);
    const auto s = tabulate_reach(skipped);
    EXPECT_EQ(s.step_rate[3], 3.0);
    EXPECT_TRUE(std::isnan(s.step_lower[3]) && std::isnan(s.step_upper[3]));
    EXPECT_EQ(s.cum_lower[3], rate_interval(3, 3)->lower);
}

TEST(LifecycleTables, CohortMaturity) {
    EXPECT_TRUE(cohort_mature(100, 20, 120));
    EXPECT_FALSE(cohort_mature(100, 20, 119));
    EXPECT_TRUE(cohort_mature(100, 0, 100));
    // No overflow: a period ending near the end of time is never mature.
    EXPECT_FALSE(cohort_mature(std::numeric_limits<std::int64_t>::max() - 5, 10, std::numeric_limits<std::int64_t>::max()));
    EXPECT_THROW((void)cohort_mature(0, -1, 0), invalid_argument);
    const std::vector<std::int64_t> ends{10, 20, 30};
    EXPECT_EQ(mature_cohorts(ends, 5, 25), (std::vector<std::uint8_t>{1, 1, 0}));
    // assign_cohorts flags its periods with the histories' as_of: 90 days of data in months,
    // 20 days of maturity at the last record (late March): January and February are mature,
    // March not.
    const auto d = generate_sample({.leads = 3000, .seed = 5, .days = 90});
    const auto h = build_histories(sample_model(), d.records());
    const auto c = assign_cohorts(h, {.stage = 0, .period = period_kind::month, .maturity = 20 * 86'400});
    ASSERT_EQ(c.mature.size(), 3u);
    EXPECT_EQ(c.mature, mature_cohorts(c.end, 20 * 86'400, h.as_of()));
    EXPECT_EQ(c.mature, (std::vector<std::uint8_t>{1, 1, 0}));
    EXPECT_TRUE(assign_cohorts(h, {.stage = 0}).mature.empty());
}

TEST(LifecycleTables, OptionWords) {
    for (auto p : {recycled_passes::first_only, recycled_passes::every_pass})
        EXPECT_EQ(parse_recycled_passes(to_string(p)), p);
    EXPECT_EQ(to_string(recycled_passes::first_only), "first");
    EXPECT_EQ(parse_recycled_passes("every_pass"), recycled_passes::every_pass);
    try {
        (void)parse_recycled_passes("some");
        ADD_FAILURE();
    } catch (const invalid_argument& e) {
        EXPECT_STREQ(e.what(), "option 'passes': value 'some' is not one of 'first', 'every'");
    }
    for (auto k : {skipped_stages::implied, skipped_stages::not_implied}) EXPECT_EQ(parse_skipped_stages(to_string(k)), k);
    EXPECT_EQ(to_string(skipped_stages::not_implied), "recorded");
    EXPECT_THROW((void)parse_skipped_stages("skipped"), invalid_argument);
    for (auto o : {flow_counts::open, flow_counts::won, flow_counts::lost, flow_counts::disqualified})
        EXPECT_EQ(parse_outcome(to_string(o)), o);
    EXPECT_THROW((void)parse_outcome("closed"), invalid_argument);
}

TEST(LifecycleTables, StuckReportsHowFarOver) {
    const auto r = example();
    const auto h = build_histories(stage_model::b2b(), r.view(), {.as_of = 30});
    const auto b = stuck_entities(h, {.percentile = 90});
    ASSERT_EQ(b.over.size(), 2u);
    EXPECT_EQ(b.over, (std::vector<double>{23.0, 15.5}));
}

TEST(LifecycleTables, SummaryAsATable) {
    const auto r = example();
    const auto h = build_histories(stage_model::b2b(), r.view(), {.as_of = 30});
    const auto s = summarize(h);
    const auto t = tabulate_summary(s, {.by_segment = true, .n_segments = 3});
    ASSERT_EQ(t.size(), 4u * 6u);  // overall and three segments, six ladder stages
    // Overall Lead: 5 entities reached it; completed visits 1, 1, 8, 1, 1, 5.
    EXPECT_EQ(t.entities[0], 5);
    EXPECT_EQ(t.reached[0], 5);
    EXPECT_EQ(t.completed[0], 6);
    EXPECT_EQ(t.mean[0], 17.0 / 6);
    EXPECT_EQ(t.p90[0], 6.5);
    EXPECT_EQ(t.step_rate[1], 4.0 / 5);  // MQL
    EXPECT_TRUE(std::isnan(t.mean[5]));  // Customer: no visits
    // Segment 2 has no entities: zeros and undefined numbers.
    EXPECT_EQ(t.segment[18], 2);
    EXPECT_EQ(t.entities[18], 0);
    EXPECT_TRUE(std::isnan(t.cumulative_rate[18]) && std::isnan(t.median[18]));
    EXPECT_EQ(tabulate_summary(s).size(), 6u);
}

// Found by fuzzing: a record far enough before as_of made durations overflow int64 (undefined
// behaviour in time_in_stage); and the smallest int64 is the 'never' of entry times.
TEST(Lifecycle, TimesAtTheInt64LimitsAreCheckedNotOverflowed) {
    const std::int64_t lo = std::numeric_limits<std::int64_t>::min(), hi = std::numeric_limits<std::int64_t>::max();
    rows r;
    r.add(1, lo + 1, 0, 0);
    r.add(1, hi, 1, 0);
    EXPECT_EQ(error_of([&] { (void)build_histories(stage_model::b2b(), r.view()); }),
              "column 'time', row 0: value -9223372036854775807 is more than 2^63 - 1 ticks before as_of "
              "9223372036854775807: durations would not fit int64");
    rows at_never;
    at_never.add(1, lo, 0, 0);
    EXPECT_EQ(error_of([&] { (void)build_histories(stage_model::b2b(), at_never.view()); }),
              "column 'time', row 0: value -9223372036854775808 is reserved for 'never' (the smallest int64)");
    // The widest span that fits: every duration is computed exactly.
    rows wide;
    wide.add(1, 0, 0, 0);
    wide.add(1, hi - 1, 1, 0);
    const auto h = build_histories(stage_model::b2b(), wide.view(), {.as_of = hi});
    const auto v = time_in_stage(h);
    ASSERT_EQ(v.duration.size(), 2u);
    EXPECT_EQ(v.duration[0], hi - 1);
    EXPECT_EQ(v.duration[1], 1);
    EXPECT_EQ(time_to_convert(h, 0, 5).duration, (std::vector<std::int64_t>{hi}));
    wide.time[0] = -1;  // one tick more: as_of - (-1) does not fit
    EXPECT_THROW((void)build_histories(stage_model::b2b(), wide.view(), {.as_of = hi}), invalid_argument);
}

// Found by fuzzing: exact duplicates with different reasons kept the reason of whichever row
// came first, so the reasons of exits changed with the row order.
TEST(Lifecycle, DuplicateRecordsKeepTheSmallestReasonInAnyRowOrder) {
    rows a;
    a.add(1, 0, 0, 0);
    a.add(1, 5, 7, 0, 4);
    a.add(1, 5, 7, 0, 2);
    rows b;
    b.add(1, 5, 7, 0, 2);
    b.add(1, 5, 7, 0, 4);
    b.add(1, 0, 0, 0);
    const auto ha = build_histories(stage_model::b2b(), a.view());
    const auto hb = build_histories(stage_model::b2b(), b.view());
    EXPECT_EQ(ha.last_reason(0), 2);
    EXPECT_EQ(hb.last_reason(0), 2);
    EXPECT_EQ(summarize(ha), summarize(hb));
}

// Found by fuzzing: a flow state without stage codes but with segments lost them when merged
// into an empty state (the empty side was taken for the identity and the other one dropped).
TEST(Lifecycle, ShapelessFlowCountsMergeKeepTheirShape) {
    const flow_counts shapeless(0, 0, 3, 2);
    flow_counts empty;
    empty.merge(shapeless);
    EXPECT_EQ(empty, shapeless);
    const auto r = example();
    auto f = compute_flow(build_histories(stage_model::b2b(), r.view(), {.as_of = 30}));
    const auto before = f;
    f.merge(flow_counts(0, 0, 5, 9));
    EXPECT_EQ(f.n_segments(), 5u);
    EXPECT_EQ(f.n_reasons(), 9u);
    EXPECT_EQ(f.transitions(0, 1), before.transitions(0, 1));
    EXPECT_EQ(f.exits(4, flow_counts::won), before.exits(4, flow_counts::won));
}

// Found by fuzzing (a slow input): growing a flow state visited every (segment, rank) cell one by
// one, even without ladder stages, where a state may claim 2^31 segments and hold no count.
TEST(Lifecycle, GrowingFlowCountsCopiesBlocks) {
    const flow_counts claims(0, 0, (std::size_t{1} << 31) - 1, 3);
    flow_counts empty;
    const auto t0 = std::chrono::steady_clock::now();
    empty.merge(claims);
    EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 1.0);
    EXPECT_EQ(empty, claims);
    // With ladder stages: counts keep their cells when the segments and reasons grow.
    flow_counts a(3, 2, 1, 1), b(3, 2, 2, 3);
    a.add_exit(1, flow_counts::lost, 0, 0);
    b.add_exit(0, flow_counts::disqualified, 1, 2);
    a.merge(b);
    EXPECT_EQ(a.exits(1, flow_counts::lost, 0), 1);
    EXPECT_EQ(a.reasons(1, 0, 0), 1);
    EXPECT_EQ(a.reasons(0, 2, 1), 1);
    EXPECT_EQ(a.reasons(1, 0), 1);
    EXPECT_EQ(a.exits(0, flow_counts::disqualified), 1);
}

// Histories of shuffled and time-ordered records, built on 1 to 3 threads (the grouping
// primitive), equal those of records in history order, column by column.
TEST(Lifecycle, HistoriesOfAnyRowOrderAndThreadCountAreIdentical) {
    // Enough records for three threads (each takes at least 8192 records).
    const auto data = generate_sample({.leads = 12000, .seed = 17});
    const auto model = sample_model();
    const auto ref = build_histories(model, data.records());
    const std::size_t n = data.size();
    ASSERT_GT(n, 3u * 8192u);
    std::vector<std::size_t> shuffled(n), by_time(n);
    std::iota(shuffled.begin(), shuffled.end(), 0);
    std::iota(by_time.begin(), by_time.end(), 0);
    std::mt19937_64 g(3);
    std::shuffle(shuffled.begin(), shuffled.end(), g);
    std::stable_sort(by_time.begin(), by_time.end(), [&](std::size_t a, std::size_t b) { return data.time[a] < data.time[b]; });
    auto same = [](auto a, auto b) { return std::equal(a.begin(), a.end(), b.begin(), b.end()); };
    for (const auto* p : {&shuffled, &by_time}) {
        const auto e = permuted(data.entity, *p), t = permuted(data.time, *p);
        const auto s = permuted(data.stage, *p), seg = permuted(data.source, *p);
        const auto a = permuted(data.amount, *p);
        const auto why = permuted(data.reason, *p);
        for (unsigned threads : {1u, 2u, 3u}) {
            history_options o;
            o.threads = threads;
            const auto h = build_histories(model, {e, t, s, seg, a, why}, o);
            ASSERT_EQ(h.size(), ref.size());
            EXPECT_TRUE(same(h.entities(), ref.entities()));
            EXPECT_TRUE(same(h.offsets(), ref.offsets()));
            EXPECT_TRUE(same(h.event_times(), ref.event_times()));
            EXPECT_TRUE(same(h.event_stages(), ref.event_stages()));
            EXPECT_TRUE(same(h.segments(), ref.segments()));
            EXPECT_TRUE(same(h.event_reasons(), ref.event_reasons()));
            for (std::size_t i = 0; i < h.size(); ++i) {
                ASSERT_EQ(h.recorded(i), ref.recorded(i));
                ASSERT_EQ(h.recycles(i), ref.recycles(i));
                ASSERT_EQ(h.last_reason(i), ref.last_reason(i));
            }
            EXPECT_EQ(compute_flow(h), compute_flow(ref));
            EXPECT_EQ(summarize(h, {}), summarize(ref, {}));
        }
    }
}
