// Fuzz target: the C ABI's deserializers, which read the aggregate states PostgreSQL hands
// back to the extension (fk_events, fk_funnel_counts, fk_conversion, fk_deals). The first byte
// picks the kind; the rest are the bytes, tried as they are and with their checksum recomputed
// so that the field checks are reached. A buffer that loads must serialise to bytes that load
// back to the same bytes, answer every query with a status (never crash), keep its invariants
// (levels within the steps, reached counts non-increasing, rates within [0, 1]), and merge with
// itself or refuse with FK_INVALID_ARGUMENT.
#include <funnelkit/c/funnelkit.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "fuzz_input.hpp"

namespace {

std::vector<std::uint8_t> copy_bytes(const void* data, std::size_t size) {
    const auto* p = static_cast<const std::uint8_t*>(data);
    return {p, p + size};
}

// serialize -> deserialize -> serialize gives the same bytes; returns the first bytes.
template <class H, class Ser, class De, class Free>
void round_trip(H* h, Ser ser, De de, Free free_) {
    const void* data = nullptr;
    std::size_t size = 0;
    FUZZ_CHECK(ser(h, &data, &size) == FK_OK);
    const auto blob = copy_bytes(data, size);
    H* back = nullptr;
    FUZZ_CHECK(de(blob.data(), blob.size(), &back) == FK_OK);
    FUZZ_CHECK(ser(back, &data, &size) == FK_OK);
    FUZZ_CHECK(copy_bytes(data, size) == blob);
    free_(back);
}

void check_counts(const fk_funnel_counts* c) {
    std::uint32_t steps = 0;
    FUZZ_CHECK(fk_funnel_counts_steps(c, &steps) == FK_OK);
    std::int64_t previous = -1;
    for (std::uint32_t l = 0; l <= steps; ++l) {
        std::int64_t reached = 0;
        FUZZ_CHECK(fk_funnel_counts_reached(c, l, &reached) == FK_OK);
        FUZZ_CHECK(reached >= 0);
        if (l > 0) FUZZ_CHECK(reached <= previous);
        previous = reached;
    }
    std::int64_t beyond = 0;
    FUZZ_CHECK(fk_funnel_counts_reached(c, steps + 1, &beyond) != FK_OK);
}

void exercise_events(fk_events* h) {
    round_trip(h, fk_events_serialize, fk_events_deserialize, fk_events_free);
    std::size_t n = 0;
    int defined = 0;
    FUZZ_CHECK(fk_events_size(h, &n, &defined) == FK_OK);
    std::uint32_t level = 0;
    if (fk_events_level(h, &level) == FK_OK) FUZZ_CHECK(level <= 64);
    fk_funnel_counts* counts = nullptr;
    if (fk_events_counts(h, &counts) == FK_OK) {
        check_counts(counts);
        fk_funnel_counts_free(counts);
    }
    fk_events* twice = nullptr;
    FUZZ_CHECK(fk_events_new(&twice) == FK_OK);
    const fk_status s = fk_events_merge(twice, h);
    FUZZ_CHECK(s == FK_OK || s == FK_INVALID_ARGUMENT);
    if (s == FK_OK) {
        const fk_status again = fk_events_merge(twice, h);
        FUZZ_CHECK(again == FK_OK || again == FK_INVALID_ARGUMENT);
    }
    fk_events_free(twice);
}

void exercise_counts(fk_funnel_counts* h) {
    round_trip(h, fk_funnel_counts_serialize, fk_funnel_counts_deserialize, fk_funnel_counts_free);
    check_counts(h);
    const fk_status s = fk_funnel_counts_merge(h, h);
    FUZZ_CHECK(s == FK_OK || s == FK_INVALID_ARGUMENT);
    check_counts(h);
}

void exercise_conversion(fk_conversion* h) {
    round_trip(h, fk_conversion_serialize, fk_conversion_deserialize, fk_conversion_free);
    std::uint32_t stages = 0, segments = 0;
    FUZZ_CHECK(fk_conversion_shape(h, &stages, &segments) == FK_OK);
    for (std::int32_t g = -1; g < static_cast<std::int32_t>(std::min<std::uint32_t>(segments, 8)); ++g) {
        std::int64_t entities = 0;
        FUZZ_CHECK(fk_conversion_entities(h, g, &entities) == FK_OK);
        FUZZ_CHECK(entities >= 0);
        for (std::uint32_t r = 0; r < std::min<std::uint32_t>(stages, 64); ++r) {
            std::int64_t reached = 0;
            FUZZ_CHECK(fk_conversion_reached(h, r, g, &reached) == FK_OK);
            FUZZ_CHECK(reached >= 0 && reached <= entities);
        }
    }
    fk_conversion* other = nullptr;
    const void* data = nullptr;
    std::size_t size = 0;
    FUZZ_CHECK(fk_conversion_serialize(h, &data, &size) == FK_OK);
    const auto blob = copy_bytes(data, size);
    FUZZ_CHECK(fk_conversion_deserialize(blob.data(), blob.size(), &other) == FK_OK);
    const fk_status s = fk_conversion_merge(h, other);
    FUZZ_CHECK(s == FK_OK || s == FK_INVALID_ARGUMENT);
    fk_conversion_free(other);
}

void exercise_deals(fk_deals* h) {
    round_trip(h, fk_deals_serialize, fk_deals_deserialize, fk_deals_free);
    std::size_t n = 0;
    FUZZ_CHECK(fk_deals_size(h, &n) == FK_OK);
    fk_velocity v{};
    if (fk_deals_result(h, &v) == FK_OK) {
        FUZZ_CHECK(v.won >= 0 && v.lost >= 0);
        FUZZ_CHECK(v.observed >= 0.0 && v.observed <= 1.0);
        if (v.has_win_rate) FUZZ_CHECK(v.win_rate >= 0.0 && v.win_rate <= 1.0);
        if (v.has_velocity) FUZZ_CHECK(!std::isnan(v.velocity));
        FUZZ_CHECK(v.reason != nullptr && v.basis != nullptr);
    }
    fk_velocity defaults{};
    const fk_status plain = fk_deals_velocity(h, 0, 86'400 * 30, 86'400.0, "", &defaults);
    FUZZ_CHECK(plain == FK_OK || plain == FK_INVALID_ARGUMENT);
    fk_deals* twice = nullptr;
    FUZZ_CHECK(fk_deals_new(&twice) == FK_OK);
    const fk_status s = fk_deals_merge(twice, h);
    FUZZ_CHECK(s == FK_OK || s == FK_INVALID_ARGUMENT);
    fk_deals_free(twice);
}

template <class H, class De, class Free, class Exercise>
void try_kind(const std::uint8_t* data, std::size_t size, De de, Free free_, Exercise exercise) {
    auto attempt = [&](const std::uint8_t* bytes) {
        H* h = nullptr;
        const fk_status s = de(bytes, size, &h);
        FUZZ_CHECK(s == FK_OK || s == FK_INVALID_ARGUMENT);
        FUZZ_CHECK((s == FK_OK) == (h != nullptr));
        if (s == FK_OK) {
            exercise(h);
            free_(h);
        } else {
            FUZZ_CHECK(std::strlen(fk_last_error()) > 0);
        }
    };
    attempt(data);
    std::vector<std::uint8_t> fixed(data, data + size);
    funnelkit_fuzz::fix_checksum(fixed.data(), fixed.size());
    attempt(fixed.data());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::uint8_t kind = data[0] % 4;
    ++data;
    --size;
    switch (kind) {
    case 0: try_kind<fk_events>(data, size, fk_events_deserialize, fk_events_free, exercise_events); break;
    case 1:
        try_kind<fk_funnel_counts>(data, size, fk_funnel_counts_deserialize, fk_funnel_counts_free, exercise_counts);
        break;
    case 2: try_kind<fk_conversion>(data, size, fk_conversion_deserialize, fk_conversion_free, exercise_conversion); break;
    default: try_kind<fk_deals>(data, size, fk_deals_deserialize, fk_deals_free, exercise_deals); break;
    }
    return 0;
}
