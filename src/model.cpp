// Compiles the definitions of funnelkit/model.hpp into the funnelkit library (see impl/model.ipp).
#include "funnelkit/impl/model.ipp"
