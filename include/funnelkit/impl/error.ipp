// Definitions for funnelkit/error.hpp; config.hpp explains the compiled and header-only modes.
#pragma once

#include "funnelkit/error.hpp"

#include <cmath>
#include <cstdio>

FUNNELKIT_BEGIN_NAMESPACE
namespace detail {

FUNNELKIT_INLINE void throw_at_row(std::string_view column, std::size_t row, std::string_view value,
                                   std::string_view problem) {
    std::string msg = "column '";
    msg.append(column).append("', row ").append(std::to_string(row)).append(": value ");
    msg.append(value).append(" ").append(problem);
    throw invalid_argument(msg);
}

FUNNELKIT_INLINE void throw_option(std::string_view option, std::string_view value, std::string_view problem) {
    std::string msg = "option '";
    msg.append(option).append("': value ").append(value).append(" ").append(problem);
    throw invalid_argument(msg);
}

FUNNELKIT_INLINE void throw_length(std::string_view column, std::size_t rows, std::string_view reference,
                                   std::size_t reference_rows) {
    std::string msg = "column '";
    msg.append(column).append("' has ").append(std::to_string(rows)).append(" rows but column '");
    msg.append(reference).append("' has ").append(std::to_string(reference_rows));
    throw invalid_argument(msg);
}

FUNNELKIT_INLINE std::string to_text(double v) {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return buf;
}

FUNNELKIT_INLINE std::string to_display(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.10g", v);
    return buf;
}

}  // namespace detail
FUNNELKIT_END_NAMESPACE
