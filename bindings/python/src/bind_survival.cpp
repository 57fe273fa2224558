// Bindings of the survival estimators (survival.hpp): Kaplan-Meier and Aalen-Johansen.
#include <pybind11/stl.h>

#include <optional>

#include "bindings.hpp"
#include "funnelkit/survival.hpp"

void funnelkit::python::register_survival(py::module_& m) {
    using namespace funnelkit;
    using namespace funnelkit::python;

    m.def("kaplan_meier",
          [](const array<double>& duration, const std::optional<array<std::uint8_t>>& observed, double confidence) {
              const auto d = column(duration, "duration");
              const auto o = optional_column(observed, "observed");
              kaplan_meier_result r;
              {
                  py::gil_scoped_release release;
                  r = kaplan_meier(d, o, {.level = confidence});
              }
              py::dict out;
              out["median"] = py::cast(r.median);
              out["median_lower"] = py::cast(r.median_lower);
              out["median_upper"] = py::cast(r.median_upper);
              out["time"] = to_numpy(std::move(r.time));
              out["at_risk"] = to_numpy(std::move(r.at_risk));
              out["events"] = to_numpy(std::move(r.events));
              out["censored"] = to_numpy(std::move(r.censored));
              out["survival"] = to_numpy(std::move(r.survival));
              out["lower"] = to_numpy(std::move(r.lower));
              out["upper"] = to_numpy(std::move(r.upper));
              return out;
          },
          py::arg("duration"), py::arg("observed") = py::none(), py::arg("confidence") = 0.95);

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
}
