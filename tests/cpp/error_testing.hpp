// The message of the funnelkit::invalid_argument a call throws, for tests that pin messages.
#pragma once

#include <funnelkit/error.hpp>

#include <string>

namespace funnelkit_testing {

/// What f throws as funnelkit::invalid_argument, or "<no error>" when it returns.
template <class F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const funnelkit::invalid_argument& e) {
        return e.what();
    }
    return "<no error>";
}

}  // namespace funnelkit_testing
