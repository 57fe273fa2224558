#include <gtest/gtest.h>

#include <funnelkit/conversion.hpp>
#include <funnelkit/error.hpp>
#include <funnelkit/planning.hpp>
#include <funnelkit/synthetic.hpp>

#include <chrono>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

using namespace funnelkit;

namespace {
reverse_funnel_options domain_plan() {
    reverse_funnel_options o;
    o.goal = 40'000;
    o.basis = goal_basis::per_period;
    o.deal_value = 800;
    o.steps = {{"Lead", 0.5}, {"Connect", 0.6}, {"Discovery call", 0.5}, {"Demo", 1.0 / 3.0}};
    o.reps = 10;
    return o;
}
}  // namespace

TEST(Planning, FloatingPointTrapIsReal) {
    const double p = 0.5 * 0.6 * 0.5 * (1.0 / 3.0);
    EXPECT_EQ(p, 0.049999999999999996);
    EXPECT_EQ(std::ceil(50 / p), 1001.0);  // the naive plan asks for one lead too many
    EXPECT_EQ(ceil_whole(50 / p), 1000.0);
    EXPECT_EQ(ceil_whole(1000.4), 1001.0);
    EXPECT_EQ(ceil_whole(1000.00001), 1001.0);  // 1e-8 relative excess is real, above 1e-9
    EXPECT_EQ(ceil_whole(0.0), 0.0);
    // The tolerance is relative: at 1e15 anything within 1e6 of an integer is that integer.
    EXPECT_EQ(ceil_whole(1e15 + 0.5), 1e15);
    EXPECT_EQ(ceil_whole(1000.0000000001), 1000.0);
    EXPECT_EQ(ceil_whole(1000.4, 0.0), 1001.0);
    EXPECT_EQ(ceil_whole(50 / p, 0.0), 1001.0);  // tolerance 0 is the plain ceiling
    EXPECT_THROW(ceil_whole(std::nan("")), invalid_argument);
    EXPECT_THROW(ceil_whole(INFINITY), invalid_argument);
}

