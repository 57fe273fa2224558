// Definitions for funnelkit/velocity.hpp; config.hpp explains the compiled and header-only modes.
#pragma once

#include "funnelkit/velocity.hpp"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <string>
#include <tuple>

#include "funnelkit/detail/entity_index.hpp"
#include "funnelkit/detail/exact_sum.hpp"
#include "funnelkit/detail/random.hpp"
#include "funnelkit/detail/time_math.hpp"
#include "funnelkit/error.hpp"

FUNNELKIT_BEGIN_NAMESPACE

namespace detail::velocity_impl {

inline void json_string(std::string& out, std::string_view s) {
    out.push_back('"');
    for (char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\t': out += "\\t"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
                    out += buf;
                } else {
                    out.push_back(c);
                }
        }
    }
    out.push_back('"');
}

inline void json_object(std::string& out, const std::vector<std::pair<std::string, explanation_value>>& kv) {
    out.push_back('{');
    for (std::size_t i = 0; i < kv.size(); ++i) {
        if (i) out += ", ";
        json_string(out, kv[i].first);
        out += ": ";
        out += kv[i].second.json();
    }
    out.push_back('}');
}

inline std::string num(double v) { return detail::to_display(v); }

inline std::string_view name(count_basis b) {
    switch (b) {
        case count_basis::created_in_period: return "created_in_period";
        case count_basis::open_at_start: return "open_at_start";
        case count_basis::average_open: return "average_open";
        case count_basis::vendor: return "vendor";
        case count_basis::created_per_period: return "created_per_period";
    }
    return "unknown";
}
inline std::string_view name(win_rate_basis b) { return b == win_rate_basis::count ? "count" : "value"; }
inline std::string_view name(cycle_start b) {
    return b == cycle_start::created ? "created" : (b == cycle_start::sql ? "sql" : "first_touch");
}
inline std::string_view name(cycle_deals b) { return b == cycle_deals::won ? "won" : "closed"; }
inline std::string_view name(cycle_statistic b) { return b == cycle_statistic::mean ? "mean" : "median"; }

inline void check_options(const velocity_options& o) {
    if (!(std::isfinite(o.time_unit) && o.time_unit > 0))
        detail::throw_option("time_unit", detail::to_text(o.time_unit), "must be finite and > 0");
    if (o.bootstrap < 0) detail::throw_option("bootstrap", std::to_string(o.bootstrap), "must be >= 0");
    if (!(o.confidence > 0 && o.confidence < 1))
        detail::throw_option("confidence", detail::to_text(o.confidence), "must be in (0, 1)");
    if (static_cast<unsigned>(o.count) > 4u) detail::throw_option("count", std::to_string(static_cast<int>(o.count)), "is not a count_basis");
    if (static_cast<unsigned>(o.win_rate) > 1u) detail::throw_option("win_rate", std::to_string(static_cast<int>(o.win_rate)), "is not a win_rate_basis");
    if (static_cast<unsigned>(o.cycle_from) > 2u) detail::throw_option("cycle_from", std::to_string(static_cast<int>(o.cycle_from)), "is not a cycle_start");
    if (static_cast<unsigned>(o.cycle_over) > 1u) detail::throw_option("cycle_over", std::to_string(static_cast<int>(o.cycle_over)), "is not a cycle_deals");
    if (static_cast<unsigned>(o.cycle_stat) > 1u) detail::throw_option("cycle_stat", std::to_string(static_cast<int>(o.cycle_stat)), "is not a cycle_statistic");
}

// Median of v (reorders v); v non-empty.
inline double median_of(std::vector<double>& v) {
    const std::size_t m = v.size() / 2;
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(m), v.end());
    const double hi = v[m];
    if (v.size() % 2 == 1) return hi;
    const double lo = *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(m));
    return lo + (hi - lo) / 2;
}

// Per (period, segment) sums.
struct cell {
    std::int64_t won = 0, lost = 0, cycle_deals = 0, cycle_missing = 0;
    double n = 0;
    // Exact sums, rounded once when read: the same doubles whatever the order of the rows.
    detail::exact_sum won_amount, lost_amount, cycle_sum;
    // average_open: the time open inside the period, summed exactly in 128 bits (high, low
    // words), so that N does not depend on the row order.
    std::uint64_t open_lo = 0, open_hi = 0;
    void add_open(std::uint64_t ticks) noexcept {
        open_lo += ticks;
        if (open_lo < ticks) ++open_hi;
    }
    std::vector<double> cycles;  // median only
};

