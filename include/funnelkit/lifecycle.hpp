// funnelkit: stage histories built from raw stage-change records, and what they tell: reach
// (also per recycle pass), cohorts by calendar period, transitions, exits and disqualification
// reasons, time in stage and time to convert with censoring, and stuck (aging) entities.
//
// Ordering rule. Records are ordered per entity by time; records of one entity at the same
// time are ordered by ladder rank (earlier stages first), then off-ladder outcomes, then by
// stage code, so "Lead and MQL at the same second" reads Lead -> MQL whatever the row order.
// Exact duplicates (same entity, time and stage) count once, with the smallest of their reason
// codes. The input may come in any row order: histories are identical for every permutation of
// the rows. Times must not be the smallest int64 (it is `never` below), and as_of minus the
// earliest time must fit int64 (every duration lies within it).
//
// Passes. A move to an earlier ladder stage (a backward move, e.g. sales recycling a lead to
// marketing) ends a pass and starts the next; `recycles` counts these moves.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "funnelkit/accumulators.hpp"
#include "funnelkit/columns.hpp"
#include "funnelkit/config.hpp"
#include "funnelkit/conversion.hpp"
#include "funnelkit/model.hpp"
#include "funnelkit/period.hpp"
#include "funnelkit/rates.hpp"

FUNNELKIT_BEGIN_NAMESPACE

/// Marks "never" in entry-time columns.
inline constexpr std::int64_t never = std::numeric_limits<std::int64_t>::min();

struct history_options {
    /// The observation end ("now"): open entities are censored here. Default: the largest
    /// time in the records. Must not be earlier than any record.
    std::optional<std::int64_t> as_of{};
    /// Time unit of the records, ticks per second (1 for seconds, 1000 for milliseconds), > 0.
    /// Changes no history; lifecycle_summary records it so that summaries measured in
    /// different units do not merge.
    std::int64_t ticks_per_second = 1;
    /// Worker threads for records not in history order (>= 1): they take the grouping
    /// primitive's buckets of entities (grouping.hpp). Changes no history.
    unsigned threads = 1;
};

/// Per-entity stage histories. Entities are ordered by id. Each entity's records are kept in
/// history order (see the ordering rule) as one compressed row of events.
class stage_histories {
public:
    std::size_t size() const noexcept { return entity_.size(); }
    std::size_t n_stages() const noexcept { return model_.ladder().size(); }
    std::size_t n_segments() const noexcept { return n_segments_; }
    std::size_t n_reasons() const noexcept { return n_reasons_; }
    const stage_model& model() const noexcept { return model_; }
    std::int64_t as_of() const noexcept { return as_of_; }
    /// history_options::ticks_per_second of the records.
    std::int64_t ticks_per_second() const noexcept { return ticks_per_second_; }

    /// Entity ids, ascending.
    std::span<const std::int64_t> entities() const noexcept { return entity_; }
    /// Segment of each entity: the segment of its earliest record (ties: the smallest code);
    /// -1 without a segment column.
    std::span<const std::int32_t> segments() const noexcept { return segment_; }

    /// Events of entity i are rows offsets()[i] .. offsets()[i+1]-1 of event_times(),
    /// event_stages() and event_reasons() (reason -1 when none; event_reasons() is empty when the
    /// records had no reason column).
    std::span<const std::size_t> offsets() const noexcept { return offset_; }
    std::span<const std::int64_t> event_times() const noexcept { return time_; }
    std::span<const std::int32_t> event_stages() const noexcept { return stage_; }
    std::span<const std::int32_t> event_reasons() const noexcept { return reason_; }

