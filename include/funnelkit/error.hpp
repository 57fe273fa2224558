// funnelkit: the exception type of the public API and helpers that build its messages.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include "funnelkit/config.hpp"

FUNNELKIT_BEGIN_NAMESPACE

/// Thrown for invalid input: mismatched column lengths, unknown codes, NaN amounts, broken
/// order promises, invalid options. The message names the column (or option), the row and
/// the offending value wherever there is one.
class invalid_argument : public std::invalid_argument {
public:
    using std::invalid_argument::invalid_argument;
};

namespace detail {

/// "column 'stage', row 17: value 42 is not a stage code (expected 0..7)"
[[noreturn]] void throw_at_row(std::string_view column, std::size_t row, std::string_view value,
                               std::string_view problem);

/// "option 'window': value -5 must be >= 0"
[[noreturn]] void throw_option(std::string_view option, std::string_view value,
                               std::string_view problem);

/// Mismatched lengths: "column 'time' has 9 rows but column 'entity' has 10".
[[noreturn]] void throw_length(std::string_view column, std::size_t rows,
                               std::string_view reference, std::size_t reference_rows);

std::string to_text(double v);
/// Ten significant digits: numbers shown to people in explanations.
std::string to_display(double v);
inline std::string to_text(std::int64_t v) { return std::to_string(v); }
inline std::string to_text(std::int32_t v) { return std::to_string(v); }
inline std::string to_text(std::uint64_t v) { return std::to_string(v); }

}  // namespace detail

FUNNELKIT_END_NAMESPACE

#ifdef FUNNELKIT_HEADER_ONLY
#include "funnelkit/impl/error.ipp"
#endif
