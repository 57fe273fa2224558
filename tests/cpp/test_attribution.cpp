#include <gtest/gtest.h>

#include <funnelkit/attribution.hpp>
#include <funnelkit/error.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <vector>

using namespace funnelkit;

namespace {

struct paths_data {
    std::vector<std::int64_t> path, time;
    std::vector<std::int32_t> channel;
    std::vector<std::uint8_t> milestone;
    std::vector<std::int64_t> out_path;
    std::vector<std::uint8_t> converted;
    std::vector<double> value;
    std::vector<std::int64_t> conv_time;

    void touch(std::int64_t p, std::int64_t t, std::int32_t c, std::uint8_t m = 0) {
        path.push_back(p); time.push_back(t); channel.push_back(c); milestone.push_back(m);
    }
    void outcome(std::int64_t p, bool conv, double v, std::int64_t ct = 0) {
        out_path.push_back(p); converted.push_back(conv ? 1 : 0); value.push_back(v); conv_time.push_back(ct);
    }
    touch_columns touches(bool with_milestones = true) const {
        return {path, time, channel, with_milestones ? std::span<const std::uint8_t>(milestone) : std::span<const std::uint8_t>{}};
    }
    outcome_columns outcomes(bool with_conv_time = false) const {
        return {out_path, converted, value, with_conv_time ? std::span<const std::int64_t>(conv_time) : std::span<const std::int64_t>{}};
    }
};

// A=0, B=1, C=2.
//  p1: A, B, C -> converts, 100      p2: B -> converts, 50
//  p3: A, C    -> no conversion      p4: C, A -> converts, 30
// Rows are shuffled on purpose (order comes from the time column).
paths_data hand() {
    paths_data d;
    d.touch(4, 2, 0); d.touch(1, 1, 0); d.touch(3, 1, 0); d.touch(1, 3, 2); d.touch(2, 5, 1);
    d.touch(1, 2, 1); d.touch(3, 2, 2); d.touch(4, 1, 2);
    d.outcome(1, true, 100); d.outcome(2, true, 50); d.outcome(3, false, 0); d.outcome(4, true, 30);
    return d;
}

attribution_result run(const paths_data& d, attribution_options op) {
    return attribute(path_set(d.touches(), d.outcomes()), op);
}

void expect_vec(const std::vector<double>& got, const std::vector<double>& want, double tol = 1e-9) {
    ASSERT_EQ(got.size(), want.size());
    for (std::size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "channel " << i;
}

double sum(const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0); }

}  // namespace

TEST(Attribution, PathSetGroupsAndOrders) {
    const auto d = hand();
    const path_set ps(d.touches(), d.outcomes());
    ASSERT_EQ(ps.n_paths(), 4u);
    EXPECT_EQ(ps.n_channels(), 3);
    // Outcome rows come first: path ids 1, 2, 3, 4.
    EXPECT_EQ(ps.path_id(0), 1);
    const auto c0 = ps.channels(0);
    EXPECT_EQ(std::vector<std::int32_t>(c0.begin(), c0.end()), (std::vector<std::int32_t>{0, 1, 2}));
    const auto c3 = ps.channels(3);
    EXPECT_EQ(std::vector<std::int32_t>(c3.begin(), c3.end()), (std::vector<std::int32_t>{2, 0}));
    EXPECT_TRUE(ps.converted(3));
    EXPECT_DOUBLE_EQ(ps.value(3), 30.0);
}

TEST(Attribution, RuleBasedHandWorked) {
    const auto d = hand();
    auto first = run(d, {.model = attribution_model::first_touch});
    expect_vec(first.value, {100, 50, 30});
    expect_vec(first.conversions, {1, 1, 1});
    EXPECT_EQ(first.converting_paths, 3);
    EXPECT_EQ(first.paths, 4);
    EXPECT_DOUBLE_EQ(first.total_value, 180.0);
    expect_vec(run(d, {.model = attribution_model::last_touch}).value, {30, 50, 100});
    expect_vec(run(d, {.model = attribution_model::linear}).value, {100.0 / 3 + 15, 100.0 / 3 + 50, 100.0 / 3 + 15});
    // U: p1 40/20/40, p2 all to B, p4 two touches 50/50.
    const auto u = run(d, {.model = attribution_model::u_shaped});
    expect_vec(u.value, {40 + 15, 20 + 50, 40 + 15});
    expect_vec(u.conversions, {0.4 + 0.5, 0.2 + 1.0, 0.4 + 0.5});
    // U with other weights: 0.5/0.5/0 on p1 gives nothing to the middle.
    expect_vec(run(d, {.model = attribution_model::u_shaped, .u_first = 0.5, .u_middle = 0.0, .u_last = 0.5}).value,
               {50 + 15, 50, 50 + 15});
}

