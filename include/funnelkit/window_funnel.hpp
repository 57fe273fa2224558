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
//   - strict_once: an event counts for one step of a chain at most. An event matching steps 1
//     and 2 no longer completes both; two events tied in time still may (one step each). Per
//     timestamp, a chain advances from level j to level k when steps j+1..k can be given to
//     distinct events of that timestamp, each matching its step; the latest start wins at
//     every level as in the default mode. With step codes (one step per event) it is the
//     default mode. It does not combine with the other modes. This matches ClickHouse's
//     windowFunnel(window, 'strict_once') (checked against it on random tied events).
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
// Input not sorted by (entity, time) goes through funnelkit's grouping primitive
// (funnelkit/grouping.hpp): events matching no step are dropped first (outside strict_order),
// the rest partitioned by entity into cache-sized buckets and sorted by time there. Input in
// time order, with at most 2^17 entities per thread, is instead read once as it comes, each
// entity's chain state in a hash table that stays in cache (each thread streams the entities
// a hash assigns it; not for strict_once with step masks); past that many entities the call
// groups.
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
    /// The step codes of `step` stored in one byte each (a quarter of the memory, e.g. codes
    /// read from a categorical); give `step`, `step_int8` or `step_mask`. Errors name the
    /// column 'step'.
    std::span<const std::int8_t> step_int8{};

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
    /// ClickHouse's strict_once (see above); not with the other modes.
    bool strict_once = false;
    input_order order = input_order::detect;
    /// Worker threads, >= 1 (1 = run on the calling thread).
    unsigned threads = 1;
    /// Also return every entity's level (sorted by entity id).
    bool per_entity = false;
    /// Time unit of the timestamps, ticks per second (1 for seconds, 1000 for milliseconds),
    /// > 0. It changes no level; the counts record it with the window, so that states computed
    /// with windows in different units do not merge.
    std::int64_t ticks_per_second = 1;
};

/// Bits of window_funnel_definition::modes, one per mode flag of window_funnel_options.
enum window_funnel_mode : std::uint8_t {
    strict_deduplication_mode = 1,
    strict_order_mode = 2,
    strict_increase_mode = 4,
    allow_reentry_mode = 8,
    exact_increase_mode = 16,
    strict_once_mode = 32,
};

/// What makes two window_funnel_counts comparable: the window, its time unit and the mode
/// flags, which all change what a level means. window_funnel() records them; a state built by
/// hand or read from format version 1 leaves them "not recorded" (nullopt or 0). Merging
/// states whose recorded values differ is an error naming the field; a field not recorded on
/// one side takes the other side's value.
struct window_funnel_definition {
    /// Window in timestamp units (>= 0); nullopt: not recorded.
    std::optional<std::int64_t> window{};
    /// Ticks per second of the timestamps; 0: not recorded.
    std::int64_t ticks_per_second = 0;
    /// window_funnel_mode bits; nullopt: not recorded.
    std::optional<std::uint8_t> modes{};

    /// The definition of counts computed with these options.
    static window_funnel_definition of(const window_funnel_options& options);
    friend bool operator==(const window_funnel_definition&, const window_funnel_definition&) = default;
};

/// Mergeable aggregate state: how many entities ended at each level 0..steps. Merge adds
/// the histograms element-wise; that is exact, associative and commutative when the merged
/// parts hold disjoint sets of entities (partition by entity). Counts are >= 0 and their total
/// fits int64: an add or a merge that would overflow throws and changes nothing.
class window_funnel_counts {
public:
    window_funnel_counts() = default;
    explicit window_funnel_counts(std::size_t steps, const window_funnel_definition& definition = {});

    const window_funnel_definition& definition() const noexcept { return definition_; }

    /// Adds `count` entities that ended at `level` (0..steps).
    void add(std::size_t level, std::int64_t count = 1);
    /// Throws funnelkit::invalid_argument, leaving this state unchanged, when the definitions
    /// differ ("cannot merge window_funnel_counts: window differs (3600 vs 7200)"), the step
    /// counts differ or the total would overflow.
    void merge(const window_funnel_counts& other);
    window_funnel_counts& operator+=(const window_funnel_counts& other) { merge(other); return *this; }
    void reset();

    std::size_t steps() const noexcept { return steps_; }
    /// Number of entities counted.
    std::int64_t entities() const noexcept { return total_; }
    /// Entities whose level is exactly `level` (0..steps).
    std::int64_t at_level(std::size_t level) const;
    /// Entities whose level is at least `level` (0..steps); reached(0) == entities().
    std::int64_t reached(std::size_t level) const;
    /// reached(0), reached(1), ..., reached(steps).
    std::vector<std::int64_t> reached_counts() const;

    /// Format version 2 (docs/state-format.md); deserialize reads versions 1 and 2 and checks
    /// every invariant.
    std::vector<std::byte> serialize() const;
    static window_funnel_counts deserialize(const void* data, std::size_t size);

    friend bool operator==(const window_funnel_counts&, const window_funnel_counts&) = default;

private:
    std::size_t steps_ = 0;
    window_funnel_definition definition_{};
    std::vector<std::int64_t> exact_ = std::vector<std::int64_t>(1, 0);  // exact_[level]
    std::int64_t total_ = 0;  // sum of exact_, kept so that adds check overflow in O(1)
};

struct window_funnel_result {
    window_funnel_counts counts;
    /// With options.per_entity: entity ids in ascending order and their levels.
    std::vector<std::int64_t> entity;
    std::vector<std::uint8_t> level;
};

/// Computes every entity's level. Throws funnelkit::invalid_argument on bad options (negative
/// window, steps outside 1..64, allow_reentry without strict_order, threads == 0,
/// ticks_per_second <= 0), mismatched
/// column lengths, step codes or masks outside the steps, a broken order promise, a timestamp
/// whose sum with the window overflows int64, or the smallest int64 as a timestamp (reserved
/// for "no time" across the library), naming the first such row.
window_funnel_result window_funnel(const event_columns& events, const window_funnel_options& options);

/// The order that input_order::detect picks for these columns (entity_time, time or unsorted).
input_order detect_order(std::span<const std::int64_t> entity, std::span<const std::int64_t> time);

FUNNELKIT_END_NAMESPACE

#ifdef FUNNELKIT_HEADER_ONLY
#include "funnelkit/impl/window_funnel.ipp"
#endif
