// funnelkit: statistics of conversion rates: confidence intervals, tests that compare
// segments, the Bayesian probability that one rate beats another, and multiple-comparison
// adjustment of p-values.
//
// Definitions (x successes of n trials, confidence level 1 - alpha, z = the 1 - alpha/2
// quantile of the standard normal distribution):
// - Wilson (the default): (x + z^2/2 +- z*sqrt(x(n-x)/n + z^2/4)) / (n + z^2).
// - Agresti-Coull: p~ +- z*sqrt(p~(1-p~)/n~) with n~ = n + z^2, p~ = (x + z^2/2)/n~.
// - Jeffreys: the alpha/2 and 1-alpha/2 quantiles of Beta(x+1/2, n-x+1/2); lower bound 0
//   when x = 0, upper bound 1 when x = n.
// - Clopper-Pearson (exact): the alpha/2 quantile of Beta(x, n-x+1) and the 1-alpha/2
//   quantile of Beta(x+1, n-x); lower bound 0 when x = 0, upper bound 1 when x = n.
// Wilson and Agresti-Coull bounds are clipped to [0, 1] (Agresti-Coull leaves that range
// for x near 0 or n; statsmodels clips the same way).
// Example: x = 7, n = 50, 95%: Wilson [0.069508, 0.261862].
//
// Edge cases: x = 0 and x = n give ordinary intervals touching 0 or 1. n = 0 carries no
// information: the rate and its interval are undefined and the functions return
// std::nullopt instead of a number, so nothing undefined reaches arithmetic silently.
// Invalid counts (negative, x > n) and confidence levels outside (0, 1) throw
// funnelkit::invalid_argument.
//
// Quantiles come from Boost.Math (normal quantile, inverse regularized incomplete beta);
// Boost is only included by the implementation, impl/rates.ipp, not by this header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "funnelkit/config.hpp"

FUNNELKIT_BEGIN_NAMESPACE

enum class interval_method : std::uint8_t { wilson = 0, agresti_coull = 1, jeffreys = 2, clopper_pearson = 3 };

/// Name of the method as used in option strings: "wilson", "agresti_coull", "jeffreys",
/// "clopper_pearson".
std::string_view to_string(interval_method m) noexcept;
/// Parses the names above (and "exact" for clopper_pearson); throws
/// funnelkit::invalid_argument naming option 'interval'.
interval_method parse_interval_method(std::string_view name);

/// A rate with its confidence interval. All three numbers lie in [0, 1] and
/// lower <= estimate <= upper.
struct rate_bounds {
    double estimate = 0;  ///< x / n
    double lower = 0;
    double upper = 0;
    friend bool operator==(const rate_bounds&, const rate_bounds&) = default;
};

/// Confidence interval for x successes of n trials at the `confidence` level 1 - alpha (e.g.
/// 0.95). std::nullopt when n == 0 (undefined rate). Throws for x < 0, n < 0, x > n, or a
/// confidence outside the open interval (0, 1), naming option 'confidence'.
std::optional<rate_bounds> rate_interval(std::int64_t successes, std::int64_t trials, double confidence = 0.95,
                                         interval_method method = interval_method::wilson);

/// The interval of a rate that may not be a proportion: rate_interval() when 0 <= successes
/// <= trials and trials > 0, std::nullopt when trials == 0 or successes > trials (x of n is then
/// no proportion: e.g. a step rate above 1 when skipped stages are not implied). This is the rule
/// every table of funnelkit applies before it shows an interval. Throws for negative counts or
/// a confidence level outside (0, 1).
std::optional<rate_bounds> proportion_interval(std::int64_t successes, std::int64_t trials, double confidence = 0.95,
                                               interval_method method = interval_method::wilson);

