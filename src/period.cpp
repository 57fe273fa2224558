// Compiles the definitions of funnelkit/period.hpp into the funnelkit library (see impl/period.ipp).
#include "funnelkit/impl/period.ipp"
