// Fuzz target: conversion() on decoded stage records. Checks: reversed rows give the same
// counts, the counts satisfy their own invariants (they serialise and load back), and
// lifecycle reach() agrees with it.
#include <funnelkit/conversion.hpp>
#include <funnelkit/lifecycle.hpp>

#include <optional>

#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace funnelkit;
    funnelkit_fuzz::fuzz_input in(data, size);
    const auto model = stage_model::b2b();
    conversion_options o;
    o.skipped = static_cast<skipped_stages>(in.byte() % 3);
    const bool with_segment = in.flag();
    std::vector<std::int64_t> entity, time;
    std::vector<std::int32_t> stage, segment;
    while (!in.empty() && entity.size() < 4096) {
        entity.push_back(in.range(-3, 20));
        time.push_back(in.wide());
        stage.push_back(static_cast<std::int32_t>(in.range(-1, 8)));
        if (with_segment) segment.push_back(static_cast<std::int32_t>(in.range(-1, 4)));
    }
    const stage_records records{entity, time, stage, segment};
    conversion_counts c;
    if (!funnelkit_fuzz::completes([&] { c = conversion(model, records, o); })) return 0;
    const auto blob = c.serialize();
    FUZZ_CHECK(conversion_counts::deserialize(blob.data(), blob.size()) == c);
    std::vector<std::int64_t> re(entity.rbegin(), entity.rend()), rt(time.rbegin(), time.rend());
    std::vector<std::int32_t> rs(stage.rbegin(), stage.rend()), rg(segment.rbegin(), segment.rend());
    FUZZ_CHECK(conversion(model, {re, rt, rs, rg}, o) == c);
    // Histories refuse a few inputs conversion() takes (the time 'never', spans beyond int64).
    std::optional<stage_histories> h;
    if (funnelkit_fuzz::completes([&] { h.emplace(build_histories(model, records)); }))
        FUZZ_CHECK(reach(*h, {}, {.skipped = o.skipped}) == c);
    return 0;
}
