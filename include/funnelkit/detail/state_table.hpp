// funnelkit internals: an open-addressing table from entity id to a fixed-size block of int64
// state words stored inline in the slot, so finding an entity's state costs one cache miss,
// and that miss can be prefetched some rows ahead. Linear probing, load factor at most 1/2,
// occupancy in a bitmap (small enough to stay in cache). fold_by_entity (grouping.hpp) runs
// order-free per-entity reductions through it.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <vector>

#include "funnelkit/config.hpp"
#include "funnelkit/detail/entity_index.hpp"
#include "funnelkit/detail/huge_pages.hpp"

FUNNELKIT_BEGIN_NAMESPACE
namespace detail {

class state_table {
public:
    /// Each slot holds the key and `state_words` words of state (zeroed when the key is
    /// inserted); occupancy lives in a separate bitmap. Slots of 8 words fill one cache line.
    state_table(std::size_t state_words, std::size_t expected) : stride_(state_words + 1) {
        rehash(std::bit_ceil(std::max<std::size_t>(16, expected * 2)));
    }

    void prefetch(std::int64_t key) const noexcept { prefetch_hashed(mix64(static_cast<std::uint64_t>(key))); }
    /// prefetch() given the key's mix64 hash.
    void prefetch_hashed(std::uint64_t hash) const noexcept {
        const std::int64_t* p = base_ + (static_cast<std::size_t>(hash) & mask_) * stride_;
        __builtin_prefetch(p);
        if (stride_ > 8) __builtin_prefetch(p + 8);
    }

    /// find_or_insert() given the key's mix64 hash; the common case inline.
    std::int64_t* find_or_insert_hashed(std::int64_t key, std::uint64_t hash, bool& fresh) {
        for (std::size_t pos = static_cast<std::size_t>(hash) & mask_;; pos = (pos + 1) & mask_) {
            std::int64_t* s = base_ + pos * stride_;
            if (!used(pos)) {
                if ((size_ + 1) * 2 > capacity_) [[unlikely]] {
                    rehash(capacity_ * 2);
                    pos = (static_cast<std::size_t>(hash) - 1) & mask_;  // the step below: the new home slot
                    continue;
                }
                s[0] = key;
                used_[pos >> 6] |= std::uint64_t{1} << (pos & 63);
                ++size_;
                fresh = true;
                return s + 1;
            }
            if (s[0] == key) {
                fresh = false;
                return s + 1;
            }
        }
    }

    /// State words of `key`, inserting zeroed state when new (then `fresh` is set).
    std::int64_t* find_or_insert(std::int64_t key, bool& fresh) {
        return find_or_insert_hashed(key, mix64(static_cast<std::uint64_t>(key)), fresh);
    }

    std::size_t size() const noexcept { return size_; }

    /// Calls f(key, state) for every entity, in table order.
    template <class F>
    void for_each(F&& f) {
        for (std::size_t pos = 0; pos < capacity_; ++pos)
            if (used(pos)) f(base_[pos * stride_], base_ + pos * stride_ + 1);
    }

private:
    bool used(std::size_t pos) const noexcept { return (used_[pos >> 6] >> (pos & 63)) & 1u; }

    std::size_t home(std::int64_t key) const noexcept {
        return static_cast<std::size_t>(mix64(static_cast<std::uint64_t>(key))) & mask_;
    }

    void rehash(std::size_t capacity) {
        huge_array<std::int64_t> old = std::move(words_);
        std::vector<std::uint64_t> old_used = std::move(used_);
        const std::int64_t* old_base = base_;
        const std::size_t old_capacity = capacity_;
        // 8 spare words so the first slot can start on a 64-byte boundary. Zeroed memory on
        // transparent huge pages when large (huge_pages.hpp): random slot accesses then hit
        // the TLB, and the prefetches are not dropped on a page walk.
        const std::size_t words = capacity * stride_ + 8;
        words_ = huge_array<std::int64_t>(words);
        const auto addr = reinterpret_cast<std::uintptr_t>(words_.get());
        base_ = words_.get() + ((64 - addr % 64) % 64) / sizeof(std::int64_t);
        used_.assign((capacity + 63) / 64, 0);
        capacity_ = capacity;
        mask_ = capacity - 1;
        for (std::size_t p = 0; p < old_capacity; ++p) {
            if (!((old_used[p >> 6] >> (p & 63)) & 1u)) continue;
            const std::int64_t* s = old_base + p * stride_;
            std::size_t pos = home(s[0]);
            while (used(pos)) pos = (pos + 1) & mask_;
            used_[pos >> 6] |= std::uint64_t{1} << (pos & 63);
            for (std::size_t w = 0; w < stride_; ++w) base_[pos * stride_ + w] = s[w];
        }
    }

    std::size_t stride_;
    huge_array<std::int64_t> words_;
    std::int64_t* base_ = nullptr;
    std::vector<std::uint64_t> used_;
    std::size_t capacity_ = 0;
    std::size_t mask_ = 0;
    std::size_t size_ = 0;
};

}  // namespace detail
FUNNELKIT_END_NAMESPACE
