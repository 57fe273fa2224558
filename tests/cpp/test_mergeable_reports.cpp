// The mergeable states behind campaign_report, attribute and funnel_analysis's time to convert:
// parts of the entities merged give the whole's result to the last bit, in any merge order;
// the states round-trip through bytes, refuse corrupted bytes and refuse merges of other
// definitions naming the field. Also the exact sum they rest on.
#include <gtest/gtest.h>

#include <funnelkit/attribution.hpp>
#include <funnelkit/campaign.hpp>
#include <funnelkit/detail/exact_sum.hpp>
#include <funnelkit/funnel_analysis.hpp>
#include <funnelkit/markov.hpp>
#include <funnelkit/synthetic.hpp>

#include <algorithm>
#include <bit>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "error_testing.hpp"
#include "golden_testing.hpp"

using namespace funnelkit;
using funnelkit_testing::error_of;

namespace {

bool same_bits(double a, double b) { return std::bit_cast<std::uint64_t>(a) == std::bit_cast<std::uint64_t>(b); }
bool same_bits(const std::optional<double>& a, const std::optional<double>& b) {
    return a.has_value() == b.has_value() && (!a || same_bits(*a, *b));
}

// Rows whose entity falls in part k of n (entities hashed so that parts are uneven).
template <class Pick>
std::vector<std::size_t> rows_of(const std::vector<std::int64_t>& entity, Pick pick) {
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < entity.size(); ++i)
        if (pick(entity[i])) out.push_back(i);
    return out;
}

template <class T>
std::vector<T> take(const std::vector<T>& v, const std::vector<std::size_t>& rows) {
    std::vector<T> out;
    for (std::size_t i : rows) out.push_back(v[i]);
    return out;
}

std::size_t part_of(std::int64_t id, std::size_t parts) {
    return static_cast<std::size_t>((static_cast<std::uint64_t>(id) * 0x9E3779B97F4A7C15ull) >> 40) % parts;
}

// Every bit flip of a blob is refused (the CRC-32C catches it).
template <class S>
void flips_are_refused(const std::vector<std::byte>& blob) {
    for (std::size_t i = 0; i < blob.size(); i += std::max<std::size_t>(1, blob.size() / 97))
        for (int bit = 0; bit < 8; ++bit) {
            auto bad = blob;
            bad[i] ^= static_cast<std::byte>(1 << bit);
            EXPECT_THROW((void)S::deserialize(bad.data(), bad.size()), invalid_argument) << "byte " << i;
        }
    for (std::size_t cut = 0; cut < blob.size(); cut += std::max<std::size_t>(1, blob.size() / 31))
        EXPECT_THROW((void)S::deserialize(blob.data(), cut), invalid_argument) << "cut " << cut;
}

}  // namespace

TEST(ExactSum, OrderAndPartitionDoNotChangeTheSum) {
    detail::exact_sum s;
    for (double x : {1e16, 1.0, -1e16}) s.add(x);
    EXPECT_EQ(s.value(), 1.0);  // a plain double sum gives 0
    detail::exact_sum tenths;
    for (int i = 0; i < 10; ++i) tenths.add(0.1);
    EXPECT_EQ(tenths.value(), 1.0);  // correctly rounded: the exact sum is 1 + 5.55e-17
    std::mt19937_64 g(3);
    std::vector<double> v(2000);
    for (auto& x : v) x = std::ldexp(std::uniform_real_distribution<double>(-1, 1)(g), static_cast<int>(g() % 120) - 60);
    detail::exact_sum whole;
    for (double x : v) whole.add(x);
    for (int round = 0; round < 5; ++round) {
        std::shuffle(v.begin(), v.end(), g);
        detail::exact_sum a, b;
        for (std::size_t i = 0; i < v.size(); ++i) (i % 3 ? a : b).add(v[i]);
        b.merge(a);
        EXPECT_TRUE(same_bits(b.value(), whole.value()));
        EXPECT_TRUE(b == whole);
    }
    EXPECT_THROW(s.add(std::numeric_limits<double>::infinity()), invalid_argument);
    detail::exact_sum big;
    big.add(1.5e308);
    EXPECT_THROW(big.add(1.5e308), invalid_argument);
    EXPECT_EQ(big.value(), 1.5e308);  // unchanged by the refused add
}

