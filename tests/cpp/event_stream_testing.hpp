// Event-stream helpers shared by the window_funnel and funnel_analysis tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <utility>
#include <vector>

#include <funnelkit/detail/random.hpp>
#include <funnelkit/window_funnel.hpp>

namespace funnelkit_testing {

using namespace funnelkit;

struct events {
    std::vector<std::int64_t> entity, time;
    std::vector<std::uint64_t> mask;
    void add(std::int64_t e, std::int64_t t, std::uint64_t m) {
        entity.push_back(e);
        time.push_back(t);
        mask.push_back(m);
    }
    event_columns view() const { return {.entity = entity, .time = time, .step_mask = mask}; }
    std::size_t size() const { return entity.size(); }
    void permute(const std::vector<std::size_t>& p) {
        auto apply = [&](auto& v) {
            auto c = v;
            for (std::size_t i = 0; i < p.size(); ++i) v[i] = c[p[i]];
        };
        apply(entity);
        apply(time);
        apply(mask);
    }
};

struct mode {
    bool dedup = false, order = false, increase = false, reentry = false;
};

inline window_funnel_options opts(std::int64_t window, std::size_t steps, mode m = {}) {
    window_funnel_options o;
    o.window = window;
    o.steps = steps;
    o.strict_deduplication = m.dedup;
    o.strict_order = m.order;
    o.strict_increase = m.increase;
    o.allow_reentry = m.reentry;
    return o;
}

inline events one(std::initializer_list<std::pair<std::int64_t, std::uint64_t>> ev) {
    events e;
    for (auto [t, m] : ev) e.add(7, t, m);
    return e;
}

// Random event sets: few distinct timestamps per entity so ties are frequent.
inline events random_events(std::uint64_t seed, std::size_t n_entities, std::size_t max_events, unsigned steps,
                            std::int64_t time_span, double multi_p) {
    detail::rng r(seed);
    events e;
    for (std::size_t k = 0; k < n_entities; ++k) {
        const auto id = static_cast<std::int64_t>(r.below(1'000'000'000));
        const auto cnt = 1 + r.below(max_events);
        for (std::uint64_t i = 0; i < cnt; ++i) {
            std::uint64_t m = 0;
            const double u = r.uniform();
            if (u < 0.15) m = 0;
            else if (u < 0.15 + multi_p) m = r.next() & ((steps == 64) ? ~0ull : ((1ull << steps) - 1));
            else m = 1ull << r.below(steps);
            e.add(id, static_cast<std::int64_t>(r.below(static_cast<std::uint64_t>(time_span))), m);
        }
    }
    return e;
}

}  // namespace funnelkit_testing
