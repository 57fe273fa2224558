#include <funnelkit/funnelkit.hpp>
#include <cstdio>

int main() {
    const auto model = funnelkit::sample_model();
    const auto data = funnelkit::generate_sample({.leads = 20'000, .seed = 42});
    const auto table = funnelkit::conversion(model, data.records());
    std::printf("segment,stage,reached,cumulative_rate\n");
    for (std::int32_t seg = 0; seg < static_cast<std::int32_t>(table.n_segments()); ++seg)
        for (std::size_t k = 0; k < table.n_stages(); ++k)
            std::printf("%s,%s,%lld,%.17g\n", funnelkit::sample_sources()[seg].c_str(),
                        model.at(model.ladder()[k]).name.c_str(), (long long)table.reached(k, seg),
                        table.cumulative_rate(k, seg).value_or(-1.0));
}
