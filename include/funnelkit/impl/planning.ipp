// Definitions for funnelkit/planning.hpp; config.hpp explains the compiled and header-only modes.
#pragma once

#include "funnelkit/planning.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include <Eigen/Dense>

#include "funnelkit/detail/time_math.hpp"
#include "funnelkit/error.hpp"

FUNNELKIT_BEGIN_NAMESPACE

namespace detail::planning_impl {

inline std::string num(double v) { return detail::to_display(v); }

inline void check_nonneg(std::string_view what, double v) {
    if (!(std::isfinite(v) && v >= 0)) detail::throw_option(what, detail::to_text(v), "must be finite and >= 0");
}
inline void check_pos(std::string_view what, double v) {
    if (!(std::isfinite(v) && v > 0)) detail::throw_option(what, detail::to_text(v), "must be finite and > 0");
}
inline void check_tolerance(double t) {
    if (!(t >= 0 && t < 0.5)) detail::throw_option("tolerance", detail::to_text(t), "must be in [0, 0.5)");
}

}  // namespace detail::planning_impl

FUNNELKIT_INLINE double ceil_whole(double x, double tolerance) {
    using namespace detail::planning_impl;
    if (!std::isfinite(x)) detail::throw_option("value", detail::to_text(x), "must be finite to round to a whole number");
    check_tolerance(tolerance);
    const double r = std::nearbyint(x);
    if (std::fabs(x - r) <= tolerance * std::max(1.0, std::fabs(x))) return r;
    return std::ceil(x);
}

FUNNELKIT_INLINE reverse_funnel_plan plan_reverse_funnel(const reverse_funnel_options& o) {
    using namespace detail::planning_impl;
    check_nonneg("goal", o.goal);
    check_pos("deal_value", o.deal_value);
    check_tolerance(o.tolerance);
    if (o.periods < 1) detail::throw_option("periods", std::to_string(o.periods), "must be >= 1");
    if (o.reps < 1) detail::throw_option("reps", std::to_string(o.reps), "must be >= 1");
    if (static_cast<unsigned>(o.rounding) > 2u)
        detail::throw_option("rounding", std::to_string(static_cast<int>(o.rounding)), "is not a plan_rounding");
    for (std::size_t k = 0; k < o.steps.size(); ++k) {
        const double r = o.steps[k].rate;
        if (!(r > 0 && r <= 1))
            detail::throw_at_row("rate", k, detail::to_text(r),
                                 "of stage '" + o.steps[k].name + "' must be in (0, 1]" +
                                     (r == 0 ? " (a rate of 0 would need an infinite volume)" : ""));
    }
    reverse_funnel_plan plan;
    plan.options = o;
    plan.total_goal = o.basis == goal_basis::total ? o.goal : o.goal * o.periods;
    const double exact_deals = plan.total_goal / o.deal_value;
    if (!std::isfinite(exact_deals)) detail::throw_option("goal", detail::to_text(o.goal), "gives an unbounded number of deals");
    const double deals = ceil_whole(exact_deals, o.tolerance);
    const std::size_t K = o.steps.size();
    plan.rows.resize(K + 1);
    const double per = static_cast<double>(o.periods);
    const double per_rep = per * static_cast<double>(o.reps);
    const bool once = o.rounding == plan_rounding::round_once;
    auto fill = [&](plan_row& row, double exact, double volume) {
        row.exact = exact;
        row.volume = volume;
        // round_once divides the unrounded volume: each figure is rounded a single time.
        const double base = once ? exact : volume;
        row.per_period = ceil_whole(base / per, o.tolerance);
        row.per_rep_per_period = ceil_whole(base / per_rep, o.tolerance);
    };
    plan_row& won = plan.rows[K];
    won.name = o.won_name;
    won.rate_to_won = 1.0;
    fill(won, exact_deals, deals);
    double prod = 1.0;
    double below = deals;  // chained: whole volume of the stage below
    for (std::size_t k = K; k-- > 0;) {
        plan_row& row = plan.rows[k];
        row.name = o.steps[k].name;
        row.rate = o.steps[k].rate;
        prod *= o.steps[k].rate;
        row.rate_to_won = prod;
        const double exact = exact_deals / prod;
        const double raw = o.rounding == plan_rounding::deals_first ? deals / prod
                           : o.rounding == plan_rounding::chained   ? below / o.steps[k].rate
                                                                     : exact;
        if (!std::isfinite(raw) || !std::isfinite(exact))
            detail::throw_at_row("rate", k, detail::to_text(o.steps[k].rate), "gives an unbounded volume");
        const double volume = ceil_whole(raw, o.tolerance);
        fill(row, exact, volume);
        below = volume;
    }
    return plan;
}

