// funnelkit fuzz targets: decoding fuzz bytes into columns and options, and the checks every
// target makes. A target may throw funnelkit::invalid_argument (bad input is reported, which
// is the point); any other exception, a failed check, a sanitizer report or a hang is a finding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <vector>

#include <funnelkit/detail/crc32c.hpp>
#include <funnelkit/error.hpp>

namespace funnelkit_fuzz {

/// Aborts (a finding) with the failed condition.
#define FUZZ_CHECK(cond)                                                                         \
    do {                                                                                         \
        if (!(cond)) {                                                                           \
            std::fprintf(stderr, "fuzz check failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
            std::abort();                                                                        \
        }                                                                                        \
    } while (0)

/// Runs f; a funnelkit::invalid_argument is an accepted outcome. Returns whether f completed.
template <class F>
bool completes(F&& f) {
    try {
        f();
        return true;
    } catch (const funnelkit::invalid_argument&) {
        return false;
    }
}

/// Reads values off the fuzz bytes; past the end every value is 0.
class fuzz_input {
public:
    fuzz_input(const std::uint8_t* data, std::size_t size) : p_(data), n_(size) {}

    bool empty() const noexcept { return i_ >= n_; }
    std::size_t remaining() const noexcept { return i_ < n_ ? n_ - i_ : 0; }

    template <class T>
    T take() noexcept {
        T v{};
        const std::size_t k = std::min(sizeof(T), remaining());
        if (k > 0) std::memcpy(&v, p_ + i_, k);
        i_ += sizeof(T);
        return v;
    }
    std::uint8_t byte() noexcept { return take<std::uint8_t>(); }
    bool flag() noexcept { return (byte() & 1u) != 0; }
    /// An integer in [lo, hi].
    std::int64_t range(std::int64_t lo, std::int64_t hi) noexcept {
        const auto span = static_cast<std::uint64_t>(hi - lo) + 1;
        return lo + static_cast<std::int64_t>(take<std::uint16_t>() % span);
    }
    /// A time or id: mostly small (ties and near neighbours), sometimes one of the extremes,
    /// sometimes any 64-bit value.
    std::int64_t wide() noexcept {
        const std::uint8_t tag = byte();
        switch (tag % 8) {
            case 0: return take<std::int64_t>();
            case 1: {
                constexpr std::int64_t lo = std::numeric_limits<std::int64_t>::min(), hi = std::numeric_limits<std::int64_t>::max();
                const std::int64_t edges[] = {lo, lo + 1, hi, hi - 1, 0, -1, hi / 2, lo / 2};
                return edges[(tag >> 3) % 8];
            }
            default: return static_cast<std::int64_t>(static_cast<std::int8_t>(byte())) * (tag % 8 == 2 ? 1000 : 1);
        }
    }
    /// A double: mostly small integers and halves, sometimes a special value or raw bits.
    double number() noexcept {
        const std::uint8_t tag = byte();
        switch (tag % 8) {
            case 0: return take<double>();
            case 1: {
                const double specials[] = {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
                                           -std::numeric_limits<double>::infinity(), 0.0, -0.0, 1e308, -1e-300,
                                           std::numeric_limits<double>::denorm_min()};
                return specials[(tag >> 3) % 8];
            }
            default: return static_cast<double>(byte()) / (tag % 2 == 0 ? 1.0 : 2.0);
        }
    }

private:
    const std::uint8_t* p_;
    std::size_t n_;
    std::size_t i_ = 0;
};

/// Rewrites the closing CRC-32C of a version >= 2 blob in place, so that mutated bytes get past
/// the checksum and reach the invariant checks behind it.
inline void fix_checksum(std::uint8_t* blob, std::size_t size) noexcept {
    if (size < 10 || (blob[4] | (blob[5] << 8)) < 2) return;
    const std::uint32_t crc = funnelkit::detail::crc32c(blob, size - 4);
    for (std::size_t i = 0; i < 4; ++i) blob[size - 4 + i] = static_cast<std::uint8_t>(crc >> (8 * i));
}

}  // namespace funnelkit_fuzz
