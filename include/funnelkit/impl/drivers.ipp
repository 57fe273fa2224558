// Definitions for funnelkit/drivers.hpp; config.hpp explains the compiled and header-only modes.
#pragma once

#include "funnelkit/drivers.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include <boost/math/special_functions/gamma.hpp>

#include "funnelkit/error.hpp"

FUNNELKIT_BEGIN_NAMESPACE

namespace detail::drivers_impl {

inline void check_cells(std::int64_t a, std::int64_t b, std::int64_t c, std::int64_t d) {
    const std::array<std::pair<const char*, std::int64_t>, 4> cells{{{"a", a}, {"b", b}, {"c", c}, {"d", d}}};
    for (const auto& [name, v] : cells)
        if (v < 0) detail::throw_option(name, std::to_string(v), "is negative; cell counts must be >= 0");
}

// Accurate log densities for large counts (Loader's saddle-point form, "Fast and accurate
// computation of binomial probabilities", 2000): the log-gamma differences behind a density lose
// about 1e-16 * ln(n!) (1e-9 at millions of entities), these keep about 1e-14.
// stirling_error(n) = ln n! - ln(sqrt(2 pi n) (n/e)^n).
inline double stirling_error(double n) {
    if (n <= 15.0) {
        if (n == 0.0) return 0.0;  // ln 0! - the limit of the rest
        return boost::math::lgamma(n + 1.0) - (n + 0.5) * std::log(n) + n - 0.5 * std::log(2.0 * 3.141592653589793);
    }
    constexpr double s0 = 1.0 / 12, s1 = 1.0 / 360, s2 = 1.0 / 1260, s3 = 1.0 / 1680, s4 = 1.0 / 1188;
    const double nn = n * n;
    if (n > 500) return (s0 - s1 / nn) / n;
    if (n > 80) return (s0 - (s1 - s2 / nn) / nn) / n;
    if (n > 35) return (s0 - (s1 - (s2 - s3 / nn) / nn) / nn) / n;
    return (s0 - (s1 - (s2 - (s3 - s4 / nn) / nn) / nn) / nn) / n;
}

// x ln(x / mu) + mu - x without cancellation when x is near mu.
inline double deviance_term(double x, double mu) {
    if (std::abs(x - mu) < 0.1 * (x + mu)) {
        double v = (x - mu) / (x + mu);
        double sum = (x - mu) * v;
        double term = 2.0 * x * v;
        v *= v;
        for (int j = 1; j < 1000; ++j) {
            term *= v;
            const double next = sum + term / (2 * j + 1);
            if (next == sum) return next;
            sum = next;
        }
        return sum;
    }
    return x * std::log(x / mu) + mu - x;
}

// ln P(Binomial(n, p) = x), q = 1 - p given separately.
inline double log_binomial_pmf(double x, double n, double p, double q) {
    if (x == 0.0) return n == 0.0 ? 0.0 : (p < 0.1 ? -deviance_term(n, n * q) - n * p : n * std::log(q));
    if (x == n) return q < 0.1 ? -deviance_term(n, n * p) - n * q : n * std::log(p);
    const double lc = stirling_error(n) - stirling_error(x) - stirling_error(n - x) - deviance_term(x, n * p) -
                      deviance_term(n - x, n * q);
    return lc - 0.5 * (std::log(2.0 * 3.141592653589793) + std::log(x) + std::log1p(-x / n));
}

// The hypergeometric law of the top-left cell X of a 2x2 table with fixed margins: n1 = a + b
// entities with the feature, m = a + c with the outcome, n = all entities.
struct hypergeometric {
    double n1, m, n;
    std::int64_t lo, hi;

    hypergeometric(std::int64_t a, std::int64_t b, std::int64_t c, std::int64_t d)
        : n1(static_cast<double>(a + b)), m(static_cast<double>(a + c)), n(static_cast<double>(a + b + c + d)),
          lo(std::max<std::int64_t>(0, (a + c) - (c + d))), hi(std::min(a + b, a + c)) {}

