// Definitions for funnelkit/campaign.hpp; config.hpp explains the compiled and header-only modes.
#pragma once

#include "funnelkit/campaign.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <numbers>
#include <string>


#include "funnelkit/detail/entity_index.hpp"
#include "funnelkit/detail/stage_mask.hpp"
#include "funnelkit/detail/time_math.hpp"
#include "funnelkit/error.hpp"
#include "funnelkit/rates.hpp"
#include "funnelkit/velocity.hpp"

FUNNELKIT_BEGIN_NAMESPACE

namespace detail::campaign_impl {

struct entity_state {
    std::uint64_t mask = 0;
    std::int64_t first_time = std::numeric_limits<std::int64_t>::max();
    std::int64_t won_time = std::numeric_limits<std::int64_t>::max();
    std::int64_t last_won_time = std::numeric_limits<std::int64_t>::min();
    double won_amount = 0.0;
    std::int32_t segment = std::numeric_limits<std::int32_t>::max();
    bool won = false, lost = false;
};

struct segment_sums {
    std::int64_t leads = 0, mqls = 0, sqls = 0, opps = 0, won = 0, lost = 0;
    double revenue = 0.0, days_to_win = 0.0;
};


inline std::optional<double> ratio(double a, double b) {
    if (b == 0.0) return std::nullopt;
    return a / b;
}

inline rate_estimate wilson(std::int64_t x, std::int64_t n, double level) {
    rate_estimate r{x, n, std::nullopt, std::nullopt, std::nullopt};
    // With skipped_stages::not_implied a step rate can exceed 1 (entities skip the stage
    // before): the rate is reported, but it is no proportion and has no interval.
    if (x > n) {
        r.rate = static_cast<double>(x) / static_cast<double>(n);
        return r;
    }
    if (const auto b = rate_interval(x, n, level, interval_method::wilson)) {
        r.rate = b->estimate;
        r.lower = b->lower;
        r.upper = b->upper;
    }
    return r;
}

inline void fill_row(campaign_row& row, const segment_sums& s, std::optional<double> cost, double level) {
    row.leads = s.leads;
    row.mqls = s.mqls;
    row.sqls = s.sqls;
    row.opportunities = s.opps;
    row.won = s.won;
    row.lost = s.lost;
    row.revenue = s.revenue;
    row.cost = cost;
    if (cost) {
        row.cost_per_lead = ratio(*cost, static_cast<double>(s.leads));
        row.cost_per_mql = ratio(*cost, static_cast<double>(s.mqls));
        row.cac = ratio(*cost, static_cast<double>(s.won));
        if (*cost > 0) row.roi = (s.revenue - *cost) / *cost;
    }
    row.lead_to_mql = wilson(s.mqls, s.leads, level);
    row.mql_to_sql = wilson(s.sqls, s.mqls, level);
    row.sql_to_opportunity = wilson(s.opps, s.sqls, level);
    row.opportunity_to_won = wilson(s.won, s.opps, level);
    row.lead_to_won = wilson(s.won, s.leads, level);
    if (s.won > 0) {
        row.days_to_win = s.days_to_win / static_cast<double>(s.won);
        row.average_deal = s.revenue / static_cast<double>(s.won);
    }
    row.win_rate = ratio(static_cast<double>(s.won), static_cast<double>(s.won + s.lost));
    if (row.days_to_win && *row.days_to_win > 0 && row.win_rate)
        row.velocity = velocity_formula(static_cast<double>(s.opps), *row.average_deal, *row.win_rate, *row.days_to_win);
}

}  // namespace detail::campaign_impl

