// Bindings of the drivers of conversion (drivers.hpp): the options as a class with keyword
// arguments, the ranked table as a dict of numpy columns, and the 2x2 routines behind it.
#include <pybind11/stl.h>

#include <string>
#include <string_view>
#include <vector>

#include "bindings.hpp"
#include "funnelkit/drivers.hpp"

void funnelkit::python::register_drivers(py::module_& m) {
    using namespace funnelkit;
    using namespace funnelkit::python;

    py::class_<driver_options>(m, "DriverOptions")
        .def(py::init([](std::string_view test, double min_expected, double confidence, std::string_view adjust) {
                 return driver_options{.test = parse_driver_test(test), .min_expected = min_expected,
                                       .confidence = confidence, .adjust = parse_p_adjust(adjust)};
             }),
             py::kw_only(), py::arg("test") = "automatic", py::arg("min_expected") = 5.0,
             py::arg("confidence") = 0.95, py::arg("adjust") = "benjamini_hochberg")
        .def_property_readonly("test", [](const driver_options& o) { return std::string(to_string(o.test)); })
        .def_readonly("min_expected", &driver_options::min_expected)
        .def_readonly("confidence", &driver_options::confidence)
        .def_property_readonly("adjust", [](const driver_options& o) { return std::string(to_string(o.adjust)); });

    m.def("drivers",
          [](const array<std::uint8_t>& outcome, const array<std::int64_t>& member_entity,
             const array<std::int32_t>& member_feature, std::int32_t n_features, const driver_options& options) {
              const auto o = column(outcome, "outcome");
              const auto e = column(member_entity, "member_entity");
              const auto f = column(member_feature, "member_feature");
              driver_table t;
              {
                  py::gil_scoped_release release;
                  t = drivers(o, e, f, n_features, options);
              }
              std::vector<std::string> test;
              test.reserve(t.size());
              for (std::size_t i = 0; i < t.size(); ++i)
                  test.emplace_back(t.tested[i] ? std::string(to_string(t.test[i])) : std::string());
              py::dict d;
              d["feature"] = to_numpy(std::move(t.feature));
              d["with_outcome"] = to_numpy(std::move(t.with_outcome));
              d["with_total"] = to_numpy(std::move(t.with_total));
              d["without_outcome"] = to_numpy(std::move(t.without_outcome));
              d["without_total"] = to_numpy(std::move(t.without_total));
              d["rate_with"] = to_numpy(std::move(t.rate_with));
              d["rate_without"] = to_numpy(std::move(t.rate_without));
              d["odds_ratio"] = to_numpy(std::move(t.odds_ratio));
              d["lower"] = to_numpy(std::move(t.lower));
              d["upper"] = to_numpy(std::move(t.upper));
              d["p_value"] = to_numpy(std::move(t.p_value));
              d["q_value"] = to_numpy(std::move(t.q_value));
              d["test"] = test;
              d["corrected"] = to_numpy(std::move(t.corrected));
              d["tested"] = to_numpy(std::move(t.tested));
              d["rank"] = to_numpy(std::move(t.rank));
              d["entities"] = t.entities;
              d["with_outcome_total"] = t.with_outcome_total;
              return d;
          },
          py::arg("outcome"), py::arg("member_entity"), py::arg("member_feature"), py::arg("n_features"),
          py::arg_v("options", driver_options{}, "DriverOptions()"));

    m.def("fisher_exact",
          [](std::int64_t a, std::int64_t b, std::int64_t c, std::int64_t d, const std::string& alternative) {
              return fisher_exact(a, b, c, d, parse_alternative(alternative));
          },
          py::arg("a"), py::arg("b"), py::arg("c"), py::arg("d"), py::arg("alternative") = "two-sided");

    m.def("odds_ratio_woolf",
          [](std::int64_t a, std::int64_t b, std::int64_t c, std::int64_t d, double confidence) -> py::object {
              const auto r = odds_ratio_woolf(a, b, c, d, confidence);
              if (!r) return py::none();
              return py::make_tuple(r->odds_ratio, r->lower, r->upper, r->corrected);
          },
          py::arg("a"), py::arg("b"), py::arg("c"), py::arg("d"), py::arg("confidence") = 0.95);
}
