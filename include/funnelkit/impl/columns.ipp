// Definitions for funnelkit/columns.hpp; config.hpp explains the compiled and header-only modes.
#pragma once

#include "funnelkit/columns.hpp"

#include <cmath>
#include <string>

#include "funnelkit/error.hpp"

FUNNELKIT_BEGIN_NAMESPACE

FUNNELKIT_INLINE std::int32_t stage_records::validate(const stage_model& model) const {
    const std::size_t n = entity.size();
    if (time.size() != n) detail::throw_length("time", time.size(), "entity", n);
    if (stage.size() != n) detail::throw_length("stage", stage.size(), "entity", n);
    if (!segment.empty() && segment.size() != n) detail::throw_length("segment", segment.size(), "entity", n);
    if (!amount.empty() && amount.size() != n) detail::throw_length("amount", amount.size(), "entity", n);
    if (!reason.empty() && reason.size() != n) detail::throw_length("reason", reason.size(), "entity", n);

    const auto n_stages = static_cast<std::int32_t>(model.size());
    for (std::size_t i = 0; i < n; ++i) {
        const std::int32_t s = stage[i];
        if (s < 0 || s >= n_stages) [[unlikely]]
            detail::throw_at_row("stage", i, std::to_string(s),
                                 "is not a stage code (expected 0.." + std::to_string(n_stages - 1) + ")");
    }
    std::int32_t max_segment = -1;
    for (std::size_t i = 0; i < segment.size(); ++i) {
        const std::int32_t g = segment[i];
        if (g < 0) [[unlikely]]
            detail::throw_at_row("segment", i, std::to_string(g), "is negative; segment codes must be >= 0");
        max_segment = g > max_segment ? g : max_segment;
    }
    for (std::size_t i = 0; i < amount.size(); ++i) {
        const double a = amount[i];
        if (!(a >= 0.0) || std::isinf(a)) [[unlikely]]
            detail::throw_at_row("amount", i, detail::to_text(a), "is not a finite amount >= 0");
    }
    for (std::size_t i = 0; i < reason.size(); ++i)
        if (reason[i] < -1) [[unlikely]]
            detail::throw_at_row("reason", i, std::to_string(reason[i]), "is not a reason code (>= 0, or -1 for none)");
    return segment.empty() ? 0 : max_segment + 1;
}

FUNNELKIT_END_NAMESPACE
