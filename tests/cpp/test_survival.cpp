#include <gtest/gtest.h>

#include <funnelkit/detail/random.hpp>
#include <funnelkit/error.hpp>
#include <funnelkit/survival.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "error_testing.hpp"

using namespace funnelkit;

namespace {
using funnelkit_testing::error_of;
}  // namespace

TEST(Survival, KaplanMeierHandWorked) {
    // Durations 1, 2, 2+, 2, 3, 4+, 5 in shuffled order ("+" = censored, still open):
    //   t=1: n=6 d=1       S = 5/6
    //   t=2: n=5 d=1 c=1   S = 5/6 * 4/5 = 2/3  (the censored one is at risk at t=2)
    //   t=3: n=3 d=1       S = 2/3 * 2/3 = 4/9  -> first S <= 1/2: median 3
    //   t=4: n=2 c=1       S = 4/9
    //   t=5: n=1 d=1       S = 0
    const std::vector<double> dur{5, 2, 4, 1, 3, 2};
    const std::vector<std::uint8_t> obs{1, 0, 0, 1, 1, 1};
    const auto km = kaplan_meier(dur, obs);
    ASSERT_EQ(km.time, (std::vector<double>{1, 2, 3, 4, 5}));
    EXPECT_EQ(km.at_risk, (std::vector<std::int64_t>{6, 5, 3, 2, 1}));
    EXPECT_EQ(km.events, (std::vector<std::int64_t>{1, 1, 1, 0, 1}));
    EXPECT_EQ(km.censored, (std::vector<std::int64_t>{0, 1, 0, 1, 0}));
    const std::vector<double> s{5.0 / 6, 2.0 / 3, 4.0 / 9, 4.0 / 9, 0.0};
    for (std::size_t j = 0; j < s.size(); ++j) EXPECT_NEAR(km.survival[j], s[j], 1e-15) << j;
    EXPECT_EQ(km.count(), 6);
    EXPECT_EQ(km.event_count(), 4);
    ASSERT_TRUE(km.median.has_value());
    EXPECT_EQ(*km.median, 3.0);
    EXPECT_EQ(km.survival_at(0.5), 1.0);
    EXPECT_NEAR(km.survival_at(2.5), 2.0 / 3, 1e-15);
    EXPECT_NEAR(km.survival_at(3.0), 4.0 / 9, 1e-15);
    EXPECT_EQ(km.survival_at(100), 0.0);
    // Exponential Greenwood band; lifelines 0.30.3 KaplanMeierFitter on the same data
    // (confidence_interval_, median_survival_times of the band: 1.0 and 5.0).
    const std::vector<double> lo{0.27312284992835606, 0.19461663680623478, 0.06618675314641241, 0.06618675314641241, 0};
    const std::vector<double> hi{0.9747124266908934, 0.9044341643225163, 0.7849083671479585, 0.7849083671479585, 0};
    for (std::size_t j = 0; j < lo.size(); ++j) {
        EXPECT_NEAR(km.lower[j], lo[j], 1e-12) << j;
        EXPECT_NEAR(km.upper[j], hi[j], 1e-12) << j;
    }
    // By hand at t=1: V = 1/30, k = z sqrt(V) / |log(5/6)|, lower = (5/6)^exp(k).
    const double k = 1.959963984540054 * std::sqrt(1.0 / 30) / -std::log(5.0 / 6);
    EXPECT_NEAR(km.lower[0], std::pow(5.0 / 6, std::exp(k)), 1e-13);
    EXPECT_EQ(km.median_lower, std::optional<double>(1.0));
    EXPECT_EQ(km.median_upper, std::optional<double>(5.0));
}