// Fills D, W, L, V and the status of r from the sums; `cycle_med` is the median when asked.
inline void finish(velocity_result& r, const velocity_options& o, double cycle_sum, std::optional<double> cycle_med) {
    if (r.won > 0) r.deal_value = r.won_amount / static_cast<double>(r.won);
    if (r.won + r.lost > 0) {
        if (o.win_rate == win_rate_basis::count) {
            r.win_rate = static_cast<double>(r.won) / static_cast<double>(r.won + r.lost);
        } else {
            const double total = r.won_amount + r.lost_amount;
            // All closed deals of amount 0: the value basis has no denominator.
            if (total > 0) r.win_rate = r.won_amount / total;
        }
    }
    if (r.cycle_deals > 0)
        r.cycle_length = o.cycle_stat == cycle_statistic::mean ? cycle_sum / static_cast<double>(r.cycle_deals) : cycle_med;
    // With N created in the period, N * D * W is revenue per period: V divides by the period
    // length and needs no L.
    const bool per_period = o.count == count_basis::created_per_period;
    if (!r.deal_value) {
        r.status = velocity_status::no_won_deals;
        r.reason = "no won deal closed in the period: D (mean won amount) is undefined";
    } else if (!r.win_rate) {
        r.status = velocity_status::no_closed_deals;
        r.reason = r.won + r.lost > 0 ? "closed deals have total amount 0: W by value is undefined"
                                      : "no deal closed in the period: W is undefined";
    } else if (per_period) {
        r.status = velocity_status::ok;
        r.velocity_per_period = r.n * *r.deal_value * *r.win_rate;
        r.velocity = *r.velocity_per_period / r.period_length;
    } else if (!r.cycle_length) {
        r.status = velocity_status::no_cycle;
        r.reason = "no closed deal with a measurable cycle: L is undefined";
    } else if (*r.cycle_length <= 0) {
        r.status = velocity_status::zero_cycle;
        r.reason = "cycle length L is 0: V = N*D*W/L is unbounded";
    } else {
        r.status = velocity_status::ok;
        r.velocity = r.n * *r.deal_value * *r.win_rate / *r.cycle_length;
        r.velocity_per_period = *r.velocity * r.period_length;
    }
}

// Percentile (linear interpolation between order statistics, "type 7") of sorted v.
inline double percentile(const std::vector<double>& v, double q) {
    const double h = q * static_cast<double>(v.size() - 1);
    const auto lo = static_cast<std::size_t>(std::floor(h));
    const std::size_t hi = std::min(lo + 1, v.size() - 1);
    return v[lo] + (h - static_cast<double>(lo)) * (v[hi] - v[lo]);
}

// The value of an option enum named `word` among its `count` values (codes 0..count-1), by the
// words name() gives them.
template <class E>
E parse_word(std::string_view option, std::string_view word, unsigned count) {
    std::string accepted;
    for (unsigned code = 0; code < count; ++code) {
        const auto value = static_cast<E>(code);
        if (word == name(value)) return value;
        accepted += (code ? ", '" : "'") + std::string(name(value)) + "'";
    }
    detail::throw_option(option, "'" + std::string(word) + "'", "is not one of " + accepted);
}

// The inputs of V = N * D * W / L, checked the same way wherever they are given by hand:
// N and D finite and >= 0, W in [0, 1], L finite and > 0. `positive` also refuses N, D or W
// of 0 (the decomposition takes their logarithms). `row` ("before", "after") names the row of
// the inputs in the error; empty: the inputs are options of their own.
inline void check_drivers(double n, double d, double w, double l, std::string_view row, bool positive) {
    auto fail = [&](std::string_view field, double value, std::string_view problem) {
        if (row.empty()) detail::throw_option(field, detail::to_text(value), problem);
        throw invalid_argument("option '" + std::string(row) + "', field '" + std::string(field) + "': value " +
                               detail::to_text(value) + " " + std::string(problem));
    };
    const char* zero = " (a driver of 0 has no logarithm: the split is undefined)";
    if (!(std::isfinite(n) && (positive ? n > 0 : n >= 0)))
        fail("n", n, positive ? std::string("must be finite and > 0") + zero : "must be finite and >= 0");
    if (!(std::isfinite(d) && (positive ? d > 0 : d >= 0)))
        fail("deal_value", d, positive ? std::string("must be finite and > 0") + zero : "must be finite and >= 0");
    if (!((positive ? w > 0 : w >= 0) && w <= 1))
        fail("win_rate", w, positive ? std::string("must be in (0, 1]") + zero : "must be in [0, 1]");
    if (!(std::isfinite(l) && l > 0)) fail("cycle_length", l, "must be finite and > 0");
}

}  // namespace detail::velocity_impl

FUNNELKIT_INLINE std::string explanation_value::text() const {
    switch (kind_) {
        case kind::number: return detail::to_display(number_);
        case kind::integer:
        case kind::text: return text_;
        case kind::undefined: break;
    }
    return "undefined";
}

FUNNELKIT_INLINE std::string explanation_value::json() const {
    using namespace detail::velocity_impl;
    switch (kind_) {
        case kind::number: {
            if (!std::isfinite(number_)) return "null";
            char buf[32];
            const auto end = std::to_chars(buf, buf + sizeof buf, number_).ptr;
            return std::string(buf, end);
        }
        case kind::integer: return text_;
        case kind::text: {
            std::string s;
            json_string(s, text_);
            return s;
        }
        case kind::undefined: break;
    }
    return "null";
}

FUNNELKIT_INLINE std::string explanation::text() const {
    std::string s = metric + " = " + formula + "\n";
    for (const auto& [k, v] : inputs) s += "  " + k + " = " + v.text() + "\n";
    if (!options.empty()) {
        s += "options:";
        for (const auto& [k, v] : options) s += " " + k + "=" + v.text();
        s += "\n";
    }
    if (!note.empty()) s += note + "\n";
    return s;
}