FUNNELKIT_INLINE explanation reverse_funnel_plan::explain() const {
    using namespace detail::planning_impl;
    explanation e;
    e.metric = "reverse funnel plan";
    e.formula = options.rounding == plan_rounding::deals_first
                    ? "deals = ceil(G / A); volume(k) = ceil(deals / prod(rates k..won)); per rep = ceil(volume / (periods * reps))"
                : options.rounding == plan_rounding::chained
                    ? "deals = ceil(G / A); volume(k) = ceil(volume(k+1) / rate(k)); per rep = ceil(volume / (periods * reps))"
                    : "volume(k) = ceil((G / A) / prod(rates k..won)), rounded once from the unrounded goal; per rep = "
                      "ceil((G / A) / prod(rates k..won) / (periods * reps))";
    e.inputs = {{"goal", total_goal}, {"deal_value", options.deal_value}};
    for (const auto& s : options.steps) e.inputs.emplace_back("rate " + s.name, s.rate);
    for (const auto& r : rows) e.inputs.emplace_back("volume " + r.name, r.volume);
    e.options = {{"goal_basis", options.basis == goal_basis::total ? "total" : "per_period"},
                 {"periods", options.periods},
                 {"reps", options.reps},
                 {"rounding", options.rounding == plan_rounding::deals_first ? "deals_first"
                              : options.rounding == plan_rounding::chained ? "chained"
                                                                           : "round_once"},
                 {"tolerance", options.tolerance}};
    e.note = "ceil treats a value within tolerance * max(1, |x|) of an integer as that integer";
    return e;
}

FUNNELKIT_INLINE std::vector<funnel_step> steps_from_conversion(const stage_model& model, const conversion_counts& counts,
                                                                std::int32_t segment) {
    const auto ladder = model.ladder();
    if (counts.n_stages() != ladder.size())
        detail::throw_option("counts", std::to_string(counts.n_stages()),
                             "stages do not match the model's " + std::to_string(ladder.size()) + " ladder stages");
    std::vector<funnel_step> steps;
    for (std::size_t k = 0; k + 1 < ladder.size(); ++k) {
        const auto r = counts.step_rate(k + 1, segment);
        const std::string& name = model.at(ladder[k]).name;
        if (!r) detail::throw_option("counts", name, "has no entities: the rate to the next stage is undefined");
        steps.push_back({name, *r});
    }
    return steps;
}

FUNNELKIT_INLINE capacity_result reps_needed(double volume, double capacity, capacity_unit unit, double tolerance) {
    using namespace detail::planning_impl;
    check_nonneg("volume_per_month", volume);
    check_pos("capacity", capacity);
    if (static_cast<unsigned>(unit) > 1u) detail::throw_option("unit", std::to_string(static_cast<int>(unit)), "is not a capacity_unit");
    capacity_result r;
    r.volume_per_month = volume;
    r.capacity = capacity;
    r.unit = unit;
    r.capacity_per_month = unit == capacity_unit::per_week ? capacity * 52.0 / 12.0 : capacity;
    r.exact_reps = volume / r.capacity_per_month;
    r.reps = ceil_whole(r.exact_reps, tolerance);
    return r;
}

FUNNELKIT_INLINE explanation capacity_result::explain() const {
    using namespace detail::planning_impl;
    explanation e;
    e.metric = "reps needed";
    e.formula = unit == capacity_unit::per_week ? "reps = ceil(volume per month / (capacity per week * 52 / 12))"
                                                : "reps = ceil(volume per month / capacity per month)";
    e.inputs = {{"volume_per_month", volume_per_month}, {"capacity", capacity},
                {"capacity_per_month", capacity_per_month}, {"exact_reps", exact_reps}, {"reps", reps}};
    e.options = {{"unit", unit == capacity_unit::per_week ? "per_week" : "per_month"}};
    return e;
}

