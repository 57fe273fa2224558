// Definitions for funnelkit/rates.hpp; config.hpp explains the compiled and header-only modes.
#pragma once

#include "funnelkit/rates.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <numeric>
#include <stdexcept>
#include <string>

#include <boost/math/quadrature/tanh_sinh.hpp>
#include <boost/math/special_functions/beta.hpp>
#include <boost/math/special_functions/erf.hpp>
#include <boost/math/special_functions/gamma.hpp>

#include "funnelkit/error.hpp"

FUNNELKIT_BEGIN_NAMESPACE

namespace detail::rates_impl {

inline void check_counts(std::int64_t x, std::int64_t n, std::string_view x_name, std::string_view n_name) {
    if (n < 0) detail::throw_option(n_name, std::to_string(n), "is negative; trial counts must be >= 0");
    if (x < 0) detail::throw_option(x_name, std::to_string(x), "is negative; success counts must be >= 0");
    if (x > n)
        detail::throw_option(x_name, std::to_string(x),
                             "exceeds the number of trials " + std::to_string(n) + " ('" + std::string(n_name) + "')");
}

inline void check_confidence(double confidence) {
    if (!(confidence > 0.0 && confidence < 1.0))
        detail::throw_option("confidence", detail::to_text(confidence), "must lie strictly between 0 and 1");
}

inline double clip01(double v) noexcept { return std::min(1.0, std::max(0.0, v)); }

// Standard normal upper tail P(Z > z), accurate far into the tail.
inline double normal_sf(double z) noexcept { return 0.5 * std::erfc(z / std::sqrt(2.0)); }

inline void check_beta_param(double v, std::string_view name) {
    if (!(std::isfinite(v) && v > 0.0))
        detail::throw_option(name, detail::to_text(v), "must be a finite number > 0 (Beta distribution parameter)");
}

// P(p_B > p_A) for p_A ~ Beta(aa, ba), p_B ~ Beta(ab, bb) with ab a positive integer:
//   sum_{i=0}^{ab-1} B(aa+i, ba+bb) / ((bb+i) B(1+i, bb) B(aa, ba)).
// Term 0 reduces to B(aa, ba+bb) / B(aa, ba) and consecutive terms have the ratio
//   t_{i+1} / t_i = (aa+i)(bb+i) / ((aa+ba+bb+i)(1+i)),
// so the sum runs in log space from log t_0 (no overflow or underflow of single terms).
inline double closed_form_integer_ab(double aa, double ba, double ab, double bb) {
    const auto m = static_cast<std::int64_t>(ab);
    std::vector<double> logt(static_cast<std::size_t>(m));
    double lt = boost::math::lgamma(ba + bb) + boost::math::lgamma(aa + ba) - boost::math::lgamma(aa + ba + bb) -
                boost::math::lgamma(ba);
    double top = -std::numeric_limits<double>::infinity();
    for (std::int64_t i = 0; i < m; ++i) {
        logt[static_cast<std::size_t>(i)] = lt;
        top = std::max(top, lt);
        const double di = static_cast<double>(i);
        lt += std::log((aa + di) * (bb + di)) - std::log((aa + ba + bb + di) * (1.0 + di));
    }
    double s = 0;
    for (double v : logt) s += std::exp(v - top);
    return std::min(1.0, std::exp(top) * s);
}

inline bool usable_integer(double v, double limit) noexcept {
    return v <= limit && v == std::floor(v);
}

// psi(a) - psi(b) for a, b >= 1e3 from the asymptotic series
//   psi(x) = ln x - 1/(2x) - sum_k B_2k / (2k x^2k),
// written as a multiple of d = a - b so that close arguments lose nothing: with x = 1/a,
// y = 1/b, x^n - y^n = -d x y sum_{j<n} x^j y^(n-1-j). Terms beyond B_6 are below 1e-26 of the
// result for arguments >= 1e3.
inline double digamma_difference(double a, double b) noexcept {
    const double d = a - b, x = 1.0 / a, y = 1.0 / b;
    auto sum_powers = [&](int n) {  // sum_{j=0}^{n} x^j y^(n-j)
        double s = 0, xj = 1;
        for (int j = 0; j <= n; ++j, xj *= x) s += xj * std::pow(y, n - j);
        return s;
    };
    return std::log1p(d / b) + d * x * y * (0.5 + sum_powers(1) / 12.0 - sum_powers(3) / 120.0 + sum_powers(5) / 252.0);
}

// psi^(m)(x), m >= 1, x >= 1e3, from the asymptotic series
//   (-1)^(m+1) [ (m-1)!/x^m + m!/(2 x^(m+1)) + sum_k B_2k (2k+m-1)! / ((2k)! x^(2k+m)) ],
// three Bernoulli terms (the next is below 1e-30 relative).
inline double polygamma_large(int m, double x) noexcept {
    auto factorial = [](int n) {
        double f = 1;
        for (int i = 2; i <= n; ++i) f *= i;
        return f;
    };
    constexpr double bernoulli[3] = {1.0 / 6.0, -1.0 / 30.0, 1.0 / 42.0};
    double s = factorial(m - 1) / std::pow(x, m) + factorial(m) / (2.0 * std::pow(x, m + 1));
    for (int k = 1; k <= 3; ++k)
        s += bernoulli[k - 1] * factorial(2 * k + m - 1) / (factorial(2 * k) * std::pow(x, 2 * k + m));
    return m % 2 == 1 ? s : -s;
}

// The p-quantile of Beta(a, b) (complement: the t with P(X > t) = p). Boost's inverses fail
// to converge on a few inputs (Boost 1.74 throws an evaluation_error for ibetac_inv(5, 5, 0.5),
// the median of a symmetric distribution): then bisection on the distribution function, which
// always converges (to adjacent doubles, or after 1100 halvings, enough for any double).
inline double beta_inverse(double a, double b, double p, bool complement) {
    try {
        return complement ? boost::math::ibetac_inv(a, b, p) : boost::math::ibeta_inv(a, b, p);
    } catch (const std::runtime_error&) {
    }
    double lo = 0.0, hi = 1.0;
    for (int i = 0; i < 1100; ++i) {
        const double mid = lo + (hi - lo) / 2;
        if (!(mid > lo && mid < hi)) break;
        const bool below = complement ? boost::math::ibetac(a, b, mid) > p : boost::math::ibeta(a, b, mid) < p;
        (below ? lo : hi) = mid;
    }
    return lo + (hi - lo) / 2;
}

// tanh-sinh refinement levels per piece: enough for the 1e-13 tolerance wherever the
// integrand is accurate, and a bound on the work where it is not.
inline constexpr std::size_t quadrature_levels = 9;

}  // namespace detail::rates_impl

