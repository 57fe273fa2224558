// Definitions for funnelkit/accumulators.hpp; config.hpp explains the compiled and header-only modes.
#pragma once

#include "funnelkit/accumulators.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include <boost/accumulators/accumulators.hpp>
#include <boost/accumulators/statistics/count.hpp>
#include <boost/accumulators/statistics/max.hpp>
#include <boost/accumulators/statistics/min.hpp>
#include <boost/accumulators/statistics/stats.hpp>
#include <boost/accumulators/statistics/sum.hpp>

#include "funnelkit/detail/state_merge.hpp"
#include "funnelkit/error.hpp"
#include "funnelkit/serialize.hpp"

FUNNELKIT_BEGIN_NAMESPACE

namespace detail::accumulators_impl {
inline constexpr char summary_magic[] = "FKDS";
inline constexpr std::uint16_t summary_format = 2;

namespace acc = boost::accumulators;
using moments_set = acc::accumulator_set<double, acc::stats<acc::tag::min, acc::tag::max>>;

// numpy's _lerp: a + (b - a) t, computed from the nearer end for t >= 1/2 so that the
// result is exact at both ends and monotone in t.
inline double lerp(double a, double b, double t) noexcept {
    const double diff = b - a;
    return t >= 0.5 ? b - diff * (1.0 - t) : a + diff * t;
}

inline std::vector<double> sorted_copy(std::span<const double> v) {
    std::vector<double> s(v.begin(), v.end());
    std::sort(s.begin(), s.end());
    return s;
}

inline std::string ticks_text(std::int64_t t) { return t == 0 ? "not recorded" : std::to_string(t); }
}  // namespace detail::accumulators_impl

FUNNELKIT_INLINE std::int64_t detail::check_duration_merge(const duration_summary& a, const duration_summary& b,
                                                           std::string_view what) {
    using namespace detail::accumulators_impl;
    const std::int64_t unit = join_recorded(what, "time unit", a.ticks_per_second(), b.ticks_per_second(), std::int64_t{0},
                                            ticks_text, "ticks per second");
    (void)add_count(a.count(), b.count(), what);
    if (!std::isfinite(a.sum() + b.sum()))
        throw invalid_argument(std::string(what) + ": the sum of durations " + to_text(a.sum()) + " + " + to_text(b.sum()) +
                               " is not a finite double");
    return unit;
}

FUNNELKIT_INLINE duration_summary::duration_summary(bool keep_values, std::int64_t ticks_per_second)
    : keep_values_(keep_values), ticks_per_second_(ticks_per_second) {
    if (ticks_per_second < 0)
        detail::throw_option("ticks_per_second", std::to_string(ticks_per_second), "must be > 0 (0: not recorded)");
}

FUNNELKIT_INLINE std::optional<double> sorted_quantile(std::span<const double> sorted, double q) {
    using namespace detail::accumulators_impl;
    if (!(q >= 0.0 && q <= 1.0)) detail::throw_option("q", detail::to_text(q), "must lie in [0, 1]");
    if (sorted.empty()) return std::nullopt;
    const double h = static_cast<double>(sorted.size() - 1) * q;
    const double lo = std::floor(h);
    const auto i = static_cast<std::size_t>(lo);
    if (i + 1 >= sorted.size()) return sorted.back();
    return lerp(sorted[i], sorted[i + 1], h - lo);
}

FUNNELKIT_INLINE std::optional<double> select_quantile(std::span<double> values, double q) {
    using namespace detail::accumulators_impl;
    if (!(q >= 0.0 && q <= 1.0)) detail::throw_option("q", detail::to_text(q), "must lie in [0, 1]");
    if (values.empty()) return std::nullopt;
    const double h = static_cast<double>(values.size() - 1) * q;
    const double lo = std::floor(h);
    const auto i = static_cast<std::size_t>(lo);
    const auto at = values.begin() + static_cast<std::ptrdiff_t>(i);
    std::nth_element(values.begin(), at, values.end());
    if (i + 1 >= values.size()) return *at;
    // The next order statistic is the smallest value right of the i-th.
    const double next = *std::min_element(at + 1, values.end());
    return lerp(*at, next, h - lo);
}

FUNNELKIT_INLINE void duration_summary::add(double value) { fill(std::span<const double>(&value, 1)); }

