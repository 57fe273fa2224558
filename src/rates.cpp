// Compiles the definitions of funnelkit/rates.hpp into the funnelkit library (see impl/rates.ipp).
#include "funnelkit/impl/rates.ipp"
