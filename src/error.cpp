// Compiles the definitions of funnelkit/error.hpp into the funnelkit library (see impl/error.ipp).
#include "funnelkit/impl/error.ipp"
