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
#include "funnelkit/detail/state_merge.hpp"
#include "funnelkit/detail/stage_mask.hpp"
#include "funnelkit/detail/time_math.hpp"
#include "funnelkit/error.hpp"
#include "funnelkit/grouping.hpp"
#include "funnelkit/rates.hpp"
#include "funnelkit/serialize.hpp"
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

inline constexpr char state_magic[] = "FKCP";
inline constexpr std::uint16_t state_format = 2;
inline constexpr std::string_view merge_what = "cannot merge campaign_state";

// A segment's sums as the report reads them: the revenue rounded once, the days to win
// summed in whole time units and divided once.
struct segment_sums {
    std::int64_t leads = 0, mqls = 0, sqls = 0, opps = 0, won = 0, lost = 0;
    double revenue = 0.0, days_to_win = 0.0;
};

inline segment_sums read_sums(const campaign_segment_sums& s, double day) {
    segment_sums r;
    r.leads = s.leads, r.mqls = s.mqls, r.sqls = s.sqls, r.opps = s.opportunities, r.won = s.won, r.lost = s.lost;
    r.revenue = s.revenue.value();
    r.days_to_win = static_cast<double>(s.ticks_to_win) / day;
    return r;
}

inline std::string int128_text(detail::int128 v) {
    if (v == 0) return "0";
    const bool neg = v < 0;
    detail::uint128 u = neg ? static_cast<detail::uint128>(-(v + 1)) + 1 : static_cast<detail::uint128>(v);
    std::string s;
    for (; u; u /= 10) s.insert(s.begin(), static_cast<char>('0' + static_cast<int>(u % 10)));
    return neg ? "-" + s : s;
}

inline detail::int128 add_ticks(detail::int128 a, detail::int128 b, std::string_view what) {
    detail::int128 r = 0;
    if (__builtin_add_overflow(a, b, &r))
        throw invalid_argument(std::string(what) + ": the time to win overflows 128 bits (" + int128_text(a) + " + " +
                               int128_text(b) + ")");
    return r;
}

inline std::string rank_text(std::int32_t r) { return r < 0 ? "not recorded" : std::to_string(r); }
inline std::string day_text(double d) { return d == 0.0 ? "not recorded" : detail::to_text(d); }
inline std::string skipped_text(std::optional<std::uint8_t> c) {
    return !c ? "not recorded" : (*c == 0 ? "implied" : "not implied");
}

inline campaign_definition join(const campaign_definition& a, const campaign_definition& b, std::string_view what) {
    campaign_definition d;
    d.model_fingerprint = join_recorded(what, "model", a.model_fingerprint, b.model_fingerprint, std::uint64_t{0},
                                        [](std::uint64_t f) { return f == 0 ? std::string("not recorded") : fingerprint_text(f); });
    d.skipped = join_recorded(what, "skipped stages", a.skipped, b.skipped, std::optional<std::uint8_t>{}, skipped_text);
    d.mql_rank = join_recorded(what, "MQL stage rank", a.mql_rank, b.mql_rank, -1, rank_text);
    d.sql_rank = join_recorded(what, "SQL stage rank", a.sql_rank, b.sql_rank, -1, rank_text);
    d.opportunity_rank = join_recorded(what, "opportunity stage rank", a.opportunity_rank, b.opportunity_rank, -1, rank_text);
    d.ticks_per_day = join_recorded(what, "time units per day", a.ticks_per_day, b.ticks_per_day, 0.0, day_text);
    return d;
}

inline void add_into(campaign_segment_sums& a, const campaign_segment_sums& b, std::string_view what) {
    campaign_segment_sums r = a;
    r.leads = add_count(a.leads, b.leads, what);
    r.mqls = add_count(a.mqls, b.mqls, what);
    r.sqls = add_count(a.sqls, b.sqls, what);
    r.opportunities = add_count(a.opportunities, b.opportunities, what);
    r.won = add_count(a.won, b.won, what);
    r.lost = add_count(a.lost, b.lost, what);
    r.revenue.merge(b.revenue, what);
    r.ticks_to_win = add_ticks(a.ticks_to_win, b.ticks_to_win, what);
    a = std::move(r);
}


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

