// funnelkit: survival analysis for right-censored durations: the Kaplan-Meier estimator
// (time to convert, counting open entities as censored) and the Aalen-Johansen cumulative
// incidence of competing outcomes (won vs lost).
//
// Definitions. Distinct durations t_1 < ... < t_m (event and censoring times together);
// n_j = number with duration >= t_j (at risk), d_j = events at t_j, c_j = censored at t_j.
// - Ties: all events at t_j are processed together, and an entity censored at t_j is still
//   at risk at t_j (censoring happens just after the events), the usual convention.
// - Kaplan-Meier: S(t_j) = prod_{i <= j} (1 - d_i / n_i); S(t) = 1 before t_1.
// - Confidence band: "exponential Greenwood" (log(-log S)) at the confidence level 1 - alpha:
//   V_j = sum_{i <= j, n_i > d_i} d_i / (n_i (n_i - d_i)), and the bounds are
//   S^exp(+z sqrt(V)/|log S|) (lower) and S^exp(-z sqrt(V)/|log S|) (upper); both are 1
//   where S = 1 and 0 where S = 0. This is the band lifelines' KaplanMeierFitter reports.
// - Percentile q (median q = 1/2): the smallest t_j with S(t_j) <= q, lifelines'
//   qth_survival_time convention; undefined (std::nullopt) when S never falls to q, which
//   happens when too many entities are still open. The median's confidence interval applies
//   the same rule to the lower and upper bands.
// - Aalen-Johansen with outcomes 1..K (0 = censored/open): the event-free survival S is the
//   Kaplan-Meier curve with any outcome as the event, and the cumulative incidence of
//   outcome k is F_k(t_j) = sum_{i <= j} S(t_{i-1}) d_{k,i} / n_i. The curves of all
//   outcomes and S add up to 1 at every time. This is the probability of being won by t with
//   lost as a competing outcome; 1 - KM with lost treated as censored overstates it.
//   Ties across outcomes at one time are processed together (lifelines instead jitters tied
//   times at random, so it agrees only on data without ties).
// - Aalen-Johansen confidence band (pointwise): the delta-method (Greenwood-type) variance of F_k(t) given
//   by Collett (Modelling Survival Data in Medical Research, 3rd ed., section 12.2; the
//   estimator of lifelines' AalenJohansenFitter and of SAS PROC LIFETEST), summing over the
//   times t_i <= t, with d_i all events at t_i and d_{k,i} those of outcome k:
//     Var F_k(t) = sum (F_k(t) - F_k(t_i))^2 d_i / (n_i (n_i - d_i))
//                + sum S(t_{i-1})^2 d_{k,i} (n_i - d_{k,i}) / n_i^3
//                - 2 sum (F_k(t) - F_k(t_i)) S(t_{i-1}) d_{k,i} / n_i^2,
//   where a time with n_i = d_i (nobody left after it) adds nothing to the first sum, as in the
//   Greenwood sum above. The band applies the log(-log) transform: with
//   se = sqrt(Var) / (F |log F|), lower = F^exp(z se) and upper = F^exp(-z se), so it stays
//   inside [0, 1]; both bounds are 0 where F = 0 and 1 where F = 1. The band is pointwise:
//   at each time t it covers F_k(t) with the confidence level, but the whole curve lies inside
//   it at every time at once with a lower probability (it is not a simultaneous band such as
//   Hall-Wellner or equal-precision bands). The Kaplan-Meier band above is pointwise too.
// Durations must be finite and >= 0; errors name the column, the row and the value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <vector>

#include "funnelkit/config.hpp"

FUNNELKIT_BEGIN_NAMESPACE

// The deprecated member must not make the implicitly defined constructors warn: only code that
// names `level` should.
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#endif
struct kaplan_meier_options {
    /// Confidence level of the band and of the median's interval, in (0, 1).
    double confidence = 0.95;
    /// Former name of `confidence`, kept for one release: when set (not NaN) it is used instead.
    [[deprecated("use confidence")]] double level = std::numeric_limits<double>::quiet_NaN();

    /// The confidence level in force: `level` when it was set, else `confidence`.
    double confidence_level() const noexcept;
};
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

