#include <gtest/gtest.h>

#include <algorithm>

#include <funnelkit/accumulators.hpp>
#include <funnelkit/detail/random.hpp>
#include <funnelkit/error.hpp>
#include <funnelkit/serialize.hpp>

#include "error_testing.hpp"
#include "golden_testing.hpp"

#include <cmath>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

using namespace funnelkit;

namespace {
using funnelkit_testing::error_of;

// The state stored in tests/data/duration_summary_v1.bin (format version 1).
duration_summary golden_state() {
    duration_summary s;
    const std::vector<double> v{3, 1, 4, 1, 5, 9, 2, 6};
    s.fill(v);
    return s;
}
}  // namespace

TEST(DurationSummary, HandWorked) {
    // Sorted 1 1 2 3 4 5 6 9: n = 8, mean 31/8; median h = 3.5 -> (3 + 4)/2 = 3.5;
    // p90 h = 7 * 0.9 = 6.3 -> 6 + 0.3 * (9 - 6) = 6.9 (numpy.quantile gives 6.8999999999999995).
    const auto s = golden_state().stats();
    EXPECT_EQ(s.count, 8);
    EXPECT_EQ(s.mean, std::optional<double>(3.875));
    EXPECT_EQ(s.median, std::optional<double>(3.5));
    ASSERT_TRUE(s.p90.has_value());
    EXPECT_DOUBLE_EQ(*s.p90, 6.9);
    EXPECT_EQ(*s.p90, 6.8999999999999995);  // bit-identical to numpy's linear interpolation
    EXPECT_EQ(s.min, std::optional<double>(1.0));
    EXPECT_EQ(s.max, std::optional<double>(9.0));
    // numpy: quantile([0.1, 0.7, 0.2], 0.9) = 0.6, median 0.2; a single value is every quantile.
    const std::vector<double> b{0.1, 0.2, 0.7};
    EXPECT_EQ(sorted_quantile(b, 0.9), std::optional<double>(0.6));
    EXPECT_EQ(sorted_quantile(b, 0.5), std::optional<double>(0.2));
    const std::vector<double> one{7};
    EXPECT_EQ(sorted_quantile(one, 0.9), std::optional<double>(7.0));
    EXPECT_EQ(sorted_quantile(b, 0.0), std::optional<double>(0.1));
    EXPECT_EQ(sorted_quantile(b, 1.0), std::optional<double>(0.7));
}

TEST(DurationSummary, EmptyAndMomentsOnly) {
    duration_summary e;
    const auto s = e.stats();
    EXPECT_EQ(s.count, 0);
    EXPECT_FALSE(s.mean || s.median || s.p90 || s.min || s.max);
    duration_summary m(false);
    m.fill(std::vector<double>{2, 4, 9});
    const auto ms = m.stats();
    EXPECT_EQ(ms.count, 3);
    EXPECT_EQ(ms.mean, std::optional<double>(5.0));
    EXPECT_EQ(ms.min, std::optional<double>(2.0));
    EXPECT_EQ(ms.max, std::optional<double>(9.0));
    EXPECT_FALSE(ms.median.has_value());  // no values kept: quantiles are undefined
    EXPECT_TRUE(m.values().empty());
    // Merging with a moments-only summary drops the values (commutatively).
    auto a = golden_state();
    auto b = m;
    a.merge(m);
    b.merge(golden_state());
    EXPECT_FALSE(a.keeps_values());
    EXPECT_EQ(a, b);
    EXPECT_EQ(a.count(), 11);
    EXPECT_EQ(a.min(), std::optional<double>(1.0));
}

