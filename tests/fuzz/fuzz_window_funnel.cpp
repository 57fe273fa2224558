// Fuzz target: window_funnel() on decoded event columns and options. Checks: the levels count
// every entity once, per-entity levels are sorted by id, and the answer does not depend on the
// row order (reversed rows, and the promise-free order) or on the number of threads.
#include <funnelkit/window_funnel.hpp>

#include <algorithm>
#include <set>

#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace funnelkit;
    funnelkit_fuzz::fuzz_input in(data, size);
    window_funnel_options o;
    o.window = in.wide();
    o.steps = static_cast<std::size_t>(in.range(0, 66));
    const std::uint8_t modes = in.byte();
    o.strict_deduplication = modes & 1;
    o.strict_order = modes & 2;
    o.strict_increase = modes & 4;
    o.allow_reentry = modes & 8;
    o.exact_increase = modes & 16;
    o.order = static_cast<input_order>(in.byte() % 5);
    o.ticks_per_second = in.range(-1, 3);
    const bool masks = in.flag();
    std::vector<std::int64_t> entity, time;
    std::vector<std::int32_t> step;
    std::vector<std::uint64_t> step_mask;
    while (!in.empty() && entity.size() < 4096) {
        entity.push_back(in.range(-3, 12));
        time.push_back(in.wide());
        if (masks) step_mask.push_back(in.take<std::uint8_t>() & 0x3Fu);
        else step.push_back(static_cast<std::int32_t>(in.range(-2, 8)));
    }
    auto columns = [&](const std::vector<std::int64_t>& e, const std::vector<std::int64_t>& t,
                       const std::vector<std::int32_t>& s, const std::vector<std::uint64_t>& m) {
        return event_columns{.entity = e, .time = t, .step = s, .step_mask = m};
    };
    window_funnel_result r;
    o.per_entity = true;
    if (!funnelkit_fuzz::completes([&] { r = window_funnel(columns(entity, time, step, step_mask), o); })) return 0;
    const std::set<std::int64_t> distinct(entity.begin(), entity.end());
    FUZZ_CHECK(r.counts.entities() == static_cast<std::int64_t>(distinct.size()));
    FUZZ_CHECK(r.entity.size() == distinct.size());
    FUZZ_CHECK(std::is_sorted(r.entity.begin(), r.entity.end()));
    for (auto l : r.level) FUZZ_CHECK(l <= o.steps);
    // Reversed rows, no promise; two threads.
    std::vector<std::int64_t> re(entity.rbegin(), entity.rend()), rt(time.rbegin(), time.rend());
    std::vector<std::int32_t> rs(step.rbegin(), step.rend());
    std::vector<std::uint64_t> rm(step_mask.rbegin(), step_mask.rend());
    auto u = o;
    u.order = input_order::unsorted;
    u.threads = 2;
    const auto r2 = window_funnel(columns(re, rt, rs, rm), u);
    FUZZ_CHECK(r2.counts == r.counts);
    FUZZ_CHECK(r2.entity == r.entity && r2.level == r.level);
    const auto blob = r.counts.serialize();
    FUZZ_CHECK(window_funnel_counts::deserialize(blob.data(), blob.size()) == r.counts);
    return 0;
}