FUNNELKIT_INLINE std::string_view to_string(interval_method m) noexcept {
    switch (m) {
        case interval_method::wilson: return "wilson";
        case interval_method::agresti_coull: return "agresti_coull";
        case interval_method::jeffreys: return "jeffreys";
        case interval_method::clopper_pearson: return "clopper_pearson";
    }
    return "?";
}

FUNNELKIT_INLINE interval_method parse_interval_method(std::string_view name) {
    if (name == "wilson") return interval_method::wilson;
    if (name == "agresti_coull") return interval_method::agresti_coull;
    if (name == "jeffreys") return interval_method::jeffreys;
    if (name == "clopper_pearson" || name == "exact") return interval_method::clopper_pearson;
    detail::throw_option("interval", "'" + std::string(name) + "'",
                         "is not an interval method (expected wilson, agresti_coull, jeffreys or clopper_pearson)");
}

FUNNELKIT_INLINE double normal_quantile(double p) {
    if (!(p > 0.0 && p < 1.0)) detail::throw_option("p", detail::to_text(p), "must lie strictly between 0 and 1");
    // Phi^-1(p) = -sqrt(2) erfc^-1(2p); erfc_inv keeps full relative accuracy in both tails.
    return -std::sqrt(2.0) * boost::math::erfc_inv(2.0 * p);
}

