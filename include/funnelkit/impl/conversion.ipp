// Definitions for funnelkit/conversion.hpp; config.hpp explains the compiled and header-only modes.
#pragma once

#include "funnelkit/conversion.hpp"

#include <algorithm>
#include <bit>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "funnelkit/detail/stage_mask.hpp"
#include "funnelkit/detail/state_merge.hpp"
#include "funnelkit/error.hpp"
#include "funnelkit/grouping.hpp"
#include "funnelkit/serialize.hpp"

FUNNELKIT_BEGIN_NAMESPACE

namespace detail::conversion_impl {
inline constexpr char conversion_magic[] = "FKCV";
inline constexpr std::uint16_t conversion_format = 2;
inline constexpr std::string_view merge_what = "cannot merge conversion_counts";

// The segment starts above every code, so that the first record sets it even at the largest
// time (a record at INT64_MAX ties with the initial first_time).
struct entity_state {
    std::uint64_t mask = 0;
    std::int64_t first_time = std::numeric_limits<std::int64_t>::max();
    std::int32_t segment = std::numeric_limits<std::int32_t>::max();
};

inline void observe(entity_state& e, std::int32_t rank, std::int64_t t, std::int32_t seg) noexcept {
    if (rank >= 0) e.mask |= std::uint64_t{1} << rank;
    if (t < e.first_time || (t == e.first_time && seg < e.segment)) {
        e.first_time = t;
        e.segment = seg;
    }
}

inline std::string skipped_text(std::optional<skipped_stages> s) {
    return !s ? "not recorded" : *s == skipped_stages::implied ? "implied" : "not_implied";
}
inline std::string passes_text(std::optional<recycled_passes> p) {
    return !p ? "not recorded" : *p == recycled_passes::first_only ? "first_only" : "every_pass";
}

}  // namespace detail::conversion_impl

FUNNELKIT_INLINE conversion_definition detail::join_definitions(const conversion_definition& a, const conversion_definition& b,
                                                                std::string_view what) {
    using namespace detail::conversion_impl;
    return {detail::join_recorded(what, "stage model", a.model_fingerprint, b.model_fingerprint, std::uint64_t{0},
                                  detail::fingerprint_text),
            detail::join_recorded(what, "option 'skipped'", a.skipped, b.skipped, std::optional<skipped_stages>{},
                                  skipped_text),
            detail::join_recorded(what, "option 'passes'", a.passes, b.passes, std::optional<recycled_passes>{},
                                  passes_text)};
}

FUNNELKIT_INLINE conversion_counts::conversion_counts(std::size_t n_stages, std::size_t n_segments,
                                                      const conversion_definition& definition)
    : n_stages_(n_stages), n_segments_(n_segments), definition_(definition) {
    if (n_stages > stage_model::max_ladder)
        detail::throw_option("n_stages", std::to_string(n_stages), "exceeds the 64-stage ladder limit");
    if (definition.skipped && static_cast<unsigned>(*definition.skipped) > 1u)
        detail::throw_option("skipped", std::to_string(static_cast<unsigned>(*definition.skipped)), "is not a skipped_stages value");
    if (definition.passes && static_cast<unsigned>(*definition.passes) > 1u)
        detail::throw_option("passes", std::to_string(static_cast<unsigned>(*definition.passes)), "is not a recycled_passes value");
    counts_.assign((n_segments + 1) * (n_stages + 1), 0);
}

FUNNELKIT_INLINE std::size_t conversion_counts::row(std::int32_t segment) const {
    if (segment < overall || (segment >= 0 && static_cast<std::size_t>(segment) >= n_segments_))
        detail::throw_option("segment", std::to_string(segment),
                             "is not a segment of this table (expected -1 for overall or 0.." +
                                 std::to_string(static_cast<std::int64_t>(n_segments_) - 1) + ")");
    return static_cast<std::size_t>(segment + 1) * (n_stages_ + 1);
}

