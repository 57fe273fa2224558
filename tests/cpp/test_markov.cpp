#include <gtest/gtest.h>

#include <funnelkit/attribution.hpp>
#include <funnelkit/error.hpp>
#include <funnelkit/markov.hpp>

#include <cmath>
#include <random>
#include <vector>

using namespace funnelkit;

namespace {
struct cols {
    std::vector<std::int64_t> path, time;
    std::vector<std::int32_t> channel;
    std::vector<std::int64_t> out_path;
    std::vector<std::uint8_t> converted;
    void add(std::int64_t p, std::vector<std::int32_t> chs, bool conv) {
        std::int64_t t = 0;
        for (auto c : chs) path.push_back(p), time.push_back(t++), channel.push_back(c);
        out_path.push_back(p);
        converted.push_back(conv ? 1 : 0);
    }
    path_set set() const { return path_set({path, time, channel}, {out_path, converted}); }
};
}  // namespace

// The chain of the hand-worked attribution example:
//   A -> B, C, conv with 1/3 each; B -> C, conv with 1/2 each; C -> conv, null, A with 1/3 each;
//   start -> A 1/2, B 1/4, C 1/4.
// x_A = 4/5, x_B = 4/5, x_C = 3/5 and P(convert) = 3/4. Without A: x_B = 2/3, x_C = 1/3,
// P = 1/4; without B: x_A = x_C = 1/2, P = 3/8; without C: x_A = 1/2, x_B = 1/2, P = 3/8.
TEST(Markov, RemovalEffectsHandWorked) {
    cols c;
    c.add(1, {0, 1, 2}, true);
    c.add(2, {1}, true);
    c.add(3, {0, 2}, false);
    c.add(4, {2, 0}, true);
    const auto m = markov_removal_effects(c.set(), 1);
    EXPECT_EQ(m.n_states, 3u);
    EXPECT_NEAR(m.p_convert, 0.75, 1e-12);
    EXPECT_NEAR(m.p_convert_without[0], 0.25, 1e-12);
    EXPECT_NEAR(m.p_convert_without[1], 0.375, 1e-12);
    EXPECT_NEAR(m.p_convert_without[2], 0.375, 1e-12);
    EXPECT_NEAR(m.removal_effect[0], 2.0 / 3.0, 1e-12);
    EXPECT_NEAR(m.removal_effect[1], 0.5, 1e-12);
    const auto it = markov_removal_effects(c.set(), 1, markov_solver::iterative);
    EXPECT_NEAR(it.p_convert, 0.75, 1e-12);
    EXPECT_NEAR(it.p_convert_without[0], 0.25, 1e-12);
    EXPECT_NEAR(it.removal_effect[2], 0.5, 1e-12);
    // The same chain through the dense absorbing-chain solver: states A, B, C; outcomes conv, null.
    const double t = 1.0 / 3.0;
    const std::vector<double> q{0, t, t, 0, 0, 0.5, t, 0, 0};
    const std::vector<double> r{t, 0, 0.5, 0, t, t};
    const auto s = solve_absorbing_chain(3, 2, q, r);
    EXPECT_NEAR(s.absorption[0], 0.8, 1e-12);
    EXPECT_NEAR(s.absorption[2], 0.8, 1e-12);
    EXPECT_NEAR(s.absorption[4], 0.6, 1e-12);
    for (int i = 0; i < 3; ++i) EXPECT_NEAR(s.absorption[2 * i] + s.absorption[2 * i + 1], 1.0, 1e-12);
    // Expected steps t = N 1 solve t = 1 + Q t: t_A = 1 + (t_B + t_C)/3, t_B = 1 + t_C/2, t_C = 1 + t_A/3.
    const double tA = s.expected_steps[0], tB = s.expected_steps[1], tC = s.expected_steps[2];
    EXPECT_NEAR(tA, 1 + (tB + tC) / 3, 1e-12);
    EXPECT_NEAR(tB, 1 + tC / 2, 1e-12);
    EXPECT_NEAR(tC, 1 + tA / 3, 1e-12);
}

// Order 2 on paths no longer than 2 touches: every state is a distinct prefix, so P(convert)
// equals the observed conversion rate and removing a channel removes exactly the paths through it.
TEST(Markov, HigherOrderOnShortPathsIsExactCounting) {
    cols c;
    c.add(1, {0, 1}, true);
    c.add(2, {0, 1}, false);
    c.add(3, {1, 0}, true);
    c.add(4, {2}, true);
    c.add(5, {2}, false);
    c.add(6, {0}, false);
    for (int order : {2, 3}) {
        const auto m = markov_removal_effects(c.set(), order);
        EXPECT_NEAR(m.p_convert, 0.5, 1e-12);
        // Without A: only paths 4, 5 convert/not: P = 1/6. Without B: paths 4, 5, 6: 1/6. Without C: 2/6.
        EXPECT_NEAR(m.p_convert_without[0], 1.0 / 6, 1e-12);
        EXPECT_NEAR(m.p_convert_without[1], 1.0 / 6, 1e-12);
        EXPECT_NEAR(m.p_convert_without[2], 2.0 / 6, 1e-12);
    }
}