TEST(Attribution, PositionCustomAndShortPaths) {
    paths_data d;
    for (int i = 0; i < 5; ++i) d.touch(1, i, i);
    d.touch(2, 0, 0); d.touch(2, 1, 1);
    d.outcome(1, true, 10); d.outcome(2, true, 7);
    attribution_options op{.model = attribution_model::position};
    op.head = {0.5, 0.2};
    op.tail = {0.3};
    op.middle = 0.0;
    // Path 1: 0.5, 0.2, 0, 0, 0.3. Path 2: head claims both touches: 0.5/0.7, 0.2/0.7.
    expect_vec(run(d, op).value, {5 + 5, 2 + 2, 0, 0, 3});
    op.middle = 0.3;  // shared by touches 2 and 3 of path 1, renormalised by 1.3
    expect_vec(run(d, op).value, {10 * 0.5 / 1.3 + 5, 10 * 0.2 / 1.3 + 2, 10 * 0.15 / 1.3, 10 * 0.15 / 1.3, 10 * 0.3 / 1.3});
}

TEST(Attribution, WShapeMilestones) {
    paths_data d;
    // Path 1: A, B, C(lead), D, E(opp): 0.3, 0.05, 0.3, 0.05, 0.3.
    d.touch(1, 0, 0); d.touch(1, 1, 1); d.touch(1, 2, 2, 1); d.touch(1, 3, 3); d.touch(1, 4, 4, 2);
    // Path 2: A(lead), B, C(opp): first + lead on A = 0.6, B = 0.1, C = 0.3.
    d.touch(2, 0, 0, 1); d.touch(2, 1, 1); d.touch(2, 2, 2, 2);
    // Path 3: no marks, two touches: first + lead on A, opportunity on the last (B): 0.6/0.9, 0.3/0.9.
    d.touch(3, 0, 0); d.touch(3, 1, 1);
    d.outcome(1, true, 100); d.outcome(2, true, 10); d.outcome(3, true, 9);
    const auto r = run(d, {.model = attribution_model::w_shaped});
    expect_vec(r.value, {30 + 6 + 6, 5 + 1 + 3, 30 + 3, 5, 30});
    EXPECT_NEAR(sum(r.conversions), 3.0, 1e-12);
    EXPECT_THROW((void)attribute(path_set(d.touches(false), d.outcomes()), {.model = attribution_model::w_shaped}),
                 invalid_argument);
}

TEST(Attribution, TimeDecay) {
    paths_data d;
    const std::int64_t day = 86400;
    d.touch(1, 0, 0); d.touch(1, 7 * day, 1);
    d.outcome(1, true, 30, 14 * day);
    // Ages 14 and 7 days, half-life 7 days: weights 1/4 and 1/2 -> 1/3, 2/3.
    auto r = attribute(path_set(d.touches(), d.outcomes(true)), {.model = attribution_model::time_decay, .half_life = 7.0 * day});
    expect_vec(r.value, {10, 20});
    // Default conversion time = last touch: ages 7 and 0 days -> 1/2 and 1 -> 1/3, 2/3 as well.
    r = attribute(path_set(d.touches(), d.outcomes(false)), {.model = attribution_model::time_decay, .half_life = 7.0 * day});
    expect_vec(r.value, {10, 20});
    // Very old touches do not underflow into 0/0.
    d.time = {0, 1};
    r = attribute(path_set(d.touches(), d.outcomes(false)), {.model = attribution_model::time_decay, .half_life = 1e-6});
    expect_vec(r.value, {0, 30});
    // Touches after the conversion time are dropped.
    d.touch(1, 20 * day, 2);
    d.time = {0, 7 * day, 20 * day};
    r = attribute(path_set(d.touches(), d.outcomes(true)), {.model = attribution_model::time_decay, .half_life = 7.0 * day});
    expect_vec(r.value, {10, 20, 0});
}

