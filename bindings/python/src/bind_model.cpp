// Bindings of the stage model (funnelkit/model.hpp): stages with owners and kinds, the ladder,
// handoffs and the recycle target.
#include <pybind11/operators.h>
#include <pybind11/stl.h>

#include <string>
#include <tuple>
#include <vector>

#include "bindings.hpp"
#include "funnelkit/model.hpp"

namespace funnelkit::python {
namespace {

using stage_tuple = std::tuple<std::string, std::string, std::string>;

stage_model make_model(const std::vector<stage_tuple>& stages, const std::string& recycle_target) {
    std::vector<stage> defs;
    defs.reserve(stages.size());
    for (const auto& [name, owner, kind] : stages) defs.push_back({name, owner, parse_stage_kind(kind)});
    return stage_model(std::move(defs), {.recycle_target = recycle_target});
}

std::vector<stage_tuple> model_tuples(const stage_model& m) {
    std::vector<stage_tuple> out;
    for (const auto& s : m.stages()) out.emplace_back(s.name, s.owner, std::string(to_string(s.kind)));
    return out;
}

std::string recycle_name(const stage_model& m) {
    return m.recycle_target() ? m.at(*m.recycle_target()).name : std::string();
}

}  // namespace
}  // namespace funnelkit::python

void funnelkit::python::register_model(py::module_& m) {
    using namespace funnelkit;
    using namespace funnelkit::python;

    py::class_<stage_model>(m, "StageModel")
        .def(py::init(&make_model), py::arg("stages"), py::arg("recycle_target") = "")
        .def_static("b2b", &stage_model::b2b)
        .def_property_readonly("stages", &model_tuples)
        .def_property_readonly("recycle_target", &recycle_name)
        .def_property_readonly("ladder", [](const stage_model& m) {
            return std::vector<std::int32_t>(m.ladder().begin(), m.ladder().end());
        })
        .def_property_readonly("won", [](const stage_model& m) { return m.won(); })
        .def_property_readonly("handoffs", &stage_model::handoffs)
        .def("code_of", &stage_model::code_of, py::arg("name"))
        .def("rank", [](const stage_model& m, std::int32_t code) { (void)m.at(code); return m.rank(code); },
             py::arg("code"))
        .def("__len__", &stage_model::size)
        .def(py::self == py::self)
        .def(py::pickle([](const stage_model& m) { return py::make_tuple(model_tuples(m), recycle_name(m)); },
                        [](const py::tuple& t) {
                            return make_model(t[0].cast<std::vector<stage_tuple>>(), t[1].cast<std::string>());
                        }));
}