TEST(Survival, KaplanMeierOpenEntitiesLeaveMedianUndefined) {
    // 2 of 5 convert early and 3 are still open: S ends at 3/5 > 1/2, so the median time to
    // convert is not reached (the median of the converters alone, 1.5, would be wrong).
    const std::vector<double> dur{1, 2, 10, 10, 10};
    const std::vector<std::uint8_t> obs{1, 1, 0, 0, 0};
    const auto km = kaplan_meier(dur, obs);
    EXPECT_NEAR(km.survival.back(), 3.0 / 5, 1e-15);
    EXPECT_FALSE(km.median.has_value());
    EXPECT_FALSE(km.percentile(0.5).has_value());
    EXPECT_EQ(km.percentile(0.7), std::optional<double>(2.0));  // S(2) = 3/5 <= 0.7
    // All observed (empty flags): the ordinary lower median convention.
    const auto all = kaplan_meier(dur, {});
    EXPECT_EQ(all.median, std::optional<double>(10.0));
    // Empty input.
    const auto none = kaplan_meier({}, {});
    EXPECT_TRUE(none.time.empty());
    EXPECT_FALSE(none.median.has_value());
    EXPECT_EQ(none.survival_at(3), 1.0);
}

TEST(Survival, KaplanMeierWithoutCensoringIsEmpiricalSurvival) {
    detail::rng g(42);
    std::vector<double> dur(500);
    for (auto& d : dur) d = std::floor(g.uniform() * 50);  // many ties
    const auto km = kaplan_meier(dur, {});
    for (std::size_t j = 0; j < km.time.size(); ++j) {
        std::size_t above = 0;
        for (double d : dur) above += d > km.time[j];
        EXPECT_NEAR(km.survival[j], static_cast<double>(above) / 500.0, 1e-12) << j;
    }
}

TEST(Survival, AalenJohansenHandWorked) {
    // Outcomes 1 = won, 2 = lost, 0 = open. Durations (outcome): 1(1) 2(2) 3(1) 3(0) 4(2) 5(1)
    //   t=1: n=6 won 1   F1 = 1/6                    S = 5/6
    //   t=2: n=5 lost 1  F2 = 5/6 * 1/5 = 1/6        S = 2/3
    //   t=3: n=4 won 1, open 1  F1 = 1/6 + 2/3 * 1/4 = 1/3   S = 1/2
    //   t=4: n=2 lost 1  F2 = 1/6 + 1/2 * 1/2 = 5/12  S = 1/4
    //   t=5: n=1 won 1   F1 = 1/3 + 1/4 = 7/12        S = 0
    const std::vector<double> dur{3, 1, 4, 2, 5, 3};
    const std::vector<std::int32_t> out{0, 1, 2, 2, 1, 1};
    const auto aj = aalen_johansen(dur, out);
    ASSERT_EQ(aj.n_outcomes, 2);
    ASSERT_EQ(aj.time, (std::vector<double>{1, 2, 3, 4, 5}));
    EXPECT_EQ(aj.at_risk, (std::vector<std::int64_t>{6, 5, 4, 2, 1}));
    EXPECT_EQ(aj.events, (std::vector<std::int64_t>{1, 0, 0, 1, 1, 0, 0, 1, 1, 0}));
    const std::vector<double> f1{1.0 / 6, 1.0 / 6, 1.0 / 3, 1.0 / 3, 7.0 / 12};
    const std::vector<double> f2{0, 1.0 / 6, 1.0 / 6, 5.0 / 12, 5.0 / 12};
    const std::vector<double> s{5.0 / 6, 2.0 / 3, 0.5, 0.25, 0};
    for (std::size_t j = 0; j < 5; ++j) {
        EXPECT_NEAR(aj.incidence[2 * j], f1[j], 1e-15) << j;
        EXPECT_NEAR(aj.incidence[2 * j + 1], f2[j], 1e-15) << j;
        EXPECT_NEAR(aj.survival[j], s[j], 1e-15) << j;
    }
    EXPECT_NEAR(aj.final_incidence(1), 7.0 / 12, 1e-15);
    EXPECT_EQ(aj.incidence_at(1, 0.5), 0.0);
    EXPECT_NEAR(aj.incidence_at(2, 3.5), 1.0 / 6, 1e-15);
    // The naive 1 - KM with lost as censored overstates the won share: 1 - S_won(5) = 1 here.
    std::vector<std::uint8_t> won_only;
    for (auto o : out) won_only.push_back(o == 1 ? 1 : 0);
    EXPECT_EQ(1.0 - kaplan_meier(dur, won_only).survival.back(), 1.0);
}

