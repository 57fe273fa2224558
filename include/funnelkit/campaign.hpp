// funnelkit: the closed-loop campaign and source report. Per segment of stage-change records
// (segment = lead source, campaign, or any code): leads, MQLs, SQLs, opportunities, won, lost,
// revenue; with a cost per segment: cost per lead, cost per MQL, customer acquisition cost
// (CAC) and return on investment; conversion rates with Wilson intervals; sales velocity; and
// a test of each segment's lead-to-won rate against all other leads.
//
// Definitions:
// - An entity belongs to the segment of its earliest record (ties: the smallest code), as in
//   conversion.hpp. Every entity is a lead.
// - Reaching MQL, SQL, Opportunity and won follows the conversion rules: with
//   skipped_stages::implied (default) reaching a ladder stage implies the earlier ones;
//   recycled entities count once.
// - lost = entities with a record of a lost-kind stage that were never won.
// - revenue = per won entity, the amount of its latest won-stage record (amount column;
//   0 without one; of won-stage records tied at that time, the largest amount), summed.
// - cost per lead = cost / leads; cost per MQL = cost / MQLs; CAC = cost / won;
//   ROI = (revenue - cost) / cost. Undefined (nullopt) on a zero denominator.
// - Missing costs: a segment whose cost is NaN or beyond the end of the cost table has no
//   cost; its cost metrics are nullopt, it is flagged (cost_missing) and listed in
//   missing_cost. The total row's cost is the sum of the known costs; its cost metrics are
//   nullopt whenever any segment with leads lacks a cost, rather than understating CAC.
// - Rates: lead->MQL, MQL->SQL, SQL->opportunity, opportunity->won (step), lead->won
//   (cumulative), each x of n with a Wilson interval at `level`. With
//   skipped_stages::not_implied a step rate can exceed 1 (more entities have a record of a
//   stage than of the stage before it); such a rate is reported and its interval is undefined
//   (lower and upper nullopt), as it is for n = 0.
// - Velocity: days to win = mean time from the entity's first record to its first won record
//   over won entities (in days of `seconds_per_day` time units); average deal = revenue /
//   won; win rate = won / (won + lost); velocity = opportunities * average deal * win rate /
//   days to win, revenue per day over the whole data period.
// - Significance: two-proportion z-test (pooled) of lead->won, segment vs all other leads,
//   two-sided p-value, and Holm-adjusted p-values over the segments tested (segments where
//   the test is defined).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "funnelkit/columns.hpp"
#include "funnelkit/config.hpp"
#include "funnelkit/conversion.hpp"
#include "funnelkit/detail/exact_sum.hpp"
#include "funnelkit/model.hpp"

FUNNELKIT_BEGIN_NAMESPACE

struct campaign_options {
    /// Ladder stages counted as MQL, SQL and opportunity (names in the model).
    std::string mql_stage = "MQL";
    std::string sql_stage = "SQL";
    std::string opportunity_stage = "Opportunity";
    skipped_stages skipped = skipped_stages::implied;
    /// Cost per segment code (NaN: missing); finite and >= 0 otherwise.
    std::vector<double> cost{};
    /// Confidence level of the Wilson intervals, in (0, 1).
    double level = 0.95;
    /// Time units per day, for days to win (86400 for times in seconds).
    double seconds_per_day = 86'400.0;
    /// Worker threads for records not sorted by entity (>= 1): each reads every record and
    /// keeps the entities of its hash partition. Changes no result.
    unsigned threads = 1;
};

/// x of n: the rate x / n (nullopt for n = 0) and its interval (nullopt for n = 0 or x > n).
struct rate_estimate {
    std::int64_t x = 0, n = 0;
    std::optional<double> rate, lower, upper;
};

struct campaign_row {
    /// Segment code; -1 for the total row.
    std::int32_t segment = -1;
    std::int64_t leads = 0, mqls = 0, sqls = 0, opportunities = 0, won = 0, lost = 0;
    double revenue = 0.0;
    std::optional<double> cost;
    bool cost_missing = false;
    std::optional<double> cost_per_lead, cost_per_mql, cac, roi;
    rate_estimate lead_to_mql, mql_to_sql, sql_to_opportunity, opportunity_to_won, lead_to_won;
    std::optional<double> days_to_win, average_deal, win_rate, velocity;
    /// Segment rows only: lead->won vs all other leads.
    std::optional<double> z, p_value, p_holm;
};