FUNNELKIT_INLINE double beta_quantile(double p, double a, double b) {
    using namespace detail::rates_impl;
    if (!(p >= 0.0 && p <= 1.0)) detail::throw_option("p", detail::to_text(p), "must lie in [0, 1]");
    check_beta_param(a, "a");
    check_beta_param(b, "b");
    // For p > 1/2 invert the complement: better accuracy for upper quantiles.
    return p <= 0.5 ? beta_inverse(a, b, p, false) : beta_inverse(a, b, 1.0 - p, true);
}

FUNNELKIT_INLINE std::optional<rate_bounds> rate_interval(std::int64_t x, std::int64_t n, double confidence,
                                                          interval_method method) {
    using namespace detail::rates_impl;
    check_counts(x, n, "successes", "trials");
    check_confidence(confidence);
    if (n == 0) return std::nullopt;
    const double alpha = 1.0 - confidence;
    const double xd = static_cast<double>(x);
    const double nd = static_cast<double>(n);
    rate_bounds r;
    r.estimate = xd / nd;
    switch (method) {
        case interval_method::wilson: {
            const double z = -normal_quantile(alpha / 2.0);
            const double z2 = z * z;
            const double centre = (xd + z2 / 2.0) / (nd + z2);
            const double half = z * std::sqrt(xd * (nd - xd) / nd + z2 / 4.0) / (nd + z2);
            r.lower = clip01(centre - half);
            r.upper = clip01(centre + half);
            break;
        }
        case interval_method::agresti_coull: {
            const double z = -normal_quantile(alpha / 2.0);
            const double z2 = z * z;
            const double nt = nd + z2;
            const double pt = (xd + z2 / 2.0) / nt;
            const double half = z * std::sqrt(pt * (1.0 - pt) / nt);
            r.lower = clip01(pt - half);
            r.upper = clip01(pt + half);
            break;
        }
        case interval_method::jeffreys: {
            const double a = xd + 0.5;
            const double b = nd - xd + 0.5;
            r.lower = x == 0 ? 0.0 : beta_inverse(a, b, alpha / 2.0, false);
            r.upper = x == n ? 1.0 : beta_inverse(a, b, alpha / 2.0, true);
            break;
        }
        case interval_method::clopper_pearson: {
            r.lower = x == 0 ? 0.0 : beta_inverse(xd, nd - xd + 1.0, alpha / 2.0, false);
            r.upper = x == n ? 1.0 : beta_inverse(xd + 1.0, nd - xd, alpha / 2.0, true);
            break;
        }
        default:
            detail::throw_option("method", std::to_string(static_cast<int>(method)), "is not an interval method");
    }
    // Guard the documented ordering against last-bit rounding in the quantile routines.
    r.lower = std::min(r.lower, r.estimate);
    r.upper = std::max(r.upper, r.estimate);
    return r;
}

FUNNELKIT_INLINE std::string_view to_string(alternative a) noexcept {
    switch (a) {
        case alternative::two_sided: return "two-sided";
        case alternative::larger: return "larger";
        case alternative::smaller: return "smaller";
    }
    return "?";
}

FUNNELKIT_INLINE alternative parse_alternative(std::string_view name) {
    if (name == "two-sided" || name == "two_sided") return alternative::two_sided;
    if (name == "larger") return alternative::larger;
    if (name == "smaller") return alternative::smaller;
    detail::throw_option("alternative", "'" + std::string(name) + "'",
                         "is not an alternative (expected two-sided, larger or smaller)");
}

FUNNELKIT_INLINE std::optional<test_result> two_proportion_ztest(std::int64_t x_a, std::int64_t n_a, std::int64_t x_b, std::int64_t n_b,
                                                                 alternative alt) {
    using namespace detail::rates_impl;
    check_counts(x_a, n_a, "x_a", "n_a");
    check_counts(x_b, n_b, "x_b", "n_b");
    if (n_a == 0 || n_b == 0) return std::nullopt;
    const double da = static_cast<double>(n_a), db = static_cast<double>(n_b);
    const double pa = static_cast<double>(x_a) / da, pb = static_cast<double>(x_b) / db;
    const double pooled = static_cast<double>(x_a + x_b) / (da + db);
    const double var = pooled * (1.0 - pooled) * (1.0 / da + 1.0 / db);
    if (!(var > 0.0)) return std::nullopt;
    test_result r;
    r.statistic = (pb - pa) / std::sqrt(var);
    switch (alt) {
        case alternative::two_sided: r.p_value = std::min(1.0, 2.0 * normal_sf(std::abs(r.statistic))); break;
        case alternative::larger: r.p_value = normal_sf(r.statistic); break;
        case alternative::smaller: r.p_value = normal_sf(-r.statistic); break;
        default: detail::throw_option("alternative", std::to_string(static_cast<int>(alt)), "is not an alternative");
    }
    return r;
}

