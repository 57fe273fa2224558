// Compiles the definitions of funnelkit/forecast.hpp into the funnelkit library (see impl/forecast.ipp).
#include "funnelkit/impl/forecast.ipp"