// ---------------------------------------------------------------------------------------------
// campaign_state

FUNNELKIT_INLINE campaign_state::campaign_state(std::size_t segments, const campaign_definition& definition)
    : definition_(definition), sums_(segments) {}

FUNNELKIT_INLINE void campaign_state::add_entity(std::size_t g, bool mql, bool sql, bool opportunity, bool won,
                                                 bool lost, double amount, detail::int128 ticks_to_win) {
    using namespace detail::campaign_impl;
    constexpr std::string_view what = "campaign_state::add_entity";
    if (ticks_to_win < 0) detail::throw_option("ticks_to_win", int128_text(ticks_to_win), "must be >= 0");
    if (won && lost) detail::throw_option("lost", "true", "is not allowed: a won entity is not lost");
    campaign_segment_sums one;
    one.leads = 1, one.mqls = mql, one.sqls = sql, one.opportunities = opportunity, one.won = won, one.lost = lost;
    if (won) {
        one.revenue.add(amount, what);
        one.ticks_to_win = ticks_to_win;
    }
    if (g >= sums_.size()) sums_.resize(g + 1);
    add_into(sums_[g], one, what);
}

FUNNELKIT_INLINE void campaign_state::merge(const campaign_state& other) {
    using namespace detail::campaign_impl;
    const campaign_definition def = join(definition_, other.definition_, merge_what);
    std::vector<campaign_segment_sums> out = sums_;
    if (other.sums_.size() > out.size()) out.resize(other.sums_.size());
    for (std::size_t g = 0; g < other.sums_.size(); ++g) add_into(out[g], other.sums_[g], merge_what);
    definition_ = def;
    sums_ = std::move(out);
}

FUNNELKIT_INLINE void campaign_state::reset() {
    for (auto& s : sums_) s = campaign_segment_sums{};
}

FUNNELKIT_INLINE bool operator==(const campaign_state& a, const campaign_state& b) {
    if (!(a.definition_ == b.definition_)) return false;
    static const campaign_segment_sums empty{};
    const std::size_t n = std::max(a.sums_.size(), b.sums_.size());
    for (std::size_t g = 0; g < n; ++g) {
        const auto& x = g < a.sums_.size() ? a.sums_[g] : empty;
        const auto& y = g < b.sums_.size() ? b.sums_[g] : empty;
        if (!(x == y)) return false;
    }
    return true;
}

FUNNELKIT_INLINE std::vector<std::byte> campaign_state::serialize() const {
    using namespace detail::campaign_impl;
    detail::byte_writer w(state_magic, state_format);
    w.put(static_cast<std::uint64_t>(sums_.size()));
    w.put(definition_.model_fingerprint);
    w.put_code(definition_.skipped);
    w.put(definition_.mql_rank);
    w.put(definition_.sql_rank);
    w.put(definition_.opportunity_rank);
    w.put(definition_.ticks_per_day);
    for (const auto& s : sums_) {
        for (std::int64_t c : {s.leads, s.mqls, s.sqls, s.opportunities, s.won, s.lost}) w.put(c);
        w.put(s.revenue.parts());
        const auto u = static_cast<detail::uint128>(s.ticks_to_win);
        w.put(static_cast<std::uint64_t>(u >> 64));
        w.put(static_cast<std::uint64_t>(u));
    }
    return std::move(w).finish();
}

