// Compiles the definitions of funnelkit/attribution.hpp into the funnelkit library (see impl/attribution.ipp).
#include "funnelkit/impl/attribution.ipp"