FUNNELKIT_INLINE std::optional<chi2_result> chi2_test(std::span<const std::int64_t> table, std::size_t rows, std::size_t cols,
                                                      bool yates) {
    if (rows < 2 || cols < 2)
        detail::throw_option("table", std::to_string(rows) + "x" + std::to_string(cols),
                             "is too small: a test of independence needs at least 2 rows and 2 columns");
    if (rows > table.size() / cols || rows * cols != table.size())
        detail::throw_length("table", table.size(), "rows*cols", rows * cols);
    std::vector<double> row_sum(rows, 0.0), col_sum(cols, 0.0);
    double total = 0;
    for (std::size_t i = 0; i < rows; ++i)
        for (std::size_t j = 0; j < cols; ++j) {
            const std::int64_t v = table[i * cols + j];
            if (v < 0) detail::throw_at_row("table", i * cols + j, std::to_string(v), "is negative; counts must be >= 0");
            const auto d = static_cast<double>(v);
            row_sum[i] += d;
            col_sum[j] += d;
            total += d;
        }
    for (double s : row_sum)
        if (s == 0) return std::nullopt;
    for (double s : col_sum)
        if (s == 0) return std::nullopt;
    chi2_result r;
    r.dof = static_cast<std::int64_t>((rows - 1) * (cols - 1));
    r.corrected = yates && r.dof == 1;
    double stat = 0;
    for (std::size_t i = 0; i < rows; ++i)
        for (std::size_t j = 0; j < cols; ++j) {
            const double expected = row_sum[i] * col_sum[j] / total;
            double diff = std::abs(static_cast<double>(table[i * cols + j]) - expected);
            if (r.corrected) diff -= std::min(0.5, diff);
            stat += diff * diff / expected;
        }
    r.statistic = stat;
    r.p_value = boost::math::gamma_q(static_cast<double>(r.dof) / 2.0, stat / 2.0);
    return r;
}

FUNNELKIT_INLINE std::optional<chi2_result> chi2_two_proportions(std::int64_t x_a, std::int64_t n_a, std::int64_t x_b, std::int64_t n_b,
                                                                 bool yates) {
    using namespace detail::rates_impl;
    check_counts(x_a, n_a, "x_a", "n_a");
    check_counts(x_b, n_b, "x_b", "n_b");
    const std::int64_t t[4] = {x_a, n_a - x_a, x_b, n_b - x_b};
    return chi2_test(t, 2, 2, yates);
}

