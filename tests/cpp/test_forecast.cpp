#include <gtest/gtest.h>

#include <funnelkit/error.hpp>
#include <funnelkit/forecast.hpp>
#include <funnelkit/synthetic.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <vector>

using namespace funnelkit;

namespace {

// Two transient states A (0), B (1) and two absorbing ones Won (2), Lost (3), per step:
// A: stay 1/2, to B 1/4, to Lost 1/4; B: to A 1/6, stay 1/3, to Won 1/3, to Lost 1/6.
// By hand: Q = [[1/2, 1/4], [1/6, 1/3]], N = (I - Q)^-1 = [[16/7, 6/7], [4/7, 12/7]],
// B = N R: P(won) = 2/7 from A and 4/7 from B; t = N 1 = 22/7 and 16/7 steps.
transition_model hand_chain() {
    const double p[] = {1.0 / 2, 1.0 / 4, 0.0, 1.0 / 4,  //
                        1.0 / 6, 1.0 / 3, 1.0 / 3, 1.0 / 6};
    return markov_model(2, 2, p, 0);
}

// One transient state S (0), Won (1) and Lost (2), with hazards by age (max_age 2):
// age 0: won 1/2; age 1: won 1/3, lost 1/3; ages >= 2: won `tail`, lost `tail` per step.
transition_model hand_semi(double tail) {
    transition_model m;
    m.kind = forecast_model::semi_markov;
    m.max_age = 2;
    m.transient = {0};
    m.absorbing = {1, 2};
    m.won_index = 0;
    m.hazard = {0, 1.0 / 2, 0,  //
                0, 1.0 / 3, 1.0 / 3,  //
                0, tail, tail};
    m.at_risk.assign(3, 0.0);
    m.moves.assign(9, 0);
    return m;
}

stage_model abc_model() {
    return stage_model({{"A", "sales", stage_kind::step},
                        {"B", "sales", stage_kind::step},
                        {"Won", "sales", stage_kind::won},
                        {"Lost", "sales", stage_kind::lost}});
}

struct recs {
    std::vector<std::int64_t> entity, time;
    std::vector<std::int32_t> stage;
    std::vector<double> amount;
    // NaN: the record carries no amount (0 would be an amount of 0).
    void add(std::int64_t e, std::int64_t t, std::int32_t s, double a = std::numeric_limits<double>::quiet_NaN()) {
        entity.push_back(e); time.push_back(t); stage.push_back(s); amount.push_back(a);
    }
    stage_records view() const { return {entity, time, stage, {}, amount}; }
};

// Hand-built histories (times in steps of 1 tick, origin 10):
// e1: A@0, B@2, Won@3 (amount 500): A for 2 steps -> B, B for 1 step -> Won.
// e2: A@0, Lost@1: A for 1 step -> Lost.
// e3: A@5 (amount 1000), open: A censored after 5 steps (age 5 at the origin).
// e4: B@4, A@6, open: B for 2 steps -> A (recycled), A censored after 4 steps (age 4).
recs hand_records() {
    recs r;
    r.add(1, 0, 0); r.add(1, 2, 1); r.add(1, 3, 2, 500);
    r.add(2, 0, 0); r.add(2, 1, 3);
    r.add(3, 5, 0, 1000);
    r.add(4, 4, 1); r.add(4, 6, 0);
    r.add(9, 10, 1);  // sets as_of = 10 (enters B at the origin: age 0, nothing learnt)
    return r;
}

// Options of the small hand-worked forecasts: steps of 1 tick, one period, no simulations.
forecast_options step_options(forecast_model model, std::int32_t period_steps, std::int32_t max_age) {
    forecast_options fo;
    fo.model = model;
    fo.step = 1;
    fo.periods = 1;
    fo.period_steps = period_steps;
    fo.max_age = max_age;
    fo.simulations = 0;
    return fo;
}

// A forecast 90 days before the end of a generated sample, with `simulations` simulations
// drawing from `models` bootstrap resamples.
forecast_options late_origin(const sample_data& s, std::int32_t simulations, std::int32_t models) {
    forecast_options fo;
    fo.origin = s.end - 90 * 86'400;
    fo.as_of = s.end;
    fo.simulations = simulations;
    fo.bootstrap_models = models;
    return fo;
}

}  // namespace

TEST(Forecast, HandBuiltMarkovChainMatchesFractions) {
    const auto m = hand_chain();
    const auto o = solve_outcomes(m);
    EXPECT_NEAR(o.p(0, 0, 0), 2.0 / 7, 1e-14);
    EXPECT_NEAR(o.p(1, 0, 0), 4.0 / 7, 1e-14);
    EXPECT_NEAR(o.p(0, 0, 1), 5.0 / 7, 1e-14);
    EXPECT_NEAR(o.p(1, 0, 1), 3.0 / 7, 1e-14);
    EXPECT_NEAR(o.steps(0, 0), 22.0 / 7, 1e-12);
    EXPECT_NEAR(o.steps(1, 0), 16.0 / 7, 1e-12);
    EXPECT_NEAR(o.p_never[0], 0.0, 1e-14);
    // Won at step t: g_1 = (0, 1/3), g_2 = (1/4 * 1/3, 1/3 * 1/3), and over all steps P(won).
    const auto g = won_per_step(m, 400);
    EXPECT_NEAR(g[0], 0.0, 1e-15);
    EXPECT_NEAR(g[1], 1.0 / 3, 1e-15);
    EXPECT_NEAR(g[2], 1.0 / 12, 1e-15);
    EXPECT_NEAR(g[3], 1.0 / 9, 1e-15);
    double sa = 0, sb = 0;
    for (std::size_t t = 0; t < 400; ++t) { sa += g[t * 2]; sb += g[t * 2 + 1]; }
    EXPECT_NEAR(sa, 2.0 / 7, 1e-12);
    EXPECT_NEAR(sb, 4.0 / 7, 1e-12);
}