    // ln P(X = x): the n1 entities with the feature drawn from n, of which m have the outcome, as
    // P(Bin(m, f) = x) P(Bin(n - m, f) = n1 - x) / P(Bin(n, f) = n1) with f = n1 / n (any f
    // gives the same ratio; this one keeps every factor near its mode), each by Loader's form.
    double log_pmf(std::int64_t x) const {
        const auto xd = static_cast<double>(x);
        const double f = n1 / n, g = (n - n1) / n;
        return log_binomial_pmf(xd, m, f, g) + log_binomial_pmf(n1 - xd, n - m, f, g) - log_binomial_pmf(n1, n, f, g);
    }
    std::int64_t mode() const {
        return static_cast<std::int64_t>(std::floor((m + 1) * (n1 + 1) / (n + 2)));
    }
    // pmf(x + 1) / pmf(x) and pmf(x - 1) / pmf(x).
    double up_ratio(std::int64_t x) const {
        const auto xd = static_cast<double>(x);
        return (n1 - xd) * (m - xd) / ((xd + 1) * (n - n1 - m + xd + 1));
    }
    double down_ratio(std::int64_t x) const {
        const auto xd = static_cast<double>(x);
        return xd * (n - n1 - m + xd) / ((n1 - xd + 1) * (m - xd + 1));
    }
    // P(X >= x) for x beyond the mode, and P(X <= x) for x below it: the terms fall away from the
    // mode (the law is log-concave), so once a term times r / (1 - r) (a bound of the rest, r the
    // current ratio, which only shrinks further out) is below 1e-17 of the sum, the sum is done.
    double upper_tail(std::int64_t x) const {
        if (x > hi) return 0.0;
        double term = 1.0, sum = 1.0;
        for (std::int64_t k = x; k < hi; ++k) {
            const double r = up_ratio(k);
            term *= r;
            sum += term;
            if (r < 1.0 && term * r / (1.0 - r) < 1e-17 * sum) break;
        }
        return std::exp(log_pmf(x)) * sum;
    }
    double lower_tail(std::int64_t x) const {
        if (x < lo) return 0.0;
        double term = 1.0, sum = 1.0;
        for (std::int64_t k = x; k > lo; --k) {
            const double r = down_ratio(k);
            term *= r;
            sum += term;
            if (r < 1.0 && term * r / (1.0 - r) < 1e-17 * sum) break;
        }
        return std::exp(log_pmf(x)) * sum;
    }
};

inline double fisher_p(std::int64_t a, std::int64_t b, std::int64_t c, std::int64_t d, alternative alt) {
    if (a + b == 0 || c + d == 0 || a + c == 0 || b + d == 0) return 1.0;
    const hypergeometric h(a, b, c, d);
    const std::int64_t mode = h.mode();
    double p = 1.0;
    if (alt == alternative::smaller) {
        p = a < mode ? h.lower_tail(a) : 1.0 - h.upper_tail(a + 1);
    } else if (alt == alternative::larger) {
        p = a > mode ? h.upper_tail(a) : 1.0 - h.lower_tail(a - 1);
    } else {
        const double log_obs = h.log_pmf(a), log_mode = h.log_pmf(mode);
        constexpr double eps = 1e-14;
        if (1.0 - std::exp(log_obs - log_mode) <= eps) return 1.0;
        const double limit = log_obs + std::log1p(eps);  // tables at most this likely count
        if (a < mode) {
            // The other tail starts at the smallest x > mode with pmf(x) <= pmf(a) (1 + eps).
            if (h.log_pmf(h.hi) > limit) {
                p = h.lower_tail(a);
            } else {
                std::int64_t left = mode, right = h.hi;  // pmf(left) > limit >= pmf(right)
                while (right - left > 1) {
                    const std::int64_t mid = left + (right - left) / 2;
                    (h.log_pmf(mid) > limit ? left : right) = mid;
                }
                p = h.lower_tail(a) + h.upper_tail(right);
            }
        } else {
            if (h.log_pmf(h.lo) > limit) {
                p = h.upper_tail(a);
            } else {
                std::int64_t left = h.lo, right = mode;  // pmf(left) <= limit < pmf(right)
                while (right - left > 1) {
                    const std::int64_t mid = left + (right - left) / 2;
                    (h.log_pmf(mid) > limit ? right : left) = mid;
                }
                p = h.upper_tail(a) + h.lower_tail(left);
            }
        }
    }
    return std::clamp(p, 0.0, 1.0);
}

}  // namespace detail::drivers_impl

