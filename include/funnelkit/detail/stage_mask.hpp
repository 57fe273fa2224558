// funnelkit internals: sets of ladder stages as 64-bit masks (bit k = ladder stage k).
#pragma once

#include <bit>
#include <cstdint>

#include "funnelkit/config.hpp"

FUNNELKIT_BEGIN_NAMESPACE
namespace detail {

/// The stages reached when reaching a stage implies every earlier one: all bits up to the
/// highest set bit.
constexpr std::uint64_t close_downwards(std::uint64_t mask) noexcept {
    if (mask == 0) return 0;
    const int top = 63 - std::countl_zero(mask);
    return top == 63 ? ~std::uint64_t{0} : (std::uint64_t{2} << top) - 1;
}

}  // namespace detail
FUNNELKIT_END_NAMESPACE