// Three transient states: A and B hand entities back and forth and nothing else (they never
// close), C moves to A with 1/2 and to Won with 1/4 per step. I - Q of the whole jump chain is
// singular; the states that cannot close get P(close) = 0, C closes with 1/3 (= 1/4 / 3/4).
TEST(Forecast, StatesThatNeverCloseAreNotAnError) {
    const double p[] = {0.0, 0.5, 0.0, 0.0, 0.0,  //
                        0.5, 0.0, 0.0, 0.0, 0.0,  //
                        0.5, 0.0, 0.0, 0.25, 0.0};
    const auto o = solve_outcomes(markov_model(3, 2, p, 0));
    EXPECT_EQ(o.p(0, 0, 0), 0.0);
    EXPECT_EQ(o.p_never[0], 1.0);
    EXPECT_TRUE(std::isnan(o.steps(1, 0)));
    EXPECT_NEAR(o.p(2, 0, 0), 1.0 / 3, 1e-14);
    EXPECT_NEAR(o.p_never[2], 2.0 / 3, 1e-14);
    EXPECT_NEAR(o.steps(2, 0), 4.0 / 3, 1e-12);  // among the paths that close: geometric with 3/4
}

TEST(Forecast, HandBuiltSemiMarkovMatchesFractions) {
    // From age 0: won 1/2 + 1/2 * (1/3 + 1/3 * 1/2) = 3/4; from age 1: 1/3 + 1/3 * 1/2 = 1/2;
    // from ages >= 2: 1/2. Steps: 1 (p 1/2), 2 (p 1/3), else 2 + Geometric(1/2) (mean 4):
    // 11/6 from age 0, 5/3 from age 1, 2 from age 2 on.
    const auto o = solve_outcomes(hand_semi(0.25));
    EXPECT_NEAR(o.p(0, 0, 0), 3.0 / 4, 1e-14);
    EXPECT_NEAR(o.p(0, 1, 0), 1.0 / 2, 1e-14);
    EXPECT_NEAR(o.p(0, 2, 0), 1.0 / 2, 1e-14);
    EXPECT_NEAR(o.p(0, 7, 0), 1.0 / 2, 1e-14);  // older than max_age: the pooled tail
    EXPECT_NEAR(o.steps(0, 0), 11.0 / 6, 1e-12);
    EXPECT_NEAR(o.steps(0, 1), 5.0 / 3, 1e-12);
    EXPECT_NEAR(o.steps(0, 2), 2.0, 1e-12);
    // Runs that never end from age 2 on: P(won) = 1/2 + 1/2 * 1/3 = 2/3, lost 1/6, never 1/6,
    // and the expected steps among the paths that close: (1/2 * 1 + 1/3 * 2) / (5/6) = 7/5.
    const auto n = solve_outcomes(hand_semi(0.0));
    EXPECT_NEAR(n.p(0, 0, 0), 2.0 / 3, 1e-14);
    EXPECT_NEAR(n.p(0, 0, 1), 1.0 / 6, 1e-14);
    EXPECT_NEAR(n.p_never[0], 1.0 / 6, 1e-14);
    EXPECT_NEAR(n.steps(0, 0), 7.0 / 5, 1e-12);
    EXPECT_NEAR(n.p_never[2], 1.0, 1e-14);
    EXPECT_TRUE(std::isnan(n.steps(0, 2)));
    // Per step from age 0: won 1/2 at step 1, 1/2 * 1/3 at step 2, 1/6 * 1/4 at step 3.
    const auto g = won_per_step(hand_semi(0.25), 3);
    EXPECT_NEAR(g[0 * 3 + 0], 1.0 / 2, 1e-15);
    EXPECT_NEAR(g[1 * 3 + 0], 1.0 / 6, 1e-15);
    EXPECT_NEAR(g[2 * 3 + 0], 1.0 / 24, 1e-15);
}

