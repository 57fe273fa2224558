// Definitions for funnelkit/sla.hpp; config.hpp explains the compiled and header-only modes.
#pragma once

#include "funnelkit/sla.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>
#include <string>

#include "funnelkit/detail/exact_sum.hpp"
#include "funnelkit/detail/time_math.hpp"
#include "funnelkit/error.hpp"

FUNNELKIT_BEGIN_NAMESPACE

namespace detail::sla_impl {

// a - b, saturated to the int64 range (times far apart must not overflow).
inline std::int64_t sat_sub(std::int64_t a, std::int64_t b) noexcept {
    std::int64_t r;
    if (__builtin_sub_overflow(a, b, &r)) return b < 0 ? std::numeric_limits<std::int64_t>::max() : std::numeric_limits<std::int64_t>::min();
    return r;
}

struct group_acc {
    std::int64_t met = 0, breached = 0, pending = 0, not_started = 0, untouched = 0;
    // Exact sum of the (non-negative) time over the limit: at most 2^63 breaches of at most
    // 2^63 ticks each fit, and the sum does not depend on the order of the rows.
    detail::uint128 over_sum = 0;
    std::int64_t over_max = 0;
};

inline detail::uint128 gcd128(detail::uint128 a, detail::uint128 b) noexcept {
    while (b != 0) {
        const detail::uint128 t = a % b;
        a = b;
        b = t;
    }
    return a;
}

// num / (count * unit) as a double that depends only on the rational number, not on how it is
// written: the same instants in seconds and in nanoseconds (num and unit both 10^9 times
// larger) give the same bits. The fraction is reduced by its gcd first; when both terms then fit
// a double's 53 bits the one division is correctly rounded, otherwise the integer quotient and
// the reduced remainder's fraction are each converted once. A unit that is not a whole number
// of ticks (possible only from C++) falls back to the exact mean per item divided by the unit.
inline double exact_ratio(detail::uint128 num, std::int64_t count, double unit) noexcept {
    if (count <= 0) return 0.0;
    constexpr double max_unit = 4611686018427387904.0;  // 2^62
    if (!(unit >= 1.0 && unit <= max_unit && std::floor(unit) == unit)) {
        const detail::uint128 c = static_cast<detail::uint128>(count);
        const detail::uint128 q = num / c, r = num % c;
        const detail::uint128 g = gcd128(r, c);
        return (static_cast<double>(q) + (r == 0 ? 0.0 : static_cast<double>(r / g) / static_cast<double>(c / g))) / unit;
    }
    // count < 2^63 and unit <= 2^62: the product fits 125 bits.
    detail::uint128 den = static_cast<detail::uint128>(count) * static_cast<detail::uint128>(static_cast<std::uint64_t>(unit));
    const detail::uint128 g = gcd128(num, den);
    num /= g;
    den /= g;
    constexpr detail::uint128 exact = static_cast<detail::uint128>(1) << 53;
    if (num <= exact && den <= exact) return static_cast<double>(num) / static_cast<double>(den);
    const detail::uint128 q = num / den, r = num % den;
    const detail::uint128 h = gcd128(r, den);
    return static_cast<double>(q) + (r == 0 ? 0.0 : static_cast<double>(r / h) / static_cast<double>(den / h));
}

inline std::int32_t check_codes(std::span<const std::int32_t> col, std::string_view name, std::size_t n) {
    if (col.empty()) return 0;
    if (col.size() != n) detail::throw_length(name, col.size(), "created", n);
    std::int32_t mx = -1;
    for (std::size_t i = 0; i < n; ++i) {
        if (col[i] < 0) detail::throw_at_row(name, i, std::to_string(col[i]), "must be >= 0");
        mx = std::max(mx, col[i]);
    }
    return mx + 1;
}

inline sla_group to_group(const group_acc& a, std::string by, std::int32_t code, double unit) {
    sla_group g;
    g.by = std::move(by);
    g.code = code;
    g.met = a.met;
    g.breached = a.breached;
    g.pending = a.pending;
    g.not_started = a.not_started;
    g.breached_untouched = a.untouched;
    if (a.met + a.breached > 0) g.compliance = static_cast<double>(a.met) / static_cast<double>(a.met + a.breached);
    if (a.breached > 0) {
        g.mean_over = exact_ratio(a.over_sum, a.breached, unit);
        g.max_over = exact_ratio(static_cast<detail::uint128>(a.over_max), 1, unit);
    }
    return g;
}

}  // namespace detail::sla_impl