FUNNELKIT_INLINE campaign_state campaign_state::deserialize(const void* data, std::size_t size) {
    using namespace detail::campaign_impl;
    detail::byte_reader r(data, size, state_magic, "campaign_state");
    r.accept_versions(state_format, state_format);
    const auto n = r.get<std::uint64_t>();
    // A segment takes at least 6 * 8 + 8 + 16 bytes.
    if (n > size / 72) r.fail("segment count " + std::to_string(n) + " exceeds the blob");
    campaign_state st;
    st.definition_.model_fingerprint = r.get<std::uint64_t>();
    st.definition_.skipped = r.get_code(1, "skipped stages");
    st.definition_.mql_rank = r.get<std::int32_t>();
    st.definition_.sql_rank = r.get<std::int32_t>();
    st.definition_.opportunity_rank = r.get<std::int32_t>();
    st.definition_.ticks_per_day = r.get<double>();
    for (std::int32_t rank : {st.definition_.mql_rank, st.definition_.sql_rank, st.definition_.opportunity_rank})
        if (rank < -1 || rank >= 64) r.fail("stage rank " + std::to_string(rank) + " is not -1..63");
    const double day = st.definition_.ticks_per_day;
    if (!(day >= 0.0) || std::isinf(day)) r.fail("time units per day " + detail::to_text(day) + " is not finite and >= 0");
    st.sums_.resize(static_cast<std::size_t>(n));
    for (std::size_t g = 0; g < st.sums_.size(); ++g) {
        auto& s = st.sums_[g];
        s.leads = r.get<std::int64_t>(), s.mqls = r.get<std::int64_t>(), s.sqls = r.get<std::int64_t>();
        s.opportunities = r.get<std::int64_t>(), s.won = r.get<std::int64_t>(), s.lost = r.get<std::int64_t>();
        const auto parts = r.get_vector<double>();
        const auto hi = r.get<std::uint64_t>();
        const auto lo = r.get<std::uint64_t>();
        s.ticks_to_win = static_cast<detail::int128>((static_cast<detail::uint128>(hi) << 64) | lo);
        const std::string where = "segment " + std::to_string(g) + ": ";
        for (std::int64_t c : {s.leads, s.mqls, s.sqls, s.opportunities, s.won, s.lost})
            if (c < 0) r.fail(where + "negative count " + std::to_string(c));
        for (std::int64_t c : {s.mqls, s.sqls, s.opportunities, s.won, s.lost})
            if (c > s.leads) r.fail(where + "count " + std::to_string(c) + " exceeds the leads " + std::to_string(s.leads));
        if (s.won > s.leads - s.lost) r.fail(where + "won + lost exceeds the leads");
        for (double p : parts)
            if (!std::isfinite(p)) r.fail(where + "revenue part " + detail::to_text(p) + " is not finite");
        try {
            s.revenue = detail::exact_sum::of(parts);
        } catch (const invalid_argument&) {
            r.fail(where + "the revenue is not a finite double");
        }
        if (s.ticks_to_win < 0) r.fail(where + "negative time to win");
        if (s.won == 0 && (s.ticks_to_win != 0 || s.revenue.value() != 0.0))
            r.fail(where + "a revenue or time to win without won entities");
    }
    r.finish();
    return st;
}

