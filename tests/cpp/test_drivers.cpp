#include <gtest/gtest.h>

#include <funnelkit/drivers.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

#include "error_testing.hpp"

using namespace funnelkit;
using funnelkit_testing::error_of;

namespace {

struct table_case {
    std::int64_t a, b, c, d;
    double p_two_sided, p_larger, p_smaller, odds_ratio, lower, upper;
};

// scipy 1.17.1 stats.fisher_exact (the three alternatives) and statsmodels 0.15.0
// Table2x2(table, shift_zeros=False): oddsratio, oddsratio_confint(alpha=0.05), on table + 1/2
// when a cell is 0 (statsmodels' own shift_zeros replaces only the zero cells by 1/2, which is not
// the Haldane-Anscombe correction).
const table_case reference[] = {
    {8, 2, 1, 5, 0.034965034965034975, 0.024475524475524483, 0.9991258741258742, 20.0, 1.4161851393939515,
     282.44894602634895},
    {3, 1, 1, 3, 0.48571428571428565, 0.24285714285714283, 0.9857142857142858, 9.0, 0.36663693192554536,
     220.92700692915756},
    {0, 5, 7, 3, 0.025641025641025637, 1.0, 0.018648018648018645, 0.04242424242424243, 0.0017983091017625202,
     1.0008381448477865},
    {12, 30, 40, 25, 0.0013984420973880021, 0.9998248929606142, 0.0007768002074249047, 0.25, 0.10842706780209412,
     0.5764243308144945},
    {120, 800, 300, 1500, 0.013583546597757212, 0.9947027320028541, 0.00732574914952097, 0.75, 0.5968370868955096,
     0.9424682419215664},
    {1, 1000, 20, 500, 5.342477499190013e-09, 0.9999999998758776, 5.342477499190013e-09, 0.025,
     0.00334559090951266, 0.18681303748850814},
    {5000, 20000, 3000, 25000, 6.929773745204536e-196, 3.6199520219795395e-196, 1.0, 2.0833333333333335,
     1.9838421639005488, 2.1878140593826894},
};

void expect_rel(double got, double want, double tol) {
    if (want == 0.0) {
        EXPECT_EQ(got, 0.0);
    } else {
        EXPECT_NEAR(got / want, 1.0, tol) << "got " << got << ", want " << want;
    }
}

}  // namespace

TEST(Drivers, FisherExactMatchesScipy) {
    for (const auto& r : reference) {
        SCOPED_TRACE(::testing::Message() << r.a << "," << r.b << "," << r.c << "," << r.d);
        expect_rel(fisher_exact(r.a, r.b, r.c, r.d), r.p_two_sided, 1e-11);
        expect_rel(fisher_exact(r.a, r.b, r.c, r.d, alternative::larger), r.p_larger, 1e-9);
        expect_rel(fisher_exact(r.a, r.b, r.c, r.d, alternative::smaller), r.p_smaller, 1e-9);
    }
}

TEST(Drivers, FisherExactIsAccurateForMillionsOfEntities) {
    // Exact two-sided p-values, summed in rational arithmetic (Python's fractions and math.comb):
    // Loader's form of the densities keeps 1e-14 here, where log-gamma differences lose 1e-9.
    expect_rel(fisher_exact(1, 1000000, 3, 1000000), 0.6249996250010312, 1e-12);
    expect_rel(fisher_exact(3, 200000, 9, 180000), 0.08021835209486596, 1e-12);
    expect_rel(fisher_exact(40, 20000, 70, 21000), 0.009780209911692593, 1e-12);
}

TEST(Drivers, FisherExactEdgeCases) {
    EXPECT_EQ(fisher_exact(0, 0, 3, 4), 1.0);  // an empty row
    EXPECT_EQ(fisher_exact(3, 0, 4, 0), 1.0);  // an empty column
    EXPECT_EQ(fisher_exact(2, 2, 2, 2), 1.0);  // the most likely table
    // Symmetric under swapping the rows or the columns.
    expect_rel(fisher_exact(12, 30, 40, 25), fisher_exact(40, 25, 12, 30), 1e-12);
    expect_rel(fisher_exact(12, 30, 40, 25), fisher_exact(30, 12, 25, 40), 1e-12);
    EXPECT_EQ(error_of([] { (void)fisher_exact(-1, 2, 3, 4); }),
              "option 'a': value -1 is negative; cell counts must be >= 0");
}

