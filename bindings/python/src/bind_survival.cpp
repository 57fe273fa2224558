// Bindings of the survival estimators (survival.hpp): Kaplan-Meier and Aalen-Johansen, their
// results bound as classes whose lookups (survival_at, percentile, incidence_at) are the core's.
#include <pybind11/stl.h>

#include <optional>
#include <utility>
#include <vector>

#include "bindings.hpp"
#include "funnelkit/survival.hpp"

namespace funnelkit::python {
namespace {

template <class T>
py::array_t<T> copy_of(const std::vector<T>& v) {
    return to_numpy(std::vector<T>(v));
}

template <class T>
std::vector<T> vector_of(const py::handle& h, const char* name) {
    const auto a = py::cast<array<T>>(h);
    const auto s = column(a, name);
    return {s.begin(), s.end()};
}

// The columns every curve has, read back from a pickled state.
template <class Result>
void read_curve(Result& r, const py::tuple& t, std::size_t time, std::size_t at_risk, std::size_t censored,
                std::size_t survival) {
    r.time = vector_of<double>(t[time], "time");
    r.at_risk = vector_of<std::int64_t>(t[at_risk], "at_risk");
    r.censored = vector_of<std::int64_t>(t[censored], "censored");
    r.survival = vector_of<double>(t[survival], "survival");
    if (r.at_risk.size() != r.time.size() || r.censored.size() != r.time.size() || r.survival.size() != r.time.size())
        throw invalid_argument("a pickled curve has columns of different lengths");
}

// Lookups of a step function at one time (a float) or at many (an array of the same shape).
template <class F>
py::object at_times(const py::object& t, F&& at) {
    if (py::isinstance<py::float_>(t) || py::isinstance<py::int_>(t)) return py::float_(at(py::cast<double>(t)));
    const auto times = py::cast<py::array_t<double, py::array::c_style | py::array::forcecast>>(t);
    std::vector<double> out(static_cast<std::size_t>(times.size()));
    at(std::span<const double>(times.data(), out.size()), std::span<double>(out));
    auto result = to_numpy(std::move(out));
    return result.reshape(std::vector<py::ssize_t>(times.shape(), times.shape() + times.ndim()));
}

}  // namespace
}  // namespace funnelkit::python

