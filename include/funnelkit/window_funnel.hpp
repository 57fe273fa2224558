// funnelkit: event-stream funnels, compatible with ClickHouse's windowFunnel.
//
// Input: one row per event with an entity id, an integer timestamp (any unit: the window is
// in the same unit) and the funnel steps the event matches, given either as a step code per
// event (0..steps-1, or -1 for an event that matches no step) or as a bitmask per event (bit k
// set = the event matches step k; an event may match several steps, 0 = none). Up to 64 steps.
//
// Result: for every entity, its *level*: the number of leading steps 1..level it completed in
// order inside the window. Levels are counted into a mergeable state, and returned per entity
// on request.
//
// Semantics (default, all flags off). Per entity the events are taken in ascending time; an
// event matching several steps counts as one occurrence of each of them at its timestamp, and
// occurrences at equal timestamps are taken in ascending step order (so events tied in time
// are taken in the funnel's order: a tie between step 1 and step 2 completes both). Then, per
// occurrence of step k at time t (steps numbered from 1 here):
//   - step 1 starts a chain: the level-1 chain now starts at t;
//   - step k > 1 extends the level-(k-1) chain (the one with the latest start) when that level
//     is reached and t - start <= window (the boundary is inclusive); the level-k chain then
//     starts where the level-(k-1) chain started.
// The entity's level is the highest k reached; 0 when it never matched step 1. This is the
// rule of ClickHouse's windowFunnel(window)(t, c1, ..., cN) bit for bit, including its tie
// rule, with one consequence worth knowing: one event matching steps 1 and 2 completes both.
//
// Flags (ClickHouse's modes; combinable):
//   - strict_deduplication: a second occurrence of an already reached step k > 1 (also two
//     occurrences tied in time) ends the entity's search at its current level. Repeats of
//     step 1 restart the chain as usual.
//   - strict_order: once step 1 was seen, an event that matches no step ends the search, and so
//     does an occurrence of step k > 1 while step k-1 is not reached (the level stays as it
//     is). Events that match no step are taken before the steps tied with them in time.
//   - allow_reentry (needs strict_order): a step occurring before the step it follows is
//     ignored instead of ending the search; events that match no step still end it.
//   - strict_increase: step k > 1 extends a chain only when its time is strictly later than
//     the chain's previous step (ties never advance).
//
// Where ClickHouse is demonstrably wrong. strict_increase keeps one chain per level and
// overwrites it with the newest one, so an older chain that could still advance is lost:
// with a one-hour window, steps 1@0s, 2@10s, 1@3000s, 2@3100s, 3@3100s give level 2 although
// 1@0s -> 2@10s -> 3@3100s is a valid strictly increasing chain. exact_increase (funnelkit's
// correction, off by default for compatibility) gives the exact answer: the longest chain of
// strictly increasing times within the window (level 3 here). It applies with
// strict_increase alone (not with strict_deduplication or strict_order). In the default mode
// ClickHouse's single chain per level is exact: the latest start is always the best one to
// extend. Its other surprise, one event matching steps 1 and 2 completing both, is part of
// its definition and kept; strict_increase (or exact_increase) rules it out.
//
// Input order: by (entity, time) (rows of an entity together, entities in ascending id order,
// time ascending within an entity), by time only (event-log order), or unsorted. The answer
// never depends on the row order of the input (ties included). The caller may promise an
// order; the promise is checked during the pass at the cost of a comparison per row and a
// broken promise throws funnelkit::invalid_argument naming the row. input_order::detect scans
// the time and entity columns once to find the best order.
//
// Parallelism: `threads` > 1 partitions entities (by id ranges on (entity, time) input, by
// id hash otherwise), computes partial states on std::thread workers and merges them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "funnelkit/config.hpp"

FUNNELKIT_BEGIN_NAMESPACE

/// Non-owning view of an event stream. Give exactly one of `step` and `step_mask`.
struct event_columns {
    std::span<const std::int64_t> entity;
    std::span<const std::int64_t> time;
    /// Step code per event: 0..steps-1, or -1 for an event that matches no step.
    std::span<const std::int32_t> step{};
    /// Step bitmask per event: bit k set = the event matches step k (0 = no step).
    std::span<const std::uint64_t> step_mask{};

    std::size_t size() const noexcept { return entity.size(); }
};

