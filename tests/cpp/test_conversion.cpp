#include <gtest/gtest.h>

#include <funnelkit/conversion.hpp>
#include <funnelkit/error.hpp>
#include <funnelkit/synthetic.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <numeric>
#include <random>
#include <vector>

using namespace funnelkit;

namespace {
// Lead=0 MQL=1 SAL=2 SQL=3 Opportunity=4 Customer=5 Lost=6 Disqualified=7
struct rows {
    std::vector<std::int64_t> entity, time;
    std::vector<std::int32_t> stage, segment;
    stage_records view() const { return {entity, time, stage, segment}; }
    void add(std::int64_t e, std::int64_t t, std::int32_t s, std::int32_t g) {
        entity.push_back(e); time.push_back(t); stage.push_back(s); segment.push_back(g);
    }
};

// Hand-worked example: five entities, two segments.
//  1 (seg 0): Lead, MQL, SAL, SQL, Opportunity, Customer     -> reaches all six
//  2 (seg 0): Lead, MQL, Disqualified                        -> Lead, MQL
//  3 (seg 1): Lead, SQL (skips MQL and SAL), Lost             -> implied: 0..3; recorded: 0, 3
//  4 (seg 1): Lead, MQL, SAL, Lead (recycled), MQL            -> 0..2 (set, counted once)
//  5 (seg 1, first record), later rows say seg 0: Lead only   -> segment 1
rows hand_example() {
    rows r;
    for (int s : {0, 1, 2, 3, 4, 5}) r.add(1, 10 + s, s, 0);
    r.add(2, 5, 0, 0); r.add(2, 6, 1, 0); r.add(2, 7, 7, 0);
    r.add(3, 1, 0, 1); r.add(3, 9, 3, 1); r.add(3, 20, 6, 1);
    r.add(4, 2, 0, 1); r.add(4, 3, 1, 1); r.add(4, 4, 2, 1); r.add(4, 5, 0, 1); r.add(4, 6, 1, 1);
    r.add(5, 3, 0, 1); r.add(5, 8, 0, 0);
    return r;
}
}  // namespace

TEST(Conversion, HandWorkedImplied) {
    const auto r = hand_example();
    const auto c = conversion(stage_model::b2b(), r.view());
    ASSERT_EQ(c.n_stages(), 6u);
    ASSERT_EQ(c.n_segments(), 2u);
    EXPECT_EQ(c.entities(), 5);
    const std::vector<std::int64_t> all{5, 4, 3, 2, 1, 1};
    const std::vector<std::int64_t> seg0{2, 2, 1, 1, 1, 1};
    const std::vector<std::int64_t> seg1{3, 2, 2, 1, 0, 0};
    for (std::size_t k = 0; k < 6; ++k) {
        EXPECT_EQ(c.reached(k), all[k]) << k;
        EXPECT_EQ(c.reached(k, 0), seg0[k]) << k;
        EXPECT_EQ(c.reached(k, 1), seg1[k]) << k;
    }
    EXPECT_EQ(c.entities(0), 2);
    EXPECT_EQ(c.entities(1), 3);
    EXPECT_FALSE(c.step_rate(0).has_value());
    EXPECT_DOUBLE_EQ(*c.step_rate(1), 4.0 / 5.0);
    EXPECT_DOUBLE_EQ(*c.step_rate(3), 2.0 / 3.0);
    EXPECT_DOUBLE_EQ(*c.cumulative_rate(5), 1.0 / 5.0);
    EXPECT_DOUBLE_EQ(*c.cumulative_rate(0), 1.0);
    EXPECT_FALSE(c.step_rate(5, 1).has_value());  // 0 opportunities in segment 1
    EXPECT_DOUBLE_EQ(*c.cumulative_rate(5, 1), 0.0);
}

TEST(Conversion, HandWorkedRecordedOnly) {
    const auto r = hand_example();
    const auto c = conversion(stage_model::b2b(), r.view(), {.skipped = skipped_stages::not_implied});
    const std::vector<std::int64_t> all{5, 3, 2, 2, 1, 1};
    for (std::size_t k = 0; k < 6; ++k) EXPECT_EQ(c.reached(k), all[k]) << k;
    EXPECT_DOUBLE_EQ(*c.step_rate(3), 1.0);  // SQL 2 over SAL 2: entity 3 skipped SAL
}

TEST(Conversion, RowOrderDoesNotMatter) {
    const auto data = generate_sample({.leads = 3000, .seed = 11});
    const auto model = sample_model();
    const auto sorted = conversion(model, data.records());
    std::vector<std::size_t> perm(data.size());
    std::iota(perm.begin(), perm.end(), 0);
    std::mt19937_64 g(5);
    std::shuffle(perm.begin(), perm.end(), g);
    auto pick = [&](const auto& col) {
        std::decay_t<decltype(col)> out(col.size());
        for (std::size_t i = 0; i < perm.size(); ++i) out[i] = col[perm[i]];
        return out;
    };
    const auto e = pick(data.entity), t = pick(data.time);
    const auto s = pick(data.stage), g2 = pick(data.source);
    const auto shuffled = conversion(model, {e, t, s, g2});
    EXPECT_EQ(sorted, shuffled);
    EXPECT_EQ(sorted.entities(), 3000);
}

