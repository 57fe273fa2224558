// funnelkit internals: the checks every mergeable state makes before it changes: counters
// that would overflow, and definitions (time unit, stage model, options) that differ.
//
// A definition field is either recorded or "not recorded" (a state built by hand, or read
// from format version 1, which had no such field). Two recorded values must be equal; a field
// not recorded on one side takes the other side's value. This join is associative and
// commutative, so merge keeps both properties.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "funnelkit/config.hpp"
#include "funnelkit/error.hpp"

FUNNELKIT_BEGIN_NAMESPACE
namespace detail {

/// `what` ("cannot merge lifecycle_summary") and the field that differs: "cannot merge
/// lifecycle_summary: time unit differs (1 vs 1000 ticks per second)".
[[noreturn]] inline void throw_incompatible(std::string_view what, std::string_view field, std::string_view mine,
                                            std::string_view theirs, std::string_view unit = {}) {
    std::string msg(what);
    msg.append(": ").append(field).append(" differs (").append(mine).append(" vs ").append(theirs);
    if (!unit.empty()) msg.append(" ").append(unit);
    msg.append(")");
    throw invalid_argument(msg);
}

/// The join of a definition field (see above); `show` turns a value into text for the message.
template <class T, class Show>
T join_recorded(std::string_view what, std::string_view field, const T& mine, const T& theirs, const T& unknown,
                Show show, std::string_view unit = {}) {
    if (mine == unknown) return theirs;
    if (theirs == unknown || mine == theirs) return mine;
    throw_incompatible(what, field, show(mine), show(theirs), unit);
}

/// A stage-model fingerprint as text: "fingerprint 0x" and 16 hex digits.
inline std::string fingerprint_text(std::uint64_t f) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string s = "fingerprint 0x";
    for (int shift = 60; shift >= 0; shift -= 4) s.push_back(digits[(f >> shift) & 0xFu]);
    return s;
}

/// a + b for a counter: throws instead of wrapping. `what` says where ("cannot merge
/// conversion_counts", "conversion_counts::add_entity").
inline std::int64_t add_count(std::int64_t a, std::int64_t b, std::string_view what) {
    std::int64_t sum = 0;
    if (__builtin_add_overflow(a, b, &sum))
        throw invalid_argument(std::string(what) + ": a count overflows int64 (" + std::to_string(a) + " + " +
                               std::to_string(b) + ")");
    return sum;
}

/// dst[i] += src[i] for every i, or no change at all when one of the sums would overflow.
inline void add_counts(std::span<std::int64_t> dst, std::span<const std::int64_t> src, std::string_view what) {
    for (std::size_t i = 0; i < src.size(); ++i) (void)add_count(dst[i], src[i], what);
    for (std::size_t i = 0; i < src.size(); ++i) dst[i] += src[i];
}

/// Sum of counts, or a throw naming `what` when it does not fit int64.
inline std::int64_t total_count(std::span<const std::int64_t> counts, std::string_view what) {
    std::int64_t total = 0;
    for (std::int64_t c : counts) total = add_count(total, c, what);
    return total;
}

}  // namespace detail
FUNNELKIT_END_NAMESPACE
