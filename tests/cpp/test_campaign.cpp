#include <gtest/gtest.h>

#include <funnelkit/campaign.hpp>
#include <funnelkit/conversion.hpp>
#include <funnelkit/error.hpp>
#include <funnelkit/synthetic.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <type_traits>
#include <limits>
#include <optional>
#include <vector>

using namespace funnelkit;

namespace {
// Lead=0 MQL=1 SAL=2 SQL=3 Opportunity=4 Customer=5 Lost=6 Disqualified=7
struct rows {
    std::vector<std::int64_t> entity, time;
    std::vector<std::int32_t> stage, segment;
    std::vector<double> amount;
    void add(std::int64_t e, std::int64_t t, std::int32_t s, std::int32_t g, double a = 0) {
        entity.push_back(e); time.push_back(t); stage.push_back(s); segment.push_back(g); amount.push_back(a);
    }
    stage_records view() const { return {entity, time, stage, segment, amount}; }
};
constexpr std::int64_t day = 86'400;

// Segment 0: e1 walks to Customer in 10 days (1000); e2 MQL then disqualified; e3 skips to SQL,
// opportunity, lost. Segment 1: e4 wins in 20 days (3000); e5, e6 leads; e7 MQL.
rows hand() {
    rows r;
    r.add(1, 0, 0, 0); r.add(1, day, 1, 0); r.add(1, 2 * day, 2, 0); r.add(1, 3 * day, 3, 0);
    r.add(1, 4 * day, 4, 0, 1000); r.add(1, 10 * day, 5, 0, 1000);
    r.add(2, 0, 0, 0); r.add(2, day, 1, 0); r.add(2, 2 * day, 7, 0);
    r.add(3, 0, 0, 0); r.add(3, day, 3, 0); r.add(3, 2 * day, 4, 0, 500); r.add(3, 9 * day, 6, 0, 500);
    r.add(4, 0, 0, 1); r.add(4, day, 1, 1); r.add(4, 2 * day, 2, 1); r.add(4, 3 * day, 3, 1);
    r.add(4, 4 * day, 4, 1, 3000); r.add(4, 20 * day, 5, 1, 3000);
    r.add(5, 0, 0, 1); r.add(6, 0, 0, 1); r.add(7, 0, 0, 1); r.add(7, day, 1, 1);
    return r;
}
}  // namespace

TEST(Campaign, HandWorked) {
    const auto r = hand();
    campaign_options op;
    op.cost = {300.0, std::nan("")};
    const auto rep = campaign_report(stage_model::b2b(), r.view(), op);
    ASSERT_EQ(rep.rows.size(), 2u);
    const auto& a = rep.rows[0];
    EXPECT_EQ(a.leads, 3);
    EXPECT_EQ(a.mqls, 3);
    EXPECT_EQ(a.sqls, 2);
    EXPECT_EQ(a.opportunities, 2);
    EXPECT_EQ(a.won, 1);
    EXPECT_EQ(a.lost, 1);
    EXPECT_DOUBLE_EQ(a.revenue, 1000);
    EXPECT_DOUBLE_EQ(*a.cost_per_lead, 100);
    EXPECT_DOUBLE_EQ(*a.cost_per_mql, 100);
    EXPECT_DOUBLE_EQ(*a.cac, 300);
    EXPECT_DOUBLE_EQ(*a.roi, 700.0 / 300);
    EXPECT_DOUBLE_EQ(*a.days_to_win, 10);
    EXPECT_DOUBLE_EQ(*a.win_rate, 0.5);
    EXPECT_DOUBLE_EQ(*a.velocity, 2 * 1000 * 0.5 / 10);
    EXPECT_FALSE(a.cost_missing);
    const auto& b = rep.rows[1];
    EXPECT_EQ(b.leads, 4);
    EXPECT_EQ(b.mqls, 2);
    EXPECT_EQ(b.won, 1);
    EXPECT_DOUBLE_EQ(b.revenue, 3000);
    EXPECT_TRUE(b.cost_missing);
    EXPECT_FALSE(b.cac.has_value());
    EXPECT_DOUBLE_EQ(*b.velocity, 1 * 3000 * 1.0 / 20);
    EXPECT_EQ(rep.missing_cost, (std::vector<std::int32_t>{1}));
    EXPECT_EQ(rep.total.leads, 7);
    EXPECT_DOUBLE_EQ(rep.total.revenue, 4000);
    EXPECT_TRUE(rep.total.cost_missing);
    EXPECT_DOUBLE_EQ(*rep.total.cost, 300);
    EXPECT_FALSE(rep.total.cac.has_value());
    // Rates and the z-test: 1/3 vs 1/4, pooled 2/7.
    EXPECT_EQ(a.lead_to_won.x, 1);
    EXPECT_EQ(a.lead_to_won.n, 3);
    EXPECT_DOUBLE_EQ(*a.mql_to_sql.rate, 2.0 / 3);
    const double se = std::sqrt(2.0 / 7 * 5.0 / 7 * (1.0 / 3 + 1.0 / 4));
    EXPECT_NEAR(*a.z, (1.0 / 3 - 1.0 / 4) / se, 1e-12);
    EXPECT_NEAR(*b.z, -*a.z, 1e-12);
    EXPECT_NEAR(*a.p_value, std::erfc(std::abs(*a.z) / std::sqrt(2.0)), 1e-15);
    EXPECT_NEAR(*a.p_holm, std::min(1.0, 2 * *a.p_value), 1e-12);
    // With every cost known the total has its metrics.
    op.cost = {300.0, 700.0};
    const auto full = campaign_report(stage_model::b2b(), r.view(), op);
    EXPECT_FALSE(full.total.cost_missing);
    EXPECT_DOUBLE_EQ(*full.total.cac, 500);
    EXPECT_DOUBLE_EQ(*full.total.roi, 3.0);
}

