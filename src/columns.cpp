// Compiles the definitions of funnelkit/columns.hpp into the funnelkit library (see impl/columns.ipp).
#include "funnelkit/impl/columns.ipp"
