// The extension module funnelkit._core: one binder per concept (bind_<concept>.cpp, declared in
// bindings.hpp), called in the order below.
#include "bindings.hpp"
#include "funnelkit/config.hpp"

PYBIND11_MODULE(_core, m) {
    using namespace funnelkit::python;
    m.doc() = "funnelkit's compiled core. Use the public API of the funnelkit package instead.";
    m.attr("__version__") = funnelkit::version;
    register_model(m);
    register_conversion(m);
    register_sample(m);
    register_accumulators(m);
    register_rates(m);
    register_survival(m);
    register_window_funnel(m);
    register_funnel_analysis(m);
    register_lifecycle(m);
    register_campaign(m);
    register_attribution(m);
    register_markov(m);
    register_suppression(m);
    register_audit(m);
    register_velocity(m);
    register_planning(m);
    register_sla(m);
    register_drivers(m);
    register_forecast(m);
    register_labels(m);
}
