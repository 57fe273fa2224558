// Compiles the definitions of funnelkit/lifecycle.hpp into the funnelkit library (see impl/lifecycle_flow.ipp).
#include "funnelkit/impl/lifecycle_flow.ipp"
