// Definitions for funnelkit/suppression.hpp; config.hpp explains the compiled and header-only modes.
#pragma once

#include "funnelkit/suppression.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <map>
#include <utility>

#include "funnelkit/detail/entity_index.hpp"
#include "funnelkit/detail/utf8.hpp"
#include "funnelkit/error.hpp"
#include "funnelkit/serialize.hpp"

FUNNELKIT_BEGIN_NAMESPACE

FUNNELKIT_INLINE void string_column::validate(std::string_view column) const {
    if (offsets.empty()) return;
    if (offsets[0] < 0) detail::throw_at_row(column, 0, std::to_string(offsets[0]), "is a negative string offset");
    for (std::size_t i = 1; i < offsets.size(); ++i) {
        if (offsets[i] < offsets[i - 1])
            detail::throw_at_row(column, i - 1, std::to_string(offsets[i]), "is a string end offset before its start");
        if (static_cast<std::uint64_t>(offsets[i]) > data.size())
            detail::throw_at_row(column, i - 1, std::to_string(offsets[i]),
                                 "is a string end offset beyond the " + std::to_string(data.size()) + " data bytes");
    }
}

namespace detail::suppression_impl {

inline constexpr char suppression_magic[] = "FKSP";
inline constexpr std::uint16_t suppression_format = 2;

// Text a list stores (reason names, kinds, keys) must be valid UTF-8: every binding reads it
// back as text. The offending value is not echoed, as it is not printable text.
inline void require_utf8(std::string_view option, std::string_view text) {
    if (const std::size_t bad = detail::utf8_error_offset(text); bad != text.size())
        detail::throw_option(option, "of " + std::to_string(text.size()) + " bytes",
                             "is not valid UTF-8 (at byte " + std::to_string(bad) + ")");
}

inline bool is_space(unsigned char c) noexcept { return c == ' ' || (c >= '\t' && c <= '\r'); }

// The normalised form of a key is a byte range of the raw key, lower-cased on the fly.
inline std::string_view trim_for(std::string_view s, key_transform tf) noexcept {
    std::size_t b = 0, e = s.size();
    while (b < e && is_space(static_cast<unsigned char>(s[b]))) ++b;
    while (e > b && is_space(static_cast<unsigned char>(s[e - 1]))) --e;
    if (tf == key_transform::email_domain) {
        for (std::size_t i = e; i > b; --i)
            if (s[i - 1] == '@') {
                b = i;
                break;
            }
        while (b < e && is_space(static_cast<unsigned char>(s[b]))) ++b;
        if (e > b && s[e - 1] == '.') --e;
    }
    return s.substr(b, e - b);
}

// Lower-cases the ASCII letters of 8 packed bytes, leaving other bytes alone.
inline std::uint64_t lower8(std::uint64_t x) noexcept {
    constexpr std::uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
    const std::uint64_t seven = x & ~high;
    const std::uint64_t ge_a = seven + ones * (0x80 - 'A');
    const std::uint64_t gt_z = seven + ones * (0x80 - 'Z' - 1);
    const std::uint64_t upper = (ge_a ^ gt_z) & ~x & high;
    return x | (upper >> 2);
}

inline std::uint64_t load8(const char* p) noexcept {
    std::uint64_t x;
    std::memcpy(&x, p, 8);
    return x;
}

// The r < 8 bytes at p (the tail of a string of `size` bytes starting at p - (size - r)),
// zero-padded. Strings of 8 bytes or more load the last full word and shift the bytes already
// consumed out, so no call to a variable-length copy is needed.
inline std::uint64_t load_tail(const char* p, std::size_t r, std::size_t size) noexcept {
    if (size >= 8) {
        const std::uint64_t x = load8(p + r - 8);
        if constexpr (std::endian::native == std::endian::little) return x >> (8 * (8 - r));
        else return x << (8 * (8 - r));
    }
    std::uint64_t x = 0;
    std::memcpy(&x, p, r);
    return x;
}

// Hash of the lower-cased bytes, eight at a time.
inline std::uint64_t key_hash(std::string_view s) noexcept {
    std::uint64_t h = 0x9e3779b97f4a7c15ULL ^ s.size();
    std::size_t i = 0;
    for (; i + 8 <= s.size(); i += 8) h = (h ^ lower8(load8(s.data() + i))) * 0xff51afd7ed558ccdULL, h ^= h >> 32;
    if (i < s.size()) h = (h ^ lower8(load_tail(s.data() + i, s.size() - i, s.size()))) * 0xc4ceb9fe1a85ec53ULL;
    return detail::mix64(h);
}

// Stored keys are already lower-case; compares the raw range lower-cased.
inline bool equal_lower(std::string_view raw, std::string_view stored) noexcept {
    if (raw.size() != stored.size()) return false;
    std::size_t i = 0;
    for (; i + 8 <= raw.size(); i += 8)
        if (lower8(load8(raw.data() + i)) != load8(stored.data() + i)) return false;
    const std::size_t r = raw.size() - i;
    if (r > 0 && lower8(load_tail(raw.data() + i, r, raw.size())) != load_tail(stored.data() + i, r, raw.size()))
        return false;
    return true;
}

inline std::string lower_copy(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

// Open addressing, linear probing, load <= 1/2.
struct id_table {
    struct slot {
        std::int64_t id;
        std::uint64_t mask;  // 0: empty
    };
    std::vector<slot> slots = std::vector<slot>(16, slot{0, 0});
    std::size_t size = 0;

    std::size_t pos(std::int64_t id) const noexcept { return detail::mix64(static_cast<std::uint64_t>(id)) & (slots.size() - 1); }
    std::uint64_t find(std::int64_t id) const noexcept {
        for (std::size_t p = pos(id);; p = (p + 1) & (slots.size() - 1)) {
            const slot& s = slots[p];
            if (s.mask == 0) return 0;
            if (s.id == id) return s.mask;
        }
    }
    void add(std::int64_t id, std::uint64_t mask) {
        if ((size + 1) * 2 > slots.size()) grow();
        for (std::size_t p = pos(id);; p = (p + 1) & (slots.size() - 1)) {
            slot& s = slots[p];
            if (s.mask == 0) {
                s = {id, mask};
                ++size;
                return;
            }
            if (s.id == id) {
                s.mask |= mask;
                return;
            }
        }
    }
    void grow() {
        std::vector<slot> old = std::move(slots);
        slots.assign(old.size() * 2, slot{0, 0});
        size = 0;
        for (const slot& s : old)
            if (s.mask) add(s.id, s.mask);
    }
};

struct key_table {
    std::string kind;
    std::vector<char> chars;
    std::vector<std::size_t> offs{0};
    std::vector<std::uint64_t> masks;
    // 8-byte slots (the high half of the hash as a tag) keep the table small in cache.
    struct slot {
        std::uint32_t tag;
        std::uint32_t index;  // key index + 1; 0: empty
    };
    std::vector<std::uint64_t> hashes;  // full hash per key, for rehashing
    std::vector<slot> slots = std::vector<slot>(16, slot{0, 0});

    std::string_view key(std::size_t i) const noexcept { return {chars.data() + offs[i], offs[i + 1] - offs[i]}; }
    std::size_t size() const noexcept { return masks.size(); }
    void prefetch(std::uint64_t h) const noexcept { __builtin_prefetch(&slots[h & (slots.size() - 1)]); }

    // Index of the normalised raw range, or -1.
    std::int64_t find(std::string_view trimmed, std::uint64_t h) const noexcept {
        for (std::size_t p = h & (slots.size() - 1);; p = (p + 1) & (slots.size() - 1)) {
            const slot& s = slots[p];
            if (s.index == 0) return -1;
            if (s.tag == static_cast<std::uint32_t>(h >> 32) && equal_lower(trimmed, key(s.index - 1))) return s.index - 1;
        }
    }
    void add(std::string_view trimmed, std::uint64_t mask) {
        const std::uint64_t h = key_hash(trimmed);
        const std::int64_t at = find(trimmed, h);
        if (at >= 0) {
            masks[static_cast<std::size_t>(at)] |= mask;
            return;
        }
        if ((size() + 1) * 2 > slots.size()) grow();
        const std::string low = lower_copy(trimmed);
        chars.insert(chars.end(), low.begin(), low.end());
        offs.push_back(chars.size());
        masks.push_back(mask);
        hashes.push_back(h);
        place(h, static_cast<std::uint32_t>(masks.size()));
    }
    void place(std::uint64_t h, std::uint32_t index) {
        std::size_t p = h & (slots.size() - 1);
        while (slots[p].index != 0) p = (p + 1) & (slots.size() - 1);
        slots[p] = {static_cast<std::uint32_t>(h >> 32), index};
    }
    void grow() {
        std::vector<slot> old = std::move(slots);
        slots.assign(old.size() * 2, slot{0, 0});
        for (const slot& s : old)
            if (s.index) place(hashes[s.index - 1], s.index);
    }
};

}  // namespace detail::suppression_impl

struct suppression_list::tables {
    using id_table = detail::suppression_impl::id_table;
    using key_table = detail::suppression_impl::key_table;

