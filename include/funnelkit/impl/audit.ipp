// Definitions for funnelkit/audit.hpp; config.hpp explains the compiled and header-only modes.
#pragma once

#include "funnelkit/audit.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <string>

#include "funnelkit/error.hpp"

FUNNELKIT_BEGIN_NAMESPACE

namespace detail::audit_impl {

inline void check_flags(std::string_view name, std::span<const std::uint8_t> f, std::size_t n, bool required) {
    if (f.empty() && !required) return;
    if (f.size() != n) detail::throw_length(name, f.size(), "won", n);
    for (std::size_t i = 0; i < n; ++i)
        if (f[i] > 1) [[unlikely]] detail::throw_at_row(name, i, std::to_string(f[i]), "must be 0 or 1");
}

inline std::optional<double> ratio(std::int64_t a, std::int64_t b) {
    if (b == 0) return std::nullopt;
    return static_cast<double>(a) / static_cast<double>(b);
}

// (score, won) of closed leads, sorted ascending by score.
struct scored {
    double score;
    std::uint8_t won;
    bool operator<(const scored& o) const noexcept { return score < o.score; }
};

inline std::optional<double> auc_sorted(const std::vector<scored>& v, std::vector<roc_point>* roc) {
    std::int64_t pos = 0, neg = 0;
    for (const auto& s : v) (s.won ? pos : neg) += 1;
    if (pos == 0 || neg == 0) return std::nullopt;
    // Ascending: each positive beats the negatives below it and ties half of its group's.
    double num = 0.0;
    std::int64_t neg_below = 0;
    for (std::size_t i = 0; i < v.size();) {
        std::size_t j = i;
        std::int64_t p = 0, n = 0;
        for (; j < v.size() && v[j].score == v[i].score; ++j) (v[j].won ? p : n) += 1;
        num += static_cast<double>(p) * (static_cast<double>(neg_below) + 0.5 * static_cast<double>(n));
        neg_below += n;
        i = j;
    }
    if (roc) {
        roc->clear();
        roc->push_back({std::numeric_limits<double>::infinity(), 0.0, 0.0});
        std::int64_t tp = 0, fp = 0;
        for (std::size_t i = v.size(); i > 0;) {
            std::size_t j = i;
            for (; j > 0 && v[j - 1].score == v[i - 1].score; --j) (v[j - 1].won ? tp : fp) += 1;
            roc->push_back({v[i - 1].score, static_cast<double>(fp) / static_cast<double>(neg),
                            static_cast<double>(tp) / static_cast<double>(pos)});
            i = j;
        }
    }
    return num / (static_cast<double>(pos) * static_cast<double>(neg));
}

struct summariser {
    const audit_columns& c;
    std::span<const std::uint8_t> mql;  // resolved MQL flags

    bool closed(std::size_t i) const noexcept { return c.closed.empty() || c.closed[i] != 0; }

    audit_summary run(std::span<const std::size_t> rows, std::vector<roc_point>* roc) const {
        audit_summary s;
        std::vector<scored> sc;
        double score_sum = 0.0;
        for (std::size_t i : rows) {
            ++s.leads;
            const bool m = mql[i] != 0, w = c.won[i] != 0, cl = closed(i);
            const bool acc = !c.accepted.empty() && c.accepted[i];
            const bool q = !c.sql.empty() && c.sql[i];
            s.mqls += m;
            s.accepted += m && acc;
            s.sqls += q;
            s.won += w;
            s.closed += cl;
            s.mql_sqls += m && q;
            s.mql_sql_won += m && q && w;
            if (cl) {
                if (m && w) ++s.tp;
                else if (m) ++s.fp;
                else if (w) ++s.fn;
                else ++s.tn;
            }
            if (!c.score.empty()) {
                score_sum += c.score[i];
                if (cl) sc.push_back({c.score[i], static_cast<std::uint8_t>(w)});
            }
        }
        if (!c.accepted.empty()) s.acceptance_rate = ratio(s.accepted, s.mqls);
        if (!c.sql.empty()) {
            s.mql_to_sql = ratio(s.mql_sqls, s.mqls);
            s.sql_to_won = ratio(s.mql_sql_won, s.mql_sqls);
        }
        s.precision = ratio(s.tp, s.tp + s.fp);
        s.recall = ratio(s.tp, s.tp + s.fn);
        if (!c.score.empty()) {
            if (s.leads > 0) s.mean_score = score_sum / static_cast<double>(s.leads);
            std::sort(sc.begin(), sc.end());
            s.auc = auc_sorted(sc, roc);
        }
        return s;
    }
};

}  // namespace detail::audit_impl

FUNNELKIT_INLINE std::optional<double> roc_auc(std::span<const double> score, std::span<const std::uint8_t> label) {
    using namespace detail::audit_impl;
    if (label.size() != score.size()) detail::throw_length("label", label.size(), "score", score.size());
    std::vector<scored> v(score.size());
    for (std::size_t i = 0; i < score.size(); ++i) {
        if (!std::isfinite(score[i])) detail::throw_at_row("score", i, detail::to_text(score[i]), "is not a finite score");
        if (label[i] > 1) detail::throw_at_row("label", i, std::to_string(label[i]), "must be 0 or 1");
        v[i] = {score[i], label[i]};
    }
    std::sort(v.begin(), v.end());
    return auc_sorted(v, nullptr);
}