struct kaplan_meier_result {
    /// Confidence level of the band and of the median's interval.
    double confidence = 0.95;
    /// Former name of `confidence` (always the same value); deprecated, to be removed after one
    /// release. (Not marked [[deprecated]]: compilers would then warn in every copy of a result.)
    double level = 0.95;
    std::vector<double> time;               ///< distinct durations, ascending
    std::vector<std::int64_t> at_risk;      ///< n_j
    std::vector<std::int64_t> events;       ///< d_j
    std::vector<std::int64_t> censored;     ///< c_j
    std::vector<double> survival;           ///< S(t_j)
    std::vector<double> lower;              ///< lower band at t_j
    std::vector<double> upper;              ///< upper band at t_j
    std::optional<double> median;           ///< percentile(0.5)
    std::optional<double> median_lower;     ///< median of the lower band (the earlier time)
    std::optional<double> median_upper;     ///< median of the upper band (nullopt: not reached)

    std::int64_t count() const noexcept;        ///< number of durations
    std::int64_t event_count() const noexcept;  ///< number of events
    /// S(t) as a right-continuous step function (1 before the first time).
    double survival_at(double t) const;
    /// Smallest time with S <= q, 0 < q < 1; nullopt when S never falls to q.
    std::optional<double> percentile(double q) const;
    /// survival_at() of every time in `t`, into `out` (of the same size; throws otherwise). One
    /// binary search per time.
    void survival_at(std::span<const double> t, std::span<double> out) const;
    /// The lower and upper band at t, step functions like S (1 before the first time).
    double lower_at(double t) const;
    double upper_at(double t) const;
    void lower_at(std::span<const double> t, std::span<double> out) const;
    void upper_at(std::span<const double> t, std::span<double> out) const;
};

/// Kaplan-Meier estimate from durations and event flags (1 = event observed, 0 = censored,
/// e.g. still open). An empty `observed` means every duration is an event. Empty input gives
/// an empty curve with no median.
kaplan_meier_result kaplan_meier(std::span<const double> duration, std::span<const std::uint8_t> observed,
                                 const kaplan_meier_options& options = {});

struct cumulative_incidence_result {
    std::int32_t n_outcomes = 0;            ///< K: outcomes are coded 1..K
    double confidence = 0.95;               ///< confidence level of the band
    std::vector<double> time;               ///< distinct durations, ascending
    std::vector<std::int64_t> at_risk;      ///< n_j
    std::vector<std::int64_t> censored;     ///< c_j
    std::vector<std::int64_t> events;       ///< d_{k,j} at [j * K + (k - 1)]
    std::vector<double> incidence;          ///< F_k(t_j) at [j * K + (k - 1)]
    std::vector<double> survival;           ///< event-free survival S(t_j)
    std::vector<double> variance;           ///< Var F_k(t_j) (delta method) at [j * K + (k - 1)]
    std::vector<double> lower, upper;       ///< band of F_k(t_j) at [j * K + (k - 1)]

    /// F_k(t) as a right-continuous step function (0 before the first time); k in 1..K.
    double incidence_at(std::int32_t outcome, double t) const;
    /// F_k at the last time: the share that ends in outcome k as far as the data can tell (0
    /// without durations).
    double final_incidence(std::int32_t outcome) const;
    /// incidence_at(outcome, t) of every time in `t`, into `out` (of the same size).
    void incidence_at(std::int32_t outcome, std::span<const double> t, std::span<double> out) const;
    /// The event-free survival S(t) (no outcome yet) as a step function (1 before the first time).
    double survival_at(double t) const;
    void survival_at(std::span<const double> t, std::span<double> out) const;
    /// The band of F_k as step functions (0 before the first time); k in 1..K.
    double lower_at(std::int32_t outcome, double t) const;
    double upper_at(std::int32_t outcome, double t) const;
    void lower_at(std::int32_t outcome, std::span<const double> t, std::span<double> out) const;
    void upper_at(std::int32_t outcome, std::span<const double> t, std::span<double> out) const;
};

struct aalen_johansen_options {
    /// At least this many outcomes (codes 1..n_outcomes) in the result, even when the largest
    /// code in the data is smaller: outcomes that never occur get columns of zero events and
    /// zero incidence. 0: as many as the largest code. At most 1024.
    std::int32_t n_outcomes = 0;
    /// Confidence level of the band, in (0, 1).
    double confidence = 0.95;
};

/// Aalen-Johansen cumulative incidence. `outcome[i]` is 0 for censored (open) and k >= 1 for
/// outcome k (e.g. 1 = won, 2 = lost); codes above 1024 are rejected.
cumulative_incidence_result aalen_johansen(std::span<const double> duration, std::span<const std::int32_t> outcome,
                                           const aalen_johansen_options& options = {});

FUNNELKIT_END_NAMESPACE

#ifdef FUNNELKIT_HEADER_ONLY
#include "funnelkit/impl/survival.ipp"
#endif