namespace detail {

FUNNELKIT_INLINE std::optional<double> beta_greater_closed_form(double a_x, double b_x, double a_y, double b_y) {
    using namespace detail::rates_impl;
    // The sum has (integer parameter) terms and its log-gamma start loses about
    // eps * lgamma(a + b) in relative accuracy: restrict it to where both stay small.
    constexpr double max_terms = 1e5;
    constexpr double max_total = 1e5;
    if (std::max(a_x + b_x, a_y + b_y) > max_total) return std::nullopt;
    // Four equivalent forms, F(aa, ba, ab, bb) = P(p_B > p_A) needing ab integer:
    // P(X > Y) = F(Y; X)                       (a_x integer)
    //          = F(1-X; 1-Y) with 1-p ~ Beta(b, a) (b_y integer)
    //          = 1 - F(X; Y)                   (a_y integer)
    //          = 1 - F(1-Y; 1-X)               (b_x integer)
    // Prefer the integer parameter with the fewest terms.
    struct form { double terms; int kind; };
    form best{std::numeric_limits<double>::infinity(), -1};
    const double cand[4] = {a_x, b_y, a_y, b_x};
    for (int k = 0; k < 4; ++k)
        if (usable_integer(cand[k], max_terms) && cand[k] < best.terms) best = {cand[k], k};
    switch (best.kind) {
        case 0: return closed_form_integer_ab(a_y, b_y, a_x, b_x);
        case 1: return closed_form_integer_ab(b_x, a_x, b_y, a_y);
        case 2: return std::max(0.0, 1.0 - closed_form_integer_ab(a_x, b_x, a_y, b_y));
        case 3: return std::max(0.0, 1.0 - closed_form_integer_ab(b_y, a_y, b_x, a_x));
        default: return std::nullopt;
    }
}

FUNNELKIT_INLINE double beta_greater_quadrature(double a_x, double b_x, double a_y, double b_y) {
    // P(X > Y) = integral over [0, 1] of pdf_X(t) * P(Y < t) dt
    //          = integral over [0, 1] of pdf_Y(t) * P(X > t) dt.
    // The density integrated is the one of the narrower distribution: the other factor is then
    // smooth on the scale of that density (the other way round it would be a step inside a
    // bump). Both factors are evaluated by Boost.Math to full relative accuracy where it can;
    // the integral is split at points around the bulk of each density (mean +- k standard
    // deviations) so that tanh-sinh sees smooth pieces, with the endpoint singularities of
    // shape parameters < 1 handled by its double-exponential clustering at 0 and 1.
    auto sd = [](double a, double b) { return std::sqrt(a * b / ((a + b) * (a + b) * (a + b + 1.0))); };
    const bool over_x = sd(a_x, b_x) <= sd(a_y, b_y);
    const double a_d = over_x ? a_x : a_y, b_d = over_x ? b_x : b_y;  // the density
    const double a_c = over_x ? a_y : a_x, b_c = over_x ? b_y : b_x;  // the other's tail
    std::vector<double> cuts{0.0, 1.0};
    for (const auto& [a, b] : {std::pair{a_x, b_x}, std::pair{a_y, b_y}}) {
        const double mean = a / (a + b);
        const double s = sd(a, b);
        for (double k : {-40.0, -20.0, -10.0, -6.0, -3.0, -1.5, 0.0, 1.5, 3.0, 6.0, 10.0, 20.0, 40.0}) {
            const double c = mean + k * s;
            if (c > 0.0 && c < 1.0) cuts.push_back(c);
        }
    }
    cuts.push_back(0.5);
    std::sort(cuts.begin(), cuts.end());
    cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
    boost::math::quadrature::tanh_sinh<double> integrator(detail::rates_impl::quadrature_levels);
    // Left half in t; right half in s = 1 - t, where pdf_D(1-s) = pdf of Beta(b_d, a_d) at s,
    // P(Y < 1-s) = P(Beta(b_y, a_y) > s) and P(X > 1-s) = P(Beta(b_x, a_x) < s). Doubles are
    // dense near 0 but not near 1, so this keeps a singularity of the density at t = 1 (b < 1)
    // as resolvable as one at 0.
    auto tail_left = [&](double t) { return over_x ? boost::math::ibeta(a_c, b_c, t) : boost::math::ibetac(a_c, b_c, t); };
    auto tail_right = [&](double s) { return over_x ? boost::math::ibetac(b_c, a_c, s) : boost::math::ibeta(b_c, a_c, s); };
    // Each piece [lo, lo + w] is integrated as u in [0, 1] with t = lo + w u: tanh-sinh then
    // never places an abscissa onto an endpoint of a piece that is narrow next to its position.
    // The density's integral over the same pieces (its mass, 1 up to the accuracy of the beta
    // density) divides the result: Boost's density and incomplete beta are only accurate to
    // about 1e-8 when both shape parameters are near 1e12, and the ratio cancels that error of
    // the density.
    double total = 0, mass = 0;
    for (std::size_t i = 0; i + 1 < cuts.size(); ++i) {
        if (!(cuts[i + 1] > cuts[i])) continue;
        const bool left = cuts[i + 1] <= 0.5;
        const double lo = left ? cuts[i] : 1.0 - cuts[i + 1];
        const double w = left ? cuts[i + 1] - cuts[i] : cuts[i + 1] - cuts[i];
        const double a = left ? a_d : b_d, b = left ? b_d : a_d;
        auto density = [&](double u) {
            const double t = lo + w * u;
            return t > 0.0 && t < 1.0 ? boost::math::ibeta_derivative(a, b, t) : 0.0;
        };
        auto product = [&](double u) {
            const double t = lo + w * u;
            if (!(t > 0.0 && t < 1.0)) return 0.0;
            return boost::math::ibeta_derivative(a, b, t) * (left ? tail_left(t) : tail_right(t));
        };
        total += w * integrator.integrate(product, 0.0, 1.0, 1e-13);
        mass += w * integrator.integrate(density, 0.0, 1.0, 1e-13);
    }
    const double p = mass > 0.0 ? total / mass : total;
    return std::min(1.0, std::max(0.0, p));
}

FUNNELKIT_INLINE double beta_greater_edgeworth(double a_x, double b_x, double a_y, double b_y) {
    using namespace detail::rates_impl;
    // Cumulants of S = logit X - logit Y (see rates.hpp).
    const double k1 = digamma_difference(a_x, a_y) - digamma_difference(b_x, b_y);
    double k[7] = {};
    for (int r = 2; r <= 6; ++r) {
        const double sign = r % 2 == 0 ? 1.0 : -1.0;
        k[r] = polygamma_large(r - 1, a_x) + sign * polygamma_large(r - 1, b_x) + sign * polygamma_large(r - 1, a_y) +
               polygamma_large(r - 1, b_y);
    }
    const double sigma = std::sqrt(k[2]);
    double l[7] = {};  // standardised cumulants
    for (int r = 3; r <= 6; ++r) l[r] = k[r] / std::pow(sigma, r);
    const double z = -k1 / sigma;
    // Probabilists' Hermite polynomials He_0..He_11 at z.
    double he[12];
    he[0] = 1.0;
    he[1] = z;
    for (int n = 1; n < 11; ++n) he[n + 1] = z * he[n] - n * he[n - 1];
    // P(S > 0) = 1 - F(z) with the Edgeworth series of the distribution function
    //   F(z) = Phi(z) - phi(z) [ l3/6 He2 + l4/24 He3 + l3^2/72 He5                (m^-1/2, m^-1)
    //                           + l5/120 He4 + l3 l4/144 He6 + l3^3/1296 He8          (m^-3/2)
    //                           + l6/720 He5 + (l3 l5/720 + l4^2/1152) He7
    //                           + l3^2 l4/1728 He9 + l3^4/31104 He11 ]                (m^-2)
    const double l3 = l[3], l4 = l[4], l5 = l[5], l6 = l[6];
    const double series = l3 / 6.0 * he[2] + l4 / 24.0 * he[3] + l3 * l3 / 72.0 * he[5] + l5 / 120.0 * he[4] +
                          l3 * l4 / 144.0 * he[6] + l3 * l3 * l3 / 1296.0 * he[8] + l6 / 720.0 * he[5] +
                          (l3 * l5 / 720.0 + l4 * l4 / 1152.0) * he[7] + l3 * l3 * l4 / 1728.0 * he[9] +
                          l3 * l3 * l3 * l3 / 31104.0 * he[11];
    const double phi = std::exp(-0.5 * z * z) / std::sqrt(2.0 * std::numbers::pi);
    const double p = 0.5 * std::erfc(z / std::sqrt(2.0)) + phi * series;
    return std::min(1.0, std::max(0.0, p));
}

}  // namespace detail

