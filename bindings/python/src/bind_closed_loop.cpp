// Closed-loop reporting is bound concept by concept (bind_campaign.cpp, bind_attribution.cpp,
// bind_markov.cpp, bind_suppression.cpp, bind_audit.cpp). Until module.cpp registers them one by
// one, register_closed_loop calls them in that order.
#include "bindings.hpp"

namespace funnelkit::python {
void register_campaign(py::module_& m);
void register_attribution(py::module_& m);
void register_markov(py::module_& m);
void register_suppression(py::module_& m);
void register_audit(py::module_& m);
}  // namespace funnelkit::python

FUNNELKIT_PYTHON_BINDING(closed_loop) {
    register_campaign(m);
    register_attribution(m);
    register_markov(m);
    register_suppression(m);
    register_audit(m);
}