FUNNELKIT_INLINE std::optional<odds_ratio_interval> odds_ratio_woolf(std::int64_t a, std::int64_t b, std::int64_t c,
                                                                     std::int64_t d, double confidence) {
    detail::drivers_impl::check_cells(a, b, c, d);
    if (!(confidence > 0.0 && confidence < 1.0))
        detail::throw_option("confidence", detail::to_text(confidence), "must lie strictly between 0 and 1");
    if (a + b == 0 || c + d == 0 || a + c == 0 || b + d == 0) return std::nullopt;
    odds_ratio_interval r;
    r.corrected = a == 0 || b == 0 || c == 0 || d == 0;
    const double shift = r.corrected ? 0.5 : 0.0;
    const double aa = static_cast<double>(a) + shift, bb = static_cast<double>(b) + shift,
                 cc = static_cast<double>(c) + shift, dd = static_cast<double>(d) + shift;
    const double log_or = std::log(aa) + std::log(dd) - std::log(bb) - std::log(cc);
    const double se = std::sqrt(1.0 / aa + 1.0 / bb + 1.0 / cc + 1.0 / dd);
    const double z = -normal_quantile((1.0 - confidence) / 2.0);
    r.odds_ratio = std::exp(log_or);
    r.lower = std::exp(log_or - z * se);
    r.upper = std::exp(log_or + z * se);
    return r;
}

FUNNELKIT_INLINE double fisher_exact(std::int64_t a, std::int64_t b, std::int64_t c, std::int64_t d, alternative alt) {
    detail::drivers_impl::check_cells(a, b, c, d);
    return detail::drivers_impl::fisher_p(a, b, c, d, alt);
}

FUNNELKIT_INLINE std::string_view to_string(driver_test t) noexcept {
    switch (t) {
    case driver_test::fisher: return "fisher";
    case driver_test::chi2: return "chi2";
    default: return "automatic";
    }
}

FUNNELKIT_INLINE driver_test parse_driver_test(std::string_view name) {
    if (name == "automatic") return driver_test::automatic;
    if (name == "fisher") return driver_test::fisher;
    if (name == "chi2") return driver_test::chi2;
    detail::throw_option("test", "'" + std::string(name) + "'", "is not a driver test (expected automatic, fisher or chi2)");
}