TEST(Campaign, WilsonIntervalMatchesTheDomainExample) {
    // 7 of 50 at 95%: [0.069508, 0.261862]. Segment 0 holds 50 leads of which 7 are won.
    rows r;
    for (int e = 0; e < 50; ++e) {
        r.add(e, 0, 0, 0);
        if (e < 7) r.add(e, day, 5, 0, 1);
    }
    const auto rep = campaign_report(stage_model::b2b(), r.view());
    EXPECT_NEAR(*rep.rows[0].lead_to_won.lower, 0.069508, 5e-7);
    EXPECT_NEAR(*rep.rows[0].lead_to_won.upper, 0.261862, 5e-7);
    EXPECT_FALSE(rep.rows[0].z.has_value());  // no other leads to compare with
}

TEST(Campaign, SampleDataAgreesWithConversionCounts) {
    const auto d = generate_sample({.leads = 5000, .seed = 8});
    const auto model = sample_model();
    const auto rep = campaign_report(model, d.records());
    const auto conv = conversion(model, d.records());
    ASSERT_EQ(rep.rows.size(), sample_sources().size());
    std::int64_t leads = 0;
    for (std::size_t g = 0; g < rep.rows.size(); ++g) {
        const auto s = static_cast<std::int32_t>(g);
        const auto& row = rep.rows[g];
        EXPECT_EQ(row.leads, conv.entities(s));
        EXPECT_EQ(row.mqls, conv.reached(1, s));
        EXPECT_EQ(row.sqls, conv.reached(3, s));
        EXPECT_EQ(row.opportunities, conv.reached(4, s));
        EXPECT_EQ(row.won, conv.reached(5, s));
        EXPECT_GT(row.revenue, 0.0);
        leads += row.leads;
    }
    EXPECT_EQ(leads, 5000);
    // By campaign: the same entities split finer.
    const auto by_campaign = campaign_report(model, {d.entity, d.time, d.stage, d.campaign, d.amount});
    EXPECT_EQ(by_campaign.rows.size(), sample_campaigns().size());
    EXPECT_EQ(by_campaign.total.won, rep.total.won);
    EXPECT_DOUBLE_EQ(by_campaign.total.revenue, rep.total.revenue);
}

TEST(Campaign, BadInput) {
    const auto r = hand();
    campaign_options op;
    op.cost = {1.0, -5.0};
    try {
        (void)campaign_report(stage_model::b2b(), r.view(), op);
        FAIL();
    } catch (const invalid_argument& e) {
        EXPECT_STREQ(e.what(), "column 'cost', row 1: value -5 is not a cost >= 0 (NaN marks a missing cost)");
    }
    op = {};
    op.mql_stage = "Lost";
    EXPECT_THROW((void)campaign_report(stage_model::b2b(), r.view(), op), invalid_argument);
    op.mql_stage = "Nope";
    EXPECT_THROW((void)campaign_report(stage_model::b2b(), r.view(), op), invalid_argument);
    op = {};
    op.level = 1.0;
    EXPECT_THROW((void)campaign_report(stage_model::b2b(), r.view(), op), invalid_argument);
    EXPECT_THROW((void)campaign_report(stage_model::b2b(), {r.entity, r.time, r.stage}), invalid_argument);
    const std::vector<std::int64_t> none;
    const std::vector<std::int32_t> none32;
    const auto empty = campaign_report(stage_model::b2b(), {none, none, none32, none32});
    EXPECT_TRUE(empty.rows.empty());
    EXPECT_EQ(empty.total.leads, 0);
}

