// Compiles the definitions of funnelkit/markov.hpp into the funnelkit library (see impl/markov.ipp).
#include "funnelkit/impl/markov.ipp"
