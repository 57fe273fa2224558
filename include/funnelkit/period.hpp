// funnelkit: time periods. A half-open interval [start, end) of integer timestamps, and the
// calendar periods (day, ISO week starting Monday, month, quarter, year) that contain a
// timestamp, in local time at a fixed offset from UTC.
//
// Definitions:
// - Timestamps are integers in ticks of the records' unit since 1970-01-01T00:00:00Z
//   (ticks_per_second: 1 for seconds, 1000 for milliseconds, 1'000'000'000 for nanoseconds);
//   negative values are times before 1970.
// - Local time = UTC + utc_offset_seconds (a fixed offset: -18000 for UTC-5; no daylight
//   saving, which needs a time-zone database). A period starts at local midnight of its first
//   day; its bounds are returned as timestamps in the records' unit.
// - The calendar is the proleptic Gregorian one (leap years every 4 years, except centuries
//   not divisible by 400), for every date the timestamps can express.
// - A timestamp with a fraction of a second belongs to the second it falls in (floor, also
//   before 1970).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "funnelkit/config.hpp"

FUNNELKIT_BEGIN_NAMESPACE

/// A half-open time interval [start, end).
struct period {
    std::int64_t start = 0;
    std::int64_t end = 0;
    friend bool operator==(const period&, const period&) = default;
};

/// Throws funnelkit::invalid_argument (column 'periods') unless every period is non-empty and
/// the periods are sorted and do not overlap.
void validate_periods(std::span<const period> periods);

enum class period_kind : std::uint8_t { day = 0, week = 1, month = 2, quarter = 3, year = 4 };

/// "day", "week", "month", "quarter" or "year".
std::string_view to_string(period_kind kind) noexcept;
/// Parses the names above; throws funnelkit::invalid_argument naming option 'period'.
period_kind parse_period_kind(std::string_view name);

/// Which calendar periods, in which time unit and at which offset from UTC.
struct calendar_options {
    period_kind period = period_kind::month;
    /// Time unit of the timestamps, >= 1.
    std::int64_t ticks_per_second = 1;
    /// Fixed offset of local time from UTC in seconds, within +-18 hours.
    std::int64_t utc_offset_seconds = 0;

    /// Throws funnelkit::invalid_argument naming the field on a bad value.
    void validate() const;
};

/// The calendar period containing timestamp t. Throws on invalid options, or when a bound of
/// the period does not fit in int64 ticks (years far from 1970 in nanoseconds).
period calendar_period(std::int64_t t, const calendar_options& options);

/// calendar_period(t, options).start.
std::int64_t period_start(std::int64_t t, const calendar_options& options);

/// The period start of every timestamp: out[i] = period_start(time[i], options). `out` must
/// have time.size() elements (throws otherwise). One validation of the options, then a pass
/// that reuses the previous row's period when the next timestamp falls in it (sorted or
/// clustered input computes a calendar date once per period).
void period_starts(std::span<const std::int64_t> time, const calendar_options& options, std::span<std::int64_t> out);
std::vector<std::int64_t> period_starts(std::span<const std::int64_t> time, const calendar_options& options);

/// The consecutive calendar periods that cover [from, to): the period containing `from`, then
/// each following one while it starts before `to`. Empty when to <= from. Sorted and not
/// overlapping, as velocity() and sla_volume() expect their periods.
std::vector<period> calendar_periods(std::int64_t from, std::int64_t to, const calendar_options& options);

FUNNELKIT_END_NAMESPACE

#ifdef FUNNELKIT_HEADER_ONLY
#include "funnelkit/impl/period.ipp"
#endif