void funnelkit::python::register_survival(py::module_& m) {
    using namespace funnelkit;
    using namespace funnelkit::python;
    using km = kaplan_meier_result;
    using ci = cumulative_incidence_result;

    py::class_<km>(m, "KaplanMeierResult")
        .def_readonly("confidence", &km::confidence)
        .def_property_readonly("time", [](const km& r) { return copy_of(r.time); })
        .def_property_readonly("at_risk", [](const km& r) { return copy_of(r.at_risk); })
        .def_property_readonly("events", [](const km& r) { return copy_of(r.events); })
        .def_property_readonly("censored", [](const km& r) { return copy_of(r.censored); })
        .def_property_readonly("survival", [](const km& r) { return copy_of(r.survival); })
        .def_property_readonly("lower", [](const km& r) { return copy_of(r.lower); })
        .def_property_readonly("upper", [](const km& r) { return copy_of(r.upper); })
        .def_readonly("median", &km::median)
        .def_readonly("median_lower", &km::median_lower)
        .def_readonly("median_upper", &km::median_upper)
        .def_property_readonly("count", &km::count)
        .def_property_readonly("event_count", &km::event_count)
        .def("survival_at", [](const km& r, const py::object& t) {
            return at_times(t, [&r](auto&&... a) { return r.survival_at(a...); });
        }, py::arg("t"))
        .def("lower_at", [](const km& r, const py::object& t) {
            return at_times(t, [&r](auto&&... a) { return r.lower_at(a...); });
        }, py::arg("t"))
        .def("upper_at", [](const km& r, const py::object& t) {
            return at_times(t, [&r](auto&&... a) { return r.upper_at(a...); });
        }, py::arg("t"))
        .def("percentile", &km::percentile, py::arg("q"))
        .def(py::pickle(
            [](const km& r) {
                return py::make_tuple(r.confidence, copy_of(r.time), copy_of(r.at_risk), copy_of(r.events),
                                      copy_of(r.censored), copy_of(r.survival), copy_of(r.lower), copy_of(r.upper),
                                      r.median, r.median_lower, r.median_upper);
            },
            [](const py::tuple& t) {
                if (t.size() != 11) throw invalid_argument("KaplanMeierResult: a pickled state has 11 fields");
                km r;
                r.confidence = r.level = t[0].cast<double>();
                read_curve(r, t, 1, 2, 4, 5);
                r.events = vector_of<std::int64_t>(t[3], "events");
                r.lower = vector_of<double>(t[6], "lower");
                r.upper = vector_of<double>(t[7], "upper");
                r.median = t[8].cast<std::optional<double>>();
                r.median_lower = t[9].cast<std::optional<double>>();
                r.median_upper = t[10].cast<std::optional<double>>();
                if (r.events.size() != r.time.size() || r.lower.size() != r.time.size() || r.upper.size() != r.time.size())
                    throw invalid_argument("KaplanMeierResult: the pickled columns do not fit together");
                return r;
            }));

    py::class_<ci>(m, "CumulativeIncidenceResult")
        .def_readonly("n_outcomes", &ci::n_outcomes)
        .def_property_readonly("time", [](const ci& r) { return copy_of(r.time); })
        .def_property_readonly("at_risk", [](const ci& r) { return copy_of(r.at_risk); })
        .def_property_readonly("censored", [](const ci& r) { return copy_of(r.censored); })
        .def_property_readonly("survival", [](const ci& r) { return copy_of(r.survival); })
        .def_property_readonly("events", [](const ci& r) {
            return copy_of(r.events).reshape({static_cast<py::ssize_t>(r.time.size()), py::ssize_t{r.n_outcomes}});
        })
        .def_property_readonly("incidence", [](const ci& r) {
            return copy_of(r.incidence).reshape({static_cast<py::ssize_t>(r.time.size()), py::ssize_t{r.n_outcomes}});
        })
        .def_readonly("confidence", &ci::confidence)
        .def_property_readonly("variance", [](const ci& r) {
            return copy_of(r.variance).reshape({static_cast<py::ssize_t>(r.time.size()), py::ssize_t{r.n_outcomes}});
        })
        .def_property_readonly("lower", [](const ci& r) {
            return copy_of(r.lower).reshape({static_cast<py::ssize_t>(r.time.size()), py::ssize_t{r.n_outcomes}});
        })
        .def_property_readonly("upper", [](const ci& r) {
            return copy_of(r.upper).reshape({static_cast<py::ssize_t>(r.time.size()), py::ssize_t{r.n_outcomes}});
        })
        .def("lower_at", [](const ci& r, std::int32_t outcome, const py::object& t) {
            return at_times(t, [&r, outcome](auto&&... a) { return r.lower_at(outcome, a...); });
        }, py::arg("outcome"), py::arg("t"))
        .def("upper_at", [](const ci& r, std::int32_t outcome, const py::object& t) {
            return at_times(t, [&r, outcome](auto&&... a) { return r.upper_at(outcome, a...); });
        }, py::arg("outcome"), py::arg("t"))
        .def("incidence_at", [](const ci& r, std::int32_t outcome, const py::object& t) {
            return at_times(t, [&r, outcome](auto&&... a) { return r.incidence_at(outcome, a...); });
        }, py::arg("outcome"), py::arg("t"))
        .def("final_incidence", &ci::final_incidence, py::arg("outcome"))
        .def("survival_at", [](const ci& r, const py::object& t) {
            return at_times(t, [&r](auto&&... a) { return r.survival_at(a...); });
        }, py::arg("t"))
        .def(py::pickle(
            [](const ci& r) {
                return py::make_tuple(r.n_outcomes, copy_of(r.time), copy_of(r.at_risk), copy_of(r.censored),
                                      copy_of(r.events), copy_of(r.incidence), copy_of(r.survival), r.confidence,
                                      copy_of(r.variance), copy_of(r.lower), copy_of(r.upper));
            },
            [](const py::tuple& t) {
                // 7 fields: pickled before the band existed (its lookups then raise).
                if (t.size() != 7 && t.size() != 11)
                    throw invalid_argument("CumulativeIncidenceResult: a pickled state has 7 or 11 fields");
                ci r;
                r.n_outcomes = t[0].cast<std::int32_t>();
                read_curve(r, t, 1, 2, 3, 6);
                r.events = vector_of<std::int64_t>(t[4], "events");
                r.incidence = vector_of<double>(t[5], "incidence");
                const std::size_t k = static_cast<std::size_t>(r.n_outcomes);
                if (r.n_outcomes < 0 || r.events.size() != r.time.size() * k || r.incidence.size() != r.time.size() * k)
                    throw invalid_argument("CumulativeIncidenceResult: the pickled columns do not fit together");
                if (t.size() == 11) {
                    r.confidence = t[7].cast<double>();
                    r.variance = vector_of<double>(t[8], "variance");
                    r.lower = vector_of<double>(t[9], "lower");
                    r.upper = vector_of<double>(t[10], "upper");
                    if (r.variance.size() != r.incidence.size() || r.lower.size() != r.incidence.size() ||
                        r.upper.size() != r.incidence.size())
                        throw invalid_argument("CumulativeIncidenceResult: the pickled band does not fit the curve");
                }
                return r;
            }));

    m.def("kaplan_meier",
          [](const array<double>& duration, const std::optional<array<std::uint8_t>>& observed, double confidence) {
              const auto d = column(duration, "duration");
              const auto o = optional_column(observed, "observed");
              py::gil_scoped_release release;
              return kaplan_meier(d, o, {.confidence = confidence});
          },
          py::arg("duration"), py::arg("observed") = py::none(), py::arg("confidence") = 0.95);

    m.def("aalen_johansen",
          [](const array<double>& duration, const array<std::int32_t>& outcome, std::int32_t n_outcomes,
             double confidence) {
              const auto d = column(duration, "duration");
              const auto o = column(outcome, "outcome");
              py::gil_scoped_release release;
              return aalen_johansen(d, o, {.n_outcomes = n_outcomes, .confidence = confidence});
          },
          py::arg("duration"), py::arg("outcome"), py::arg("n_outcomes") = 0, py::arg("confidence") = 0.95);
}