TEST(Survival, AalenJohansenTiesAcrossOutcomesAndIdentity) {
    // Random data with many ties: at every time the incidences and S add up to 1, and the
    // event-free survival equals Kaplan-Meier with any outcome as the event.
    detail::rng g(7);
    const std::size_t n = 2000;
    std::vector<double> dur(n);
    std::vector<std::int32_t> out(n);
    std::vector<std::uint8_t> any(n);
    for (std::size_t i = 0; i < n; ++i) {
        dur[i] = std::floor(g.uniform() * 30);
        const double u = g.uniform();
        out[i] = u < 0.3 ? 0 : (u < 0.6 ? 1 : (u < 0.9 ? 2 : 3));
        any[i] = out[i] != 0;
    }
    const auto aj = aalen_johansen(dur, out);
    const auto km = kaplan_meier(dur, any);
    ASSERT_EQ(aj.n_outcomes, 3);
    ASSERT_EQ(aj.time, km.time);
    for (std::size_t j = 0; j < aj.time.size(); ++j) {
        const double total = aj.incidence[3 * j] + aj.incidence[3 * j + 1] + aj.incidence[3 * j + 2] + aj.survival[j];
        EXPECT_NEAR(total, 1.0, 1e-12) << j;
        EXPECT_NEAR(aj.survival[j], km.survival[j], 1e-12) << j;
        if (j > 0) {
            for (std::size_t k = 0; k < 3; ++k) EXPECT_GE(aj.incidence[3 * j + k], aj.incidence[3 * (j - 1) + k]);
        }
    }
}

TEST(Survival, BadInput) {
    const std::vector<double> dur{1, -2, 3};
    const std::vector<std::uint8_t> obs{1, 1, 0};
    EXPECT_EQ(error_of([&] { (void)kaplan_meier(dur, obs); }),
              "column 'duration', row 1: value -2 is not a finite duration >= 0");
    const std::vector<double> nan_dur{1, 2, std::numeric_limits<double>::quiet_NaN()};
    EXPECT_EQ(error_of([&] { (void)kaplan_meier(nan_dur, obs); }),
              "column 'duration', row 2: value NaN is not a finite duration >= 0");
    const std::vector<double> ok{1, 2, 3};
    const std::vector<std::uint8_t> bad_obs{1, 2, 0};
    EXPECT_EQ(error_of([&] { (void)kaplan_meier(ok, bad_obs); }),
              "column 'observed', row 1: value 2 must be 0 (censored) or 1 (event)");
    EXPECT_EQ(error_of([&] { (void)kaplan_meier(ok, std::vector<std::uint8_t>{1}); }),
              "column 'observed' has 1 rows but column 'duration' has 3");
    EXPECT_EQ(error_of([&] { (void)kaplan_meier(ok, obs, {.confidence = 1.5}); }),
              "option 'confidence': value 1.5 must lie strictly between 0 and 1");
    const std::vector<std::int32_t> out{1, -1, 0};
    EXPECT_EQ(error_of([&] { (void)aalen_johansen(ok, out); }),
              "column 'outcome', row 1: value -1 is not an outcome code (expected 0 for censored or 1..1024)");
    const auto aj = aalen_johansen(ok, std::vector<std::int32_t>{1, 0, 2});
    EXPECT_EQ(error_of([&] { (void)aj.incidence_at(3, 1.0); }),
              "option 'outcome': value 3 is not an outcome of this estimate (expected 1..2)");
}

TEST(Survival, ConfidenceIsTheOptionAndLevelItsFormerName) {
    const std::vector<double> dur{5, 2, 4, 1, 3, 2};
    const std::vector<std::uint8_t> obs{1, 0, 0, 1, 1, 1};
    const auto a = kaplan_meier(dur, obs, {.confidence = 0.9});
    EXPECT_EQ(a.confidence, 0.9);
    EXPECT_EQ(a.level, 0.9);
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#endif
    kaplan_meier_options old;
    old.level = 0.9;
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
    EXPECT_EQ(old.confidence_level(), 0.9);
    const auto b = kaplan_meier(dur, obs, old);
    EXPECT_EQ(b.lower, a.lower);
    EXPECT_EQ(kaplan_meier_options{}.confidence_level(), 0.95);
}

