// Bindings of the campaign and source report: the options as a class with keyword arguments and
// the report as columns (segment rows, then the total row). funnelkit.campaign builds the table.
#include <pybind11/stl.h>

#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "funnelkit/campaign.hpp"
#include "funnelkit/rates.hpp"

namespace funnelkit::python {
namespace {

constexpr double nan = std::numeric_limits<double>::quiet_NaN();

double or_nan(const std::optional<double>& v) { return v ? *v : nan; }

/// The report's options plus the interval method of the rates (the core's report gives Wilson
/// intervals; other methods are recomputed from the same counts by rate_interval).
struct campaign_binding_options {
    campaign_options core;
    interval_method interval = interval_method::wilson;
};

void reinterval(rate_estimate& r, double level, interval_method method) {
    // A step rate above 1 (skipped stages not implied) is no proportion: no interval, as in
    // the core's Wilson intervals.
    if (r.x > r.n) return;
    const auto b = rate_interval(r.x, r.n, level, method);
    r.lower = b ? std::optional<double>(b->lower) : std::nullopt;
    r.upper = b ? std::optional<double>(b->upper) : std::nullopt;
}

py::dict campaign_dict(const campaign_report_result& r) {
    std::vector<const campaign_row*> rows;
    for (const auto& row : r.rows) rows.push_back(&row);
    rows.push_back(&r.total);
    const std::size_t n = rows.size();
    auto ints = [&](auto get) {
        std::vector<std::int64_t> v(n);
        for (std::size_t i = 0; i < n; ++i) v[i] = get(*rows[i]);
        return to_numpy(std::move(v));
    };
    auto reals = [&](auto get) {
        std::vector<double> v(n);
        for (std::size_t i = 0; i < n; ++i) v[i] = get(*rows[i]);
        return to_numpy(std::move(v));
    };
    py::dict d;
    d["segment"] = ints([](const campaign_row& x) { return x.segment; });
    d["leads"] = ints([](const campaign_row& x) { return x.leads; });
    d["mqls"] = ints([](const campaign_row& x) { return x.mqls; });
    d["sqls"] = ints([](const campaign_row& x) { return x.sqls; });
    d["opportunities"] = ints([](const campaign_row& x) { return x.opportunities; });
    d["won"] = ints([](const campaign_row& x) { return x.won; });
    d["lost"] = ints([](const campaign_row& x) { return x.lost; });
    d["revenue"] = reals([](const campaign_row& x) { return x.revenue; });
    d["cost"] = reals([](const campaign_row& x) { return or_nan(x.cost); });
    d["cost_missing"] = ints([](const campaign_row& x) { return x.cost_missing ? 1 : 0; });
    d["cost_per_lead"] = reals([](const campaign_row& x) { return or_nan(x.cost_per_lead); });
    d["cost_per_mql"] = reals([](const campaign_row& x) { return or_nan(x.cost_per_mql); });
    d["cac"] = reals([](const campaign_row& x) { return or_nan(x.cac); });
    d["roi"] = reals([](const campaign_row& x) { return or_nan(x.roi); });
    const std::pair<const char*, rate_estimate campaign_row::*> rates[] = {
        {"lead_to_mql", &campaign_row::lead_to_mql},
        {"mql_to_sql", &campaign_row::mql_to_sql},
        {"sql_to_opportunity", &campaign_row::sql_to_opportunity},
        {"opportunity_to_won", &campaign_row::opportunity_to_won},
        {"lead_to_won", &campaign_row::lead_to_won}};
    for (const auto& [name, member] : rates) {
        const std::string base(name);
        d[py::str(base)] = reals([member](const campaign_row& x) { return or_nan((x.*member).rate); });
        d[py::str(base + "_lower")] = reals([member](const campaign_row& x) { return or_nan((x.*member).lower); });
        d[py::str(base + "_upper")] = reals([member](const campaign_row& x) { return or_nan((x.*member).upper); });
    }
    d["days_to_win"] = reals([](const campaign_row& x) { return or_nan(x.days_to_win); });
    d["average_deal"] = reals([](const campaign_row& x) { return or_nan(x.average_deal); });
    d["win_rate"] = reals([](const campaign_row& x) { return or_nan(x.win_rate); });
    d["velocity"] = reals([](const campaign_row& x) { return or_nan(x.velocity); });
    d["z"] = reals([](const campaign_row& x) { return or_nan(x.z); });
    d["p_value"] = reals([](const campaign_row& x) { return or_nan(x.p_value); });
    d["p_holm"] = reals([](const campaign_row& x) { return or_nan(x.p_holm); });
    d["missing_cost"] = r.missing_cost;
    return d;
}

/// The report of a state with the binding's options (intervals recomputed for non-Wilson methods).
py::dict report_dict(const campaign_state& state, const campaign_binding_options& options) {
    campaign_report_result r;
    {
        py::gil_scoped_release release;
        r = campaign_report(state, options.core);
        if (options.interval != interval_method::wilson) {
            rate_estimate campaign_row::* const rates[] = {
                &campaign_row::lead_to_mql, &campaign_row::mql_to_sql, &campaign_row::sql_to_opportunity,
                &campaign_row::opportunity_to_won, &campaign_row::lead_to_won};
            for (auto& row : r.rows)
                for (auto member : rates) reinterval(row.*member, options.core.level, options.interval);
            for (auto member : rates) reinterval(r.total.*member, options.core.level, options.interval);
        }
    }
    return campaign_dict(r);
}

}  // namespace
}  // namespace funnelkit::python