FUNNELKIT_INLINE std::vector<goal_split_row> split_goal(double goal, std::span<const goal_share> shares) {
    using namespace detail::planning_impl;
    check_nonneg("goal", goal);
    double sum = 0;
    for (std::size_t i = 0; i < shares.size(); ++i) {
        const double s = shares[i].share;
        if (!(s >= 0 && s <= 1)) detail::throw_at_row("share", i, detail::to_text(s), "must be in [0, 1]");
        sum += s;
    }
    if (std::fabs(sum - 1.0) > 1e-9) detail::throw_option("shares", detail::to_text(sum), "must sum to 1");
    std::vector<goal_split_row> out;
    for (const auto& s : shares) out.push_back({s.name, s.share, goal * s.share});
    return out;
}

// ---- lags -------------------------------------------------------------------------------

FUNNELKIT_INLINE std::vector<lag_distribution> estimate_lags(const lag_records& rec, const lag_options& o) {
    const std::size_t n = rec.size();
    if (rec.won.size() != n) detail::throw_length("won", rec.won.size(), "created", n);
    if (!rec.segment.empty() && rec.segment.size() != n) detail::throw_length("segment", rec.segment.size(), "created", n);
    if (!rec.amount.empty() && rec.amount.size() != n) detail::throw_length("amount", rec.amount.size(), "created", n);
    if (o.period <= 0) detail::throw_option("period", std::to_string(o.period), "must be > 0");
    if (o.max_lag < 0 || o.max_lag > 1200) detail::throw_option("max_lag", std::to_string(o.max_lag), "must be in 0..1200");
    std::int32_t max_seg = -1;
    for (std::size_t i = 0; i < n; ++i) {
        if (rec.created[i] == missing_time) detail::throw_at_row("created", i, "missing", "(every lead needs a time)");
        if (rec.won[i] != missing_time && rec.won[i] < rec.created[i])
            detail::throw_at_row("won", i, std::to_string(rec.won[i]), "is before the lead time " + std::to_string(rec.created[i]));
        if (!rec.segment.empty()) {
            if (rec.segment[i] < 0) detail::throw_at_row("segment", i, std::to_string(rec.segment[i]), "must be >= 0");
            max_seg = std::max(max_seg, rec.segment[i]);
        }
        if (!rec.amount.empty() && !(std::isfinite(rec.amount[i]) && rec.amount[i] >= 0))
            detail::throw_at_row("amount", i, detail::to_text(rec.amount[i]), "must be finite and >= 0");
    }
    const std::size_t rows = static_cast<std::size_t>(max_seg + 1) + 1;
    const std::size_t K = static_cast<std::size_t>(o.max_lag) + 1;
    std::vector<lag_distribution> out(rows);
    std::vector<std::vector<std::int64_t>> counts(rows, std::vector<std::int64_t>(K, 0));
    std::vector<double> amount_sum(rows, 0.0);
    // Mature: created + (max_lag + 1) * period <= data_end, i.e. K <= floor((data_end - created)
    // / period), in exact integers (the difference fits uint64 whenever data_end >= created).
    const auto period = static_cast<std::uint64_t>(o.period);
    for (std::size_t i = 0; i < n; ++i) {
        if (o.data_end < rec.created[i] || detail::elapsed_ticks(rec.created[i], o.data_end) / period < K) continue;
        const std::size_t r = rec.segment.empty() ? 0 : static_cast<std::size_t>(rec.segment[i]) + 1;
        auto add = [&](std::size_t row) {
            out[row].leads += 1;
            if (rec.won[i] == missing_time) return;
            // won >= created: the lag in whole periods, in exact integers whatever the magnitude.
            const std::uint64_t lag = detail::elapsed_ticks(rec.created[i], rec.won[i]) / period;
            const std::int64_t k = lag > static_cast<std::uint64_t>(o.max_lag) ? std::int64_t{o.max_lag} + 1 : static_cast<std::int64_t>(lag);
            if (k > o.max_lag) {
                out[row].beyond += 1;
                return;
            }
            out[row].wins += 1;
            counts[row][static_cast<std::size_t>(k)] += 1;
            if (!rec.amount.empty()) amount_sum[row] += rec.amount[i];
        };
        add(0);
        if (r != 0) add(r);
    }
    for (std::size_t r = 0; r < rows; ++r) {
        lag_distribution& d = out[r];
        d.segment = static_cast<std::int32_t>(r) - 1;
        if (d.leads == 0) {
            d.reason = "no mature lead (created at least max_lag + 1 periods before data_end)";
            continue;
        }
        d.win_rate = static_cast<double>(d.wins) / static_cast<double>(d.leads);
        if (d.wins == 0) {
            d.reason = "no win within max_lag periods: the lag shares are undefined";
            continue;
        }
        d.shares.resize(K);
        for (std::size_t k = 0; k < K; ++k) d.shares[k] = static_cast<double>(counts[r][k]) / static_cast<double>(d.wins);
        if (!rec.amount.empty()) d.deal_value = amount_sum[r] / static_cast<double>(d.wins);
    }
    return out;
}