TEST(DurationSummary, MergeOfPartsEqualsWhole) {
    // Integer-valued durations (seconds): the sum is exact, so any split and any merge order
    // give a state equal to the one built on all data, and the same bytes.
    detail::rng g(3);
    std::vector<double> v(10000);
    for (auto& x : v) x = std::floor(g.exponential(86400.0 * 5));
    duration_summary whole;
    whole.fill(v);
    std::vector<duration_summary> parts(7);
    for (std::size_t i = 0; i < v.size(); ++i) parts[(i * 2654435761u) % 7].add(v[i]);
    duration_summary fwd, bwd;
    for (std::size_t k = 0; k < parts.size(); ++k) fwd += parts[k];
    for (std::size_t k = parts.size(); k-- > 0;) bwd += parts[k];
    duration_summary tree = parts[0];
    tree += parts[1];
    duration_summary rest = parts[2];
    for (std::size_t k = 3; k < parts.size(); ++k) rest += parts[k];
    tree += rest;
    EXPECT_EQ(fwd, whole);
    EXPECT_EQ(bwd, whole);
    EXPECT_EQ(tree, whole);
    EXPECT_EQ(fwd.serialize(), whole.serialize());
    EXPECT_EQ(fwd.stats(), whole.stats());
    // The empty summary is the identity.
    duration_summary id;
    id += whole;
    EXPECT_EQ(id, whole);
    auto w2 = whole;
    w2 += duration_summary{};
    EXPECT_EQ(w2, whole);
    // Quantiles against a brute-force definition on the sorted data.
    auto sorted = v;
    std::sort(sorted.begin(), sorted.end());
    const double h = 0.9 * static_cast<double>(sorted.size() - 1);
    const auto i = static_cast<std::size_t>(h);
    EXPECT_NEAR(*whole.stats().p90, sorted[i] + (h - static_cast<double>(i)) * (sorted[i + 1] - sorted[i]), 1e-9);
    EXPECT_EQ(*whole.stats().median, 0.5 * (sorted[4999] + sorted[5000]));
}

TEST(DurationSummary, EqualityAndReset) {
    auto a = golden_state();
    duration_summary b;
    b.fill(std::vector<double>{9, 6, 5, 4, 3, 2, 1, 1});  // same multiset, other order
    EXPECT_EQ(a, b);
    b.add(0);
    EXPECT_NE(a, b);
    b.reset();
    EXPECT_EQ(b, duration_summary{});
    EXPECT_NE(duration_summary{true}, duration_summary{false});
}

TEST(DurationSummary, SerializeRoundTripAndGoldenBlob) {
    const auto s = golden_state();
    const auto bytes = s.serialize();
    EXPECT_EQ(duration_summary::deserialize(bytes.data(), bytes.size()), s);
    duration_summary m(false);
    m.fill(std::vector<double>{1.5, 2.5});
    const auto mb = m.serialize();
    EXPECT_EQ(duration_summary::deserialize(mb.data(), mb.size()), m);

    // Version 1 recorded no unit; it loads as a summary without one.
    const auto golden = funnelkit_testing::read_golden("duration_summary_v1.bin");
    ASSERT_FALSE(golden.empty()) << "missing golden blob";
    EXPECT_EQ(duration_summary::deserialize(golden.data(), golden.size()), s);
    EXPECT_EQ(golden.size() + 8 + 4, bytes.size());  // version 2 adds the unit and the checksum
}

// Format version 2: the golden values in seconds. Loads, is what the writer writes, and no
// flipped bit, truncation or extra byte of it loads.
TEST(DurationSummary, GoldenBlobVersion2) {
    duration_summary expected(true, 1);
    expected.fill(std::vector<double>{3, 1, 4, 1, 5, 9, 2, 6});
    funnelkit_testing::write_golden_if_asked("duration_summary_v2.bin", expected.serialize());
    const auto golden = funnelkit_testing::read_golden("duration_summary_v2.bin");
    ASSERT_FALSE(golden.empty()) << "missing golden blob";
    const auto loaded = duration_summary::deserialize(golden.data(), golden.size());
    EXPECT_EQ(loaded, expected);
    EXPECT_EQ(loaded.ticks_per_second(), 1);
    EXPECT_EQ(expected.serialize(), golden);
    EXPECT_EQ(funnelkit_testing::corruptions_accepted<duration_summary>(golden), 0);
}

