// funnelkit: funnel analysis over event streams, beyond ClickHouse's windowFunnel: exclusions,
// property holding, unordered funnels, every-conversion counting, breakdown, trend, time to
// convert, open entrants, and per-step gaps and optional steps. Input is the event_columns of
// window_funnel.hpp, in any row order; levels are counted into window_funnel_counts.
//
// Rules (window_funnel.hpp's default-mode rules, plus):
//   - Step indices here are 0-based. Event codes / mask bits at or above `steps` name other
//     events, usable as exclusion events.
//   - exclusions: {event, after, before}: a chain that has done step `after` but not yet step
//     `before` dies when `event` occurs (an exclusion tied in time with a step counts as before
//     it). The entity keeps the highest level it reached before; other chains (started after
//     the exclusion event, or past step `before`) are unaffected. Exact: the longest chain that
//     contains no exclusion event inside a guarded segment.
//   - hold_property (a property column, e.g. deal id): every step of a chain has the same
//     property value; the entity's level is the best over its property values.
//   - count_conversions: after a chain completes every step, the funnel starts afresh with the
//     next step-1 event; `conversions` counts completed funnels over all entities.
//   - unordered: the level is the largest number of distinct steps occurring within one span
//     of `window` (any order). Exclusions and count_conversions do not apply to it.
//   - time to convert to step k (k >= 1): for the first moment the entity completes step k, the
//     time since the start of the shortest chain completing it; summarised over entities
//     (count, mean, median, p90, min, max, histogram). Ordered funnels only.
//   - open entrants: an entity below the last step with a live chain whose window is still open
//     at `data_end` (data_end - start <= window; unordered: a step event that recent) could
//     still convert: it is counted in `open`, not in `closed`, so drop-off rates
//     over `closed` do not count it as lost. data_end defaults to the largest timestamp + 1.
//   - breakdown: the entity's segment is the segment code of its first event (first_touch), of
//     its last event (last_touch), or of its first event matching `attribution_step` (step);
//     events tied in time: the smallest code. Entities without such an event are counted in
//     `unattributed`. Segment counts cover closed and open entities alike.
//   - trend: entities grouped by the period of their first step-1 event,
//     floor((t - period_origin) / period), or by its calendar period (trend_calendar);
//     entities that never did step 1 are left out.
//   - step_rules (one entry per step, or empty): per step k >= 1 an optional maximum gap and a
//     minimum gap to the chain's previous step, and whether step k is optional. A chain is a
//     sequence of step occurrences, taken in the (time, step) order above, whose steps are
//     increasing, start at step 0 and skip only optional steps; it is valid when it spans at
//     most `window` from its first step, each step k of it lies min_gap[k] <= t_k - t_prev <=
//     max_gap[k] after the chain's previous step (the one it actually passed through, so a gap
//     after a skipped optional step is measured from the step before it), and no exclusion
//     kills it (an exclusion guards a chain whose last step p satisfies after <= p < before, so
//     a chain that skipped an optional `after` step is not guarded by it). The entity's level
//     is 1 + the highest step index any valid chain reaches: skipped optional steps count as
//     passed in the level counts (reached(k) counts entities whose best chain got to step k-1
//     or beyond). `through_step[k]` counts the entities with a valid chain that actually went
//     through step k (for a required step k it equals reached(k + 1)). Step 0 and the last
//     step must be required. The answer is exact: a dynamic programme keeps, per step, the
//     still-useful (start, last time) pairs of the chains reaching it, pruned by dominance.
//     Time to convert to step k: the first moment a valid chain reaches step k, the time since
//     the latest start among the chains reaching it then. count_conversions: the first moment
//     a valid chain reaches the last step counts one conversion and drops every chain. Open:
//     the entity is below the last step and some live chain could still take a next step at a
//     time >= data_end within the window and that step's gaps. Not with `unordered`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "funnelkit/config.hpp"
#include "funnelkit/period.hpp"
#include "funnelkit/window_funnel.hpp"

FUNNELKIT_BEGIN_NAMESPACE