    /// First time entity i entered ladder stage `rank` (recorded), or `never`.
    std::int64_t first_entry(std::size_t i, std::size_t rank) const noexcept;
    /// Reason code of entity i's last event (-1 when none or no reason column).
    std::int32_t last_reason(std::size_t i) const noexcept {
        return reason_.empty() ? -1 : reason_[offset_[i + 1] - 1];
    }
    /// First time entity i was at ladder stage `rank` or beyond: the entry time when skipped
    /// earlier stages count as reached. `never` if it never got that far.
    std::int64_t reach_time(std::size_t i, std::size_t rank) const noexcept;
    /// Ladder stages entity i has records of (bit k = stage k).
    std::uint64_t recorded(std::size_t i) const noexcept { return recorded_[i]; }
    /// Ladder stages below the highest recorded one that entity i has no record of.
    std::uint64_t skipped(std::size_t i) const noexcept;
    /// Number of backward ladder moves of entity i.
    std::int32_t recycles(std::size_t i) const noexcept { return recycles_[i]; }
    /// Stage code of entity i's last event (its current stage or its outcome).
    std::int32_t current(std::size_t i) const noexcept { return stage_[offset_[i + 1] - 1]; }
    /// Time of entity i's last event.
    std::int64_t current_since(std::size_t i) const noexcept { return time_[offset_[i + 1] - 1]; }
    /// True when entity i's last event is a terminal stage (won, lost, disqualified).
    bool closed(std::size_t i) const noexcept { return model_.is_terminal(current(i)); }
    /// Ladder rank of the last step-kind stage entity i was in (the stage it was won, lost or
    /// disqualified from, or its current stage when open); -1 when it has no step-kind record.
    std::int32_t exit_rank(std::size_t i) const noexcept { return exit_rank_[i]; }

    friend stage_histories build_histories(const stage_model&, const stage_records&, const history_options&);

private:
    explicit stage_histories(stage_model m) : model_(std::move(m)) {}
    // Appends one entity's history from its records in history order (build_histories).
    template <class Time, class Stage, class Segment, class Reason>
    void append_entity(std::int64_t id, std::size_t rows, Time time_at, Stage stage_at, Segment segment_at,
                       Reason reason_at, bool has_segment, bool has_reason);
    // Appends entities [first, last) of another part (build_histories with threads).
    void append_part(const stage_histories& part, std::size_t first, std::size_t last);
    // Empties the entities and events, keeping the capacity.
    void clear_entities() noexcept;
    // build_histories for records not in history order: groups them by entity in ascending
    // id order and appends each entity's history to h.
    static void group_histories_in_order(const stage_model& model, const stage_records& records, unsigned threads,
                                         stage_histories& h);

    stage_model model_;
    std::int64_t as_of_ = 0;
    std::int64_t ticks_per_second_ = 1;
    std::size_t n_segments_ = 0;
    std::size_t n_reasons_ = 0;
    std::vector<std::int64_t> entity_;
    std::vector<std::int32_t> segment_;
    std::vector<std::size_t> offset_{0};
    std::vector<std::int64_t> time_;
    std::vector<std::int32_t> stage_;
    std::vector<std::int32_t> reason_;
    std::vector<std::uint64_t> recorded_;
    std::vector<std::int32_t> recycles_;
    std::vector<std::int32_t> exit_rank_;
};

/// Builds histories from records in any order (validated; throws funnelkit::invalid_argument).
stage_histories build_histories(const stage_model& model, const stage_records& records,
                                const history_options& options = {});

/// recycled_passes (conversion.hpp): the option words "first" and "every".
std::string_view to_string(recycled_passes passes) noexcept;
/// Parses "first" (or "first_only") and "every" (or "every_pass"); throws
/// funnelkit::invalid_argument naming option 'passes'.
recycled_passes parse_recycled_passes(std::string_view name);

struct reach_options {
    skipped_stages skipped = skipped_stages::implied;
    recycled_passes passes = recycled_passes::first_only;
};

/// Reach counts from histories, grouped by `group` (one code >= 0 per entity, or -1 to leave
/// the entity out of the per-group rows; it still counts overall). An empty `group` groups by
/// the histories' segments. With first_only, the reach of an entity is the set of stages of
/// all its records, as conversion() defines it; with every_pass, each pass counts.
conversion_counts reach(const stage_histories& h, std::span<const std::int32_t> group = {},
                        const reach_options& options = {});

// ---- cohorts ------------------------------------------------------------------------------

/// Former name of period_kind (period.hpp).
using period_unit [[deprecated("use period_kind")]] = period_kind;