TEST(DurationSummary, MergeChecksTheUnitAndNeverWraps) {
    duration_summary s(true, 1), ms(true, 1000), plain;
    s.fill(std::vector<double>{1, 2});
    ms.fill(std::vector<double>{1000});
    plain.fill(std::vector<double>{7});
    const auto before = s;
    EXPECT_EQ(error_of([&] { s.merge(ms); }),
              "cannot merge duration_summary: time unit differs (1 vs 1000 ticks per second)");
    EXPECT_EQ(s, before);
    s.merge(plain);  // no unit recorded: takes this one's
    EXPECT_EQ(s.ticks_per_second(), 1);
    EXPECT_EQ(s.count(), 3);
    s.merge(s);  // with itself: every value twice
    EXPECT_EQ(s.count(), 6);
    EXPECT_EQ(error_of([] { (void)duration_summary(true, -5); }), "option 'ticks_per_second': value -5 must be > 0 (0: not recorded)");
    // A sum beyond the doubles is refused rather than becoming infinite.
    duration_summary big(false);
    big.fill(std::vector<double>{1e308});
    const auto big_before = big;
    EXPECT_EQ(error_of([&] { big.add(1e308); }),
              "duration_summary::fill: the sum of durations is not a finite double (inf)");
    EXPECT_EQ(big, big_before);
    EXPECT_EQ(error_of([&] { big.merge(big_before); }),
              "cannot merge duration_summary: the sum of durations 1e+308 + 1e+308 is not a finite double");
    // The largest count, built through the byte format.
    funnelkit::detail::byte_writer w("FKDS", 2);
    w.put(std::uint8_t{0});
    w.put(std::int64_t{0});
    w.put(std::numeric_limits<std::int64_t>::max());
    w.put(0.0);
    w.put(0.0);
    w.put(0.0);
    w.put(std::vector<double>{});
    const auto blob = std::move(w).finish();
    auto full = duration_summary::deserialize(blob.data(), blob.size());
    EXPECT_EQ(error_of([&] { full.add(0.0); }),
              "duration_summary::fill: a count overflows int64 (9223372036854775807 + 1)");
}

// Blobs with a valid checksum but a broken invariant are rejected.
TEST(DurationSummary, InvariantsCheckedOnLoad) {
    auto blob_of = [](std::uint8_t keep, std::int64_t count, double sum, double lo, double hi, std::vector<double> values) {
        funnelkit::detail::byte_writer w("FKDS", 2);
        w.put(keep);
        w.put(std::int64_t{1});
        w.put(count);
        w.put(sum);
        w.put(lo);
        w.put(hi);
        w.put(values);
        return std::move(w).finish();
    };
    auto load_error = [](const std::vector<std::byte>& b) {
        return error_of([&] { (void)duration_summary::deserialize(b.data(), b.size()); });
    };
    EXPECT_EQ(load_error(blob_of(1, 3, 6, 1, 3, {1, 2, 3})), "<no error>");
    EXPECT_EQ(load_error(blob_of(1, 3, 6, 1, 3, {1, 3, 2})),
              "cannot deserialise duration_summary: stored values are not in ascending order");
    EXPECT_EQ(load_error(blob_of(1, 3, 60, 1, 3, {1, 2, 3})),
              "cannot deserialise duration_summary: sum 60 does not match the stored values (6)");
    EXPECT_EQ(load_error(blob_of(1, 3, 6, 0, 3, {1, 2, 3})),
              "cannot deserialise duration_summary: minimum or maximum does not match the stored values");
    EXPECT_EQ(load_error(blob_of(0, 3, 6, 1, 3, {})), "<no error>");
    EXPECT_EQ(load_error(blob_of(0, 3, 20, 1, 3, {})),
              "cannot deserialise duration_summary: sum 20 lies outside count * [minimum, maximum]");
    EXPECT_EQ(load_error(blob_of(0, -3, 6, 1, 3, {})), "cannot deserialise duration_summary: negative count -3");
}

