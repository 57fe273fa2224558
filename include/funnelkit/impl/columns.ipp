// Definitions for funnelkit/columns.hpp; config.hpp explains the compiled and header-only modes.
#pragma once

#include "funnelkit/columns.hpp"

#include <climits>
#include <limits>
#include <span>
#include <cmath>
#include <cstdint>
#include <utility>
#include <string>

#include "funnelkit/error.hpp"

FUNNELKIT_BEGIN_NAMESPACE

namespace detail {
/// The least and greatest of n codes ({INT32_MAX, INT32_MIN} when n is 0).
template <class Code>
std::pair<std::int32_t, std::int32_t> min_max(const Code* v, std::size_t n) noexcept {
    Code lo = std::numeric_limits<Code>::max(), hi = std::numeric_limits<Code>::min();
    for (std::size_t i = 0; i < n; ++i) {
        lo = v[i] < lo ? v[i] : lo;
        hi = v[i] > hi ? v[i] : hi;
    }
    return n == 0 ? std::pair<std::int32_t, std::int32_t>{INT32_MAX, INT32_MIN} : std::pair<std::int32_t, std::int32_t>{lo, hi};
}

/// Range checks of stage codes (0..n_stages-1) and segment codes (>= 0; `segment` may be
/// empty) as branch-free reductions (they vectorise); the offending row is looked up only when
/// one exists. Returns the number of segments (largest code + 1; 0 without segments).
template <class Code>
std::int32_t check_stage_segment_codes(std::span<const Code> stage, std::span<const Code> segment, std::int32_t n_stages) {
    const std::size_t n = stage.size();
    const auto [stage_lo, stage_hi] = min_max(stage.data(), n);
    if (n > 0 && (stage_lo < 0 || stage_hi >= n_stages)) [[unlikely]] {
        for (std::size_t i = 0; i < n; ++i) {
            const std::int32_t s = stage[i];
            if (s < 0 || s >= n_stages)
                throw_at_row("stage", i, std::to_string(s), "is not a stage code (expected 0.." + std::to_string(n_stages - 1) + ")");
        }
    }
    const auto [segment_lo, segment_hi] = min_max(segment.data(), segment.size());
    if (!segment.empty() && segment_lo < 0) [[unlikely]] {
        for (std::size_t i = 0; i < segment.size(); ++i)
            if (segment[i] < 0)
                throw_at_row("segment", i, std::to_string(segment[i]), "is negative; segment codes must be >= 0");
    }
    return segment.empty() ? 0 : segment_hi + 1;
}
}  // namespace detail

FUNNELKIT_INLINE std::int32_t stage_records::validate(const stage_model& model) const {
    const std::size_t n = entity.size();
    if (time.size() != n) detail::throw_length("time", time.size(), "entity", n);
    if (stage.size() != n) detail::throw_length("stage", stage.size(), "entity", n);
    if (!segment.empty() && segment.size() != n) detail::throw_length("segment", segment.size(), "entity", n);
    if (!amount.empty() && amount.size() != n) detail::throw_length("amount", amount.size(), "entity", n);
    if (!reason.empty() && reason.size() != n) detail::throw_length("reason", reason.size(), "entity", n);

    const std::int32_t n_segments = detail::check_stage_segment_codes(stage, segment, static_cast<std::int32_t>(model.size()));
    for (std::size_t i = 0; i < amount.size(); ++i) {
        const double a = amount[i];
        if (!(a >= 0.0) || std::isinf(a)) [[unlikely]]
            detail::throw_at_row("amount", i, detail::to_text(a), "is not a finite amount >= 0");
    }
    for (std::size_t i = 0; i < reason.size(); ++i)
        if (reason[i] < -1) [[unlikely]]
            detail::throw_at_row("reason", i, std::to_string(reason[i]), "is not a reason code (>= 0, or -1 for none)");
    return n_segments;
}

FUNNELKIT_INLINE std::int32_t compact_stage_records::validate(const stage_model& model) const {
    const std::size_t n = entity.size();
    if (time.size() != n) detail::throw_length("time", time.size(), "entity", n);
    if (stage.size() != n) detail::throw_length("stage", stage.size(), "entity", n);
    if (!segment.empty() && segment.size() != n) detail::throw_length("segment", segment.size(), "entity", n);
    return detail::check_stage_segment_codes(stage, segment, static_cast<std::int32_t>(model.size()));
}

FUNNELKIT_END_NAMESPACE