FUNNELKIT_INLINE audit_result qualification_audit(const audit_columns& c, const audit_options& op) {
    using namespace detail::audit_impl;
    const std::size_t n = c.won.size();
    check_flags("won", c.won, n, true);
    check_flags("mql", c.mql, n, false);
    check_flags("accepted", c.accepted, n, false);
    check_flags("sql", c.sql, n, false);
    check_flags("closed", c.closed, n, false);
    if (!c.score.empty() && c.score.size() != n) detail::throw_length("score", c.score.size(), "won", n);
    if (!c.period.empty() && c.period.size() != n) detail::throw_length("period", c.period.size(), "won", n);
    for (std::size_t i = 0; i < c.score.size(); ++i)
        if (!std::isfinite(c.score[i])) [[unlikely]]
            detail::throw_at_row("score", i, detail::to_text(c.score[i]), "is not a finite score");
    for (std::size_t i = 0; i < c.closed.size(); ++i)
        if (c.won[i] && !c.closed[i]) [[unlikely]]
            detail::throw_at_row("closed", i, "0", "contradicts won = 1 (a won lead is closed)");
    for (std::size_t i = 0; i < c.period.size(); ++i)
        if (c.period[i] < 0) [[unlikely]]
            detail::throw_at_row("period", i, std::to_string(c.period[i]), "is negative; period codes must be >= 0");
    std::vector<std::uint8_t> derived;
    std::span<const std::uint8_t> mql = c.mql;
    if (mql.empty()) {
        if (!op.threshold) detail::throw_option("threshold", "none", "is required when there is no mql column");
        if (c.score.empty() && n > 0) detail::throw_option("threshold", detail::to_text(*op.threshold), "needs a score column");
        if (!std::isfinite(*op.threshold)) detail::throw_option("threshold", detail::to_text(*op.threshold), "must be finite");
        derived.resize(n);
        for (std::size_t i = 0; i < c.score.size(); ++i) derived[i] = c.score[i] >= *op.threshold ? 1 : 0;
        mql = derived;
    }
    for (double t : op.sweep)
        if (std::isnan(t)) detail::throw_option("sweep", "NaN", "is not a threshold");

    const summariser sum{c, mql};
    audit_result out;
    std::vector<std::size_t> all(n);
    for (std::size_t i = 0; i < n; ++i) all[i] = i;
    out.overall = sum.run(all, &out.roc);
    if (!out.overall.auc) out.roc.clear();

    if (!c.score.empty()) {
        std::vector<double> pos, neg, every(c.score.begin(), c.score.end());
        for (std::size_t i = 0; i < n; ++i)
            if (sum.closed(i)) (c.won[i] ? pos : neg).push_back(c.score[i]);
        std::sort(pos.begin(), pos.end());
        std::sort(neg.begin(), neg.end());
        std::sort(every.begin(), every.end());
        std::vector<double> ts = op.sweep;
        if (ts.empty()) {
            ts = pos;
            ts.insert(ts.end(), neg.begin(), neg.end());
            std::sort(ts.begin(), ts.end());
            ts.erase(std::unique(ts.begin(), ts.end()), ts.end());
        }
        auto at_least = [](const std::vector<double>& v, double t) {
            return static_cast<std::int64_t>(v.end() - std::lower_bound(v.begin(), v.end(), t));
        };
        for (double t : ts) {
            sweep_point p{};
            p.threshold = t;
            p.mqls = at_least(every, t);
            p.tp = at_least(pos, t);
            p.fp = at_least(neg, t);
            p.fn = static_cast<std::int64_t>(pos.size()) - p.tp;
            p.tn = static_cast<std::int64_t>(neg.size()) - p.fp;
            p.precision = ratio(p.tp, p.tp + p.fp);
            p.recall = ratio(p.tp, p.tp + p.fn);
            if (p.precision && p.recall && *p.precision + *p.recall > 0)
                p.f1 = 2 * *p.precision * *p.recall / (*p.precision + *p.recall);
            out.sweep.push_back(p);
        }
    }

    if (!c.period.empty() && n > 0) {
        std::vector<std::pair<std::int32_t, std::size_t>> keyed(n);
        for (std::size_t i = 0; i < n; ++i) keyed[i] = {c.period[i], i};
        std::sort(keyed.begin(), keyed.end());
        std::vector<std::size_t> rows;
        for (std::size_t i = 0; i < n;) {
            rows.clear();
            std::size_t j = i;
            for (; j < n && keyed[j].first == keyed[i].first; ++j) rows.push_back(keyed[j].second);
            out.periods.push_back(keyed[i].first);
            out.by_period.push_back(sum.run(rows, nullptr));
            i = j;
        }
    }
    return out;
}

FUNNELKIT_INLINE std::int32_t month_index(std::int64_t unix_seconds) noexcept {
    using namespace std::chrono;
    const auto d = floor<days>(sys_seconds{seconds{unix_seconds}});
    const year_month_day ymd{d};
    return (static_cast<int>(ymd.year()) - 1970) * 12 + static_cast<std::int32_t>(static_cast<unsigned>(ymd.month())) - 1;
}

FUNNELKIT_END_NAMESPACE
