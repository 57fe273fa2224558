// Bindings of funnel analysis beyond windowFunnel (funnelkit/funnel_analysis.hpp): exclusions,
// held properties, per-step gaps, optional steps, segments and trends.
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "bindings.hpp"
#include "funnelkit/funnel_analysis.hpp"

namespace funnelkit::python {
namespace {
py::list summaries_list(const std::vector<step_duration_summary>& summaries) {
    py::list out;
    for (const auto& s : summaries) {
        py::dict x;
        x["count"] = s.count;
        x["mean"] = s.mean;
        x["median"] = s.median;
        x["p90"] = s.p90;
        x["min"] = s.min;
        x["max"] = s.max;
        x["histogram"] = s.histogram;
        out.append(x);
    }
    return out;
}
}  // namespace
}  // namespace funnelkit::python

void funnelkit::python::register_funnel_analysis(py::module_& m) {
    using namespace funnelkit;
    using namespace funnelkit::python;

    bind_state(py::class_<funnel_durations>(m, "FunnelDurations",
                                            "Mergeable state of funnel_analysis's time to convert: the per-entity "
                                            "durations to each step and the analysis definition."))
        .def(py::init<>())
        .def_property_readonly("steps", &funnel_durations::steps)
        .def("durations", [](const funnel_durations& s, std::size_t k) {
                 const auto d = s.durations(k);
                 return to_numpy(std::vector<std::int64_t>(d.begin(), d.end()));
             }, py::arg("step"))
        .def("summaries", [](const funnel_durations& s) { return summaries_list(s.summaries()); },
             "time_to_step as funnel_analysis returns it.");

    py::class_<funnel_analysis_options>(m, "FunnelAnalysisOptions")
        .def(py::init([](std::int64_t window, std::size_t steps, bool unordered, bool count_conversions,
                         const std::vector<std::tuple<unsigned, unsigned, unsigned>>& exclusions,
                         const std::string& attribution, std::size_t attribution_step, std::int64_t period,
                         std::int64_t period_origin, std::optional<std::int64_t> data_end,
                         const std::vector<std::int64_t>& histogram_edges,
                         const std::vector<std::tuple<std::int64_t, std::optional<std::int64_t>, bool>>& step_rules,
                         std::int64_t ticks_per_second, unsigned threads) {
                 funnel_analysis_options o;
                 o.window = window;
                 o.steps = steps;
                 o.unordered = unordered;
                 o.count_conversions = count_conversions;
                 for (auto [e, a, b] : exclusions) o.exclusions.push_back({e, a, b});
                 if (attribution == "first_touch") o.attribute = funnel_attribution::first_touch;
                 else if (attribution == "last_touch") o.attribute = funnel_attribution::last_touch;
                 else if (attribution == "step") o.attribute = funnel_attribution::step;
                 else
                     throw funnelkit::invalid_argument("option 'attribution': value '" + attribution +
                                                       "' is not one of 'first_touch', 'last_touch', 'step'");
                 o.attribution_step = attribution_step;
                 o.period = period;
                 o.period_origin = period_origin;
                 o.data_end = data_end;
                 o.histogram_edges = histogram_edges;
                 o.ticks_per_second = ticks_per_second;
                 o.threads = threads;
                 for (const auto& [min_gap, max_gap, optional] : step_rules)
                     o.step_rules.push_back({.max_gap = max_gap, .min_gap = min_gap, .optional = optional});
                 return o;
             }),
             py::kw_only(), py::arg("window"), py::arg("steps"), py::arg("unordered") = false,
             py::arg("count_conversions") = false,
             py::arg("exclusions") = std::vector<std::tuple<unsigned, unsigned, unsigned>>{},
             py::arg("attribution") = "first_touch", py::arg("attribution_step") = 0u, py::arg("period") = 0,
             py::arg("period_origin") = 0, py::arg("data_end") = py::none(),
             py::arg("histogram_edges") = std::vector<std::int64_t>{},
             py::arg("step_rules") = std::vector<std::tuple<std::int64_t, std::optional<std::int64_t>, bool>>{},
             py::arg("ticks_per_second") = 0, py::arg("threads") = 1u)
        .def_readwrite("window", &funnel_analysis_options::window)
        .def_readwrite("threads", &funnel_analysis_options::threads)
        .def_readwrite("steps", &funnel_analysis_options::steps)
        .def_readwrite("unordered", &funnel_analysis_options::unordered)
        .def_readwrite("count_conversions", &funnel_analysis_options::count_conversions)
        .def_readwrite("period", &funnel_analysis_options::period)
        .def_readwrite("period_origin", &funnel_analysis_options::period_origin)
        .def_readwrite("data_end", &funnel_analysis_options::data_end);

    m.def(
        "funnel_analysis",
        [](const array<std::int64_t>& entity, const array<std::int64_t>& time,
           const std::optional<array<std::int32_t>>& step, const std::optional<array<std::uint64_t>>& step_mask,
           const std::optional<array<std::int32_t>>& segment, const std::optional<array<std::int64_t>>& property,
           const funnel_analysis_options& o) {
            event_columns ev{column(entity, "entity"), column(time, "time"), optional_column(step, "step"),
                             optional_column(step_mask, "step_mask")};
            event_attributes at{optional_column(segment, "segment"), optional_column(property, "property")};
            funnel_analysis_result r;
            {
                py::gil_scoped_release release;
                r = funnel_analysis(ev, at, o);
            }
            // The level counts come from the core with the window and the time unit they were
            // computed with recorded (a merge with counts of another window or unit fails naming
            // the field); the envelope keeps no copy of its own.
            py::dict d;
            d["closed"] = std::move(r.closed);
            d["open"] = std::move(r.open);
            d["by_segment"] = std::move(r.by_segment);
            d["unattributed"] = std::move(r.unattributed);
            d["period_start"] = r.period_start;
            d["by_period"] = std::move(r.by_period);
            d["conversions"] = r.conversions;
            d["histogram_edges"] = r.histogram_edges;
            d["data_end"] = r.data_end;
            d["through_step"] = r.through_step;
            d["time_to_step"] = summaries_list(r.time_to_step);
            d["durations"] = std::move(r.durations);
            return d;
        },
        py::arg("entity"), py::arg("time"), py::arg("step"), py::arg("step_mask"), py::arg("segment"),
        py::arg("property"), py::kw_only(), py::arg("options"));
}
