// Compiles the definitions of funnelkit/audit.hpp into the funnelkit library (see impl/audit.ipp).
#include "funnelkit/impl/audit.ipp"