FUNNELKIT_INLINE campaign_report_result campaign_report(const stage_model& model, const stage_records& records,
                                                        const campaign_options& op) {
    using namespace detail::campaign_impl;
    const std::int32_t n_seg_data = records.validate(model);
    if (!records.has_segment() && records.size() > 0)
        detail::throw_option("segment", "none", "a segment column (source or campaign) is required");
    if (!(op.level > 0.0 && op.level < 1.0)) detail::throw_option("level", detail::to_text(op.level), "must be in (0, 1)");
    if (!(op.seconds_per_day > 0.0) || std::isinf(op.seconds_per_day))
        detail::throw_option("seconds_per_day", detail::to_text(op.seconds_per_day), "must be finite and > 0");
    for (std::size_t i = 0; i < op.cost.size(); ++i)
        if (op.cost[i] < 0.0 || std::isinf(op.cost[i]))
            detail::throw_at_row("cost", i, detail::to_text(op.cost[i]), "is not a cost >= 0 (NaN marks a missing cost)");
    auto ladder_rank = [&](const std::string& name, std::string_view option) {
        const std::int32_t code = model.code_of(name);
        const std::int32_t r = model.rank(code);
        if (r < 0) detail::throw_option(option, name, "is not a ladder stage");
        return r;
    };
    const std::int32_t r_mql = ladder_rank(op.mql_stage, "mql_stage");
    const std::int32_t r_sql = ladder_rank(op.sql_stage, "sql_stage");
    const std::int32_t r_opp = ladder_rank(op.opportunity_stage, "opportunity_stage");
    const std::int32_t won_code = model.won().value_or(-1);

    const std::size_t n = records.size();
    const auto* ent = records.entity.data();
    const auto* tim = records.time.data();
    const auto* stg = records.stage.data();
    const auto* seg = records.segment.data();
    const bool has_amount = !records.amount.empty();
    auto observe = [&](entity_state& e, std::size_t i) {
        const std::int32_t s = stg[i];
        const std::int32_t r = model.rank(s);
        if (r >= 0) e.mask |= std::uint64_t{1} << r;
        const std::int64_t t = tim[i];
        if (t < e.first_time || (t == e.first_time && seg[i] < e.segment)) e.first_time = t, e.segment = seg[i];
        if (s == won_code) {
            e.won = true;
            e.won_time = std::min(e.won_time, t);
            if (t >= e.last_won_time) {
                e.last_won_time = t;
                e.won_amount = has_amount ? records.amount[i] : 0.0;
            }
        } else if (model.at(s).kind == stage_kind::lost) {
            e.lost = true;
        }
    };

    const std::size_t n_segments = std::max(static_cast<std::size_t>(n_seg_data), op.cost.size());
    std::vector<segment_sums> sums(n_segments);
    const double day = op.seconds_per_day;
    auto emit = [&](const entity_state& e) {
        segment_sums& s = sums[static_cast<std::size_t>(e.segment)];
        const std::uint64_t m = op.skipped == skipped_stages::implied ? detail::close_downwards(e.mask) : e.mask;
        s.leads += 1;
        s.mqls += (m >> r_mql) & 1;
        s.sqls += (m >> r_sql) & 1;
        s.opps += (m >> r_opp) & 1;
        if (e.won) {
            s.won += 1;
            s.revenue += e.won_amount;
            s.days_to_win += detail::elapsed(e.first_time, e.won_time) / day;
        } else if (e.lost) {
            s.lost += 1;
        }
    };
    if (std::is_sorted(ent, ent + n)) {
        for (std::size_t i = 0; i < n;) {
            entity_state e;
            const std::int64_t id = ent[i];
            for (; i < n && ent[i] == id; ++i) observe(e, i);
            emit(e);
        }
    } else {
        detail::entity_index index(n / 4);
        std::vector<entity_state> states;
        for (std::size_t i = 0; i < n; ++i) {
            const std::uint32_t k = index.insert(ent[i]);
            if (k == states.size()) states.emplace_back();
            observe(states[k], i);
        }
        for (const auto& e : states) emit(e);
    }

    campaign_report_result out;
    out.rows.resize(n_segments);
    segment_sums total;
    double known_cost = 0.0;
    bool any_missing = false;
    for (std::size_t g = 0; g < n_segments; ++g) {
        const segment_sums& s = sums[g];
        total.leads += s.leads, total.mqls += s.mqls, total.sqls += s.sqls, total.opps += s.opps;
        total.won += s.won, total.lost += s.lost, total.revenue += s.revenue, total.days_to_win += s.days_to_win;
        std::optional<double> cost;
        if (g < op.cost.size() && !std::isnan(op.cost[g])) cost = op.cost[g];
        campaign_row& row = out.rows[g];
        row.segment = static_cast<std::int32_t>(g);
        fill_row(row, s, cost, op.level);
        if (cost) {
            known_cost += *cost;
        } else {
            row.cost_missing = true;
            if (s.leads > 0) {
                any_missing = true;
                out.missing_cost.push_back(row.segment);
            }
        }
    }
    const bool any_cost = !op.cost.empty();
    fill_row(out.total, total, any_cost && !any_missing ? std::optional<double>(known_cost) : std::nullopt, op.level);
    if (any_cost && any_missing) out.total.cost = known_cost;
    out.total.cost_missing = !any_cost || any_missing;

    // Two-proportion z-tests of lead->won, each segment (B) against the rest (A), so z > 0
    // when the segment converts better; then Holm.
    std::vector<double> p_values;
    std::vector<std::size_t> tested;
    for (std::size_t g = 0; g < n_segments; ++g) {
        const auto t = two_proportion_ztest(total.won - sums[g].won, total.leads - sums[g].leads, sums[g].won,
                                            sums[g].leads);
        if (!t) continue;
        out.rows[g].z = t->statistic;
        out.rows[g].p_value = t->p_value;
        p_values.push_back(t->p_value);
        tested.push_back(g);
    }
    const auto holm = adjust_p_values(p_values, p_adjust::holm);
    for (std::size_t k = 0; k < tested.size(); ++k) out.rows[tested[k]].p_holm = holm[k];
    return out;
}

FUNNELKIT_END_NAMESPACE