FUNNELKIT_INLINE explanation lag_distribution::explain() const {
    using namespace detail::planning_impl;
    explanation e;
    e.metric = "lag distribution";
    e.formula = "f_k = wins with floor((won - created) / period) = k / wins within max_lag; p = wins / mature leads";
    e.inputs = {{"segment", segment < 0 ? explanation_value("all") : explanation_value(segment)},
                {"leads", leads},
                {"wins", wins},
                {"beyond", beyond},
                {"win_rate", win_rate}};
    for (std::size_t k = 0; k < shares.size(); ++k) e.inputs.emplace_back("f_" + std::to_string(k), shares[k]);
    e.note = reason;
    return e;
}

FUNNELKIT_INLINE void lag_model::validate() const {
    using namespace detail::planning_impl;
    if (!(win_rate > 0 && win_rate <= 1)) detail::throw_option("win_rate", detail::to_text(win_rate), "must be in (0, 1]");
    check_pos("deal_value", deal_value);
    if (shares.empty()) detail::throw_option("shares", "[]", "must hold at least one lag share");
    double sum = 0;
    for (std::size_t k = 0; k < shares.size(); ++k) {
        if (!(std::isfinite(shares[k]) && shares[k] >= 0))
            detail::throw_at_row("shares", k, detail::to_text(shares[k]), "must be finite and >= 0");
        sum += shares[k];
    }
    if (std::fabs(sum - 1.0) > 1e-9) detail::throw_option("shares", detail::to_text(sum), "must sum to 1 (a lag distribution)");
}

FUNNELKIT_INLINE projection project_forward(const lag_model& m, std::span<const double> leads, std::span<const double> history) {
    m.validate();
    for (std::size_t i = 0; i < leads.size(); ++i)
        if (!(std::isfinite(leads[i]) && leads[i] >= 0)) detail::throw_at_row("leads", i, detail::to_text(leads[i]), "must be finite and >= 0");
    for (std::size_t i = 0; i < history.size(); ++i)
        if (!(std::isfinite(history[i]) && history[i] >= 0)) detail::throw_at_row("history", i, detail::to_text(history[i]), "must be finite and >= 0");
    const std::size_t M = leads.size(), H = history.size(), K = m.shares.size();
    projection p;
    p.wins.assign(M, 0.0);
    p.from_history.assign(M, 0.0);
    for (std::size_t t = 0; t < M; ++t) {
        double w = 0, h = 0;
        for (std::size_t k = 0; k < K; ++k) {
            if (k <= t) w += leads[t - k] * m.shares[k];
            else if (k - t <= H) h += history[H - (k - t)] * m.shares[k];
        }
        p.from_history[t] = m.win_rate * h;
        p.wins[t] = m.win_rate * (w + h);
    }
    p.revenue.resize(M);
    for (std::size_t t = 0; t < M; ++t) p.revenue[t] = p.wins[t] * m.deal_value;
    return p;
}

FUNNELKIT_INLINE explanation projection::explain() const {
    using namespace detail::planning_impl;
    explanation e;
    e.metric = "forward projection";
    e.formula = "wins(m) = p * sum_k leads(m - k) * f_k; revenue(m) = wins(m) * deal_value";
    for (std::size_t t = 0; t < wins.size(); ++t) e.inputs.emplace_back("wins " + std::to_string(t), wins[t]);
    return e;
}

FUNNELKIT_INLINE std::string_view to_string(month_status s) noexcept {
    switch (s) {
        case month_status::met: return "met";
        case month_status::exceeded: return "exceeded";
        case month_status::too_close: return "too_close";
    }
    return "unknown";
}