FUNNELKIT_INLINE double probability_beta_greater(double a_x, double b_x, double a_y, double b_y) {
    using namespace detail::rates_impl;
    check_beta_param(a_x, "a_x");
    check_beta_param(b_x, "b_x");
    check_beta_param(a_y, "a_y");
    check_beta_param(b_y, "b_y");
    if (a_x == a_y && b_x == b_y) return 0.5;  // identically distributed: exact by symmetry
    if (std::min({a_x, b_x, a_y, b_y}) >= beta_asymptotic_threshold) return detail::beta_greater_edgeworth(a_x, b_x, a_y, b_y);
    if (auto v = detail::beta_greater_closed_form(a_x, b_x, a_y, b_y)) return *v;
    return detail::beta_greater_quadrature(a_x, b_x, a_y, b_y);
}

FUNNELKIT_INLINE double probability_b_beats_a(std::int64_t x_a, std::int64_t n_a, std::int64_t x_b, std::int64_t n_b,
                                              const beta_prior& prior) {
    using namespace detail::rates_impl;
    check_counts(x_a, n_a, "x_a", "n_a");
    check_counts(x_b, n_b, "x_b", "n_b");
    check_beta_param(prior.alpha, "prior.alpha");
    check_beta_param(prior.beta, "prior.beta");
    const auto d = [](std::int64_t v) { return static_cast<double>(v); };
    return probability_beta_greater(prior.alpha + d(x_b), prior.beta + d(n_b - x_b), prior.alpha + d(x_a),
                                    prior.beta + d(n_a - x_a));
}

