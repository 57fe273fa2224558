// The statistics binders, one per concept as in the C++ headers: bind_accumulators.cpp
// (accumulators.hpp), bind_rates.cpp (rates.hpp) and bind_survival.cpp (survival.hpp).
// register_stats() calls the three until module.cpp registers them itself.
#include "bindings.hpp"

namespace funnelkit::python {
void register_accumulators(py::module_& m);
void register_rates(py::module_& m);
void register_survival(py::module_& m);
}  // namespace funnelkit::python

FUNNELKIT_PYTHON_BINDING(stats) {
    register_accumulators(m);
    register_rates(m);
    register_survival(m);
}