TEST(Attribution, NullTouchesUnknownPathsAndEmpty) {
    paths_data d;
    d.touch(1, 0, -1); d.touch(1, 1, 0);   // a null touch dropped
    d.touch(2, 0, -1);                      // only null touches, converting: unattributed
    d.touch(3, 0, 1);                       // no outcome row: not converting
    d.outcome(1, true, 10); d.outcome(2, true, 5); d.outcome(9, true, 4);  // 9: no touches at all
    const auto r = run(d, {.model = attribution_model::linear});
    expect_vec(r.value, {10, 0});
    EXPECT_DOUBLE_EQ(r.unattributed_value, 9.0);
    EXPECT_DOUBLE_EQ(r.unattributed_conversions, 2.0);
    EXPECT_EQ(r.paths, 2);
    EXPECT_EQ(r.converting_paths, 1);
    paths_data empty;
    for (auto m : {attribution_model::linear, attribution_model::markov, attribution_model::shapley}) {
        attribution_options op{.model = m};
        op.game = shapley_game::value_rate;
        const auto e = run(empty, op);
        EXPECT_TRUE(e.value.empty());
        EXPECT_EQ(e.paths, 0);
    }
}

TEST(Attribution, BadInput) {
    auto msg = [](auto f) {
        try {
            f();
        } catch (const invalid_argument& e) {
            return std::string(e.what());
        }
        return std::string("<no error>");
    };
    auto d = hand();
    d.channel[2] = -2;
    EXPECT_EQ(msg([&] { path_set(d.touches(), d.outcomes()); }),
              "column 'channel', row 2: value -2 is not a channel code (expected -1 for a null touch or >= 0)");
    d = hand();
    d.value[1] = std::nan("");
    EXPECT_EQ(msg([&] { path_set(d.touches(), d.outcomes()); }), "column 'value', row 1: value NaN is not a finite value >= 0");
    d = hand();
    d.out_path[3] = 1;
    EXPECT_EQ(msg([&] { path_set(d.touches(), d.outcomes()); }),
              "column 'outcome path', row 3: value 1 repeats a path id (each path has one outcome row)");
    d = hand();
    d.converted[0] = 2;
    EXPECT_EQ(msg([&] { path_set(d.touches(), d.outcomes()); }), "column 'converted', row 0: value 2 must be 0 or 1");
    d = hand();
    d.time.pop_back();
    EXPECT_EQ(msg([&] { path_set(d.touches(), d.outcomes()); }), "column 'time' has 7 rows but column 'path' has 8");
    d = hand();
    EXPECT_THROW(path_set(d.touches(), d.outcomes(), 2), invalid_argument);  // channel 2 >= 2
    d.milestone[0] = 3;
    EXPECT_THROW(path_set(d.touches(), d.outcomes()), invalid_argument);
    d = hand();
    const path_set ps(d.touches(), d.outcomes());
    EXPECT_EQ(msg([&] { attribute(ps, {.model = attribution_model::time_decay, .half_life = 0.0}); }),
              "option 'half_life': value 0 must be finite and > 0");
    EXPECT_THROW(attribute(ps, {.model = attribution_model::u_shaped, .u_first = -1}), invalid_argument);
    EXPECT_THROW(attribute(ps, {.model = attribution_model::markov, .markov_order = 4}), invalid_argument);
    EXPECT_THROW(attribute(ps, {.model = attribution_model::position}), invalid_argument);  // all weights 0
    attribution_options op{.model = attribution_model::shapley};
    op.shapley_exact_max = 21;
    EXPECT_THROW(attribute(ps, op), invalid_argument);
    EXPECT_THROW((void)parse_attribution_model("nope"), invalid_argument);
    EXPECT_EQ(parse_attribution_model("w_shaped"), attribution_model::w_shaped);
    EXPECT_EQ(to_string(attribution_model::markov), "markov");
}

// Markov removal effects worked by hand (see test_markov.cpp for the chain): shares 0.4, 0.3, 0.3.
TEST(Attribution, MarkovHandWorked) {
    const auto r = run(hand(), {.model = attribution_model::markov});
    expect_vec(r.score, {2.0 / 3, 0.5, 0.5}, 1e-12);
    EXPECT_NEAR(r.base, 0.75, 1e-12);
    expect_vec(r.value, {72, 54, 54}, 1e-9);
    expect_vec(r.conversions, {1.2, 0.9, 0.9}, 1e-12);
}