FUNNELKIT_INLINE void conversion_counts::grow_segments(std::size_t n_segments) {
    if (n_segments <= n_segments_) return;
    counts_.resize((n_segments + 1) * (n_stages_ + 1), 0);
    n_segments_ = n_segments;
}

FUNNELKIT_INLINE void conversion_counts::add_entity(std::uint64_t reached_mask, std::int32_t segment) {
    if (n_stages_ < 64 && (reached_mask >> n_stages_) != 0)
        detail::throw_option("reached_mask", std::to_string(reached_mask),
                             "has bits beyond the " + std::to_string(n_stages_) + " ladder stages");
    if (definition_.skipped == skipped_stages::implied && detail::close_downwards(reached_mask) != reached_mask)
        detail::throw_option("reached_mask", std::to_string(reached_mask),
                             "misses a stage below its highest one, but these counts imply skipped stages");
    if (segment < overall) (void)row(segment);  // throws naming the segment
    // Counts are checked before any changes: the entity counter of a row bounds its other
    // counters and the overall row bounds every segment row, so one check covers them all.
    (void)detail::add_count(counts_[0], 1, "conversion_counts::add_entity");
    if (segment >= 0) grow_segments(static_cast<std::size_t>(segment) + 1);
    auto bump = [&](std::size_t r) {
        std::int64_t* c = counts_.data() + r;
        c[0] += 1;
        for (std::uint64_t m = reached_mask; m; m &= m - 1) c[1 + std::countr_zero(m)] += 1;
    };
    bump(0);
    if (segment != overall) bump(row(segment));
}

FUNNELKIT_INLINE void conversion_counts::merge(const conversion_counts& other) {
    using namespace detail::conversion_impl;
    const conversion_definition def = detail::join_definitions(definition_, other.definition_, merge_what);
    if (other.n_stages_ != n_stages_) {
        // A state with no stage and no entity (default-constructed) is the identity of merge.
        if (n_stages_ == 0 && n_segments_ == 0 && counts_[0] == 0) {
            *this = other;
            definition_ = def;
            return;
        }
        if (other.n_stages_ == 0 && other.n_segments_ == 0 && other.counts_[0] == 0) {
            definition_ = def;
            return;
        }
        detail::throw_incompatible(merge_what, "ladder length", std::to_string(n_stages_),
                                   std::to_string(other.n_stages_), "stages");
    }
    // Rows are laid out segment by segment, so the other state's counters line up with a
    // prefix of this one's (grown to the larger number of segments).
    for (std::size_t i = 0; i < other.counts_.size(); ++i)
        (void)detail::add_count(i < counts_.size() ? counts_[i] : 0, other.counts_[i], merge_what);
    grow_segments(other.n_segments_);
    for (std::size_t i = 0; i < other.counts_.size(); ++i) counts_[i] += other.counts_[i];
    definition_ = def;
}

FUNNELKIT_INLINE void conversion_counts::reset() { std::fill(counts_.begin(), counts_.end(), 0); }

FUNNELKIT_INLINE std::int64_t conversion_counts::entities(std::int32_t segment) const {
    return counts_[row(segment)];
}

FUNNELKIT_INLINE std::int64_t conversion_counts::reached(std::size_t rank, std::int32_t segment) const {
    if (rank >= n_stages_)
        detail::throw_option("rank", std::to_string(rank),
                             "is not a ladder position (expected 0.." +
                                 std::to_string(static_cast<std::int64_t>(n_stages_) - 1) + ")");
    return counts_[row(segment) + 1 + rank];
}

FUNNELKIT_INLINE std::optional<double> conversion_counts::step_rate(std::size_t rank, std::int32_t segment) const {
    const std::int64_t num = reached(rank, segment);
    if (rank == 0) return std::nullopt;
    const std::int64_t den = reached(rank - 1, segment);
    if (den == 0) return std::nullopt;
    return static_cast<double>(num) / static_cast<double>(den);
}