FUNNELKIT_INLINE std::string explanation::json() const {
    using namespace detail::velocity_impl;
    std::string s = "{\"metric\": ";
    json_string(s, metric);
    s += ", \"formula\": ";
    json_string(s, formula);
    s += ", \"inputs\": ";
    json_object(s, inputs);
    s += ", \"options\": ";
    json_object(s, options);
    s += ", \"note\": ";
    json_string(s, note);
    s += "}";
    return s;
}

FUNNELKIT_INLINE std::string_view to_string(count_basis b) noexcept { return detail::velocity_impl::name(b); }
FUNNELKIT_INLINE std::string_view to_string(win_rate_basis b) noexcept { return detail::velocity_impl::name(b); }
FUNNELKIT_INLINE std::string_view to_string(cycle_start b) noexcept { return detail::velocity_impl::name(b); }
FUNNELKIT_INLINE std::string_view to_string(cycle_deals b) noexcept { return detail::velocity_impl::name(b); }
FUNNELKIT_INLINE std::string_view to_string(cycle_statistic b) noexcept { return detail::velocity_impl::name(b); }

FUNNELKIT_INLINE count_basis parse_count_basis(std::string_view name) {
    return detail::velocity_impl::parse_word<count_basis>("count", name, 5);
}
FUNNELKIT_INLINE win_rate_basis parse_win_rate_basis(std::string_view name) {
    return detail::velocity_impl::parse_word<win_rate_basis>("win_rate", name, 2);
}
FUNNELKIT_INLINE cycle_start parse_cycle_start(std::string_view name) {
    return detail::velocity_impl::parse_word<cycle_start>("cycle_from", name, 3);
}
FUNNELKIT_INLINE cycle_deals parse_cycle_deals(std::string_view name) {
    return detail::velocity_impl::parse_word<cycle_deals>("cycle_over", name, 2);
}
FUNNELKIT_INLINE cycle_statistic parse_cycle_statistic(std::string_view name) {
    return detail::velocity_impl::parse_word<cycle_statistic>("cycle_stat", name, 2);
}

FUNNELKIT_INLINE std::string_view to_string(velocity_status s) noexcept {
    switch (s) {
        case velocity_status::ok: return "ok";
        case velocity_status::no_won_deals: return "no_won_deals";
        case velocity_status::no_closed_deals: return "no_closed_deals";
        case velocity_status::no_cycle: return "no_cycle";
        case velocity_status::zero_cycle: return "zero_cycle";
    }
    return "unknown";
}

FUNNELKIT_INLINE std::int32_t opportunity_records::validate() const {
    const std::size_t n = created.size();
    if (closed.size() != n) detail::throw_length("closed", closed.size(), "created", n);
    if (outcome.size() != n) detail::throw_length("outcome", outcome.size(), "created", n);
    if (amount.size() != n) detail::throw_length("amount", amount.size(), "created", n);
    if (!segment.empty() && segment.size() != n) detail::throw_length("segment", segment.size(), "created", n);
    if (!sql_time.empty() && sql_time.size() != n) detail::throw_length("sql_time", sql_time.size(), "created", n);
    if (!first_touch.empty() && first_touch.size() != n)
        detail::throw_length("first_touch", first_touch.size(), "created", n);
    std::int32_t max_seg = -1;
    for (std::size_t i = 0; i < n; ++i) {
        if (created[i] == missing_time) detail::throw_at_row("created", i, "missing", "(every opportunity needs a creation time)");
        const auto oc = outcome[i];
        if (oc < 0 || oc > 2) detail::throw_at_row("outcome", i, std::to_string(oc), "is not an outcome code (0 open, 1 won, 2 lost)");
        if (!(std::isfinite(amount[i]) && amount[i] >= 0))
            detail::throw_at_row("amount", i, detail::to_text(amount[i]), "must be finite and >= 0");
        if (!segment.empty()) {
            if (segment[i] < 0) detail::throw_at_row("segment", i, std::to_string(segment[i]), "must be >= 0");
            max_seg = std::max(max_seg, segment[i]);
        }
        if (oc != 0) {
            if (closed[i] == missing_time) detail::throw_at_row("closed", i, "missing", "but the deal is closed (outcome won or lost)");
            if (closed[i] < created[i])
                detail::throw_at_row("closed", i, std::to_string(closed[i]),
                                     "is before the creation time " + std::to_string(created[i]));
            if (!sql_time.empty() && sql_time[i] != missing_time && sql_time[i] > closed[i])
                detail::throw_at_row("sql_time", i, std::to_string(sql_time[i]),
                                     "is after the close time " + std::to_string(closed[i]));
            if (!first_touch.empty() && first_touch[i] != missing_time && first_touch[i] > closed[i])
                detail::throw_at_row("first_touch", i, std::to_string(first_touch[i]),
                                     "is after the close time " + std::to_string(closed[i]));
        }
    }
    return max_seg + 1;
}

