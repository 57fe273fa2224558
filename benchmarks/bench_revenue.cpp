// Benchmarks of the revenue math: sales velocity per month and per source, response-time and
// volume SLA evaluation over 1e6 and 1e7 records, and the closed-form planners.
//
// Records derive from the sample CRM data: opportunities (and MQLs for the SLA) of a sample
// of 200,000 leads, tiled with day shifts until the wanted number of rows is reached, so the
// distributions of amounts, outcomes, cycles and response times are the sample's.
#include <benchmark/benchmark.h>

#include <funnelkit/planning.hpp>
#include <funnelkit/sla.hpp>
#include <funnelkit/synthetic.hpp>
#include <funnelkit/velocity.hpp>

#include <map>
#include <vector>

namespace {

constexpr std::int64_t day = 86'400;
constexpr std::int64_t start = 1'704'067'200;

const funnelkit::sample_data& base_sample() {
    static const funnelkit::sample_data d = funnelkit::generate_sample({.leads = 200'000, .seed = 42});
    return d;
}

struct opp_columns {
    std::vector<std::int64_t> created, closed;
    std::vector<std::int8_t> outcome;
    std::vector<double> amount;
    std::vector<std::int32_t> segment;
    funnelkit::opportunity_records view() const { return {created, closed, outcome, amount, segment}; }
};

const opp_columns& opportunities(std::int64_t rows) {
    static std::map<std::int64_t, opp_columns> cache;
    if (auto it = cache.find(rows); it != cache.end()) return it->second;
    const auto t = funnelkit::opportunities_from_stages(funnelkit::sample_model(), base_sample().records());
    opp_columns c;
    const auto n = static_cast<std::size_t>(rows);
    c.created.reserve(n); c.closed.reserve(n); c.outcome.reserve(n); c.amount.reserve(n); c.segment.reserve(n);
    for (std::size_t i = 0, k = 0; c.created.size() < n; ++i) {
        if (i == t.size()) { i = 0; ++k; }
        const std::int64_t shift = static_cast<std::int64_t>(k % 30) * day;
        c.created.push_back(t.created[i] + shift);
        c.closed.push_back(t.closed[i] == funnelkit::missing_time ? t.closed[i] : t.closed[i] + shift);
        c.outcome.push_back(t.outcome[i]);
        c.amount.push_back(t.amount[i]);
        c.segment.push_back(t.segment[i]);
    }
    return cache.emplace(rows, std::move(c)).first->second;
}

struct mql_columns {
    std::vector<std::int64_t> created, touch;
    std::vector<std::int32_t> rep, segment;
};

const mql_columns& mqls(std::int64_t rows) {
    static std::map<std::int64_t, mql_columns> cache;
    if (auto it = cache.find(rows); it != cache.end()) return it->second;
    const auto& s = base_sample();
    mql_columns base;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s.stage[i] != 1) continue;
        base.created.push_back(s.time[i]);
        base.touch.push_back(i + 1 < s.size() && s.entity[i + 1] == s.entity[i] ? s.time[i + 1] : funnelkit::missing_time);
        base.rep.push_back(s.rep[i]);
        base.segment.push_back(s.source[i]);
    }
    mql_columns c;
    const auto n = static_cast<std::size_t>(rows);
    for (std::size_t i = 0, k = 0; c.created.size() < n; ++i) {
        if (i == base.created.size()) { i = 0; ++k; }
        const std::int64_t shift = static_cast<std::int64_t>(k % 7) * 3600;
        c.created.push_back(base.created[i] + shift);
        c.touch.push_back(base.touch[i] == funnelkit::missing_time ? base.touch[i] : base.touch[i] + shift);
        c.rep.push_back(base.rep[i]);
        c.segment.push_back(base.segment[i]);
    }
    return cache.emplace(rows, std::move(c)).first->second;
}

std::vector<funnelkit::period> months() {
    std::vector<funnelkit::period> p;
    for (std::int64_t m = 0; m < 12; ++m) p.push_back({start + m * 30 * day, start + (m + 1) * 30 * day});
    return p;
}

void velocity(benchmark::State& state, funnelkit::cycle_statistic stat, funnelkit::count_basis count) {
    const auto& c = opportunities(state.range(0));
    const auto p = months();
    funnelkit::velocity_options o;
    o.cycle_stat = stat;
    o.count = count;
    for (auto _ : state) {
        auto r = funnelkit::velocity(c.view(), p, o);
        benchmark::DoNotOptimize(r);
    }
    state.SetItemsProcessed(state.iterations() * state.range(0));
}

void BM_velocity_mean(benchmark::State& s) { velocity(s, funnelkit::cycle_statistic::mean, funnelkit::count_basis::created_in_period); }
void BM_velocity_median(benchmark::State& s) { velocity(s, funnelkit::cycle_statistic::median, funnelkit::count_basis::created_in_period); }
void BM_velocity_open_at_start(benchmark::State& s) { velocity(s, funnelkit::cycle_statistic::mean, funnelkit::count_basis::open_at_start); }

void BM_sla_response(benchmark::State& state) {
    const auto& c = mqls(state.range(0));
    funnelkit::sla_commitment sla;
    sla.kind = funnelkit::sla_kind::response;
    sla.limit = 24 * 3600;
    const funnelkit::response_records r{c.created, c.touch, c.rep, {}, c.segment};
    for (auto _ : state) {
        auto res = funnelkit::sla_response(sla, r, start + 365 * day);
        benchmark::DoNotOptimize(res);
    }
    state.SetItemsProcessed(state.iterations() * state.range(0));
}

void BM_sla_volume(benchmark::State& state) {
    const auto& c = mqls(state.range(0));
    funnelkit::sla_commitment sla;
    sla.kind = funnelkit::sla_kind::volume;
    sla.target = 100;
    const auto p = months();
    for (auto _ : state) {
        auto res = funnelkit::sla_volume(sla, {c.created, c.rep}, p, start + 200 * day, 12);
        benchmark::DoNotOptimize(res);
    }
    state.SetItemsProcessed(state.iterations() * state.range(0));
}

void BM_plan_reverse_funnel(benchmark::State& state) {
    funnelkit::reverse_funnel_options o;
    o.goal = 40'000;
    o.deal_value = 800;
    o.steps = {{"Lead", 0.5}, {"Connect", 0.6}, {"Discovery call", 0.5}, {"Demo", 1.0 / 3.0}};
    o.reps = 10;
    for (auto _ : state) {
        auto p = funnelkit::plan_reverse_funnel(o);
        benchmark::DoNotOptimize(p);
    }
}

void BM_plan_leads(benchmark::State& state) {
    funnelkit::lag_model m{0.08, {0.1, 0.3, 0.25, 0.15, 0.1, 0.05, 0.05}, 20'000};
    std::vector<double> targets(static_cast<std::size_t>(state.range(0)), 500'000);
    std::vector<double> history(12, 3000);
    for (auto _ : state) {
        auto p = funnelkit::plan_leads(m, targets, history);
        benchmark::DoNotOptimize(p);
    }
    state.counters["months"] = static_cast<double>(state.range(0));
}

}  // namespace

BENCHMARK(BM_velocity_mean)->Arg(1'000'000)->Arg(10'000'000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_velocity_median)->Arg(1'000'000)->Arg(10'000'000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_velocity_open_at_start)->Arg(1'000'000)->Arg(10'000'000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_sla_response)->Arg(1'000'000)->Arg(10'000'000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_sla_volume)->Arg(1'000'000)->Arg(10'000'000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_plan_reverse_funnel)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_plan_leads)->Arg(12)->Arg(36)->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