FUNNELKIT_INLINE void duration_summary::fill(std::span<const double> values) {
    using namespace detail::accumulators_impl;
    if (values.empty()) return;
    // One pass checks that every value is finite, finds the extremes and whether all values
    // are integers (ticks) below 2^53 in magnitude, the usual batch, and sums those exactly:
    // 256 at a time in 64 bits (256 * 2^53 < 2^63), then in 128. Four lanes, so that no
    // iteration waits on the one before. The accumulator then takes each block's extremes
    // (min and max over them are those of the values). (Three passes, the accumulator's over
    // every value with a sum besides, took 34 ms for 8e6 durations; this one 5 ms.)
    constexpr double limit = 9007199254740992.0;  // 2^53
    constexpr std::size_t block = 256, lanes = 4;
    const double* const v = values.data();
    const std::size_t size = values.size();
    bool finite = true, integral = true;
    detail::int128 total = 0;
    moments_set batch;
    for (std::size_t b = 0; b < size; b += block) {
        const std::size_t e = std::min(size, b + block);
        double lo[lanes], hi[lanes];
        std::int64_t part[lanes] = {};
        bool fin[lanes], whole[lanes];
        for (std::size_t l = 0; l < lanes; ++l) {
            lo[l] = hi[l] = v[b];
            fin[l] = whole[l] = true;
        }
        const auto one = [&](std::size_t l, double x) {
            const bool small = std::abs(x) <= limit;  // false for NaN and infinities
            const auto k = static_cast<std::int64_t>(small ? x : 0.0);
            fin[l] &= x - x == 0.0;
            whole[l] &= small & (static_cast<double>(k) == x);
            part[l] += k;
            lo[l] = x < lo[l] ? x : lo[l];
            hi[l] = x > hi[l] ? x : hi[l];
        };
        std::size_t i = b;
        for (; i + lanes <= e; i += lanes)
            for (std::size_t l = 0; l < lanes; ++l) one(l, v[i + l]);
        for (; i < e; ++i) one(0, v[i]);
        std::int64_t sum = 0;
        for (std::size_t l = 0; l < lanes; ++l) {
            finite &= fin[l];
            integral &= whole[l];
            sum += part[l];
            batch(lo[l]);
            batch(hi[l]);
        }
        total += sum;
    }
    if (!finite)
        for (std::size_t i = 0; i < size; ++i)
            if (!std::isfinite(v[i])) detail::throw_at_row("duration", i, detail::to_text(v[i]), "is not a finite duration");
    const auto n = static_cast<std::int64_t>(size);
    const double lo = (acc::min)(batch);
    const double hi = (acc::max)(batch);
    const std::int64_t count = detail::add_count(count_, n, "duration_summary::fill");
    detail::exact_sum exact = exact_;
    try {
        if (integral) {
            const auto hi_part = static_cast<double>(total);
            const auto lo_part = static_cast<double>(total - static_cast<detail::int128>(hi_part));
            exact.add(hi_part);
            exact.add(lo_part);
        } else {
            for (double v : values) exact.add(v);
        }
    } catch (const invalid_argument&) {
        throw invalid_argument("duration_summary::fill: the sum of durations is not a finite double (inf)");
    }
    const double sum = exact.value();
    if (!std::isfinite(sum))
        throw invalid_argument("duration_summary::fill: the sum of durations is not a finite double (" + detail::to_text(sum) + ")");
    min_ = count_ == 0 ? lo : std::min(min_, lo);
    max_ = count_ == 0 ? hi : std::max(max_, hi);
    count_ = count;
    exact_ = std::move(exact);
    sum_ = sum;
    if (keep_values_) values_.insert(values_.end(), values.begin(), values.end());
}

FUNNELKIT_INLINE void duration_summary::fill(std::vector<double>&& values) {
    if (!keep_values_ || !values_.empty() || values.empty()) {
        fill(std::span<const double>(values));
        return;
    }
    keep_values_ = false;  // the batch is taken below rather than copied
    try {
        fill(std::span<const double>(values));
    } catch (...) {
        keep_values_ = true;
        throw;
    }
    keep_values_ = true;
    values_ = std::move(values);
}

