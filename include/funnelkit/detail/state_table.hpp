// funnelkit internals: an open-addressing table from entity id to a fixed-size block of int64
// state words stored inline in the slot, so finding an entity's state costs one cache miss,
// and that miss can be prefetched some rows ahead. Linear probing, load factor at most 3/4,
// occupancy in a bitmap (small enough to stay in cache). fold_by_entity (grouping.hpp) runs
// order-free per-entity reductions through it.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <vector>

#include "funnelkit/config.hpp"
#include "funnelkit/detail/entity_index.hpp"
#include "funnelkit/detail/huge_pages.hpp"
#include "funnelkit/detail/prefetch.hpp"

FUNNELKIT_BEGIN_NAMESPACE
namespace detail {

/// An estimate of the number of distinct values among keys[0, n), at most n: a HyperLogLog
/// sketch (2^12 registers over mix64: about 1.6% relative error; linear counting while small).
/// Used to size a table once instead of letting it grow (each growth holds the old and the new
/// table and moves every key). On x86-64 processors with AVX-512 the keys are hashed eight at
/// a time (the same registers, so the same estimate; 1e7 keys: 7 against 15 ms).
std::size_t estimate_distinct(const std::int64_t* keys, std::size_t n) noexcept;

/// The registers behind estimate_distinct(), for passes that hash their keys with mix64
/// anyway: offer() each key's mix64, merge() the sketches of parts of the keys (the result is
/// the sketch of all of them, whatever the split), then estimate().
class distinct_sketch {
public:
    static constexpr unsigned bits = 12;
    [[gnu::always_inline]] void offer(std::uint64_t mixed) noexcept { offer_to(reg_.data(), mixed); }
    /// offer() into registers reg: the register of the top bits takes the rank of the rest
    /// (one more than their leading zeros, at most 64 - bits + 1) when it is larger.
    [[gnu::always_inline]] static void offer_to(std::uint8_t* reg, std::uint64_t mixed) noexcept {
        const auto rank = static_cast<std::uint8_t>(std::countl_zero((mixed << bits) | (std::uint64_t{1} << (bits - 1))) + 1);
        std::uint8_t& r = reg[mixed >> (64 - bits)];
        r = rank > r ? rank : r;
    }
    void merge(const distinct_sketch& other) noexcept {
        for (std::size_t j = 0; j < reg_.size(); ++j) reg_[j] = std::max(reg_[j], other.reg_[j]);
    }
    /// The estimate, at most n (the number of keys offered).
    std::size_t estimate(std::size_t n) const noexcept;
    std::uint8_t* registers() noexcept { return reg_.data(); }

private:
    std::array<std::uint8_t, std::size_t{1} << bits> reg_{};
};

/// The hash the tables below index by: the key times 2^64 over the golden ratio (Fibonacci
/// hashing), its halves swapped, so that the product's high half, where every key bit has
/// reached, is the low half the tables take their slot from. One multiplication instead of
/// mix64's two and three shifts: on 1e7 shuffled reach records of 1.25e6 leads, C++ alone,
/// 0.089 against 0.099 s, six alternating runs. Its other half is weak (it depends on the
/// key's low 32 bits only), so a hash that must also spread keys over threads is mix64.
[[gnu::always_inline]] inline std::uint64_t table_hash(std::uint64_t key) noexcept {
    const std::uint64_t p = key * 0x9E3779B97F4A7C15ull;
    return (p >> 32) | (p << 32);
}

class state_table {
public:
    /// Each slot holds the key and `state_words` words of state (zeroed when the key is
    /// inserted); occupancy lives in a separate bitmap. Slots of 8 words fill one cache line.
    state_table(std::size_t state_words, std::size_t expected) : stride_(state_words + 1) {
        rehash(capacity_for(expected));
    }

