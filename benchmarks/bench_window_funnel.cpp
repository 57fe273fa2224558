// Benchmarks of window_funnel: events per second for each input order ((entity, time), time
// only, shuffled), each ClickHouse mode, step codes (int32 and int8) and step masks, 1 and 2
// threads, and skewed entity sizes (a Zipf-like tail plus one entity holding 5% of the events).
//
// Workload (the shape of benchmarks/peers.py): `events` events over events/100 entities, each
// entity's sessions uniform over 30 days in seconds; an event is step 0..3 with probability
// 0.20, 0.10, 0.05, 0.02 and no step otherwise; events come in sessions of ten within half an
// hour; 4 steps, a one-hour window.
#include <benchmark/benchmark.h>

#include <funnelkit/detail/random.hpp>
#include <funnelkit/window_funnel.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <numeric>
#include <string>
#include <tuple>
#include <vector>

namespace {

enum class order { entity_time, time, shuffled };

struct workload {
    std::vector<std::int64_t> entity, time;
    std::vector<std::int32_t> step;
    std::vector<std::int8_t> step8;  // the same codes in one byte each
    std::vector<std::uint64_t> mask;
};

std::int32_t draw_step(funnelkit::detail::rng& r) {
    const double u = r.uniform();
    return u < 0.20 ? 0 : u < 0.30 ? 1 : u < 0.35 ? 2 : u < 0.37 ? 3 : -1;
}

// Rows in (entity, time) order.
workload generate(std::int64_t n, bool skewed) {
    constexpr std::int64_t span = 30 * 86400;
    workload w;
    w.entity.reserve(static_cast<std::size_t>(n));
    w.time.reserve(static_cast<std::size_t>(n));
    w.step.reserve(static_cast<std::size_t>(n));
    const std::int64_t entities = std::max<std::int64_t>(1, n / 100);
    std::vector<std::int64_t> sizes(static_cast<std::size_t>(entities), n / entities);
    sizes[0] += n - entities * (n / entities);
    if (skewed) {
        // Zipf-like sizes proportional to 1/rank over the other 95%, entity 0 holds 5%.
        double h = 0;
        for (std::int64_t k = 1; k < entities; ++k) h += 1.0 / static_cast<double>(k);
        std::int64_t used = n / 20;
        sizes[0] = used;
        for (std::int64_t k = 1; k < entities; ++k) {
            sizes[static_cast<std::size_t>(k)] =
                std::max<std::int64_t>(1, static_cast<std::int64_t>(0.95 * static_cast<double>(n) / (static_cast<double>(k) * h)));
            used += sizes[static_cast<std::size_t>(k)];
        }
        sizes[1] += std::max<std::int64_t>(0, n - used);
    }
    funnelkit::detail::rng r(7);
    std::vector<std::int64_t> ts;
    for (std::int64_t e = 0; e < entities && static_cast<std::int64_t>(w.entity.size()) < n; ++e) {
        const std::int64_t cnt = std::min(sizes[static_cast<std::size_t>(e)], n - static_cast<std::int64_t>(w.entity.size()));
        // Events come in sessions of about ten events within half an hour.
        ts.resize(static_cast<std::size_t>(cnt));
        std::int64_t session = 0;
        for (std::size_t q = 0; q < ts.size(); ++q) {
            if (q % 10 == 0) session = 1'700'000'000 + static_cast<std::int64_t>(r.below(span));
            ts[q] = session + static_cast<std::int64_t>(r.below(1800));
        }
        std::sort(ts.begin(), ts.end());
        for (std::int64_t t : ts) {
            w.entity.push_back(e * 7919 + 13);
            w.time.push_back(t);
            w.step.push_back(draw_step(r));
        }
    }
    return w;
}

void reorder(workload& w, order o) {
    if (o == order::entity_time) return;
    const std::size_t n = w.entity.size();
    std::vector<std::uint32_t> p(n);
    std::iota(p.begin(), p.end(), 0u);
    if (o == order::time) {
        std::stable_sort(p.begin(), p.end(), [&](std::uint32_t a, std::uint32_t b) { return w.time[a] < w.time[b]; });
    } else {
        funnelkit::detail::rng r(11);
        for (std::size_t i = n; i > 1; --i) std::swap(p[i - 1], p[r.below(i)]);
    }
    auto apply = [&](auto& v) {
        auto c = v;
        for (std::size_t i = 0; i < n; ++i) v[i] = c[p[i]];
    };
    apply(w.entity);
    apply(w.time);
    apply(w.step);
}

const workload& data(std::int64_t n, order o, bool skewed) {
    static std::map<std::tuple<std::int64_t, int, bool>, workload> cache;
    const auto key = std::make_tuple(n, static_cast<int>(o), skewed);
    auto it = cache.find(key);
    if (it != cache.end()) return it->second;
    if (cache.size() >= 2) cache.clear();  // keep memory bounded across the large sizes
    workload w = generate(n, skewed);
    reorder(w, o);
    w.mask.resize(w.step.size());
    for (std::size_t i = 0; i < w.step.size(); ++i) w.mask[i] = w.step[i] >= 0 ? std::uint64_t{1} << w.step[i] : 0;
    w.step8.assign(w.step.begin(), w.step.end());
    return cache.emplace(key, std::move(w)).first->second;
}

struct config {
    order ord;
    bool dedup = false, strict_order = false, increase = false, reentry = false;
    bool use_mask = false;
    bool one_byte_codes = false;
    bool skewed = false;
    unsigned threads = 1;
};

void run(benchmark::State& state, config c) {
    const auto& w = data(state.range(0), c.ord, c.skewed);
    funnelkit::window_funnel_options o;
    o.window = 3600;
    o.steps = 4;
    o.strict_deduplication = c.dedup;
    o.strict_order = c.strict_order;
    o.strict_increase = c.increase;
    o.allow_reentry = c.reentry;
    o.threads = c.threads;
    o.order = c.ord == order::entity_time ? funnelkit::input_order::entity_time
              : c.ord == order::time      ? funnelkit::input_order::time
                                          : funnelkit::input_order::unsorted;
    funnelkit::event_columns v{.entity = w.entity, .time = w.time};
    if (c.use_mask) v.step_mask = w.mask;
    else if (c.one_byte_codes) v.step_int8 = w.step8;
    else v.step = w.step;
    std::int64_t top = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (auto _ : state) {
        auto r = funnelkit::window_funnel(v, o);
        top = r.counts.reached(4);
        benchmark::DoNotOptimize(top);
    }
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    state.SetItemsProcessed(state.iterations() * state.range(0));
    // items_per_second uses the calling thread's CPU time; with threads > 1 read this instead.
    state.counters["wall_events_per_s"] =
        wall > 0 ? static_cast<double>(state.iterations() * state.range(0)) / wall : 0.0;
    state.counters["reached_4"] = static_cast<double>(top);
}

void add(const std::string& name, config c, bool large) {
    auto* b = benchmark::RegisterBenchmark(("BM_window_funnel/" + name).c_str(), [c](benchmark::State& s) { run(s, c); });
    b->Arg(1'000'000)->Arg(10'000'000)->Unit(benchmark::kMillisecond);
    if (large) b->Arg(100'000'000);
}

int register_all() {
    const std::pair<const char*, order> orders[] = {
        {"entity_time", order::entity_time}, {"time", order::time}, {"shuffled", order::shuffled}};
    for (auto [oname, ord] : orders) {
        const std::string on = oname;
        add(on + "/default", {.ord = ord}, true);
        add(on + "/default_2threads", {.ord = ord, .threads = 2}, true);
        add(on + "/strict_deduplication", {.ord = ord, .dedup = true}, false);
        add(on + "/strict_order", {.ord = ord, .strict_order = true}, false);
        add(on + "/strict_increase", {.ord = ord, .increase = true}, false);
        add(on + "/allow_reentry", {.ord = ord, .strict_order = true, .reentry = true}, false);
        add(on + "/mask", {.ord = ord, .use_mask = true}, false);
        add(on + "/int8_codes", {.ord = ord, .one_byte_codes = true}, false);
        add(on + "/skewed", {.ord = ord, .skewed = true}, false);
    }
    return 0;
}
const int registered = register_all();

}  // namespace

BENCHMARK_MAIN();