struct cohort_options {
    /// Ladder rank whose reach time defines the cohort (0: the first stage).
    std::size_t stage = 0;
    period_kind period = period_kind::month;
    /// Time unit of the records: ticks per second (1 for seconds, 1000 for milliseconds,
    /// 1'000'000'000 for nanoseconds).
    std::int64_t ticks_per_second = 1;
    /// Fixed offset of local time from UTC, in seconds (e.g. -18000 for UTC-5). Periods are
    /// calendar periods of local time. Weeks start on Monday (ISO 8601).
    std::int64_t utc_offset_seconds = 0;
    /// When set (>= 0, in the records' unit), assign_cohorts() also flags each cohort mature or
    /// not at the histories' as_of (see cohort_mature()).
    std::optional<std::int64_t> maturity{};
};

/// Former name of period (period.hpp).
using period_bounds [[deprecated("use period")]] = period;

/// Calendar period containing time t: [start, end) as times in the records' unit (see
/// calendar_period in period.hpp).
inline period period_of(std::int64_t t, const cohort_options& options) {
    return calendar_period(t, {options.period, options.ticks_per_second, options.utc_offset_seconds});
}

struct cohort_assignment {
    /// Cohort code of each entity (index into start/end), -1 when it never reached the stage.
    std::vector<std::int32_t> code;
    /// Bounds of each cohort period, ascending; only periods with entities are listed.
    std::vector<std::int64_t> start;
    std::vector<std::int64_t> end;
    /// Per cohort, 1 when it is mature at as_of (only with cohort_options::maturity; else empty).
    std::vector<std::uint8_t> mature;
};
cohort_assignment assign_cohorts(const stage_histories& h, const cohort_options& options = {});

/// Cohort maturity: a cohort whose period ends at `end` is mature at `as_of` when it ended at
/// least `maturity` before, end + maturity <= as_of (all in the records' unit; computed without
/// overflow: a sum beyond the int64 range is later than every as_of). Its members then had at
/// least `maturity` to convert, so its rates are comparable with older cohorts'. Throws for a
/// negative maturity.
bool cohort_mature(std::int64_t end, std::int64_t maturity, std::int64_t as_of);
/// cohort_mature() of every period end: 1 mature, 0 not.
std::vector<std::uint8_t> mature_cohorts(std::span<const std::int64_t> end, std::int64_t maturity, std::int64_t as_of);

// ---- flow: transitions, exits and reasons --------------------------------------------------

/// Mergeable counts of how entities move: the transition matrix over stage codes (from the
/// record before to the record after, backward moves included), exits (per ladder rank of
/// exit_rank() and per segment: how many are open, won, lost or disqualified), and the reasons
/// of lost and disqualified exits per rank and segment. Merge adds counts (exact, associative
/// and commutative for disjoint entity sets), first growing either side to the larger number
/// of segments and reasons; the stage models must agree (their shape, and their fingerprints
/// where recorded: compute_flow records it, a state built by hand or read from format version 1
/// does not). Invariants (checked when bytes are read): counts >= 0, overall rows at least the
/// sum of the segment rows, and per rank and segment at most as many reasons as lost and
/// disqualified exits. Counts never wrap: an add or merge that would overflow int64 throws and
/// changes nothing. Serialisable with the magic "FKFL", format version 2.
class flow_counts {
public:
    /// Outcome columns of exits().
    enum outcome : std::size_t { open = 0, won = 1, lost = 2, disqualified = 3 };
    static constexpr std::int32_t overall = -1;

    flow_counts() = default;
    flow_counts(std::size_t n_codes, std::size_t n_ranks, std::size_t n_segments, std::size_t n_reasons,
                std::uint64_t model_fingerprint = 0);

    std::size_t n_codes() const noexcept { return n_codes_; }
    std::size_t n_ranks() const noexcept { return n_ranks_; }
    std::size_t n_segments() const noexcept { return n_segments_; }
    std::size_t n_reasons() const noexcept { return n_reasons_; }
    /// stage_model::fingerprint() of the model the codes refer to; 0 when not recorded.
    std::uint64_t model_fingerprint() const noexcept { return model_fingerprint_; }

    std::int64_t transitions(std::int32_t from, std::int32_t to) const;
    std::int64_t exits(std::size_t rank, outcome o, std::int32_t segment = overall) const;
    std::int64_t reasons(std::size_t rank, std::int32_t reason, std::int32_t segment = overall) const;

