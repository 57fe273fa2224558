// Compiles the definitions of funnelkit/survival.hpp into the funnelkit library (see impl/survival.ipp).
#include "funnelkit/impl/survival.ipp"
