// funnelkit internals: an exact, mergeable sum of doubles.
//
// The sum is held as a short list of non-overlapping doubles in increasing magnitude whose
// exact real sum is the exact real sum of every value added (Shewchuk's expansion sums, the
// method behind Python's math.fsum). value() rounds that exact sum once, to nearest with ties
// to even, so the result does not depend on the order of the additions nor on how the values
// were split into parts before a merge: adding a set of values in any order, on one machine
// or in partitions merged in any tree, gives the same double to the last bit.
#pragma once

#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "funnelkit/config.hpp"
#include "funnelkit/error.hpp"

FUNNELKIT_BEGIN_NAMESPACE
namespace detail {

/// 128-bit integers for exact sums of int64 values (a GCC and Clang extension).
__extension__ typedef __int128 int128;
__extension__ typedef unsigned __int128 uint128;

class exact_sum {
public:
    exact_sum() = default;

    /// Adds a finite value; throws (naming `what`) when the running sum leaves the finite
    /// doubles, leaving the sum unchanged.
    void add(double x, std::string_view what = "sum") {
        if (!std::isfinite(x)) throw invalid_argument(std::string(what) + ": value " + std::to_string(x) + " is not finite");
        // Far from the largest double no partial sum can overflow: update in place. Near it,
        // work on a copy so that an overflow leaves the sum unchanged.
        constexpr double safe = 1e300;
        if (std::abs(x) < safe && (parts_.empty() || std::abs(parts_.back()) < safe)) {
            grow(parts_, x);
            return;
        }
        std::vector<double> copy = parts_;
        if (!grow(copy, x)) throw invalid_argument(std::string(what) + ": the sum is not a finite double");
        parts_.swap(copy);
    }

    /// Adds a value, or when the sum leaves the finite doubles, keeps that: value() is then
    /// the infinity of the overflow's sign (for callers that report the overflow later, where
    /// they can say where it happened).
    void add_or_overflow(double x) {
        if (overflow_ != 0.0) return;
        try {
            add(x);
        } catch (const invalid_argument&) {
            overflow_ = x < 0.0 ? -1.0 : 1.0;  // a NaN counts as an overflow too
        }
    }

    /// Adds another exact sum (exactly).
    void merge(const exact_sum& other, std::string_view what = "sum") {
        exact_sum copy = *this;
        for (double p : other.parts_) copy.add(p, what);
        parts_.swap(copy.parts_);
    }

    void reset() noexcept {
        parts_.clear();
        overflow_ = 0.0;
    }

    /// The exact sum rounded once to the nearest double (ties to even).
    double value() const noexcept {
        if (overflow_ != 0.0) return std::copysign(std::numeric_limits<double>::infinity(), overflow_);
        std::size_t n = parts_.size();
        if (n == 0) return 0.0;
        double hi = parts_[--n];
        double lo = 0.0;
        while (n > 0) {
            const double x = hi;
            const double y = parts_[--n];
            hi = x + y;
            const double yr = hi - x;
            lo = y - yr;
            if (lo != 0.0) break;
        }
        // Half-way case: the remaining parts decide the direction of the rounding.
        if (n > 0 && ((lo < 0.0 && parts_[n - 1] < 0.0) || (lo > 0.0 && parts_[n - 1] > 0.0))) {
            const double y = lo * 2.0;
            const double x = hi + y;
            const double yr = x - hi;
            if (y == yr) hi = x;
        }
        return hi;
    }

    /// The expansion (for serialisation): non-overlapping, increasing magnitude.
    const std::vector<double>& parts() const noexcept { return parts_; }

    /// An exact sum of the given doubles (e.g. read back from parts()); throws naming `what`
    /// when one is not finite.
    static exact_sum of(const std::vector<double>& values, std::string_view what = "sum") {
        exact_sum s;
        for (double v : values) s.add(v, what);
        return s;
    }

    /// Equal exact sums (whatever their expansions).
    friend bool operator==(const exact_sum& a, const exact_sum& b) {
        if (a.overflow_ != b.overflow_) return false;
        if (a.parts_ == b.parts_) return true;
        exact_sum d = a;
        try {
            for (double p : b.parts_) d.add(-p);
        } catch (const invalid_argument&) {
            return false;
        }
        return d.parts_.empty();
    }

private:
    // Adds x to the expansion p in place; false when a partial sum overflows (p is then
    // unusable).
    static bool grow(std::vector<double>& p, double x) {
        std::size_t i = 0;
        for (std::size_t j = 0; j < p.size(); ++j) {
            double y = p[j];
            if (std::abs(x) < std::abs(y)) std::swap(x, y);
            const double hi = x + y;
            if (!std::isfinite(hi)) return false;
            const double lo = y - (hi - x);
            if (lo != 0.0) p[i++] = lo;
            x = hi;
        }
        p.resize(i);
        if (x != 0.0) p.push_back(x);
        return true;
    }

    std::vector<double> parts_;
    double overflow_ = 0.0;  // 0, or the sign of an overflow kept by add_or_overflow
};

}  // namespace detail
FUNNELKIT_END_NAMESPACE
