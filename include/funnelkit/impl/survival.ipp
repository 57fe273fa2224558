// Definitions for funnelkit/survival.hpp; config.hpp explains the compiled and header-only modes.
#pragma once

#include "funnelkit/survival.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <utility>

#include "funnelkit/error.hpp"
#include "funnelkit/rates.hpp"

FUNNELKIT_BEGIN_NAMESPACE

namespace detail::survival_impl {

inline void check_durations(std::span<const double> duration) {
    for (std::size_t i = 0; i < duration.size(); ++i) {
        const double d = duration[i];
        if (!(std::isfinite(d) && d >= 0.0))
            detail::throw_at_row("duration", i, detail::to_text(d), "is not a finite duration >= 0");
    }
}

// (duration, flag) pairs sorted by duration. Sorting the pairs themselves (not an index into
// the input) keeps the sort cache-friendly; the order among equal durations does not matter
// because ties are processed together.
struct timed {
    double t;
    std::int32_t flag;
};
inline std::vector<timed> sorted_pairs(std::span<const double> duration, auto&& flag_of) {
    std::vector<timed> v(duration.size());
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = {duration[i], static_cast<std::int32_t>(flag_of(i))};
    std::sort(v.begin(), v.end(), [](const timed& a, const timed& b) { return a.t < b.t; });
    return v;
}

inline void check_size(std::size_t n) {
    if (n > 0xffffffffu)
        detail::throw_option("duration", std::to_string(n) + " rows", "exceeds the 2^32 - 1 rows supported");
}

// A right-continuous step function of the distinct times: values[j] from time[j] on, `before`
// before the first time.
inline double step_at(const std::vector<double>& time, const std::vector<double>& values, double before, double t) {
    if (std::isnan(t)) detail::throw_option("t", "NaN", "is not a time");
    const auto it = std::upper_bound(time.begin(), time.end(), t);
    if (it == time.begin()) return before;
    return values[static_cast<std::size_t>(it - time.begin()) - 1];
}

inline std::optional<double> first_at_or_below(const std::vector<double>& time, const std::vector<double>& curve, double q) {
    for (std::size_t j = 0; j < curve.size(); ++j)
        if (curve[j] <= q) return time[j];
    return std::nullopt;
}

}  // namespace detail::survival_impl

// The deprecated `level` is read here, and only here.
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#endif
FUNNELKIT_INLINE double kaplan_meier_options::confidence_level() const noexcept {
    return std::isnan(level) ? confidence : level;
}
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

FUNNELKIT_INLINE std::int64_t kaplan_meier_result::count() const noexcept { return at_risk.empty() ? 0 : at_risk.front(); }

FUNNELKIT_INLINE std::int64_t kaplan_meier_result::event_count() const noexcept {
    return std::accumulate(events.begin(), events.end(), std::int64_t{0});
}

FUNNELKIT_INLINE double kaplan_meier_result::survival_at(double t) const {
    return detail::survival_impl::step_at(time, survival, 1.0, t);
}

FUNNELKIT_INLINE double kaplan_meier_result::lower_at(double t) const {
    return detail::survival_impl::step_at(time, lower, 1.0, t);
}

FUNNELKIT_INLINE double kaplan_meier_result::upper_at(double t) const {
    return detail::survival_impl::step_at(time, upper, 1.0, t);
}

FUNNELKIT_INLINE std::optional<double> kaplan_meier_result::percentile(double q) const {
    using namespace detail::survival_impl;
    if (!(q > 0.0 && q < 1.0)) detail::throw_option("q", detail::to_text(q), "must lie strictly between 0 and 1");
    return first_at_or_below(time, survival, q);
}

