// Fuzz target: window_funnel_counts::deserialize (see fuzz_state.hpp).
#include <funnelkit/window_funnel.hpp>

#include "fuzz_state.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace funnelkit;
    funnelkit_fuzz::fuzz_state<window_funnel_counts>(data, size, [](const window_funnel_counts& c) {
        const auto reached = c.reached_counts();
        FUZZ_CHECK(reached.size() == c.steps() + 1);
        FUZZ_CHECK(reached[0] == c.entities());
        for (std::size_t l = 0; l <= c.steps(); ++l) {
            FUZZ_CHECK(c.reached(l) == reached[l]);
            FUZZ_CHECK(c.at_level(l) >= 0);
            if (l > 0) FUZZ_CHECK(reached[l] <= reached[l - 1]);
        }
    });
    return 0;
}
