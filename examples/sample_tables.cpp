// The lifecycle report's tables of the sample data, computed by the core and printed as CSV
// blocks (a "# name" line, a header, the rows, a blank line). The Python package shows the same
// numbers: tests/python/test_cpp_agreement.py compares them.
//
//   # conversion_by_source      reach and rates per source with 95% Wilson intervals
//   # time_in_stage             per ladder step stage, durations in days
//   # time_to_convert           Opportunity -> Customer, overall ("(all)") and per source, in days
//   # exits                     per ladder stage (the won stage is an outcome, not a stage to exit from)
//   # campaign                  the closed loop by source, then the total "(all)"
//   # velocity                  V = N * D * W / L over the sample's year, overall and by source
//
// Numbers are printed with 17 significant digits (they read back to the same doubles); "nan" is
// undefined, "inf" a Kaplan-Meier median that is not reached.
#include <funnelkit/funnelkit.hpp>

#include <cstdio>
#include <initializer_list>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace {

constexpr double seconds_per_day = 86'400.0;

void number(double v) { std::printf(",%.17g", v); }
void count(std::int64_t v) { std::printf(",%lld", static_cast<long long>(v)); }
void days(double seconds) { number(seconds / seconds_per_day); }

void header(const char* name, std::initializer_list<const char*> columns) {
    std::printf("# %s\n", name);
    bool first = true;
    for (const char* c : columns) {
        std::printf(first ? "%s" : ",%s", c);
        first = false;
    }
    std::printf("\n");
}

}  // namespace

