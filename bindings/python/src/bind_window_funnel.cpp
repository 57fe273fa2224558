// Bindings of the event-stream funnel: window_funnel and its mergeable level counts.
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "bindings.hpp"
#include "funnelkit/window_funnel.hpp"

namespace funnelkit::python {
namespace {

input_order parse_order(const std::string& s) {
    if (s == "detect") return input_order::detect;
    if (s == "entity_time") return input_order::entity_time;
    if (s == "time") return input_order::time;
    if (s == "unsorted") return input_order::unsorted;
    throw funnelkit::invalid_argument("option 'order': value '" + s +
                                      "' is not one of 'detect', 'entity_time', 'time', 'unsorted'");
}

}  // namespace
}  // namespace funnelkit::python

void funnelkit::python::register_window_funnel(py::module_& m) {
    using namespace funnelkit;
    using namespace funnelkit::python;

    auto counts = py::class_<window_funnel_counts>(m, "WindowFunnelCounts")
        .def(py::init<>())
        .def(py::init<std::size_t>(), py::arg("steps"))
        .def_property_readonly("steps", &window_funnel_counts::steps)
        .def_property_readonly("entities", &window_funnel_counts::entities)
        .def("at_level", &window_funnel_counts::at_level, py::arg("level"))
        .def("reached", &window_funnel_counts::reached, py::arg("level"))
        .def("reached_counts", [](const window_funnel_counts& c) { return to_numpy(c.reached_counts()); })
        .def("add", &window_funnel_counts::add, py::arg("level"), py::arg("count") = 1);
    bind_state(counts);

    // Options are bound as classes with keyword arguments; the functions take the columns and
    // one options object.
    py::class_<window_funnel_options>(m, "WindowFunnelOptions")
        .def(py::init([](std::int64_t window, std::size_t steps, bool strict_deduplication, bool strict_order,
                         bool strict_increase, bool allow_reentry, bool exact_increase, const std::string& order,
                         unsigned threads, bool per_entity, std::int64_t ticks_per_second, bool strict_once) {
                 window_funnel_options o;
                 o.window = window;
                 o.steps = steps;
                 o.strict_deduplication = strict_deduplication;
                 o.strict_order = strict_order;
                 o.strict_increase = strict_increase;
                 o.allow_reentry = allow_reentry;
                 o.exact_increase = exact_increase;
                 o.order = parse_order(order);
                 o.threads = threads;
                 o.per_entity = per_entity;
                 o.ticks_per_second = ticks_per_second;
                 o.strict_once = strict_once;
                 return o;
             }),
             py::kw_only(), py::arg("window"), py::arg("steps"), py::arg("strict_deduplication") = false,
             py::arg("strict_order") = false, py::arg("strict_increase") = false, py::arg("allow_reentry") = false,
             py::arg("exact_increase") = false, py::arg("order") = "detect", py::arg("threads") = 1u,
             py::arg("per_entity") = false, py::arg("ticks_per_second") = 1, py::arg("strict_once") = false)
        .def_readwrite("window", &window_funnel_options::window)
        .def_readwrite("steps", &window_funnel_options::steps)
        .def_readwrite("strict_deduplication", &window_funnel_options::strict_deduplication)
        .def_readwrite("strict_order", &window_funnel_options::strict_order)
        .def_readwrite("strict_increase", &window_funnel_options::strict_increase)
        .def_readwrite("allow_reentry", &window_funnel_options::allow_reentry)
        .def_readwrite("exact_increase", &window_funnel_options::exact_increase)
        .def_readwrite("threads", &window_funnel_options::threads)
        .def_readwrite("per_entity", &window_funnel_options::per_entity)
        .def_readwrite("ticks_per_second", &window_funnel_options::ticks_per_second)
        .def_readwrite("strict_once", &window_funnel_options::strict_once);

    m.def(
        "window_funnel",
        [](const array<std::int64_t>& entity, const array<std::int64_t>& time,
           const std::optional<array<std::int32_t>>& step, const std::optional<array<std::uint64_t>>& step_mask,
           const window_funnel_options& o, const std::optional<array<std::int8_t>>& step_int8) {
            event_columns ev{column(entity, "entity"), column(time, "time"), optional_column(step, "step"),
                             optional_column(step_mask, "step_mask"), optional_column(step_int8, "step")};
            window_funnel_result r;
            {
                py::gil_scoped_release release;
                r = funnelkit::window_funnel(ev, o);
            }
            return py::make_tuple(std::move(r.counts), to_numpy(std::move(r.entity)), to_numpy(std::move(r.level)));
        },
        py::arg("entity"), py::arg("time"), py::arg("step"), py::arg("step_mask"), py::kw_only(), py::arg("options"),
        py::arg("step_int8") = py::none());
}