    void add_transition(std::int32_t from, std::int32_t to, std::int64_t n = 1);
    void add_exit(std::size_t rank, outcome o, std::int32_t segment, std::int32_t reason);

    void merge(const flow_counts& other);
    flow_counts& operator+=(const flow_counts& other) { merge(other); return *this; }
    void reset();
    std::vector<std::byte> serialize() const;
    static flow_counts deserialize(const void* data, std::size_t size);
    friend bool operator==(const flow_counts&, const flow_counts&) = default;

private:
    flow_counts reshaped(std::size_t n_segments, std::size_t n_reasons) const;
    std::size_t exit_index(std::size_t rank, std::size_t o, std::int32_t segment) const;
    std::size_t reason_index(std::size_t rank, std::int32_t reason, std::int32_t segment) const;
    std::size_t n_codes_ = 0, n_ranks_ = 0, n_segments_ = 0, n_reasons_ = 0;
    std::uint64_t model_fingerprint_ = 0;
    std::vector<std::int64_t> transitions_;  // n_codes x n_codes
    std::vector<std::int64_t> exits_;        // (n_segments + 1) x n_ranks x 4
    std::vector<std::int64_t> reasons_;      // (n_segments + 1) x n_ranks x n_reasons
};

flow_counts compute_flow(const stage_histories& h);

/// "open", "won", "lost" or "disqualified".
std::string_view to_string(flow_counts::outcome o) noexcept;
/// Parses the names above; throws funnelkit::invalid_argument naming option 'outcome'.
flow_counts::outcome parse_outcome(std::string_view name);

// ---- durations ------------------------------------------------------------------------------

/// One row per visit of a step-kind stage: how long the entity stayed, and whether it left
/// (completed) or is still there at as_of (censored, duration = as_of - entry).
struct stage_visits {
    std::vector<std::int32_t> entity;  // index into stage_histories::entities()
    std::vector<std::int32_t> stage;   // stage code
    std::vector<std::int64_t> entered;
    std::vector<std::int64_t> duration;
    std::vector<std::uint8_t> completed;
};
stage_visits time_in_stage(const stage_histories& h);

/// Time from reaching ladder stage `from` to reaching stage `to` (reach times, so skipped
/// stages count as reached when the later stage is), for every entity that reached `from`.
/// outcome 1: converted (duration to the conversion); 2: closed otherwise first (lost or
/// disqualified; duration to that exit, a competing outcome); 0: still open (censored at
/// as_of).
struct conversion_times {
    std::vector<std::int32_t> entity;
    std::vector<std::int64_t> duration;
    std::vector<std::uint8_t> outcome;
};
conversion_times time_to_convert(const stage_histories& h, std::size_t from, std::size_t to);

// ---- aging ------------------------------------------------------------------------------------

struct aging_options {
    /// Fixed limit per ladder rank (time in the records' unit); a missing or non-positive
    /// entry means: use the percentile below for that stage.
    std::vector<std::int64_t> limit{};
    /// Percentile (0 < p <= 100) of completed visits of the same stage used as the limit where
    /// no fixed limit is given; 0 disables it (such stages are then not checked).
    double percentile = 90.0;
};

/// Open entities whose time in their current step-kind stage (as_of - entry of the current
/// visit) exceeds the limit, ordered by how far over they are (most first).
struct aging_list {
    std::vector<std::int64_t> entity;  // entity id
    std::vector<std::int32_t> stage;   // stage code
    std::vector<std::int64_t> entered;
    std::vector<std::int64_t> age;
    std::vector<double> limit;  // the limit that applied (a percentile may fall between ticks)
    std::vector<double> over;   // age - limit, > 0
    std::size_t size() const noexcept { return entity.size(); }
};
aging_list stuck_entities(const stage_histories& h, const aging_options& options = {});

// ---- the mergeable summary --------------------------------------------------------------------

/// The mergeable aggregate behind the lifecycle report: reach counts (conversion), flow counts
/// (transitions, exits, reasons) and summaries of completed visits of each ladder step stage
/// (time in stage), overall and per segment. Merge combines the three parts (growing to the
/// larger number of segments and reasons); computing on disjoint entity sets and merging
/// equals computing on all of them. summarize() records the time unit, the model's
/// fingerprint and the reach options; merging summaries where these differ is an error naming
/// the field ("cannot merge lifecycle_summary: time unit differs (1 vs 1000 ticks per
/// second)"), and a failed merge changes nothing. Serialised with the magic "FKLS", format
/// version 2, as the nested blobs of its parts (docs/state-format.md).
class lifecycle_summary {
public:
    static constexpr std::int32_t overall = -1;
    lifecycle_summary() = default;

