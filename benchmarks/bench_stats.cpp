// Benchmarks of the statistics kernels that run over every entity: Kaplan-Meier,
// Aalen-Johansen and the duration summary.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "funnelkit/accumulators.hpp"
#include "funnelkit/detail/random.hpp"
#include "funnelkit/rates.hpp"
#include "funnelkit/survival.hpp"

namespace {
struct durations {
    std::vector<double> time;
    std::vector<std::uint8_t> observed;
    std::vector<std::int32_t> outcome;
};

// Time to convert in whole seconds (ties are common), 40% still open, won/lost 1:2.
durations make(std::size_t n) {
    funnelkit::detail::rng g(17);
    durations d;
    d.time.resize(n);
    d.observed.resize(n);
    d.outcome.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        d.time[i] = std::floor(g.exponential(86400.0 * 20));
        const double u = g.uniform();
        d.outcome[i] = u < 0.4 ? 0 : (u < 0.6 ? 1 : 2);
        d.observed[i] = d.outcome[i] != 0;
    }
    return d;
}

void bm_kaplan_meier(benchmark::State& state) {
    const auto d = make(static_cast<std::size_t>(state.range(0)));
    for (auto _ : state) benchmark::DoNotOptimize(funnelkit::kaplan_meier(d.time, d.observed));
    state.SetItemsProcessed(state.iterations() * state.range(0));
}

void bm_aalen_johansen(benchmark::State& state) {
    const auto d = make(static_cast<std::size_t>(state.range(0)));
    for (auto _ : state) benchmark::DoNotOptimize(funnelkit::aalen_johansen(d.time, d.outcome));
    state.SetItemsProcessed(state.iterations() * state.range(0));
}

void bm_duration_summary(benchmark::State& state) {
    const auto d = make(static_cast<std::size_t>(state.range(0)));
    for (auto _ : state) {
        funnelkit::duration_summary s;
        s.fill(d.time);
        benchmark::DoNotOptimize(s.stats());
    }
    state.SetItemsProcessed(state.iterations() * state.range(0));
}

void bm_probability_b_beats_a(benchmark::State& state) {
    // Counts too large for the closed-form sum: the quadrature path.
    const auto n = state.range(0);
    for (auto _ : state)
        benchmark::DoNotOptimize(funnelkit::probability_b_beats_a(n * 3 / 100, n, n * 31 / 1000, n));
    state.SetItemsProcessed(state.iterations());
}
}  // namespace

BENCHMARK(bm_kaplan_meier)->Arg(1000000)->Arg(10000000)->Unit(benchmark::kMillisecond);
BENCHMARK(bm_aalen_johansen)->Arg(1000000)->Arg(10000000)->Unit(benchmark::kMillisecond);
BENCHMARK(bm_duration_summary)->Arg(1000000)->Arg(10000000)->Unit(benchmark::kMillisecond);
BENCHMARK(bm_probability_b_beats_a)->Arg(1000000)->Unit(benchmark::kMicrosecond);
BENCHMARK_MAIN();
