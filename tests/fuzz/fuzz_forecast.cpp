// Fuzz target: forecast_pipeline() and backtest_forecast() on decoded stage records and options.
// Checks: every probability in [0, 1] and an entity's outcomes summing to 1, the whole horizon
// the sum of its periods, intervals ordered, and reversed rows on one thread giving the same
// forecast bit for bit (row order and thread count never change a result).
#include <funnelkit/forecast.hpp>

#include <cmath>
#include <optional>

#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace funnelkit;
    funnelkit_fuzz::fuzz_input in(data, size);
    const auto model = stage_model::b2b();
    forecast_options o;
    o.model = static_cast<forecast_model>(in.byte() % 2);
    o.step = in.flag() ? in.range(1, 6) : in.wide();
    o.periods = static_cast<std::int32_t>(in.range(0, 3));
    o.period_steps = static_cast<std::int32_t>(in.range(0, 6));
    o.max_age = static_cast<std::int32_t>(in.range(-1, 7));
    o.simulations = static_cast<std::int32_t>(in.range(0, 9));
    o.confidence = in.flag() ? 0.8 : in.number();
    o.seed = in.byte();
    o.by_segment = in.flag();
    o.memory = static_cast<path_memory>(in.byte() % 2);
    o.threads = 1 + in.byte() % 3u;
    o.bootstrap_models = static_cast<std::int32_t>(in.range(0, 5));
    o.resample_amounts = in.flag();
    if (in.flag()) o.origin = in.flag() ? in.range(0, 60) : in.wide();
    if (in.flag()) o.as_of = in.flag() ? in.range(0, 80) : in.wide();
    const bool with_segment = in.flag();
    std::vector<std::int64_t> origins;
    for (int k = static_cast<int>(in.range(0, 3)); k > 0; --k) origins.push_back(in.flag() ? in.range(0, 60) : in.wide());
    std::vector<std::int64_t> entity, time;
    std::vector<std::int32_t> stage, segment;
    std::vector<double> amount;
    while (!in.empty() && entity.size() < 1024) {
        entity.push_back(in.range(0, 20));
        time.push_back(in.flag() ? in.range(0, 80) : in.wide());
        stage.push_back(static_cast<std::int32_t>(in.range(0, 7)));
        amount.push_back(in.flag() ? 0.0 : in.number());
        if (with_segment) segment.push_back(static_cast<std::int32_t>(in.range(0, 2)));
    }
    const stage_records records{entity, time, stage, segment, amount};
    std::optional<pipeline_forecast> f;
    if (funnelkit_fuzz::completes([&] { f.emplace(forecast_pipeline(model, records, o)); })) {
        const auto& E = f->entities;
        const auto H = static_cast<std::size_t>(o.periods);
        for (std::size_t i = 0; i < E.size(); ++i) {
            for (double p : {E.p_won[i], E.p_lost[i], E.p_never[i]}) FUZZ_CHECK(p >= -1e-9 && p <= 1 + 1e-9);
            FUZZ_CHECK(std::fabs(E.p_won[i] + E.p_lost[i] + E.p_never[i] - 1) < 1e-6);
            double in_h = 0;
            for (std::size_t q = 0; q < H; ++q) in_h += E.p_won_in[i * H + q];
            FUZZ_CHECK(in_h <= E.p_won[i] + 1e-6);
        }
        const auto& P = f->periods;
        FUZZ_CHECK(P.size() == H + 1);
        double sum = 0;
        for (std::size_t q = 0; q < H; ++q) sum += P.expected_wins[q];
        FUZZ_CHECK(std::fabs(sum - P.expected_wins[H]) <= 1e-9 * std::max(1.0, sum));
        for (std::size_t q = 0; q <= H; ++q)
            if (!std::isnan(P.wins_lower[q])) FUZZ_CHECK(P.wins_lower[q] <= P.wins_upper[q]);
        (void)f->explain().json();
        // Reversed rows: the same forecast.
        const std::vector<std::int64_t> re(entity.rbegin(), entity.rend()), rt(time.rbegin(), time.rend());
        const std::vector<std::int32_t> rs(stage.rbegin(), stage.rend()), rg(segment.rbegin(), segment.rend());
        const std::vector<double> ra(amount.rbegin(), amount.rend());
        forecast_options one = o;
        one.threads = 1;
        const auto g = forecast_pipeline(model, {re, rt, rs, rg, ra}, one);
        FUZZ_CHECK(g.entities.p_won == E.p_won && g.entities.amount == E.amount && g.entities.age == E.age);
        // Bit for bit, NaN (no interval without simulations) matching NaN.
        auto same = [](const std::vector<double>& x, const std::vector<double>& y) {
            if (x.size() != y.size()) return false;
            for (std::size_t k = 0; k < x.size(); ++k)
                if (!(x[k] == y[k] || (std::isnan(x[k]) && std::isnan(y[k])))) return false;
            return true;
        };
        FUZZ_CHECK(same(g.periods.expected_revenue, P.expected_revenue) && same(g.periods.wins_upper, P.wins_upper));
        FUZZ_CHECK(same(g.periods.revenue_lower, P.revenue_lower) && same(g.entities.expected_steps, E.expected_steps));
    }
    backtest_options bo;
    bo.forecast = o;
    bo.origins = origins;
    bo.calibration_bins = static_cast<std::int32_t>(in.range(0, 4));
    (void)funnelkit_fuzz::completes([&] {
        const auto b = backtest_forecast(model, records, bo);
        for (double c : b.summary.coverage_wins) FUZZ_CHECK(std::isnan(c) || (c >= 0 && c <= 1));
        (void)b.explain().json();
    });
    return 0;
}
