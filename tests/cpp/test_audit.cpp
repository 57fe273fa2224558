#include <gtest/gtest.h>

#include <funnelkit/audit.hpp>
#include <funnelkit/error.hpp>

#include <cmath>
#include <random>
#include <vector>

using namespace funnelkit;

namespace {
struct leads {
    std::vector<double> score{0.9, 0.8, 0.6, 0.4, 0.4, 0.7};
    std::vector<std::uint8_t> accepted{1, 1, 0, 0, 0, 1};
    std::vector<std::uint8_t> sql{1, 1, 0, 0, 0, 0};
    std::vector<std::uint8_t> won{1, 0, 0, 1, 0, 0};
    std::vector<std::uint8_t> closed{1, 1, 1, 1, 1, 0};
    std::vector<std::int32_t> period{0, 0, 0, 1, 1, 1};
    audit_columns cols() const { return {score, {}, accepted, sql, won, closed, period}; }
};
}  // namespace

// Threshold 0.5: MQLs are leads 1, 2, 3, 6 (lead 6 still open). Closed: 1..5.
TEST(Audit, HandWorked) {
    const leads l;
    const auto r = qualification_audit(l.cols(), {.threshold = 0.5});
    const auto& s = r.overall;
    EXPECT_EQ(s.leads, 6);
    EXPECT_EQ(s.mqls, 4);
    EXPECT_EQ(s.accepted, 3);
    EXPECT_DOUBLE_EQ(*s.acceptance_rate, 0.75);
    EXPECT_DOUBLE_EQ(*s.mql_to_sql, 0.5);
    EXPECT_DOUBLE_EQ(*s.sql_to_won, 0.5);
    EXPECT_EQ(s.tp, 1);
    EXPECT_EQ(s.fp, 2);
    EXPECT_EQ(s.fn, 1);
    EXPECT_EQ(s.tn, 1);
    EXPECT_DOUBLE_EQ(*s.precision, 1.0 / 3);
    EXPECT_DOUBLE_EQ(*s.recall, 0.5);
    // Positives 0.9, 0.4 vs negatives 0.8, 0.6, 0.4: (3 + 0.5) / 6.
    EXPECT_DOUBLE_EQ(*s.auc, 3.5 / 6);
    const std::vector<roc_point> roc{{INFINITY, 0, 0}, {0.9, 0, 0.5}, {0.8, 1.0 / 3, 0.5}, {0.6, 2.0 / 3, 0.5}, {0.4, 1, 1}};
    ASSERT_EQ(r.roc.size(), roc.size());
    for (std::size_t i = 0; i < roc.size(); ++i) {
        EXPECT_DOUBLE_EQ(r.roc[i].threshold, roc[i].threshold);
        EXPECT_DOUBLE_EQ(r.roc[i].fpr, roc[i].fpr);
        EXPECT_DOUBLE_EQ(r.roc[i].tpr, roc[i].tpr);
    }
    ASSERT_EQ(r.sweep.size(), 4u);
    const auto& p = r.sweep[1];
    EXPECT_DOUBLE_EQ(p.threshold, 0.6);
    EXPECT_EQ(p.mqls, 4);
    EXPECT_EQ(p.tp, 1);
    EXPECT_EQ(p.fp, 2);
    EXPECT_EQ(p.fn, 1);
    EXPECT_EQ(p.tn, 1);
    EXPECT_DOUBLE_EQ(*p.f1, 2 * (1.0 / 3) * 0.5 / (1.0 / 3 + 0.5));
    ASSERT_EQ(r.periods, (std::vector<std::int32_t>{0, 1}));
    EXPECT_DOUBLE_EQ(*r.by_period[0].auc, 1.0);
    EXPECT_DOUBLE_EQ(*r.by_period[1].auc, 0.5);
    EXPECT_FALSE(r.by_period[1].precision.has_value());
    EXPECT_DOUBLE_EQ(*r.by_period[1].recall, 0.0);
    EXPECT_EQ(r.by_period[1].mqls, 1);
}