// An independent check: simulate the semi-Markov process step by step and compare.
TEST(Forecast, SemiMarkovAgreesWithDirectSimulation) {
    transition_model m;
    m.kind = forecast_model::semi_markov;
    m.max_age = 3;
    m.transient = {0, 1};
    m.absorbing = {2, 3};
    m.won_index = 0;
    const std::size_t S = 4, A = 4;
    m.hazard.assign(2 * A * S, 0.0);
    auto set = [&](std::size_t s, std::size_t a, std::size_t d, double v) { m.hazard[(s * A + a) * S + d] = v; };
    set(0, 0, 1, 0.30); set(0, 0, 3, 0.10);
    set(0, 1, 1, 0.20); set(0, 1, 3, 0.20);
    set(0, 2, 1, 0.05); set(0, 2, 3, 0.30);
    set(0, 3, 1, 0.02); set(0, 3, 3, 0.08);
    set(1, 0, 2, 0.25); set(1, 0, 0, 0.15);
    set(1, 1, 2, 0.10); set(1, 1, 3, 0.10);
    set(1, 2, 2, 0.05); set(1, 2, 3, 0.25);
    set(1, 3, 2, 0.03); set(1, 3, 3, 0.05);
    m.at_risk.assign(2 * A, 0.0);
    m.moves.assign(2 * A * S, 0);
    const auto o = solve_outcomes(m);
    const auto g = won_per_step(m, 10);
    std::mt19937_64 rng(123);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    const int n = 200'000;
    for (std::size_t start_age : {std::size_t{0}, std::size_t{2}}) {
        int won = 0, won_by_10 = 0;
        double steps = 0;
        for (int k = 0; k < n; ++k) {
            std::size_t s = 0, a = start_age;
            int t = 0;
            for (;;) {
                ++t;
                double x = u(rng), c = 0;
                std::size_t d = S;
                for (std::size_t j = 0; j < S; ++j) {
                    c += m.h(s, a, j);
                    if (x < c) { d = j; break; }
                }
                if (d == S) { ++a; continue; }
                if (d >= 2) {
                    won += d == 2;
                    won_by_10 += d == 2 && t <= 10;
                    steps += t;
                    break;
                }
                s = d;
                a = 0;
            }
        }
        const double p = static_cast<double>(won) / n;
        const double se = std::sqrt(p * (1 - p) / n);
        EXPECT_NEAR(o.p(0, start_age, 0), p, 4 * se) << "age " << start_age;
        EXPECT_NEAR(o.steps(0, start_age), steps / n, 0.05) << "age " << start_age;
        double g10 = 0;
        for (std::size_t t = 0; t < 10; ++t) g10 += g[t * (2 * A) + 0 * A + start_age];
        const double q = static_cast<double>(won_by_10) / n;
        EXPECT_NEAR(g10, q, 4 * std::sqrt(q * (1 - q) / n) + 1e-12) << "age " << start_age;
    }
}

TEST(Forecast, EstimatesFromHandBuiltHistories) {
    const auto r = hand_records();
    forecast_options fo;
    fo.model = forecast_model::markov;
    fo.memory = path_memory::none;  // the hand-worked chain has one state per stage
    fo.step = 1;
    fo.origin = 10;
    fo.periods = 2;
    fo.period_steps = 5;
    fo.simulations = 0;
    const auto f = forecast_pipeline(abc_model(), r.view(), fo);
    // Markov: A has 2 + 1 + 5 + 4 = 12 steps at risk with one move to B and one to Lost; B has
    // 1 + 2 = 3 with one move to Won and one to A.
    const auto& m = f.models[0];
    ASSERT_EQ(m.transient, (std::vector<std::int32_t>{0, 1}));
    EXPECT_DOUBLE_EQ(m.at_risk[0], 12);
    EXPECT_DOUBLE_EQ(m.h(0, 0, 1), 1.0 / 12);
    EXPECT_DOUBLE_EQ(m.h(0, 0, 3), 1.0 / 12);
    EXPECT_DOUBLE_EQ(m.at_risk[1], 3);
    EXPECT_DOUBLE_EQ(m.h(1, 0, 2), 1.0 / 3);
    EXPECT_DOUBLE_EQ(m.h(1, 0, 0), 1.0 / 3);
    // Jump chain: A -> B or Lost 1/2 each, B -> A or Won 1/2 each: P(won | A) = 1/3, | B) = 2/3.
    ASSERT_EQ(f.entities.size(), 3u);  // e3, e4, e9
    EXPECT_EQ(f.entities.entity[0], 3);
    EXPECT_EQ(f.entities.age[0], 5);
    EXPECT_EQ(f.entities.age[1], 4);
    EXPECT_EQ(f.entities.age[2], 0);
    EXPECT_NEAR(f.entities.p_won[0], 1.0 / 3, 1e-12);
    EXPECT_NEAR(f.entities.p_won[2], 2.0 / 3, 1e-12);
    EXPECT_NEAR(f.stages.p_won[0], 1.0 / 3, 1e-12);
    EXPECT_NEAR(f.stages.p_won[1], 2.0 / 3, 1e-12);
    // Amounts: e3's own 1000; the others the mean won amount 500. Weighted pipeline: stage
    // probabilities A 1/2 (e1 won, e2 lost), B 1/1.
    EXPECT_DOUBLE_EQ(f.default_amount, 500);
    EXPECT_EQ(f.entities.amount[0], 1000);
    EXPECT_EQ(f.entities.own_amount[1], 0);
    EXPECT_DOUBLE_EQ(f.stages.stage_probability[0], 0.5);
    EXPECT_DOUBLE_EQ(f.stages.stage_probability[1], 1.0);
    EXPECT_DOUBLE_EQ(f.weighted_wins, 0.5 + 0.5 + 1.0);
    EXPECT_DOUBLE_EQ(f.weighted_revenue, 0.5 * 1000 + 0.5 * 500 + 500);
    // Expected wins per period add the entities' probabilities; the whole horizon sums them.
    ASSERT_EQ(f.periods.size(), 3u);
    EXPECT_NEAR(f.periods.expected_wins[2], f.periods.expected_wins[0] + f.periods.expected_wins[1], 1e-12);
    // Semi-Markov with max_age 3: A runs of 2 (-> B), 1 (-> Lost), 5 and 4 (open): at risk 4, 3, 2
    // at steps 1..3, Lost 1/4 at age 0, B 1/3 at age 1; nothing moves from age 3 on, so e3 and
    // e4 (ages 5 and 4) are never won.
    fo.model = forecast_model::semi_markov;
    fo.max_age = 3;
    const auto s = forecast_pipeline(abc_model(), r.view(), fo);
    const auto& sm = s.models[0];
    EXPECT_DOUBLE_EQ(sm.h(0, 0, 3), 1.0 / 4);
    EXPECT_DOUBLE_EQ(sm.h(0, 1, 1), 1.0 / 3);
    EXPECT_DOUBLE_EQ(sm.h(0, 2, 1), 0.0);
    EXPECT_DOUBLE_EQ(sm.at_risk[0], 4);
    EXPECT_DOUBLE_EQ(sm.at_risk[1], 3);
    EXPECT_DOUBLE_EQ(sm.at_risk[2], 2);
    EXPECT_DOUBLE_EQ(sm.at_risk[3], 3);  // steps beyond age 3: 2 (e3) + 1 (e4)
    EXPECT_EQ(s.entities.p_won[0], 0.0);
    EXPECT_EQ(s.entities.p_never[0], 1.0);
    EXPECT_NE(s.explain().formula.find("Aalen-Johansen"), std::string::npos);
}