    /// The smallest power-of-two capacity that holds `entities` keys within the load factor.
    static std::size_t capacity_for(std::size_t entities) noexcept {
        return std::bit_ceil(std::max<std::size_t>(16, entities + entities / 3 + 1));
    }

    // Always inlined, as every function that only prefetches (detail/prefetch.hpp).
    [[gnu::always_inline]] void prefetch(std::int64_t key) const noexcept { prefetch_hashed(table_hash(static_cast<std::uint64_t>(key))); }
    /// prefetch() given the key's table_hash.
    [[gnu::always_inline]] void prefetch_hashed(std::uint64_t hash) const noexcept {
        const std::int64_t* p = base_ + home_of(hash) * stride_;
        __builtin_prefetch(p);
        if (stride_ > 8) __builtin_prefetch(p + 8);
    }

    /// find_or_insert() given the key's table_hash; the common case inline.
    [[gnu::always_inline]] std::int64_t* find_or_insert_hashed(std::int64_t key, std::uint64_t hash, bool& fresh) {
        for (std::size_t pos = home_of(hash);; pos = (pos + 1) & mask_) {
            std::int64_t* s = base_ + pos * stride_;
            if (!used(pos)) [[unlikely]] return insert(pos, key, hash, fresh);
            if (s[0] == key) {
                fresh = false;
                return s + 1;
            }
        }
    }

    /// State words of `key`, inserting zeroed state when new (then `fresh` is set).
    std::int64_t* find_or_insert(std::int64_t key, bool& fresh) {
        return find_or_insert_hashed(key, table_hash(static_cast<std::uint64_t>(key)), fresh);
    }

    std::size_t size() const noexcept { return size_; }

    /// Makes room for `entities` keys at once (one move of the states instead of one per
    /// doubling).
    void reserve(std::size_t entities) {
        if (capacity_for(entities) > capacity_) rehash(capacity_for(entities));
    }

    /// Calls f(key, state) for every entity, in table order. Walks the set bits of the
    /// occupancy map, not every slot: no guess per slot of whether it is used.
    template <class F>
    void for_each(F&& f) {
        for (std::size_t w = 0; w < used_.size(); ++w)
            for (std::uint64_t bits = used_[w]; bits != 0; bits &= bits - 1) {
                const std::size_t pos = w * 64 + static_cast<std::size_t>(std::countr_zero(bits));
                f(base_[pos * stride_], base_ + pos * stride_ + 1);
            }
    }

private:
    // Inserts key at its free slot pos (growing the table first when full).
    [[gnu::noinline]] std::int64_t* insert(std::size_t pos, std::int64_t key, std::uint64_t hash, bool& fresh) {
        if ((size_ + 1) * 4 > capacity_ * 3) {
            rehash(capacity_ * 2);
            pos = home_of(hash);
            while (used(pos)) pos = (pos + 1) & mask_;
        }
        std::int64_t* s = base_ + pos * stride_;
        s[0] = key;
        for (std::size_t w = 1; w < stride_; ++w) s[w] = 0;
        used_[pos >> 6] |= std::uint64_t{1} << (pos & 63);
        ++size_;
        fresh = true;
        return s + 1;
    }

    bool used(std::size_t pos) const noexcept { return (used_[pos >> 6] >> (pos & 63)) & 1u; }

    // A key's first slot: the top bits of the hash's low 32 (table_hash: the top of its
    // product; the product's middle bits, taken with the mask, left seven slots in eight
    // empty for consecutive ids).
    [[gnu::always_inline]] std::size_t home_of(std::uint64_t hash) const noexcept {
        return static_cast<std::size_t>((hash & 0xffffffffu) >> shift_);
    }

    std::size_t home(std::int64_t key) const noexcept {
        return home_of(table_hash(static_cast<std::uint64_t>(key)));
    }