FUNNELKIT_INLINE opportunity_table opportunities_from_stages(const stage_model& model, const stage_records& r,
                                                             std::string_view opportunity_stage, std::string_view sql_stage) {
    r.validate(model);
    const std::int32_t opp = model.code_of(opportunity_stage);
    const std::int32_t sql = sql_stage.empty() ? -1 : model.code_of(sql_stage);
    const std::int32_t won = model.won() ? *model.won() : -1;
    const std::size_t n = r.size();
    // Rows ordered by (entity, time, row) so each entity's history is contiguous and in order.
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        if (r.entity[a] != r.entity[b]) return r.entity[a] < r.entity[b];
        if (r.time[a] != r.time[b]) return r.time[a] < r.time[b];
        return a < b;
    });
    opportunity_table t;
    for (std::size_t i = 0; i < n;) {
        std::size_t j = i;
        while (j < n && r.entity[order[j]] == r.entity[order[i]]) ++j;
        std::int64_t created = missing_time, closed = missing_time, sqlt = missing_time;
        std::int8_t oc = 0;
        double amt = 0.0;
        const std::size_t first = order[i];
        std::int32_t seg = r.has_segment() ? r.segment[first] : 0;
        for (std::size_t k = i; k < j; ++k) {
            const std::size_t row = order[k];
            if (r.has_segment() && r.time[row] == r.time[first]) seg = std::min(seg, r.segment[row]);
            const std::int32_t s = r.stage[row];
            if (s == sql && sqlt == missing_time) sqlt = r.time[row];
            if (s == opp && created == missing_time) {
                created = r.time[row];
                if (!r.amount.empty()) amt = r.amount[row];
            } else if (created != missing_time && oc == 0 &&
                       (s == won || model.at(s).kind == stage_kind::lost)) {
                closed = r.time[row];
                oc = s == won ? std::int8_t{1} : std::int8_t{2};
                if (!r.amount.empty() && r.amount[row] > 0) amt = r.amount[row];
            }
        }
        if (created != missing_time) {
            t.entity.push_back(r.entity[first]);
            t.created.push_back(created);
            t.closed.push_back(closed);
            t.outcome.push_back(oc);
            t.amount.push_back(amt);
            t.sql_time.push_back(sqlt);
            t.first_touch.push_back(r.time[first]);
            if (r.has_segment()) t.segment.push_back(seg);
        }
        i = j;
    }
    return t;
}

