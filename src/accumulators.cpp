// Compiles the definitions of funnelkit/accumulators.hpp into the funnelkit library (see impl/accumulators.ipp).
#include "funnelkit/impl/accumulators.ipp"
