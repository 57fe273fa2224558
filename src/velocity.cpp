// Compiles the definitions of funnelkit/velocity.hpp into the funnelkit library (see impl/velocity.ipp).
#include "funnelkit/impl/velocity.ipp"