TEST(Attribution, ShapleyCoveredValueClosedForm) {
    auto d = hand();
    d.touch(5, 0, 0); d.touch(5, 1, 0); d.touch(5, 2, 1);  // A, A, B: distinct set {A, B}
    d.outcome(5, true, 60);
    const auto r = run(d, {.model = attribution_model::shapley});
    // p1 100/3 each, p2 50 to B, p4 15 to A and C, p5 30 to A and B (linear would give A 40).
    expect_vec(r.value, {100.0 / 3 + 15 + 30, 100.0 / 3 + 50 + 30, 100.0 / 3 + 15});
    EXPECT_TRUE(r.exact);
}

TEST(Attribution, ShapleyValueRateHandWorked) {
    // {A}: two paths, one converts (10); {B}: one path, no conversion; {A,B}: converts (20).
    // v(A) = 10/2 = 5, v(B) = 0, v(AB) = 30/4 = 7.5: phi_A = 6.25, phi_B = 1.25, scaled x4.
    paths_data d;
    d.touch(1, 0, 0); d.touch(2, 0, 0); d.touch(3, 0, 1); d.touch(4, 0, 0); d.touch(4, 1, 1);
    d.outcome(1, true, 10); d.outcome(2, false, 0); d.outcome(3, false, 0); d.outcome(4, true, 20);
    attribution_options op{.model = attribution_model::shapley};
    op.game = shapley_game::value_rate;
    const auto r = run(d, op);
    expect_vec(r.score, {6.25, 1.25});
    expect_vec(r.value, {25, 5});
    expect_vec(r.conversions, {2, 0});
    EXPECT_DOUBLE_EQ(r.base, 7.5);
}

namespace {
// Brute force: Shapley values from the permutation definition for the value_rate game.
std::vector<double> brute_shapley_rate(const paths_data& d, int n_channels) {
    std::map<std::int64_t, std::pair<bool, double>> outcome;
    for (std::size_t i = 0; i < d.out_path.size(); ++i) outcome[d.out_path[i]] = {d.converted[i] != 0, d.value[i]};
    std::map<std::int64_t, std::set<int>> sets;
    for (std::size_t i = 0; i < d.path.size(); ++i) sets[d.path[i]].insert(d.channel[i]);
    auto v = [&](const std::set<int>& s) {
        double n = 0, val = 0;
        for (const auto& [p, cs] : sets) {
            if (!std::includes(s.begin(), s.end(), cs.begin(), cs.end())) continue;
            n += 1;
            auto it = outcome.find(p);
            if (it != outcome.end() && it->second.first) val += it->second.second;
        }
        return n > 0 ? val / n : 0.0;
    };
    std::vector<int> perm(static_cast<std::size_t>(n_channels));
    std::iota(perm.begin(), perm.end(), 0);
    std::vector<double> phi(perm.size(), 0.0);
    double count = 0;
    do {
        std::set<int> s;
        double prev = 0.0;
        for (int c : perm) {
            s.insert(c);
            const double now = v(s);
            phi[static_cast<std::size_t>(c)] += now - prev;
            prev = now;
        }
        count += 1;
    } while (std::next_permutation(perm.begin(), perm.end()));
    for (double& x : phi) x /= count;
    return phi;
}

paths_data random_paths(std::uint64_t seed, int n_paths, int n_channels, int max_len) {
    std::mt19937_64 g(seed);
    paths_data d;
    for (int p = 0; p < n_paths; ++p) {
        const int len = 1 + static_cast<int>(g() % static_cast<std::uint64_t>(max_len));
        for (int i = 0; i < len; ++i) d.touch(p, i, static_cast<std::int32_t>(g() % static_cast<std::uint64_t>(n_channels)));
        const bool conv = g() % 3 == 0;
        d.outcome(p, conv, conv ? static_cast<double>(1 + g() % 100) : 0.0);
    }
    return d;
}
}  // namespace

TEST(Attribution, ShapleyExactMatchesBruteForceAndSamplingConverges) {
    for (std::uint64_t seed : {1u, 2u, 3u}) {
        const auto d = random_paths(seed, 60, 6, 4);
        attribution_options op{.model = attribution_model::shapley};
        op.game = shapley_game::value_rate;
        const auto exact = run(d, op);
        ASSERT_TRUE(exact.exact);
        expect_vec(exact.score, brute_shapley_rate(d, 6), 1e-9);
        EXPECT_NEAR(sum(exact.value), exact.total_value, 1e-6);
        op.shapley_exact_max = 0;
        op.shapley_samples = 20000;
        op.seed = seed;
        const auto sampled = run(d, op);
        EXPECT_FALSE(sampled.exact);
        expect_vec(sampled.score, exact.score, 0.05 * exact.base + 0.05);
        EXPECT_NEAR(sum(sampled.value), exact.total_value, 1e-6);
        // Same seed, same answer.
        expect_vec(run(d, op).value, sampled.value, 0.0);
    }
}