enum class input_order : std::uint8_t {
    detect = 0,       ///< scan once and pick the best of the three below
    entity_time = 1,  ///< promise: entity ascending, time ascending within an entity
    time = 2,         ///< promise: time ascending over all rows (event-log order)
    unsorted = 3,     ///< no promise
};

struct window_funnel_options {
    /// Conversion window in timestamp units, >= 0, boundary inclusive.
    std::int64_t window = 0;
    /// Number of funnel steps, 1..64.
    std::size_t steps = 0;
    bool strict_deduplication = false;
    bool strict_order = false;
    bool strict_increase = false;
    bool allow_reentry = false;
    /// Exact strict_increase (see above); needs strict_increase, not with the other modes.
    bool exact_increase = false;
    input_order order = input_order::detect;
    /// Worker threads, >= 1 (1 = run on the calling thread).
    unsigned threads = 1;
    /// Also return every entity's level (sorted by entity id).
    bool per_entity = false;
};

/// Mergeable aggregate state: how many entities ended at each level 0..steps. Merge adds
/// the histograms element-wise; that is exact, associative and commutative when the merged
/// parts hold disjoint sets of entities (partition by entity).
class window_funnel_counts {
public:
    window_funnel_counts() = default;
    explicit window_funnel_counts(std::size_t steps);

    /// Adds `count` entities that ended at `level` (0..steps).
    void add(std::size_t level, std::int64_t count = 1);
    void merge(const window_funnel_counts& other);
    window_funnel_counts& operator+=(const window_funnel_counts& other) { merge(other); return *this; }
    void reset();

    std::size_t steps() const noexcept { return steps_; }
    /// Number of entities counted.
    std::int64_t entities() const noexcept;
    /// Entities whose level is exactly `level` (0..steps).
    std::int64_t at_level(std::size_t level) const;
    /// Entities whose level is at least `level` (0..steps); reached(0) == entities().
    std::int64_t reached(std::size_t level) const;
    /// reached(0), reached(1), ..., reached(steps).
    std::vector<std::int64_t> reached_counts() const;

    std::vector<std::byte> serialize() const;
    static window_funnel_counts deserialize(const void* data, std::size_t size);

    friend bool operator==(const window_funnel_counts&, const window_funnel_counts&) = default;

private:
    std::size_t steps_ = 0;
    std::vector<std::int64_t> exact_ = std::vector<std::int64_t>(1, 0);  // exact_[level]
};

struct window_funnel_result {
    window_funnel_counts counts;
    /// With options.per_entity: entity ids in ascending order and their levels.
    std::vector<std::int64_t> entity;
    std::vector<std::uint8_t> level;
};

/// Computes every entity's level. Throws funnelkit::invalid_argument on bad options (negative
/// window, steps outside 1..64, allow_reentry without strict_order, threads == 0), mismatched
/// column lengths, step codes or masks outside the steps, a broken order promise, or a
/// timestamp whose sum with the window overflows int64.
window_funnel_result window_funnel(const event_columns& events, const window_funnel_options& options);

/// The order that input_order::detect picks for these columns (entity_time, time or unsorted).
input_order detect_order(std::span<const std::int64_t> entity, std::span<const std::int64_t> time);

// ---------------------------------------------------------------------------------------------
// Beyond windowFunnel: funnel analysis with exclusions, property holding, unordered funnels,
// every-conversion counting, breakdown, trend, time to convert and open entrants.
//
// Rules (the default mode's rules above, plus):
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
//     floor((t - period_origin) / period); entities that never did step 1 are left out.
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

/// The result of funnel_analysis() (named funnel_analysis before the function took that name).
struct funnel_analysis_result {
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
};

/// Funnel analysis over an event stream in any row order (single-threaded; sorts a row
/// permutation, 8 bytes per event). Throws funnelkit::invalid_argument on bad options or input.
funnel_analysis_result funnel_analysis(const event_columns& events, const event_attributes& attributes,
                                       const funnel_analysis_options& options);

[[deprecated("use funnel_analysis")]]
inline funnel_analysis_result analyze_funnel(const event_columns& events, const event_attributes& attributes,
                                             const funnel_analysis_options& options) {
    return funnel_analysis(events, attributes, options);
}

FUNNELKIT_END_NAMESPACE

#ifdef FUNNELKIT_HEADER_ONLY
#include "funnelkit/impl/window_funnel.ipp"
#include "funnelkit/impl/window_funnel_analysis.ipp"
#endif