    const conversion_counts& conversion() const noexcept { return conversion_; }
    const flow_counts& flow() const noexcept { return flow_; }
    std::size_t n_stages() const noexcept { return n_stages_; }
    std::size_t n_segments() const noexcept { return n_segments_; }
    /// Time unit of the durations, ticks per second; 0 when not recorded (format version 1).
    std::int64_t ticks_per_second() const noexcept { return ticks_per_second_; }
    /// The model fingerprint and reach options (those of the conversion part).
    const conversion_definition& definition() const noexcept { return conversion_.definition(); }
    /// Completed visits of ladder stage `rank` (durations in the records' time unit).
    const duration_summary& time_in_stage(std::size_t rank, std::int32_t segment = overall) const;

    void merge(const lifecycle_summary& other);
    lifecycle_summary& operator+=(const lifecycle_summary& other) { merge(other); return *this; }
    void reset();
    std::vector<std::byte> serialize() const;
    static lifecycle_summary deserialize(const void* data, std::size_t size);
    friend bool operator==(const lifecycle_summary&, const lifecycle_summary&) = default;

    friend lifecycle_summary summarize(const stage_histories& h, const reach_options& options);

private:
    void grow_segments(std::size_t n_segments);
    conversion_counts conversion_;
    flow_counts flow_;
    std::size_t n_stages_ = 0;
    std::size_t n_segments_ = 0;
    std::int64_t ticks_per_second_ = 0;
    std::vector<duration_summary> durations_;  // (n_segments + 1) x n_stages, overall first
};

lifecycle_summary summarize(const stage_histories& h, const reach_options& options = {});

// ---- tables: the figures of the lifecycle report -------------------------------------------------
//
// Every binding shows these tables as computed here. Rows of groups come overall first (segment
// -1), then, with by_segment, one block per segment 0..n-1 (n = the larger of the data's number
// of segments and options.n_segments, so that segments without entities get rows of zeros).
// Durations are in the records' time unit; NaN marks an undefined number (no durations, a zero
// denominator) and +infinity a Kaplan-Meier median that the curve never reaches (too many still
// open).

struct lifecycle_table_options {
    /// Also one block of rows per segment, after the overall rows.
    bool by_segment = false;
    /// At least this many segments in the per-segment rows.
    std::size_t n_segments = 0;
    /// Confidence level of the Kaplan-Meier medians' intervals, in (0, 1).
    double confidence = 0.95;
};

/// Time in stage, one row per (segment, ladder step stage), stages in ladder order (the won
/// stage has no visits and no row). From time_in_stage()'s visits of the stage: visits,
/// completed (left the stage) and open (censored at as_of); mean, median, p90, min, max of the
/// completed visits (duration_summary, numpy's linear quantiles); km_median, km_median_lower,
/// km_median_upper: kaplan_meier() of all visits with open ones censored (median and its
/// interval at options.confidence; NaN without visits, +infinity when not reached).
struct time_in_stage_table {
    std::vector<std::int32_t> segment;  ///< -1: overall
    std::vector<std::int32_t> rank;     ///< ladder rank of the stage
    std::vector<std::int64_t> visits, completed, open;
    std::vector<double> mean, median, p90, min, max;
    std::vector<double> km_median, km_median_lower, km_median_upper;
    std::size_t size() const noexcept { return rank.size(); }
};
time_in_stage_table tabulate_time_in_stage(const stage_histories& h, const lifecycle_table_options& options = {});

