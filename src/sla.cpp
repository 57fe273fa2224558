// Compiles the definitions of funnelkit/sla.hpp into the funnelkit library (see impl/sla.ipp).
#include "funnelkit/impl/sla.ipp"
