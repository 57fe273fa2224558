// Fuzz target: path_set construction on decoded touches and outcomes, then attribute() with
// every model. Checks: credits are finite and (with the value column) sum to the attributed
// total; seeded Shapley credits do not depend on the row order.
#include <funnelkit/attribution.hpp>

#include <cmath>
#include <numeric>
#include <optional>

#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace funnelkit;
    funnelkit_fuzz::fuzz_input in(data, size);
    const auto n_channels = static_cast<std::int32_t>(in.range(-1, 9));
    const bool with_milestone = in.flag(), with_value = in.flag(), with_time = in.flag();
    attribution_options o;
    o.half_life = in.number();
    o.u_first = in.number();
    o.markov_order = static_cast<int>(in.range(0, 4));
    o.game = static_cast<shapley_game>(in.byte() % 2);
    o.shapley_exact_max = static_cast<int>(in.range(-1, 6));
    o.shapley_samples = in.range(0, 40);
    o.seed = in.byte();
    for (int k = in.byte() % 3; k > 0; --k) o.head.push_back(in.number());
    const std::size_t touches = in.range(0, 600), outcomes = in.range(0, 100);
    std::vector<std::int64_t> path, time, out_path, conv_time;
    std::vector<std::int32_t> channel;
    std::vector<std::uint8_t> milestone, converted;
    std::vector<double> value;
    for (std::size_t i = 0; i < touches && !in.empty(); ++i) {
        path.push_back(in.range(-2, 30));
        time.push_back(in.wide());
        channel.push_back(static_cast<std::int32_t>(in.range(-2, 10)));
        if (with_milestone) milestone.push_back(static_cast<std::uint8_t>(in.range(0, 3)));
    }
    for (std::size_t i = 0; i < outcomes && !in.empty(); ++i) {
        out_path.push_back(in.range(-2, 30));
        converted.push_back(static_cast<std::uint8_t>(in.range(0, 2)));
        if (with_value) value.push_back(in.number());
        if (with_time) conv_time.push_back(in.wide());
    }
    const touch_columns t{path, time, channel, milestone};
    const outcome_columns oc{out_path, converted, value, conv_time};
    std::optional<path_set> ps;
    if (!funnelkit_fuzz::completes([&] { ps.emplace(t, oc, n_channels); })) return 0;
    for (auto m : {attribution_model::first_touch, attribution_model::last_touch, attribution_model::linear,
                   attribution_model::u_shaped, attribution_model::w_shaped, attribution_model::time_decay,
                   attribution_model::position, attribution_model::markov, attribution_model::shapley}) {
        o.model = m;
        attribution_result r;
        if (!funnelkit_fuzz::completes([&] { r = attribute(*ps, o); })) continue;
        if (!std::isfinite(r.total_value)) continue;  // values near the double limit may sum beyond it
        double total = 0;
        for (double v : r.value) {
            FUZZ_CHECK(std::isfinite(v));
            total += std::abs(v);
        }
        if (m != attribution_model::shapley && m != attribution_model::markov) {
            const double sum = std::accumulate(r.value.begin(), r.value.end(), 0.0);
            FUZZ_CHECK(std::abs(sum - r.total_value) <= 1e-9 * (total + r.total_value) + 1e-300);
        }
    }
    // Seeded Shapley credits: the same for reversed touch and outcome rows.
    o.model = attribution_model::shapley;
    o.game = shapley_game::value_rate;
    o.shapley_exact_max = 2;
    o.shapley_samples = 20;
    attribution_result a;
    if (!funnelkit_fuzz::completes([&] { a = attribute(*ps, o); })) return 0;
    auto rev = [](auto v) { return decltype(v)(v.rbegin(), v.rend()); };
    const auto rp = rev(path), rt = rev(time), rop = rev(out_path), rct = rev(conv_time);
    const auto rc = rev(channel);
    const auto rm = rev(milestone), rconv = rev(converted);
    const auto rv = rev(value);
    const auto b = attribute(path_set({rp, rt, rc, rm}, {rop, rconv, rv, rct}, n_channels), o);
    FUZZ_CHECK(a.value == b.value && a.conversions == b.conversions);
    return 0;
}
