// Compiles the definitions of funnelkit/lifecycle.hpp into the funnelkit library (see impl/lifecycle.ipp).
#include "funnelkit/impl/lifecycle.ipp"
