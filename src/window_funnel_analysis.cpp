// Compiles the definitions of funnelkit/window_funnel.hpp into the funnelkit library (see impl/window_funnel_analysis.ipp).
#include "funnelkit/impl/window_funnel_analysis.ipp"
