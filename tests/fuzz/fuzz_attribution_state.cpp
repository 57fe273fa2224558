// Fuzz target: attribution_state::deserialize (see fuzz_state.hpp); a state that loads
// attributes without crashing, its credits finite.
#include <funnelkit/attribution.hpp>

#include <cmath>

#include "fuzz_state.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace funnelkit;
    funnelkit_fuzz::fuzz_state<attribution_state>(data, size, [](const attribution_state& s) {
        // Bound the work of a crafted state (a huge path table expanded for Markov).
        if (s.paths() > 100'000) return;
        attribution_result r;
        if (!funnelkit_fuzz::completes([&] { r = attribute(s); })) return;
        FUZZ_CHECK(r.value.size() == static_cast<std::size_t>(s.n_channels()));
        for (double v : r.value) FUZZ_CHECK(std::isfinite(v));
        FUZZ_CHECK(r.paths == s.paths());
    });
    return 0;
}
