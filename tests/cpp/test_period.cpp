#include <gtest/gtest.h>

#include <funnelkit/error.hpp>
#include <funnelkit/period.hpp>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

using namespace funnelkit;

// Expected bounds are Unix times worked out from the calendar: days since 1970-01-01 times
// 86400, shifted by the UTC offset. The date each number stands for is written beside it.
namespace {
constexpr std::int64_t day = 86'400;

period in(std::int64_t t, period_kind k, std::int64_t offset = 0, std::int64_t ticks = 1) {
    return calendar_period(t, {.period = k, .ticks_per_second = ticks, .utc_offset_seconds = offset});
}
}  // namespace

TEST(Period, LeapYears) {
    // 2024-02-29T12:00Z. 2024 is a leap year: February has 29 days.
    const std::int64_t t = 1709208000;
    EXPECT_EQ(in(t, period_kind::day), (period{1709164800, 1709164800 + day}));     // 2024-02-29
    EXPECT_EQ(in(t, period_kind::month), (period{1706745600, 1709251200}));         // Feb 1 .. Mar 1
    EXPECT_EQ(in(t, period_kind::month).end - in(t, period_kind::month).start, 29 * day);
    EXPECT_EQ(in(t, period_kind::quarter), (period{1704067200, 1711929600}));       // Jan 1 .. Apr 1
    EXPECT_EQ(in(t, period_kind::year), (period{1704067200, 1735689600}));          // 2024 .. 2025
    EXPECT_EQ(in(t, period_kind::year).end - in(t, period_kind::year).start, 366 * day);
    // 2023 is not: 28 days.
    EXPECT_EQ(in(1677585600, period_kind::month), (period{1675209600, 1677628800}));  // 2023-02
    // 2000 is (divisible by 400), 1900 is not (a century): 29 and 28 days, before 1970 too.
    EXPECT_EQ(in(951825600, period_kind::month), (period{949363200, 951868800}));        // 2000-02
    EXPECT_EQ(in(-2203934400, period_kind::month), (period{-2206310400, -2203891200}));  // 1900-02
    EXPECT_EQ(in(-2203934400, period_kind::year), (period{-2208988800, -2177452800}));   // 1900, 365 days
}

TEST(Period, IsoWeeksAcrossTheYearBoundary) {
    // 2021-01-01 is a Friday: its week starts on Monday 2020-12-28.
    EXPECT_EQ(in(1609495200, period_kind::week), (period{1609113600, 1609718400}));
    // 2024-12-31 is a Tuesday: Monday 2024-12-30 .. Monday 2025-01-06.
    EXPECT_EQ(in(1735639200, period_kind::week), (period{1735516800, 1736121600}));
    // 1970-01-01 was a Thursday: Monday 1969-12-29.
    EXPECT_EQ(in(0, period_kind::week), (period{-3 * day, 4 * day}));
    // A Monday at midnight starts its own week; the second before belongs to the week before.
    EXPECT_EQ(in(4 * day, period_kind::week).start, 4 * day);          // 1970-01-05
    EXPECT_EQ(in(4 * day - 1, period_kind::week).start, -3 * day);
}

