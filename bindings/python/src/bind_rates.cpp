// Bindings of the rate statistics (rates.hpp): intervals, two-sample tests (B against A), the
// Bayesian probability that B beats A, and multiple-comparison adjustment.
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bindings.hpp"
#include "funnelkit/rates.hpp"

void funnelkit::python::register_rates(py::module_& m) {
    using namespace funnelkit;
    using namespace funnelkit::python;
    m.def("normal_quantile", &normal_quantile, py::arg("p"));
    m.def("beta_quantile", &beta_quantile, py::arg("p"), py::arg("a"), py::arg("b"));

    m.def("rate_intervals",
          [](const array<std::int64_t>& x, const array<std::int64_t>& n, double confidence, std::string_view interval) {
              auto t = rate_intervals(column(x, "successes"), column(n, "trials"), confidence,
                                      parse_interval_method(interval));
              py::dict d;
              d["estimate"] = to_numpy(std::move(t.estimate));
              d["lower"] = to_numpy(std::move(t.lower));
              d["upper"] = to_numpy(std::move(t.upper));
              d["defined"] = to_numpy(std::move(t.defined));
              return d;
          },
          py::arg("successes"), py::arg("trials"), py::arg("confidence"), py::arg("interval"));

    // B against A: z = (p_b - p_a) / se, positive when B's rate is higher; "larger" tests p_b > p_a.
    m.def("two_proportion_ztest",
          [](std::int64_t x_a, std::int64_t n_a, std::int64_t x_b, std::int64_t n_b,
             const std::string& alternative) -> py::object {
              const auto r = two_proportion_ztest(x_a, n_a, x_b, n_b, parse_alternative(alternative));
              if (!r) return py::none();
              return py::make_tuple(r->statistic, r->p_value);
          },
          py::arg("x_a"), py::arg("n_a"), py::arg("x_b"), py::arg("n_b"), py::arg("alternative") = "two-sided");

    m.def("chi2_test",
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
          py::arg("table"), py::arg("yates") = true);

    m.def("probability_beta_greater", &probability_beta_greater, py::arg("a_x"), py::arg("b_x"), py::arg("a_y"),
          py::arg("b_y"));
    m.def("probability_b_beats_a",
          [](std::int64_t x_a, std::int64_t n_a, std::int64_t x_b, std::int64_t n_b, double alpha, double beta) {
              return probability_b_beats_a(x_a, n_a, x_b, n_b, {alpha, beta});
          },
          py::arg("x_a"), py::arg("n_a"), py::arg("x_b"), py::arg("n_b"), py::arg("prior_alpha") = 1.0,
          py::arg("prior_beta") = 1.0);

    // Option words are read and written by the core's parse_*/to_string routines.
    py::class_<baseline_options>(m, "BaselineOptions")
        .def(py::init([](std::size_t baseline, std::string_view test, std::string_view adjust, double confidence,
                         std::string_view interval, double prior_alpha, double prior_beta) {
                 return baseline_options{.baseline = baseline, .test = parse_baseline_test(test),
                                         .adjust = parse_p_adjust(adjust), .confidence = confidence,
                                         .interval = parse_interval_method(interval),
                                         .prior = {prior_alpha, prior_beta}};
             }),
             py::kw_only(), py::arg("baseline") = 0, py::arg("test") = "z", py::arg("adjust") = "holm",
             py::arg("confidence") = 0.95, py::arg("interval") = "wilson", py::arg("prior_alpha") = 1.0,
             py::arg("prior_beta") = 1.0)
        .def_readwrite("baseline", &baseline_options::baseline)
        .def_property_readonly("test", [](const baseline_options& o) { return std::string(to_string(o.test)); })
        .def_property_readonly("adjust", [](const baseline_options& o) { return std::string(to_string(o.adjust)); })
        .def_readwrite("confidence", &baseline_options::confidence)
        .def_property_readonly("interval", [](const baseline_options& o) { return std::string(to_string(o.interval)); });

    m.def("compare_to_baseline",
          [](const array<std::int64_t>& x, const array<std::int64_t>& n, const baseline_options& options) {
              const auto xs = column(x, "successes");
              const auto ns = column(n, "trials");
              baseline_comparison c;
              {
                  py::gil_scoped_release release;
                  c = compare_to_baseline(xs, ns, options);
              }
              py::dict d;
              d["rate"] = to_numpy(std::move(c.rate));
              d["lower"] = to_numpy(std::move(c.lower));
              d["upper"] = to_numpy(std::move(c.upper));
              d["is_baseline"] = to_numpy(std::move(c.is_baseline));
              d["difference"] = to_numpy(std::move(c.difference));
              d["statistic"] = to_numpy(std::move(c.statistic));
              d["p_value"] = to_numpy(std::move(c.p_value));
              d["p_adjusted"] = to_numpy(std::move(c.p_adjusted));
              d["tested"] = to_numpy(std::move(c.tested));
              d["prob_beats_baseline"] = to_numpy(std::move(c.prob_beats_baseline));
              return d;
          },
          py::arg("successes"), py::arg("trials"), py::arg_v("options", baseline_options{}, "BaselineOptions()"));

    m.def("adjust_p_values",
          [](const array<double>& p, const std::string& method) {
              return to_numpy(adjust_p_values(column(p, "p_value"), parse_p_adjust(method)));
          },
          py::arg("p_values"), py::arg("method"));
}
