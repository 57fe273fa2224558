// Bindings of the rate statistics (rates.hpp): intervals, two-sample tests (B against A), the
// Bayesian probability that B beats A, and multiple-comparison adjustment.
#include <pybind11/stl.h>

#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "funnelkit/rates.hpp"

void funnelkit::python::register_rates(py::module_& m) {
    using namespace funnelkit;
    using namespace funnelkit::python;
    constexpr double nan = std::numeric_limits<double>::quiet_NaN();

    m.def("normal_quantile", &normal_quantile, py::arg("p"));
    m.def("beta_quantile", &beta_quantile, py::arg("p"), py::arg("a"), py::arg("b"));

    m.def("rate_intervals",
          [nan](const array<std::int64_t>& x, const array<std::int64_t>& n, double confidence,
                const std::string& interval) {
              const auto xs = column(x, "successes");
              const auto ns = column(n, "trials");
              if (xs.size() != ns.size()) detail::throw_length("trials", ns.size(), "successes", xs.size());
              const auto method = parse_interval_method(interval);
              std::vector<double> est(xs.size()), lo(xs.size()), hi(xs.size());
              std::vector<std::uint8_t> defined(xs.size());
              for (std::size_t i = 0; i < xs.size(); ++i) {
                  std::optional<rate_bounds> r;
                  try {
                      r = rate_interval(xs[i], ns[i], confidence, method);
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

    m.def("adjust_p_values",
          [](const array<double>& p, const std::string& method) {
              return to_numpy(adjust_p_values(column(p, "p_value"), parse_p_adjust(method)));
          },
          py::arg("p_values"), py::arg("method"));
}