    void rehash(std::size_t capacity) {
        huge_array<std::int64_t> old = std::move(words_);
        std::vector<std::uint64_t> old_used = std::move(used_);
        const std::int64_t* old_base = base_;
        const std::size_t old_capacity = capacity_;
        // 8 spare words so the first slot can start on a 64-byte boundary. Zeroed memory on
        // transparent huge pages when large (huge_pages.hpp): random slot accesses then hit
        // the TLB, and the prefetches are not dropped on a page walk.
        if (capacity > (std::size_t{1} << 32)) throw std::bad_alloc();  // home_of takes 32 bits
        const std::size_t words = capacity * stride_ + 8;
        words_ = huge_array<std::int64_t>(words);
        const auto addr = reinterpret_cast<std::uintptr_t>(words_.get());
        base_ = words_.get() + ((64 - addr % 64) % 64) / sizeof(std::int64_t);
        used_.assign((capacity + 63) / 64, 0);
        capacity_ = capacity;
        mask_ = capacity - 1;
        shift_ = 32 - static_cast<unsigned>(std::countr_zero(capacity));
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
    unsigned shift_ = 32;
    std::size_t size_ = 0;
};

/// A table from entity id to one int64 word of state, for folds whose state fits in a word:
/// buckets of four (key, word) slots filling one 64-byte line, so that finding an entity
/// compares the four keys of one line without a branch per slot, and the table can be fuller
/// than state_table's at no extra probing. A key is stored with its sign bit flipped, so a
/// zero key (fresh memory) marks a free slot; the one key whose stored form would be zero
/// (INT64_MIN) keeps its word beside the table. A bucket's slots fill in order and are never
/// freed, so the first free slot ends a search. Full buckets spill into the next one.
class bucket_table {
public:
    /// Room for `expected` entities at a load of at most `load` (0 < load <= 0.9).
    bucket_table(std::size_t expected, double load) { rehash(buckets_for(expected, load)); }

    static std::size_t buckets_for(std::size_t entities, double load) noexcept {
        return std::max<std::size_t>(4, static_cast<std::size_t>(static_cast<double>(entities) / (4.0 * load)) + 1);
    }
    /// Bytes of a table with room for `entities` at `load`.
    static std::size_t bytes_for(std::size_t entities, double load) noexcept { return buckets_for(entities, load) * 64; }

    [[gnu::always_inline]] void prefetch_hashed(std::uint64_t hash) const noexcept { __builtin_prefetch(base_ + 8 * bucket(hash)); }

    /// The word of `key` (given its table_hash), inserting a zero word when new (then `fresh`).
    [[gnu::always_inline]] std::int64_t* find_or_insert_hashed(std::int64_t key, std::uint64_t hash, bool& fresh) {
        const std::uint64_t stored = static_cast<std::uint64_t>(key) ^ (std::uint64_t{1} << 63);
        if (stored == 0) [[unlikely]] return aside(fresh);
        for (std::size_t b = bucket(hash);; b = b + 1 == buckets_ ? 0 : b + 1) {
            std::uint64_t* s = base_ + 8 * b;
            const unsigned hit = static_cast<unsigned>(s[0] == stored) | static_cast<unsigned>(s[2] == stored) << 1 |
                                 static_cast<unsigned>(s[4] == stored) << 2 | static_cast<unsigned>(s[6] == stored) << 3;
            if (hit != 0) [[likely]] {
                fresh = false;
                return reinterpret_cast<std::int64_t*>(s + 2 * std::countr_zero(hit) + 1);
            }
            const unsigned free = static_cast<unsigned>(s[0] == 0) | static_cast<unsigned>(s[2] == 0) << 1 |
                                  static_cast<unsigned>(s[4] == 0) << 2 | static_cast<unsigned>(s[6] == 0) << 3;
            if (free != 0) return insert(s + 2 * std::countr_zero(free), stored, hash, fresh);
        }
    }

    std::size_t size() const noexcept { return size_; }