TEST(Drivers, WoolfIntervalMatchesStatsmodels) {
    for (const auto& r : reference) {
        SCOPED_TRACE(::testing::Message() << r.a << "," << r.b << "," << r.c << "," << r.d);
        const auto w = odds_ratio_woolf(r.a, r.b, r.c, r.d);
        ASSERT_TRUE(w.has_value());
        expect_rel(w->odds_ratio, r.odds_ratio, 1e-12);
        expect_rel(w->lower, r.lower, 1e-9);
        expect_rel(w->upper, r.upper, 1e-9);
        EXPECT_EQ(w->corrected, r.a == 0 || r.b == 0 || r.c == 0 || r.d == 0);
    }
    // Hand-worked: (8, 2; 1, 5): ln 20 +- 1.959964 * sqrt(1/8 + 1/2 + 1 + 1/5).
    const auto w = odds_ratio_woolf(8, 2, 1, 5, 0.95);
    const double se = std::sqrt(1.0 / 8 + 1.0 / 2 + 1.0 + 1.0 / 5);
    EXPECT_NEAR(w->lower, std::exp(std::log(20.0) - 1.959963984540054 * se), 1e-12);
    EXPECT_FALSE(odds_ratio_woolf(0, 0, 3, 4).has_value());
    EXPECT_FALSE(odds_ratio_woolf(3, 0, 4, 0).has_value());
    EXPECT_EQ(error_of([] { (void)odds_ratio_woolf(1, 2, 3, 4, 1.0); }),
              "option 'confidence': value 1 must lie strictly between 0 and 1");
}

TEST(Drivers, TableCountsTestsAdjustsAndRanks) {
    // 12 entities; outcome 1 for 0..4. Feature 0: entities 0,1,2,3 (+ 6): strongly with the
    // outcome. Feature 1: 5..11 (mostly without). Feature 2: nobody. Feature 3: entity 11 twice.
    // Entity 12 is outside the population and its features do not count.
    const std::vector<std::uint8_t> outcome{1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 2};
    const std::vector<std::int64_t> ent{0, 1, 2, 3, 6, 5, 6, 7, 8, 9, 10, 11, 11, 11, 12, 12};
    const std::vector<std::int32_t> fea{0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 3, 3, 0, 2};
    const driver_table t = drivers(outcome, ent, fea, 4);
    ASSERT_EQ(t.size(), 4u);
    EXPECT_EQ(t.entities, 12);
    EXPECT_EQ(t.with_outcome_total, 5);
    // Row of feature 0: a = 4, a + b = 5, c = 1, c + d = 7.
    std::size_t row0 = 0;
    while (t.feature[row0] != 0) ++row0;
    EXPECT_EQ(t.with_outcome[row0], 4);
    EXPECT_EQ(t.with_total[row0], 5);
    EXPECT_EQ(t.without_outcome[row0], 1);
    EXPECT_EQ(t.without_total[row0], 7);
    EXPECT_DOUBLE_EQ(t.rate_with[row0], 0.8);
    EXPECT_DOUBLE_EQ(t.odds_ratio[row0], 4.0 * 6.0 / (1.0 * 1.0));
    EXPECT_EQ(t.test[row0], driver_test::fisher);  // expected counts below 5
    EXPECT_DOUBLE_EQ(t.p_value[row0], fisher_exact(4, 1, 1, 6));
    // Feature 2 has nobody in the population: untested, ranked last.
    EXPECT_EQ(t.feature.back(), 2);
    EXPECT_EQ(t.tested.back(), 0);
    EXPECT_TRUE(std::isnan(t.p_value.back()));
    EXPECT_EQ(t.rank.back(), 4);
    // BH over the three tested p-values.
    std::vector<double> ps;
    for (std::size_t k = 0; k < 3; ++k) ps.push_back(t.p_value[k]);
    const auto q = adjust_p_values(ps, p_adjust::benjamini_hochberg);
    for (std::size_t k = 0; k < 3; ++k) {
        EXPECT_DOUBLE_EQ(t.q_value[k], q[k]);
        if (k > 0) {
            EXPECT_LE(t.q_value[k - 1], t.q_value[k]);
        }
    }
    // Feature 3 (entity 11 counted once): a = 0, so the table is corrected.
    std::size_t row3 = 0;
    while (t.feature[row3] != 3) ++row3;
    EXPECT_EQ(t.with_total[row3], 1);
    EXPECT_EQ(t.corrected[row3], 1);
}