FUNNELKIT_INLINE std::optional<double> conversion_counts::cumulative_rate(std::size_t rank, std::int32_t segment) const {
    const std::int64_t num = reached(rank, segment);
    const std::int64_t den = reached(0, segment);
    if (den == 0) return std::nullopt;
    return static_cast<double>(num) / static_cast<double>(den);
}

FUNNELKIT_INLINE std::vector<std::byte> conversion_counts::serialize() const {
    using namespace detail::conversion_impl;
    detail::byte_writer w(conversion_magic, conversion_format);
    w.put(static_cast<std::uint64_t>(n_stages_));
    w.put(static_cast<std::uint64_t>(n_segments_));
    w.put(definition_.model_fingerprint);
    w.put_code(definition_.skipped ? std::optional<std::uint8_t>(static_cast<std::uint8_t>(*definition_.skipped)) : std::nullopt);
    w.put_code(definition_.passes ? std::optional<std::uint8_t>(static_cast<std::uint8_t>(*definition_.passes)) : std::nullopt);
    w.put(counts_);
    return std::move(w).finish();
}

FUNNELKIT_INLINE conversion_counts conversion_counts::deserialize(const void* data, std::size_t size) {
    using namespace detail::conversion_impl;
    detail::byte_reader r(data, size, conversion_magic, "conversion_counts");
    const std::uint16_t version = r.accept_versions(1, conversion_format);
    const auto n_stages = r.get<std::uint64_t>();
    const auto n_segments = r.get<std::uint64_t>();
    if (n_stages > stage_model::max_ladder) r.fail("stage count " + std::to_string(n_stages) + " exceeds 64");
    conversion_definition def;
    if (version >= 2) {
        def.model_fingerprint = r.get<std::uint64_t>();
        if (const auto c = r.get_code(1, "skipped")) def.skipped = static_cast<skipped_stages>(*c);
        if (const auto c = r.get_code(1, "passes")) def.passes = static_cast<recycled_passes>(*c);
    }
    auto counts = r.get_vector<std::int64_t>();
    r.finish();
    const std::size_t width = static_cast<std::size_t>(n_stages) + 1;
    if (n_segments >= counts.size() || counts.size() != (n_segments + 1) * width)
        r.fail("counter array of " + std::to_string(counts.size()) + " does not match " +
               std::to_string(n_stages) + " stages and " + std::to_string(n_segments) + " segments");
    const std::size_t rows = static_cast<std::size_t>(n_segments) + 1;
    for (std::size_t g = 0; g < rows; ++g) {
        const std::int64_t* c = counts.data() + g * width;
        const std::string where = g == 0 ? std::string("overall") : "segment " + std::to_string(g - 1);
        if (c[0] < 0) r.fail(where + ": negative entity count " + std::to_string(c[0]));
        for (std::size_t k = 0; k < n_stages; ++k) {
            const std::int64_t v = c[1 + k];
            if (v < 0) r.fail(where + ", stage " + std::to_string(k) + ": negative count " + std::to_string(v));
            if (v > c[0])
                r.fail(where + ", stage " + std::to_string(k) + ": reached " + std::to_string(v) + " exceeds entities " +
                       std::to_string(c[0]));
            if (def.skipped == skipped_stages::implied && k > 0 && v > c[k])
                r.fail(where + ", stage " + std::to_string(k) + ": reached " + std::to_string(v) +
                       " exceeds the previous stage's " + std::to_string(c[k]) + " although skipped stages are implied");
        }
    }
    // The overall row counts every entity, a segment row only those of its segment.
    for (std::size_t k = 0; k < width; ++k) {
        std::int64_t sum = 0;
        for (std::size_t g = 1; g < rows; ++g) {
            const std::int64_t v = counts[g * width + k];
            if (v > counts[k] - sum)
                r.fail("column " + std::to_string(k) + ": the segments sum to more than the overall count " +
                       std::to_string(counts[k]));
            sum += v;
        }
    }
    conversion_counts out;
    out.n_stages_ = static_cast<std::size_t>(n_stages);
    out.n_segments_ = static_cast<std::size_t>(n_segments);
    out.definition_ = def;
    out.counts_ = std::move(counts);
    return out;
}