FUNNELKIT_INLINE driver_table drivers(std::span<const std::uint8_t> outcome, std::span<const std::int64_t> member_entity,
                                      std::span<const std::int32_t> member_feature, std::int32_t n_features,
                                      const driver_options& options) {
    if (!(options.confidence > 0.0 && options.confidence < 1.0))
        detail::throw_option("confidence", detail::to_text(options.confidence), "must lie strictly between 0 and 1");
    if (!(options.min_expected >= 0.0) || std::isinf(options.min_expected))
        detail::throw_option("min_expected", detail::to_text(options.min_expected), "must be a finite number >= 0");
    if (n_features < 0) detail::throw_option("n_features", std::to_string(n_features), "must be >= 0");
    if (member_feature.size() != member_entity.size())
        detail::throw_length("member_feature", member_feature.size(), "member_entity", member_entity.size());
    driver_table t;
    for (std::size_t e = 0; e < outcome.size(); ++e) {
        if (outcome[e] > 2)
            detail::throw_at_row("outcome", e, std::to_string(outcome[e]),
                                 "is not an outcome (expected 1, 0, or 2 for outside the population)");
        if (outcome[e] < 2) {
            ++t.entities;
            t.with_outcome_total += outcome[e];
        }
    }
    const auto nf = static_cast<std::size_t>(n_features);
    // Distinct (feature, entity) pairs of the population, sorted: one pass counts every row.
    std::vector<std::pair<std::int32_t, std::int64_t>> pairs;
    pairs.reserve(member_entity.size());
    for (std::size_t i = 0; i < member_entity.size(); ++i) {
        const std::int64_t e = member_entity[i];
        const std::int32_t f = member_feature[i];
        if (e < 0 || static_cast<std::uint64_t>(e) >= outcome.size())
            detail::throw_at_row("member_entity", i, std::to_string(e),
                                 "is not an entity index (expected 0.." + std::to_string(outcome.size()) + " excluded)");
        if (f < 0 || f >= n_features)
            detail::throw_at_row("member_feature", i, std::to_string(f),
                                 "is not a feature code (expected 0.." + std::to_string(n_features) + " excluded)");
        if (outcome[static_cast<std::size_t>(e)] < 2) pairs.emplace_back(f, e);
    }
    std::sort(pairs.begin(), pairs.end());
    pairs.erase(std::unique(pairs.begin(), pairs.end()), pairs.end());
    std::vector<std::int64_t> with_total(nf, 0), with_outcome(nf, 0);
    for (const auto& [f, e] : pairs) {
        ++with_total[static_cast<std::size_t>(f)];
        with_outcome[static_cast<std::size_t>(f)] += outcome[static_cast<std::size_t>(e)];
    }

    std::vector<double> rate_with(nf), rate_without(nf), odds(nf), lower(nf), upper(nf), p(nf), q(nf);
    std::vector<driver_test> used(nf, driver_test::automatic);
    std::vector<std::uint8_t> corrected(nf, 0), tested(nf, 0);
    std::vector<double> tested_p;
    std::vector<std::size_t> tested_rows;
    constexpr double nan = std::numeric_limits<double>::quiet_NaN();
    for (std::size_t f = 0; f < nf; ++f) {
        const std::int64_t a = with_outcome[f], b = with_total[f] - a;
        const std::int64_t c = t.with_outcome_total - a, d = (t.entities - with_total[f]) - c;
        rate_with[f] = a + b > 0 ? static_cast<double>(a) / static_cast<double>(a + b) : nan;
        rate_without[f] = c + d > 0 ? static_cast<double>(c) / static_cast<double>(c + d) : nan;
        odds[f] = lower[f] = upper[f] = p[f] = q[f] = nan;
        const auto woolf = odds_ratio_woolf(a, b, c, d, options.confidence);
        if (!woolf) continue;
        tested[f] = 1;
        odds[f] = woolf->odds_ratio;
        lower[f] = woolf->lower;
        upper[f] = woolf->upper;
        corrected[f] = woolf->corrected ? 1 : 0;
        driver_test test = options.test;
        if (test == driver_test::automatic) {
            const auto n = static_cast<double>(t.entities);
            const double rows[2] = {static_cast<double>(a + b), static_cast<double>(c + d)};
            const double cols[2] = {static_cast<double>(a + c), static_cast<double>(b + d)};
            double smallest = std::numeric_limits<double>::infinity();
            for (double r : rows)
                for (double c2 : cols) smallest = std::min(smallest, r * c2 / n);
            test = smallest < options.min_expected ? driver_test::fisher : driver_test::chi2;
        }
        used[f] = test;
        if (test == driver_test::fisher) {
            p[f] = detail::drivers_impl::fisher_p(a, b, c, d, alternative::two_sided);
        } else {
            const std::array<std::int64_t, 4> cells{a, b, c, d};
            p[f] = chi2_test(cells, 2, 2, true)->p_value;  // defined: every margin is non-empty
        }
        tested_p.push_back(p[f]);
        tested_rows.push_back(f);
    }
    const std::vector<double> adjusted = adjust_p_values(tested_p, options.adjust);
    for (std::size_t i = 0; i < tested_rows.size(); ++i) q[tested_rows[i]] = adjusted[i];

    std::vector<std::size_t> order(nf);
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) {
        if (tested[x] != tested[y]) return tested[x] > tested[y];
        if (tested[x]) {
            if (q[x] != q[y]) return q[x] < q[y];
            const double ex = std::abs(std::log(odds[x])), ey = std::abs(std::log(odds[y]));
            if (ex != ey) return ex > ey;
        }
        return x < y;
    });
    t.feature.reserve(nf);
    for (std::size_t k = 0; k < nf; ++k) {
        const std::size_t f = order[k];
        t.feature.push_back(static_cast<std::int32_t>(f));
        t.with_outcome.push_back(with_outcome[f]);
        t.with_total.push_back(with_total[f]);
        t.without_outcome.push_back(t.with_outcome_total - with_outcome[f]);
        t.without_total.push_back(t.entities - with_total[f]);
        t.rate_with.push_back(rate_with[f]);
        t.rate_without.push_back(rate_without[f]);
        t.odds_ratio.push_back(odds[f]);
        t.lower.push_back(lower[f]);
        t.upper.push_back(upper[f]);
        t.p_value.push_back(p[f]);
        t.q_value.push_back(q[f]);
        t.test.push_back(used[f]);
        t.corrected.push_back(corrected[f]);
        t.tested.push_back(tested[f]);
        t.rank.push_back(static_cast<std::int64_t>(k + 1));
    }
    return t;
}

FUNNELKIT_END_NAMESPACE