// With skipped stages not implied a step rate can exceed 1 (an entity with a SQL record but no
// MQL record): the report used to fail with "successes 3 exceeds trials 2". The rate is
// reported; its interval is undefined, as for a rate of 0 trials.
TEST(Campaign, StepRateAboveOneHasNoInterval) {
    auto r = hand();
    r.add(8, 0, 0, 0);
    r.add(8, day, 3, 0);  // Lead -> SQL, no MQL record
    campaign_options op;
    op.skipped = skipped_stages::not_implied;
    const auto rep = campaign_report(stage_model::b2b(), r.view(), op);
    const auto& s = rep.rows[0].mql_to_sql;
    EXPECT_EQ(s.x, 3);
    EXPECT_EQ(s.n, 2);
    EXPECT_EQ(s.rate, std::optional<double>(1.5));
    EXPECT_FALSE(s.lower.has_value());
    EXPECT_FALSE(s.upper.has_value());
    ASSERT_TRUE(rep.rows[0].lead_to_mql.lower.has_value());  // a proportion keeps its interval
    // The sample data (referrals skip to SQL) goes through as well.
    const auto sample = generate_sample({.leads = 5000, .seed = 7});
    const auto whole = campaign_report(sample_model(), sample.records(), op);
    bool above_one = false;
    for (const auto& row : whole.rows)
        for (const auto* e : {&row.lead_to_mql, &row.mql_to_sql, &row.sql_to_opportunity, &row.opportunity_to_won}) {
            if (e->x > e->n) {
                above_one = true;
                EXPECT_GT(*e->rate, 1.0);
                EXPECT_FALSE(e->lower.has_value());
            } else if (e->n > 0) {
                EXPECT_TRUE(e->lower.has_value());
            }
        }
    EXPECT_TRUE(above_one);
}

// Days to win from the exact integer difference: no overflow (undefined behaviour before) and no
// lost digits at the int64 limits.
TEST(Campaign, DaysToWinAtTheInt64Limits) {
    rows r;
    const std::int64_t hi = std::numeric_limits<std::int64_t>::max();
    r.add(1, std::numeric_limits<std::int64_t>::min() + 1, 0, 0);
    r.add(1, hi, 5, 0, 10);
    r.add(2, hi - 3 * day - 1000, 0, 0);
    r.add(2, hi - 1000, 5, 1, 10);
    const auto rep = campaign_report(stage_model::b2b(), r.view());
    ASSERT_TRUE(rep.rows[0].days_to_win.has_value());
    // Entity 1: (2^64 - 2) seconds; entity 2: exactly 3 days.
    EXPECT_DOUBLE_EQ(*rep.rows[0].days_to_win, (18446744073709551614.0 / day + 3.0) / 2.0);
}

// Shuffled, time-ordered and entity-sorted records on 1 to 3 threads: the same state (and
// report); tied won records count their largest amount in any row order.
TEST(Campaign, AnyRowOrderAndThreadCountGiveTheSameState) {
    const auto data = generate_sample({.leads = 12000, .seed = 23});
    const auto model = sample_model();
    const std::size_t n = data.size();
    ASSERT_GT(n, 3u * 8192u);  // enough rows for three threads
    std::vector<std::size_t> shuffled(n), by_time(n), sorted(n);
    std::iota(shuffled.begin(), shuffled.end(), 0);
    std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937_64(4));
    by_time = shuffled;
    std::stable_sort(by_time.begin(), by_time.end(), [&](std::size_t a, std::size_t b) { return data.time[a] < data.time[b]; });
    sorted = shuffled;
    std::stable_sort(sorted.begin(), sorted.end(), [&](std::size_t a, std::size_t b) { return data.entity[a] < data.entity[b]; });
    const auto permuted = [](const auto& v, const std::vector<std::size_t>& p) {
        std::remove_cvref_t<decltype(v)> out(p.size());
        for (std::size_t i = 0; i < p.size(); ++i) out[i] = v[p[i]];
        return out;
    };
    std::optional<campaign_state> ref;
    for (const auto* p : {&sorted, &by_time, &shuffled}) {
        const auto e = permuted(data.entity, *p), t = permuted(data.time, *p);
        const auto s = permuted(data.stage, *p), g = permuted(data.source, *p);
        const auto a = permuted(data.amount, *p);
        for (unsigned threads : {1u, 2u, 3u}) {
            campaign_options op;
            op.threads = threads;
            const auto st = campaign_sums(model, {e, t, s, g, a}, op);
            if (!ref) ref = st;
            else EXPECT_TRUE(st == *ref) << "threads " << threads;
        }
    }
    campaign_options bad;
    bad.threads = 0;
    EXPECT_THROW(campaign_sums(model, data.records(), bad), invalid_argument);

    // Two won records of one lead at the same time: the larger amount, whichever row is first.
    for (const bool larger_first : {false, true}) {
        rows r;
        r.add(1, 0, 0, 0);
        r.add(1, day, 5, 0, larger_first ? 900 : 100);
        r.add(1, day, 5, 0, larger_first ? 100 : 900);
        r.add(2, 0, 0, 0);
        for (const bool shuffle_rows : {false, true}) {
            rows q = r;
            if (shuffle_rows) {  // entity order broken: the fold path
                std::swap(q.entity[0], q.entity[3]), std::swap(q.time[0], q.time[3]);
                std::swap(q.stage[0], q.stage[3]), std::swap(q.segment[0], q.segment[3]);
                std::swap(q.amount[0], q.amount[3]);
            }
            const auto rep = campaign_report(sample_model(), q.view(), {});
            EXPECT_DOUBLE_EQ(rep.total.revenue, 900.0) << larger_first << shuffle_rows;
        }
    }
}
