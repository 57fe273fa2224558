// Bindings of the mergeable duration summary (accumulators.hpp) and its quantile rule.
#include <pybind11/stl.h>

#include <vector>

#include "bindings.hpp"
#include "funnelkit/accumulators.hpp"

namespace funnelkit::python {
namespace {

py::dict stats_dict(const duration_stats& s) {
    py::dict d;
    d["count"] = s.count;
    d["mean"] = py::cast(s.mean);
    d["median"] = py::cast(s.median);
    d["p90"] = py::cast(s.p90);
    d["min"] = py::cast(s.min);
    d["max"] = py::cast(s.max);
    return d;
}

}  // namespace
}  // namespace funnelkit::python

void funnelkit::python::register_accumulators(py::module_& m) {
    using namespace funnelkit;
    using namespace funnelkit::python;

    py::class_<duration_summary> summary(m, "DurationSummary");
    bind_state(summary);
    summary.def(py::init<bool, std::int64_t>(), py::arg("keep_values") = true, py::kw_only(),
                py::arg("ticks_per_second") = 0)
        .def_property_readonly("ticks_per_second", &duration_summary::ticks_per_second)
        .def("fill", [](duration_summary& s, const array<double>& v) { s.fill(column(v, "duration")); },
             py::arg("values"))
        .def("add", &duration_summary::add, py::arg("value"))
        .def_property_readonly("keeps_values", &duration_summary::keeps_values)
        .def_property_readonly("count", &duration_summary::count)
        .def_property_readonly("sum", &duration_summary::sum)
        .def("quantile", [](const duration_summary& s, double q) { return s.quantile(q); }, py::arg("q"))
        .def("stats", [](const duration_summary& s) { return stats_dict(s.stats()); })
        .def("values", [](const duration_summary& s) {
            const auto v = s.values();
            return to_numpy(std::vector<double>(v.begin(), v.end()));
        });

    m.def("summarize_durations",
          [](const array<double>& values, const array<std::int32_t>& group, std::size_t n_groups, bool keep_values) {
              const auto v = column(values, "duration");
              const auto g = column(group, "group");
              py::gil_scoped_release release;
              return summarize_durations(v, g, n_groups, keep_values);
          },
          py::arg("values"), py::arg("group"), py::arg("n_groups"), py::arg("keep_values") = true);

    m.def("sorted_quantile",
          [](const array<double>& sorted, double q) { return sorted_quantile(column(sorted, "values"), q); },
          py::arg("sorted"), py::arg("q"));
}