TEST(Survival, LookupsOfManyTimes) {
    const std::vector<double> dur{5, 2, 4, 1, 3, 2};
    const std::vector<std::uint8_t> obs{1, 0, 0, 1, 1, 1};
    const auto km = kaplan_meier(dur, obs);
    const std::vector<double> t{0.5, 1, 2.5, 3, 100};
    std::vector<double> s(t.size());
    km.survival_at(t, s);
    EXPECT_EQ(s[0], 1.0);
    EXPECT_EQ(s[1], 5.0 / 6);
    EXPECT_EQ(s[3], km.survival[2]);
    EXPECT_EQ(s[4], 0.0);
    std::vector<double> short_out(2);
    EXPECT_THROW(km.survival_at(t, short_out), invalid_argument);
    // The band as step functions: 1 before the first time, then lower[j] / upper[j].
    EXPECT_EQ(km.lower_at(0.5), 1.0);
    EXPECT_EQ(km.lower_at(2.5), km.lower[1]);
    EXPECT_EQ(km.upper_at(3.0), km.upper[2]);
    std::vector<double> lo(t.size()), hi(t.size());
    km.lower_at(t, lo);
    km.upper_at(t, hi);
    EXPECT_EQ(lo[4], 0.0);
    EXPECT_EQ(hi[2], km.upper[1]);
    EXPECT_EQ(error_of([&] { (void)km.percentile(1.5); }), "option 'q': value 1.5 must lie strictly between 0 and 1");

    const std::vector<double> d2{3, 1, 4, 2, 5, 3};
    const std::vector<std::int32_t> out{0, 1, 2, 2, 1, 1};
    const auto aj = aalen_johansen(d2, out);
    std::vector<double> f(t.size());
    aj.incidence_at(1, t, f);
    EXPECT_EQ(f[0], 0.0);
    EXPECT_EQ(f[4], aj.final_incidence(1));
    // Event-free survival: 1 before the first time, 1/2 from t = 3 (hand-worked above).
    EXPECT_EQ(aj.survival_at(0.5), 1.0);
    EXPECT_EQ(aj.survival_at(3.5), 0.5);
    std::vector<double> s2(t.size());
    aj.survival_at(t, s2);
    EXPECT_EQ(s2[3], 0.5);
}

TEST(Survival, AalenJohansenWithOutcomesThatNeverOccur) {
    // Only outcome 1 in the data, but three outcomes asked for: columns 2 and 3 are zeros.
    const std::vector<double> d{1, 2, 3};
    const std::vector<std::int32_t> out{1, 0, 1};
    const auto aj = aalen_johansen(d, out, {.n_outcomes = 3});
    ASSERT_EQ(aj.n_outcomes, 3);
    ASSERT_EQ(aj.incidence.size(), 9u);
    EXPECT_EQ(aj.final_incidence(1), aalen_johansen(d, out).final_incidence(1));
    EXPECT_EQ(aj.final_incidence(2), 0.0);
    EXPECT_EQ(aj.final_incidence(3), 0.0);
    // The largest code wins over a smaller n_outcomes; nothing at all still has the columns.
    EXPECT_EQ(aalen_johansen(d, std::vector<std::int32_t>{2, 0, 1}, {.n_outcomes = 1}).n_outcomes, 2);
    const auto none = aalen_johansen({}, {}, {.n_outcomes = 2});
    EXPECT_EQ(none.n_outcomes, 2);
    EXPECT_EQ(none.final_incidence(2), 0.0);
    EXPECT_THROW((void)aalen_johansen(d, out, {.n_outcomes = -1}), invalid_argument);
}

