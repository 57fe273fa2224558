// funnelkit: drivers of conversion. Which segment values (source, campaign, owner, any property)
// or which events go with converting, or with dropping out, more often than the rest?
//
// For one feature v (a segment value, or "saw event e") and a binary outcome (converted to the
// target stage, or dropped at a funnel step), the entities of the population form the 2x2 table
//
//                    outcome = 1   outcome = 0
//     has v               a             b
//     has not v           c             d
//
// and the driver statistics are:
// - odds ratio OR = (a d) / (b c): the odds of the outcome with v over the odds without v. When
//   a cell is 0 the Haldane-Anscombe correction adds 1/2 to every cell first (the estimate and
//   its interval then come from the corrected table; `corrected` says so).
// - Woolf (logit) interval at the confidence level 1 - alpha: exp(ln OR +- z * sqrt(1/a + 1/b +
//   1/c + 1/d)), z the 1 - alpha/2 normal quantile; on the corrected table when a cell is 0.
//   (statsmodels' Table2x2(table + 1/2 when a cell is 0).oddsratio_confint() gives the same numbers;
//   its own shift_zeros option replaces only the zero cells, which is not this correction.)
// - p-value of independence, two-sided, by the test in force for the row:
//   * Fisher's exact test: the hypergeometric probability, with all margins fixed, of every
//     table no more likely than the one observed (ties within a relative 1e-14 count as equally
//     likely; scipy.stats.fisher_exact's convention);
//   * Pearson's chi-squared test with Yates' continuity correction (chi2_test with yates);
//   * `automatic` (the default): Fisher when an expected count (row total * column total /
//     entities) is below `min_expected` (5, Cochran's rule), chi-squared otherwise.
// - q-value: the Benjamini-Hochberg adjusted p-value over every tested feature (a feature is
//   tested when both rows and both columns of its table are non-empty).
// - rank: tested features by ascending q-value, then by descending |ln OR| (the size of the
//   effect), then by feature code; untested features last.
// A driver is an association, not a cause: entities with v may differ from the others in ways
// the table does not see.
// The table is only as fair as the population and the features given to drivers(): every entity
// must be observed equally long, or time alone becomes a driver. The Python layer ensures this
// with a maturity window for segment drivers (entities followed for T, outcome within T of entry)
// and a landmark for drop-off drivers (events in [entry, entry + tau] among entities that had not
// reached the next step by tau); README "Drivers of conversion" has the details.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "funnelkit/config.hpp"
#include "funnelkit/rates.hpp"

FUNNELKIT_BEGIN_NAMESPACE

/// The Woolf odds ratio and its interval from the 2x2 table (a, b; c, d) above.
struct odds_ratio_interval {
    double odds_ratio = 0;
    double lower = 0;
    double upper = 0;
    /// True when a cell was 0 and 1/2 was added to every cell.
    bool corrected = false;
    friend bool operator==(const odds_ratio_interval&, const odds_ratio_interval&) = default;
};

/// The odds ratio (a d) / (b c) with its Woolf interval at `confidence`, Haldane-Anscombe
/// corrected when a cell is 0. std::nullopt when a row or a column of the table is empty
/// (a + b, c + d, a + c or b + d is 0): the odds ratio then says nothing. Throws
/// funnelkit::invalid_argument for negative counts or a confidence outside (0, 1).
std::optional<odds_ratio_interval> odds_ratio_woolf(std::int64_t a, std::int64_t b, std::int64_t c, std::int64_t d,
                                                    double confidence = 0.95);

/// Fisher's exact test of the 2x2 table (a, b; c, d). `two_sided`: the probability of every
/// table at most as likely as the observed one (relative tolerance 1e-14); `larger`: P(X >= a),
/// the odds ratio above 1; `smaller`: P(X <= a). X is hypergeometric: a + b draws from a + b +
/// c + d entities of which a + c have the outcome. Tail sums walk outward from their first term
/// and stop when the rest is below 1e-17 of the sum, so the cost grows with the spread of X, not
/// with the counts (microseconds for tens of millions of entities). The densities use Loader's
/// saddle-point form of the binomial terms, so the p-value keeps a relative accuracy of about
/// 1e-14 at millions of entities (against exact rational sums), where log-gamma differences
/// would lose 1e-9. 1 when a row or a column is empty (scipy.stats.fisher_exact's convention).
/// Throws funnelkit::invalid_argument for negative counts.
double fisher_exact(std::int64_t a, std::int64_t b, std::int64_t c, std::int64_t d,
                    alternative alt = alternative::two_sided);

enum class driver_test : std::uint8_t { automatic = 0, fisher = 1, chi2 = 2 };
/// "automatic", "fisher" or "chi2".
std::string_view to_string(driver_test t) noexcept;
/// Parses the names above; throws funnelkit::invalid_argument naming option 'test'.
driver_test parse_driver_test(std::string_view name);

struct driver_options {
    driver_test test = driver_test::automatic;
    /// With `automatic`: Fisher when an expected count is below this, chi-squared otherwise.
    double min_expected = 5.0;
    /// Confidence level of the odds-ratio interval, in (0, 1).
    double confidence = 0.95;
    /// Adjustment of the p-values over the tested features.
    p_adjust adjust = p_adjust::benjamini_hochberg;
};

/// One row per feature code 0..n_features-1, in rank order (`feature` gives the code).
struct driver_table {
    std::vector<std::int32_t> feature;
    /// a, a + b (entities with the feature), c, c + d (entities without it).
    std::vector<std::int64_t> with_outcome, with_total, without_outcome, without_total;
    /// a / (a + b) and c / (c + d); NaN for an empty row.
    std::vector<double> rate_with, rate_without;
    /// odds_ratio_woolf(a, b, c, d); NaN when untested.
    std::vector<double> odds_ratio, lower, upper;
    std::vector<double> p_value, q_value;
    /// The test in force (driver_test::fisher or driver_test::chi2; automatic for untested rows).
    std::vector<driver_test> test;
    std::vector<std::uint8_t> corrected, tested;
    /// 1-based rank (the row number).
    std::vector<std::int64_t> rank;
    /// Entities of the population (outcome 0 or 1) and those with outcome 1.
    std::int64_t entities = 0, with_outcome_total = 0;
    std::size_t size() const noexcept { return feature.size(); }
};

/// Driver statistics of every feature. `outcome[e]` is the outcome of entity e: 1, 0, or 2 for
/// an entity outside the population (ignored; e.g. still open, or never at the base stage).
/// `member_entity[i]` has feature `member_feature[i]` (entity indices into `outcome`, feature
/// codes in 0..n_features-1; repeated pairs count once). Throws funnelkit::invalid_argument
/// naming the column, row and value for an outcome other than 0, 1, 2, an entity index or a
/// feature code out of range, columns of different lengths, or invalid options.
driver_table drivers(std::span<const std::uint8_t> outcome, std::span<const std::int64_t> member_entity,
                     std::span<const std::int32_t> member_feature, std::int32_t n_features,
                     const driver_options& options = {});

FUNNELKIT_END_NAMESPACE

#ifdef FUNNELKIT_HEADER_ONLY
#include "funnelkit/impl/drivers.ipp"
#endif
