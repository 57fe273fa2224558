// Compiles the definitions of funnelkit/planning.hpp into the funnelkit library (see impl/planning.ipp).
#include "funnelkit/impl/planning.ipp"
