// funnelkit: umbrella header. Includes every public header of the library.
#pragma once

#include "funnelkit/columns.hpp"
#include "funnelkit/config.hpp"
#include "funnelkit/conversion.hpp"
#include "funnelkit/lifecycle.hpp"
#include "funnelkit/error.hpp"
#include "funnelkit/model.hpp"
#include "funnelkit/serialize.hpp"
#include "funnelkit/synthetic.hpp"