FUNNELKIT_INLINE kaplan_meier_result kaplan_meier(std::span<const double> duration, std::span<const std::uint8_t> observed,
                                                  const kaplan_meier_options& options) {
    using namespace detail::survival_impl;
    const double confidence = options.confidence_level();
    if (!(confidence > 0.0 && confidence < 1.0))
        detail::throw_option("confidence", detail::to_text(confidence), "must lie strictly between 0 and 1");
    if (!observed.empty() && observed.size() != duration.size())
        detail::throw_length("observed", observed.size(), "duration", duration.size());
    check_size(duration.size());
    check_durations(duration);
    for (std::size_t i = 0; i < observed.size(); ++i)
        if (observed[i] > 1)
            detail::throw_at_row("observed", i, std::to_string(observed[i]), "must be 0 (censored) or 1 (event)");

    kaplan_meier_result r;
    r.confidence = r.level = confidence;
    const auto rows = sorted_pairs(duration, [&](std::size_t i) { return observed.empty() ? 1 : observed[i]; });
    const std::size_t n = rows.size();
    const double z = -normal_quantile((1.0 - confidence) / 2.0);
    std::int64_t remaining = static_cast<std::int64_t>(n);
    double s = 1.0, greenwood = 0.0;
    for (std::size_t i = 0; i < n;) {
        const double t = rows[i].t;
        std::int64_t d = 0, c = 0;
        for (; i < n && rows[i].t == t; ++i) {
            if (rows[i].flag != 0) ++d; else ++c;
        }
        const auto nd = static_cast<double>(remaining), dd = static_cast<double>(d);
        if (d > 0) {
            s = d == remaining ? 0.0 : s * (1.0 - dd / nd);
            if (remaining > d) greenwood += dd / (nd * (nd - dd));
        }
        r.time.push_back(t);
        r.at_risk.push_back(remaining);
        r.events.push_back(d);
        r.censored.push_back(c);
        r.survival.push_back(s);
        if (s >= 1.0) {
            r.lower.push_back(1.0);
            r.upper.push_back(1.0);
        } else if (s <= 0.0) {
            r.lower.push_back(0.0);
            r.upper.push_back(0.0);
        } else {
            const double log_s = std::log(s);  // < 0
            const double k = z * std::sqrt(greenwood) / -log_s;
            r.lower.push_back(std::pow(s, std::exp(k)));
            r.upper.push_back(std::pow(s, std::exp(-k)));
        }
        remaining -= d + c;
    }
    r.median = first_at_or_below(r.time, r.survival, 0.5);
    r.median_lower = first_at_or_below(r.time, r.lower, 0.5);
    r.median_upper = first_at_or_below(r.time, r.upper, 0.5);
    return r;
}

namespace detail::survival_impl {

// Outcome k's column of a time-major [j * K + (k - 1)] curve, as a step function (0 before the
// first time).
inline double outcome_step_at(const cumulative_incidence_result& r, const std::vector<double>& curve,
                              std::int32_t outcome, double t) {
    if (outcome < 1 || outcome > r.n_outcomes)
        detail::throw_option("outcome", std::to_string(outcome),
                             "is not an outcome of this estimate (expected 1.." + std::to_string(r.n_outcomes) + ")");
    if (std::isnan(t)) detail::throw_option("t", "NaN", "is not a time");
    if (curve.size() != r.time.size() * static_cast<std::size_t>(r.n_outcomes))
        detail::throw_option("band", std::to_string(curve.size()) + " values", "do not fit the curve's times");
    const auto it = std::upper_bound(r.time.begin(), r.time.end(), t);
    if (it == r.time.begin()) return 0.0;
    const auto j = static_cast<std::size_t>(it - r.time.begin()) - 1;
    return curve[j * static_cast<std::size_t>(r.n_outcomes) + static_cast<std::size_t>(outcome - 1)];
}

// The pointwise log(-log) band of an incidence F with variance v at one time (see survival.hpp).
inline std::pair<double, double> incidence_band(double f, double v, double z) {
    if (f <= 0.0) return {0.0, 0.0};
    if (f >= 1.0) return {1.0, 1.0};
    const double log_f = std::log(f);  // < 0
    const double k = z * std::sqrt(std::max(v, 0.0)) / (f * -log_f);
    return {std::pow(f, std::exp(k)), std::pow(f, std::exp(-k))};
}

}  // namespace detail::survival_impl

