// The extension module funnelkit._core: one binder per concept (bind_<concept>.cpp), called in
// this order. Binders that define types others refer to (the stage model, the mergeable counts)
// come first.
#include "bindings.hpp"
#include "funnelkit/config.hpp"

namespace funnelkit::python {
void register_core(py::module_& m);
void register_accumulators(py::module_& m);
void register_rates(py::module_& m);
void register_survival(py::module_& m);
void register_window_funnel(py::module_& m);
void register_lifecycle(py::module_& m);
void register_campaign(py::module_& m);
void register_attribution(py::module_& m);
void register_markov(py::module_& m);
void register_suppression(py::module_& m);
void register_audit(py::module_& m);
void register_velocity(py::module_& m);
void register_planning(py::module_& m);
void register_sla(py::module_& m);
}  // namespace funnelkit::python

PYBIND11_MODULE(_core, m) {
    using namespace funnelkit::python;
    m.doc() = "funnelkit's compiled core. Use the public API of the funnelkit package instead.";
    m.attr("__version__") = funnelkit::version;
    register_core(m);
    register_accumulators(m);
    register_rates(m);
    register_survival(m);
    register_window_funnel(m);
    register_lifecycle(m);
    register_campaign(m);
    register_attribution(m);
    register_markov(m);
    register_suppression(m);
    register_audit(m);
    register_velocity(m);
    register_planning(m);
    register_sla(m);
}
