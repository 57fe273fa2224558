// Helpers shared by the bindings that take options objects: option words to enums (one routine,
// with an error that lists the valid words), optional numbers to NaN for numpy columns, and
// half-open periods from two columns of bounds.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bindings.hpp"
#include "funnelkit/error.hpp"
#include "funnelkit/velocity.hpp"

namespace funnelkit::python {

/// The enum value whose word is `value`, the words listed in enum order; throws
/// funnelkit::invalid_argument naming the option and the valid words.
template <class E>
E pick(std::string_view option, std::string_view value, std::initializer_list<const char*> words) {
    int i = 0;
    std::string list;
    for (const char* w : words) {
        if (value == w) return static_cast<E>(i);
        list += (i ? ", '" : "'") + std::string(w) + "'";
        ++i;
    }
    throw funnelkit::invalid_argument("option '" + std::string(option) + "': value '" + std::string(value) +
                                      "' is not one of " + list);
}

/// The word of an enum value, the words listed in enum order (the inverse of pick).
template <class E>
std::string word(E value, std::initializer_list<const char*> words) {
    const auto i = static_cast<std::size_t>(value);
    return i < words.size() ? std::string(*(words.begin() + i)) : std::string("unknown");
}

/// An optional number as a double, NaN when empty (numpy columns of undefined values).
inline double or_nan(const std::optional<double>& v) {
    return v ? *v : std::numeric_limits<double>::quiet_NaN();
}

/// Half-open periods [starts[i], ends[i]) from two columns of the same length.
inline std::vector<period> make_periods(const array<std::int64_t>& starts, const array<std::int64_t>& ends) {
    auto s = column(starts, "period start");
    auto e = column(ends, "period end");
    if (s.size() != e.size()) funnelkit::detail::throw_length("period end", e.size(), "period start", s.size());
    std::vector<period> p(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) p[i] = {s[i], e[i]};
    return p;
}

}  // namespace funnelkit::python