/// rate_interval() of every row, as columns: estimate, lower, upper (NaN where undefined) and
/// defined (0 where trials == 0). Throws like rate_interval(), the message prefixed with the row
/// ("row 3: option 'successes': ..."), or when the columns differ in length.
struct rate_interval_table {
    std::vector<double> estimate, lower, upper;
    std::vector<std::uint8_t> defined;
    std::size_t size() const noexcept { return estimate.size(); }
};
rate_interval_table rate_intervals(std::span<const std::int64_t> successes, std::span<const std::int64_t> trials,
                                   double confidence = 0.95, interval_method method = interval_method::wilson);

/// The p-quantile of the standard normal distribution, 0 < p < 1.
double normal_quantile(double p);
/// The p-quantile of Beta(a, b) (inverse of the regularized incomplete beta function),
/// a > 0, b > 0, 0 <= p <= 1.
double beta_quantile(double p, double a, double b);

enum class alternative : std::uint8_t { two_sided = 0, larger = 1, smaller = 2 };
std::string_view to_string(alternative a) noexcept;
/// Parses "two-sided" (or "two_sided"), "larger", "smaller"; throws naming option 'alternative'.
alternative parse_alternative(std::string_view name);

struct test_result {
    double statistic = 0;
    double p_value = 1;
    friend bool operator==(const test_result&, const test_result&) = default;
};

/// Two-proportion z-test with the pooled variance, comparing rate B against rate A (every
/// two-sample function of funnelkit takes A first, then B, and reports B relative to A):
/// p = (x_a + x_b) / (n_a + n_b), z = (x_b/n_b - x_a/n_a) / sqrt(p(1-p)(1/n_a + 1/n_b)), so z
/// is positive when B's rate is higher. `larger` tests p_b > p_a, `smaller` p_b < p_a.
/// (statsmodels' proportions_ztest(count=[x_b, x_a], nobs=[n_b, n_a]) gives the same numbers.)
/// std::nullopt when n_a == 0, n_b == 0, or the pooled rate is 0 or 1 (both rates identical
/// at 0 or 1: zero variance, the statistic is undefined).
std::optional<test_result> two_proportion_ztest(std::int64_t x_a, std::int64_t n_a, std::int64_t x_b, std::int64_t n_b,
                                                alternative alt = alternative::two_sided);

/// Former name, with the former argument order: tests rate 1 against rate 2
/// (z = (p1 - p2) / se, `larger` = rate 1 > rate 2), i.e. two_proportion_ztest(x2, n2, x1, n1).
[[deprecated("use two_proportion_ztest(x_a, n_a, x_b, n_b), which tests B against A")]]
inline std::optional<test_result> two_proportion_z_test(std::int64_t x1, std::int64_t n1, std::int64_t x2,
                                                        std::int64_t n2, alternative alt = alternative::two_sided) {
    return two_proportion_ztest(x2, n2, x1, n1, alt);
}

struct chi2_result {
    double statistic = 0;
    double p_value = 1;
    std::int64_t dof = 0;
    bool corrected = false;  ///< true when the Yates correction was applied
    friend bool operator==(const chi2_result&, const chi2_result&) = default;
};

/// Pearson's chi-squared test of independence on an r x c table of counts, row-major
/// (`table[i * cols + j]`), r >= 2 and c >= 2. Expected counts are row sum * column sum /
/// total; dof = (r-1)(c-1). With `yates` and dof == 1 each |observed - expected| is reduced
/// by min(0.5, |observed - expected|) (the convention of scipy.stats.chi2_contingency);
/// larger tables are never corrected. std::nullopt when a row or column sums to 0 (an
/// expected count of 0: the test is undefined). Throws on negative counts or a bad shape.
std::optional<chi2_result> chi2_test(std::span<const std::int64_t> table, std::size_t rows, std::size_t cols,
                                     bool yates = true);

[[deprecated("use chi2_test")]]
inline std::optional<chi2_result> chi2_independence(std::span<const std::int64_t> table, std::size_t rows,
                                                    std::size_t cols, bool yates = true) {
    return chi2_test(table, rows, cols, yates);
}

