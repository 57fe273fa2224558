// funnelkit: mergeable summaries of durations (time in stage, time to convert): count,
// mean, median, p90, min, max.
//
// Streaming moments: fill() reads each batch in one pass that checks it, sums it exactly and
// finds each block's extremes, which a Boost.Accumulators accumulator_set (features min, max)
// in impl/accumulators.ipp reduces; the batch result is folded into the state with the merge
// rule below. Boost stays out of this header
// (the compiled library's users never see it; header-only users compile the .ipp and need it).
//
// Exact quantiles: the state also keeps every value (unless constructed with
// keep_values = false, for O(1) memory where only count, mean, min and max are needed).
// Quantile definition: numpy's default ("linear", Hyndman-Fan type 7): on the sorted values
// x_0..x_{n-1}, h = (n-1) q, and the q-quantile is x_floor(h) + (h - floor(h)) *
// (x_floor(h)+1 - x_floor(h)). The median is q = 0.5, p90 is q = 0.9.
//
// State contract (DESIGN.md): merge adds counts and sums, takes the min of minima and the max
// of maxima, and concatenates the value multisets: associative and commutative. The result
// keeps values only when both operands do. The sum is a double: it is exact (hence merge
// order-independent to the bit) for integer-valued durations such as seconds while the total
// stays below 2^53; for fractional values, merge order can change its last bits. Equality
// compares the unit, counts, sum, extremes and the value multisets (order-insensitive).
// The time unit (ticks per second) is recorded when the summary is built with one (0: not
// recorded); summaries with different recorded units do not merge. A fill or merge whose
// count would overflow int64, or whose sum would leave the finite doubles, throws and changes
// nothing.
// Serialised form: magic "FKDS", format version 2 (docs/state-format.md): keep flag (u8),
// ticks per second (i64), count (i64), sum, min, max (f64), the values in ascending order
// (u64 length + f64 each) and the CRC-32C. Version 1 (no unit, no checksum) still loads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "funnelkit/config.hpp"
#include "funnelkit/detail/exact_sum.hpp"

FUNNELKIT_BEGIN_NAMESPACE

/// The six numbers of a duration summary. Every statistic is std::nullopt when count is 0;
/// median and p90 are also nullopt for a summary that does not keep values.
struct duration_stats {
    std::int64_t count = 0;
    std::optional<double> mean, median, p90, min, max;
    friend bool operator==(const duration_stats&, const duration_stats&) = default;
};

/// Quantile of sorted values by numpy's default linear interpolation; q in [0, 1].
/// nullopt for an empty input. Throws for q outside [0, 1].
std::optional<double> sorted_quantile(std::span<const double> sorted, double q);

/// The same quantile of unsorted values in linear time (selection instead of a sort); the
/// values are reordered. Equal to sorted_quantile() of the sorted values, bit for bit.
std::optional<double> select_quantile(std::span<double> values, double q);

class duration_summary {
public:
    explicit duration_summary(bool keep_values = true) : keep_values_(keep_values) {}
    /// A summary of durations measured in ticks of 1/ticks_per_second seconds (>= 0; 0: not
    /// recorded).
    duration_summary(bool keep_values, std::int64_t ticks_per_second);

    /// Adds one value (finite; throws otherwise).
    void add(double value);
    /// Adds a batch. Every value must be finite: a NaN or infinity throws naming column
    /// 'duration' and its row in the batch, and leaves the state unchanged.
    void fill(std::span<const double> values);
    /// Same, taking the batch's memory for the kept values instead of copying them when this
    /// summary keeps values and holds none yet.
    void fill(std::vector<double>&& values);
    /// Throws funnelkit::invalid_argument, leaving this summary unchanged, when the recorded
    /// units differ ("cannot merge duration_summary: time unit differs (1 vs 1000 ticks per
    /// second)"), the count would overflow or the sum would not be finite.
    void merge(const duration_summary& other);
    duration_summary& operator+=(const duration_summary& other) { merge(other); return *this; }
    void reset();

    bool keeps_values() const noexcept { return keep_values_; }
    /// Time unit of the values, ticks per second; 0 when not recorded.
    std::int64_t ticks_per_second() const noexcept { return ticks_per_second_; }
    std::int64_t count() const noexcept { return count_; }
    double sum() const noexcept { return sum_; }
    std::optional<double> mean() const;
    std::optional<double> min() const;
    std::optional<double> max() const;
    /// q in [0, 1]; nullopt when empty or when values are not kept. Sorts a copy: use
    /// stats() to get the median and p90 with a single sort.
    std::optional<double> quantile(double q) const;
    duration_stats stats() const;
    /// The kept values, in insertion order (empty when values are not kept).
    std::span<const double> values() const noexcept { return values_; }

    std::vector<std::byte> serialize() const;
    static duration_summary deserialize(const void* data, std::size_t size);

    friend bool operator==(const duration_summary& a, const duration_summary& b);

private:
    bool keep_values_ = true;
    std::int64_t ticks_per_second_ = 0;
    std::int64_t count_ = 0;
    // The sum as an exact expansion (every value added without rounding) and rounded once:
    // the same double whatever the order of the values and however they were merged.
    detail::exact_sum exact_{};
    double sum_ = 0;
    double min_ = 0;  // meaningful only when count_ > 0
    double max_ = 0;
    std::vector<double> values_;
};

/// One summary per group: values[i] goes to the summary of group[i] (codes 0..n_groups-1, or
/// -1 to leave the value out), each group's values added in input order as one batch, so the
/// result equals filling a summary per group with that group's values. Throws naming column
/// 'group' and the row for a code outside -1..n_groups-1, column 'duration' for a non-finite
/// value, or when the columns differ in length.
std::vector<duration_summary> summarize_durations(std::span<const double> values, std::span<const std::int32_t> group,
                                                  std::size_t n_groups, bool keep_values = true);

namespace detail {
/// Throws what duration_summary::merge would throw for these two summaries (`what`: "cannot
/// merge duration_summary", or the state that holds them); returns the joined unit.
std::int64_t check_duration_merge(const duration_summary& a, const duration_summary& b, std::string_view what);
}  // namespace detail

FUNNELKIT_END_NAMESPACE

#ifdef FUNNELKIT_HEADER_ONLY
#include "funnelkit/impl/accumulators.ipp"
#endif
