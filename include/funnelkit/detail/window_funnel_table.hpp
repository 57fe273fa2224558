// funnelkit internals: an open-addressing table from entity id to a fixed-size block of int64
// state words stored inline in the slot, so finding an entity's state costs one cache miss,
// and that miss can be prefetched some rows ahead. Linear probing, load factor at most 1/2.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "funnelkit/config.hpp"
#include "funnelkit/detail/entity_index.hpp"

FUNNELKIT_BEGIN_NAMESPACE
namespace detail {

class state_table {
public:
    /// Each slot holds the key, an occupied word and `state_words` words of state (zeroed
    /// when the key is inserted).
    state_table(std::size_t state_words, std::size_t expected)
        : stride_(state_words + 2) {
        rehash(std::bit_ceil(std::max<std::size_t>(16, expected * 2)));
    }

    void prefetch(std::int64_t key) const noexcept {
        const std::int64_t* p = words_.data() + (home(key) * stride_);
        __builtin_prefetch(p);
        __builtin_prefetch(p + 8);
    }

    /// State words of `key`, inserting zeroed state when new (then `fresh` is set).
    std::int64_t* find_or_insert(std::int64_t key, bool& fresh) {
        for (std::size_t pos = home(key);; pos = (pos + 1) & mask_) {
            std::int64_t* s = words_.data() + pos * stride_;
            if (s[1] == 0) {
                if ((size_ + 1) * 2 > capacity_) {
                    rehash(capacity_ * 2);
                    return find_or_insert(key, fresh);
                }
                s[0] = key;
                s[1] = 1;
                ++size_;
                fresh = true;
                return s + 2;
            }
            if (s[0] == key) {
                fresh = false;
                return s + 2;
            }
        }
    }

    std::size_t size() const noexcept { return size_; }

    /// Calls f(key, state) for every entity, in table order.
    template <class F>
    void for_each(F&& f) {
        for (std::size_t pos = 0; pos < capacity_; ++pos) {
            std::int64_t* s = words_.data() + pos * stride_;
            if (s[1] != 0) f(s[0], s + 2);
        }
    }

private:
    std::size_t home(std::int64_t key) const noexcept {
        return static_cast<std::size_t>(mix64(static_cast<std::uint64_t>(key))) & mask_;
    }

    void rehash(std::size_t capacity) {
        std::vector<std::int64_t> old = std::move(words_);
        const std::size_t old_capacity = capacity_;
        words_.assign(capacity * stride_, 0);
        capacity_ = capacity;
        mask_ = capacity - 1;
        for (std::size_t p = 0; p < old_capacity; ++p) {
            const std::int64_t* s = old.data() + p * stride_;
            if (s[1] == 0) continue;
            std::size_t pos = home(s[0]);
            while (words_[pos * stride_ + 1] != 0) pos = (pos + 1) & mask_;
            for (std::size_t w = 0; w < stride_; ++w) words_[pos * stride_ + w] = s[w];
        }
    }

    std::size_t stride_;
    std::vector<std::int64_t> words_;
    std::size_t capacity_ = 0;
    std::size_t mask_ = 0;
    std::size_t size_ = 0;
};

}  // namespace detail
FUNNELKIT_END_NAMESPACE