FUNNELKIT_INLINE double cumulative_incidence_result::incidence_at(std::int32_t outcome, double t) const {
    return detail::survival_impl::outcome_step_at(*this, incidence, outcome, t);
}

FUNNELKIT_INLINE double cumulative_incidence_result::lower_at(std::int32_t outcome, double t) const {
    return detail::survival_impl::outcome_step_at(*this, lower, outcome, t);
}

FUNNELKIT_INLINE double cumulative_incidence_result::upper_at(std::int32_t outcome, double t) const {
    return detail::survival_impl::outcome_step_at(*this, upper, outcome, t);
}

FUNNELKIT_INLINE double cumulative_incidence_result::final_incidence(std::int32_t outcome) const {
    return incidence_at(outcome, time.empty() ? 0.0 : time.back());
}

FUNNELKIT_INLINE cumulative_incidence_result aalen_johansen(std::span<const double> duration, std::span<const std::int32_t> outcome,
                                                            const aalen_johansen_options& options) {
    using namespace detail::survival_impl;
    constexpr std::int32_t max_outcomes = 1024;
    if (options.n_outcomes < 0 || options.n_outcomes > max_outcomes)
        detail::throw_option("n_outcomes", std::to_string(options.n_outcomes), "must lie in 0..1024");
    if (!(options.confidence > 0.0 && options.confidence < 1.0))
        detail::throw_option("confidence", detail::to_text(options.confidence), "must lie strictly between 0 and 1");
    if (outcome.size() != duration.size()) detail::throw_length("outcome", outcome.size(), "duration", duration.size());
    check_size(duration.size());
    check_durations(duration);
    std::int32_t k_max = options.n_outcomes;
    for (std::size_t i = 0; i < outcome.size(); ++i) {
        if (outcome[i] < 0 || outcome[i] > max_outcomes)
            detail::throw_at_row("outcome", i, std::to_string(outcome[i]),
                                 "is not an outcome code (expected 0 for censored or 1..1024)");
        k_max = std::max(k_max, outcome[i]);
    }
    cumulative_incidence_result r;
    r.n_outcomes = k_max;
    const auto K = static_cast<std::size_t>(k_max);
    const auto rows = sorted_pairs(duration, [&](std::size_t i) { return outcome[i]; });
    const std::size_t n = rows.size();
    r.confidence = options.confidence;
    const double z = -normal_quantile((1.0 - options.confidence) / 2.0);
    std::vector<std::int64_t> d(K);
    std::vector<double> f(K, 0.0);
    // Running sums of the variance (survival.hpp), per outcome, expanded in powers of F_k(t):
    // sum w_i (F - F_i)^2 = F^2 sw - 2 F swf + swff with w_i = d_i / (n_i (n_i - d_i)), and
    // sum b_i (F - F_i) = F sb - sbf with b_i = S(t_{i-1}) d_{k,i} / n_i^2.
    std::vector<double> swf(K, 0.0), swff(K, 0.0), sb(K, 0.0), sbf(K, 0.0), middle(K, 0.0);
    double sw = 0.0;
    std::int64_t remaining = static_cast<std::int64_t>(n);
    double s = 1.0;
    for (std::size_t i = 0; i < n;) {
        const double t = rows[i].t;
        std::fill(d.begin(), d.end(), 0);
        std::int64_t c = 0, d_all = 0;
        for (; i < n && rows[i].t == t; ++i) {
            const std::int32_t o = rows[i].flag;
            if (o == 0) {
                ++c;
            } else {
                ++d[static_cast<std::size_t>(o - 1)];
                ++d_all;
            }
        }
        const auto nd = static_cast<double>(remaining);
        const double w = d_all > 0 && d_all < remaining
                             ? static_cast<double>(d_all) / (nd * (nd - static_cast<double>(d_all))) : 0.0;
        sw += w;
        // F_k gains S(t-) * d_k / n; S then drops by the same total.
        for (std::size_t k = 0; k < K; ++k) {
            const auto dk = static_cast<double>(d[k]);
            f[k] += s * dk / nd;
            swf[k] += w * f[k];
            swff[k] += w * f[k] * f[k];
            middle[k] += s * s * dk * (nd - dk) / (nd * nd * nd);
            const double b = s * dk / (nd * nd);
            sb[k] += b;
            sbf[k] += b * f[k];
            const double v = std::max(0.0, f[k] * f[k] * sw - 2.0 * f[k] * swf[k] + swff[k] + middle[k] -
                                               2.0 * (f[k] * sb[k] - sbf[k]));
            const auto [lo, hi] = incidence_band(f[k], v, z);
            r.variance.push_back(v);
            r.lower.push_back(lo);
            r.upper.push_back(hi);
        }
        if (d_all > 0) s = d_all == remaining ? 0.0 : s * (1.0 - static_cast<double>(d_all) / nd);
        r.time.push_back(t);
        r.at_risk.push_back(remaining);
        r.censored.push_back(c);
        r.events.insert(r.events.end(), d.begin(), d.end());
        r.incidence.insert(r.incidence.end(), f.begin(), f.end());
        r.survival.push_back(s);
        remaining -= d_all + c;
    }
    return r;
}