/// Time to convert from ladder stage `from` to `to` (time_to_convert()), one row per segment:
/// entered (reached `from`), converted, closed_otherwise (lost or disqualified first), open;
/// mean, median, p90, min, max of the converted durations; the Kaplan-Meier median of all
/// durations with conversion as the event (the others censored), as in time_in_stage_table;
/// p_convert and p_closed_otherwise: the Aalen-Johansen cumulative incidences of outcomes 1
/// and 2 at the last time (NaN without entities), conversion and closing as competing outcomes.
struct time_to_convert_table {
    std::vector<std::int32_t> segment;  ///< -1: overall
    std::vector<std::int64_t> entered, converted, closed_otherwise, open;
    std::vector<double> mean, median, p90, min, max;
    std::vector<double> km_median, km_median_lower, km_median_upper;
    std::vector<double> p_convert, p_closed_otherwise;
    std::size_t size() const noexcept { return segment.size(); }
};
time_to_convert_table tabulate_time_to_convert(const stage_histories& h, std::size_t from, std::size_t to,
                                               const lifecycle_table_options& options = {});

/// Exits, one row per (segment, ladder stage) except the won stage (an outcome, never a stage
/// to exit from), from flow_counts::exits(): open, won, lost, disqualified, their total and
/// each one's share of the total (count / total; NaN when the total is 0). The flow's ranks
/// must be the model's ladder.
struct exit_table {
    std::vector<std::int32_t> segment;  ///< -1: overall
    std::vector<std::int32_t> rank;
    std::vector<std::int64_t> open, won, lost, disqualified, total;
    std::vector<double> open_share, won_share, lost_share, disqualified_share;
    std::size_t size() const noexcept { return rank.size(); }
};
exit_table tabulate_exits(const flow_counts& flow, const stage_model& model, const lifecycle_table_options& options = {});

/// Reasons of lost and disqualified exits, one row per (segment, ladder rank, reason) with a
/// count above 0, in that order: count and share = count / (lost + disqualified exits of that
/// rank and segment).
struct reason_table {
    std::vector<std::int32_t> segment;  ///< -1: overall
    std::vector<std::int32_t> rank;
    std::vector<std::int32_t> reason;
    std::vector<std::int64_t> count;
    std::vector<double> share;
    std::size_t size() const noexcept { return rank.size(); }
};
reason_table tabulate_reasons(const flow_counts& flow, const lifecycle_table_options& options = {});

struct reach_table_options {
    /// Which rows: the overall ones (segment -1), the per-group ones, or both (overall first).
    bool overall = true;
    bool groups = true;
    /// Confidence level and method of the intervals.
    double confidence = 0.95;
    interval_method interval = interval_method::wilson;
};

/// Reach and conversion rates with their intervals, one row per (segment, ladder rank):
/// entities, reached, step_rate = reached / reached(previous stage) and cumulative_rate =
/// reached / reached(first stage) (NaN for a zero denominator or the first stage's step rate),
/// and the intervals of both rates (step_lower, step_upper, cum_lower, cum_upper) by
/// proportion_interval(): NaN where the rate is undefined or no proportion (a step rate above
/// 1 when skipped stages are not implied).
struct reach_table {
    std::vector<std::int32_t> segment;  ///< -1: overall
    std::vector<std::int32_t> rank;
    std::vector<std::int64_t> entities, reached;
    std::vector<double> step_rate, cumulative_rate, step_lower, step_upper, cum_lower, cum_upper;
    std::size_t size() const noexcept { return rank.size(); }
};
reach_table tabulate_reach(const conversion_counts& counts, const reach_table_options& options = {});

/// The mergeable lifecycle summary as a table, one row per (segment, ladder stage): entities,
/// reached, step_rate and cumulative_rate (as in reach_table, without intervals), and the
/// completed visits of the stage: completed, mean, median, p90, min, max (in the records' time
/// unit; NaN without visits). The confidence option is not used.
struct summary_table {
    std::vector<std::int32_t> segment;  ///< -1: overall
    std::vector<std::int32_t> rank;
    std::vector<std::int64_t> entities, reached;
    std::vector<double> step_rate, cumulative_rate;
    std::vector<std::int64_t> completed;
    std::vector<double> mean, median, p90, min, max;
    std::size_t size() const noexcept { return rank.size(); }
};
summary_table tabulate_summary(const lifecycle_summary& summary, const lifecycle_table_options& options = {});

FUNNELKIT_END_NAMESPACE

#ifdef FUNNELKIT_HEADER_ONLY
#include "funnelkit/impl/lifecycle.ipp"
#include "funnelkit/impl/lifecycle_flow.ipp"
#endif