// Quantile intervals of counts need not contain the mean (a skewed count can have its 10th
// percentile above the mean of a rare win), so the test checks what they do guarantee: seeded
// reproducibility, order, the range of the counts, and that the parameter uncertainty widens them.
TEST(Forecast, SimulatedIntervalsAreSeededAndOrdered) {
    const auto s = generate_sample({.leads = 4'000, .seed = 7});
    forecast_options fo;
    fo.origin = s.end - 90 * 86'400;
    fo.as_of = s.end;
    fo.simulations = 400;
    const auto a = forecast_pipeline(sample_model(), s.records(), fo);
    const auto b = forecast_pipeline(sample_model(), s.records(), fo);
    ASSERT_EQ(a.periods.size(), 4u);
    double total_amount = 0;
    for (const double x : a.entities.amount) total_amount += x;
    const auto open = static_cast<double>(a.entities.size());
    for (std::size_t k = 0; k < a.periods.size(); ++k) {
        EXPECT_EQ(a.periods.wins_lower[k], b.periods.wins_lower[k]);
        EXPECT_EQ(a.periods.revenue_upper[k], b.periods.revenue_upper[k]);
        EXPECT_LE(a.periods.wins_lower[k], a.periods.wins_upper[k]);
        EXPECT_GE(a.periods.wins_lower[k], 0);
        EXPECT_LE(a.periods.wins_upper[k], open);
        EXPECT_LE(a.periods.revenue_lower[k], a.periods.revenue_upper[k]);
        EXPECT_LE(a.periods.revenue_upper[k], total_amount * (1 + 1e-12));
    }
    fo.bootstrap_hazards = false;
    const auto narrow = forecast_pipeline(sample_model(), s.records(), fo);
    EXPECT_EQ(narrow.periods.expected_wins[3], a.periods.expected_wins[3]);
    EXPECT_GT(a.periods.wins_upper[3] - a.periods.wins_lower[3], narrow.periods.wins_upper[3] - narrow.periods.wins_lower[3]);
    fo.bootstrap_hazards = true;
    fo.seed = 8;
    const auto c = forecast_pipeline(sample_model(), s.records(), fo);
    EXPECT_EQ(c.periods.expected_wins[0], a.periods.expected_wins[0]);  // the seed moves only the intervals
    fo.by_segment = true;
    fo.simulations = 50;
    const auto g = forecast_pipeline(sample_model(), s.records(), fo);
    EXPECT_EQ(g.models.size(), 7u);
    EXPECT_EQ(g.entities.size(), a.entities.size());
}

// Row order never changes a result: the bootstrap resamples the entities in ascending id order.
TEST(Forecast, IntervalsDoNotDependOnRowOrder) {
    const auto s = generate_sample({.leads = 1'500, .seed = 5});
    const auto r = s.records();
    std::vector<std::size_t> idx(r.size());
    for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = idx.size() - 1 - i;
    recs rev;
    for (const auto i : idx) rev.add(r.entity[i], r.time[i], r.stage[i], r.amount[i]);
    forecast_options fo;
    fo.origin = s.end - 90 * 86'400;
    fo.as_of = s.end;
    fo.simulations = 100;
    const auto a = forecast_pipeline(sample_model(), r, fo);
    const auto b = forecast_pipeline(sample_model(), rev.view(), fo);
    EXPECT_EQ(a.periods.wins_lower, b.periods.wins_lower);
    EXPECT_EQ(a.periods.wins_upper, b.periods.wins_upper);
    EXPECT_EQ(a.periods.revenue_upper, b.periods.revenue_upper);
    EXPECT_EQ(a.weighted_revenue_upper, b.weighted_revenue_upper);
}

// by_segment: a segment with no history in a (stage, age) cell uses the pooled hazards there,
// not a hazard of 0 (which would say its deals never close).
TEST(Forecast, SegmentWithoutHistoryFallsBackToThePooledHazards) {
    recs r;
    std::vector<std::int32_t> seg;
    for (int i = 1; i <= 10; ++i) { r.add(i, 0, 0); seg.push_back(0); }
    for (int i = 1; i <= 5; ++i) { r.add(i, 2, 2, 5.0); seg.push_back(0); }
    for (int i = 6; i <= 10; ++i) { r.add(i, 3, 3); seg.push_back(0); }
    r.add(20, 4, 0, 9.0); seg.push_back(1);
    r.add(21, 4, 0, 9.0); seg.push_back(1);
    stage_records v = r.view();
    v.segment = seg;
    auto fo = step_options(forecast_model::markov, 5, 0);
    fo.memory = path_memory::none;
    fo.periods = 2;
    fo.by_segment = true;
    const auto f = forecast_pipeline(abc_model(), v, fo);
    ASSERT_EQ(f.entities.size(), 2u);
    // Pooled chain: A has 2*5 + 3*5 + 2*0 = 25 steps at risk... the segment-1 entities entered at
    // the origin (no step yet); their segment has no exposure in A, so the pooled row is used.
    const auto pooled = forecast_pipeline(abc_model(), r.view(), [&] { auto o = fo; o.by_segment = false; return o; }());
    EXPECT_DOUBLE_EQ(f.entities.p_won[0], pooled.entities.p_won[0]);
    EXPECT_NEAR(f.entities.p_won[0], 0.5, 1e-12);
    EXPECT_EQ(f.entities.p_never[0], 0.0);
    EXPECT_EQ(f.entities.pooled[0], 1);
    EXPECT_EQ(f.entities.at_risk[0], 0.0);
    EXPECT_GT(f.pooled_cells, 0);
    EXPECT_EQ(f.pooled_entities, 2);
    EXPECT_NE(f.explain().note.find("pooled hazards"), std::string::npos);
}

// 0 is an amount; NaN means none (then the mean won amount of the training data).
TEST(Forecast, ZeroIsAnAmountAndNaNIsNone) {
    auto r = hand_records();
    r.add(5, 9, 0, 0.0);  // e5 enters A with an amount of 0
    auto fo = step_options(forecast_model::markov, 5, 0);
    fo.memory = path_memory::none;
    fo.origin = 10;
    fo.periods = 2;
    const auto f = forecast_pipeline(abc_model(), r.view(), fo);
    const auto& E = f.entities;
    ASSERT_EQ(E.size(), 4u);  // e3, e4, e5, e9
    EXPECT_EQ(E.entity[2], 5);
    EXPECT_EQ(E.amount[2], 0.0);
    EXPECT_EQ(E.own_amount[2], 1);
    EXPECT_EQ(E.amount[1], 500.0);  // e4: none, the mean won amount
    EXPECT_EQ(E.own_amount[1], 0);
    auto bad = hand_records();
    bad.amount[0] = -1;
    EXPECT_THROW(forecast_pipeline(abc_model(), bad.view(), fo), invalid_argument);
    recs empty;
    EXPECT_THROW(forecast_pipeline(abc_model(), empty.view(), fo), invalid_argument);
}

// The backtest on the sample data: six monthly origins in the second half of the year, three
// 30-day periods each. The semi-Markov intervals at 80% hold the actual wins in 70-90% of the
// cells; the figures are printed for the README.
TEST(Forecast, BacktestOnTheSampleData) {
    const auto s = generate_sample({.leads = 20'000, .seed = 42});
    backtest_options bo;
    bo.forecast.as_of = s.end;
    bo.forecast.simulations = 1000;
    const std::int64_t day = 86'400;
    for (int k = 0; k < 6; ++k) bo.origins.push_back(s.end - (90 + 30 * (5 - k)) * day);
    const auto bt = backtest_forecast(sample_model(), s.records(), bo);
    ASSERT_EQ(bt.summary.size(), 3u);
    for (std::size_t k = 0; k < bt.summary.size(); ++k)
        std::printf("%-18s cells %2lld coverage wins %.3f revenue %.3f  MAE wins %.2f revenue %.0f  bias wins %+.2f  brier %.4f\n",
                    std::string(backtest_method_name(bt.summary.method[k])).c_str(),
                    static_cast<long long>(bt.summary.intervals[k]), bt.summary.coverage_wins[k],
                    bt.summary.coverage_revenue[k], bt.summary.mae_wins[k], bt.summary.mae_revenue[k],
                    bt.summary.bias_wins[k], bt.summary.brier[k]);
    EXPECT_EQ(bt.summary.intervals[1], 18);
    EXPECT_GE(bt.summary.coverage_wins[1], 0.7);
    EXPECT_LE(bt.summary.coverage_wins[1], 0.9);
    EXPECT_EQ(bt.rows.size(), 6u * (4 + 4 + 1));
    EXPECT_NE(bt.explain().json().find("coverage_wins semi_markov"), std::string::npos);
    EXPECT_NE(bt.explain().json().find("empty_cells semi_markov"), std::string::npos);
}

// Origins before the first record, or with nothing open, are refused (their cells would be
// empty and count as covered); cells with expected wins 0 are left out of the coverage.
TEST(Forecast, BacktestRefusesEmptyOriginsAndLeavesEmptyCellsOut) {
    const auto r = hand_records();
    backtest_options bo;
    bo.forecast.step = 1;
    bo.forecast.period_steps = 1;
    bo.forecast.periods = 2;
    bo.forecast.simulations = 50;
    bo.origins = {-5};
    try {
        (void)backtest_forecast(abc_model(), r.view(), bo);
        ADD_FAILURE() << "no error";
    } catch (const invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("before the first record"), std::string::npos) << e.what();
    }
    recs closed;  // everything closed by time 1: nothing open at the origin 2
    closed.add(1, 0, 0); closed.add(1, 1, 2, 5.0); closed.add(2, 0, 0); closed.add(2, 1, 3); closed.add(3, 9, 0);
    bo.origins = {2};
    try {
        (void)backtest_forecast(abc_model(), closed.view(), bo);
        ADD_FAILURE() << "no error";
    } catch (const invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("no entity open"), std::string::npos) << e.what();
    }
    // Origin 5: e3 (A, enters at 5), e4 (B) open. The semi-Markov model with max_age 0 is Markov.
    bo.origins = {5, 7};
    const auto bt = backtest_forecast(abc_model(), r.view(), bo);
    for (std::size_t k = 0; k < bt.summary.size(); ++k) {
        std::int64_t cells = 0, empty = 0;
        for (std::size_t i = 0; i < bt.rows.size(); ++i) {
            if (bt.rows.method[i] != bt.summary.method[k] || (bt.summary.method[k] < 2 && bt.rows.period[i] < 0)) continue;
            ++cells;
            empty += bt.rows.expected_wins[i] == 0;
        }
        EXPECT_EQ(bt.summary.empty_cells[k], empty);
        EXPECT_EQ(bt.summary.intervals[k], cells - empty);
    }
}

TEST(Forecast, BadInputIsNamed) {
    const auto r = hand_records();
    forecast_options fo;
    fo.step = 0;
    EXPECT_THROW(forecast_pipeline(abc_model(), r.view(), fo), invalid_argument);
    fo = {};
    fo.origin = 11;  // after the end of the data
    try {
        (void)forecast_pipeline(abc_model(), r.view(), fo);
        ADD_FAILURE() << "no error";
    } catch (const invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("origin"), std::string::npos);
    }
    backtest_options bo;
    bo.forecast.step = 1;
    bo.forecast.period_steps = 5;
    bo.origins = {4, 2};
    EXPECT_THROW(backtest_forecast(abc_model(), r.view(), bo), invalid_argument);
    bo.origins = {8};  // 8 + 3 * 5 > 10
    EXPECT_THROW(backtest_forecast(abc_model(), r.view(), bo), invalid_argument);
    const double bad[] = {0.1, 0.6, 0.5};  // moves sum to 1.1 (the diagonal is the stay)
    EXPECT_THROW(markov_model(1, 2, std::span(bad, 3), 0), invalid_argument);
    const double self[] = {0.5, 0.2, 0.1};
    const auto m = markov_model(1, 2, self, 0);  // the diagonal is read as the stay
    EXPECT_NEAR(solve_outcomes(m).p(0, 0, 0), 2.0 / 3, 1e-14);
    EXPECT_THROW(won_per_step(hand_chain(), 60'000'000), invalid_argument);  // 1.2e8 values: refused, not allocated
    forecast_options old;
    old.max_age = 20'000;
    EXPECT_THROW(forecast_pipeline(abc_model(), r.view(), old), invalid_argument);
}

// The simulations run on threads, each from its own seeded stream: any thread count gives the
// same intervals, bit for bit, with and without the hazard bootstrap and by segment.
TEST(Forecast, IntervalsDoNotDependOnTheThreadCount) {
    const auto s = generate_sample({.leads = 3'000, .seed = 9});
    auto fo = late_origin(s, 120, 25);
    for (const bool by_segment : {false, true})
        for (const bool bootstrap : {true, false}) {
            fo.by_segment = by_segment;
            fo.bootstrap_hazards = bootstrap;
            fo.threads = 1;
            const auto a = forecast_pipeline(sample_model(), s.records(), fo);
            for (const unsigned t : {2u, 3u, 7u}) {
                fo.threads = t;
                const auto b = forecast_pipeline(sample_model(), s.records(), fo);
                EXPECT_EQ(a.periods.wins_lower, b.periods.wins_lower) << t;
                EXPECT_EQ(a.periods.wins_upper, b.periods.wins_upper) << t;
                EXPECT_EQ(a.periods.revenue_lower, b.periods.revenue_lower) << t;
                EXPECT_EQ(a.periods.revenue_upper, b.periods.revenue_upper) << t;
                EXPECT_EQ(a.weighted_revenue_upper, b.weighted_revenue_upper) << t;
            }
        }
}

// Simulation r uses bootstrap resample r mod bootstrap_models: with as many resamples as
// simulations every simulation has its own; fewer resamples change only the intervals.
TEST(Forecast, BootstrapModelsBoundTheRefits) {
    const auto s = generate_sample({.leads = 2'000, .seed = 4});
    auto fo = late_origin(s, 60, 60);
    const auto all = forecast_pipeline(sample_model(), s.records(), fo);
    fo.bootstrap_models = 1'000;  // capped at the simulations: the same resamples
    const auto capped = forecast_pipeline(sample_model(), s.records(), fo);
    EXPECT_EQ(all.periods.wins_upper, capped.periods.wins_upper);
    EXPECT_EQ(all.periods.revenue_upper, capped.periods.revenue_upper);
    fo.bootstrap_models = 5;
    const auto few = forecast_pipeline(sample_model(), s.records(), fo);
    EXPECT_EQ(few.periods.expected_wins, all.periods.expected_wins);
    EXPECT_NE(few.explain().note.find("one of 5 bootstrap resamples"), std::string::npos);
    fo.bootstrap_models = 0;
    EXPECT_THROW(forecast_pipeline(sample_model(), s.records(), fo), invalid_argument);
    fo.bootstrap_models = 5;
    fo.threads = 0;
    EXPECT_THROW(forecast_pipeline(sample_model(), s.records(), fo), invalid_argument);
}

// Amount uncertainty by hand: one open entity without an amount, whose win is certain in the
// first step; the training wins were 100 and 300. With resample_amounts the simulated revenue
// is 100 or 300 (about half each), without it always the mean, 200; the expected revenue is 200
// either way.
TEST(Forecast, ResampledAmountsComeFromTheTrainingWins) {
    recs r;
    r.add(1, 0, 0); r.add(1, 1, 2, 100.0);  // A then Won (100) at step 1
    r.add(2, 0, 0); r.add(2, 1, 2, 300.0);  // A then Won (300)
    r.add(3, 2, 0);                         // open in A at the origin
    auto fo = step_options(forecast_model::markov, 1, 0);
    fo.origin = 2;
    fo.as_of = 2;
    fo.simulations = 400;
    fo.bootstrap_hazards = false;
    fo.confidence = 0.5;
    const auto a = forecast_pipeline(abc_model(), r.view(), fo);
    ASSERT_EQ(a.entities.size(), 1u);
    EXPECT_DOUBLE_EQ(a.entities.p_won[0], 1.0);
    EXPECT_DOUBLE_EQ(a.periods.expected_revenue[0], 200.0);
    EXPECT_DOUBLE_EQ(a.periods.revenue_lower[0], 100.0);
    EXPECT_DOUBLE_EQ(a.periods.revenue_upper[0], 300.0);
    fo.resample_amounts = false;
    const auto b = forecast_pipeline(abc_model(), r.view(), fo);
    EXPECT_DOUBLE_EQ(b.periods.revenue_lower[0], 200.0);
    EXPECT_DOUBLE_EQ(b.periods.revenue_upper[0], 200.0);
}

// Path memory by hand (Markov, steps of 1, origin 5):
// e1: A@0 B@1 A@2 Won@3; e2: A@0 Lost@2; e3: A@0 B@1 A@2, open; e4: B@0 Won@1; e5: B@5, open.
// States: A|{} (0), A|{A,B} (1), B|{} (2), B|{A} (3).
// A|{}: 4 steps at risk (1 + 2 + 1), 2 moves to B|{A}, 1 to Lost. A|{A,B}: 4 steps (1 + 3),
// 1 move to Won. B|{}: 1 step, 1 to Won. B|{A}: 2 steps, 2 moves to A|{A,B}.
// e3 (in A after a visit to B) is won with probability 1; a fresh A with 2/3. Without memory
// A has 8 steps at risk (to B 2, Lost 1, Won 1) and B 3 (to A 2, Won 1): P(won | A) = 5/8.
TEST(Forecast, PathMemoryByHand) {
    recs r;
    r.add(1, 0, 0); r.add(1, 1, 1); r.add(1, 2, 0); r.add(1, 3, 2);
    r.add(2, 0, 0); r.add(2, 2, 3);
    r.add(3, 0, 0); r.add(3, 1, 1); r.add(3, 2, 0);
    r.add(4, 0, 1); r.add(4, 1, 2);
    r.add(5, 5, 1);
    auto fo = step_options(forecast_model::markov, 5, 0);
    fo.memory = path_memory::none;
    const auto none = forecast_pipeline(abc_model(), r.view(), fo);
    ASSERT_EQ(none.entities.size(), 2u);
    EXPECT_NEAR(none.entities.p_won[0], 5.0 / 8, 1e-12);
    fo.memory = path_memory::visited;
    const auto f = forecast_pipeline(abc_model(), r.view(), fo);
    const auto& m = f.models[0];
    ASSERT_EQ(m.transient, (std::vector<std::int32_t>{0, 0, 1, 1}));
    ASSERT_EQ(m.visited, (std::vector<std::uint64_t>{0, 3, 0, 1}));
    const std::size_t S = m.n_states();  // 4 transient + Won, Lost
    EXPECT_EQ(m.at_risk, (std::vector<double>{4, 4, 1, 2}));
    EXPECT_DOUBLE_EQ(m.hazard[0 * S + 3], 0.5);   // A|{} -> B|{A}
    EXPECT_DOUBLE_EQ(m.hazard[0 * S + 5], 0.25);  // A|{} -> Lost
    EXPECT_DOUBLE_EQ(m.hazard[1 * S + 4], 0.25);  // A|{A,B} -> Won
    EXPECT_DOUBLE_EQ(m.hazard[2 * S + 4], 1.0);   // B|{} -> Won
    EXPECT_DOUBLE_EQ(m.hazard[3 * S + 1], 1.0);   // B|{A} -> A|{A,B}
    ASSERT_EQ(f.entities.size(), 2u);
    EXPECT_EQ(f.entities.stage[0], 0);  // the stage code, not the state
    EXPECT_NEAR(f.entities.p_won[0], 1.0, 1e-12);
    EXPECT_NEAR(f.entities.expected_steps[0], 4.0, 1e-12);
    // The weighted pipeline and the open counts stay per stage.
    EXPECT_EQ(f.entities.stage_probability, none.entities.stage_probability);
    ASSERT_EQ(f.stages.size(), 2u);
    EXPECT_EQ(f.stages.open, (std::vector<std::int64_t>{1, 1}));
    // Per stage from a fresh entry: A's states weighted by their steps at risk at age 0 (4 and 4):
    // (2/3 + 1) / 2; B's (1 and 2): (1 * 1 + 2 * 1) / 3.
    EXPECT_NEAR(f.stages.p_won[0], (2.0 / 3 + 1) / 2, 1e-12);
    EXPECT_NEAR(f.stages.p_won[1], 1.0, 1e-12);
    EXPECT_NE(f.explain().json().find("\"memory\""), std::string::npos);
}

// A state with no history at some age takes its stage's hazards pooled over the paths there.
// Semi-Markov, steps of 1, max_age 3, origin 5: e1 A@0 B@1 (open); e2 A@0 Won@2; e3 B@0 A@4
// (open, age 1); e4 B@0 A@3 Won@4; e5 B@5. States A|{} (0), A|{B} (1), B|{} (2), B|{A} (3).
// A|{}: at risk 2 at age 0 (e1 moves to B|{A}), 1 at age 1 (e2 moves to Won). A|{B}: at risk 2
// at age 0 (e4 moves to Won), none at age 1: pooled over A's paths at age 1, hazard 1 to Won.
TEST(Forecast, PathMemoryCellsWithoutHistoryPoolTheStage) {
    recs r;
    r.add(1, 0, 0); r.add(1, 1, 1);
    r.add(2, 0, 0); r.add(2, 2, 2);
    r.add(3, 0, 1); r.add(3, 4, 0);
    r.add(4, 0, 1); r.add(4, 3, 0); r.add(4, 4, 2);
    r.add(5, 5, 1);
    auto fo = step_options(forecast_model::semi_markov, 3, 3);
    fo.memory = path_memory::visited;
    const auto f = forecast_pipeline(abc_model(), r.view(), fo);
    const auto& m = f.models[0];
    ASSERT_EQ(m.transient, (std::vector<std::int32_t>{0, 0, 1, 1}));
    ASSERT_EQ(m.visited, (std::vector<std::uint64_t>{0, 2, 0, 1}));
    const std::size_t S = m.n_states(), A = m.ages();
    EXPECT_DOUBLE_EQ(m.hazard[(0 * A + 0) * S + 3], 0.5);  // A|{} -> B|{A} at age 0
    EXPECT_DOUBLE_EQ(m.hazard[(0 * A + 1) * S + 4], 1.0);  // A|{} -> Won at age 1
    EXPECT_DOUBLE_EQ(m.hazard[(1 * A + 0) * S + 4], 0.5);  // A|{B} -> Won at age 0
    EXPECT_EQ(m.at_risk[1 * A + 1], 0.0);
    EXPECT_DOUBLE_EQ(m.hazard[(1 * A + 1) * S + 4], 1.0);  // pooled over A's paths at age 1
    // e3 (A|{B}, age 1) is then won at the next step.
    for (std::size_t k = 0; k < f.entities.size(); ++k)
        if (f.entities.entity[k] == 3) {
            EXPECT_NEAR(f.entities.p_won_in[k], 1.0, 1e-12);
        }
}