TEST(CampaignState, PartsMergeToTheWholeReport) {
    const auto d = generate_sample({.leads = 3000, .seed = 11});
    const auto model = sample_model();
    campaign_options op;
    op.cost = {1000.0, 2500.0, std::numeric_limits<double>::quiet_NaN()};
    const auto whole = campaign_report(model, d.records(), op);
    for (std::size_t parts : {2u, 7u}) {
        campaign_state merged;
        for (std::size_t k = parts; k-- > 0;) {  // merged in reverse order
            const auto rows = rows_of(d.entity, [&](std::int64_t e) { return part_of(e, parts) == k; });
            const auto ent = take(d.entity, rows), tim = take(d.time, rows);
            const auto stg = take(d.stage, rows), src = take(d.source, rows);
            const auto amt = take(d.amount, rows);
            const auto part = campaign_sums(model, {ent, tim, stg, src, amt}, op, sample_sources().size());
            const auto blob = part.serialize();
            merged.merge(campaign_state::deserialize(blob.data(), blob.size()));
        }
        EXPECT_TRUE(merged == campaign_sums(model, d.records(), op));
        const auto got = campaign_report(merged, op);
        ASSERT_EQ(got.rows.size(), whole.rows.size());
        for (std::size_t g = 0; g <= got.rows.size(); ++g) {
            const auto& a = g < got.rows.size() ? got.rows[g] : got.total;
            const auto& b = g < whole.rows.size() ? whole.rows[g] : whole.total;
            EXPECT_EQ(a.leads, b.leads);
            EXPECT_EQ(a.won, b.won);
            EXPECT_TRUE(same_bits(a.revenue, b.revenue)) << g;
            EXPECT_TRUE(same_bits(a.days_to_win, b.days_to_win)) << g;
            EXPECT_TRUE(same_bits(a.velocity, b.velocity)) << g;
            EXPECT_TRUE(same_bits(a.p_holm, b.p_holm)) << g;
            EXPECT_TRUE(same_bits(a.roi, b.roi)) << g;
        }
    }
}

