// Compiles the definitions of funnelkit/campaign.hpp into the funnelkit library (see impl/campaign.ipp).
#include "funnelkit/impl/campaign.ipp"