FUNNELKIT_INLINE std::vector<velocity_result> velocity(const opportunity_records& rec, std::span<const period> periods,
                                                       const velocity_options& o) {
    using namespace detail::velocity_impl;
    check_options(o);
    const std::int32_t n_seg = rec.validate();
    validate_periods(periods);
    std::span<const std::int64_t> start_col = rec.created;
    if (o.cycle_from == cycle_start::sql) {
        if (rec.sql_time.empty()) detail::throw_option("cycle_from", "sql", "needs the sql_time column");
        start_col = rec.sql_time;
    } else if (o.cycle_from == cycle_start::first_touch) {
        if (rec.first_touch.empty()) detail::throw_option("cycle_from", "first_touch", "needs the first_touch column");
        start_col = rec.first_touch;
    }
    const std::size_t P = periods.size();
    const std::size_t rows = static_cast<std::size_t>(n_seg) + 1;
    std::vector<cell> cells(P * rows);  // cell (p, r) at p * rows + r; r = 0 overall
    std::vector<std::int64_t> diff(o.count == count_basis::open_at_start ? (P + 1) * rows : 0, 0);
    const bool median = o.cycle_stat == cycle_statistic::median;
    const bool has_seg = !rec.segment.empty();

    // Index of the period containing t, or P.
    auto period_of = [&](std::int64_t t) -> std::size_t {
        auto it = std::upper_bound(periods.begin(), periods.end(), t,
                                   [](std::int64_t v, const period& q) { return v < q.start; });
        if (it == periods.begin()) return P;
        const auto p = static_cast<std::size_t>(it - periods.begin()) - 1;
        return t < periods[p].end ? p : P;
    };

    for (std::size_t i = 0; i < rec.size(); ++i) {
        const std::size_t seg_row = has_seg ? static_cast<std::size_t>(rec.segment[i]) + 1 : 0;
        const std::int64_t c = rec.created[i];
        const bool is_closed = rec.outcome[i] != 0;
        if (o.count == count_basis::created_in_period || o.count == count_basis::vendor ||
            o.count == count_basis::created_per_period) {
            const std::size_t p = period_of(c);
            if (p < P) {
                cells[p * rows].n += 1;
                if (seg_row) cells[p * rows + seg_row].n += 1;
            }
        } else if (o.count == count_basis::average_open) {
            // Open over [created, closed) (to the end of time while open): its share of each
            // period it overlaps is the time-averaged count it adds to N.
            const std::int64_t stop = is_closed ? rec.closed[i] : std::numeric_limits<std::int64_t>::max();
            auto p = static_cast<std::size_t>(
                std::upper_bound(periods.begin(), periods.end(), c, [](std::int64_t v, const period& q) { return v < q.end; }) -
                periods.begin());
            for (; p < P && periods[p].start < stop; ++p) {
                const std::int64_t a = std::max(c, periods[p].start), b = std::min(stop, periods[p].end);
                if (b <= a) continue;
                const std::uint64_t open = detail::elapsed_ticks(a, b);
                cells[p * rows].add_open(open);
                if (seg_row) cells[p * rows + seg_row].add_open(open);
            }
        } else {
            // Periods with created < start <= closed (or every later start when open).
            const auto first = static_cast<std::size_t>(
                std::upper_bound(periods.begin(), periods.end(), c, [](std::int64_t v, const period& q) { return v < q.start; }) -
                periods.begin());
            const std::size_t last = is_closed
                ? static_cast<std::size_t>(std::upper_bound(periods.begin(), periods.end(), rec.closed[i],
                                                            [](std::int64_t v, const period& q) { return v < q.start; }) -
                                           periods.begin())
                : P;
            if (first < last) {
                diff[first * rows] += 1;
                diff[last * rows] -= 1;
                if (seg_row) {
                    diff[first * rows + seg_row] += 1;
                    diff[last * rows + seg_row] -= 1;
                }
            }
        }
        if (!is_closed) continue;
        const std::size_t p = period_of(rec.closed[i]);
        if (p == P) continue;
        const bool won = rec.outcome[i] == 1;
        const double a = rec.amount[i];
        const std::int64_t s = start_col[i];
        const bool in_cycle = won || o.cycle_over == cycle_deals::closed;
        // The exact integer difference (it fits uint64 for any two times), rounded once.
        const double d = s == missing_time ? 0.0 : detail::elapsed(s, rec.closed[i]) / o.time_unit;
        if (!std::isfinite(d)) [[unlikely]]
            detail::throw_at_row("closed", i, std::to_string(rec.closed[i]),
                                 "gives a cycle length beyond the largest double in units of time_unit " +
                                     detail::to_text(o.time_unit));
        auto add = [&](cell& k) {
            if (won) { k.won += 1; k.won_amount.add_or_overflow(a); } else { k.lost += 1; k.lost_amount.add_or_overflow(a); }
            if (!in_cycle) return;
            if (s == missing_time) { k.cycle_missing += 1; return; }
            k.cycle_deals += 1;
            k.cycle_sum.add_or_overflow(d);
            if (median) k.cycles.push_back(d);
        };
        add(cells[p * rows]);
        if (seg_row) add(cells[p * rows + seg_row]);
    }
    if (o.count == count_basis::average_open) {
        for (std::size_t p = 0; p < P; ++p)
            for (std::size_t r = 0; r < rows; ++r) {
                cell& k = cells[p * rows + r];
                k.n = (std::ldexp(static_cast<double>(k.open_hi), 64) + static_cast<double>(k.open_lo)) /
                      detail::elapsed(periods[p].start, periods[p].end);
            }
    }
    if (o.count == count_basis::open_at_start) {
        for (std::size_t r = 0; r < rows; ++r) {
            std::int64_t run = 0;
            for (std::size_t p = 0; p < P; ++p) {
                run += diff[p * rows + r];
                cells[p * rows + r].n = static_cast<double>(run);
            }
        }
    }

    // The end of the data: a period running past it is partial.
    std::int64_t as_of = std::numeric_limits<std::int64_t>::min();
    if (o.as_of) {
        as_of = *o.as_of;
    } else {
        for (std::size_t i = 0; i < rec.size(); ++i) {
            as_of = std::max(as_of, rec.created[i]);
            if (rec.outcome[i] != 0) as_of = std::max(as_of, rec.closed[i]);
            if (!rec.sql_time.empty() && rec.sql_time[i] != missing_time) as_of = std::max(as_of, rec.sql_time[i]);
            if (!rec.first_touch.empty() && rec.first_touch[i] != missing_time) as_of = std::max(as_of, rec.first_touch[i]);
        }
    }
    std::vector<velocity_result> out;
    out.reserve(P * rows);
    for (std::size_t p = 0; p < P; ++p) {
        for (std::size_t r = 0; r < rows; ++r) {
            cell& k = cells[p * rows + r];
            velocity_result v;
            v.period_index = p;
            v.segment = static_cast<std::int32_t>(r) - 1;
            v.interval = periods[p];
            v.n = k.n;
            v.period_length = detail::elapsed(periods[p].start, periods[p].end) / o.time_unit;
            v.realised = k.won_amount.value() / v.period_length;
            v.as_of = as_of;
            // Observed through as_of: the period [start, end) is whole when as_of >= end - 1.
            if (rec.size() > 0 && as_of < periods[p].end - 1) {
                v.partial = true;
                v.observed = as_of < periods[p].start
                                 ? 0.0
                                 : detail::elapsed(periods[p].start, as_of) / detail::elapsed(periods[p].start, periods[p].end);
            }
            v.won = k.won;
            v.lost = k.lost;
            v.won_amount = k.won_amount.value();
            v.lost_amount = k.lost_amount.value();
            v.cycle_deals = k.cycle_deals;
            v.cycle_missing = k.cycle_missing;
            v.options = o;
            std::optional<double> med;
            if (median && !k.cycles.empty()) med = median_of(k.cycles);
            finish(v, o, k.cycle_sum.value(), med);
            // Sums of finite inputs can still leave the doubles: report that, never an inf.
            const std::string where = "period " + std::to_string(p) + (r == 0 ? std::string(" (all segments)")
                                                                               : ", segment " + std::to_string(r - 1));
            if (!std::isfinite(v.won_amount + v.lost_amount))
                throw invalid_argument("column 'amount': the amounts of the deals closed in " + where +
                                       " sum beyond the largest double");
            if (!std::isfinite(k.cycle_sum.value()))
                throw invalid_argument("the cycle lengths of " + where + " sum beyond the largest double (time_unit " +
                                       detail::to_text(o.time_unit) + ")");
            if (v.velocity && !std::isfinite(*v.velocity))
                throw invalid_argument("V = N * D * W / L of " + where + " is beyond the largest double");
            if (v.velocity_per_period && !std::isfinite(*v.velocity_per_period))
                throw invalid_argument("V per period (V * period length) of " + where + " is beyond the largest double");
            out.push_back(std::move(v));
        }
    }
    if (o.bootstrap == 0) return out;

    // Bootstrap: resample the opportunities that touch a cell (counted in N or closed in the
    // period) with replacement and recompute V; percentile interval of the defined replicates.
    struct unit {
        double in_n;  // share of N: 1 or 0 for counts, the time-averaged share for average_open
        std::int8_t closed_kind;  // 0 not closed in the period, 1 won, 2 lost
        double amount;
        double cycle;  // NaN when the deal's cycle does not enter L
        bool cycle_missing;
    };
    for (std::size_t p = 0; p < P; ++p) {
        const period q = periods[p];
        for (std::size_t r = 0; r < rows; ++r) {
            std::vector<unit> units;
            for (std::size_t i = 0; i < rec.size(); ++i) {
                if (r > 0 && static_cast<std::size_t>(rec.segment[i]) + 1 != r) continue;
                const std::int64_t c = rec.created[i];
                const bool is_closed = rec.outcome[i] != 0;
                const bool closed_here = is_closed && rec.closed[i] >= q.start && rec.closed[i] < q.end;
                double in_n = 0.0;
                if (o.count == count_basis::created_in_period || o.count == count_basis::vendor ||
            o.count == count_basis::created_per_period) {
                    in_n = c >= q.start && c < q.end ? 1.0 : 0.0;
                } else if (o.count == count_basis::open_at_start) {
                    in_n = c < q.start && (!is_closed || rec.closed[i] >= q.start) ? 1.0 : 0.0;
                } else {
                    const std::int64_t a = std::max(c, q.start);
                    const std::int64_t b = std::min(is_closed ? rec.closed[i] : q.end, q.end);
                    in_n = b > a ? detail::elapsed(a, b) / detail::elapsed(q.start, q.end) : 0.0;
                }
                if (in_n == 0.0 && !closed_here) continue;
                unit u{in_n, 0, rec.amount[i], std::numeric_limits<double>::quiet_NaN(), false};
                if (closed_here) {
                    u.closed_kind = rec.outcome[i];
                    if (rec.outcome[i] == 1 || o.cycle_over == cycle_deals::closed) {
                        if (start_col[i] == missing_time) u.cycle_missing = true;
                        else u.cycle = detail::elapsed(start_col[i], rec.closed[i]) / o.time_unit;
                    }
                }
                units.push_back(u);
            }
            velocity_result& v = out[p * rows + r];
            if (units.empty()) {
                v.bootstrap_undefined = o.bootstrap;
                continue;
            }
            // Resample over a canonical order, the deals sorted by their content: the interval
            // then depends on the deals as a set and the seed, never on the row order.
            std::sort(units.begin(), units.end(), [](const unit& a, const unit& b) {
                const bool a_nan = std::isnan(a.cycle), b_nan = std::isnan(b.cycle);
                return std::tie(a.in_n, a.closed_kind, a.amount, a_nan, a.cycle_missing) <
                           std::tie(b.in_n, b.closed_kind, b.amount, b_nan, b.cycle_missing) ||
                       (std::tie(a.in_n, a.closed_kind, a.amount, a_nan, a.cycle_missing) ==
                            std::tie(b.in_n, b.closed_kind, b.amount, b_nan, b.cycle_missing) &&
                        !a_nan && a.cycle < b.cycle);
            });
            detail::rng g(o.seed, p * rows + r);
            std::vector<double> reps, cyc;
            reps.reserve(static_cast<std::size_t>(o.bootstrap));
            for (std::int32_t b = 0; b < o.bootstrap; ++b) {
                velocity_result t;
                t.period_length = v.period_length;
                double sum = 0;
                cyc.clear();
                for (std::size_t m = 0; m < units.size(); ++m) {
                    const unit& u = units[g.below(units.size())];
                    t.n += u.in_n;
                    if (u.closed_kind == 1) { t.won += 1; t.won_amount += u.amount; }
                    if (u.closed_kind == 2) { t.lost += 1; t.lost_amount += u.amount; }
                    if (!std::isnan(u.cycle)) { t.cycle_deals += 1; sum += u.cycle; if (median) cyc.push_back(u.cycle); }
                }
                std::optional<double> med;
                if (median && !cyc.empty()) med = median_of(cyc);
                finish(t, o, sum, med);
                // A resample can sum beyond the doubles where the data did not: undefined.
                if (t.velocity && std::isfinite(*t.velocity)) reps.push_back(*t.velocity);
                else v.bootstrap_undefined += 1;
            }
            if (reps.empty()) continue;
            std::sort(reps.begin(), reps.end());
            const double alpha = 1 - o.confidence;
            v.ci_lower = percentile(reps, alpha / 2);
            v.ci_upper = percentile(reps, 1 - alpha / 2);
        }
    }
    return out;
}

