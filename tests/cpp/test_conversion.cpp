#include <gtest/gtest.h>

#include <funnelkit/conversion.hpp>
#include <funnelkit/error.hpp>
#include <funnelkit/serialize.hpp>
#include <funnelkit/synthetic.hpp>

#include "error_testing.hpp"
#include "golden_testing.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <numeric>
#include <optional>
#include <string>
#include <random>
#include <vector>

using namespace funnelkit;

namespace {
using funnelkit_testing::error_of;

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
    // Time order, and threads (the grouping primitive's buckets), change nothing either; nor
    // does dropping the segment column change the overall row.
    std::vector<std::size_t> by_time(data.size());
    std::iota(by_time.begin(), by_time.end(), 0);
    std::stable_sort(by_time.begin(), by_time.end(), [&](std::size_t a, std::size_t b) { return data.time[a] < data.time[b]; });
    perm = by_time;
    const auto e2 = pick(data.entity), t2 = pick(data.time);
    const auto s2 = pick(data.stage), g3 = pick(data.source);
    for (unsigned threads : {1u, 2u, 3u})
        for (skipped_stages k : {skipped_stages::implied, skipped_stages::not_implied}) {
            const conversion_options o{.skipped = k, .threads = threads};
            const auto want = conversion(model, data.records(), o);
            EXPECT_EQ(conversion(model, {e2, t2, s2, g3}, o), want);
            EXPECT_EQ(conversion(model, {e, t, s, g2}, o), want);
            const auto overall = conversion(model, {e, t, s, {}}, o);
            for (std::size_t rank = 0; rank < model.ladder().size(); ++rank)
                EXPECT_EQ(overall.reached(rank), want.reached(rank));
            EXPECT_EQ(overall.entities(), want.entities());
        }
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
    bad[4] = std::byte{9};  // unknown format version
    EXPECT_THROW((void)conversion_counts::deserialize(bad.data(), bad.size()), invalid_argument);
    bad = blob;
    bad.push_back(std::byte{0});
    EXPECT_THROW((void)conversion_counts::deserialize(bad.data(), bad.size()), invalid_argument);
}

// The blob of format version 1 must keep loading: tests/data/conversion_counts_v1.bin holds
// the hand-worked example's counts. Version 1 recorded no definition: the loaded state leaves
// it "not recorded" and takes the definition of the first state it is merged with.
TEST(Conversion, GoldenBlobVersion1) {
    const auto bytes = funnelkit_testing::read_golden("conversion_counts_v1.bin");
    ASSERT_FALSE(bytes.empty()) << "missing golden blob";
    const auto loaded = conversion_counts::deserialize(bytes.data(), bytes.size());
    const auto r = hand_example();
    const auto expected = conversion(stage_model::b2b(), r.view());
    EXPECT_EQ(loaded.definition(), conversion_definition{});
    auto adopted = loaded;
    auto empty = expected;
    empty.reset();
    adopted.merge(empty);
    EXPECT_EQ(adopted, expected);
}

// Format version 2 (definition and checksum): loads, equals the computed state, is what the
// writer writes, and no flipped bit, truncation or extra byte of it loads.
TEST(Conversion, GoldenBlobVersion2) {
    const auto r = hand_example();
    const auto expected = conversion(stage_model::b2b(), r.view());
    funnelkit_testing::write_golden_if_asked("conversion_counts_v2.bin", expected.serialize());
    const auto golden = funnelkit_testing::read_golden("conversion_counts_v2.bin");
    ASSERT_FALSE(golden.empty()) << "missing golden blob";
    const auto loaded = conversion_counts::deserialize(golden.data(), golden.size());
    EXPECT_EQ(loaded, expected);
    EXPECT_EQ(loaded.definition().model_fingerprint, stage_model::b2b().fingerprint());
    EXPECT_EQ(loaded.definition().skipped, skipped_stages::implied);
    EXPECT_EQ(loaded.definition().passes, recycled_passes::first_only);
    EXPECT_EQ(expected.serialize(), golden);
    EXPECT_EQ(funnelkit_testing::corruptions_accepted<conversion_counts>(golden), 0);
}

