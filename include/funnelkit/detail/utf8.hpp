// funnelkit internals: strict UTF-8 validation of the text a state stores (reason names, key
// kinds, keys), on input and when reading serialised bytes.
#pragma once

#include <cstddef>
#include <string_view>

#include "funnelkit/config.hpp"

FUNNELKIT_BEGIN_NAMESPACE
namespace detail {

/// Byte offset of the first byte that does not start a well-formed UTF-8 sequence (RFC 3629:
/// no overlong forms, no surrogates U+D800..U+DFFF, nothing above U+10FFFF), or s.size() when
/// the whole string is valid.
constexpr std::size_t utf8_error_offset(std::string_view s) noexcept {
    const std::size_t n = s.size();
    std::size_t i = 0;
    while (i < n) {
        const auto b0 = static_cast<unsigned char>(s[i]);
        if (b0 < 0x80) {
            ++i;
            continue;
        }
        std::size_t len = 0;
        unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
        if (b0 >= 0xC2 && b0 <= 0xDF) {
            len = 2;
        } else if (b0 >= 0xE0 && b0 <= 0xEF) {
            len = 3;
            if (b0 == 0xE0) lo = 0xA0;       // overlong below U+0800
            else if (b0 == 0xED) hi = 0x9F;  // surrogates
        } else if (b0 >= 0xF0 && b0 <= 0xF4) {
            len = 4;
            if (b0 == 0xF0) lo = 0x90;       // overlong below U+10000
            else if (b0 == 0xF4) hi = 0x8F;  // above U+10FFFF
        } else {
            return i;  // a continuation byte, C0/C1 (overlong) or F5..FF
        }
        if (n - i < len) return i;
        const auto b1 = static_cast<unsigned char>(s[i + 1]);
        if (b1 < lo || b1 > hi) return i;
        for (std::size_t k = 2; k < len; ++k) {
            const auto b = static_cast<unsigned char>(s[i + k]);
            if (b < 0x80 || b > 0xBF) return i;
        }
        i += len;
    }
    return n;
}

constexpr bool valid_utf8(std::string_view s) noexcept { return utf8_error_offset(s) == s.size(); }

}  // namespace detail
FUNNELKIT_END_NAMESPACE