TEST(Attribution, CreditsSumToTotalsForEveryModel) {
    auto d = random_paths(7, 500, 9, 6);
    for (std::size_t i = 0; i < d.milestone.size(); ++i) d.milestone[i] = static_cast<std::uint8_t>(i % 5 == 2 ? 1 : i % 7 == 3 ? 2 : 0);
    const path_set ps(d.touches(), d.outcomes());
    for (auto m : {attribution_model::first_touch, attribution_model::last_touch, attribution_model::linear,
                   attribution_model::u_shaped, attribution_model::w_shaped, attribution_model::time_decay,
                   attribution_model::markov, attribution_model::shapley}) {
        for (int order = 1; order <= (m == attribution_model::markov ? 3 : 1); ++order) {
            attribution_options op{.model = m, .half_life = 2.0, .markov_order = order};
            const auto r = attribute(ps, op);
            EXPECT_NEAR(sum(r.value), r.total_value, 1e-6 * r.total_value) << to_string(m) << order;
            EXPECT_NEAR(sum(r.conversions), r.total_conversions, 1e-9 * r.total_conversions) << to_string(m);
            for (double x : r.value) EXPECT_GE(x, 0.0) << to_string(m);
        }
    }
}

// Sampled Shapley credits depend on the paths as a set and the seed only: shuffled touch and
// outcome rows give the same credits, bit for bit (they moved by up to 162% before).
TEST(Attribution, SampledShapleyDoesNotDependOnRowOrder) {
    const auto d = random_paths(17, 300, 9, 5);
    attribution_options op{.model = attribution_model::shapley};
    op.game = shapley_game::value_rate;
    op.shapley_exact_max = 4;
    op.shapley_samples = 300;
    op.seed = 8;
    // Values with fractions, so that the order of a sum shows in its last bits.
    paths_data base = d;
    for (std::size_t i = 0; i < base.value.size(); ++i)
        if (base.converted[i]) base.value[i] += 0.1 * static_cast<double>(i % 7);
    const auto want = run(base, op);
    ASSERT_FALSE(want.exact);
    std::mt19937_64 g(4);
    for (int trial = 0; trial < 3; ++trial) {
        std::vector<std::size_t> tp(base.path.size()), op_rows(base.out_path.size());
        std::iota(tp.begin(), tp.end(), std::size_t{0});
        std::iota(op_rows.begin(), op_rows.end(), std::size_t{0});
        std::shuffle(tp.begin(), tp.end(), g);
        std::shuffle(op_rows.begin(), op_rows.end(), g);
        paths_data s;
        for (std::size_t i : tp) s.touch(base.path[i], base.time[i], base.channel[i], base.milestone[i]);
        for (std::size_t i : op_rows) s.outcome(base.out_path[i], base.converted[i] != 0, base.value[i]);
        const auto got = run(s, op);
        EXPECT_EQ(got.value, want.value);
        EXPECT_EQ(got.conversions, want.conversions);
        EXPECT_EQ(got.score, want.score);
        EXPECT_EQ(got.base, want.base);
        // The exact values are canonical too.
        auto exact_op = op;
        exact_op.shapley_exact_max = 20;
        EXPECT_EQ(run(s, exact_op).value, run(base, exact_op).value);
    }
}

// Time-decay weights at the top of the int64 range: ages come from exact integer differences.
// In doubles, touches 3600 s apart there were 4096 s apart (both rounded to multiples of 2048).
TEST(Attribution, TimeDecayExactAtTheInt64Limit) {
    const std::int64_t hi = std::numeric_limits<std::int64_t>::max();
    paths_data d;
    d.touch(1, hi - 1000 - 3600, 0);
    d.touch(1, hi - 1000, 1);
    d.outcome(1, true, 3, hi - 1000);
    attribution_options op{.model = attribution_model::time_decay};
    op.half_life = 3600;
    const auto r = attribute(path_set(d.touches(), d.outcomes(true)), op);
    ASSERT_EQ(r.value.size(), 2u);
    EXPECT_DOUBLE_EQ(r.value[0], 1.0);  // weights 1/3 and 2/3 of 3
    EXPECT_DOUBLE_EQ(r.value[1], 2.0);
}

