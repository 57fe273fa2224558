// Definitions for funnelkit/detail/state_table.hpp; config.hpp explains the compiled and
// header-only modes.
#pragma once

#include "funnelkit/detail/state_table.hpp"

#include <bit>
#include <cmath>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define FUNNELKIT_HLL_AVX512 1
#endif

FUNNELKIT_BEGIN_NAMESPACE
namespace detail {
namespace hll {
inline constexpr unsigned bits = distinct_sketch::bits;
inline constexpr std::size_t registers = std::size_t{1} << bits;

inline void update(std::uint8_t* reg, const std::int64_t* keys, std::size_t n) noexcept {
    for (std::size_t i = 0; i < n; ++i) {
        prefetch_ahead(i, n, keys);
        distinct_sketch::offer_to(reg, mix64(static_cast<std::uint64_t>(keys[i])));
    }
}

#ifdef FUNNELKIT_HLL_AVX512
// update() eight keys at a time: mix64 with 64-bit vector multiplies and the ranks with a
// vector count of leading zeros; the registers then take the eight offers one by one. (Vector
// operators rather than shift intrinsics, whose GCC 12 definitions warn of an undefined
// operand.)
using lanes = std::uint64_t __attribute__((vector_size(64)));
[[gnu::target("avx512f,avx512dq,avx512cd")]] inline void update_avx512(std::uint8_t* reg, const std::int64_t* keys,
                                                                    std::size_t n) noexcept {
    alignas(64) std::uint64_t at[8], rank[8];
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        prefetch_ahead(i, n, keys);
        lanes x;
        __builtin_memcpy(&x, keys + i, sizeof x);
        x ^= x >> 30;
        x *= 0xbf58476d1ce4e5b9ULL;
        x ^= x >> 27;
        x *= 0x94d049bb133111ebULL;
        x ^= x >> 31;
        const lanes where = x >> (64 - bits);
        const lanes rest = (x << bits) | (std::uint64_t{1} << (bits - 1));
        const lanes zeros = reinterpret_cast<lanes>(_mm512_lzcnt_epi64(reinterpret_cast<__m512i>(rest)));
        __builtin_memcpy(at, &where, sizeof at);
        const lanes ranks = zeros + 1;
        __builtin_memcpy(rank, &ranks, sizeof rank);
        for (std::size_t k = 0; k < 8; ++k) {
            std::uint8_t& r = reg[at[k]];
            const auto v = static_cast<std::uint8_t>(rank[k]);
            r = v > r ? v : r;
        }
    }
    for (; i < n; ++i) distinct_sketch::offer_to(reg, mix64(static_cast<std::uint64_t>(keys[i])));
}
#endif
}  // namespace hll

FUNNELKIT_INLINE std::size_t estimate_distinct(const std::int64_t* keys, std::size_t n) noexcept {
    distinct_sketch sketch;
    std::uint8_t* reg = sketch.registers();
#ifdef FUNNELKIT_HLL_AVX512
    static const bool wide = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
                             __builtin_cpu_supports("avx512cd");
    if (wide)
        hll::update_avx512(reg, keys, n);
    else
        hll::update(reg, keys, n);
#else
    hll::update(reg, keys, n);
#endif
    return sketch.estimate(n);
}

FUNNELKIT_INLINE std::size_t distinct_sketch::estimate(std::size_t n) const noexcept {
    double sum = 0.0;
    std::size_t zeros = 0;
    for (std::size_t j = 0; j < hll::registers; ++j) {
        sum += std::ldexp(1.0, -static_cast<int>(reg_[j]));
        zeros += reg_[j] == 0;
    }
    const double m = static_cast<double>(hll::registers);
    double e = 0.7213 / (1.0 + 1.079 / m) * m * m / sum;
    if (e <= 2.5 * m && zeros > 0) e = m * std::log(m / static_cast<double>(zeros));
    return static_cast<std::size_t>(std::min(e, static_cast<double>(n)) + 0.5);
}

}  // namespace detail
FUNNELKIT_END_NAMESPACE