TEST(Survival, AalenJohansenBandMatchesLifelines) {
    // lifelines 0.30.3 AalenJohansenFitter(calculate_variance=True): variance_ and
    // confidence_interval_ (its two columns sorted: lifelines labels the smaller one "upper"),
    // at the times 1..12 of untied data.
    const std::vector<double> dur{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    const std::vector<std::int32_t> out{1, 2, 0, 1, 1, 2, 0, 1, 2, 1, 0, 0};
    const auto aj = aalen_johansen(dur, out);
    ASSERT_EQ(aj.time.size(), 12u);
    ASSERT_EQ(aj.variance.size(), 24u);
    const double var1[] = {0.00636574074074074, 0.00636574074074074, 0.00636574074074074, 0.012843411827465328,
                           0.017701665142508767, 0.017701665142508767, 0.017701665142508767, 0.0230400281969212,
                           0.023040028196921206, 0.025223384392623047, 0.025223384392623047, 0.025223384392623047};
    const double lo1[] = {0.0050528354789907285, 0.0050528354789907285, 0.0050528354789907285, 0.027500435309355836,
                          0.06380295378136713, 0.06380295378136713, 0.06380295378136713, 0.11357659087324158,
                          0.11357659087324154, 0.17634895809787857, 0.17634895809787857, 0.17634895809787857};
    const double hi1[] = {0.3110704099899873, 0.3110704099899873, 0.3110704099899873, 0.43159167191944997,
                          0.5335487135552983, 0.5335487135552983, 0.5335487135552983, 0.649691009614809,
                          0.649691009614809, 0.7467640718544397, 0.7467640718544397, 0.7467640718544397};
    const double var2[] = {0.0, 0.006365740740740741, 0.006365740740740741, 0.006365740740740741,
                           0.006365740740740741, 0.012843411827465324, 0.012843411827465324, 0.012843411827465324,
                           0.020125076207895137, 0.020125076207895137, 0.020125076207895137, 0.020125076207895137};
    const double lo2[] = {0.0, 0.005052835478990737, 0.005052835478990737, 0.005052835478990737,
                          0.005052835478990737, 0.027500435309355847, 0.027500435309355847, 0.027500435309355847,
                          0.06639214241854104, 0.06639214241854104, 0.06639214241854104, 0.06639214241854104};
    const double hi2[] = {0.0, 0.3110704099899873, 0.3110704099899873, 0.3110704099899873, 0.3110704099899873,
                          0.4315916719194499, 0.4315916719194499, 0.4315916719194499, 0.5630448181981533,
                          0.5630448181981533, 0.5630448181981533, 0.5630448181981533};
    for (std::size_t j = 0; j < 12; ++j) {
        SCOPED_TRACE(j);
        EXPECT_NEAR(aj.variance[2 * j], var1[j], 1e-14);
        EXPECT_NEAR(aj.lower[2 * j], lo1[j], 1e-12);
        EXPECT_NEAR(aj.upper[2 * j], hi1[j], 1e-12);
        EXPECT_NEAR(aj.variance[2 * j + 1], var2[j], 1e-14);
        EXPECT_NEAR(aj.lower[2 * j + 1], lo2[j], 1e-12);
        EXPECT_NEAR(aj.upper[2 * j + 1], hi2[j], 1e-12);
    }
    EXPECT_EQ(aj.lower_at(1, 0.5), 0.0);
    EXPECT_NEAR(aj.upper_at(1, 4.5), hi1[3], 1e-12);
    // A higher confidence widens the band around the same estimate.
    const auto wide = aalen_johansen(dur, out, {.confidence = 0.99});
    EXPECT_EQ(wide.incidence, aj.incidence);
    EXPECT_EQ(wide.variance, aj.variance);
    for (std::size_t i = 0; i < aj.lower.size(); ++i) {
        EXPECT_LE(wide.lower[i], aj.lower[i]);
        EXPECT_GE(wide.upper[i], aj.upper[i]);
        EXPECT_LE(aj.lower[i], aj.incidence[i]);
        EXPECT_GE(aj.upper[i], aj.incidence[i]);
    }
    EXPECT_EQ(funnelkit_testing::error_of([&] { (void)aalen_johansen(dur, out, {.confidence = 1.5}); }),
              "option 'confidence': value 1.5 must lie strictly between 0 and 1");
}

TEST(Survival, AalenJohansenBandWhenEveryoneEnds) {
    // No censoring: the last time empties the risk set; F_1 + F_2 = 1 and the band stays finite.
    const std::vector<double> dur{1, 2, 3, 4};
    const std::vector<std::int32_t> out{1, 2, 1, 1};
    const auto aj = aalen_johansen(dur, out);
    for (std::size_t i = 0; i < aj.variance.size(); ++i) {
        EXPECT_TRUE(std::isfinite(aj.variance[i])) << i;
        EXPECT_GE(aj.variance[i], 0.0);
        EXPECT_LE(aj.lower[i], aj.incidence[i]);
        EXPECT_GE(aj.upper[i], aj.incidence[i]);
    }
}
