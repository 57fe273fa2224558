// Benchmarks of the conversion kernel: records per second over the sample CRM data, sorted by
// (entity, time) as generated and shuffled.
#include <benchmark/benchmark.h>

#include <funnelkit/conversion.hpp>
#include <funnelkit/synthetic.hpp>

#include <algorithm>
#include <map>
#include <numeric>
#include <random>

namespace {


// Samples are cached per (records wanted, shuffled) so a benchmark's setup runs once.
const funnelkit::sample_data& sample(std::int64_t records, bool shuffled) {
    static std::map<std::pair<std::int64_t, bool>, funnelkit::sample_data> cache;
    auto key = std::make_pair(records, shuffled);
    auto it = cache.find(key);
    if (it != cache.end()) return it->second;
    // About 2.9 records per lead in the sample; generate enough leads, then trim to size.
    auto d = funnelkit::generate_sample({.leads = records / 2 + 1, .seed = 42});
    auto trim = [&](auto& v) { v.resize(std::min<std::size_t>(v.size(), static_cast<std::size_t>(records))); };
    trim(d.entity); trim(d.time); trim(d.stage); trim(d.source); trim(d.campaign); trim(d.rep); trim(d.reason); trim(d.amount);
    if (shuffled) {
        std::vector<std::size_t> p(d.size());
        std::iota(p.begin(), p.end(), 0);
        std::shuffle(p.begin(), p.end(), std::mt19937_64(1));
        auto apply = [&](auto& v) {
            auto copy = v;
            for (std::size_t i = 0; i < p.size(); ++i) v[i] = copy[p[i]];
        };
        apply(d.entity); apply(d.time); apply(d.stage); apply(d.source); apply(d.amount);
    }
    return cache.emplace(key, std::move(d)).first->second;
}

void conversion(benchmark::State& state, bool shuffled) {
    const auto& d = sample(state.range(0), shuffled);
    const auto model = funnelkit::sample_model();
    for (auto _ : state) {
        auto c = funnelkit::conversion(model, d.records());
        benchmark::DoNotOptimize(c);
    }
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(d.size()));
}

void BM_conversion_sorted(benchmark::State& s) { conversion(s, false); }
void BM_conversion_shuffled(benchmark::State& s) { conversion(s, true); }

void BM_generate_sample(benchmark::State& state) {
    std::int64_t rows = 0;
    for (auto _ : state) {
        auto d = funnelkit::generate_sample({.leads = state.range(0), .seed = 42});
        rows += static_cast<std::int64_t>(d.size());
        benchmark::DoNotOptimize(d);
    }
    state.SetItemsProcessed(rows);
    state.counters["leads"] = static_cast<double>(state.range(0));
}

}  // namespace

BENCHMARK(BM_conversion_sorted)->Arg(1'000'000)->Arg(10'000'000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_conversion_shuffled)->Arg(1'000'000)->Arg(10'000'000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_generate_sample)->Arg(1'000'000)->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