FUNNELKIT_INLINE explanation velocity_result::explain() const {
    using namespace detail::velocity_impl;
    explanation e;
    e.metric = "sales velocity";
    const bool per_period = options.count == count_basis::created_per_period;
    e.formula = per_period ? "V = N * D * W / period length (revenue per " + options.unit_name +
                                 "; N * D * W is revenue per period)"
                           : "V = N * D * W / L (revenue per " + options.unit_name + ")";
    e.inputs = {
        {"period_start", interval.start},
        {"period_end", interval.end},
        {"segment", segment < 0 ? explanation_value("all") : explanation_value(segment)},
        {"N", n},
        {"D", deal_value},
        {"W", win_rate},
        {"L", cycle_length},
        {"V", velocity},
        {"velocity_per_period", velocity_per_period},
        {"period_length", period_length},
        {"realised", realised},
        {"won", won},
        {"lost", lost},
        {"won_amount", won_amount},
        {"lost_amount", lost_amount},
        {"cycle_deals", cycle_deals},
        {"cycle_missing", cycle_missing},
        {"as_of", as_of},
        {"observed", observed},
    };
    if (ci_lower) {
        e.inputs.emplace_back("ci_lower", *ci_lower);
        e.inputs.emplace_back("ci_upper", *ci_upper);
    }
    e.options = {
        {"count", name(options.count)},
        {"win_rate", name(options.win_rate)},
        {"cycle_from", name(options.cycle_from)},
        {"cycle_over", name(options.cycle_over)},
        {"cycle_stat", name(options.cycle_stat)},
        {"time_unit", options.time_unit},
        {"unit_name", options.unit_name},
        {"bootstrap", options.bootstrap},
        {"confidence", options.confidence},
        {"seed", options.seed},
    };
    std::string n_text;
    switch (options.count) {
        case count_basis::average_open: {
            // Little's law (open pipeline = arrival rate x mean time open) makes N * D * W / L the
            // won revenue per unit only when L is the mean time open, from creation, of every
            // closed deal: the population N counts. Say so only then, and name what differs.
            std::vector<std::string> differs;
            if (options.cycle_from != cycle_start::created)
                differs.push_back("L starts at " + std::string(name(options.cycle_from)) + ", not at creation");
            if (options.cycle_over != cycle_deals::closed) differs.push_back("L is over won deals only, not all closed deals");
            if (options.cycle_stat != cycle_statistic::mean) differs.push_back("L is a median, not the mean time open");
            n_text = "N: time-averaged open pipeline over the period";
            if (differs.empty()) {
                n_text += " (by Little's law N * D * W / L is then won revenue per " + options.unit_name +
                          " in a steady state)";
            } else {
                n_text += " (Little's law does not apply as computed: ";
                for (std::size_t k = 0; k < differs.size(); ++k) n_text += (k ? "; " : "") + differs[k];
                n_text += "; V is then not the won revenue per " + options.unit_name + ")";
            }
            break;
        }
        case count_basis::open_at_start:
            n_text = "N: opportunities open at the period start, divided by L (not Little's law's time-averaged "
                     "pipeline: V is not the won revenue per " + options.unit_name + " unless the pipeline is steady)";
            break;
        case count_basis::created_per_period:
            n_text = "N: opportunities created in the period, so N * D * W is revenue per period and V divides it by "
                     "the period length, not by L";
            break;
        case count_basis::vendor:
        case count_basis::created_in_period:
            n_text = std::string(options.count == count_basis::created_in_period
                                     ? "count created_in_period is the deprecated name of the vendor figure (use "
                                       "vendor, or created_per_period for revenue per period); "
                                     : "") +
                     "N: opportunities created in the period, divided by L (the vendor formula: it overstates "
                     "revenue per " + options.unit_name + " by period length / L)";
            break;
    }
    e.note = n_text +
             "; D: mean amount of deals won in the period; W: won/(won+lost) of deals closed in the period by " +
             std::string(name(options.win_rate)) + "; L: " + std::string(name(options.cycle_stat)) + " of (close - " +
             std::string(name(options.cycle_from)) + ") over " +
             (options.cycle_over == cycle_deals::won ? "won" : "all closed") + " deals, in " + options.unit_name + "s" +
             "; realised: won amount of the period / period length, revenue per " + options.unit_name + " as a check" +
             (status == velocity_status::ok ? std::string() : "; undefined: " + reason) +
             (partial ? "; PARTIAL period: the data end (as_of) falls " + num(100 * observed) +
                            "% into it, so N keeps deals open after the data ends and realised counts only the "
                            "observed part: V and realised are not comparable with whole periods"
                      : std::string());
    return e;
}