TEST(Audit, RuleOutcomeInsteadOfThreshold) {
    const leads l;
    const std::vector<std::uint8_t> mql{1, 0, 0, 1, 0, 0};
    audit_columns c = l.cols();
    c.mql = mql;
    const auto r = qualification_audit(c);
    EXPECT_EQ(r.overall.tp, 2);
    EXPECT_EQ(r.overall.fp, 0);
    EXPECT_DOUBLE_EQ(*r.overall.precision, 1.0);
    EXPECT_DOUBLE_EQ(*r.overall.recall, 1.0);
    EXPECT_DOUBLE_EQ(*r.overall.auc, 3.5 / 6);  // the score's AUC does not depend on the rule
}

TEST(Audit, AucMatchesPairCountOnRandomTiedScores) {
    std::mt19937_64 g(2);
    for (int rep = 0; rep < 20; ++rep) {
        const std::size_t n = 1 + g() % 300;
        std::vector<double> s(n);
        std::vector<std::uint8_t> y(n);
        for (std::size_t i = 0; i < n; ++i) {
            s[i] = static_cast<double>(g() % 12) / 4.0;  // many ties
            y[i] = static_cast<std::uint8_t>(g() % 3 == 0);
        }
        double num = 0, pairs = 0;
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t j = 0; j < n; ++j)
                if (y[i] && !y[j]) {
                    pairs += 1;
                    num += s[i] > s[j] ? 1.0 : s[i] == s[j] ? 0.5 : 0.0;
                }
        const auto a = roc_auc(s, y);
        if (pairs == 0) {
            EXPECT_FALSE(a.has_value());
            continue;
        }
        EXPECT_NEAR(*a, num / pairs, 1e-12);
        // The trapezoid area under the reported ROC curve is the same number.
        const auto r = qualification_audit({.score = s, .won = y}, {.threshold = 1.0});
        double area = 0;
        for (std::size_t k = 1; k < r.roc.size(); ++k)
            area += (r.roc[k].fpr - r.roc[k - 1].fpr) * (r.roc[k].tpr + r.roc[k - 1].tpr) / 2;
        EXPECT_NEAR(area, num / pairs, 1e-12);
    }
}

TEST(Audit, MonthIndex) {
    EXPECT_EQ(month_index(0), 0);
    EXPECT_EQ(month_index(1'704'067'200), (2024 - 1970) * 12);        // 2024-01-01
    EXPECT_EQ(month_index(1'704'067'200 - 1), (2024 - 1970) * 12 - 1);  // 2023-12-31T23:59:59
    EXPECT_EQ(month_index(1'709'251'200), (2024 - 1970) * 12 + 2);    // 2024-03-01
    EXPECT_EQ(month_index(-1), -1);
}

TEST(Audit, BadInput) {
    leads l;
    EXPECT_THROW((void)qualification_audit(l.cols()), invalid_argument);  // no threshold, no mql
    l.score[2] = std::nan("");
    try {
        (void)qualification_audit(l.cols(), {.threshold = 0.5});
        FAIL();
    } catch (const invalid_argument& e) {
        EXPECT_STREQ(e.what(), "column 'score', row 2: value NaN is not a finite score");
    }
    l = leads{};
    l.closed[0] = 0;
    EXPECT_THROW((void)qualification_audit(l.cols(), {.threshold = 0.5}), invalid_argument);
    l = leads{};
    l.won[1] = 2;
    EXPECT_THROW((void)qualification_audit(l.cols(), {.threshold = 0.5}), invalid_argument);
    l = leads{};
    l.period.pop_back();
    EXPECT_THROW((void)qualification_audit(l.cols(), {.threshold = 0.5}), invalid_argument);
    const auto empty = qualification_audit({}, {.threshold = 0.5});
    EXPECT_EQ(empty.overall.leads, 0);
    EXPECT_FALSE(empty.overall.precision.has_value());
}
