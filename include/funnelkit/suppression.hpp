// funnelkit: closed-loop suppression. Entities sales disqualified (poor fit, spam, student,
// ...) must never be handed to sales again. A suppression_list holds them by entity id and by
// normalised keys of any kind (e.g. "email_domain", "email", "company"), each with the set of
// reasons it was suppressed for; checking a batch of new leads says, per row, whether it must
// be held back and why.
//
// Keys are normalised before they are stored or looked up: leading and trailing ASCII
// whitespace removed, ASCII letters lower-cased (other bytes, e.g. UTF-8, unchanged). With
// key_transform::email_domain the key is first cut to the part after its last '@' (the whole
// key when it has none) and a trailing '.' is dropped, so "Ann@Example.COM " matches the
// domain "example.com". A key that is empty after normalisation is rejected when added and
// never matches when checked.
//
// Duplicate ids or keys with different reasons: every reason is kept (the reason set of an id
// or key is the union of all reasons it was added with). This makes add and merge
// order-free: merge is the union of the ids and keys with the union of their reason sets,
// associative, commutative, with the empty list as identity. At most 64 distinct reasons per
// list. Reason names are compared exactly (not normalised).
//
// State contract: merge, ==, reset, serialize/deserialize (magic "FKSP", format version 2;
// the bytes are canonical: equal lists serialise to equal bytes whatever the order of adds).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "funnelkit/columns.hpp"
#include "funnelkit/config.hpp"
#include "funnelkit/model.hpp"

FUNNELKIT_BEGIN_NAMESPACE

/// A column of strings in Arrow's (large) string layout: value i is
/// data[offsets[i], offsets[i+1]); offsets has size() + 1 non-decreasing entries.
struct string_column {
    std::span<const char> data;
    std::span<const std::int64_t> offsets;
    std::size_t size() const noexcept { return offsets.empty() ? 0 : offsets.size() - 1; }
    /// Throws funnelkit::invalid_argument (naming `column`) on offsets that are not
    /// non-decreasing or point outside data.
    void validate(std::string_view column) const;
    std::string_view operator[](std::size_t i) const noexcept {
        return {data.data() + offsets[i], static_cast<std::size_t>(offsets[i + 1] - offsets[i])};
    }
};

enum class key_transform : std::uint8_t { normalise = 0, email_domain = 1 };

/// Trim and lower-case a key as the suppression list does.
std::string normalise_key(std::string_view key, key_transform transform = key_transform::normalise);

/// One key column of a batch: its kind (which set of keys to look in), its values, and how
/// to normalise them.
struct key_column {
    std::string_view kind;
    string_column values;
    key_transform transform = key_transform::normalise;
};

/// Per row of a checked batch.
struct suppression_check {
    /// 1 when the row must not be delivered.
    std::vector<std::uint8_t> suppressed;
    /// Bit r set when reason r (see suppression_list::reasons()) applies, from any match.
    std::vector<std::uint64_t> reasons;
    /// Bit 0: matched by id; bit 1 + j: matched by key column j.
    std::vector<std::uint32_t> matched_by;
    /// Number of suppressed rows.
    std::size_t count = 0;
};

class suppression_list {
public:
    static constexpr std::size_t max_reasons = 64;

    suppression_list();
    suppression_list(const suppression_list&);
    suppression_list(suppression_list&&) noexcept;
    suppression_list& operator=(const suppression_list&);
    suppression_list& operator=(suppression_list&&) noexcept;
    ~suppression_list();

    /// Adds an id or a key with a reason (non-empty). Throws funnelkit::invalid_argument on
    /// an empty reason, an empty kind, a key empty after normalisation, a reason, kind or key
    /// that is not valid UTF-8, or a 65th reason.
    void add_id(std::int64_t id, std::string_view reason);
    void add_key(std::string_view kind, std::string_view key, std::string_view reason,
                 key_transform transform = key_transform::normalise);
    /// Batch adds: reason_code[i] indexes reason_names (one name per code).
    void add_ids(std::span<const std::int64_t> ids, std::span<const std::int32_t> reason_code,
                 std::span<const std::string> reason_names);
    void add_keys(const key_column& keys, std::span<const std::int32_t> reason_code,
                  std::span<const std::string> reason_names);
    /// Adds every entity with a record of a disqualified-kind stage of `model`; the reason is
    /// reason_names[reason[row]] of that record, or "disqualified" when reason[row] is -1 (or
    /// the reason column is empty).
    void add_disqualified(const stage_model& model, const stage_records& records,
                          std::span<const std::int32_t> reason, std::span<const std::string> reason_names);

    /// Checks a batch: `ids` (may be empty) and any key columns, all of one length. Kinds the
    /// list holds no key of match nothing. Runs in time linear in the batch, no allocation per
    /// row.
    suppression_check check(std::span<const std::int64_t> ids, std::span<const key_column> keys = {}) const;

    bool contains_id(std::int64_t id) const noexcept { return id_reasons(id) != 0; }
    /// Reason set of an id / key (0 when absent).
    std::uint64_t id_reasons(std::int64_t id) const noexcept;
    std::uint64_t key_reasons(std::string_view kind, std::string_view key,
                              key_transform transform = key_transform::normalise) const;

    /// Reason names by code, in order of first use in this list.
    const std::vector<std::string>& reasons() const noexcept { return reasons_; }
    /// "poor fit; spam": the names of the set bits, in code order.
    std::string describe(std::uint64_t reason_mask) const;

    std::size_t n_ids() const noexcept;
    std::size_t n_keys() const noexcept;
    std::vector<std::string> kinds() const;

    void merge(const suppression_list& other);
    suppression_list& operator+=(const suppression_list& other) { merge(other); return *this; }
    void reset();

    std::vector<std::byte> serialize() const;
    static suppression_list deserialize(const void* data, std::size_t size);

    /// Same ids and keys with the same reason names.
    friend bool operator==(const suppression_list& a, const suppression_list& b) { return a.serialize() == b.serialize(); }

private:
    struct tables;
    std::uint64_t reason_bit(std::string_view reason);

    std::vector<std::string> reasons_;
    std::unique_ptr<tables> t_;
};

FUNNELKIT_END_NAMESPACE

#ifdef FUNNELKIT_HEADER_ONLY
#include "funnelkit/impl/suppression.ipp"
#endif
