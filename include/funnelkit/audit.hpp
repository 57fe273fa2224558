// funnelkit: the qualification audit. Does the MQL definition (a score threshold or a rule)
// pick the leads that end up winning, does sales accept what marketing qualifies, and does
// the definition drift from month to month?
//
// Input: one row per lead with its score (optional), its MQL flag (optional: the rule
// outcome; when absent, MQL means score >= threshold), whether sales accepted it, whether it
// became an SQL, whether it was won, and optionally whether its outcome is final ("closed":
// won, lost or disqualified) and a period code (e.g. a month index) for drift.
//
// Definitions (counts are always reported with the rates):
// - acceptance rate = MQLs accepted by sales / MQLs;
// - MQL -> SQL = MQLs that became SQL / MQLs; SQL -> won = those of them won / MQL SQLs;
// - against the outcome "won", among closed leads only (open leads have no outcome yet and
//   are neither hits nor misses): tp = MQL and won, fp = MQL and closed and not won,
//   fn = not MQL and won, tn = the rest of the closed leads; precision = tp / (tp + fp),
//   recall = tp / (tp + fn);
// - ROC of the score over closed leads, positives = won: one point per distinct score,
//   from (0, 0) to (1, 1); AUC = the trapezoid area, which equals the Mann-Whitney
//   probability P(score of a won lead > score of a lost one) + 1/2 P(tie), ties exact.
// Rates with a zero denominator are undefined (nullopt).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "funnelkit/config.hpp"

FUNNELKIT_BEGIN_NAMESPACE

struct audit_columns {
    std::span<const double> score{};
    std::span<const std::uint8_t> mql{};
    std::span<const std::uint8_t> accepted{};
    std::span<const std::uint8_t> sql{};
    std::span<const std::uint8_t> won{};
    std::span<const std::uint8_t> closed{};
    std::span<const std::int32_t> period{};
    std::size_t size() const noexcept { return won.size(); }
};

struct audit_options {
    /// MQL means score >= threshold when the mql column is empty; required then.
    std::optional<double> threshold{};
    /// Thresholds of the sweep; empty: every distinct score of the closed leads.
    std::vector<double> sweep{};
};

struct audit_summary {
    std::int64_t leads = 0, mqls = 0, accepted = 0, sqls = 0, won = 0, closed = 0;
    std::int64_t mql_sqls = 0, mql_sql_won = 0;
    std::int64_t tp = 0, fp = 0, fn = 0, tn = 0;
    std::optional<double> acceptance_rate, mql_to_sql, sql_to_won, precision, recall;
    /// Defined with a score column and at least one won and one closed-not-won lead.
    std::optional<double> auc;
    std::optional<double> mean_score;
};

struct roc_point {
    double threshold;  ///< leads with score >= threshold are predicted positive (+inf first)
    double fpr, tpr;
    friend bool operator==(const roc_point&, const roc_point&) = default;
};

struct sweep_point {
    double threshold;
    std::int64_t mqls;  ///< leads (closed or not) with score >= threshold
    std::int64_t tp, fp, fn, tn;
    std::optional<double> precision, recall, f1;
};

struct audit_result {
    audit_summary overall;
    std::vector<roc_point> roc;
    std::vector<sweep_point> sweep;
    /// Per period code present in the data, ascending: drift of the summary.
    std::vector<std::int32_t> periods;
    std::vector<audit_summary> by_period;
};

/// Runs the audit. Throws funnelkit::invalid_argument naming the column, row and value on
/// mismatched lengths, NaN or infinite scores, flags other than 0/1, negative period codes,
/// won without closed, or a missing threshold when the mql column is empty.
audit_result qualification_audit(const audit_columns& leads, const audit_options& options = {});

[[deprecated("use qualification_audit")]]
inline audit_result audit_qualification(const audit_columns& leads, const audit_options& options = {}) {
    return qualification_audit(leads, options);
}

/// AUC of scores against 0/1 labels with exact tie handling (the Mann-Whitney statistic over
/// positives x negatives); nullopt when a class is empty. Throws on NaN scores or bad labels.
std::optional<double> roc_auc(std::span<const double> score, std::span<const std::uint8_t> label);

/// Calendar month index of a Unix time in seconds, UTC: (year - 1970) * 12 + month - 1.
std::int32_t month_index(std::int64_t unix_seconds) noexcept;

FUNNELKIT_END_NAMESPACE

#ifdef FUNNELKIT_HEADER_ONLY
#include "funnelkit/impl/audit.ipp"
#endif