namespace detail::conversion_impl {
// Counts of one thread's entities, laid out as conversion_counts' rows, without the checks
// add_entity makes for masks and segments from outside (the pass's own are valid by
// construction): about 8 ns less per entity.
class reach_tally {
public:
    explicit reach_tally(const conversion_counts& shape)
        : width_(shape.n_stages_ + 1), counts_(shape.counts_.size(), 0) {
        // Ladders of up to 8 stages with up to 255 segments: one counter per (segment, mask)
        // pair, expanded into the rows at the end (one increment per entity instead of a
        // loop over its stages for two rows: 5 ms of a reach call over 1.25e6 entities).
        if (width_ <= 9 && shape.n_segments_ <= 255) by_mask_.assign((shape.n_segments_ + 1) * 256, 0);
    }

    // One entity: `mask` within the ladder (closed downwards when skipped stages are
    // implied), `segment` a segment of the shape or conversion_counts::overall.
    void add(std::uint64_t mask, std::int32_t segment) noexcept {
        if (!by_mask_.empty()) {
            ++by_mask_[static_cast<std::size_t>(segment + 1) * 256 + static_cast<std::size_t>(mask)];
            return;
        }
        bump(counts_.data(), mask, 1);
        if (segment >= 0) bump(counts_.data() + static_cast<std::size_t>(segment + 1) * width_, mask, 1);
    }

    // Adds the tally to `out` (of the shape given), with merge's overflow checks.
    void add_to(conversion_counts& out) const {
        conversion_counts part = out;
        part.counts_ = counts_;
        for (std::size_t row = 0; row < by_mask_.size() / 256; ++row)
            for (std::uint64_t mask = 0; mask < 256; ++mask) {
                const std::int64_t k = by_mask_[row * 256 + mask];
                if (k == 0) continue;
                bump(part.counts_.data(), mask, k);  // the overall row
                if (row > 0) bump(part.counts_.data() + row * width_, mask, k);
            }
        out.merge(part);
    }

private:
    static void bump(std::int64_t* c, std::uint64_t mask, std::int64_t k) noexcept {
        c[0] += k;
        for (; mask; mask &= mask - 1) c[1 + std::countr_zero(mask)] += k;
    }