TEST(Conversion, MergeChecksDefinitions) {
    const auto r = hand_example();
    const auto implied = conversion(stage_model::b2b(), r.view());
    const auto recorded = conversion(stage_model::b2b(), r.view(), {.skipped = skipped_stages::not_implied});
    auto a = implied;
    EXPECT_EQ(error_of([&] { a.merge(recorded); }),
              "cannot merge conversion_counts: option 'skipped' differs (implied vs not_implied)");
    EXPECT_EQ(a, implied);  // unchanged
    const auto b2b = stage_model::b2b();
    std::vector<stage> stages(b2b.stages().begin(), b2b.stages().end());
    stages[1].name = "Marketing Qualified";
    const stage_model other(stages, {.recycle_target = "Lead"});
    const auto c = conversion(other, r.view());
    EXPECT_EQ(error_of([&] { a.merge(c); }).rfind("cannot merge conversion_counts: stage model differs (fingerprint 0x", 0), 0u);
    // A hand-built state records nothing and merges with any definition, taking it on.
    conversion_counts hand(6, 2);
    hand.add_entity(0b11, 1);
    hand.merge(implied);
    EXPECT_EQ(hand.definition(), implied.definition());
    EXPECT_EQ(hand.entities(), implied.entities() + 1);
    EXPECT_EQ(error_of([&] { hand.merge(recorded); }),
              "cannot merge conversion_counts: option 'skipped' differs (implied vs not_implied)");
    // Implied counts hold only downward-closed masks.
    EXPECT_EQ(error_of([&] { hand.add_entity(0b101, 0); }),
              "option 'reached_mask': value 5 misses a stage below its highest one, but these counts imply skipped stages");
}

TEST(Conversion, CountsNeverWrap) {
    // A state holding the largest count, built through the byte format.
    funnelkit::detail::byte_writer w("FKCV", 2);
    w.put(std::uint64_t{1});
    w.put(std::uint64_t{0});
    w.put(std::uint64_t{0});
    w.put_code(std::nullopt);
    w.put_code(std::nullopt);
    const std::int64_t top = std::numeric_limits<std::int64_t>::max();
    w.put(std::vector<std::int64_t>{top, top});
    const auto blob = std::move(w).finish();
    auto full = conversion_counts::deserialize(blob.data(), blob.size());
    const auto before = full;
    EXPECT_EQ(error_of([&] { full.add_entity(1); }),
              "conversion_counts::add_entity: a count overflows int64 (9223372036854775807 + 1)");
    EXPECT_EQ(full, before);
    conversion_counts one(1, 0);
    one.add_entity(1);
    EXPECT_EQ(error_of([&] { full.merge(one); }),
              "cannot merge conversion_counts: a count overflows int64 (9223372036854775807 + 1)");
    EXPECT_EQ(full, before);
    EXPECT_EQ(error_of([&] { one.merge(full); }),
              "cannot merge conversion_counts: a count overflows int64 (1 + 9223372036854775807)");
}

