// Compiles the definitions of funnelkit/suppression.hpp into the funnelkit library (see impl/suppression.ipp).
#include "funnelkit/impl/suppression.ipp"
