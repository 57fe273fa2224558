// Benchmarks of stage histories: building them from records (sorted by entity and time as a
// CRM export, and shuffled) and the full summary (reach, flow, time in stage) on top.
#include <benchmark/benchmark.h>

#include <funnelkit/lifecycle.hpp>
#include <funnelkit/synthetic.hpp>

#include <algorithm>
#include <map>
#include <numeric>
#include <random>

namespace {

const funnelkit::sample_data& sample(std::int64_t records, bool shuffled) {
    static std::map<std::pair<std::int64_t, bool>, funnelkit::sample_data> cache;
    const auto key = std::make_pair(records, shuffled);
    if (auto it = cache.find(key); it != cache.end()) return it->second;
    auto d = funnelkit::generate_sample({.leads = records / 2 + 1, .seed = 42});
    const auto n = std::min<std::size_t>(d.size(), static_cast<std::size_t>(records));
    auto trim = [&](auto& v) { v.resize(n); };
    trim(d.entity); trim(d.time); trim(d.stage); trim(d.source); trim(d.campaign); trim(d.rep); trim(d.reason); trim(d.amount);
    if (shuffled) {
        std::vector<std::size_t> p(n);
        std::iota(p.begin(), p.end(), 0);
        std::shuffle(p.begin(), p.end(), std::mt19937_64(1));
        auto apply = [&](auto& v) {
            auto copy = v;
            for (std::size_t i = 0; i < n; ++i) v[i] = copy[p[i]];
        };
        apply(d.entity); apply(d.time); apply(d.stage); apply(d.source); apply(d.reason); apply(d.amount);
    }
    return cache.emplace(key, std::move(d)).first->second;
}

void histories(benchmark::State& state, bool shuffled) {
    const auto& d = sample(state.range(0), shuffled);
    const auto model = funnelkit::sample_model();
    for (auto _ : state) {
        auto h = funnelkit::build_histories(model, d.records());
        benchmark::DoNotOptimize(h);
    }
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(d.size()));
}

void report(benchmark::State& state, bool shuffled) {
    const auto& d = sample(state.range(0), shuffled);
    const auto model = funnelkit::sample_model();
    for (auto _ : state) {
        auto h = funnelkit::build_histories(model, d.records());
        auto s = funnelkit::summarize(h);
        auto stuck = funnelkit::stuck_entities(h);
        benchmark::DoNotOptimize(s);
        benchmark::DoNotOptimize(stuck);
    }
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(d.size()));
}

void BM_histories_sorted(benchmark::State& s) { histories(s, false); }
void BM_histories_shuffled(benchmark::State& s) { histories(s, true); }
void BM_report_sorted(benchmark::State& s) { report(s, false); }
void BM_report_shuffled(benchmark::State& s) { report(s, true); }

}  // namespace

BENCHMARK(BM_histories_sorted)->Arg(1'000'000)->Arg(10'000'000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_histories_shuffled)->Arg(1'000'000)->Arg(10'000'000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_report_sorted)->Arg(1'000'000)->Arg(10'000'000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_report_shuffled)->Arg(1'000'000)->Arg(10'000'000)->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