// Blobs with a valid checksum but a broken invariant are rejected, each with its reason.
TEST(Conversion, InvariantsCheckedOnLoad) {
    auto blob_of = [](std::uint64_t segments, std::optional<std::uint8_t> skipped, std::vector<std::int64_t> counts) {
        funnelkit::detail::byte_writer w("FKCV", 2);
        w.put(std::uint64_t{2});
        w.put(segments);
        w.put(std::uint64_t{7});
        w.put_code(skipped);
        w.put_code(std::nullopt);
        w.put(counts);
        return std::move(w).finish();
    };
    auto load_error = [&](const std::vector<std::byte>& b) {
        return error_of([&] { (void)conversion_counts::deserialize(b.data(), b.size()); });
    };
    EXPECT_EQ(load_error(blob_of(0, 0, {3, 3, 2})), "<no error>");
    EXPECT_EQ(load_error(blob_of(0, 0, {3, 4, 2})),
              "cannot deserialise conversion_counts: overall, stage 0: reached 4 exceeds entities 3");
    EXPECT_EQ(load_error(blob_of(0, 0, {3, 1, 2})),
              "cannot deserialise conversion_counts: overall, stage 1: reached 2 exceeds the previous stage's 1 although "
              "skipped stages are implied");
    EXPECT_EQ(load_error(blob_of(0, 1, {3, 1, 2})), "<no error>");  // recorded stages only: no order
    EXPECT_EQ(load_error(blob_of(0, 0, {3, -1, 0})),
              "cannot deserialise conversion_counts: overall, stage 0: negative count -1");
    EXPECT_EQ(load_error(blob_of(1, 0, {3, 3, 1, 4, 4, 1})),
              "cannot deserialise conversion_counts: column 0: the segments sum to more than the overall count 3");
    EXPECT_EQ(load_error(blob_of(1, 0, {3, 3, 1, 2, 2, 1})), "<no error>");
    EXPECT_EQ(load_error(blob_of(1, 0, {3, 3, 1})),
              "cannot deserialise conversion_counts: counter array of 3 does not match 2 stages and 1 segments");
    auto bad_code = blob_of(0, 0, {3, 3, 2});
    bad_code[4 + 2 + 24] = std::byte{2};  // skipped code 2, checksum fixed below
    const auto crc = funnelkit::detail::crc32c(bad_code.data(), bad_code.size() - 4);
    for (std::size_t i = 0; i < 4; ++i) bad_code[bad_code.size() - 4 + i] = static_cast<std::byte>(crc >> (8 * i));
    EXPECT_EQ(load_error(bad_code), "cannot deserialise conversion_counts: skipped code 2 is not 0..1");
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

// Found by fuzzing: an entity whose records are all at the largest time tied with the initial
// "earliest time" and got no segment (counted overall only).
TEST(Conversion, SegmentOfAnEntityAtTheLargestTime) {
    rows r;
    r.add(1, std::numeric_limits<std::int64_t>::max(), 0, 1);
    r.add(2, 5, 0, 0);
    const auto c = conversion(stage_model::b2b(), r.view());
    EXPECT_EQ(c.entities(1), 1);
    EXPECT_EQ(c.entities(0), 1);
    EXPECT_EQ(c.entities(), 2);
}

// One-byte stage and segment codes (compact_stage_records) count exactly as the int32 columns,
// in every row order, with and without segments, on 1 to 3 threads.
TEST(Conversion, CompactCodesCountAsInt32Codes) {
    const auto data = generate_sample({.leads = 3000, .seed = 17});
    const auto model = sample_model();
    std::vector<std::size_t> perm(data.size());
    std::iota(perm.begin(), perm.end(), 0);
    std::mt19937_64 g(9);
    for (int order = 0; order < 2; ++order) {
        if (order == 1) std::shuffle(perm.begin(), perm.end(), g);
        std::vector<std::int64_t> e(perm.size()), t(perm.size());
        std::vector<std::int32_t> s(perm.size()), seg(perm.size());
        std::vector<std::int8_t> s8(perm.size()), seg8(perm.size());
        for (std::size_t i = 0; i < perm.size(); ++i) {
            e[i] = data.entity[perm[i]];
            t[i] = data.time[perm[i]];
            s[i] = data.stage[perm[i]];
            seg[i] = data.source[perm[i]];
            s8[i] = static_cast<std::int8_t>(s[i]);
            seg8[i] = static_cast<std::int8_t>(seg[i]);
        }
        for (unsigned threads : {1u, 2u, 3u})
            for (skipped_stages k : {skipped_stages::implied, skipped_stages::not_implied}) {
                const conversion_options o{.skipped = k, .threads = threads};
                const auto want = conversion(model, stage_records{e, t, s, seg}, o);
                EXPECT_EQ(conversion(model, compact_stage_records{e, t, s8, seg8}, o), want) << order << threads;
                EXPECT_EQ(conversion(model, compact_stage_records{e, t, s8, {}}, o),
                          conversion(model, stage_records{e, t, s, {}}, o));
            }
    }
}

TEST(Conversion, CompactCodesNameTheBadRow) {
    const auto r = hand_example();
    std::vector<std::int8_t> s8(r.stage.begin(), r.stage.end()), seg8(r.segment.begin(), r.segment.end());
    const auto message = [&] {
        return error_of([&] { (void)conversion(stage_model::b2b(), compact_stage_records{r.entity, r.time, s8, seg8}); });
    };
    s8[4] = 8;
    EXPECT_EQ(message(), "column 'stage', row 4: value 8 is not a stage code (expected 0..7)");
    s8[4] = -128;
    EXPECT_EQ(message(), "column 'stage', row 4: value -128 is not a stage code (expected 0..7)");
    s8[4] = 4;
    seg8[2] = -1;
    EXPECT_EQ(message(), "column 'segment', row 2: value -1 is negative; segment codes must be >= 0");
    seg8[2] = 127;
    EXPECT_EQ(conversion(stage_model::b2b(), compact_stage_records{r.entity, r.time, s8, seg8}).n_segments(), 128u);
    seg8.pop_back();
    EXPECT_EQ(message(), "column 'segment' has 18 rows but column 'entity' has 19");
}

namespace {
// Reach by a map per entity: the earliest (time, segment) pair decides the segment, reached
// stages are a set; the counts built row by row as DOMAIN.md defines them.
std::vector<std::int64_t> reach_by_map(const stage_model& model, const stage_records& r, std::size_t n_segments,
                                       skipped_stages skipped) {
    struct state {
        std::uint64_t mask = 0;
        std::pair<std::int64_t, std::int32_t> first{std::numeric_limits<std::int64_t>::max(), std::numeric_limits<std::int32_t>::max()};
        bool seen = false;
    };
    std::map<std::int64_t, state> by_entity;
    for (std::size_t i = 0; i < r.entity.size(); ++i) {
        state& s = by_entity[r.entity[i]];
        const std::int32_t rank = model.rank(r.stage[i]);
        if (rank >= 0) s.mask |= std::uint64_t{1} << rank;
        const std::pair<std::int64_t, std::int32_t> at{r.time[i], r.segment.empty() ? -1 : r.segment[i]};
        if (!s.seen || at < s.first) s.first = at;
        s.seen = true;
    }
    const std::size_t width = model.ladder().size() + 1;
    std::vector<std::int64_t> counts((n_segments + 1) * width, 0);
    for (const auto& [id, s] : by_entity) {
        std::uint64_t mask = s.mask;
        if (skipped == skipped_stages::implied && mask != 0) {
            const int top = 63 - std::countl_zero(mask);
            mask = top == 63 ? ~std::uint64_t{0} : (std::uint64_t{2} << top) - 1;
        }
        const auto bump = [&](std::size_t row) {
            counts[row * width] += 1;
            for (std::size_t k = 0; k + 1 < width; ++k) counts[row * width + 1 + k] += (mask >> k) & 1u;
        };
        bump(0);
        if (s.first.second >= 0) bump(static_cast<std::size_t>(s.first.second) + 1);  // else no segments
    }
    return counts;
}

std::vector<std::int64_t> counts_of(const conversion_counts& c) {
    std::vector<std::int64_t> out;
    for (std::int32_t g = -1; g < static_cast<std::int32_t>(c.n_segments()); ++g) {
        out.push_back(c.entities(g));
        for (std::size_t k = 0; k < c.n_stages(); ++k) out.push_back(c.reached(k, g));
    }
    return out;
}
}  // namespace

// Unsorted records are folded with one packed word per entity (time since the earliest
// record, segment, reached mask) when the three fit in 64 bits, else with three words. Both
// layouts, at the edges of the packed one (the time span one bit short of, exactly at and past
// the room left; many segments; ladders of 32 and 40 stages), agree with a map per entity,
// with ties in time broken by the smaller segment and entities whose records disagree on the
// segment, on one and two threads.
TEST(Conversion, PackedAndWideStatesCountAlike) {
    std::vector<stage> long_ladder;
    for (int k = 0; k < 40; ++k) long_ladder.push_back({"S" + std::to_string(k), "team", stage_kind::step});
    long_ladder.push_back({"Lost", "team", stage_kind::lost});
    std::vector<stage> ladder32(long_ladder.begin() + 8, long_ladder.end());
    const stage_model b2b = stage_model::b2b(), wide(long_ladder), at32(ladder32);
    struct scenario {
        const stage_model* model;
        std::int32_t segments;  // 0: no segment column
        unsigned span_bits;     // the times span [origin, origin + 2^span_bits - 1]
        std::int64_t origin;
    };
    // b2b: 6 mask bits; 4 segments take 2 bits, so 56 bits of span fit and 57 do not.
    const std::vector<scenario> cases = {
        {&b2b, 4, 20, 1'700'000'000},
        {&b2b, 4, 56, std::numeric_limits<std::int64_t>::min()},
        {&b2b, 4, 57, -5},
        {&b2b, 4, 64, std::numeric_limits<std::int64_t>::min()},
        {&b2b, 0, 58, 0},
        {&b2b, 1, 58, 0},
        {&b2b, 70'000, 30, -1'000'000},  // 17 segment bits
        {&at32, 3, 30, 0},               // a 32-stage ladder: packed
        {&wide, 3, 10, 0},               // 40 stages: three words
    };
    std::mt19937_64 g(2024);
    for (const scenario& sc : cases) {
        const std::size_t n = 60'000;
        const std::int32_t n_codes = static_cast<std::int32_t>(sc.model->size());
        rows r;
        const std::uint64_t top = sc.span_bits >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << sc.span_bits) - 1;
        for (std::size_t i = 0; i < n; ++i) {
            const auto e = static_cast<std::int64_t>(g() % 7'000) * 1'000'003 - 3'000'000'000;
            // Few distinct times per entity so that ties are common; the span's two ends occur.
            const std::uint64_t pick = g() % 6;
            const std::uint64_t offset = pick == 0 ? 0 : pick == 1 ? top : (top / 5) * (g() % 4);
            const auto t = static_cast<std::int64_t>(static_cast<std::uint64_t>(sc.origin) + offset);
            const auto s = static_cast<std::int32_t>(g() % static_cast<std::uint64_t>(n_codes));
            const std::int32_t seg = sc.segments == 0 ? 0 : static_cast<std::int32_t>(g() % static_cast<std::uint64_t>(sc.segments));
            r.add(e, t, s, seg);
        }
        if (sc.segments == 0) r.segment.clear();
        if (sc.segments > 1) r.segment[0] = sc.segments - 1;  // the largest code occurs
        for (skipped_stages k : {skipped_stages::implied, skipped_stages::not_implied}) {
            const auto want = reach_by_map(*sc.model, r.view(), static_cast<std::size_t>(std::max(sc.segments, 0)), k);
            for (unsigned threads : {1u, 2u}) {
                const auto got = conversion(*sc.model, r.view(), {.skipped = k, .threads = threads});
                EXPECT_EQ(counts_of(got), want) << "segments " << sc.segments << " span bits " << sc.span_bits
                                                << " ladder " << sc.model->ladder().size() << " threads " << threads;
            }
        }
    }
}