FUNNELKIT_INLINE std::string_view to_string(sla_status s) noexcept {
    switch (s) {
        case sla_status::met: return "met";
        case sla_status::breached: return "breached";
        case sla_status::pending: return "pending";
        case sla_status::not_started: return "not_started";
    }
    return "unknown";
}

FUNNELKIT_INLINE void sla_commitment::validate() const {
    if (static_cast<unsigned>(kind) > 1u) detail::throw_option("kind", std::to_string(static_cast<int>(kind)), "is not an sla_kind");
    if (!(std::isfinite(display_unit) && display_unit > 0))
        detail::throw_option("display_unit", detail::to_text(display_unit), "must be finite and > 0");
    if (kind == sla_kind::response) {
        if (limit < 0) detail::throw_option("limit", std::to_string(limit), "must be >= 0");
        if (touches < 1) detail::throw_option("touches", std::to_string(touches), "must be >= 1");
    } else {
        if (!(std::isfinite(target) && target >= 0)) detail::throw_option("target", detail::to_text(target), "must be finite and >= 0");
    }
}

FUNNELKIT_INLINE response_sla_result sla_response(const sla_commitment& c, const response_records& rec, std::int64_t as_of,
                                                  const touch_records& touches) {
    using namespace detail::sla_impl;
    c.validate();
    if (c.kind != sla_kind::response) detail::throw_option("kind", "volume", "cannot be evaluated as a response SLA");
    const std::size_t n = rec.size();
    const bool use_touches = rec.first_touch.empty() || touches.size() > 0 || !touches.time.empty();
    if (!use_touches) {
        if (c.touches != 1)
            detail::throw_option("touches", std::to_string(c.touches), "needs touch records (the first_touch column holds one touch)");
        if (rec.first_touch.size() != n) detail::throw_length("first_touch", rec.first_touch.size(), "created", n);
    } else if (touches.time.size() != touches.item.size()) {
        detail::throw_length("touch time", touches.time.size(), "touch item", touches.item.size());
    }
    const std::int32_t n_rep = check_codes(rec.rep, "rep", n);
    const std::int32_t n_team = check_codes(rec.team, "team", n);
    const std::int32_t n_seg = check_codes(rec.segment, "segment", n);
    for (std::size_t i = 0; i < n; ++i)
        if (rec.created[i] == missing_time) detail::throw_at_row("created", i, "missing", "(every item needs a start time)");

    // k-th touch time per item, counting touches up to as_of only.
    // With touch records, the k-th touch time per item is gathered first; with the first_touch
    // column it is read in the main loop (no extra pass, no extra memory).
    std::vector<std::int64_t> kth;
    if (use_touches) {
        kth.assign(n, missing_time);
        const std::size_t T = touches.size();
        std::vector<std::uint32_t> count(n + 1, 0);
        for (std::size_t j = 0; j < T; ++j) {
            const std::int64_t it = touches.item[j];
            if (it < 0 || static_cast<std::uint64_t>(it) >= n)
                detail::throw_at_row("touch item", j, std::to_string(it), "is not a row of the items (0.." + std::to_string(n) + ")");
            const auto i = static_cast<std::size_t>(it);
            if (touches.time[j] < rec.created[i])
                detail::throw_at_row("touch time", j, std::to_string(touches.time[j]),
                                     "is before the creation " + std::to_string(rec.created[i]) + " of item " + std::to_string(i));
            if (touches.time[j] <= as_of) ++count[i + 1];
        }
        std::partial_sum(count.begin(), count.end(), count.begin());
        std::vector<std::int64_t> times(count[n]);
        std::vector<std::uint32_t> fill(count.begin(), count.end() - 1);
        for (std::size_t j = 0; j < T; ++j) {
            if (touches.time[j] > as_of) continue;
            times[fill[static_cast<std::size_t>(touches.item[j])]++] = touches.time[j];
        }
        const auto k = static_cast<std::size_t>(c.touches);
        for (std::size_t i = 0; i < n; ++i) {
            const std::size_t lo = count[i], hi = count[i + 1];
            if (hi - lo < k) continue;
            auto b = times.begin() + static_cast<std::ptrdiff_t>(lo);
            std::nth_element(b, b + static_cast<std::ptrdiff_t>(k - 1), times.begin() + static_cast<std::ptrdiff_t>(hi));
            kth[i] = *(b + static_cast<std::ptrdiff_t>(k - 1));
        }
    }

    response_sla_result out;
    out.commitment = c;
    out.as_of = as_of;
    out.status.resize(n);
    group_acc all;
    std::vector<group_acc> by_rep(static_cast<std::size_t>(n_rep)), by_team(static_cast<std::size_t>(n_team)),
        by_seg(static_cast<std::size_t>(n_seg));
    for (std::size_t i = 0; i < n; ++i) {
        const std::int64_t created = rec.created[i];
        // Deadline without overflow: saturate at the largest time.
        const std::int64_t deadline =
            created > std::numeric_limits<std::int64_t>::max() - c.limit ? std::numeric_limits<std::int64_t>::max() : created + c.limit;
        sla_status s;
        std::int64_t over = 0;
        std::int64_t touch_at = missing_time;
        if (use_touches) {
            touch_at = kth[i];
        } else if (const std::int64_t t = rec.first_touch[i]; t != missing_time) {
            if (t < created)
                detail::throw_at_row("first_touch", i, std::to_string(t), "is before the item's creation " + std::to_string(created));
            if (t <= as_of) touch_at = t;
        }
        const bool touched = touch_at != missing_time;
        if (created > as_of) {
            s = sla_status::not_started;
        } else if (touched) {
            s = touch_at <= deadline ? sla_status::met : sla_status::breached;
            over = sat_sub(touch_at, deadline);
        } else if (as_of > deadline) {
            s = sla_status::breached;
            over = sat_sub(as_of, deadline);
        } else {
            s = sla_status::pending;
        }
        out.status[i] = s;
        auto bump = [&](group_acc& a) {
            switch (s) {
                case sla_status::met: ++a.met; break;
                case sla_status::pending: ++a.pending; break;
                case sla_status::not_started: ++a.not_started; break;
                case sla_status::breached:
                    ++a.breached;
                    if (!touched) ++a.untouched;
                    a.over_sum += static_cast<detail::uint128>(over);
                    a.over_max = std::max(a.over_max, over);
                    break;
            }
        };
        bump(all);
        const std::int32_t rp = rec.rep.empty() ? -1 : rec.rep[i];
        const std::int32_t tm = rec.team.empty() ? -1 : rec.team[i];
        const std::int32_t sg = rec.segment.empty() ? -1 : rec.segment[i];
        if (rp >= 0) bump(by_rep[static_cast<std::size_t>(rp)]);
        if (tm >= 0) bump(by_team[static_cast<std::size_t>(tm)]);
        if (sg >= 0) bump(by_seg[static_cast<std::size_t>(sg)]);
        if (s == sla_status::breached)
            out.breaches.push_back({i, rp, tm, sg, created, deadline, over,
                                    exact_ratio(static_cast<detail::uint128>(over), 1, c.display_unit), touched});
    }
    out.groups.push_back(to_group(all, "all", -1, c.display_unit));
    for (std::size_t r = 0; r < by_rep.size(); ++r) out.groups.push_back(to_group(by_rep[r], "rep", static_cast<std::int32_t>(r), c.display_unit));
    for (std::size_t r = 0; r < by_team.size(); ++r) out.groups.push_back(to_group(by_team[r], "team", static_cast<std::int32_t>(r), c.display_unit));
    for (std::size_t r = 0; r < by_seg.size(); ++r) out.groups.push_back(to_group(by_seg[r], "segment", static_cast<std::int32_t>(r), c.display_unit));
    return out;
}