    id_table ids;
    std::vector<key_table> keys;  // one per kind

    const key_table* kind(std::string_view k) const noexcept {
        for (const auto& t : keys)
            if (t.kind == k) return &t;
        return nullptr;
    }
    key_table& kind_or_add(std::string_view k) {
        for (auto& t : keys)
            if (t.kind == k) return t;
        keys.emplace_back();
        keys.back().kind = std::string(k);
        return keys.back();
    }
};

FUNNELKIT_INLINE std::string normalise_key(std::string_view key, key_transform transform) {
    using namespace detail::suppression_impl;
    return lower_copy(trim_for(key, transform));
}

FUNNELKIT_INLINE suppression_list::suppression_list() : t_(std::make_unique<tables>()) {}
FUNNELKIT_INLINE suppression_list::suppression_list(const suppression_list& o) : reasons_(o.reasons_), t_(std::make_unique<tables>(*o.t_)) {}
FUNNELKIT_INLINE suppression_list::suppression_list(suppression_list&& o) noexcept
    : reasons_(std::move(o.reasons_)), t_(std::exchange(o.t_, std::make_unique<tables>())) {}
FUNNELKIT_INLINE suppression_list& suppression_list::operator=(const suppression_list& o) {
    if (this != &o) {
        reasons_ = o.reasons_;
        t_ = std::make_unique<tables>(*o.t_);
    }
    return *this;
}
FUNNELKIT_INLINE suppression_list& suppression_list::operator=(suppression_list&& o) noexcept {
    if (this != &o) {
        reasons_ = std::move(o.reasons_);
        std::swap(t_, o.t_);
        o.reasons_.clear();
        *o.t_ = tables{};
    }
    return *this;
}
FUNNELKIT_INLINE suppression_list::~suppression_list() = default;

FUNNELKIT_INLINE std::uint64_t suppression_list::reason_bit(std::string_view reason) {
    if (reason.empty()) detail::throw_option("reason", "\"\"", "must be a non-empty reason name");
    detail::suppression_impl::require_utf8("reason", reason);
    for (std::size_t i = 0; i < reasons_.size(); ++i)
        if (reasons_[i] == reason) return std::uint64_t{1} << i;
    if (reasons_.size() == max_reasons)
        detail::throw_option("reason", std::string(reason), "would be the 65th distinct reason (at most 64 per list)");
    reasons_.emplace_back(reason);
    return std::uint64_t{1} << (reasons_.size() - 1);
}

FUNNELKIT_INLINE void suppression_list::add_id(std::int64_t id, std::string_view reason) { t_->ids.add(id, reason_bit(reason)); }

FUNNELKIT_INLINE void suppression_list::add_key(std::string_view kind, std::string_view key, std::string_view reason,
                                                key_transform transform) {
    using namespace detail::suppression_impl;
    if (kind.empty()) detail::throw_option("kind", "\"\"", "must be a non-empty key kind");
    require_utf8("kind", kind);
    const std::string_view k = trim_for(key, transform);
    if (k.empty()) detail::throw_option("key", "\"" + std::string(key) + "\"", "is empty after normalisation");
    require_utf8("key", k);
    const std::uint64_t bit = reason_bit(reason);
    t_->kind_or_add(kind).add(k, bit);
}

namespace detail::suppression_impl {
template <class BitOf>
std::vector<std::uint64_t> code_bits(std::span<const std::int32_t> codes, std::span<const std::string> names, BitOf bit) {
    std::vector<std::uint64_t> out(names.size(), 0);
    std::vector<char> used(names.size(), 0);
    for (std::size_t i = 0; i < codes.size(); ++i) {
        const std::int32_t c = codes[i];
        if (c < 0 || static_cast<std::size_t>(c) >= names.size())
            detail::throw_at_row("reason", i, std::to_string(c),
                                 "is not a reason code (expected 0.." + std::to_string(static_cast<std::int64_t>(names.size()) - 1) + ")");
        used[static_cast<std::size_t>(c)] = 1;
    }
    for (std::size_t j = 0; j < names.size(); ++j)
        if (used[j]) out[j] = bit(names[j]);
    return out;
}
}  // namespace detail::suppression_impl

FUNNELKIT_INLINE void suppression_list::add_ids(std::span<const std::int64_t> ids, std::span<const std::int32_t> reason_code,
                                                std::span<const std::string> reason_names) {
    using namespace detail::suppression_impl;
    if (reason_code.size() != ids.size()) detail::throw_length("reason", reason_code.size(), "id", ids.size());
    const auto bits = code_bits(reason_code, reason_names, [this](std::string_view r) { return reason_bit(r); });
    for (std::size_t i = 0; i < ids.size(); ++i) t_->ids.add(ids[i], bits[static_cast<std::size_t>(reason_code[i])]);
}

FUNNELKIT_INLINE void suppression_list::add_keys(const key_column& keys, std::span<const std::int32_t> reason_code,
                                                 std::span<const std::string> reason_names) {
    using namespace detail::suppression_impl;
    if (keys.kind.empty()) detail::throw_option("kind", "\"\"", "must be a non-empty key kind");
    require_utf8("kind", keys.kind);
    keys.values.validate("key");
    const std::size_t n = keys.values.size();
    if (reason_code.size() != n) detail::throw_length("reason", reason_code.size(), "key", n);
    for (std::size_t i = 0; i < n; ++i) {
        const std::string_view k = trim_for(keys.values[i], keys.transform);
        if (k.empty())
            detail::throw_at_row("key", i, "\"" + std::string(keys.values[i]) + "\"", "is empty after normalisation");
        if (const std::size_t bad = detail::utf8_error_offset(k); bad != k.size())
            detail::throw_at_row("key", i, "of " + std::to_string(k.size()) + " bytes",
                                 "is not valid UTF-8 (at byte " + std::to_string(bad) + ")");
    }
    const auto bits = code_bits(reason_code, reason_names, [this](std::string_view r) { return reason_bit(r); });
    key_table& t = t_->kind_or_add(keys.kind);
    for (std::size_t i = 0; i < n; ++i)
        t.add(trim_for(keys.values[i], keys.transform), bits[static_cast<std::size_t>(reason_code[i])]);
}

FUNNELKIT_INLINE void suppression_list::add_disqualified(const stage_model& model, const stage_records& records,
                                                         std::span<const std::int32_t> reason, std::span<const std::string> reason_names) {
    records.validate(model);
    if (!reason.empty() && reason.size() != records.size())
        detail::throw_length("reason", reason.size(), "entity", records.size());
    for (std::size_t i = 0; i < reason.size(); ++i)
        if (reason[i] < -1 || (reason[i] >= 0 && static_cast<std::size_t>(reason[i]) >= reason_names.size()))
            detail::throw_at_row("reason", i, std::to_string(reason[i]),
                                 "is not a reason code (expected -1 or 0.." +
                                     std::to_string(static_cast<std::int64_t>(reason_names.size()) - 1) + ")");
    for (std::size_t i = 0; i < records.size(); ++i) {
        if (model.at(records.stage[i]).kind != stage_kind::disqualified) continue;
        const std::int32_t r = reason.empty() ? -1 : reason[i];
        add_id(records.entity[i], r < 0 ? std::string_view("disqualified") : std::string_view(reason_names[static_cast<std::size_t>(r)]));
    }
}

FUNNELKIT_INLINE suppression_check suppression_list::check(std::span<const std::int64_t> ids, std::span<const key_column> keys) const {
    using namespace detail::suppression_impl;
    std::size_t n = ids.size();
    if (keys.size() > 31) detail::throw_option("keys", std::to_string(keys.size()), "exceeds 31 key columns");
    for (std::size_t j = 0; j < keys.size(); ++j) {
        keys[j].values.validate("key");
        const std::size_t m = keys[j].values.size();
        if (ids.empty() && j == 0) n = m;
        else if (m != n) detail::throw_length("key", m, ids.empty() ? "key" : "id", n);
    }
    suppression_check out;
    out.suppressed.assign(n, 0);
    out.reasons.assign(n, 0);
    out.matched_by.assign(n, 0);
    if (!ids.empty() && t_->ids.size > 0)
        for (std::size_t i = 0; i < n; ++i) {
            const std::uint64_t m = t_->ids.find(ids[i]);
            if (m) out.reasons[i] |= m, out.matched_by[i] |= 1u;
        }
    for (std::size_t j = 0; j < keys.size(); ++j) {
        const key_table* t = t_->kind(keys[j].kind);
        if (t == nullptr || t->size() == 0) continue;
        const string_column& col = keys[j].values;
        const key_transform tf = keys[j].transform;
        const std::uint32_t bit = 1u << (j + 1);
        // Blocks: hash and prefetch a block of keys first, then probe, so the cache misses
        // of the table overlap instead of queueing behind each hash.
        constexpr std::size_t block = 32;
        std::array<std::string_view, block> view;
        std::array<std::uint64_t, block> hash;
        for (std::size_t b0 = 0; b0 < n; b0 += block) {
            const std::size_t b1 = std::min(n, b0 + block);
            for (std::size_t i = b0; i < b1; ++i) {
                view[i - b0] = trim_for(col[i], tf);
                hash[i - b0] = key_hash(view[i - b0]);
                t->prefetch(hash[i - b0]);
            }
            for (std::size_t i = b0; i < b1; ++i) {
                if (view[i - b0].empty()) continue;
                const std::int64_t at = t->find(view[i - b0], hash[i - b0]);
                if (at >= 0) out.reasons[i] |= t->masks[static_cast<std::size_t>(at)], out.matched_by[i] |= bit;
            }
        }
    }
    for (std::size_t i = 0; i < n; ++i) {
        out.suppressed[i] = out.matched_by[i] != 0 ? 1 : 0;
        out.count += out.suppressed[i];
    }
    return out;
}

FUNNELKIT_INLINE std::uint64_t suppression_list::id_reasons(std::int64_t id) const noexcept { return t_->ids.find(id); }

FUNNELKIT_INLINE std::uint64_t suppression_list::key_reasons(std::string_view kind, std::string_view key, key_transform transform) const {
    using namespace detail::suppression_impl;
    const key_table* t = t_->kind(kind);
    const std::string_view k = trim_for(key, transform);
    if (t == nullptr || k.empty()) return 0;
    const std::int64_t at = t->find(k, key_hash(k));
    return at < 0 ? 0 : t->masks[static_cast<std::size_t>(at)];
}

FUNNELKIT_INLINE std::string suppression_list::describe(std::uint64_t mask) const {
    std::string out;
    for (std::size_t i = 0; i < reasons_.size(); ++i)
        if (mask & (std::uint64_t{1} << i)) {
            if (!out.empty()) out += "; ";
            out += reasons_[i];
        }
    return out;
}

FUNNELKIT_INLINE std::size_t suppression_list::n_ids() const noexcept { return t_->ids.size; }
FUNNELKIT_INLINE std::size_t suppression_list::n_keys() const noexcept {
    std::size_t n = 0;
    for (const auto& t : t_->keys) n += t.size();
    return n;
}
FUNNELKIT_INLINE std::vector<std::string> suppression_list::kinds() const {
    std::vector<std::string> out;
    for (const auto& t : t_->keys) out.push_back(t.kind);
    std::sort(out.begin(), out.end());
    return out;
}

FUNNELKIT_INLINE void suppression_list::merge(const suppression_list& other) {
    using namespace detail::suppression_impl;
    if (this == &other) return;
    // Map the other list's reason bits to this list's (checking the 64-reason limit first, so
    // a failing merge leaves this list unchanged).
    std::size_t fresh = 0;
    for (const auto& r : other.reasons_)
        if (std::find(reasons_.begin(), reasons_.end(), r) == reasons_.end()) ++fresh;
    if (reasons_.size() + fresh > max_reasons)
        detail::throw_option("reason", std::to_string(reasons_.size() + fresh), "distinct reasons exceed 64 after merge");
    std::vector<std::uint64_t> map(other.reasons_.size());
    for (std::size_t i = 0; i < other.reasons_.size(); ++i) map[i] = reason_bit(other.reasons_[i]);
    auto translate = [&](std::uint64_t m) {
        std::uint64_t out = 0;
        for (; m; m &= m - 1) out |= map[static_cast<std::size_t>(std::countr_zero(m))];
        return out;
    };
    for (const auto& s : other.t_->ids.slots)
        if (s.mask) t_->ids.add(s.id, translate(s.mask));
    for (const auto& ot : other.t_->keys) {
        key_table& t = t_->kind_or_add(ot.kind);
        for (std::size_t i = 0; i < ot.size(); ++i) t.add(ot.key(i), translate(ot.masks[i]));
    }
}

FUNNELKIT_INLINE void suppression_list::reset() {
    reasons_.clear();
    *t_ = tables{};
}

// Canonical layout: reasons sorted by name (bits renumbered accordingly), ids ascending, kinds
// by name, keys by bytes.
FUNNELKIT_INLINE std::vector<std::byte> suppression_list::serialize() const {
    using namespace detail::suppression_impl;
    std::vector<std::size_t> order(reasons_.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return reasons_[a] < reasons_[b]; });
    std::vector<std::uint64_t> remap(reasons_.size());
    for (std::size_t r = 0; r < order.size(); ++r) remap[order[r]] = std::uint64_t{1} << r;
    auto canon = [&](std::uint64_t m) {
        std::uint64_t out = 0;
        for (; m; m &= m - 1) out |= remap[static_cast<std::size_t>(std::countr_zero(m))];
        return out;
    };
    detail::byte_writer w(suppression_magic, suppression_format);
    w.put(static_cast<std::uint64_t>(reasons_.size()));
    for (std::size_t i : order) w.put(std::string_view(reasons_[i]));
    std::vector<std::pair<std::int64_t, std::uint64_t>> ids;
    ids.reserve(t_->ids.size);
    for (const auto& s : t_->ids.slots)
        if (s.mask) ids.emplace_back(s.id, canon(s.mask));
    std::sort(ids.begin(), ids.end());
    w.put(static_cast<std::uint64_t>(ids.size()));
    for (const auto& [id, m] : ids) w.put(id), w.put(m);
    std::vector<const key_table*> kinds;
    for (const auto& t : t_->keys)
        if (t.size() > 0) kinds.push_back(&t);
    std::sort(kinds.begin(), kinds.end(), [](const key_table* a, const key_table* b) { return a->kind < b->kind; });
    w.put(static_cast<std::uint64_t>(kinds.size()));
    for (const key_table* t : kinds) {
        w.put(std::string_view(t->kind));
        std::vector<std::size_t> ko(t->size());
        for (std::size_t i = 0; i < ko.size(); ++i) ko[i] = i;
        std::sort(ko.begin(), ko.end(), [&](std::size_t a, std::size_t b) { return t->key(a) < t->key(b); });
        w.put(static_cast<std::uint64_t>(ko.size()));
        for (std::size_t i : ko) w.put(t->key(i)), w.put(canon(t->masks[i]));
    }
    return std::move(w).finish();
}