FUNNELKIT_INLINE void duration_summary::merge(const duration_summary& other) {
    // count and sum add; min/max of the extremes; value multisets concatenate. A summary
    // keeps values after the merge only if both sides did.
    if (&other == this) {  // inserting a vector's own range into it is not allowed
        const duration_summary copy = other;
        merge(copy);
        return;
    }
    ticks_per_second_ = detail::check_duration_merge(*this, other, "cannot merge duration_summary");
    if (other.count_ > 0) {
        min_ = count_ == 0 ? other.min_ : std::min(min_, other.min_);
        max_ = count_ == 0 ? other.max_ : std::max(max_, other.max_);
    }
    detail::exact_sum exact = exact_;
    exact.merge(other.exact_, "cannot merge duration_summary: the sum of durations");
    count_ += other.count_;
    exact_ = std::move(exact);
    sum_ = exact_.value();
    if (keep_values_ && other.keep_values_) {
        values_.insert(values_.end(), other.values_.begin(), other.values_.end());
    } else {
        keep_values_ = false;
        values_.clear();
        values_.shrink_to_fit();
    }
}

FUNNELKIT_INLINE void duration_summary::reset() {
    count_ = 0;
    exact_.reset();
    sum_ = 0;
    min_ = max_ = 0;
    values_.clear();
}

FUNNELKIT_INLINE std::optional<double> duration_summary::mean() const {
    if (count_ == 0) return std::nullopt;
    return sum_ / static_cast<double>(count_);
}

FUNNELKIT_INLINE std::optional<double> duration_summary::min() const {
    if (count_ == 0) return std::nullopt;
    return min_;
}

FUNNELKIT_INLINE std::optional<double> duration_summary::max() const {
    if (count_ == 0) return std::nullopt;
    return max_;
}

FUNNELKIT_INLINE std::optional<double> duration_summary::quantile(double q) const {
    if (!(q >= 0.0 && q <= 1.0)) detail::throw_option("q", detail::to_text(q), "must lie in [0, 1]");
    if (!keep_values_) return std::nullopt;
    std::vector<double> copy(values_.begin(), values_.end());
    return select_quantile(copy, q);
}

FUNNELKIT_INLINE duration_stats duration_summary::stats() const {
    duration_stats s;
    s.count = count_;
    s.mean = mean();
    s.min = min();
    s.max = max();
    if (keep_values_ && count_ > 0) {
        std::vector<double> copy(values_.begin(), values_.end());
        s.median = select_quantile(copy, 0.5);
        s.p90 = select_quantile(copy, 0.9);
    }
    return s;
}

FUNNELKIT_INLINE bool operator==(const duration_summary& a, const duration_summary& b) {
    using namespace detail::accumulators_impl;
    if (a.keep_values_ != b.keep_values_ || a.ticks_per_second_ != b.ticks_per_second_ || a.count_ != b.count_ ||
        a.sum_ != b.sum_)
        return false;
    if (a.count_ > 0 && (a.min_ != b.min_ || a.max_ != b.max_)) return false;
    if (a.values_.size() != b.values_.size()) return false;
    return a.values_ == b.values_ || sorted_copy(a.values_) == sorted_copy(b.values_);
}

FUNNELKIT_INLINE std::vector<std::byte> duration_summary::serialize() const {
    using namespace detail::accumulators_impl;
    detail::byte_writer w(summary_magic, summary_format);
    w.put(static_cast<std::uint8_t>(keep_values_ ? 1 : 0));
    w.put(ticks_per_second_);
    w.put(count_);
    w.put(sum_);
    w.put(count_ > 0 ? min_ : 0.0);
    w.put(count_ > 0 ? max_ : 0.0);
    w.put(sorted_copy(values_));
    return std::move(w).finish();
}