/// An exclusion: `event` (a step code or mask bit >= steps) between steps `after` and `before`.
struct funnel_exclusion {
    unsigned event = 0;
    unsigned after = 0;
    unsigned before = 1;
};

/// Constraints on one step of an ordered funnel (see step_rules above).
struct funnel_step_rule {
    /// Maximum time from the chain's previous step to this step (inclusive); none = no limit.
    std::optional<std::int64_t> max_gap{};
    /// Minimum time from the chain's previous step to this step (inclusive), >= 0.
    std::int64_t min_gap = 0;
    /// The step may be skipped.
    bool optional = false;
};

enum class funnel_attribution : std::uint8_t { first_touch = 0, last_touch = 1, step = 2 };

struct funnel_analysis_options {
    std::int64_t window = 0;
    std::size_t steps = 0;
    bool unordered = false;
    bool count_conversions = false;
    std::vector<funnel_exclusion> exclusions{};
    funnel_attribution attribute = funnel_attribution::first_touch;
    std::size_t attribution_step = 0;
    /// Trend period length in timestamp units (0 = no trend) and its origin.
    std::int64_t period = 0;
    std::int64_t period_origin = 0;
    /// End of the data (exclusive) for open entrants; default: largest timestamp + 1.
    std::optional<std::int64_t> data_end{};
    /// Upper edges of the time-to-convert histogram bins (ascending); default: ten equal bins
    /// over [0, window]. A last bin catches longer durations.
    std::vector<std::int64_t> histogram_edges{};
    /// Per-step gaps and optional steps: empty, or one entry per step (entry 0 must be the
    /// default: the first step has no previous step and cannot be optional; the last step
    /// cannot be optional either).
    std::vector<funnel_step_rule> step_rules{};
    /// Trend by calendar period instead of a fixed length: day, ISO week, month, quarter or
    /// year of the first step-1 event at a fixed UTC offset (see period.hpp); period_start
    /// then holds the start of each calendar period. Not together with `period`.
    std::optional<calendar_options> trend_calendar{};
    /// Ticks per second of the timestamps, recorded in the result's states (0: not recorded).
    std::int64_t ticks_per_second = 0;
    /// Worker threads for events not sorted by (entity, time) (>= 1): they take the grouping
    /// primitive's buckets of entities (grouping.hpp). Changes no result.
    unsigned threads = 1;
};

/// Optional per-event columns of funnel_analysis() (leave empty when absent).
struct event_attributes {
    std::span<const std::int32_t> segment{};   ///< segment code >= 0 (source, campaign...)
    std::span<const std::int64_t> property{};  ///< property held constant across a chain
};

struct step_duration_summary {
    std::int64_t count = 0;
    double mean = 0, median = 0, p90 = 0;  ///< linear interpolation between order statistics
    std::int64_t min = 0, max = 0;
    std::vector<std::int64_t> histogram{};  ///< histogram_edges.size() + 1 bins
};

/// What makes two funnel analyses comparable: every option that changes what a level or a
/// duration means, after defaults are resolved (data_end, histogram edges).
struct funnel_analysis_definition {
    std::uint64_t steps = 0;
    std::int64_t window = 0;
    /// 0: not recorded (joins with any unit).
    std::int64_t ticks_per_second = 0;
    bool unordered = false, count_conversions = false;
    std::uint8_t attribution = 0;
    std::uint64_t attribution_step = 0;
    std::int64_t period = 0, period_origin = 0, data_end = 0;
    std::vector<std::int64_t> histogram_edges{};
    /// event, after, before per exclusion.
    std::vector<std::int64_t> exclusions{};
    /// min_gap, max_gap (-1: none), optional (0/1) per step; empty without step rules.
    std::vector<std::int64_t> step_rules{};
    /// Empty, or period kind, ticks per second and UTC offset of trend_calendar.
    std::vector<std::int64_t> calendar{};

    /// The definition of an analysis run with these options (defaults resolved).
    static funnel_analysis_definition of(const funnel_analysis_options& resolved);
    friend bool operator==(const funnel_analysis_definition&, const funnel_analysis_definition&) = default;
};

