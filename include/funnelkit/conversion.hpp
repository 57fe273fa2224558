// funnelkit: stage reach and conversion rates, overall and per segment.
//
// Definitions (see the README's metric reference):
// - An entity *reached* ladder stage k when it has a record of stage k. With
//   skipped_stages::implied (the default, as in forward-only CRM lifecycles) reaching stage k
//   also counts as reaching every earlier ladder stage; with skipped_stages::not_implied only
//   recorded stages count, so a step rate may exceed 1 when entities skip stages.
// - Recycled entities (moved back to an earlier stage) count once per stage: reach is a set.
// - Off-ladder outcomes (lost, disqualified) reach nothing by themselves.
// - An entity's segment is the segment code of its earliest record; among records tied at the
//   earliest time, the smallest code. The answer therefore does not depend on row order.
// - step rate of stage k = reached(k) / reached(k-1) (undefined for the first stage);
//   cumulative rate of stage k = reached(k) / reached(0). Undefined when the denominator is 0.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "funnelkit/columns.hpp"
#include "funnelkit/config.hpp"
#include "funnelkit/model.hpp"

FUNNELKIT_BEGIN_NAMESPACE

enum class skipped_stages : std::uint8_t { implied = 0, not_implied = 1 };
/// The option words "implied" and "recorded" (only recorded stages count).
std::string_view to_string(skipped_stages skipped) noexcept;
/// Parses "implied" and "recorded" (or "not_implied"); throws funnelkit::invalid_argument
/// naming option 'skipped'.
skipped_stages parse_skipped_stages(std::string_view name);

/// How a recycled entity's later passes count toward reach: only its first pass, or every
/// pass as a separate entry (then the "entities" counters count passes). conversion() counts
/// every entity once (first_only); lifecycle.hpp's reach() offers both.
enum class recycled_passes : std::uint8_t { first_only = 0, every_pass = 1 };

struct conversion_options {
    skipped_stages skipped = skipped_stages::implied;
    /// Worker threads for records not sorted by entity (>= 1; entities are partitioned by a
    /// hash of their id, each thread counts its buckets, the counts are merged). Changes no count.
    unsigned threads = 1;
};

/// What makes two conversion_counts comparable: the stage model whose ladder the ranks refer
/// to and the options that change what a count means. conversion() and reach() record all of
/// it; a state built by hand or read from format version 1 leaves it "not recorded" (0 or
/// nullopt). Merging states whose recorded values differ is an error naming the field; a field
/// not recorded on one side takes the other side's value.
struct conversion_definition {
    /// stage_model::fingerprint() of the model; 0: not recorded.
    std::uint64_t model_fingerprint = 0;
    std::optional<skipped_stages> skipped{};
    std::optional<recycled_passes> passes{};
    friend bool operator==(const conversion_definition&, const conversion_definition&) = default;
};

namespace detail::conversion_impl {
class reach_tally;
}

/// Mergeable aggregate state: per segment, how many entities it holds and how many reached
/// each ladder stage. Merge adds counts element-wise, which is exact, associative and
/// commutative when the merged parts hold disjoint sets of entities (partition by entity).
/// Invariants (checked when bytes are read): every count >= 0; reached(k) <= entities() in
/// every row; with skipped_stages::implied recorded, reached(k) <= reached(k-1); the overall
/// row is at least the sum of the segment rows (an entity may count overall only). Counts
/// never wrap: an add or a merge whose count would overflow int64 throws and changes nothing.
class conversion_counts {
public:
    /// Segment argument meaning "all entities".
    static constexpr std::int32_t overall = -1;

    conversion_counts() = default;
    conversion_counts(std::size_t n_stages, std::size_t n_segments, const conversion_definition& definition = {});

    const conversion_definition& definition() const noexcept { return definition_; }

    /// Adds one entity with the set of ladder positions it reached (bit k = stage k) and its
    /// segment (>= 0, or `overall` when there are no segments). With skipped_stages::implied
    /// recorded, the mask must hold every stage below its highest one.
    void add_entity(std::uint64_t reached_mask, std::int32_t segment = overall);
    /// Throws funnelkit::invalid_argument, leaving this state unchanged, when the definitions
    /// differ ("cannot merge conversion_counts: option 'skipped' differs (implied vs
    /// not_implied)"), the ladder lengths differ, or a count would overflow.
    void merge(const conversion_counts& other);
    conversion_counts& operator+=(const conversion_counts& other) { merge(other); return *this; }
    void reset();

    std::size_t n_stages() const noexcept { return n_stages_; }
    std::size_t n_segments() const noexcept { return n_segments_; }

    std::int64_t entities(std::int32_t segment = overall) const;
    std::int64_t reached(std::size_t rank, std::int32_t segment = overall) const;
    /// reached(rank) / reached(rank - 1); nullopt for rank 0 or a zero denominator.
    std::optional<double> step_rate(std::size_t rank, std::int32_t segment = overall) const;
    /// reached(rank) / reached(0); nullopt for a zero denominator.
    std::optional<double> cumulative_rate(std::size_t rank, std::int32_t segment = overall) const;

    /// Format version 2 (docs/state-format.md); deserialize reads versions 1 and 2 and checks
    /// the invariants above.
    std::vector<std::byte> serialize() const;
    static conversion_counts deserialize(const void* data, std::size_t size);

    friend bool operator==(const conversion_counts&, const conversion_counts&) = default;

private:
    friend class detail::conversion_impl::reach_tally;
    std::size_t row(std::int32_t segment) const;
    void grow_segments(std::size_t n_segments);

    std::size_t n_stages_ = 0;
    std::size_t n_segments_ = 0;
    conversion_definition definition_{};
    // Row r holds segment r - 1 (row 0 is overall); each row has 1 + n_stages counters:
    // the number of entities, then reached(0..n_stages-1).
    std::vector<std::int64_t> counts_ = std::vector<std::int64_t>(1, 0);
};

namespace detail {
/// The joined definition of two states (see conversion_definition), or a throw whose message
/// starts with `what` ("cannot merge conversion_counts") and names the field that differs.
conversion_definition join_definitions(const conversion_definition& a, const conversion_definition& b,
                                       std::string_view what);
}  // namespace detail

/// One pass over the records: per entity the set of ladder stages reached and its segment,
/// then counts. Validates the records first (throws funnelkit::invalid_argument). The state
/// records the model's fingerprint, options.skipped and recycled_passes::first_only.
conversion_counts conversion(const stage_model& model, const stage_records& records,
                             const conversion_options& options = {});
/// The same with one-byte stage and segment codes (columns.hpp: compact_stage_records).
conversion_counts conversion(const stage_model& model, const compact_stage_records& records,
                             const conversion_options& options = {});

[[deprecated("use conversion")]]
inline conversion_counts compute_conversion(const stage_model& model, const stage_records& records,
                                            const conversion_options& options = {}) {
    return conversion(model, records, options);
}

FUNNELKIT_END_NAMESPACE

#ifdef FUNNELKIT_HEADER_ONLY
#include "funnelkit/impl/conversion.ipp"
#endif