FUNNELKIT_INLINE std::string_view to_string(p_adjust m) noexcept {
    switch (m) {
        case p_adjust::holm: return "holm";
        case p_adjust::benjamini_hochberg: return "benjamini_hochberg";
        case p_adjust::none: return "none";
    }
    return "?";
}

FUNNELKIT_INLINE p_adjust parse_p_adjust(std::string_view name) {
    if (name == "holm") return p_adjust::holm;
    if (name == "benjamini_hochberg" || name == "bh" || name == "fdr_bh") return p_adjust::benjamini_hochberg;
    if (name == "none") return p_adjust::none;
    detail::throw_option("method", "'" + std::string(name) + "'",
                         "is not a p-value adjustment (expected holm, benjamini_hochberg or none)");
}

FUNNELKIT_INLINE std::vector<double> adjust_p_values(std::span<const double> p, p_adjust method) {
    const std::size_t m = p.size();
    for (std::size_t i = 0; i < m; ++i)
        if (!(p[i] >= 0.0 && p[i] <= 1.0))
            detail::throw_at_row("p_value", i, detail::to_text(p[i]), "is not a probability in [0, 1]");
    std::vector<std::size_t> order(m);
    std::iota(order.begin(), order.end(), std::size_t{0});
    // Stable: tied p-values keep input order, which makes the result independent of ties.
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return p[a] < p[b]; });
    std::vector<double> out(m);
    const double md = static_cast<double>(m);
    if (method == p_adjust::holm) {
        double running = 0;
        for (std::size_t k = 0; k < m; ++k) {
            running = std::max(running, std::min(1.0, (md - static_cast<double>(k)) * p[order[k]]));
            out[order[k]] = running;
        }
    } else if (method == p_adjust::benjamini_hochberg) {
        double running = 1;
        for (std::size_t k = m; k-- > 0;) {
            running = std::min(running, md * p[order[k]] / static_cast<double>(k + 1));
            out[order[k]] = running;
        }
    } else if (method == p_adjust::none) {
        out.assign(p.begin(), p.end());
    } else {
        detail::throw_option("method", std::to_string(static_cast<int>(method)), "is not a p-value adjustment");
    }
    return out;
}

// ---- intervals of many rates, and many segments against one -----------------------------------

FUNNELKIT_INLINE std::optional<rate_bounds> proportion_interval(std::int64_t x, std::int64_t n, double confidence,
                                                                interval_method method) {
    using namespace detail::rates_impl;
    if (n < 0) detail::throw_option("trials", std::to_string(n), "is negative; trial counts must be >= 0");
    if (x < 0) detail::throw_option("successes", std::to_string(x), "is negative; success counts must be >= 0");
    check_confidence(confidence);
    if (n == 0 || x > n) return std::nullopt;
    return rate_interval(x, n, confidence, method);
}

FUNNELKIT_INLINE rate_interval_table rate_intervals(std::span<const std::int64_t> x, std::span<const std::int64_t> n,
                                                    double confidence, interval_method method) {
    if (x.size() != n.size()) detail::throw_length("trials", n.size(), "successes", x.size());
    constexpr double undefined = std::numeric_limits<double>::quiet_NaN();
    rate_interval_table out;
    const std::size_t rows = x.size();
    out.estimate.resize(rows);
    out.lower.resize(rows);
    out.upper.resize(rows);
    out.defined.resize(rows);
    for (std::size_t i = 0; i < rows; ++i) {
        std::optional<rate_bounds> r;
        try {
            r = rate_interval(x[i], n[i], confidence, method);
        } catch (const invalid_argument& e) {
            throw invalid_argument("row " + std::to_string(i) + ": " + e.what());
        }
        out.defined[i] = r.has_value() ? 1 : 0;
        out.estimate[i] = r ? r->estimate : undefined;
        out.lower[i] = r ? r->lower : undefined;
        out.upper[i] = r ? r->upper : undefined;
    }
    return out;
}