TEST(Planning, DomainWorkedExample) {
    for (auto rounding : {plan_rounding::from_goal, plan_rounding::chained}) {
        auto o = domain_plan();
        o.rounding = rounding;
        const auto plan = plan_reverse_funnel(o);
        ASSERT_EQ(plan.rows.size(), 5u);
        const double want[] = {1000, 500, 300, 150, 50};
        const char* names[] = {"Lead", "Connect", "Discovery call", "Demo", "Customer"};
        for (std::size_t k = 0; k < 5; ++k) {
            EXPECT_EQ(plan.rows[k].name, names[k]);
            EXPECT_EQ(plan.rows[k].volume, want[k]) << names[k];
            EXPECT_EQ(plan.rows[k].per_period, want[k]);
            EXPECT_EQ(plan.rows[k].per_rep_per_period, want[k] / 10) << names[k];
        }
        EXPECT_EQ(plan.rows[0].per_rep_per_period, 100);
        EXPECT_NEAR(plan.rows[0].rate_to_won, 0.05, 1e-15);
        EXPECT_FALSE(plan.rows[4].rate.has_value());
        EXPECT_NE(plan.explain().json().find("\"volume Lead\": 1000,"), std::string::npos);
    }
    // The same goal over a year: total 480,000, 12 periods.
    auto y = domain_plan();
    y.goal = 480'000;
    y.basis = goal_basis::total;
    y.periods = 12;
    const auto plan = plan_reverse_funnel(y);
    EXPECT_EQ(plan.rows[0].volume, 12'000);
    EXPECT_EQ(plan.rows[0].per_period, 1000);
    EXPECT_EQ(plan.rows[0].per_rep_per_period, 100);
}

// The example: $35,000 at $800 is 43.75 deals. Rounding the deals first (or chained)
// asks for 44 deals and so 880 leads at the 5% lead-to-deal rate; rounding the unrounded goal
// once per stage asks for ceil(43.75 / 0.05) = 875 leads.
TEST(Planning, RoundOnceFromTheUnroundedGoal) {
    auto o = domain_plan();
    o.goal = 35'000;
    const double first[] = {880, 440, 264, 132, 44};
    const double once[] = {875, 438, 263, 132, 44};  // 875, 437.5, 262.5, 131.25, 43.75 rounded up
    for (auto mode : {plan_rounding::deals_first, plan_rounding::chained, plan_rounding::round_once}) {
        o.rounding = mode;
        const auto plan = plan_reverse_funnel(o);
        for (std::size_t k = 0; k < 5; ++k) {
            const double want = mode == plan_rounding::round_once ? once[k] : first[k];
            EXPECT_EQ(plan.rows[k].volume, want) << k << " mode " << static_cast<int>(mode);
        }
    }
    o.rounding = plan_rounding::round_once;
    const auto plan = plan_reverse_funnel(o);
    // Per rep from the unrounded volume: 875 / 10 = 87.5 -> 88 (deals first: 880 / 10 = 88 too);
    // 43.75 / 10 = 4.375 -> 5 deals per rep.
    EXPECT_EQ(plan.rows[0].per_rep_per_period, 88);
    EXPECT_EQ(plan.rows[4].per_rep_per_period, 5);
    EXPECT_NE(plan.explain().formula.find("rounded once"), std::string::npos);
    EXPECT_NE(plan.explain().json().find("\"rounding\": \"round_once\""), std::string::npos);
    // Not fooled by floating point either: $40,000 gives 1,000 leads in every mode.
    o.goal = 40'000;
    EXPECT_EQ(plan_reverse_funnel(o).rows[0].volume, 1000);
    // from_goal is the former name of deals_first.
    EXPECT_EQ(plan_rounding::from_goal, plan_rounding::deals_first);
}

TEST(Planning, RoundingModesDiffer) {
    reverse_funnel_options o;
    o.goal = 1000;
    o.deal_value = 1000;
    o.steps = {{"a", 0.3}, {"b", 0.3}};
    const auto g = plan_reverse_funnel(o);
    EXPECT_EQ(g.rows[1].volume, 4);   // ceil(1 / 0.3)
    EXPECT_EQ(g.rows[0].volume, 12);  // ceil(1 / 0.09)
    o.rounding = plan_rounding::chained;
    const auto c = plan_reverse_funnel(o);
    EXPECT_EQ(c.rows[0].volume, 14);  // ceil(4 / 0.3)
    // Deals are whole too: 41,000 at 800 is 51.25 -> 52 customers.
    o.goal = 41'000;
    o.deal_value = 800;
    o.steps.clear();
    EXPECT_EQ(plan_reverse_funnel(o).rows[0].volume, 52);
    EXPECT_DOUBLE_EQ(plan_reverse_funnel(o).rows[0].exact, 51.25);
}

// Exact reference with integers: rates p/q, deals integer; volume = ceil(deals * prod q / prod p).
TEST(Planning, MatchesExactRationalArithmetic) {
    std::mt19937_64 g(99);
    int differs_from_naive = 0;
    for (int trial = 0; trial < 20'000; ++trial) {
        const int K = 1 + static_cast<int>(g() % 5);
        std::vector<std::int64_t> num(K), den(K);
        reverse_funnel_options o;
        const std::int64_t deals = 1 + static_cast<std::int64_t>(g() % 500);
        o.deal_value = 800;
        o.goal = static_cast<double>(deals) * 800;
        for (int k = 0; k < K; ++k) {
            den[k] = 2 + static_cast<std::int64_t>(g() % 11);
            num[k] = 1 + static_cast<std::int64_t>(g() % static_cast<std::uint64_t>(den[k]));
            o.steps.push_back({"s" + std::to_string(k), static_cast<double>(num[k]) / static_cast<double>(den[k])});
        }
        for (auto mode : {plan_rounding::from_goal, plan_rounding::chained}) {
            o.rounding = mode;
            const auto plan = plan_reverse_funnel(o);
            std::int64_t pn = 1, pd = 1;  // at most 12^5: no overflow
            std::int64_t below = deals;
            double naive_prod = 1;
            for (int k = K - 1; k >= 0; --k) {
                std::int64_t want;
                if (mode == plan_rounding::from_goal) {
                    pn *= num[k];
                    pd *= den[k];
                    const std::int64_t a = deals * pd;
                    want = static_cast<std::int64_t>((a + pn - 1) / pn);
                    naive_prod *= o.steps[static_cast<std::size_t>(k)].rate;
                    if (std::ceil(static_cast<double>(deals) / naive_prod) != static_cast<double>(want)) ++differs_from_naive;
                } else {
                    const std::int64_t a = below * den[k];
                    want = (a + num[k] - 1) / num[k];
                }
                ASSERT_EQ(plan.rows[static_cast<std::size_t>(k)].volume, static_cast<double>(want)) << trial << " k=" << k;
                below = want;
            }
        }
    }
    // The naive ceiling is wrong often enough that this test would catch it.
    EXPECT_GT(differs_from_naive, 100);
}

TEST(Planning, BadPlans) {
    auto o = domain_plan();
    o.steps[2].rate = 0;
    try {
        plan_reverse_funnel(o);
        FAIL();
    } catch (const invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("infinite"), std::string::npos);
        EXPECT_NE(std::string(e.what()).find("Discovery call"), std::string::npos);
    }
    o = domain_plan();
    o.goal = -1;
    EXPECT_THROW(plan_reverse_funnel(o), invalid_argument);
    o = domain_plan();
    o.deal_value = 0;
    EXPECT_THROW(plan_reverse_funnel(o), invalid_argument);
    o = domain_plan();
    o.steps[0].rate = 1.2;
    EXPECT_THROW(plan_reverse_funnel(o), invalid_argument);
    o = domain_plan();
    o.reps = 0;
    EXPECT_THROW(plan_reverse_funnel(o), invalid_argument);
    o = domain_plan();
    o.goal = 1e308;
    o.deal_value = 1e-300;
    EXPECT_THROW(plan_reverse_funnel(o), invalid_argument);
}