int main() {
    using namespace funnelkit;
    const stage_model model = sample_model();
    const sample_data data = generate_sample({.leads = 20'000, .seed = 42});
    const std::vector<std::string>& sources = sample_sources();
    // Open entities are censored at the end of the data.
    const stage_histories h = build_histories(model, data.records(), {.as_of = data.end});
    auto stage_name = [&](std::int32_t rank) { return model.at(model.ladder()[static_cast<std::size_t>(rank)]).name; };
    auto source_name = [&](std::int32_t code) { return code < 0 ? std::string("(all)") : sources[static_cast<std::size_t>(code)]; };

    const reach_table conv = tabulate_reach(reach(h), {.overall = false, .confidence = 0.95,
                                                       .interval = interval_method::wilson});
    header("conversion_by_source", {"source", "stage", "entities", "reached", "step_rate", "cumulative_rate",
                                    "step_lower", "step_upper", "cum_lower", "cum_upper"});
    for (std::size_t i = 0; i < conv.size(); ++i) {
        std::printf("%s,%s", source_name(conv.segment[i]).c_str(), stage_name(conv.rank[i]).c_str());
        count(conv.entities[i]);
        count(conv.reached[i]);
        for (double v : {conv.step_rate[i], conv.cumulative_rate[i], conv.step_lower[i], conv.step_upper[i],
                         conv.cum_lower[i], conv.cum_upper[i]})
            number(v);
        std::printf("\n");
    }

    const time_in_stage_table tis = tabulate_time_in_stage(h);
    std::printf("\n");
    header("time_in_stage", {"stage", "visits", "completed", "open", "mean", "median", "p90", "min", "max",
                             "km_median", "km_median_lower", "km_median_upper"});
    for (std::size_t i = 0; i < tis.size(); ++i) {
        std::printf("%s", stage_name(tis.rank[i]).c_str());
        count(tis.visits[i]);
        count(tis.completed[i]);
        count(tis.open[i]);
        for (double v : {tis.mean[i], tis.median[i], tis.p90[i], tis.min[i], tis.max[i], tis.km_median[i],
                         tis.km_median_lower[i], tis.km_median_upper[i]})
            days(v);
        std::printf("\n");
    }

    const auto opportunity = static_cast<std::size_t>(model.rank(model.code_of("Opportunity")));
    const auto customer = static_cast<std::size_t>(model.rank(model.code_of("Customer")));
    const time_to_convert_table ttc = tabulate_time_to_convert(h, opportunity, customer, {.by_segment = true});
    std::printf("\n");
    header("time_to_convert", {"source", "entered", "converted", "closed_otherwise", "open", "mean", "median", "p90",
                               "km_median", "km_median_lower", "km_median_upper", "p_convert", "p_closed_otherwise"});
    for (std::size_t i = 0; i < ttc.size(); ++i) {
        std::printf("%s", source_name(ttc.segment[i]).c_str());
        count(ttc.entered[i]);
        count(ttc.converted[i]);
        count(ttc.closed_otherwise[i]);
        count(ttc.open[i]);
        for (double v : {ttc.mean[i], ttc.median[i], ttc.p90[i], ttc.km_median[i], ttc.km_median_lower[i],
                         ttc.km_median_upper[i]})
            days(v);
        number(ttc.p_convert[i]);
        number(ttc.p_closed_otherwise[i]);
        std::printf("\n");
    }

    const exit_table exits = tabulate_exits(compute_flow(h), model);
    std::printf("\n");
    header("exits", {"stage", "open", "won", "lost", "disqualified", "total", "open_share", "won_share", "lost_share",
                     "disqualified_share"});
    for (std::size_t i = 0; i < exits.size(); ++i) {
        std::printf("%s", stage_name(exits.rank[i]).c_str());
        for (std::int64_t v : {exits.open[i], exits.won[i], exits.lost[i], exits.disqualified[i], exits.total[i]})
            count(v);
        for (double v : {exits.open_share[i], exits.won_share[i], exits.lost_share[i], exits.disqualified_share[i]})
            number(v);
        std::printf("\n");
    }

    // The closed loop by source: counts, revenue, rates with Wilson intervals, velocity and the
    // z-test of each source against the rest (Holm-adjusted), then the total row "(all)".
    const campaign_report_result camp = campaign_report(model, data.records());
    std::printf("\n");
    header("campaign", {"source", "leads", "mqls", "sqls", "opportunities", "won", "lost", "revenue", "lead_to_won",
                        "lead_to_won_lower", "lead_to_won_upper", "days_to_win", "average_deal", "win_rate",
                        "velocity", "z", "p_value", "p_holm"});
    constexpr double undefined = std::numeric_limits<double>::quiet_NaN();
    auto campaign_line = [&](const campaign_row& row) {
        std::printf("%s", source_name(row.segment).c_str());
        for (std::int64_t v : {row.leads, row.mqls, row.sqls, row.opportunities, row.won, row.lost}) count(v);
        number(row.revenue);
        for (const auto& v : {row.lead_to_won.rate, row.lead_to_won.lower, row.lead_to_won.upper, row.days_to_win,
                              row.average_deal, row.win_rate, row.velocity, row.z, row.p_value, row.p_holm})
            number(v.value_or(undefined));
        std::printf("\n");
    };
    for (const auto& row : camp.rows) campaign_line(row);
    campaign_line(camp.total);

    // Sales velocity over the sample's year, overall and by source (N the time-averaged open
    // pipeline, D mean won amount, W by count, L mean days from creation to the close).
    const opportunity_table opps = opportunities_from_stages(model, data.records());
    const period year{.start = 1'704'067'200, .end = data.end};
    const std::vector<velocity_result> vel = velocity(opps.records(), std::span<const period>(&year, 1));
    std::printf("\n");
    header("velocity", {"source", "n", "won", "lost", "deal_value", "win_rate", "cycle_length", "velocity"});
    for (const auto& r : vel) {
        std::printf("%s", source_name(r.segment).c_str());
        number(r.n);
        for (std::int64_t v : {r.won, r.lost}) count(v);
        for (const auto& v : {r.deal_value, r.win_rate, r.cycle_length, r.velocity}) number(v.value_or(undefined));
        std::printf("\n");
    }
}
