// funnelkit: umbrella header. Includes every public header of the library.
#pragma once

#include "funnelkit/accumulators.hpp"
#include "funnelkit/columns.hpp"
#include "funnelkit/config.hpp"
#include "funnelkit/conversion.hpp"
#include "funnelkit/error.hpp"
#include "funnelkit/lifecycle.hpp"
#include "funnelkit/model.hpp"
#include "funnelkit/planning.hpp"
#include "funnelkit/rates.hpp"
#include "funnelkit/serialize.hpp"
#include "funnelkit/sla.hpp"
#include "funnelkit/survival.hpp"
#include "funnelkit/synthetic.hpp"
#include "funnelkit/velocity.hpp"
