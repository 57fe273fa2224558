// Bindings of the rate statistics, survival estimators and the duration summary.
#include <pybind11/operators.h>
#include <pybind11/stl.h>

#include <cmath>
#include <limits>
#include <optional>

#include "bindings.hpp"
#include "funnelkit/accumulators.hpp"
#include "funnelkit/rates.hpp"
#include "funnelkit/survival.hpp"

namespace funnelkit::python {
namespace {

py::object optional_float(const std::optional<double>& v) {
    return v ? py::object(py::float_(*v)) : py::object(py::none());
}

py::dict stats_dict(const duration_stats& s) {
    py::dict d;
    d["count"] = s.count;
    d["mean"] = optional_float(s.mean);
    d["median"] = optional_float(s.median);
    d["p90"] = optional_float(s.p90);
    d["min"] = optional_float(s.min);
    d["max"] = optional_float(s.max);
    return d;
}

duration_summary summary_from_bytes(const py::bytes& b) {
    const auto v = bytes_view(b);
    return duration_summary::deserialize(v.data(), v.size());
}

}  // namespace
}  // namespace funnelkit::python

FUNNELKIT_PYTHON_BINDING(stats, 10) {
    using namespace funnelkit;
    using namespace funnelkit::python;
    constexpr double nan = std::numeric_limits<double>::quiet_NaN();

    m.def("normal_quantile", &normal_quantile, py::arg("p"));
    m.def("beta_quantile", &beta_quantile, py::arg("p"), py::arg("a"), py::arg("b"));

    m.def("rate_intervals",
          [nan](const array<std::int64_t>& x, const array<std::int64_t>& n, double level, const std::string& method) {
              const auto xs = column(x, "successes");
              const auto ns = column(n, "trials");
              if (xs.size() != ns.size()) detail::throw_length("trials", ns.size(), "successes", xs.size());
              const auto m = parse_interval_method(method);
              std::vector<double> est(xs.size()), lo(xs.size()), hi(xs.size());
              std::vector<std::uint8_t> defined(xs.size());
              for (std::size_t i = 0; i < xs.size(); ++i) {
                  std::optional<rate_bounds> r;
                  try {
                      r = rate_interval(xs[i], ns[i], level, m);
                  } catch (const invalid_argument& e) {
                      throw invalid_argument("row " + std::to_string(i) + ": " + e.what());
                  }
                  defined[i] = r.has_value();
                  est[i] = r ? r->estimate : nan;
                  lo[i] = r ? r->lower : nan;
                  hi[i] = r ? r->upper : nan;
              }
              py::dict d;
              d["estimate"] = to_numpy(std::move(est));
              d["lower"] = to_numpy(std::move(lo));
              d["upper"] = to_numpy(std::move(hi));
              d["defined"] = to_numpy(std::move(defined));
              return d;
          },
          py::arg("successes"), py::arg("trials"), py::arg("level"), py::arg("method"));

    m.def("two_proportion_z_test",
          [](std::int64_t x1, std::int64_t n1, std::int64_t x2, std::int64_t n2, const std::string& alt) -> py::object {
              const auto r = two_proportion_ztest(x2, n2, x1, n1, parse_alternative(alt));
              if (!r) return py::none();
              return py::make_tuple(r->statistic, r->p_value);
          },
          py::arg("x1"), py::arg("n1"), py::arg("x2"), py::arg("n2"), py::arg("alternative"));

    m.def("chi2_independence",
          [](const py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>& table, bool yates) -> py::object {
              if (table.ndim() != 2)
                  throw invalid_argument("option 'table': expected a two-dimensional table of counts, got " +
                                         std::to_string(table.ndim()) + " dimensions");
              const auto rows = static_cast<std::size_t>(table.shape(0));
              const auto cols = static_cast<std::size_t>(table.shape(1));
              const auto r = chi2_test({table.data(), rows * cols}, rows, cols, yates);
              if (!r) return py::none();
              return py::make_tuple(r->statistic, r->p_value, r->dof, r->corrected);
          },
          py::arg("table"), py::arg("yates"));

    m.def("probability_beta_greater", &probability_beta_greater, py::arg("a_x"), py::arg("b_x"), py::arg("a_y"),
          py::arg("b_y"));
    m.def("probability_b_beats_a",
          [](std::int64_t x_a, std::int64_t n_a, std::int64_t x_b, std::int64_t n_b, double alpha, double beta) {
              return probability_b_beats_a(x_a, n_a, x_b, n_b, {alpha, beta});
          },
          py::arg("x_a"), py::arg("n_a"), py::arg("x_b"), py::arg("n_b"), py::arg("prior_alpha"),
          py::arg("prior_beta"));

    m.def("adjust_p_values",
          [](const array<double>& p, const std::string& method) {
              return to_numpy(adjust_p_values(column(p, "p_value"), parse_p_adjust(method)));
          },
          py::arg("p_values"), py::arg("method"));

    m.def("kaplan_meier",
          [](const array<double>& duration, const std::optional<array<std::uint8_t>>& observed, double level) {
              const auto d = column(duration, "duration");
              const auto o = optional_column(observed, "observed");
              kaplan_meier_result r;
              {
                  py::gil_scoped_release release;
                  r = kaplan_meier(d, o, {.level = level});
              }
              py::dict out;
              out["median"] = optional_float(r.median);
              out["median_lower"] = optional_float(r.median_lower);
              out["median_upper"] = optional_float(r.median_upper);
              out["time"] = to_numpy(std::move(r.time));
              out["at_risk"] = to_numpy(std::move(r.at_risk));
              out["events"] = to_numpy(std::move(r.events));
              out["censored"] = to_numpy(std::move(r.censored));
              out["survival"] = to_numpy(std::move(r.survival));
              out["lower"] = to_numpy(std::move(r.lower));
              out["upper"] = to_numpy(std::move(r.upper));
              return out;
          },
          py::arg("duration"), py::arg("observed") = py::none(), py::arg("level") = 0.95);

    m.def("aalen_johansen",
          [](const array<double>& duration, const array<std::int32_t>& outcome) {
              const auto d = column(duration, "duration");
              const auto o = column(outcome, "outcome");
              cumulative_incidence_result r;
              {
                  py::gil_scoped_release release;
                  r = aalen_johansen(d, o);
              }
              const auto rows = static_cast<py::ssize_t>(r.time.size());
              const auto k = static_cast<py::ssize_t>(r.n_outcomes);
              py::dict out;
              out["n_outcomes"] = r.n_outcomes;
              out["time"] = to_numpy(std::move(r.time));
              out["at_risk"] = to_numpy(std::move(r.at_risk));
              out["censored"] = to_numpy(std::move(r.censored));
              out["survival"] = to_numpy(std::move(r.survival));
              out["events"] = to_numpy(std::move(r.events)).reshape({rows, k});
              out["incidence"] = to_numpy(std::move(r.incidence)).reshape({rows, k});
              return out;
          },
          py::arg("duration"), py::arg("outcome"));

    py::class_<duration_summary>(m, "DurationSummary")
        .def(py::init<bool>(), py::arg("keep_values") = true)
        .def("fill", [](duration_summary& s, const array<double>& v) { s.fill(column(v, "duration")); },
             py::arg("values"))
        .def("add", &duration_summary::add, py::arg("value"))
        .def("merge", [](duration_summary& a, const duration_summary& b) { a.merge(b); }, py::arg("other"))
        .def("reset", &duration_summary::reset)
        .def_property_readonly("keeps_values", &duration_summary::keeps_values)
        .def_property_readonly("count", &duration_summary::count)
        .def_property_readonly("sum", &duration_summary::sum)
        .def("quantile", [](const duration_summary& s, double q) { return optional_float(s.quantile(q)); },
             py::arg("q"))
        .def("stats", [](const duration_summary& s) { return stats_dict(s.stats()); })
        .def("values", [](const duration_summary& s) {
            const auto v = s.values();
            return to_numpy(std::vector<double>(v.begin(), v.end()));
        })
        .def(py::self == py::self)
        .def("serialize", [](const duration_summary& s) { return to_bytes(s.serialize()); })
        .def_static("deserialize", &summary_from_bytes, py::arg("data"))
        .def(py::pickle([](const duration_summary& s) { return to_bytes(s.serialize()); }, &summary_from_bytes));

    m.def("sorted_quantile",
          [](const array<double>& sorted, double q) { return optional_float(sorted_quantile(column(sorted, "values"), q)); },
          py::arg("sorted"), py::arg("q"));
}
