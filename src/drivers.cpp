// Compiles the definitions of funnelkit/drivers.hpp into the funnelkit library (see impl/drivers.ipp).
#include "funnelkit/impl/drivers.ipp"