/// The result of campaign_report() (named campaign_report before the function took that name).
struct campaign_report_result {
    std::vector<campaign_row> rows;  ///< one per segment code 0..n-1
    campaign_row total;
    std::vector<std::int32_t> missing_cost;  ///< segments with leads but no cost
};

/// What makes two campaign states comparable; 0 / -1 / nullopt: not recorded (a state built by
/// hand or read without the field). Merging states whose recorded fields differ is an error
/// naming the field.
struct campaign_definition {
    /// stage_model::fingerprint() of the model.
    std::uint64_t model_fingerprint = 0;
    /// 0: skipped stages implied, 1: not implied.
    std::optional<std::uint8_t> skipped{};
    /// Ladder ranks of the MQL, SQL and opportunity stages.
    std::int32_t mql_rank = -1, sql_rank = -1, opportunity_rank = -1;
    /// Time units per day of the durations to win (campaign_options::seconds_per_day).
    double ticks_per_day = 0.0;
    friend bool operator==(const campaign_definition&, const campaign_definition&) = default;
};

/// The sums of one segment over some entities. Every field adds exactly: integer counts, the
/// revenue as an exact sum of the won amounts (rounded once when read, so it does not depend
/// on the order of the entities nor on the partitioning), the time to win as a 128-bit
/// integer of time units.
struct campaign_segment_sums {
    std::int64_t leads = 0, mqls = 0, sqls = 0, opportunities = 0, won = 0, lost = 0;
    detail::exact_sum revenue{};
    detail::int128 ticks_to_win = 0;
    friend bool operator==(const campaign_segment_sums&, const campaign_segment_sums&) = default;
};

/// Mergeable state of campaign_report(): the per-segment sums of a set of entities. The
/// report is a function of the state and the report-only options (cost, level), so the report
/// of merged states (entities partitioned by id) equals the report of all the records, to the
/// last bit. Merging states with fewer segments pads them with empty segments.
class campaign_state {
public:
    campaign_state() = default;
    explicit campaign_state(std::size_t segments, const campaign_definition& definition = {});

    std::size_t segments() const noexcept { return sums_.size(); }
    const campaign_definition& definition() const noexcept { return definition_; }
    const campaign_segment_sums& segment(std::size_t g) const { return sums_.at(g); }

    /// Adds one entity to segment g (growing the state when g >= segments()): lead, the
    /// reached flags, won (with its amount and time to win, >= 0) or lost. Counters that
    /// would overflow throw and change nothing.
    void add_entity(std::size_t g, bool mql, bool sql, bool opportunity, bool won, bool lost, double amount,
                    detail::int128 ticks_to_win);
    /// Throws funnelkit::invalid_argument, leaving this state unchanged, when a recorded
    /// definition field differs ("cannot merge campaign_state: model differs (...)"), or a
    /// count would overflow.
    void merge(const campaign_state& other);
    campaign_state& operator+=(const campaign_state& other) { merge(other); return *this; }
    void reset();

    std::vector<std::byte> serialize() const;
    static campaign_state deserialize(const void* data, std::size_t size);
    /// Equal definitions and equal sums (a missing segment equals an empty one).
    friend bool operator==(const campaign_state& a, const campaign_state& b);

private:
    campaign_definition definition_{};
    std::vector<campaign_segment_sums> sums_;
};

/// The state of the records' entities (what campaign_report() reports), with at least
/// `segments` segments. Same checks as campaign_report().
campaign_state campaign_sums(const stage_model& model, const stage_records& records,
                             const campaign_options& options = {}, std::size_t segments = 0);

/// The report of a state, with options.cost and options.level (the other options must agree
/// with the state's recorded definition; a recorded ticks_per_day that differs from
/// options.seconds_per_day is an error). Rows: max(state.segments(), options.cost.size()).
campaign_report_result campaign_report(const campaign_state& state, const campaign_options& options = {});

/// Builds the report. The records need a segment column. Throws funnelkit::invalid_argument
/// on invalid records (see stage_records::validate), a missing segment column, unknown stage
/// names, a negative or infinite cost (naming its row), or a level outside (0, 1).
campaign_report_result campaign_report(const stage_model& model, const stage_records& records,
                                       const campaign_options& options = {});

[[deprecated("use campaign_report")]]
inline campaign_report_result compute_campaign_report(const stage_model& model, const stage_records& records,
                                                      const campaign_options& options = {}) {
    return campaign_report(model, records, options);
}

FUNNELKIT_END_NAMESPACE

#ifdef FUNNELKIT_HEADER_ONLY
#include "funnelkit/impl/campaign.ipp"
#endif
