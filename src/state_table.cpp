// Compiles the definitions of funnelkit/detail/state_table.hpp into the funnelkit library (see impl/state_table.ipp).
#include "funnelkit/impl/state_table.ipp"