TEST(DurationSummary, CorruptBlobsAreRejected) {
    const auto bytes = golden_state().serialize();
    for (std::size_t cut = 0; cut < bytes.size(); ++cut)
        EXPECT_THROW((void)duration_summary::deserialize(bytes.data(), cut), invalid_argument) << cut;
    auto bad = bytes;
    bad[0] = std::byte{'X'};
    EXPECT_EQ(error_of([&] { (void)duration_summary::deserialize(bad.data(), bad.size()); }),
              "cannot deserialise duration_summary: wrong magic number: not a serialised duration_summary");
    bad = bytes;
    bad[4] = std::byte{3};
    EXPECT_EQ(error_of([&] { (void)duration_summary::deserialize(bad.data(), bad.size()); }),
              "cannot deserialise duration_summary: format version 3 is not supported (this build reads versions 1 "
              "to 2)");
    bad = bytes;
    bad[15] = std::byte{9};  // count 8 -> 9 (little-endian first byte): the checksum no longer matches
    EXPECT_EQ(error_of([&] { (void)duration_summary::deserialize(bad.data(), bad.size()); })
                  .rfind("cannot deserialise duration_summary: checksum mismatch (stored 0x", 0),
              0u);
    bad = bytes;
    bad.push_back(std::byte{0});
    EXPECT_THROW((void)duration_summary::deserialize(bad.data(), bad.size()), invalid_argument);
}

TEST(DurationSummary, BadInputLeavesStateUnchanged) {
    auto s = golden_state();
    const std::vector<double> v{1, 2, std::numeric_limits<double>::infinity()};
    EXPECT_EQ(error_of([&] { s.fill(v); }), "column 'duration', row 2: value inf is not a finite duration");
    EXPECT_EQ(s, golden_state());
    EXPECT_EQ(error_of([&] { (void)s.quantile(1.5); }), "option 'q': value 1.5 must lie in [0, 1]");
}

TEST(DurationSummary, SelectQuantileEqualsSortedQuantile) {
    funnelkit::detail::rng g(3);
    for (int trial = 0; trial < 200; ++trial) {
        std::vector<double> v(1 + g.below(60));
        for (auto& x : v) x = static_cast<double>(g.below(20));  // many ties
        std::vector<double> sorted = v;
        std::sort(sorted.begin(), sorted.end());
        for (double q : {0.0, 0.1, 0.25, 0.5, 0.9, 0.99, 1.0}) {
            auto copy = v;
            EXPECT_EQ(funnelkit::select_quantile(copy, q), funnelkit::sorted_quantile(sorted, q));
        }
    }
    std::vector<double> none;
    EXPECT_FALSE(funnelkit::select_quantile(none, 0.5).has_value());
}

TEST(DurationSummary, SummariesPerGroup) {
    const std::vector<double> v{4, 1, 3, 10, 2, 8};
    const std::vector<std::int32_t> g{0, 1, 0, -1, 1, 2};
    const auto s = summarize_durations(v, g, 4);
    ASSERT_EQ(s.size(), 4u);
    // Group 0: 4, 3; group 1: 1, 2; group 2: 8; group 3: nothing; the -1 row is left out.
    EXPECT_EQ(s[0].count(), 2);
    EXPECT_EQ(s[0].mean(), std::optional<double>(3.5));
    EXPECT_EQ(s[1].stats().median, std::optional<double>(1.5));
    EXPECT_EQ(s[2].max(), std::optional<double>(8.0));
    EXPECT_EQ(s[3].count(), 0);
    duration_summary direct;
    direct.fill(std::vector<double>{4, 3});
    EXPECT_EQ(s[0], direct);
    EXPECT_FALSE(summarize_durations(v, g, 3, false)[0].keeps_values());
    EXPECT_EQ(error_of([&] { (void)summarize_durations(v, g, 2); }),
              "column 'group', row 5: value 2 is not a group code (expected -1 or 0..1)");
    const std::vector<double> bad{1, std::nan(""), 2, 3, 4, 5};
    EXPECT_EQ(error_of([&] { (void)summarize_durations(bad, g, 4); }),
              "column 'duration', row 1: value NaN is not a finite duration");
    EXPECT_THROW((void)summarize_durations(v, std::vector<std::int32_t>{0}, 1), invalid_argument);
}