TEST(Period, NegativeAndPositiveOffsets) {
    // 2024-01-01T03:00Z is 2023-12-31T22:00 at UTC-5: still the previous day, month,
    // quarter and year there.
    const std::int64_t t = 1704078000, east_coast = -5 * 3600;
    EXPECT_EQ(in(t, period_kind::day, east_coast), (period{1703998800, 1704085200}));      // 2023-12-31 local
    EXPECT_EQ(in(t, period_kind::month, east_coast), (period{1701406800, 1704085200}));    // 2023-12 local
    EXPECT_EQ(in(t, period_kind::quarter, east_coast), (period{1696136400, 1704085200}));  // 2023 Q4 local
    EXPECT_EQ(in(t, period_kind::year, east_coast), (period{1672549200, 1704085200}));     // 2023 local
    // 2023-12-31 was a Sunday: local week from Monday 2023-12-25.
    EXPECT_EQ(in(t, period_kind::week, east_coast), (period{1703480400, 1704085200}));
    // 2023-12-31T20:00Z is already 2024-01-01T01:30 at UTC+5:30.
    EXPECT_EQ(in(1704052800, period_kind::year, 19'800), (period{1704047400, 1735669800}));
    EXPECT_EQ(in(1704052800, period_kind::year), (period{1672531200, 1704067200}));  // 2023 in UTC
}

TEST(Period, BeforeNineteenSeventy) {
    // 1969-12-31T23:59:59Z.
    EXPECT_EQ(in(-1, period_kind::day), (period{-day, 0}));
    EXPECT_EQ(in(-1, period_kind::month), (period{-31 * day, 0}));             // 1969-12
    EXPECT_EQ(in(-1, period_kind::quarter), (period{-92 * day, 0}));           // 1969-10-01 ..
    EXPECT_EQ(in(-1, period_kind::year), (period{-365 * day, 0}));             // 1969
    // 1960-06-15 in milliseconds: Q2 1960 = 1960-04-01 .. 1960-07-01; whole seconds floor down.
    const std::int64_t ms = -301276800000;
    EXPECT_EQ(in(ms, period_kind::quarter, 0, 1000), (period{-307756800000, -299894400000}));
    EXPECT_EQ(in(ms - 1, period_kind::day, 0, 1000).start, ms - day * 1000);   // 1960-06-14
}

TEST(Period, TimeUnits) {
    // 2024-02-29T23:59:59.999999999Z in nanoseconds.
    const std::int64_t ns = 1709251199999999999;
    EXPECT_EQ(in(ns, period_kind::day, 0, 1'000'000'000).start, 1709164800000000000);
    EXPECT_EQ(in(ns, period_kind::month, 0, 1'000'000'000), (period{1706745600000000000, 1709251200000000000}));
    EXPECT_EQ(in(ns + 1, period_kind::month, 0, 1'000'000'000).start, 1709251200000000000);  // March
    // A bound beyond int64 nanoseconds (year 2262 and after) is an error, not an overflow.
    EXPECT_THROW((void)in(std::numeric_limits<std::int64_t>::max(), period_kind::year, 0, 1'000'000'000),
                 invalid_argument);
    EXPECT_THROW((void)in(std::numeric_limits<std::int64_t>::max(), period_kind::day, 3600), invalid_argument);
}

TEST(Period, VectorisedMatchesOneByOne) {
    // Unsorted, with repeats and jumps back and forth, so the reuse of the previous period is
    // exercised both ways.
    const std::vector<std::int64_t> t{1709208000, 1709208001, -1, 1709164800, 0, 1709251200, -1, 1609495200,
                                      1609495200, 1735639200};
    for (auto k : {period_kind::day, period_kind::week, period_kind::month, period_kind::quarter, period_kind::year}) {
        const calendar_options c{.period = k, .utc_offset_seconds = -5 * 3600};
        const auto starts = period_starts(t, c);
        ASSERT_EQ(starts.size(), t.size());
        for (std::size_t i = 0; i < t.size(); ++i)
            EXPECT_EQ(starts[i], period_start(t[i], c)) << to_string(k) << " row " << i;
    }
    std::vector<std::int64_t> out(3);
    EXPECT_THROW(period_starts(t, {}, out), invalid_argument);  // wrong length
    EXPECT_TRUE(period_starts({}, {}).empty());
}

TEST(Period, CalendarPeriodsTileARange) {
    // 2024-01-15 .. 2024-03-10: January, February, March.
    const auto months = calendar_periods(1705276800, 1710028800, {.period = period_kind::month});
    ASSERT_EQ(months.size(), 3u);
    EXPECT_EQ(months[0], (period{1704067200, 1706745600}));
    EXPECT_EQ(months[1], (period{1706745600, 1709251200}));
    EXPECT_EQ(months[2], (period{1709251200, 1711929600}));
    EXPECT_NO_THROW(validate_periods(months));
    // `to` exclusive: a range ending at a period start does not reach into that period.
    EXPECT_EQ(calendar_periods(1704067200, 1709251200, {.period = period_kind::month}).size(), 2u);
    // Weeks over the 1969/1970 boundary, and an empty range.
    const auto weeks = calendar_periods(-day, 5 * day, {.period = period_kind::week});
    ASSERT_EQ(weeks.size(), 2u);
    EXPECT_EQ(weeks[0].start, -3 * day);
    EXPECT_EQ(weeks[1].end, 11 * day);
    EXPECT_TRUE(calendar_periods(10, 10, {}).empty());
}

TEST(Period, NamesAndOptions) {
    for (auto k : {period_kind::day, period_kind::week, period_kind::month, period_kind::quarter, period_kind::year})
        EXPECT_EQ(parse_period_kind(to_string(k)), k);
    try {
        (void)parse_period_kind("fortnight");
        FAIL() << "no exception";
    } catch (const invalid_argument& e) {
        EXPECT_EQ(std::string(e.what()),
                  "option 'period': value 'fortnight' is not one of 'day', 'week', 'month', 'quarter', 'year'");
    }
    EXPECT_THROW((void)calendar_period(0, {.ticks_per_second = 0}), invalid_argument);
    EXPECT_THROW((void)calendar_period(0, {.utc_offset_seconds = 19 * 3600}), invalid_argument);
    EXPECT_THROW((void)calendar_period(0, {.period = static_cast<period_kind>(9)}), invalid_argument);
}