FUNNELKIT_INLINE double velocity_formula(double n, double d, double w, double l) {
    detail::velocity_impl::check_drivers(n, d, w, l, {}, false);
    return n * d * w / l;
}

FUNNELKIT_INLINE velocity_decomposition decompose_velocity(double n0, double d0, double w0, double l0, double n1, double d1, double w1,
                                                           double l1) {
    detail::velocity_impl::check_drivers(n0, d0, w0, l0, "before", true);
    detail::velocity_impl::check_drivers(n1, d1, w1, l1, "after", true);
    velocity_decomposition r;
    r.inputs0[0] = n0; r.inputs0[1] = d0; r.inputs0[2] = w0; r.inputs0[3] = l0;
    r.inputs1[0] = n1; r.inputs1[1] = d1; r.inputs1[2] = w1; r.inputs1[3] = l1;
    r.v0 = n0 * d0 * w0 / l0;
    r.v1 = n1 * d1 * w1 / l1;
    r.log_n = std::log(n1 / n0);
    r.log_d = std::log(d1 / d0);
    r.log_w = std::log(w1 / w0);
    r.log_l = -std::log(l1 / l0);
    const double s = r.log_n + r.log_d + r.log_w + r.log_l;
    // L(V1, V0) = (V1 - V0) / ln(V1/V0) = V0 * expm1(s) / s, which tends to V0 as s -> 0.
    r.weight = s == 0.0 ? r.v0 : r.v0 * std::expm1(s) / s;
    r.n = r.weight * r.log_n;
    r.d = r.weight * r.log_d;
    r.w = r.weight * r.log_w;
    r.l = r.weight * r.log_l;
    // Shapley over the factors N, D, W, 1/L: subsets of the factors at their period-1 values.
    const double f0[4] = {n0, d0, w0, 1.0 / l0}, f1[4] = {n1, d1, w1, 1.0 / l1};
    auto value = [&](unsigned mask) {
        double v = 1.0;
        for (unsigned k = 0; k < 4; ++k) v *= (mask >> k) & 1u ? f1[k] : f0[k];
        return v;
    };
    constexpr double weight_of[4] = {6.0 / 24.0, 2.0 / 24.0, 2.0 / 24.0, 6.0 / 24.0};  // |S|! (3-|S|)! / 4!
    double phi[4] = {0, 0, 0, 0};
    for (unsigned k = 0; k < 4; ++k)
        for (unsigned mask = 0; mask < 16; ++mask) {
            if ((mask >> k) & 1u) continue;
            phi[k] += weight_of[std::popcount(mask)] * (value(mask | (1u << k)) - value(mask));
        }
    r.shapley_n = phi[0];
    r.shapley_d = phi[1];
    r.shapley_w = phi[2];
    r.shapley_l = phi[3];
    return r;
}