// Shuffled, time-ordered and path-sorted touches on 1 to 3 threads: the same path set (paths
// with an outcome row in that row's order, the others by ascending id) and the same credits.
TEST(Attribution, PathSetOfAnyRowOrderAndThreadCountIsIdentical) {
    std::mt19937_64 g(31);
    paths_data d;
    const std::int64_t paths = 3000;
    for (std::size_t i = 0; i < 40000; ++i)
        d.touch(static_cast<std::int64_t>(g() % paths) * 104729 - 77, static_cast<std::int64_t>(g() % 500),
                static_cast<std::int32_t>(g() % 7) - 1, static_cast<std::uint8_t>(g() % 3));
    for (std::int64_t p = paths + 5; p-- > 0;)  // outcome rows in descending id, some without touches
        if (g() % 2) d.outcome(p * 104729 - 77, g() % 2 == 0, static_cast<double>(g() % 100), static_cast<std::int64_t>(g() % 600));
    const std::size_t n = d.path.size();
    std::vector<std::size_t> shuffled(n), by_time(n), sorted(n);
    std::iota(shuffled.begin(), shuffled.end(), 0);
    std::shuffle(shuffled.begin(), shuffled.end(), g);
    by_time = shuffled;
    std::stable_sort(by_time.begin(), by_time.end(), [&](std::size_t a, std::size_t b) { return d.time[a] < d.time[b]; });
    sorted = shuffled;
    std::stable_sort(sorted.begin(), sorted.end(), [&](std::size_t a, std::size_t b) { return d.path[a] < d.path[b]; });
    const path_set ref(d.touches(), d.outcomes(true));
    ASSERT_GT(ref.n_paths(), 1000u);
    EXPECT_GT(ref.unattributed_conversions(), 0.0);
    for (std::size_t p = 1; p < ref.n_paths(); ++p) {
        const auto t = ref.times(p);
        EXPECT_TRUE(std::is_sorted(t.begin(), t.end()));
    }
    auto same = [](auto a, auto b) { return std::equal(a.begin(), a.end(), b.begin(), b.end()); };
    attribution_options markov;
    markov.model = attribution_model::markov;
    attribution_options w;
    w.model = attribution_model::w_shaped;
    for (const auto* order : {&sorted, &by_time, &shuffled}) {
        paths_data q = d;
        for (std::size_t i = 0; i < n; ++i) {
            q.path[i] = d.path[(*order)[i]], q.time[i] = d.time[(*order)[i]];
            q.channel[i] = d.channel[(*order)[i]], q.milestone[i] = d.milestone[(*order)[i]];
        }
        for (unsigned threads : {1u, 2u, 3u}) {
            const path_set ps(q.touches(), q.outcomes(true), 0, threads);
            ASSERT_EQ(ps.n_paths(), ref.n_paths());
            EXPECT_EQ(ps.n_channels(), ref.n_channels());
            EXPECT_TRUE(same(ps.unattributed_values(), ref.unattributed_values()));
            for (std::size_t p = 0; p < ps.n_paths(); ++p) {
                ASSERT_EQ(ps.path_id(p), ref.path_id(p));
                ASSERT_TRUE(same(ps.channels(p), ref.channels(p)));
                ASSERT_TRUE(same(ps.times(p), ref.times(p)));
                ASSERT_TRUE(same(ps.milestones(p), ref.milestones(p)));
                ASSERT_EQ(ps.converted(p), ref.converted(p));
                ASSERT_EQ(ps.value(p), ref.value(p));
                ASSERT_EQ(ps.conversion_time(p), ref.conversion_time(p));
            }
            for (const auto& op : {markov, w}) {
                attribution_options o = op;
                o.threads = threads;
                const auto a = attribute(q.touches(), q.outcomes(true), o);
                const auto b = attribute(ref, op);
                EXPECT_EQ(a.conversions, b.conversions);
                EXPECT_EQ(a.value, b.value);
                EXPECT_EQ(a.unattributed_value, b.unattributed_value);
            }
        }
    }
    EXPECT_THROW(path_set(d.touches(), d.outcomes(), 0, 0), invalid_argument);
}
