// Compiles the definitions of funnelkit/synthetic.hpp into the funnelkit library (see impl/synthetic.ipp).
#include "funnelkit/impl/synthetic.ipp"