FUNNELKIT_INLINE suppression_list suppression_list::deserialize(const void* data, std::size_t size) {
    using namespace detail::suppression_impl;
    detail::byte_reader r(data, size, suppression_magic, "suppression_list");
    (void)r.accept_versions(1, suppression_format);
    // The writer is canonical (see serialize): reasons, ids, kinds and keys each strictly
    // ascending, which also rules out repeats. Strings are valid UTF-8 (checked by the reader).
    suppression_list out;
    const auto n_reasons = r.get<std::uint64_t>();
    if (n_reasons > max_reasons) r.fail("reason count " + std::to_string(n_reasons) + " exceeds 64");
    for (std::uint64_t i = 0; i < n_reasons; ++i) {
        std::string name = r.get_string();
        if (name.empty()) r.fail("empty reason name");
        if (!out.reasons_.empty() && !(out.reasons_.back() < name)) r.fail("reason names are not in ascending order");
        out.reasons_.push_back(std::move(name));
    }
    const std::uint64_t valid = n_reasons == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << n_reasons) - 1;
    auto check_mask = [&](std::uint64_t m) {
        if (m == 0 || (m & ~valid) != 0) r.fail("reason set " + std::to_string(m) + " is empty or names unknown reasons");
    };
    const auto n_ids = r.get<std::uint64_t>();
    if (n_ids > size / 16) r.fail("id count " + std::to_string(n_ids) + " exceeds the blob");
    std::int64_t previous = 0;
    for (std::uint64_t i = 0; i < n_ids; ++i) {
        const auto id = r.get<std::int64_t>();
        const auto m = r.get<std::uint64_t>();
        check_mask(m);
        if (i > 0 && id <= previous) r.fail("ids are not in ascending order (" + std::to_string(id) + " after " + std::to_string(previous) + ")");
        previous = id;
        out.t_->ids.add(id, m);
    }
    const auto n_kinds = r.get<std::uint64_t>();
    if (n_kinds > size) r.fail("kind count exceeds the blob");
    std::string previous_kind;
    for (std::uint64_t k = 0; k < n_kinds; ++k) {
        std::string kind = r.get_string();
        if (kind.empty()) r.fail("empty key kind");
        if (k > 0 && !(previous_kind < kind)) r.fail("key kinds are not in ascending order");
        previous_kind = kind;
        key_table& t = out.t_->kind_or_add(kind);
        const auto n_keys = r.get<std::uint64_t>();
        if (n_keys == 0 || n_keys > size) r.fail("key count " + std::to_string(n_keys) + " is 0 or exceeds the blob");
        std::string previous_key;
        for (std::uint64_t i = 0; i < n_keys; ++i) {
            std::string key = r.get_string();
            const auto m = r.get<std::uint64_t>();
            check_mask(m);
            if (key.empty() || normalise_key(key) != key) r.fail("key \"" + key + "\" is not normalised");
            if (i > 0 && !(previous_key < key)) r.fail("keys of kind \"" + kind + "\" are not in ascending order");
            t.add(key, m);
            previous_key = std::move(key);
        }
    }
    r.finish();
    return out;
}

FUNNELKIT_END_NAMESPACE