FUNNELKIT_INLINE duration_summary duration_summary::deserialize(const void* data, std::size_t size) {
    using namespace detail::accumulators_impl;
    detail::byte_reader r(data, size, summary_magic, "duration_summary");
    const std::uint16_t version = r.accept_versions(1, summary_format);
    const auto keep = r.get<std::uint8_t>();
    if (keep > 1) r.fail("keep-values flag " + std::to_string(keep) + " is not 0 or 1");
    duration_summary out(keep == 1);
    if (version >= 2) {
        out.ticks_per_second_ = r.get<std::int64_t>();
        if (out.ticks_per_second_ < 0) r.fail("ticks per second " + std::to_string(out.ticks_per_second_) + " is negative");
    }
    out.count_ = r.get<std::int64_t>();
    out.sum_ = r.get<double>();
    out.min_ = r.get<double>();
    out.max_ = r.get<double>();
    out.values_ = r.get_vector<double>();
    r.finish();
    if (out.count_ < 0) r.fail("negative count " + std::to_string(out.count_));
    if (!std::isfinite(out.sum_) || !std::isfinite(out.min_) || !std::isfinite(out.max_))
        r.fail("non-finite sum, minimum or maximum");
    if (out.count_ > 0 && out.min_ > out.max_) r.fail("minimum exceeds maximum");
    if (out.count_ == 0 && (out.sum_ != 0 || out.min_ != 0 || out.max_ != 0)) r.fail("empty summary with nonzero fields");
    const std::size_t expected = keep ? static_cast<std::size_t>(out.count_) : 0;
    if (out.values_.size() != expected)
        r.fail(std::to_string(out.values_.size()) + " values stored for a count of " + std::to_string(out.count_));
    // The writer stores the values in ascending order; the extremes are exact.
    for (std::size_t i = 0; i < out.values_.size(); ++i) {
        const double v = out.values_[i];
        if (!std::isfinite(v) || v < out.min_ || v > out.max_) r.fail("stored value " + detail::to_text(v) + " out of range");
        if (i > 0 && v < out.values_[i - 1]) r.fail("stored values are not in ascending order");
    }
    if (!out.values_.empty() && (out.values_.front() != out.min_ || out.values_.back() != out.max_))
        r.fail("minimum or maximum does not match the stored values");
    // The sum lies where the values put it, up to the rounding of a sum of count terms in any
    // order: |error| <= (count - 1) * eps/2 * sum |v| (taken twice as wide).
    const auto n = static_cast<double>(out.count_);
    const double eps = std::numeric_limits<double>::epsilon();
    if (keep == 1) {
        double exact = 0, magnitude = 0;
        for (double v : out.values_) exact += v, magnitude += std::abs(v);
        if (std::abs(out.sum_ - exact) > 2.0 * n * eps * magnitude)
            r.fail("sum " + detail::to_text(out.sum_) + " does not match the stored values (" + detail::to_text(exact) + ")");
    } else if (out.count_ > 0) {
        const double slack = 2.0 * n * n * eps * std::max(std::abs(out.min_), std::abs(out.max_));
        if (out.sum_ < n * out.min_ - slack || out.sum_ > n * out.max_ + slack)
            r.fail("sum " + detail::to_text(out.sum_) + " lies outside count * [minimum, maximum]");
    }
    // With the values kept the exact sum is theirs (a blob written by an older release may
    // hold their sum rounded in another order: the exact one replaces it); without them, the
    // stored sum is where later merges start from.
    if (keep == 1) {
        out.exact_ = detail::exact_sum::of(out.values_);
        out.sum_ = out.exact_.value();
    } else {
        out.exact_ = detail::exact_sum::of({out.sum_});
    }
    return out;
}

// ---- summaries per group ---------------------------------------------------------------------

FUNNELKIT_INLINE std::vector<duration_summary> summarize_durations(std::span<const double> values,
                                                                   std::span<const std::int32_t> group,
                                                                   std::size_t n_groups, bool keep_values) {
    if (group.size() != values.size()) detail::throw_length("group", group.size(), "duration", values.size());
    std::vector<std::size_t> count(n_groups, 0);
    for (std::size_t i = 0; i < group.size(); ++i) {
        const std::int32_t g = group[i];
        if (g < -1 || (g >= 0 && static_cast<std::size_t>(g) >= n_groups))
            detail::throw_at_row("group", i, std::to_string(g),
                                 n_groups ? "is not a group code (expected -1 or 0.." + std::to_string(n_groups - 1) + ")"
                                          : std::string("is not a group code (expected -1: there are no groups)"));
        if (g < 0) continue;
        if (!std::isfinite(values[i]))
            detail::throw_at_row("duration", i, detail::to_text(values[i]), "is not a finite duration");
        ++count[static_cast<std::size_t>(g)];
    }
    // Each group's values gathered in input order, then one batch per group.
    std::vector<std::size_t> start(n_groups + 1, 0);
    for (std::size_t g = 0; g < n_groups; ++g) start[g + 1] = start[g] + count[g];
    std::vector<double> gathered(start[n_groups]);
    std::vector<std::size_t> at(start.begin(), start.end() - 1);
    for (std::size_t i = 0; i < group.size(); ++i)
        if (group[i] >= 0) gathered[at[static_cast<std::size_t>(group[i])]++] = values[i];
    std::vector<duration_summary> out(n_groups, duration_summary(keep_values));
    for (std::size_t g = 0; g < n_groups; ++g)
        out[g].fill(std::span<const double>(gathered).subspan(start[g], count[g]));
    return out;
}

FUNNELKIT_END_NAMESPACE