FUNNELKIT_INLINE lead_plan plan_leads(const lag_model& m, std::span<const double> targets, std::span<const double> history) {
    using namespace detail::planning_impl;
    m.validate();
    for (std::size_t i = 0; i < targets.size(); ++i)
        if (!(std::isfinite(targets[i]) && targets[i] >= 0))
            detail::throw_at_row("revenue_targets", i, detail::to_text(targets[i]), "must be finite and >= 0");
    const std::size_t M = targets.size(), K = m.shares.size();
    // Wins already on the way from the history.
    const std::vector<double> none(M, 0.0);
    const projection hist = project_forward(m, none, history);
    std::size_t d = 0;
    while (m.shares[d] == 0.0) ++d;  // validate() guarantees a positive share
    lead_plan plan;
    plan.first_lag = static_cast<std::int32_t>(d);
    plan.months.resize(M);
    std::vector<double> b(M);
    for (std::size_t t = 0; t < M; ++t) {
        auto& mo = plan.months[t];
        mo.target_revenue = targets[t];
        mo.target_wins = targets[t] / m.deal_value;
        mo.from_history = hist.wins[t];
        b[t] = mo.target_wins - mo.from_history;
    }
    // Unknowns x(0..n-1), n = M - d; equation for month d + i: sum_{j <= i} A(i, j) x(j) = b(d + i)
    // with A(i, j) = p * f(d + i - j), lower triangular with diagonal p * f(d) > 0.
    const std::size_t n = M > d ? M - d : 0;
    std::vector<double> x(M, 0.0);
    if (n > 0) {
        Eigen::MatrixXd A = Eigen::MatrixXd::Zero(static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(n));
        Eigen::VectorXd rhs(static_cast<Eigen::Index>(n));
        for (std::size_t i = 0; i < n; ++i) {
            rhs(static_cast<Eigen::Index>(i)) = b[d + i];
            for (std::size_t j = 0; j <= i; ++j) {
                const std::size_t k = d + i - j;
                if (k < K) A(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) = m.win_rate * m.shares[k];
            }
        }
        Eigen::VectorXd sol = A.triangularView<Eigen::Lower>().solve(rhs);
        if ((sol.array() >= 0).all()) {
            for (std::size_t j = 0; j < n; ++j) x[j] = sol(static_cast<Eigen::Index>(j));
        } else {
            // Non-negative forward substitution: each month meets its target or, when the wins
            // already planned exceed it, gets no new leads.
            for (std::size_t i = 0; i < n; ++i) {
                double s = rhs(static_cast<Eigen::Index>(i));
                for (std::size_t j = 0; j < i; ++j) s -= A(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) * x[j];
                x[i] = std::max(0.0, s / A(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(i)));
            }
        }
    }
    const projection proj = project_forward(m, x, history);
    for (std::size_t t = 0; t < M; ++t) {
        auto& mo = plan.months[t];
        mo.leads = x[t];
        mo.leads_whole = ceil_whole(x[t]);
        mo.projected_wins = proj.wins[t];
        mo.projected_revenue = proj.revenue[t];
        mo.gap = mo.projected_revenue - mo.target_revenue;
        const double tol = 1e-9 * std::max(1.0, mo.target_revenue);
        if (std::fabs(mo.gap) <= tol) {
            mo.status = month_status::met;
        } else if (mo.gap > 0) {
            mo.status = month_status::exceeded;
            mo.reason = "the leads already planned or in flight give more wins than the target";
        } else {
            mo.status = month_status::too_close;
            mo.reason = "too close to now: no lead from month 0 on can close by month " + std::to_string(t) + ": the first lag with a positive share is " +
                        std::to_string(d) + " months; short by " + num(-mo.gap);
            plan.feasible = false;
        }
        if (t >= n && t >= d) {
            // Leads of the last first_lag months close only after the horizon.
            if (!mo.reason.empty()) mo.reason += "; ";
            mo.reason += "leads of this month close after the last planned month";
        }
    }
    return plan;
}

FUNNELKIT_INLINE explanation lead_plan::explain() const {
    using namespace detail::planning_impl;
    explanation e;
    e.metric = "lead plan";
    e.formula = "solve p * sum_k x(m - k) f_k = target(m) / deal_value - from_history(m), x >= 0 (lower-triangular, Eigen)";
    for (std::size_t t = 0; t < months.size(); ++t) {
        e.inputs.emplace_back("target " + std::to_string(t), months[t].target_revenue);
        e.inputs.emplace_back("leads " + std::to_string(t), months[t].leads);
        e.inputs.emplace_back("status " + std::to_string(t), to_string(months[t].status));
    }
    e.options = {{"first_lag", first_lag}};
    e.note = feasible ? "every month meets or exceeds its target" : "some months cannot be reached: too close to now";
    return e;
}

FUNNELKIT_END_NAMESPACE
