// Compiles the definitions of funnelkit/grouping.hpp into the funnelkit library (see impl/grouping.ipp).
#include "funnelkit/impl/grouping.ipp"