TEST(Markov, ManyChannelsStaysInRangeAndSingleChannelTakesAll) {
    std::mt19937_64 g(3);
    cols c;
    for (int p = 0; p < 2000; ++p) {
        std::vector<std::int32_t> chs;
        const int len = 1 + static_cast<int>(g() % 6);
        for (int i = 0; i < len; ++i) chs.push_back(static_cast<std::int32_t>(g() % 80));
        c.add(p, chs, g() % 4 == 0);
    }
    for (int order = 1; order <= 3; ++order) {
        const auto m = markov_removal_effects(c.set(), order, markov_solver::direct);
        EXPECT_GT(m.p_convert, 0.1);
        for (double x : m.removal_effect) {
            EXPECT_GE(x, 0.0);
            EXPECT_LE(x, 1.0);
        }
        // The fixed-point solver agrees with the sparse LU.
        const auto it = markov_removal_effects(c.set(), order, markov_solver::iterative);
        EXPECT_NEAR(it.p_convert, m.p_convert, 1e-12);
        for (std::size_t k = 0; k < m.removal_effect.size(); ++k)
            EXPECT_NEAR(it.p_convert_without[k], m.p_convert_without[k], 1e-12) << order << " " << k;
    }
    cols one;
    one.add(1, {4, 4}, true);
    one.add(2, {4}, false);
    const auto m = markov_removal_effects(one.set(), 1);
    EXPECT_NEAR(m.removal_effect[4], 1.0, 1e-12);
    EXPECT_EQ(m.removal_effect[0], 0.0);  // absent channel
}

TEST(Markov, NoConversionsAndBadInput) {
    cols c;
    c.add(1, {0, 1}, false);
    const auto m = markov_removal_effects(c.set(), 1);
    EXPECT_EQ(m.p_convert, 0.0);
    EXPECT_EQ(m.removal_effect, (std::vector<double>{0.0, 0.0}));
    EXPECT_THROW((void)markov_removal_effects(c.set(), 0), invalid_argument);
    const std::vector<double> q{1.0}, r{0.0};
    EXPECT_THROW((void)solve_absorbing_chain(1, 1, q, r), invalid_argument);  // never absorbed
    const std::vector<double> q2{0.7}, r2{0.6};
    EXPECT_THROW((void)solve_absorbing_chain(1, 1, q2, r2), invalid_argument);  // row sum > 1
    EXPECT_THROW((void)solve_absorbing_chain(2, 1, q2, r2), invalid_argument);  // size
}

// The chain of RemovalEffectsHandWorked with values 30 (A, B, C), 10 (B), 50 (C, A): the
// conversions leaving A, B and C are worth 50, 10 and 30 over 3, 2 and 3 moves, so
// r_v = (50/3, 5, 10). x = Q x + r_v gives x_A = 28, x_B = 44/3, x_C = 58/3 and E[value] =
// 28/2 + (44/3)/4 + (58/3)/4 = 45/2. Without A: x_B = 10, x_C = 10, E = 5; without B:
// x_A = 45/2, x_C = 35/2, E = 125/8; without C: x_A = 55/3, x_B = 5, E = 125/12.
TEST(Markov, ValueWeightedRemovalEffectsHandWorked) {
    cols c;
    c.add(1, {0, 1, 2}, true);
    c.add(2, {1}, true);
    c.add(3, {0, 2}, false);
    c.add(4, {2, 0}, true);
    const std::vector<double> value{30, 10, 0, 50};
    const path_set ps({c.path, c.time, c.channel}, {c.out_path, c.converted, value});
    for (auto solver : {markov_solver::direct, markov_solver::iterative}) {
        const auto m = markov_removal_effects(ps, 1, solver, markov_weight::value);
        EXPECT_EQ(m.weight, markov_weight::value);
        EXPECT_NEAR(m.p_convert, 0.75, 1e-12);  // unchanged
        EXPECT_NEAR(m.expected_value, 22.5, 1e-10);
        EXPECT_NEAR(m.expected_value_without[0], 5.0, 1e-10);
        EXPECT_NEAR(m.expected_value_without[1], 125.0 / 8, 1e-10);
        EXPECT_NEAR(m.expected_value_without[2], 125.0 / 12, 1e-10);
        EXPECT_NEAR(m.value_removal_effect[0], 1 - 5.0 / 22.5, 1e-12);
        EXPECT_NEAR(m.value_removal_effect[1], 1 - (125.0 / 8) / 22.5, 1e-12);
        EXPECT_NEAR(m.value_removal_effect[2], 1 - (125.0 / 12) / 22.5, 1e-12);
    }
    // The default weighting leaves the value fields empty.
    const auto plain = markov_removal_effects(ps, 1);
    EXPECT_EQ(plain.weight, markov_weight::conversions);
    EXPECT_TRUE(plain.value_removal_effect.empty());

    // attribute(): value split by the value-weighted effects, conversions by P(convert)'s.
    attribution_options op;
    op.model = attribution_model::markov;
    op.markov_weighting = markov_weight::value;
    const auto a = attribute(ps, op);
    const std::vector<double> re{1 - 5.0 / 22.5, 1 - (125.0 / 8) / 22.5, 1 - (125.0 / 12) / 22.5};
    const double sum = re[0] + re[1] + re[2];
    for (std::size_t k = 0; k < 3; ++k) {
        EXPECT_NEAR(a.value[k], 90.0 * re[k] / sum, 1e-9);
        EXPECT_NEAR(a.score[k], re[k], 1e-12);
    }
    op.markov_weighting = markov_weight::conversions;
    const auto b = attribute(ps, op);
    for (std::size_t k = 0; k < 3; ++k) EXPECT_NEAR(a.conversions[k], b.conversions[k], 1e-12);
    EXPECT_EQ(parse_markov_weight("value"), markov_weight::value);
    EXPECT_THROW((void)parse_markov_weight("revenue"), invalid_argument);
}