TEST(CampaignState, BytesAndDefinitions) {
    const auto d = generate_sample({.leads = 300, .seed = 2});
    const auto model = sample_model();
    const auto st = campaign_sums(model, d.records());
    const auto blob = st.serialize();
    EXPECT_TRUE(campaign_state::deserialize(blob.data(), blob.size()) == st);
    flips_are_refused<campaign_state>(blob);
    auto other = campaign_sums(model, d.records(), {.skipped = skipped_stages::not_implied});
    EXPECT_EQ(error_of([&] { other.merge(st); }),
              "cannot merge campaign_state: skipped stages differs (not implied vs implied)");
    auto days = campaign_sums(model, d.records(), {.seconds_per_day = 86'400'000.0});
    EXPECT_EQ(error_of([&] { days.merge(st); }),
              "cannot merge campaign_state: time units per day differs (86400000 vs 86400)");
    EXPECT_EQ(error_of([&] { (void)campaign_report(st, {.seconds_per_day = 1.0}); }),
              "option 'seconds_per_day': value 1 differs from the state's time units per day (86400)");
    // A state built by hand records nothing and joins any definition.
    campaign_state hand;
    hand.add_entity(4, true, true, true, true, false, 250.0, 86'400);
    EXPECT_NO_THROW(hand.merge(st));
    EXPECT_EQ(hand.segments(), st.segments());
    EXPECT_EQ(error_of([&] { hand.add_entity(0, true, true, true, true, true, 1.0, 0); }),
              "option 'lost': value true is not allowed: a won entity is not lost");
}

namespace {
struct touches {
    std::vector<std::int64_t> path, time, outcome_path;
    std::vector<std::int32_t> channel;
    std::vector<std::uint8_t> milestone, converted;
    std::vector<double> value;
    std::vector<std::int64_t> conversion_time;
};

touches sample_paths(std::int64_t leads) {
    const auto crm = generate_sample({.leads = leads, .seed = 5});
    const auto t = generate_sample_touches(crm, 5);
    return {t.path, t.time, t.outcome_path, t.channel, t.milestone, t.converted, t.value, t.conversion_time};
}

path_set paths_of(const touches& t, std::size_t parts, std::size_t k) {
    const auto tr = rows_of(t.path, [&](std::int64_t e) { return parts == 0 || part_of(e, parts) == k; });
    const auto orows = rows_of(t.outcome_path, [&](std::int64_t e) { return parts == 0 || part_of(e, parts) == k; });
    const auto p = take(t.path, tr), tm = take(t.time, tr), op = take(t.outcome_path, orows);
    const auto ch = take(t.channel, tr);
    const auto ms = take(t.milestone, tr), cv = take(t.converted, orows);
    const auto val = take(t.value, orows);
    const auto ct = take(t.conversion_time, orows);
    return path_set(touch_columns{p, tm, ch, ms}, outcome_columns{op, cv, val, ct},
                    static_cast<std::int32_t>(sample_channels().size()));
}
}  // namespace

TEST(AttributionState, PartsMergeToTheWholeAttribution) {
    const auto t = sample_paths(1500);
    const path_set all = paths_of(t, 0, 0);
    std::vector<attribution_options> models;
    for (auto m : {attribution_model::first_touch, attribution_model::linear, attribution_model::u_shaped,
                   attribution_model::w_shaped, attribution_model::time_decay, attribution_model::markov,
                   attribution_model::shapley})
        models.push_back({.model = m});
    models.push_back({.model = attribution_model::markov, .markov_order = 2});
    models.push_back({.model = attribution_model::markov, .markov_weighting = markov_weight::value});
    models.push_back({.model = attribution_model::shapley, .game = shapley_game::value_rate});
    models.push_back({.model = attribution_model::shapley, .game = shapley_game::value_rate, .shapley_exact_max = 3,
                      .shapley_samples = 200, .seed = 7});
    for (const auto& op : models) {
        const auto whole = attribute(all, op);
        attribution_state merged;
        for (std::size_t k = 0; k < 5; ++k) {
            const auto blob = attribution_sums(paths_of(t, 5, k), op).serialize();
            merged.merge(attribution_state::deserialize(blob.data(), blob.size()));
        }
        EXPECT_TRUE(merged == attribution_sums(all, op)) << to_string(op.model);
        const auto got = attribute(merged);
        ASSERT_EQ(got.value.size(), whole.value.size());
        for (std::size_t c = 0; c < got.value.size(); ++c) {
            EXPECT_TRUE(same_bits(got.value[c], whole.value[c])) << to_string(op.model) << " channel " << c;
            EXPECT_TRUE(same_bits(got.conversions[c], whole.conversions[c])) << to_string(op.model);
        }
        EXPECT_TRUE(same_bits(got.total_value, whole.total_value));
        EXPECT_TRUE(same_bits(got.base, whole.base)) << to_string(op.model);
        EXPECT_EQ(got.paths, whole.paths);
        EXPECT_EQ(got.exact, whole.exact);
    }
}

TEST(AttributionState, BytesAndOptions) {
    const auto t = sample_paths(200);
    const path_set all = paths_of(t, 0, 0);
    for (auto m : {attribution_model::linear, attribution_model::markov}) {
        const auto st = attribution_sums(all, {.model = m});
        const auto blob = st.serialize();
        EXPECT_TRUE(attribution_state::deserialize(blob.data(), blob.size()) == st);
        flips_are_refused<attribution_state>(blob);
    }
    auto a = attribution_sums(all, {.model = attribution_model::time_decay, .half_life = 3600.0});
    const auto b = attribution_sums(all, {.model = attribution_model::time_decay, .half_life = 7200.0});
    EXPECT_EQ(error_of([&] { a.merge(b); }), "cannot merge attribution_state: half_life differs (3600 vs 7200)");
    const auto c = attribution_sums(all, {.model = attribution_model::linear});
    EXPECT_EQ(error_of([&] { a.merge(c); }), "cannot merge attribution_state: model differs (time_decay vs linear)");
}

TEST(FunnelDurations, PartsMergeToTheWholeTimeToConvert) {
    std::mt19937_64 g(9);
    std::vector<std::int64_t> entity, time;
    std::vector<std::int32_t> step;
    for (int i = 0; i < 6000; ++i) {
        entity.push_back(std::min<std::int64_t>(static_cast<std::int64_t>(1.0 / (1e-3 + std::uniform_real_distribution<double>(0, 1)(g))), 500));
        time.push_back(static_cast<std::int64_t>(g() % (30 * 86'400)));
        step.push_back(static_cast<std::int32_t>(g() % 5) - 1);
    }
    funnel_analysis_options op;
    op.window = 3 * 86'400;
    op.steps = 4;
    op.data_end = 31 * 86'400;
    op.ticks_per_second = 1;
    const auto whole = funnel_analysis({entity, time, step}, {}, op);
    funnel_durations merged;
    for (std::size_t k = 0; k < 7; ++k) {
        const auto rows = rows_of(entity, [&](std::int64_t e) { return part_of(e, 7) == k; });
        const auto e = take(entity, rows), t = take(time, rows);
        const auto s = take(step, rows);
        const auto part = funnel_analysis({e, t, s}, {}, op);
        const auto blob = part.durations.serialize();
        merged.merge(funnel_durations::deserialize(blob.data(), blob.size()));
    }
    EXPECT_TRUE(merged == whole.durations);
    const auto got = merged.summaries();
    ASSERT_EQ(got.size(), whole.time_to_step.size());
    for (std::size_t k = 1; k < got.size(); ++k) {
        EXPECT_GT(got[k].count, 0);
        EXPECT_EQ(got[k].count, whole.time_to_step[k].count);
        EXPECT_TRUE(same_bits(got[k].mean, whole.time_to_step[k].mean));
        EXPECT_TRUE(same_bits(got[k].median, whole.time_to_step[k].median));
        EXPECT_TRUE(same_bits(got[k].p90, whole.time_to_step[k].p90));
        EXPECT_EQ(got[k].histogram, whole.time_to_step[k].histogram);
    }
    const auto blob = whole.durations.serialize();
    flips_are_refused<funnel_durations>(blob);
    // Another definition: refused, naming the option.
    auto other = op;
    other.window = 86'400;
    auto a = funnel_analysis({entity, time, step}, {}, other).durations;
    EXPECT_EQ(error_of([&] { a.merge(whole.durations); }), "cannot merge funnel_durations: window differs (86400 vs 259200)");
    other = op;
    other.count_conversions = true;
    a = funnel_analysis({entity, time, step}, {}, other).durations;
    EXPECT_EQ(error_of([&] { a.merge(whole.durations); }), "cannot merge funnel_durations: count_conversions differs (1 vs 0)");
    other = op;
    other.ticks_per_second = 1000;
    a = funnel_analysis({entity, time, step}, {}, other).durations;
    EXPECT_EQ(error_of([&] { a.merge(whole.durations); }),
              "cannot merge funnel_durations: time unit differs (1000 vs 1 ticks per second)");
}

// Golden blobs of the three states (format version 2): they must keep loading, equal to the
// states built here, serialise to the same bytes, and refuse every corruption.
TEST(MergeableReports, GoldenBlobsVersion2) {
    using namespace funnelkit_testing;
    campaign_state campaign(2, {.model_fingerprint = stage_model::b2b().fingerprint(), .skipped = 0, .mql_rank = 1,
                                .sql_rank = 3, .opportunity_rank = 4, .ticks_per_day = 86'400.0});
    campaign.add_entity(0, true, true, true, true, false, 1000.5, 10 * 86'400);
    campaign.add_entity(1, true, false, false, false, true, 0.0, 0);
    campaign.add_entity(1, false, false, false, false, false, 0.0, 0);
    std::vector<std::int64_t> path{1, 1, 2, 3}, time{0, 10, 5, 7}, out{1, 3};
    std::vector<std::int32_t> channel{0, 1, 1, 2};
    std::vector<std::uint8_t> conv{1, 1};
    std::vector<double> value{100.0, 0.1};
    const path_set ps(touch_columns{path, time, channel}, outcome_columns{out, conv, value}, 3);
    const auto attribution = attribution_sums(ps, {.model = attribution_model::markov});
    funnel_analysis_options op;
    op.window = 100;
    op.steps = 3;
    op.data_end = 1000;
    op.ticks_per_second = 1;
    std::vector<std::int64_t> ent{1, 1, 1, 2, 2}, t{0, 5, 9, 0, 50};
    std::vector<std::int32_t> step{0, 1, 2, 0, 1};
    const auto durations = funnel_analysis({ent, t, step}, {}, op).durations;
    write_golden_if_asked("campaign_state_v2.bin", campaign.serialize());
    write_golden_if_asked("attribution_state_v2.bin", attribution.serialize());
    write_golden_if_asked("funnel_durations_v2.bin", durations.serialize());
    const auto g1 = read_golden("campaign_state_v2.bin"), g2 = read_golden("attribution_state_v2.bin"),
               g3 = read_golden("funnel_durations_v2.bin");
    ASSERT_FALSE(g1.empty() || g2.empty() || g3.empty()) << "missing golden blob";
    EXPECT_TRUE(campaign_state::deserialize(g1.data(), g1.size()) == campaign);
    EXPECT_TRUE(attribution_state::deserialize(g2.data(), g2.size()) == attribution);
    EXPECT_TRUE(funnel_durations::deserialize(g3.data(), g3.size()) == durations);
    EXPECT_EQ(campaign.serialize(), g1);
    EXPECT_EQ(attribution.serialize(), g2);
    EXPECT_EQ(durations.serialize(), g3);
    EXPECT_EQ(corruptions_accepted<campaign_state>(g1), 0);
    EXPECT_EQ(corruptions_accepted<attribution_state>(g2), 0);
    EXPECT_EQ(corruptions_accepted<funnel_durations>(g3), 0);
    EXPECT_EQ(durations.durations(1).size(), 2u);
    EXPECT_EQ(durations.durations(2).size(), 1u);
}
