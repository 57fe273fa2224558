// Benchmarks of the per-entity kernels beyond the window funnel on unsorted input: funnel
// analysis (events), attribution paths (touches), the campaign report, stage reach and
// lifecycle histories (CRM stage records), each on shuffled rows, with 1 and 2 threads; and the
// memory floor of any per-row hash-table update (BM_random_update_floor).
//
// Events and touches have Zipf-like entity sizes (the entity of size rank r holds a share
// proportional to 1/r), timestamps in seconds with ties, and most events matching no step.
// Stage records come from generate_sample() (synthetic.hpp), shuffled.
// With threads, items_per_second uses the calling thread's CPU time: read wall_items_per_s.
#include <benchmark/benchmark.h>

#include <funnelkit/attribution.hpp>
#include <funnelkit/campaign.hpp>
#include <funnelkit/conversion.hpp>
#include <funnelkit/detail/state_table.hpp>
#include <funnelkit/funnel_analysis.hpp>
#include <funnelkit/lifecycle.hpp>
#include <funnelkit/synthetic.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <map>
#include <numeric>
#include <random>
#include <vector>

namespace {

// Entity of each of n rows: sizes proportional to 1/rank over n / 100 entities, ids scattered.
std::vector<std::int64_t> skewed_entities(std::size_t n, std::mt19937_64& rng) {
    const double entities = std::max(1.0, static_cast<double>(n) / 100.0);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    std::vector<std::int64_t> e(n);
    for (auto& x : e) {
        // Inverse of the 1/r law: rank = floor((entities + 1)^u), 1..entities.
        const auto r = static_cast<std::int64_t>(std::pow(entities + 1.0, u(rng)));
        x = static_cast<std::int64_t>(static_cast<std::uint64_t>(r) * 0x9E3779B97F4A7C15ull >> 20);
    }
    return e;
}

// Times: sessions per entity within 30 days, seconds, one row in five tied with another.
std::vector<std::int64_t> tied_times(std::size_t n, std::mt19937_64& rng) {
    std::uniform_int_distribution<std::int64_t> t(0, 30 * 86'400);
    std::vector<std::int64_t> out(n);
    for (std::size_t i = 0; i < n; ++i) out[i] = (i > 0 && rng() % 5 == 0) ? out[i - 1] : t(rng);
    return out;
}

struct events_data {
    std::vector<std::int64_t> entity, time, property;
    std::vector<std::int32_t> step, segment;
};

const events_data& events(std::size_t n) {
    static std::map<std::size_t, events_data> cache;
    if (auto it = cache.find(n); it != cache.end()) return it->second;
    std::mt19937_64 rng(7);
    events_data d;
    d.entity = skewed_entities(n, rng);
    d.time = tied_times(n, rng);
    d.step.resize(n);
    d.segment.resize(n);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    for (std::size_t i = 0; i < n; ++i) {
        const double x = u(rng);  // step 0..3 with 0.16, 0.10, 0.06, 0.03; no step otherwise
        d.step[i] = x < 0.16 ? 0 : x < 0.26 ? 1 : x < 0.32 ? 2 : x < 0.35 ? 3 : -1;
        d.segment[i] = static_cast<std::int32_t>(rng() % 8);
    }
    return cache.emplace(n, std::move(d)).first->second;
}

struct touch_data {
    std::vector<std::int64_t> path, time, out_path, conv_time;
    std::vector<std::int32_t> channel;
    std::vector<std::uint8_t> converted;
    std::vector<double> value;
};

const touch_data& touches(std::size_t n) {
    static std::map<std::size_t, touch_data> cache;
    if (auto it = cache.find(n); it != cache.end()) return it->second;
    std::mt19937_64 rng(11);
    touch_data d;
    d.path = skewed_entities(n, rng);
    d.time = tied_times(n, rng);
    d.channel.resize(n);
    for (auto& c : d.channel) c = static_cast<std::int32_t>(rng() % 12) - 1;  // -1: a null touch
    // One outcome row for a third of the paths (every distinct id with probability 1/3).
    std::vector<std::int64_t> ids = d.path;
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    for (std::int64_t id : ids) {
        if (rng() % 3 != 0) continue;
        d.out_path.push_back(id);
        d.converted.push_back(rng() % 2 ? 1 : 0);
        d.value.push_back(static_cast<double>(rng() % 1000));
        d.conv_time.push_back(30 * 86'400 + 1);
    }
    return cache.emplace(n, std::move(d)).first->second;
}

const funnelkit::sample_data& records(std::size_t n) {
    static std::map<std::size_t, funnelkit::sample_data> cache;
    if (auto it = cache.find(n); it != cache.end()) return it->second;
    auto d = funnelkit::generate_sample({.leads = static_cast<std::int64_t>(n / 2 + 1), .seed = 42});
    const std::size_t m = std::min(d.size(), n);
    std::vector<std::size_t> p(m);
    std::iota(p.begin(), p.end(), 0);
    std::shuffle(p.begin(), p.end(), std::mt19937_64(1));
    auto apply = [&](auto& v) {
        auto copy = v;
        v.resize(m);
        for (std::size_t i = 0; i < m; ++i) v[i] = copy[p[i]];
    };
    apply(d.entity); apply(d.time); apply(d.stage); apply(d.source); apply(d.campaign); apply(d.rep);
    apply(d.reason); apply(d.amount);
    return cache.emplace(n, std::move(d)).first->second;
}

// Runs body once per iteration and reports rows per second of wall time.
template <class F>
void timed(benchmark::State& state, std::size_t rows, F&& body) {
    double wall = 0.0;
    for (auto _ : state) {
        const auto t0 = std::chrono::steady_clock::now();
        body();
        wall += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(rows));
    state.counters["wall_items_per_s"] = static_cast<double>(state.iterations()) * static_cast<double>(rows) / wall;
}

unsigned threads_of(const benchmark::State& state) { return static_cast<unsigned>(state.range(0)); }

void BM_funnel_analysis_shuffled(benchmark::State& state) {
    const auto& d = events(static_cast<std::size_t>(state.range(1)));
    funnelkit::funnel_analysis_options o;
    o.steps = 4;
    o.window = 3600;
    o.threads = threads_of(state);
    const funnelkit::event_columns ev{d.entity, d.time, d.step};
    const funnelkit::event_attributes at{d.segment, {}};
    timed(state, d.entity.size(), [&] { benchmark::DoNotOptimize(funnelkit::funnel_analysis(ev, at, o)); });
}

void BM_attribution_paths_shuffled(benchmark::State& state) {
    const auto& d = touches(static_cast<std::size_t>(state.range(1)));
    const funnelkit::touch_columns t{d.path, d.time, d.channel};
    const funnelkit::outcome_columns o{d.out_path, d.converted, d.value, d.conv_time};
    const unsigned threads = threads_of(state);
    timed(state, d.path.size(), [&] { benchmark::DoNotOptimize(funnelkit::path_set(t, o, 0, threads)); });
}

void BM_attribution_linear_shuffled(benchmark::State& state) {
    const auto& d = touches(static_cast<std::size_t>(state.range(1)));
    const funnelkit::touch_columns t{d.path, d.time, d.channel};
    const funnelkit::outcome_columns o{d.out_path, d.converted, d.value, d.conv_time};
    funnelkit::attribution_options op;
    op.threads = threads_of(state);
    timed(state, d.path.size(), [&] { benchmark::DoNotOptimize(funnelkit::attribute(t, o, op)); });
}

void BM_campaign_shuffled(benchmark::State& state) {
    const auto& d = records(static_cast<std::size_t>(state.range(1)));
    const auto model = funnelkit::sample_model();
    funnelkit::campaign_options op;
    op.threads = threads_of(state);
    timed(state, d.size(), [&] { benchmark::DoNotOptimize(funnelkit::campaign_sums(model, d.records(), op)); });
}

void BM_histories_shuffled(benchmark::State& state) {
    const auto& d = records(static_cast<std::size_t>(state.range(1)));
    const auto model = funnelkit::sample_model();
    funnelkit::history_options op;
    op.threads = threads_of(state);
    timed(state, d.size(), [&] { benchmark::DoNotOptimize(funnelkit::build_histories(model, d.records(), op)); });
}

void BM_lifecycle_report_shuffled(benchmark::State& state) {
    const auto& d = records(static_cast<std::size_t>(state.range(1)));
    const auto model = funnelkit::sample_model();
    funnelkit::history_options op;
    op.threads = threads_of(state);
    timed(state, d.size(), [&] {
        auto h = funnelkit::build_histories(model, d.records(), op);
        auto s = funnelkit::summarize(h);
        benchmark::DoNotOptimize(s);
    });
}

void BM_reach_shuffled(benchmark::State& state) {
    const auto& d = records(static_cast<std::size_t>(state.range(1)));
    const auto model = funnelkit::sample_model();
    funnelkit::conversion_options op;
    op.threads = threads_of(state);
    timed(state, d.size(), [&] { benchmark::DoNotOptimize(funnelkit::conversion(model, d.records(), op)); });
}

// What any kernel that updates a per-entity state in a hash table pays at least: one
// read-modify-write of a random 64-byte line per row (the rows' entities in the order of
// shuffled stage records; a table of 16-byte slots, as reach's packed state, at the fold's
// load factor), with the same block-ahead prefetching as fold_by_entity and nothing else: no
// probing, no state logic.
void BM_random_update_floor(benchmark::State& state) {
    const auto& d = records(static_cast<std::size_t>(state.range(1)));
    const auto ent = d.records().entity;
    const std::size_t slots = funnelkit::detail::state_table::capacity_for(
        funnelkit::detail::estimate_distinct(ent.data(), ent.size()));
    std::vector<std::int64_t> table(slots * 2);
    const std::size_t mask = slots - 1;
    timed(state, ent.size(), [&] {
        constexpr std::size_t ahead = 32;
        for (std::size_t i = 0; i < ent.size(); ++i) {
            if (i + ahead < ent.size())
                __builtin_prefetch(&table[(funnelkit::detail::mix64(static_cast<std::uint64_t>(ent[i + ahead])) & mask) * 2]);
            table[(funnelkit::detail::mix64(static_cast<std::uint64_t>(ent[i])) & mask) * 2] += 1;
        }
        benchmark::DoNotOptimize(table.data());
    });
}

void sizes(benchmark::internal::Benchmark* b) {
    // Arguments: threads, rows (the smoke test runs the names ending in /1000000).
    for (std::int64_t n : {1'000'000, 10'000'000})
        for (std::int64_t t : {1, 2}) b->Args({t, n});
    b->Unit(benchmark::kMillisecond);
}

}  // namespace

BENCHMARK(BM_funnel_analysis_shuffled)->Apply(sizes);
BENCHMARK(BM_attribution_paths_shuffled)->Apply(sizes);
BENCHMARK(BM_attribution_linear_shuffled)->Apply(sizes);
BENCHMARK(BM_campaign_shuffled)->Apply(sizes);
BENCHMARK(BM_reach_shuffled)->Apply(sizes);
BENCHMARK(BM_random_update_floor)->Args({1, 1'000'000})->Args({1, 10'000'000})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_histories_shuffled)->Apply(sizes);
BENCHMARK(BM_lifecycle_report_shuffled)->Apply(sizes);

BENCHMARK_MAIN();