// A batch of whole numbers is summed as one 128-bit integer, any other batch value by value:
// both give the exact sum rounded once, the same bits as adding one value at a time; a moved
// batch keeps the same values as a copied one.
TEST(DurationSummary, WholeNumberBatchesSumExactlyAndMovedBatchesKeepTheirValues) {
    detail::rng r(8);
    for (int trial = 0; trial < 40; ++trial) {
        std::vector<double> v;
        const bool fractional = trial % 4 == 3;
        for (int i = 0; i < 2000; ++i) {
            const double big = static_cast<double>(r.below(std::uint64_t{1} << 53));  // up to 2^53 - 1
            double x = (i % 7 == 0) ? big : static_cast<double>(r.below(100000));
            if (fractional && i == 1000) x += 0.25;
            v.push_back(x);
        }
        if (trial % 5 == 0) v.push_back(9007199254740992.0);  // 2^53 itself
        duration_summary one_by_one, batch, moved;
        for (double x : v) one_by_one.add(x);
        batch.fill(v);
        std::vector<double> copy = v;
        moved.fill(std::move(copy));
        EXPECT_EQ(batch.sum(), one_by_one.sum()) << trial;
        EXPECT_EQ(moved, batch) << trial;
        EXPECT_EQ(moved.quantile(0.5), batch.quantile(0.5));
        EXPECT_EQ(moved.count(), static_cast<std::int64_t>(v.size()));
    }
    // A moved batch with a bad value changes nothing and still throws naming the row.
    duration_summary s;
    s.fill(std::vector<double>{1.0, 2.0});
    std::vector<double> bad{3.0, std::nan(""), 4.0};
    EXPECT_THROW(s.fill(std::move(bad)), invalid_argument);
    EXPECT_EQ(s.count(), 2);
    EXPECT_EQ(s.sum(), 3.0);
    s.fill(std::vector<double>{5.0});
    EXPECT_EQ(s.count(), 3);
    EXPECT_EQ(s.quantile(0.5), 2.0);
}

// fill() reads a batch in blocks of 256 values, four lanes at a time, and a tail: the extremes,
// the exact sum and the first bad value are found wherever they sit (the last lane, the tail,
// a second block), for negative values and fractions too.
TEST(DurationSummary, FillFindsExtremesAndBadValuesAnywhere) {
    for (std::size_t size : {std::size_t{1}, std::size_t{3}, std::size_t{4}, std::size_t{7}, std::size_t{256},
                             std::size_t{259}, std::size_t{1031}}) {
        for (std::size_t at = 0; at < size; at += std::max<std::size_t>(1, size / 9)) {
            for (const bool fractional : {false, true}) {
                std::vector<double> v(size);
                for (std::size_t i = 0; i < size; ++i) v[i] = static_cast<double>((i * 37) % 101) - 50.0;
                v[at] = fractional ? 1e6 + 0.5 : 1e6;                       // the largest
                v[size - 1 - at] = v[size - 1 - at] == v[at] ? v[at] : -7e5;  // the smallest
                duration_summary batch, one_by_one;
                batch.fill(v);
                for (double x : v) one_by_one.add(x);
                EXPECT_EQ(batch.min(), one_by_one.min()) << size << " " << at;
                EXPECT_EQ(batch.max(), one_by_one.max()) << size << " " << at;
                EXPECT_EQ(batch.sum(), one_by_one.sum()) << size << " " << at;
                EXPECT_EQ(batch.count(), static_cast<std::int64_t>(size));
                // A bad value at `at` (an infinity, or NaN) is named by its row.
                std::vector<double> bad = v;
                bad[at] = at % 2 ? std::nan("") : -std::numeric_limits<double>::infinity();
                duration_summary s;
                EXPECT_EQ(error_of([&] { s.fill(bad); }),
                          "column 'duration', row " + std::to_string(at) + ": value " + (at % 2 ? "NaN" : "-inf") +
                              " is not a finite duration")
                    << size << " " << at;
                EXPECT_EQ(s.count(), 0);
            }
        }
    }
    // The largest magnitudes summed as integers: 2^53 - 1, negative too, exact.
    std::vector<double> big(1000, 9007199254740991.0);
    for (std::size_t i = 0; i < big.size(); i += 3) big[i] = -big[i];
    duration_summary batch, one_by_one;
    batch.fill(big);
    for (double x : big) one_by_one.add(x);
    EXPECT_EQ(batch.sum(), one_by_one.sum());
}