    std::size_t width_;
    std::vector<std::int64_t> counts_;
    std::vector<std::int64_t> by_mask_;  // (segment + 1) * 256 + mask
};

// The least and greatest of n > 0 times, four lanes at a time.
inline std::pair<std::int64_t, std::int64_t> time_range(const std::int64_t* t, std::size_t n) noexcept {
    std::int64_t lo[4] = {t[0], t[0], t[0], t[0]}, hi[4] = {t[0], t[0], t[0], t[0]};
    std::size_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (std::size_t l = 0; l < 4; ++l) {
            lo[l] = t[i + l] < lo[l] ? t[i + l] : lo[l];
            hi[l] = t[i + l] > hi[l] ? t[i + l] : hi[l];
        }
    for (; i < n; ++i) {
        lo[0] = t[i] < lo[0] ? t[i] : lo[0];
        hi[0] = t[i] > hi[0] ? t[i] : hi[0];
    }
    return {std::min({lo[0], lo[1], lo[2], lo[3]}), std::max({hi[0], hi[1], hi[2], hi[3]})};
}

// One word of per-entity state for the fold, when the ladder, the segment codes and the span
// of the times fit in 64 bits: from the top, the time since the earliest record, the segment,
// then the reached mask. The smaller of two words' upper parts is the earlier (time, segment)
// pair, so one min and one or update a state. Slots of 16 bytes instead of 32 halve the table
// the fold reads at random (1e7 records of 1.25e6 entities: 0.18-0.21 -> 0.153-0.161 s).
struct packed_layout {
    unsigned mask_bits = 0;     // the ladder's length
    unsigned segment_bits = 0;  // enough for the largest segment code
    std::int64_t time_origin = 0;
    bool fits = false;
};

inline packed_layout plan_packed(std::size_t n_stages, std::int32_t n_segments, bool has_segment,
                                 const std::int64_t* time, std::size_t n) noexcept {
    packed_layout p;
    if (n == 0 || n_stages > 32) return p;
    const auto [lo, hi] = time_range(time, n);
    p.mask_bits = static_cast<unsigned>(n_stages);
    p.segment_bits = has_segment && n_segments > 1 ? static_cast<unsigned>(std::bit_width(static_cast<std::uint32_t>(n_segments - 1))) : 0;
    p.time_origin = lo;
    const auto span_bits = static_cast<unsigned>(std::bit_width(static_cast<std::uint64_t>(hi) - static_cast<std::uint64_t>(lo)));
    p.fits = p.mask_bits + p.segment_bits + span_bits <= 64 && p.mask_bits + p.segment_bits < 64;
    return p;
}

// The pass of conversion() over validated records with stage and segment codes of type Code.
template <class Code, class Records>
conversion_counts count_reach(const stage_model& model, const Records& records, std::int32_t n_segments,
                              const conversion_options& options) {
    const std::size_t n = records.size();
    const bool has_seg = records.has_segment();
    const bool implied = options.skipped == skipped_stages::implied;
    const std::int64_t* ent = records.entity.data();
    const std::int64_t* tim = records.time.data();
    const Code* stg = records.stage.data();
    const Code* seg = has_seg ? records.segment.data() : nullptr;

    conversion_counts out(model.ladder().size(), static_cast<std::size_t>(n_segments),
                          {model.fingerprint(), options.skipped, recycled_passes::first_only});
    // The ladder bit of every stage code (0 for stages off the ladder).
    std::vector<std::uint64_t> stage_bit(model.size());
    for (std::size_t c = 0; c < stage_bit.size(); ++c) {
        const std::int32_t r = model.rank(static_cast<std::int32_t>(c));
        stage_bit[c] = r >= 0 ? std::uint64_t{1} << r : 0;
    }
    const std::uint64_t* bit_of = stage_bit.data();
    const auto closed = [implied](std::uint64_t mask) { return implied ? detail::close_downwards(mask) : mask; };

    // Fast path: rows grouped by entity in ascending id order need no hash map.
    const bool sorted = std::is_sorted(ent, ent + n);
    if (sorted) {
        reach_tally tally(out);
        std::size_t i = 0;
        while (i < n) {
            entity_state e;
            const std::int64_t id = ent[i];
            for (; i < n && ent[i] == id; ++i)
                observe(e, model.rank(stg[i]), tim[i], has_seg ? std::int32_t{seg[i]} : conversion_counts::overall);
            tally.add(closed(e.mask), e.segment);
        }
        tally.add_to(out);
        return out;
    }
    // Any other order: reach is an order-free reduction per entity, so the grouping
    // primitive's fold form (grouping.hpp), with one packed state word when it fits, else
    // three: [mask, first time, segment].
    if (options.threads == 0) detail::throw_option("threads", "0", "must be >= 1");
    std::vector<reach_tally> part(std::max(1u, options.threads), reach_tally(out));
    const packed_layout layout = plan_packed(model.ladder().size(), n_segments, has_seg, tim, n);
    if (layout.fits) {
        const unsigned mb = layout.mask_bits, low = layout.mask_bits + layout.segment_bits;
        const std::uint64_t mask_part = (std::uint64_t{1} << mb) - 1;
        const std::uint64_t segment_part = (std::uint64_t{1} << layout.segment_bits) - 1;
        const auto origin = static_cast<std::uint64_t>(layout.time_origin);
        fold_by_entity(
            records.entity, 1,
            // Captured by value: fold_by_entity folds with a local copy, whose fields then stay
            // in registers (references would be reloaded after every state store).
            [n, has_seg, tim, stg, seg, bit_of, origin, low, mb, mask_part](std::size_t i, std::int64_t* w, bool fresh) {
                if (has_seg)
                    detail::prefetch_ahead(i, n, tim, stg, seg);
                else
                    detail::prefetch_ahead(i, n, tim, stg);
                // Segment codes are >= 0 (validated); without segments the field is empty.
                const std::uint64_t when = ((static_cast<std::uint64_t>(tim[i]) - origin) << low) |
                                           (has_seg ? static_cast<std::uint64_t>(seg[i]) << mb : 0);
                const std::uint64_t bit = bit_of[static_cast<std::size_t>(stg[i])];
                const auto v = static_cast<std::uint64_t>(*w);
                *w = static_cast<std::int64_t>(fresh ? when | bit : std::min(v & ~mask_part, when) | ((v | bit) & mask_part));
            },
            [&](unsigned t, std::int64_t, const std::int64_t* w) {
                const auto v = static_cast<std::uint64_t>(*w);
                part[t].add(closed(v & mask_part),
                            has_seg ? static_cast<std::int32_t>((v >> mb) & segment_part) : conversion_counts::overall);
            },
            options.threads);
    } else {
        fold_by_entity(
            records.entity, 3,
            [n, has_seg, tim, stg, seg, bit_of](std::size_t i, std::int64_t* w, bool fresh) {
                if (has_seg)
                    detail::prefetch_ahead(i, n, tim, stg, seg);
                else
                    detail::prefetch_ahead(i, n, tim, stg);
                entity_state e = fresh ? entity_state{} : entity_state{static_cast<std::uint64_t>(w[0]), w[1],
                                                                          static_cast<std::int32_t>(w[2])};
                e.mask |= bit_of[static_cast<std::size_t>(stg[i])];
                observe(e, -1, tim[i], has_seg ? std::int32_t{seg[i]} : conversion_counts::overall);
                w[0] = static_cast<std::int64_t>(e.mask);
                w[1] = e.first_time;
                w[2] = e.segment;
            },
            [&](unsigned t, std::int64_t, const std::int64_t* w) {
                part[t].add(closed(static_cast<std::uint64_t>(w[0])), static_cast<std::int32_t>(w[2]));
            },
            options.threads);
    }
    for (const auto& p : part) p.add_to(out);
    return out;
}
}  // namespace detail::conversion_impl

FUNNELKIT_INLINE conversion_counts conversion(const stage_model& model, const stage_records& records,
                                              const conversion_options& options) {
    const std::int32_t n_segments = records.validate(model);
    return detail::conversion_impl::count_reach<std::int32_t>(model, records, n_segments, options);
}

FUNNELKIT_INLINE conversion_counts conversion(const stage_model& model, const compact_stage_records& records,
                                              const conversion_options& options) {
    const std::int32_t n_segments = records.validate(model);
    return detail::conversion_impl::count_reach<std::int8_t>(model, records, n_segments, options);
}

// ---- option words ------------------------------------------------------------------------------

FUNNELKIT_INLINE std::string_view to_string(skipped_stages skipped) noexcept {
    switch (skipped) {
        case skipped_stages::implied: return "implied";
        case skipped_stages::not_implied: return "recorded";
    }
    return "?";
}

FUNNELKIT_INLINE skipped_stages parse_skipped_stages(std::string_view name) {
    if (name == "implied") return skipped_stages::implied;
    if (name == "recorded" || name == "not_implied") return skipped_stages::not_implied;
    detail::throw_option("skipped", "'" + std::string(name) + "'", "is not one of 'implied', 'recorded'");
}

FUNNELKIT_END_NAMESPACE
