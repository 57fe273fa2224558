// Fuzz target: velocity() on decoded opportunity records, periods and options, with a small
// bootstrap. Checks: results per period and segment in order, undefined inputs flagged (never
// NaN), and every row order giving the same results, interval included.
#include <funnelkit/velocity.hpp>

#include <cmath>

#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace funnelkit;
    funnelkit_fuzz::fuzz_input in(data, size);
    velocity_options o;
    o.count = static_cast<count_basis>(in.byte() % 4);
    o.win_rate = static_cast<win_rate_basis>(in.byte() % 2);
    o.cycle_from = static_cast<cycle_start>(in.byte() % 3);
    o.cycle_over = static_cast<cycle_deals>(in.byte() % 2);
    o.cycle_stat = static_cast<cycle_statistic>(in.byte() % 2);
    const double units[] = {86'400.0, 1.0, 0.5, 0.0, -1.0, 1e-300, 3.6e12, std::nan("")};
    o.time_unit = units[in.byte() % 8];
    o.bootstrap = static_cast<std::int32_t>(in.range(-1, 12));
    o.confidence = in.flag() ? 0.9 : in.number();
    o.seed = in.take<std::uint8_t>();
    std::vector<period> periods;
    for (int k = in.byte() % 4; k > 0; --k) periods.push_back({in.wide(), in.wide()});
    const bool with_segment = in.flag(), with_sql = in.flag(), with_touch = in.flag();
    std::vector<std::int64_t> created, closed, sql, touch;
    std::vector<std::int8_t> outcome;
    std::vector<double> amount;
    std::vector<std::int32_t> segment;
    while (!in.empty() && created.size() < 1024) {
        created.push_back(in.wide());
        closed.push_back(in.wide());
        outcome.push_back(static_cast<std::int8_t>(in.range(-1, 3)));
        amount.push_back(in.number());
        if (with_segment) segment.push_back(static_cast<std::int32_t>(in.range(-1, 3)));
        if (with_sql) sql.push_back(in.wide());
        if (with_touch) touch.push_back(in.wide());
    }
    const opportunity_records rec{created, closed, outcome, amount, segment, sql, touch};
    std::vector<velocity_result> r;
    if (!funnelkit_fuzz::completes([&] { r = velocity(rec, periods, o); })) return 0;
    const std::size_t rows = r.empty() ? 0 : r.size() / periods.size();
    FUZZ_CHECK(r.size() == rows * periods.size());
    for (const auto& v : r) {
        FUZZ_CHECK(v.defined() == v.velocity.has_value());
        if (v.velocity) FUZZ_CHECK(!std::isnan(*v.velocity));
        if (v.ci_lower) FUZZ_CHECK(v.ci_upper && *v.ci_lower <= *v.ci_upper);
        (void)v.explain().json();
    }
    auto rev = [](auto v) { return decltype(v)(v.rbegin(), v.rend()); };
    const auto rc = rev(created), rcl = rev(closed), rsq = rev(sql), rt = rev(touch);
    const auto ro = rev(outcome);
    const auto ra = rev(amount);
    const auto rs = rev(segment);
    const auto r2 = velocity({rc, rcl, ro, ra, rs, rsq, rt}, periods, o);
    FUZZ_CHECK(r2.size() == r.size());
    for (std::size_t k = 0; k < r.size(); ++k) {
        FUZZ_CHECK(r2[k].n == r[k].n && r2[k].won == r[k].won && r2[k].lost == r[k].lost);
        FUZZ_CHECK(r2[k].status == r[k].status);
        FUZZ_CHECK(r2[k].ci_lower == r[k].ci_lower && r2[k].ci_upper == r[k].ci_upper);
        FUZZ_CHECK(r2[k].bootstrap_undefined == r[k].bootstrap_undefined);
    }
    return 0;
}