void funnelkit::python::register_campaign(py::module_& m) {
    using namespace funnelkit;
    using namespace funnelkit::python;

    py::class_<campaign_binding_options>(m, "CampaignOptions")
        .def(py::init([](const std::string& mql_stage, const std::string& sql_stage,
                         const std::string& opportunity_stage, const std::string& skipped, std::vector<double> cost,
                         double confidence, const std::string& interval, double ticks_per_day, unsigned threads) {
                 campaign_binding_options o;
                 o.core.mql_stage = mql_stage;
                 o.core.sql_stage = sql_stage;
                 o.core.opportunity_stage = opportunity_stage;
                 if (skipped == "implied") o.core.skipped = skipped_stages::implied;
                 else if (skipped == "recorded") o.core.skipped = skipped_stages::not_implied;
                 else detail::throw_option("skipped", skipped, "is not 'implied' or 'recorded'");
                 o.core.cost = std::move(cost);
                 o.core.level = confidence;
                 o.interval = parse_interval_method(interval);
                 o.core.seconds_per_day = ticks_per_day;
                 o.core.threads = threads;
                 return o;
             }),
             py::kw_only(), py::arg("mql_stage") = "MQL", py::arg("sql_stage") = "SQL",
             py::arg("opportunity_stage") = "Opportunity", py::arg("skipped") = "implied",
             py::arg("cost") = std::vector<double>{}, py::arg("confidence") = 0.95, py::arg("interval") = "wilson",
             py::arg("ticks_per_day") = 86'400.0, py::arg("threads") = 1u)
        .def_property_readonly("mql_stage", [](const campaign_binding_options& o) { return o.core.mql_stage; })
        .def_property_readonly("sql_stage", [](const campaign_binding_options& o) { return o.core.sql_stage; })
        .def_property_readonly("opportunity_stage",
                               [](const campaign_binding_options& o) { return o.core.opportunity_stage; })
        .def_property_readonly("confidence", [](const campaign_binding_options& o) { return o.core.level; })
        .def_property_readonly("interval",
                               [](const campaign_binding_options& o) { return std::string(to_string(o.interval)); })
        .def_property_readonly("ticks_per_day",
                               [](const campaign_binding_options& o) { return o.core.seconds_per_day; })
        .def_property_readonly("cost", [](const campaign_binding_options& o) { return o.core.cost; })
        .def_property_readonly("threads", [](const campaign_binding_options& o) { return o.core.threads; });

    bind_state(py::class_<campaign_state>(m, "CampaignState",
                                          "Mergeable per-segment sums of campaign_report (exact: integer counts, "
                                          "exactly rounded revenue, 128-bit time to win)."))
        .def(py::init<>())
        .def_property_readonly("segments", &campaign_state::segments)
        .def("leads", [](const campaign_state& s, std::size_t g) { return s.segment(g).leads; }, py::arg("segment"))
        .def("won", [](const campaign_state& s, std::size_t g) { return s.segment(g).won; }, py::arg("segment"))
        .def("revenue", [](const campaign_state& s, std::size_t g) { return s.segment(g).revenue.value(); },
             py::arg("segment"));

    auto records = [](const array<std::int64_t>& entity, const array<std::int64_t>& time,
                      const array<std::int32_t>& stage, const array<std::int32_t>& segment,
                      const std::optional<array<double>>& amount) {
        return stage_records{column(entity, "entity"), column(time, "time"), column(stage, "stage"),
                             column(segment, "segment"), optional_column(amount, "amount")};
    };
    m.def("campaign_sums",
          [records](const stage_model& model, const array<std::int64_t>& entity, const array<std::int64_t>& time,
                    const array<std::int32_t>& stage, const array<std::int32_t>& segment,
                    const std::optional<array<double>>& amount, const campaign_binding_options& options,
                    std::size_t segments) {
              const stage_records rec = records(entity, time, stage, segment, amount);
              py::gil_scoped_release release;
              return campaign_sums(model, rec, options.core, segments);
          },
          py::arg("model"), py::kw_only(), py::arg("entity"), py::arg("time"), py::arg("stage"), py::arg("segment"),
          py::arg("amount") = py::none(), py::arg("options"), py::arg("segments") = 0);
    m.def("campaign_report_of", &report_dict, py::arg("state"), py::kw_only(), py::arg("options"),
          "The report of a (merged) CampaignState, as campaign_report returns it.");

    m.def("campaign_report",
          [records](const stage_model& model, const array<std::int64_t>& entity, const array<std::int64_t>& time,
                    const array<std::int32_t>& stage, const array<std::int32_t>& segment,
                    const std::optional<array<double>>& amount, const campaign_binding_options& options) {
              const stage_records rec = records(entity, time, stage, segment, amount);
              campaign_state state;
              {
                  py::gil_scoped_release release;
                  state = campaign_sums(model, rec, options.core);
              }
              return report_dict(state, options);
          },
          py::arg("model"), py::kw_only(), py::arg("entity"), py::arg("time"), py::arg("stage"), py::arg("segment"),
          py::arg("amount") = py::none(), py::arg("options"));
}