FUNNELKIT_INLINE std::string_view to_string(baseline_test t) noexcept {
    switch (t) {
        case baseline_test::z: return "z";
        case baseline_test::chi2: return "chi2";
        case baseline_test::chi2_plain: return "chi2_plain";
    }
    return "?";
}

FUNNELKIT_INLINE baseline_test parse_baseline_test(std::string_view name) {
    if (name == "z") return baseline_test::z;
    if (name == "chi2") return baseline_test::chi2;
    if (name == "chi2_plain") return baseline_test::chi2_plain;
    detail::throw_option("test", "'" + std::string(name) + "'", "is not a test (expected z, chi2 or chi2_plain)");
}

FUNNELKIT_INLINE baseline_comparison compare_to_baseline(std::span<const std::int64_t> x, std::span<const std::int64_t> n,
                                                         const baseline_options& o) {
    constexpr double undefined = std::numeric_limits<double>::quiet_NaN();
    const std::size_t rows = x.size();
    if (n.size() != rows) detail::throw_length("trials", n.size(), "successes", rows);
    if (o.baseline >= rows)
        detail::throw_option("baseline", std::to_string(o.baseline),
                             "is not a segment position (" +
                                 (rows ? "0.." + std::to_string(rows - 1) : std::string("there are no segments")) + ")");
    auto ri = rate_intervals(x, n, o.confidence, o.interval);  // validates every row's counts
    baseline_comparison out;
    out.rate = std::move(ri.estimate);
    out.lower = std::move(ri.lower);
    out.upper = std::move(ri.upper);
    out.difference.assign(rows, undefined);
    out.statistic.assign(rows, undefined);
    out.p_value.assign(rows, undefined);
    out.p_adjusted.assign(rows, undefined);
    out.prob_beats_baseline.assign(rows, undefined);
    out.is_baseline.assign(rows, 0);
    out.tested.assign(rows, 0);
    const std::size_t b = o.baseline;
    out.is_baseline[b] = 1;
    const std::int64_t xa = x[b], na = n[b];
    std::vector<double> tested_p;
    for (std::size_t i = 0; i < rows; ++i) {
        if (i == b) continue;
        const std::int64_t xb = x[i], nb = n[i];
        out.difference[i] = out.rate[i] - out.rate[b];
        out.prob_beats_baseline[i] = probability_b_beats_a(xa, na, xb, nb, o.prior);
        std::optional<double> stat, p;
        switch (o.test) {
            case baseline_test::z:
                if (const auto r = two_proportion_ztest(xa, na, xb, nb, alternative::two_sided)) {
                    stat = r->statistic;
                    p = r->p_value;
                }
                break;
            case baseline_test::chi2:
            case baseline_test::chi2_plain: {
                // The segment's row first, as the table reads "segment against baseline".
                const std::int64_t t[4] = {xb, nb - xb, xa, na - xa};
                if (const auto r = chi2_test(t, 2, 2, o.test == baseline_test::chi2)) {
                    stat = r->statistic;
                    p = r->p_value;
                }
                break;
            }
            default: detail::throw_option("test", std::to_string(static_cast<int>(o.test)), "is not a test");
        }
        if (!stat) continue;
        out.statistic[i] = *stat;
        out.p_value[i] = *p;
        out.tested[i] = 1;
        tested_p.push_back(*p);
    }
    const auto adjusted = adjust_p_values(tested_p, o.adjust);
    for (std::size_t i = 0, k = 0; i < rows; ++i)
        if (out.tested[i]) out.p_adjusted[i] = adjusted[k++];
    return out;
}

FUNNELKIT_END_NAMESPACE