    /// Calls f(key, word) for every entity, in table order (the key kept aside last). The used
    /// slots are listed a batch at a time without a branch per slot (whether a slot is used is
    /// a coin toss at the loads used), then visited.
    template <class F>
    void for_each(F&& f) {
        constexpr std::size_t batch = 256;
        std::uint32_t at[batch + 4];
        const std::size_t slots = buckets_ * 4;
        for (std::size_t p0 = 0; p0 < slots; p0 += batch) {
            const std::size_t p1 = std::min(slots, p0 + batch);
            std::size_t k = 0;
            for (std::size_t p = p0; p < p1; ++p) {
                at[k] = static_cast<std::uint32_t>(p - p0);
                k += base_[2 * p] != 0;
            }
            for (std::size_t q = 0; q < k; ++q) {
                std::uint64_t* s = base_ + 2 * (p0 + at[q]);
                f(static_cast<std::int64_t>(s[0] ^ (std::uint64_t{1} << 63)), reinterpret_cast<std::int64_t*>(s + 1));
            }
        }
        if (has_aside_) f(std::numeric_limits<std::int64_t>::min(), &aside_word_);
    }

private:
    // The hash's low 32 bits (table_hash: the high half of its product) scaled to the bucket
    // count.
    std::size_t bucket(std::uint64_t hash) const noexcept {
        return static_cast<std::size_t>(((hash & 0xffffffffu) * buckets_) >> 32);
    }

    [[gnu::noinline]] std::int64_t* aside(bool& fresh) {
        fresh = !has_aside_;
        if (fresh) {
            has_aside_ = true;
            aside_word_ = 0;
            ++size_;
        }
        return &aside_word_;
    }

    [[gnu::noinline]] std::int64_t* insert(std::uint64_t* slot, std::uint64_t stored, std::uint64_t hash, bool& fresh) {
        fresh = true;
        if ((size_ + 1) * 10 > buckets_ * 4 * 9) {  // past a load of 0.9: twice the buckets
            rehash(buckets_ * 2);
            bool again;
            std::int64_t* w = find_or_insert_hashed(static_cast<std::int64_t>(stored ^ (std::uint64_t{1} << 63)), hash, again);
            return w;
        }
        slot[0] = stored;
        slot[1] = 0;
        ++size_;
        return reinterpret_cast<std::int64_t*>(slot + 1);
    }

    void rehash(std::size_t buckets) {
        // Bucket counts up to 2^32 (the index scales 32 hash bits).
        buckets = std::min<std::size_t>(buckets, std::size_t{1} << 32);
        huge_array<std::uint64_t> old = std::move(words_);
        const std::uint64_t* old_base = base_;
        const std::size_t old_slots = buckets_ * 4;
        words_ = huge_array<std::uint64_t>(buckets * 8 + 8);  // zeroed: every slot free
        const auto addr = reinterpret_cast<std::uintptr_t>(words_.get());
        base_ = words_.get() + ((64 - addr % 64) % 64) / sizeof(std::uint64_t);
        buckets_ = buckets;
        size_ = has_aside_ ? 1 : 0;
        for (std::size_t p = 0; p < old_slots; ++p) {
            const std::uint64_t k = old_base[2 * p];
            if (k == 0) continue;
            bool fresh;
            *find_or_insert_hashed(static_cast<std::int64_t>(k ^ (std::uint64_t{1} << 63)), table_hash(k ^ (std::uint64_t{1} << 63)), fresh) =
                static_cast<std::int64_t>(old_base[2 * p + 1]);
        }
    }

    huge_array<std::uint64_t> words_;
    std::uint64_t* base_ = nullptr;
    std::size_t buckets_ = 0;
    std::size_t size_ = 0;
    bool has_aside_ = false;
    std::int64_t aside_word_ = 0;
};

}  // namespace detail
FUNNELKIT_END_NAMESPACE

#ifdef FUNNELKIT_HEADER_ONLY
#include "funnelkit/impl/state_table.ipp"
#endif