/// Mergeable state of funnel_analysis()'s time to convert: per step k >= 1, the per-entity
/// durations from step 1 (far fewer than the events: at most one per entity and step), and the
/// analysis definition. Merging parts of disjoint entities gives every duration of the whole,
/// so summaries() of the merged state equal time_to_step of one run over all events, to the
/// last bit. A merge of states of different definitions is an error naming the option.
class funnel_durations {
public:
    funnel_durations() = default;
    /// per_step: one vector per step (index 0 empty), each >= 0.
    funnel_durations(const funnel_analysis_definition& definition, std::vector<std::vector<std::int64_t>> per_step);

    bool records_definition() const noexcept { return recorded_; }
    const funnel_analysis_definition& definition() const noexcept { return definition_; }
    std::size_t steps() const noexcept { return durations_.size(); }
    /// The durations to step k, ascending.
    std::span<const std::int64_t> durations(std::size_t step) const { return durations_.at(step); }
    /// time_to_step as funnel_analysis() reports it (histograms over the definition's edges).
    std::vector<step_duration_summary> summaries() const;

    void merge(const funnel_durations& other);
    funnel_durations& operator+=(const funnel_durations& other) { merge(other); return *this; }
    void reset();
    std::vector<std::byte> serialize() const;
    static funnel_durations deserialize(const void* data, std::size_t size);
    friend bool operator==(const funnel_durations&, const funnel_durations&) = default;

private:
    bool recorded_ = false;
    funnel_analysis_definition definition_{};
    std::vector<std::vector<std::int64_t>> durations_;
};

/// The result of funnel_analysis() (named funnel_analysis before the function took that name).
/// Every window_funnel_counts in it (closed, open, per segment, unattributed, per period)
/// records the window and the time unit (ticks_per_second; 0: not recorded) of the analysis
/// in its definition(): merging them with counts of another window or unit throws naming the
/// field. funnel_analysis's own options are no window_funnel modes, so modes stay unrecorded.
struct funnel_analysis_result {
    /// The definition the level counts of an analysis with these options record.
    static window_funnel_definition counts_definition(const funnel_analysis_options& options);

    window_funnel_counts closed;  ///< entities whose outcome is final
    window_funnel_counts open;    ///< entrants whose window is still open at data_end
    std::vector<window_funnel_counts> by_segment{};  ///< index = segment code
    window_funnel_counts unattributed;
    std::vector<std::int64_t> period_start{};  ///< start time of each trend period present
    std::vector<window_funnel_counts> by_period{};
    std::int64_t conversions = 0;
    std::vector<std::int64_t> histogram_edges{};
    /// time_to_step[k]: time from step 1 to step k+1 (index 0: always empty).
    std::vector<step_duration_summary> time_to_step{};
    std::int64_t data_end = 0;
    /// through_step[k]: entities with a valid chain that went through step k itself (closed
    /// and open alike). Filled for ordered funnels.
    std::vector<std::int64_t> through_step{};
    /// The per-entity durations behind time_to_step, with the analysis definition: the
    /// mergeable state of time_to_step.
    funnel_durations durations{};
};

/// Funnel analysis over an event stream in any row order (rows sorted by (entity, time) are read
/// as they are, others grouped by grouping.hpp on options.threads threads; the result is the
/// same for every row order and thread count). Throws funnelkit::invalid_argument on bad
/// options or input.
funnel_analysis_result funnel_analysis(const event_columns& events, const event_attributes& attributes,
                                       const funnel_analysis_options& options);

[[deprecated("use funnel_analysis")]]
inline funnel_analysis_result analyze_funnel(const event_columns& events, const event_attributes& attributes,
                                             const funnel_analysis_options& options) {
    return funnel_analysis(events, attributes, options);
}

FUNNELKIT_END_NAMESPACE

#ifdef FUNNELKIT_HEADER_ONLY
#include "funnelkit/impl/funnel_analysis.ipp"
#endif
