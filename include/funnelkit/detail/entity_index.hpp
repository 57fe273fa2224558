// funnelkit internals: a flat open-addressing map from 64-bit entity ids to dense indices
// 0, 1, 2, ... in order of first appearance. No allocation per insert beyond table growth.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "funnelkit/config.hpp"

FUNNELKIT_BEGIN_NAMESPACE
namespace detail {

/// The splitmix64 finaliser: a cheap, well-mixing bijection on 64-bit integers.
constexpr std::uint64_t mix64(std::uint64_t x) noexcept {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

class entity_index {
public:
    explicit entity_index(std::size_t expected = 0) { rehash(capacity_for(expected)); }

    /// Dense index of `id`, inserting it with the next free index when new.
    std::uint32_t insert(std::int64_t id) {
        if ((size_ + 1) * 4 > slots_.size() * 3) rehash(slots_.size() * 2);
        std::size_t pos = mix64(static_cast<std::uint64_t>(id)) & mask_;
        for (;;) {
            slot& s = slots_[pos];
            if (s.index == empty) {
                s.key = id;
                s.index = static_cast<std::uint32_t>(size_++);
                return s.index;
            }
            if (s.key == id) return s.index;
            pos = (pos + 1) & mask_;
        }
    }

    std::size_t size() const noexcept { return size_; }

private:
    static constexpr std::uint32_t empty = 0xffffffffu;
    struct slot {
        std::int64_t key;
        std::uint32_t index;
    };
    static std::size_t capacity_for(std::size_t n) {
        return std::bit_ceil(n * 4 / 3 + 16);
    }
    void rehash(std::size_t capacity) {
        std::vector<slot> old = std::move(slots_);
        slots_.assign(capacity, slot{0, empty});
        mask_ = capacity - 1;
        for (const slot& s : old) {
            if (s.index == empty) continue;
            std::size_t pos = mix64(static_cast<std::uint64_t>(s.key)) & mask_;
            while (slots_[pos].index != empty) pos = (pos + 1) & mask_;
            slots_[pos] = s;
        }
    }

    std::vector<slot> slots_;
    std::size_t mask_ = 0;
    std::size_t size_ = 0;
};

}  // namespace detail
FUNNELKIT_END_NAMESPACE