/// The 2x2 case for two rates A and B: rows (x_a, n_a-x_a) and (x_b, n_b-x_b). The statistic
/// is symmetric in A and B.
std::optional<chi2_result> chi2_two_proportions(std::int64_t x_a, std::int64_t n_a, std::int64_t x_b, std::int64_t n_b,
                                                bool yates = true);

/// A Beta(alpha, beta) prior on a rate; the default is the uniform prior Beta(1, 1).
struct beta_prior {
    double alpha = 1;
    double beta = 1;
};

/// P(X > Y) for independent X ~ Beta(a_x, b_x), Y ~ Beta(a_y, b_y), computed without
/// sampling, in bounded time for every parameter (milliseconds; well under a second in the
/// worst cases), by the first of:
/// - 1/2 when X and Y have the same parameters;
/// - when all four parameters are at least beta_asymptotic_threshold (1e4): an Edgeworth
///   expansion of S = logit X - logit Y (P(X > Y) = P(S > 0), the logit being increasing).
///   S = ln G(a_x) - ln G(b_x) - ln G(a_y) + ln G(b_y) with independent Gamma variables, so its
///   cumulants are exact sums of polygamma functions: k_1 = psi(a_x) - psi(b_x) - psi(a_y) +
///   psi(b_y) (computed from the differences of the parameters, no cancellation), k_r =
///   psi^(r-1)(a_x) + (-1)^r psi^(r-1)(b_x) + (-1)^r psi^(r-1)(a_y) + psi^(r-1)(b_y). The
///   expansion keeps every term up to order m^-2 (m = the smallest parameter; standardised
///   cumulants up to the sixth). Error bound: the first omitted terms are of order m^-5/2;
///   against the quadrature over random parameters with m from 300 to 5e4 the absolute
///   difference stayed below 3e-4 * m^-5/2 (1.4e-10 at m = 300), which is below 1e-13 from
///   m = 1e4 on: the level of the quadrature's own error. The absolute error is what is
///   bounded: a probability of 1e-300 is reported with an absolute, not relative, accuracy.
/// - the finite closed-form sum when one of the four parameters is an integer, with at most
///   1e5 terms and both a + b at most 1e5 (the log-gamma start of the sum loses accuracy
///   beyond: about 1e-11 at 1e5);
/// - otherwise tanh-sinh quadrature over [0, 1] split at the bulk of both densities, of the
///   density of the narrower distribution times the tail probability of the other (for
///   example pdf_X(t) * P(Y < t)), divided by the integral of that density over the same
///   pieces; absolute error about 1e-12. The refinement depth is capped so that parameters
///   where the integrand cannot reach that tolerance still return promptly (Boost's beta
///   density and incomplete beta are accurate to only about 1e-8 when both shape parameters
///   of one distribution are near 1e12; dividing by the computed mass cancels the density's
///   part of that error).
/// Parameters must be finite and > 0.
double probability_beta_greater(double a_x, double b_x, double a_y, double b_y);

/// Smallest value of all four parameters from which probability_beta_greater uses the
/// Edgeworth expansion.
inline constexpr double beta_asymptotic_threshold = 1e4;

/// Posterior probability that rate B beats rate A, P(p_B > p_A), with p_A ~ Beta(prior.alpha
/// + x_a, prior.beta + n_a - x_a) and p_B likewise. A first, then B, as in
/// two_proportion_ztest. n = 0 is allowed (the posterior is the prior).
double probability_b_beats_a(std::int64_t x_a, std::int64_t n_a, std::int64_t x_b, std::int64_t n_b,
                             const beta_prior& prior = {});

enum class p_adjust : std::uint8_t { holm = 0, benjamini_hochberg = 1, none = 2 };
/// "holm", "benjamini_hochberg" or "none".
std::string_view to_string(p_adjust m) noexcept;
/// Parses "holm", "benjamini_hochberg" (or "bh", "fdr_bh"), "none"; throws naming option 'method'.
p_adjust parse_p_adjust(std::string_view name);

