// funnelkit: non-owning columnar views over input records, and their checks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "funnelkit/config.hpp"
#include "funnelkit/model.hpp"

FUNNELKIT_BEGIN_NAMESPACE

/// Stage-change records, one row per move of an entity into a stage: entity `entity[i]`
/// entered stage code `stage[i]` at time `time[i]` (an integer in any unit the caller picks,
/// e.g. seconds since the Unix epoch). `segment` (a code >= 0 per row, e.g. lead source),
/// `amount` (deal value) and `reason` (a code >= 0 saying why, e.g. a disqualification reason,
/// or -1 for none) are optional: leave them empty when absent. Rows may come in any order.
/// The view does not own the memory it points to.
struct stage_records {
    std::span<const std::int64_t> entity;
    std::span<const std::int64_t> time;
    std::span<const std::int32_t> stage;
    std::span<const std::int32_t> segment{};
    std::span<const double> amount{};
    std::span<const std::int32_t> reason{};

    std::size_t size() const noexcept { return entity.size(); }
    bool has_segment() const noexcept { return !segment.empty(); }

    /// Checks lengths, stage codes against `model`, segment codes (>= 0), amounts (finite,
    /// >= 0) and reason codes (>= -1). Throws funnelkit::invalid_argument naming the column, the row and the value.
    /// Returns the number of segments (largest segment code + 1; 0 without a segment column).
    std::int32_t validate(const stage_model& model) const;
};

/// The columns conversion() reads, with stage and segment codes of one byte each (what a
/// categorical with fewer than 128 categories maps to): the same counts as stage_records with
/// the codes widened, without the four-byte copies. Codes as in stage_records.
struct compact_stage_records {
    std::span<const std::int64_t> entity;
    std::span<const std::int64_t> time;
    std::span<const std::int8_t> stage;
    std::span<const std::int8_t> segment{};

    std::size_t size() const noexcept { return entity.size(); }
    bool has_segment() const noexcept { return !segment.empty(); }
    /// As stage_records::validate, for these columns.
    std::int32_t validate(const stage_model& model) const;
};

FUNNELKIT_END_NAMESPACE

#ifdef FUNNELKIT_HEADER_ONLY
#include "funnelkit/impl/columns.ipp"
#endif
