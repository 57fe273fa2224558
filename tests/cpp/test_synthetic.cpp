#include <gtest/gtest.h>

#include <funnelkit/conversion.hpp>
#include <funnelkit/error.hpp>
#include <funnelkit/synthetic.hpp>

#include <algorithm>
#include <set>

using namespace funnelkit;

TEST(Synthetic, DeterministicPerSeed) {
    const auto a = generate_sample({.leads = 2000, .seed = 1});
    const auto b = generate_sample({.leads = 2000, .seed = 1});
    const auto c = generate_sample({.leads = 2000, .seed = 2});
    EXPECT_EQ(a.entity, b.entity);
    EXPECT_EQ(a.time, b.time);
    EXPECT_EQ(a.stage, b.stage);
    EXPECT_EQ(a.amount, b.amount);
    EXPECT_NE(a.time, c.time);
}

TEST(Synthetic, ChunkedGenerationEqualsWhole) {
    const auto whole = generate_sample({.leads = 3000, .seed = 4});
    sample_data parts;
    generate_sample({.leads = 1000, .first_lead = 0, .seed = 4}, parts);
    generate_sample({.leads = 2000, .first_lead = 1000, .seed = 4}, parts);
    EXPECT_EQ(parts.entity, whole.entity);
    EXPECT_EQ(parts.time, whole.time);
    EXPECT_EQ(parts.stage, whole.stage);
    EXPECT_EQ(parts.campaign, whole.campaign);
    EXPECT_EQ(parts.reason, whole.reason);
    EXPECT_EQ(parts.amount, whole.amount);
}

TEST(Synthetic, RowsAreValidOrderedAndCensored) {
    const auto d = generate_sample({.leads = 5000, .seed = 42});
    const auto model = sample_model();
    EXPECT_EQ(d.records().validate(model), 6);
    const auto& campaign_source = sample_campaign_sources();
    std::set<std::int32_t> reasons_seen;
    for (std::size_t i = 0; i < d.size(); ++i) {
        ASSERT_LT(d.time[i], d.end);
        ASSERT_EQ(campaign_source[static_cast<std::size_t>(d.campaign[i])], d.source[i]);
        if (i > 0) {
            ASSERT_LE(d.entity[i - 1], d.entity[i]);
            if (d.entity[i] == d.entity[i - 1]) {
                ASSERT_LE(d.time[i - 1], d.time[i]);
            }
        }
        const bool deal_row = d.stage[i] == 4 || d.stage[i] == 5 || d.stage[i] == 6;
        ASSERT_EQ(deal_row, d.amount[i] > 0) << i;
        const bool has_reason = d.stage[i] == 6 || d.stage[i] == 7;
        ASSERT_EQ(has_reason, d.reason[i] >= 0) << i;
        reasons_seen.insert(d.reason[i]);
    }
    EXPECT_EQ(reasons_seen.size(), sample_reasons().size() + 1);
    // Recycling happened: some entity has a second Lead row.
    bool recycled = false;
    for (std::size_t i = 1; i < d.size() && !recycled; ++i)
        recycled = d.entity[i] == d.entity[i - 1] && d.stage[i] == 0;
    EXPECT_TRUE(recycled);
}

TEST(Synthetic, SourcesConvertDifferently) {
    const auto d = generate_sample({.leads = 40'000, .seed = 42});
    const auto c = conversion(sample_model(), d.records());
    // Referral converts best to customer, Outbound worst, as the profiles intend.
    const double referral = *c.cumulative_rate(5, 3), outbound = *c.cumulative_rate(5, 5);
    EXPECT_GT(referral, 3 * outbound);
    // Webinar leads become MQLs more often than paid search leads.
    EXPECT_GT(*c.step_rate(1, 0), *c.step_rate(1, 1) + 0.1);
    // Every lead reaches Lead.
    EXPECT_EQ(c.reached(0), 40'000);
}

TEST(Synthetic, RejectsBadOptions) {
    EXPECT_THROW((void)generate_sample({.leads = -1}), invalid_argument);
    EXPECT_THROW((void)generate_sample({.days = 0}), invalid_argument);
    EXPECT_THROW((void)generate_sample({.reps = 0}), invalid_argument);
    EXPECT_EQ(generate_sample({.leads = 0}).size(), 0u);
}

TEST(Synthetic, TouchesForAttribution) {
    const auto d = generate_sample({.leads = 3000, .seed = 42});
    const auto t = generate_sample_touches(d, 7);
    const auto again = generate_sample_touches(d, 7);
    EXPECT_EQ(t.time, again.time);
    EXPECT_EQ(t.channel, again.channel);
    ASSERT_EQ(t.outcome_path.size(), 3000u);
    std::size_t creations = 0, opportunities = 0;
    for (std::size_t i = 0; i < t.path.size(); ++i) {
        ASSERT_GE(t.channel[i], 0);
        ASSERT_LT(t.channel[i], static_cast<std::int32_t>(sample_channels().size()));
        if (i > 0 && t.path[i] == t.path[i - 1]) {
            ASSERT_LE(t.time[i - 1], t.time[i]);
        }
        creations += t.milestone[i] == 1;
        opportunities += t.milestone[i] == 2;
    }
    EXPECT_EQ(creations, 3000u);  // one creation touch per lead
    const auto conv = conversion(sample_model(), d.records());
    // Implied reach counts skipped stages; count recorded Opportunity entries instead.
    const auto recorded = conversion(sample_model(), d.records(), {.skipped = skipped_stages::not_implied});
    EXPECT_EQ(static_cast<std::int64_t>(opportunities), recorded.reached(4));
    std::int64_t won = 0;
    for (auto c : t.converted) won += c;
    EXPECT_EQ(won, conv.reached(5));
    // Rows out of entity order are rejected.
    auto shuffled = d;
    std::swap(shuffled.entity.front(), shuffled.entity.back());
    EXPECT_THROW((void)generate_sample_touches(shuffled), invalid_argument);
}