TEST(Drivers, AutomaticUsesChiSquaredForLargeCells) {
    // 400 entities, feature on the first 200; outcome on 0..119 and 200..259.
    std::vector<std::uint8_t> outcome(400, 0);
    for (int e = 0; e < 120; ++e) outcome[static_cast<std::size_t>(e)] = 1;
    for (int e = 200; e < 260; ++e) outcome[static_cast<std::size_t>(e)] = 1;
    std::vector<std::int64_t> ent;
    std::vector<std::int32_t> fea;
    for (int e = 0; e < 200; ++e) ent.push_back(e), fea.push_back(0);
    const auto t = drivers(outcome, ent, fea, 1);
    EXPECT_EQ(t.test[0], driver_test::chi2);
    const std::array<std::int64_t, 4> cells{120, 80, 60, 140};
    EXPECT_DOUBLE_EQ(t.p_value[0], chi2_test(cells, 2, 2, true)->p_value);
    const auto f = drivers(outcome, ent, fea, 1, {.test = driver_test::fisher});
    EXPECT_EQ(f.test[0], driver_test::fisher);
    EXPECT_DOUBLE_EQ(f.p_value[0], fisher_exact(120, 80, 60, 140));
}

TEST(Drivers, RowOrderDoesNotMatter) {
    const std::vector<std::uint8_t> outcome{1, 0, 1, 0, 1, 0, 0, 1};
    std::vector<std::int64_t> ent{0, 1, 2, 3, 4, 5, 6, 7, 0, 2};
    std::vector<std::int32_t> fea{0, 0, 1, 1, 0, 1, 0, 1, 1, 0};
    const auto a = drivers(outcome, ent, fea, 2);
    std::reverse(ent.begin(), ent.end());
    std::reverse(fea.begin(), fea.end());
    const auto b = drivers(outcome, ent, fea, 2);
    EXPECT_EQ(a.feature, b.feature);
    EXPECT_EQ(a.with_total, b.with_total);
    EXPECT_EQ(a.p_value, b.p_value);
}

TEST(Drivers, BadInputNamesTheRow) {
    const std::vector<std::uint8_t> outcome{1, 0, 3};
    const std::vector<std::int64_t> ent{0};
    const std::vector<std::int32_t> fea{0};
    EXPECT_EQ(error_of([&] { (void)drivers(outcome, ent, fea, 1); }),
              "column 'outcome', row 2: value 3 is not an outcome (expected 1, 0, or 2 for outside the population)");
    const std::vector<std::uint8_t> ok{1, 0};
    const std::vector<std::int64_t> far{5};
    EXPECT_EQ(error_of([&] { (void)drivers(ok, far, fea, 1); }),
              "column 'member_entity', row 0: value 5 is not an entity index (expected 0..2 excluded)");
    const std::vector<std::int32_t> bad{1};
    EXPECT_EQ(error_of([&] { (void)drivers(ok, ent, bad, 1); }),
              "column 'member_feature', row 0: value 1 is not a feature code (expected 0..1 excluded)");
    EXPECT_EQ(error_of([] { (void)parse_driver_test("fischer"); }),
              "option 'test': value 'fischer' is not a driver test (expected automatic, fisher or chi2)");
}