FUNNELKIT_INLINE explanation response_sla_result::explain() const {
    using namespace detail::sla_impl;
    explanation e;
    e.metric = "response SLA compliance: " + commitment.name;
    e.formula = "compliance = met / (met + breached); met: touch " + std::to_string(commitment.touches) +
                " at or before created + limit; pending (untouched, limit not passed) excluded";
    const sla_group& g = groups.front();
    e.inputs = {{"met", g.met},
                {"breached", g.breached},
                {"breached_untouched", g.breached_untouched},
                {"pending", g.pending},
                {"not_started", g.not_started},
                {"compliance", g.compliance},
                {"mean_over", g.mean_over},
                {"max_over", g.max_over}};
    e.options = {{"team", commitment.team},
                 {"limit", commitment.limit},
                 {"touches", commitment.touches},
                 {"as_of", as_of},
                 {"unit_name", commitment.unit_name}};
    e.note = "touches after as_of are ignored; items created after as_of are not_started";
    return e;
}

FUNNELKIT_INLINE volume_sla_result sla_volume(const sla_commitment& c, const volume_records& rec, std::span<const period> periods,
                                              std::int64_t as_of, std::int32_t reps) {
    c.validate();
    if (c.kind != sla_kind::volume) detail::throw_option("kind", "response", "cannot be evaluated as a volume SLA");
    if (reps < 1) detail::throw_option("reps", std::to_string(reps), "must be >= 1");
    const std::size_t n = rec.size();
    if (rec.rep.size() != n) detail::throw_length("rep", rec.rep.size(), "time", n);
    validate_periods(periods);
    const std::size_t R = static_cast<std::size_t>(reps) + 1;
    const std::size_t P = periods.size();
    std::vector<std::int64_t> delivered(P * R, 0);
    for (std::size_t i = 0; i < n; ++i) {
        const std::int32_t r = rec.rep[i];
        if (r < 0 || r >= reps) detail::throw_at_row("rep", i, std::to_string(r), "is not a rep code (0.." + std::to_string(reps - 1) + ")");
        const std::int64_t t = rec.time[i];
        if (t >= as_of) continue;
        auto it = std::upper_bound(periods.begin(), periods.end(), t, [](std::int64_t v, const period& q) { return v < q.start; });
        if (it == periods.begin()) continue;
        const auto p = static_cast<std::size_t>(it - periods.begin()) - 1;
        if (t >= periods[p].end) continue;
        delivered[p * R] += 1;
        delivered[p * R + 1 + static_cast<std::size_t>(r)] += 1;
    }
    volume_sla_result out;
    out.commitment = c;
    out.as_of = as_of;
    out.reps = reps;
    for (std::size_t p = 0; p < P; ++p) {
        const period q = periods[p];
        // The elapsed share from the exact integer differences, reduced before it is rounded:
        // periods near the int64 limits keep their length, and the same instants in another
        // time unit give the same share to the bit.
        double elapsed = as_of >= q.end ? 1.0 : 0.0;
        if (as_of > q.start && as_of < q.end) {
            const std::uint64_t done = detail::elapsed_ticks(q.start, as_of), length = detail::elapsed_ticks(q.start, q.end);
            const std::uint64_t g = std::gcd(done, length);
            elapsed = static_cast<double>(done / g) / static_cast<double>(length / g);
        }
        for (std::size_t r = 0; r < R; ++r) {
            volume_row row;
            row.period_index = p;
            row.interval = q;
            row.rep = static_cast<std::int32_t>(r) - 1;
            row.committed = r == 0 ? c.target * reps : c.target;
            row.delivered = static_cast<double>(delivered[p * R + r]);
            row.elapsed = elapsed;
            row.expected_to_date = row.committed * elapsed;
            if (elapsed > 0) {
                if (row.expected_to_date > 0) row.pacing = row.delivered / row.expected_to_date;
                row.forecast = row.delivered / elapsed;
            }
            if (elapsed >= 1.0) {
                row.status = row.delivered >= row.committed ? sla_status::met : sla_status::breached;
                row.shortfall = std::max(0.0, row.committed - row.delivered);
                row.on_track = row.status == sla_status::met;
            } else {
                row.status = elapsed > 0 ? sla_status::pending : sla_status::not_started;
                const double f = row.forecast.value_or(0.0);
                row.on_track = elapsed == 0 || f >= row.committed;
                row.shortfall = elapsed > 0 ? std::max(0.0, row.committed - f) : 0.0;
            }
            if (row.status == sla_status::breached) out.breaches.push_back(row);
            out.rows.push_back(row);
        }
    }
    return out;
}

FUNNELKIT_INLINE explanation volume_sla_result::explain() const {
    using namespace detail::sla_impl;
    explanation e;
    e.metric = "volume SLA: " + commitment.name;
    e.formula = "delivered vs committed (target per rep per period); pacing = delivered / (committed * elapsed share); "
                "forecast = delivered / elapsed share";
    std::int64_t met = 0, breached = 0, pending = 0;
    for (const auto& r : rows) {
        if (r.rep >= 0) continue;
        met += r.status == sla_status::met;
        breached += r.status == sla_status::breached;
        pending += r.status == sla_status::pending;
    }
    e.inputs = {{"periods met (team)", met},
                {"periods breached (team)", breached},
                {"periods running (team)", pending},
                {"breach rows", breaches.size()}};
    e.options = {{"team", commitment.team}, {"target", commitment.target}, {"reps", reps}, {"as_of", as_of}};
    e.note = "events at or after as_of are ignored";
    return e;
}

FUNNELKIT_END_NAMESPACE
