// Compiles the definitions of funnelkit/conversion.hpp into the funnelkit library (see impl/conversion.ipp).
#include "funnelkit/impl/conversion.ipp"
