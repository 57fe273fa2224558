// Benchmarks of the closed-loop kernels: attribution over generated touch paths (items =
// paths), the campaign report over the sample CRM records (items = records), and suppression
// checks of e-mail keys and ids against a list of 100,000 entries (items = keys).
#include <benchmark/benchmark.h>

#include <funnelkit/attribution.hpp>
#include <funnelkit/campaign.hpp>
#include <funnelkit/detail/random.hpp>
#include <funnelkit/suppression.hpp>
#include <funnelkit/synthetic.hpp>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace {

struct paths {
    std::vector<std::int64_t> path, time, out_path;
    std::vector<std::int32_t> channel;
    std::vector<std::uint8_t> milestone, converted;
    std::vector<double> value;
};

// Paths of 1 to 6 touches over 12 channels with skewed popularity; about 1 in 5 converts.
const paths& make_paths(std::int64_t n) {
    static std::map<std::int64_t, std::unique_ptr<paths>> cache;
    auto& slot = cache[n];
    if (slot) return *slot;
    slot = std::make_unique<paths>();
    paths& p = *slot;
    funnelkit::detail::rng g(7);
    for (std::int64_t i = 0; i < n; ++i) {
        const auto len = 1 + static_cast<std::int64_t>(g.below(6));
        for (std::int64_t k = 0; k < len; ++k) {
            p.path.push_back(i);
            p.time.push_back(k * 3600 + static_cast<std::int64_t>(g.below(3600)));
            const double u = g.uniform();
            p.channel.push_back(static_cast<std::int32_t>(12.0 * u * u));
            p.milestone.push_back(k == 0 ? 1 : (k == len - 1 ? 2 : 0));
        }
        const bool conv = g.bernoulli(0.2);
        p.out_path.push_back(i);
        p.converted.push_back(conv ? 1 : 0);
        p.value.push_back(conv ? g.lognormal_mean(20'000.0, 0.7) : 0.0);
    }
    return p;
}

void attribution(benchmark::State& state, funnelkit::attribution_model model, int order = 1) {
    const paths& p = make_paths(state.range(0));
    const funnelkit::path_set set({p.path, p.time, p.channel, p.milestone}, {p.out_path, p.converted, p.value});
    funnelkit::attribution_options op{.model = model, .markov_order = order};
    op.game = funnelkit::shapley_game::value_rate;
    for (auto _ : state) {
        auto r = funnelkit::attribute(set, op);
        benchmark::DoNotOptimize(r);
    }
    state.SetItemsProcessed(state.iterations() * state.range(0));
}

void BM_attribution_prepare(benchmark::State& state) {
    const paths& p = make_paths(state.range(0));
    for (auto _ : state) {
        funnelkit::path_set set({p.path, p.time, p.channel, p.milestone}, {p.out_path, p.converted, p.value});
        benchmark::DoNotOptimize(set);
    }
    state.SetItemsProcessed(state.iterations() * state.range(0));
}
void BM_attribution_linear(benchmark::State& s) { attribution(s, funnelkit::attribution_model::linear); }
void BM_attribution_w_shaped(benchmark::State& s) { attribution(s, funnelkit::attribution_model::w_shaped); }
void BM_attribution_time_decay(benchmark::State& s) { attribution(s, funnelkit::attribution_model::time_decay); }
void BM_attribution_markov1(benchmark::State& s) { attribution(s, funnelkit::attribution_model::markov, 1); }
void BM_attribution_markov3(benchmark::State& s) { attribution(s, funnelkit::attribution_model::markov, 3); }
void BM_attribution_shapley(benchmark::State& s) { attribution(s, funnelkit::attribution_model::shapley); }

const funnelkit::sample_data& sample(std::int64_t records) {
    static std::map<std::int64_t, funnelkit::sample_data> cache;
    auto it = cache.find(records);
    if (it != cache.end()) return it->second;
    // About 2.9 records per lead; generate enough, then cut at a lead boundary near the size.
    auto d = funnelkit::generate_sample({.leads = records / 2 + 1, .seed = 42});
    std::size_t cut = std::min<std::size_t>(d.size(), static_cast<std::size_t>(records));
    auto trim = [&](auto& v) { v.resize(cut); };
    trim(d.entity); trim(d.time); trim(d.stage); trim(d.source); trim(d.campaign); trim(d.rep); trim(d.reason); trim(d.amount);
    return cache.emplace(records, std::move(d)).first->second;
}

void BM_campaign_report(benchmark::State& state) {
    const auto& d = sample(state.range(0));
    const auto model = funnelkit::sample_model();
    funnelkit::campaign_options op;
    op.cost.assign(funnelkit::sample_campaigns().size(), 5'000.0);
    const funnelkit::stage_records rec{d.entity, d.time, d.stage, d.campaign, d.amount};
    for (auto _ : state) {
        auto r = funnelkit::campaign_report(model, rec, op);
        benchmark::DoNotOptimize(r);
    }
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(d.size()));
}

struct key_batch {
    std::string data;
    std::vector<std::int64_t> offsets{0}, ids;
};

// 100,000 suppressed domains and ids; a batch of e-mails of which about 1 in 10 hits.
const funnelkit::suppression_list& list() {
    static const funnelkit::suppression_list l = [] {
        funnelkit::suppression_list s;
        for (int i = 0; i < 100'000; ++i) {
            s.add_key("email_domain", "Company" + std::to_string(i * 10) + ".example.COM", i % 3 ? "poor fit" : "spam");
            s.add_id(i * 10, "disqualified");
        }
        return s;
    }();
    return l;
}

const key_batch& batch(std::int64_t n) {
    static std::map<std::int64_t, std::unique_ptr<key_batch>> cache;
    auto& slot = cache[n];
    if (slot) return *slot;
    slot = std::make_unique<key_batch>();
    funnelkit::detail::rng g(3);
    for (std::int64_t i = 0; i < n; ++i) {
        const auto c = g.below(1'000'000);
        slot->data += "person" + std::to_string(i % 1000) + "@company" + std::to_string(c) + ".example.com";
        slot->offsets.push_back(static_cast<std::int64_t>(slot->data.size()));
        slot->ids.push_back(static_cast<std::int64_t>(c));
    }
    return *slot;
}

void BM_suppression_check_email_domains(benchmark::State& state) {
    const auto& l = list();
    const auto& b = batch(state.range(0));
    const std::vector<funnelkit::key_column> keys{
        {"email_domain", {std::span<const char>(b.data.data(), b.data.size()), b.offsets}, funnelkit::key_transform::email_domain}};
    std::size_t hits = 0;
    for (auto _ : state) {
        auto r = l.check({}, keys);
        hits = r.count;
        benchmark::DoNotOptimize(r);
    }
    state.counters["hit_share"] = static_cast<double>(hits) / static_cast<double>(state.range(0));
    state.SetItemsProcessed(state.iterations() * state.range(0));
}

void BM_suppression_check_ids(benchmark::State& state) {
    const auto& l = list();
    const auto& b = batch(state.range(0));
    for (auto _ : state) {
        auto r = l.check(b.ids);
        benchmark::DoNotOptimize(r);
    }
    state.SetItemsProcessed(state.iterations() * state.range(0));
}

}  // namespace

BENCHMARK(BM_attribution_prepare)->Arg(1'000'000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_attribution_linear)->Arg(1'000'000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_attribution_w_shaped)->Arg(1'000'000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_attribution_time_decay)->Arg(1'000'000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_attribution_markov1)->Arg(1'000'000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_attribution_markov3)->Arg(1'000'000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_attribution_shapley)->Arg(1'000'000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_campaign_report)->Arg(1'000'000)->Arg(10'000'000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_suppression_check_email_domains)->Arg(1'000'000)->Arg(10'000'000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_suppression_check_ids)->Arg(1'000'000)->Arg(10'000'000)->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
