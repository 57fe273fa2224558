// funnelkit internals: differences of integer times computed exactly before they become
// doubles. Converting two times near the int64 limits to double first and subtracting loses
// every digit of a short interval (2^62 + 5 and 2^62 are the same double); the integer
// difference does not, and fits uint64 whenever the later time is not earlier.
#pragma once

#include <cstdint>

#include "funnelkit/config.hpp"

FUNNELKIT_BEGIN_NAMESPACE
namespace detail {

/// later - earlier, exactly, for later >= earlier (any two int64 values: the result fits uint64).
constexpr std::uint64_t elapsed_ticks(std::int64_t earlier, std::int64_t later) noexcept {
    return static_cast<std::uint64_t>(later) - static_cast<std::uint64_t>(earlier);
}

/// later - earlier as a double, rounded once (from the exact difference); negative when later
/// is earlier.
constexpr double elapsed(std::int64_t earlier, std::int64_t later) noexcept {
    return later >= earlier ? static_cast<double>(elapsed_ticks(earlier, later))
                            : -static_cast<double>(elapsed_ticks(later, earlier));
}

}  // namespace detail
FUNNELKIT_END_NAMESPACE