FUNNELKIT_INLINE velocity_decomposition decompose_velocity(const velocity_result& a, const velocity_result& b) {
    using namespace detail::velocity_impl;
    if (!a.defined()) detail::throw_option("before", std::string(to_string(a.status)), "is undefined: " + a.reason);
    if (!b.defined()) detail::throw_option("after", std::string(to_string(b.status)), "is undefined: " + b.reason);
    // Drivers measured on different bases do not split: refuse, naming the first option that differs.
    const velocity_options &x = a.options, &y = b.options;
    auto differ = [](const char* field, std::string_view u, std::string_view v) {
        detail::throw_option(field, std::string(u) + " vs " + std::string(v),
                             "differs between the two results: their drivers are on different bases and do not split");
    };
    if (x.count != y.count) differ("count", name(x.count), name(y.count));
    if (x.win_rate != y.win_rate) differ("win_rate", name(x.win_rate), name(y.win_rate));
    if (x.cycle_from != y.cycle_from) differ("cycle_from", name(x.cycle_from), name(y.cycle_from));
    if (x.cycle_over != y.cycle_over) differ("cycle_over", name(x.cycle_over), name(y.cycle_over));
    if (x.cycle_stat != y.cycle_stat) differ("cycle_stat", name(x.cycle_stat), name(y.cycle_stat));
    if (x.time_unit != y.time_unit) differ("time_unit", detail::to_text(x.time_unit), detail::to_text(y.time_unit));
    auto denominator = [](const velocity_result& r) {
        return r.options.count == count_basis::created_per_period ? r.period_length : r.cycle_length.value_or(0.0);
    };
    return decompose_velocity(a.n, *a.deal_value, *a.win_rate, denominator(a), b.n, *b.deal_value, *b.win_rate,
                              denominator(b));
}

FUNNELKIT_INLINE explanation velocity_decomposition::explain() const {
    using namespace detail::velocity_impl;
    explanation e;
    e.metric = "velocity change by driver";
    e.formula = "V1 - V0 = L(V1,V0) * [ln(N1/N0) + ln(D1/D0) + ln(W1/W0) - ln(L1/L0)], L(a,b) = (a-b)/(ln a - ln b)";
    e.inputs = {{"N0", inputs0[0]}, {"D0", inputs0[1]}, {"W0", inputs0[2]}, {"L0", inputs0[3]},
                {"N1", inputs1[0]}, {"D1", inputs1[1]}, {"W1", inputs1[2]}, {"L1", inputs1[3]},
                {"V0", v0},         {"V1", v1},         {"weight", weight},
                {"contribution_N", n}, {"contribution_D", d}, {"contribution_W", w},
                {"contribution_L", l},
                {"shapley_N", shapley_n}, {"shapley_D", shapley_d}, {"shapley_W", shapley_w},
                {"shapley_L", shapley_l}};
    e.options = {{"method", "LMDI-I and Shapley"}};
    e.note = "log split: ln V1 - ln V0 = " + num(log_n) + " (N) + " + num(log_d) + " (D) + " + num(log_w) + " (W) + " +
             num(log_l) + " (L); Shapley: each factor's change averaged over the 4! orders of change, N " + num(shapley_n) +
             ", D " + num(shapley_d) + ", W " + num(shapley_w) + ", L " + num(shapley_l);
    return e;
}

FUNNELKIT_END_NAMESPACE
