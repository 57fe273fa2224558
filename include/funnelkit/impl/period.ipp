// Definitions for funnelkit/period.hpp; config.hpp explains the compiled and header-only modes.
#pragma once

#include "funnelkit/period.hpp"

#include <string>

#include "funnelkit/error.hpp"

FUNNELKIT_BEGIN_NAMESPACE

namespace detail::period_impl {

inline std::int64_t floor_div(std::int64_t a, std::int64_t b) noexcept {
    std::int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
    return q;
}

// Days since 1970-01-01 of a proleptic Gregorian date, and back (400-year era arithmetic).
inline std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
    y -= m <= 2 ? 1 : 0;
    const std::int64_t era = floor_div(y, 400);
    const auto yoe = static_cast<unsigned>(y - era * 400);                  // [0, 399]
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;   // [0, 365]
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;            // [0, 146096]
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct civil {
    std::int64_t y;
    unsigned m, d;
};
inline civil civil_from_days(std::int64_t z) noexcept {
    z += 719468;
    const std::int64_t era = floor_div(z, 146097);
    const auto doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned d = doy - (153 * mp + 2) / 5 + 1;
    const unsigned m = mp < 10 ? mp + 3 : mp - 9;
    return {static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2 ? 1 : 0), m, d};
}

// First day and one past the last day (days since 1970-01-01) of the period containing `day`.
inline void period_days(std::int64_t day, period_kind kind, std::int64_t& first, std::int64_t& last) noexcept {
    first = day;
    last = day + 1;
    switch (kind) {
        case period_kind::day: break;
        case period_kind::week:
            first = floor_div(day + 3, 7) * 7 - 3;  // 1970-01-05 was a Monday: day 4
            last = first + 7;
            break;
        case period_kind::month:
        case period_kind::quarter:
        case period_kind::year: {
            const civil c = civil_from_days(day);
            unsigned m0 = c.m, span = 1;
            if (kind == period_kind::quarter) m0 = (c.m - 1) / 3 * 3 + 1, span = 3;
            if (kind == period_kind::year) m0 = 1, span = 12;
            first = days_from_civil(c.y, m0, 1);
            const unsigned m1 = m0 + span;
            last = m1 > 12 ? days_from_civil(c.y + 1, m1 - 12, 1) : days_from_civil(c.y, m1, 1);
            break;
        }
    }
}

// The period containing t, for validated options. Throws when t's local time or a bound of its
// period leaves the int64 range.
inline period period_containing(std::int64_t t, const calendar_options& o) {
    auto too_far = [&] {
        detail::throw_option("time", std::to_string(t), "is too far from 1970 for calendar periods in this unit");
    };
    std::int64_t local = 0;
    if (__builtin_add_overflow(floor_div(t, o.ticks_per_second), o.utc_offset_seconds, &local)) too_far();
    std::int64_t first = 0, last = 0;
    period_days(floor_div(local, 86'400), o.period, first, last);
    auto to_ticks = [&](std::int64_t d) {
        std::int64_t secs = 0, ticks = 0;
        if (__builtin_mul_overflow(d, std::int64_t{86'400}, &secs) ||
            __builtin_sub_overflow(secs, o.utc_offset_seconds, &secs) ||
            __builtin_mul_overflow(secs, o.ticks_per_second, &ticks))
            too_far();
        return ticks;
    };
    return {to_ticks(first), to_ticks(last)};
}

}  // namespace detail::period_impl

FUNNELKIT_INLINE void validate_periods(std::span<const period> periods) {
    for (std::size_t p = 0; p < periods.size(); ++p) {
        if (periods[p].end <= periods[p].start)
            detail::throw_at_row("periods", p, std::to_string(periods[p].start) + ".." + std::to_string(periods[p].end),
                                 "is empty (end must be after start)");
        if (p > 0 && periods[p].start < periods[p - 1].end)
            detail::throw_at_row("periods", p, std::to_string(periods[p].start),
                                 "starts before the previous period ends (periods must be sorted and not overlap)");
    }
}

FUNNELKIT_INLINE std::string_view to_string(period_kind kind) noexcept {
    switch (kind) {
        case period_kind::day: return "day";
        case period_kind::week: return "week";
        case period_kind::month: return "month";
        case period_kind::quarter: return "quarter";
        case period_kind::year: return "year";
    }
    return "?";
}

FUNNELKIT_INLINE period_kind parse_period_kind(std::string_view name) {
    for (auto k : {period_kind::day, period_kind::week, period_kind::month, period_kind::quarter, period_kind::year})
        if (name == to_string(k)) return k;
    detail::throw_option("period", "'" + std::string(name) + "'",
                         "is not one of 'day', 'week', 'month', 'quarter', 'year'");
}

FUNNELKIT_INLINE void calendar_options::validate() const {
    if (static_cast<unsigned>(period) > static_cast<unsigned>(period_kind::year))
        detail::throw_option("period", std::to_string(static_cast<unsigned>(period)), "is not a period kind");
    if (ticks_per_second < 1)
        detail::throw_option("ticks_per_second", std::to_string(ticks_per_second), "must be >= 1");
    if (utc_offset_seconds < -18 * 3600 || utc_offset_seconds > 18 * 3600)
        detail::throw_option("utc_offset_seconds", std::to_string(utc_offset_seconds), "must be within +-18 hours");
}

FUNNELKIT_INLINE period calendar_period(std::int64_t t, const calendar_options& options) {
    options.validate();
    return detail::period_impl::period_containing(t, options);
}

FUNNELKIT_INLINE std::int64_t period_start(std::int64_t t, const calendar_options& options) {
    return calendar_period(t, options).start;
}

FUNNELKIT_INLINE void period_starts(std::span<const std::int64_t> time, const calendar_options& options,
                                    std::span<std::int64_t> out) {
    options.validate();
    if (out.size() != time.size()) detail::throw_length("out", out.size(), "time", time.size());
    period current{1, 0};  // empty: contains no timestamp
    for (std::size_t i = 0; i < time.size(); ++i) {
        const std::int64_t t = time[i];
        if (!(t >= current.start && t < current.end)) current = detail::period_impl::period_containing(t, options);
        out[i] = current.start;
    }
}

FUNNELKIT_INLINE std::vector<std::int64_t> period_starts(std::span<const std::int64_t> time,
                                                         const calendar_options& options) {
    std::vector<std::int64_t> out(time.size());
    period_starts(time, options, out);
    return out;
}

FUNNELKIT_INLINE std::vector<period> calendar_periods(std::int64_t from, std::int64_t to,
                                                      const calendar_options& options) {
    options.validate();
    std::vector<period> out;
    if (to <= from) return out;
    // Calendar periods tile time: each one ends where the next starts.
    for (period p = detail::period_impl::period_containing(from, options);;
         p = detail::period_impl::period_containing(p.end, options)) {
        out.push_back(p);
        if (p.end >= to) break;
    }
    return out;
}

FUNNELKIT_END_NAMESPACE