TEST(Planning, Capacity) {
    const auto r = reps_needed(1000, 20, capacity_unit::per_week);
    EXPECT_DOUBLE_EQ(r.capacity_per_month, 20.0 * 52 / 12);
    EXPECT_EQ(r.reps, 12);  // 1000 / 86.67 = 11.54
    // Exactly 12 reps' worth must not become 13.
    const auto e = reps_needed(12 * (20.0 * 52 / 12), 20, capacity_unit::per_week);
    EXPECT_EQ(e.reps, 12);
    EXPECT_EQ(reps_needed(1040, 20, capacity_unit::per_week).reps, 12);
    EXPECT_EQ(reps_needed(100, 100).reps, 1);
    EXPECT_EQ(reps_needed(0, 100).reps, 0);
    EXPECT_THROW(reps_needed(100, 0), invalid_argument);
    EXPECT_THROW(reps_needed(-1, 10), invalid_argument);
    EXPECT_NE(r.explain().text().find("52 / 12"), std::string::npos);
}

TEST(Planning, GoalSplit) {
    const goal_share shares[] = {{"marketing", 0.6}, {"sales", 0.3}, {"partners", 0.1}};
    const auto s = split_goal(1'000'000, shares);
    ASSERT_EQ(s.size(), 3u);
    EXPECT_DOUBLE_EQ(s[0].goal, 600'000);
    EXPECT_DOUBLE_EQ(s[2].goal, 100'000);
    const goal_share bad[] = {{"a", 0.6}, {"b", 0.3}};
    EXPECT_THROW(split_goal(1, bad), invalid_argument);
    const goal_share neg[] = {{"a", 1.5}, {"b", -0.5}};
    EXPECT_THROW(split_goal(1, neg), invalid_argument);
}

TEST(Planning, StepsFromConversionOfTheSample) {
    const auto s = generate_sample({.leads = 5000, .seed = 1});
    const auto model = sample_model();
    const auto counts = conversion(model, s.records());
    const auto steps = steps_from_conversion(model, counts);
    ASSERT_EQ(steps.size(), 5u);
    EXPECT_EQ(steps[0].name, "Lead");
    EXPECT_EQ(*counts.step_rate(1), steps[0].rate);
    reverse_funnel_options o;
    o.goal = 1'000'000;
    o.deal_value = 20'000;
    o.steps = steps;
    const auto plan = plan_reverse_funnel(o);
    EXPECT_EQ(plan.rows.back().volume, 50);
    EXPECT_GT(plan.rows[0].volume, plan.rows[1].volume);
}

// ---- lags ----------------------------------------------------------------------------------

TEST(Lags, EstimateHandExample) {
    const std::int64_t P = 100;
    // Segment 0: 4 mature leads, wins at lags 0, 1, 1; segment 1: 2 mature leads, 1 win at lag 2
    // and one win beyond max_lag; one immature lead (created too late) is ignored.
    std::vector<std::int64_t> created{0, 10, 20, 30, 0, 5, 700};
    std::vector<std::int64_t> won{50, 150, 199, missing_time, 250, 900, 710};
    std::vector<std::int32_t> seg{0, 0, 0, 0, 1, 1, 0};
    std::vector<double> amt{10, 20, 30, 0, 40, 50, 60};
    lag_options o;
    o.period = P;
    o.max_lag = 3;
    o.data_end = 1000;
    const auto d = estimate_lags({created, won, seg, amt}, o);
    ASSERT_EQ(d.size(), 3u);
    EXPECT_EQ(d[0].leads, 6);
    EXPECT_EQ(d[0].wins, 4);
    EXPECT_EQ(d[0].beyond, 1);
    EXPECT_DOUBLE_EQ(*d[0].win_rate, 4.0 / 6);
    EXPECT_EQ(d[0].shares, (std::vector<double>{0.25, 0.5, 0.25, 0}));
    EXPECT_DOUBLE_EQ(*d[0].deal_value, 25);
    EXPECT_EQ(d[1].shares, (std::vector<double>{1.0 / 3, 2.0 / 3, 0, 0}));
    EXPECT_EQ(d[2].shares, (std::vector<double>{0, 0, 1, 0}));
    EXPECT_DOUBLE_EQ(*d[2].win_rate, 0.5);
    // Won before the lead came in: error.
    won[0] = -1;
    EXPECT_THROW(estimate_lags({created, won, seg, amt}, o), invalid_argument);
    // No mature lead: flagged, not NaN.
    won[0] = 50;
    o.data_end = 100;
    const auto none = estimate_lags({created, won, seg, amt}, o);
    EXPECT_FALSE(none[0].win_rate.has_value());
    EXPECT_FALSE(none[0].reason.empty());
}

TEST(Lags, ForwardProjectionByHand) {
    lag_model m{0.1, {0.5, 0.3, 0.2}, 1000};
    const double leads[] = {100, 200, 0};
    const double history[] = {50, 80};  // months -2, -1
    const auto p = project_forward(m, leads, history);
    // month 0: 0.1 * (100*0.5 + 80*0.3 + 50*0.2) = 8.4
    EXPECT_NEAR(p.wins[0], 8.4, 1e-12);
    EXPECT_NEAR(p.from_history[0], 3.4, 1e-12);
    // month 1: 0.1 * (200*0.5 + 100*0.3 + 80*0.2) = 14.6
    EXPECT_NEAR(p.wins[1], 14.6, 1e-12);
    // month 2: 0.1 * (0 + 200*0.3 + 100*0.2) = 8
    EXPECT_NEAR(p.wins[2], 8.0, 1e-12);
    EXPECT_NEAR(p.revenue[2], 8000, 1e-9);
    lag_model bad{0.1, {0.5, 0.3}, 1000};
    EXPECT_THROW(project_forward(bad, leads), invalid_argument);
    lag_model neg{0.1, {1.2, -0.2}, 1000};
    EXPECT_THROW(project_forward(neg, leads), invalid_argument);
}

TEST(Lags, BackwardPlanReproducesTargets) {
    std::mt19937_64 g(4);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    for (int trial = 0; trial < 200; ++trial) {
        const std::size_t K = 1 + g() % 6;
        lag_model m;
        m.win_rate = 0.05 + 0.3 * u(g);
        m.deal_value = 500 + 1000 * u(g);
        m.shares.resize(K);
        double s = 0;
        for (auto& f : m.shares) s += (f = 0.1 + u(g));
        for (auto& f : m.shares) f /= s;
        const std::size_t M = 3 + g() % 10;
        std::vector<double> leads(M);
        for (auto& x : leads) x = 1000 * u(g);
        // Targets produced by a known non-negative plan are met exactly by the solved plan.
        const auto fwd = project_forward(m, leads);
        const auto plan = plan_leads(m, fwd.revenue);
        ASSERT_TRUE(plan.feasible);
        for (std::size_t t = 0; t < M; ++t) {
            ASSERT_NEAR(plan.months[t].leads, leads[t], 1e-6 * std::max(1.0, leads[t])) << trial;
            ASSERT_EQ(plan.months[t].status, month_status::met);
        }
    }
}

TEST(Lags, TooCloseToNowAndHistory) {
    // Wins come 1 or 2 months after the lead: month 0 cannot be reached by new leads.
    lag_model m{0.1, {0.0, 0.6, 0.4}, 1000};
    const double targets[] = {5000, 6000, 6000, 6000};
    const auto plan = plan_leads(m, targets);
    EXPECT_EQ(plan.first_lag, 1);
    EXPECT_FALSE(plan.feasible);
    EXPECT_EQ(plan.months[0].status, month_status::too_close);
    EXPECT_NE(plan.months[0].reason.find("too close"), std::string::npos);
    EXPECT_NEAR(plan.months[0].gap, -5000, 1e-9);
    for (std::size_t t = 1; t < 4; ++t) EXPECT_EQ(plan.months[t].status, month_status::met) << t;
    // x0 = 6 / (0.1*0.6) = 100; month 2: 0.06 x1 + 0.04 * 100 = 6 -> x1 = 33.33
    EXPECT_NEAR(plan.months[0].leads, 100, 1e-9);
    EXPECT_NEAR(plan.months[1].leads, 100.0 / 3, 1e-9);
    EXPECT_EQ(plan.months[1].leads_whole, 34);
    EXPECT_EQ(plan.months[3].leads, 0);  // closes after the horizon
    // With history covering month 0 the plan is feasible.
    const double history[] = {0, 50, 0};  // 50 leads in month -2: 0.1*50*0.4 = 2 wins in month 0
    const double t2[] = {2000, 6000, 6000};
    const auto h = plan_leads(m, t2, history);
    EXPECT_TRUE(h.feasible);
    EXPECT_EQ(h.months[0].status, month_status::met);
    // History above a target: that month is exceeded and gets no new leads.
    const double big_history[] = {0, 0, 1000};  // month -1: 0.1*1000*0.6 = 60 wins in month 0, 40 in month 1
    const double t3[] = {1000, 1000, 5000};
    const auto x = plan_leads(m, t3, big_history);
    EXPECT_EQ(x.months[0].status, month_status::exceeded);
    EXPECT_EQ(x.months[1].status, month_status::exceeded);
    EXPECT_EQ(x.months[0].leads, 0);
    EXPECT_EQ(x.months[2].status, month_status::met);
    for (const auto& mo : x.months) EXPECT_GE(mo.leads, 0);
    EXPECT_TRUE(x.feasible);
    const double negative[] = {-1};
    EXPECT_THROW(plan_leads(m, negative), invalid_argument);
}

TEST(Lags, PlannersAnswerInMicroseconds) {
    lag_model m{0.1, {0.2, 0.3, 0.3, 0.2}, 1000};
    std::vector<double> targets(24, 10'000);
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 100; ++i) {
        auto p = plan_leads(m, targets);
        auto f = plan_reverse_funnel({.goal = 40'000, .deal_value = 800, .steps = {{"Lead", 0.5}, {"Demo", 0.2}}});
        ASSERT_TRUE(p.feasible);
        ASSERT_EQ(f.rows.size(), 3u);
    }
    const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / 100;
    EXPECT_LT(us, 5000);  // generous for sanitizer builds; typically tens of microseconds
}
