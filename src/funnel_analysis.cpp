// Compiles the definitions of funnelkit/funnel_analysis.hpp into the funnelkit library (see impl/funnel_analysis.ipp).
#include "funnelkit/impl/funnel_analysis.ipp"
