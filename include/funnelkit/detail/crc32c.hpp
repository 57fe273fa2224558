// funnelkit internals: CRC-32C (Castagnoli), the checksum that closes every serialised state
// from format version 2 on (see docs/state-format.md).
//
// Parameters: reflected polynomial 0x82F63B78 (0x1EDC6F41 unreflected), initial value and
// final xor 0xFFFFFFFF; the check value crc32c("123456789") is 0xE3069283. This is the CRC of
// iSCSI, ext4 and the SSE4.2 instruction, so any implementation can verify the bytes. Portable
// software: eight 256-entry tables built at compile time, eight bytes per step ("slicing by 8").
// CRC-32C detects every error burst of up to 32 bits, hence every single flipped bit.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "funnelkit/config.hpp"

FUNNELKIT_BEGIN_NAMESPACE
namespace detail {
namespace crc32c_impl {

using table_set = std::array<std::array<std::uint32_t, 256>, 8>;

// tables[0] is the classic byte-at-a-time table; tables[s][b] advances the CRC of byte b
// followed by s zero bytes, so eight lookups consume eight input bytes at once.
constexpr table_set make_tables() noexcept {
    table_set t{};
    for (std::uint32_t b = 0; b < 256; ++b) {
        std::uint32_t c = b;
        for (int bit = 0; bit < 8; ++bit) c = (c >> 1) ^ ((c & 1u) != 0 ? 0x82F63B78u : 0u);
        t[0][b] = c;
    }
    for (std::size_t b = 0; b < 256; ++b)
        for (std::size_t s = 1; s < 8; ++s) t[s][b] = (t[s - 1][b] >> 8) ^ t[0][t[s - 1][b] & 0xFFu];
    return t;
}

inline constexpr table_set tables = make_tables();

inline std::uint32_t load_le32(const unsigned char* p) noexcept {
    return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
           (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}

}  // namespace crc32c_impl

/// CRC-32C of `size` bytes. Pass the result of a previous call as `crc` to continue a
/// checksum over several pieces: crc32c(b, nb, crc32c(a, na)) == crc32c of a followed by b.
inline std::uint32_t crc32c(const void* data, std::size_t size, std::uint32_t crc = 0) noexcept {
    const auto& t = crc32c_impl::tables;
    const auto* p = static_cast<const unsigned char*>(data);
    std::uint32_t c = ~crc;
    for (; size >= 8; p += 8, size -= 8) {
        const std::uint32_t lo = c ^ crc32c_impl::load_le32(p);
        const std::uint32_t hi = crc32c_impl::load_le32(p + 4);
        c = t[7][lo & 0xFFu] ^ t[6][(lo >> 8) & 0xFFu] ^ t[5][(lo >> 16) & 0xFFu] ^ t[4][lo >> 24] ^
            t[3][hi & 0xFFu] ^ t[2][(hi >> 8) & 0xFFu] ^ t[1][(hi >> 16) & 0xFFu] ^ t[0][hi >> 24];
    }
    for (; size > 0; ++p, --size) c = (c >> 8) ^ t[0][(c ^ *p) & 0xFFu];
    return ~c;
}

}  // namespace detail
FUNNELKIT_END_NAMESPACE