TEST(Conversion, MergeOfEntityPartitionsEqualsWhole) {
    const auto model = sample_model();
    const auto whole = generate_sample({.leads = 4000, .seed = 3});
    const auto a = generate_sample({.leads = 1500, .first_lead = 0, .seed = 3});
    const auto b = generate_sample({.leads = 2500, .first_lead = 1500, .seed = 3});
    auto ca = conversion(model, a.records());
    const auto cb = conversion(model, b.records());
    const auto cw = conversion(model, whole.records());
    conversion_counts ba = cb;
    ba.merge(ca);
    ca += cb;
    EXPECT_EQ(ca, cw);
    EXPECT_EQ(ba, cw);
    conversion_counts empty;
    empty.merge(cw);
    EXPECT_EQ(empty, cw);
    conversion_counts copy = cw;
    copy.merge(conversion_counts{});
    EXPECT_EQ(copy, cw);
    copy.reset();
    EXPECT_EQ(copy.entities(), 0);
    EXPECT_EQ(copy.n_stages(), 6u);
}

TEST(Conversion, MergeRejectsDifferentLadders) {
    conversion_counts a(6, 1), b(5, 1);
    a.add_entity(1, 0);
    b.add_entity(1, 0);
    EXPECT_THROW(a.merge(b), invalid_argument);
}

TEST(Conversion, SerializeRoundTripAndCorruption) {
    const auto data = generate_sample({.leads = 500, .seed = 9});
    const auto c = conversion(sample_model(), data.records());
    const auto blob = c.serialize();
    EXPECT_EQ(conversion_counts::deserialize(blob.data(), blob.size()), c);
    for (std::size_t cut = 0; cut < blob.size(); ++cut)
        EXPECT_THROW((void)conversion_counts::deserialize(blob.data(), cut), invalid_argument) << cut;
    auto bad = blob;
    bad[0] = std::byte{'X'};
    EXPECT_THROW((void)conversion_counts::deserialize(bad.data(), bad.size()), invalid_argument);
    bad = blob;
    bad[4] = std::byte{2};  // unknown format version
    EXPECT_THROW((void)conversion_counts::deserialize(bad.data(), bad.size()), invalid_argument);
    bad = blob;
    bad.push_back(std::byte{0});
    EXPECT_THROW((void)conversion_counts::deserialize(bad.data(), bad.size()), invalid_argument);
}

// The blob of format version 1 must keep loading: tests/data/conversion_counts_v1.bin holds
// the hand-worked example's counts.
TEST(Conversion, GoldenBlobVersion1) {
    std::ifstream in(std::string(FUNNELKIT_TEST_DATA_DIR) + "/conversion_counts_v1.bin", std::ios::binary);
    ASSERT_TRUE(in) << "missing golden blob";
    const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto loaded = conversion_counts::deserialize(bytes.data(), bytes.size());
    const auto r = hand_example();
    EXPECT_EQ(loaded, conversion(stage_model::b2b(), r.view()));
}

TEST(Conversion, BadInputNamesColumnRowValue) {
    auto r = hand_example();
    auto message = [&](const stage_records& v) {
        try {
            (void)conversion(stage_model::b2b(), v);
        } catch (const invalid_argument& e) {
            return std::string(e.what());
        }
        return std::string("<no error>");
    };
    r.stage[4] = 8;
    EXPECT_EQ(message(r.view()), "column 'stage', row 4: value 8 is not a stage code (expected 0..7)");
    r.stage[4] = -1;
    EXPECT_EQ(message(r.view()), "column 'stage', row 4: value -1 is not a stage code (expected 0..7)");
    r.stage[4] = 4;
    r.segment[2] = -3;
    EXPECT_EQ(message(r.view()), "column 'segment', row 2: value -3 is negative; segment codes must be >= 0");
    r.segment[2] = 0;
    r.time.pop_back();
    EXPECT_EQ(message(r.view()), "column 'time' has 18 rows but column 'entity' has 19");
    r.time.push_back(1);
    std::vector<double> amount(r.entity.size(), 1.0);
    amount[3] = std::nan("");
    EXPECT_EQ(message({r.entity, r.time, r.stage, r.segment, amount}),
              "column 'amount', row 3: value NaN is not a finite amount >= 0");
    amount[3] = -2.5;
    EXPECT_EQ(message({r.entity, r.time, r.stage, r.segment, amount}),
              "column 'amount', row 3: value -2.5 is not a finite amount >= 0");
}

TEST(Conversion, EmptyInputAndNoSegments) {
    const std::vector<std::int64_t> none;
    const std::vector<std::int32_t> none32;
    const auto c = conversion(stage_model::b2b(), {none, none, none32});
    EXPECT_EQ(c.entities(), 0);
    EXPECT_EQ(c.n_segments(), 0u);
    EXPECT_FALSE(c.cumulative_rate(3).has_value());
    EXPECT_THROW((void)c.reached(0, 0), invalid_argument);
    EXPECT_THROW((void)c.reached(6), invalid_argument);
}