// ---- lookups of many times ------------------------------------------------------------------

FUNNELKIT_INLINE void kaplan_meier_result::survival_at(std::span<const double> t, std::span<double> out) const {
    if (out.size() != t.size()) detail::throw_length("out", out.size(), "t", t.size());
    for (std::size_t i = 0; i < t.size(); ++i) out[i] = survival_at(t[i]);
}

FUNNELKIT_INLINE void kaplan_meier_result::lower_at(std::span<const double> t, std::span<double> out) const {
    if (out.size() != t.size()) detail::throw_length("out", out.size(), "t", t.size());
    for (std::size_t i = 0; i < t.size(); ++i) out[i] = lower_at(t[i]);
}

FUNNELKIT_INLINE void kaplan_meier_result::upper_at(std::span<const double> t, std::span<double> out) const {
    if (out.size() != t.size()) detail::throw_length("out", out.size(), "t", t.size());
    for (std::size_t i = 0; i < t.size(); ++i) out[i] = upper_at(t[i]);
}

FUNNELKIT_INLINE void cumulative_incidence_result::incidence_at(std::int32_t outcome, std::span<const double> t,
                                                                std::span<double> out) const {
    if (out.size() != t.size()) detail::throw_length("out", out.size(), "t", t.size());
    for (std::size_t i = 0; i < t.size(); ++i) out[i] = incidence_at(outcome, t[i]);
}

FUNNELKIT_INLINE void cumulative_incidence_result::lower_at(std::int32_t outcome, std::span<const double> t,
                                                            std::span<double> out) const {
    if (out.size() != t.size()) detail::throw_length("out", out.size(), "t", t.size());
    for (std::size_t i = 0; i < t.size(); ++i) out[i] = lower_at(outcome, t[i]);
}

FUNNELKIT_INLINE void cumulative_incidence_result::upper_at(std::int32_t outcome, std::span<const double> t,
                                                            std::span<double> out) const {
    if (out.size() != t.size()) detail::throw_length("out", out.size(), "t", t.size());
    for (std::size_t i = 0; i < t.size(); ++i) out[i] = upper_at(outcome, t[i]);
}

FUNNELKIT_INLINE double cumulative_incidence_result::survival_at(double t) const {
    return detail::survival_impl::step_at(time, survival, 1.0, t);
}

FUNNELKIT_INLINE void cumulative_incidence_result::survival_at(std::span<const double> t, std::span<double> out) const {
    if (out.size() != t.size()) detail::throw_length("out", out.size(), "t", t.size());
    for (std::size_t i = 0; i < t.size(); ++i) out[i] = survival_at(t[i]);
}

FUNNELKIT_END_NAMESPACE