FUNNELKIT_INLINE campaign_state campaign_sums(const stage_model& model, const stage_records& records,
                                              const campaign_options& op, std::size_t segments) {
    using namespace detail::campaign_impl;
    const std::int32_t n_seg_data = records.validate(model);
    if (!records.has_segment() && records.size() > 0)
        detail::throw_option("segment", "none", "a segment column (source or campaign) is required");
    if (op.threads == 0) detail::throw_option("threads", "0", "must be >= 1");
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
            // The latest won record's amount; of won records tied at that time, the largest,
            // so that the order of the rows never matters.
            const double amount = has_amount ? records.amount[i] : 0.0;
            if (t > e.last_won_time || (t == e.last_won_time && amount > e.won_amount)) {
                e.last_won_time = t;
                e.won_amount = amount;
            }
        } else if (model.at(s).kind == stage_kind::lost) {
            e.lost = true;
        }
    };

    const std::size_t n_segments =
        std::max({static_cast<std::size_t>(n_seg_data), op.cost.size(), segments});
    campaign_definition def;
    def.model_fingerprint = model.fingerprint();
    def.skipped = static_cast<std::uint8_t>(op.skipped == skipped_stages::implied ? 0 : 1);
    def.mql_rank = r_mql, def.sql_rank = r_sql, def.opportunity_rank = r_opp;
    def.ticks_per_day = op.seconds_per_day;
    campaign_state state(n_segments, def);
    auto emit = [&](campaign_state& to, const entity_state& e) {
        const std::uint64_t m = op.skipped == skipped_stages::implied ? detail::close_downwards(e.mask) : e.mask;
        // elapsed ticks >= 0 (the first record is no later than the first won record); the
        // difference of two int64 needs 65 bits.
        const detail::int128 ticks = e.won ? static_cast<detail::int128>(e.won_time) - static_cast<detail::int128>(e.first_time) : 0;
        to.add_entity(static_cast<std::size_t>(e.segment), (m >> r_mql) & 1, (m >> r_sql) & 1, (m >> r_opp) & 1,
                         e.won, !e.won && e.lost, e.won ? e.won_amount : 0.0, ticks);
    };
    if (std::is_sorted(ent, ent + n)) {
        for (std::size_t i = 0; i < n;) {
            entity_state e;
            const std::int64_t id = ent[i];
            for (; i < n && ent[i] == id; ++i) observe(e, i);
            emit(state, e);
        }
    } else {
        // Any other order: each thread numbers the entities of its hash partition with an
        // index and keeps their states in a dense vector, then emits them into sums of its own,
        // merged after. (The grouping primitive's fold form, fold_by_entity, keeps the 48-byte
        // states inline in its table; on shuffled sample records it measured 1.9x slower.)
        const unsigned threads = static_cast<unsigned>(
            std::max<std::size_t>(1, std::min<std::size_t>(op.threads, std::max<std::size_t>(1, n / 8192))));
        std::vector<campaign_state> parts(threads, state);
        detail::run_workers(threads, [&](unsigned t) {
            const auto mine = [&](std::int64_t e) {
                return threads == 1 ||
                       static_cast<unsigned>(((detail::mix64(static_cast<std::uint64_t>(e)) >> 32) * threads) >> 32) == t;
            };
            detail::entity_index index(n / 4 / threads);
            std::vector<entity_state> states;
            for (std::size_t i = 0; i < n; ++i) {
                if (!mine(ent[i])) continue;
                const std::uint32_t k = index.insert(ent[i]);
                if (k == states.size()) states.emplace_back();
                observe(states[k], i);
            }
            for (const auto& e : states) emit(parts[t], e);
        });
        for (const auto& p : parts) state.merge(p);
    }

    return state;
}

FUNNELKIT_INLINE campaign_report_result campaign_report(const campaign_state& state, const campaign_options& op) {
    using namespace detail::campaign_impl;
    if (!(op.level > 0.0 && op.level < 1.0)) detail::throw_option("level", detail::to_text(op.level), "must be in (0, 1)");
    if (!(op.seconds_per_day > 0.0) || std::isinf(op.seconds_per_day))
        detail::throw_option("seconds_per_day", detail::to_text(op.seconds_per_day), "must be finite and > 0");
    for (std::size_t i = 0; i < op.cost.size(); ++i)
        if (op.cost[i] < 0.0 || std::isinf(op.cost[i]))
            detail::throw_at_row("cost", i, detail::to_text(op.cost[i]), "is not a cost >= 0 (NaN marks a missing cost)");
    const double recorded_day = state.definition().ticks_per_day;
    if (recorded_day != 0.0 && recorded_day != op.seconds_per_day)
        detail::throw_option("seconds_per_day", detail::to_text(op.seconds_per_day),
                             "differs from the state's time units per day (" + detail::to_text(recorded_day) + ")");
    const std::size_t n_segments = std::max(state.segments(), op.cost.size());
    std::vector<segment_sums> sums(n_segments);
    for (std::size_t g = 0; g < state.segments(); ++g) sums[g] = read_sums(state.segment(g), op.seconds_per_day);
    // The totals add the exact per-segment sums exactly, then round once.
    campaign_segment_sums exact_total;
    for (std::size_t g = 0; g < state.segments(); ++g) add_into(exact_total, state.segment(g), "campaign_report");
    campaign_report_result out;
    out.rows.resize(n_segments);
    const segment_sums total = read_sums(exact_total, op.seconds_per_day);
    double known_cost = 0.0;
    bool any_missing = false;
    for (std::size_t g = 0; g < n_segments; ++g) {
        const segment_sums& s = sums[g];
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

FUNNELKIT_INLINE campaign_report_result campaign_report(const stage_model& model, const stage_records& records,
                                                        const campaign_options& op) {
    return campaign_report(campaign_sums(model, records, op), op);
}

FUNNELKIT_END_NAMESPACE