/// Adjusted p-values, in the input order, capped at 1:
/// - Holm (family-wise error): sorted ascending p_(1..m), adj_(i) = max_{j <= i} (m-j+1) p_(j);
/// - Benjamini-Hochberg (false discovery rate): adj_(i) = min_{j >= i} m p_(j) / j;
/// - none: the p-values unchanged.
/// Matches statsmodels.stats.multitest.multipletests ('holm', 'fdr_bh'). Each p must lie in
/// [0, 1]; NaN or out-of-range values throw naming column 'p_value' and the row.
std::vector<double> adjust_p_values(std::span<const double> p_values, p_adjust method);

// ---- many segments against one ----------------------------------------------------------------

/// How compare_to_baseline() tests a segment (B) against the baseline (A): the pooled
/// two-proportion z-test (two-sided), or the 2x2 chi-squared test with or without Yates'
/// correction.
enum class baseline_test : std::uint8_t { z = 0, chi2 = 1, chi2_plain = 2 };
/// "z", "chi2" or "chi2_plain".
std::string_view to_string(baseline_test t) noexcept;
/// Parses the names above; throws funnelkit::invalid_argument naming option 'test'.
baseline_test parse_baseline_test(std::string_view name);

struct baseline_options {
    /// Row of the baseline segment.
    std::size_t baseline = 0;
    baseline_test test = baseline_test::z;
    /// Adjustment of the p-values over the tested segments.
    p_adjust adjust = p_adjust::holm;
    /// Confidence level and method of each segment's interval.
    double confidence = 0.95;
    interval_method interval = interval_method::wilson;
    /// Prior of prob_beats_baseline.
    beta_prior prior{};
};

/// One row per segment (the input order). For segment i with x_i successes of n_i trials and
/// the baseline b:
/// - rate, lower, upper: rate_interval(x_i, n_i) (NaN when n_i = 0);
/// - difference = rate_i - rate_b (NaN for the baseline's own row or an undefined rate);
/// - statistic, p_value: the test of segment i (B) against the baseline (A); the chi-squared
///   tests use the table rows (x_i, n_i - x_i), (x_b, n_b - x_b). NaN, with tested = 0, for the
///   baseline and where the test is undefined (an empty segment, zero variance);
/// - p_adjusted: adjust_p_values() over the tested rows' p-values (NaN elsewhere);
/// - prob_beats_baseline = probability_b_beats_a(x_b, n_b, x_i, n_i, prior) (NaN for the
///   baseline).
struct baseline_comparison {
    std::vector<double> rate, lower, upper, difference, statistic, p_value, p_adjusted, prob_beats_baseline;
    std::vector<std::uint8_t> is_baseline, tested;
    std::size_t size() const noexcept { return rate.size(); }
};

/// Compares every segment's rate with the baseline segment's. Throws for columns of different
/// lengths, a baseline row out of range, invalid counts (naming the row) or options.
baseline_comparison compare_to_baseline(std::span<const std::int64_t> successes, std::span<const std::int64_t> trials,
                                        const baseline_options& options = {});

namespace detail {
// The evaluation paths of probability_beta_greater, exposed for cross-checking in tests.
// The closed form returns nullopt when no parameter is a usable integer.
std::optional<double> beta_greater_closed_form(double a_x, double b_x, double a_y, double b_y);
double beta_greater_quadrature(double a_x, double b_x, double a_y, double b_y);
/// The Edgeworth expansion above; meant for parameters >= beta_asymptotic_threshold (it is a
/// poor approximation for small ones).
double beta_greater_edgeworth(double a_x, double b_x, double a_y, double b_y);
}  // namespace detail

FUNNELKIT_END_NAMESPACE

#ifdef FUNNELKIT_HEADER_ONLY
#include "funnelkit/impl/rates.ipp"
#endif
