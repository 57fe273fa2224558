// funnelkit internals: a small, fast, reproducible pseudo-random generator (xoshiro256**,
// seeded through splitmix64) with the few distributions the library needs. Unlike the
// <random> distributions, every draw is specified here, so a seed gives the same numbers
// with every standard library.
#pragma once

#include <cmath>
#include <cstdint>
#include <numbers>

#include "funnelkit/config.hpp"
#include "funnelkit/detail/entity_index.hpp"

FUNNELKIT_BEGIN_NAMESPACE
namespace detail {

class rng {
public:
    /// A stream determined by (seed, stream): different streams are independent for practical
    /// purposes, so per-entity streams make generation order-free and chunkable.
    explicit rng(std::uint64_t seed, std::uint64_t stream = 0) noexcept {
        std::uint64_t x = mix64(seed ^ 0x6a09e667f3bcc908ULL) ^ mix64(stream + 0x9e3779b97f4a7c15ULL);
        for (auto& w : s_) {
            x += 0x9e3779b97f4a7c15ULL;
            w = mix64(x);
        }
    }

    std::uint64_t next() noexcept {
        const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
        const std::uint64_t t = s_[1] << 17;
        s_[2] ^= s_[0];
        s_[3] ^= s_[1];
        s_[1] ^= s_[2];
        s_[0] ^= s_[3];
        s_[2] ^= t;
        s_[3] = rotl(s_[3], 45);
        return result;
    }

    /// Uniform in [0, 1) with 53 random bits.
    double uniform() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
    /// Uniform in (0, 1]: safe to take the logarithm of.
    double uniform_pos() noexcept { return 1.0 - uniform(); }
    bool bernoulli(double p) noexcept { return uniform() < p; }
    /// Uniform integer in [0, n) by Lemire's multiply-shift (bias below 2^-64 * n).
    std::uint64_t below(std::uint64_t n) noexcept {
        __extension__ typedef unsigned __int128 u128;
        return static_cast<std::uint64_t>((static_cast<u128>(next()) * n) >> 64);
    }
    /// Standard normal by the Box-Muller transform (one of the pair is used).
    double normal() noexcept {
        const double r = std::sqrt(-2.0 * std::log(uniform_pos()));
        return r * std::cos(2.0 * std::numbers::pi * uniform());
    }
    /// Log-normal with the given mean and log-scale spread sigma.
    double lognormal_mean(double mean, double sigma) noexcept {
        return mean * std::exp(sigma * normal() - 0.5 * sigma * sigma);
    }
    double exponential(double mean) noexcept { return -mean * std::log(uniform_pos()); }

private:
    static constexpr std::uint64_t rotl(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }
    std::uint64_t s_[4];
};

}  // namespace detail
FUNNELKIT_END_NAMESPACE
