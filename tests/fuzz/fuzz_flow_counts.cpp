// Fuzz target: flow_counts::deserialize (see fuzz_state.hpp).
#include <funnelkit/lifecycle.hpp>

#include "fuzz_state.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace funnelkit;
    funnelkit_fuzz::fuzz_state<flow_counts>(data, size, [](const flow_counts& f) {
        if (f.n_ranks() == 0) return;  // nothing per segment (their number may be large)
        for (std::int32_t g = -1; g < static_cast<std::int32_t>(f.n_segments()); ++g)
            for (std::size_t r = 0; r < f.n_ranks(); ++r) {
                const auto closed = static_cast<std::uint64_t>(f.exits(r, flow_counts::lost, g)) +
                                    static_cast<std::uint64_t>(f.exits(r, flow_counts::disqualified, g));
                std::uint64_t given = 0;
                for (std::int32_t why = 0; why < static_cast<std::int32_t>(f.n_reasons()); ++why)
                    given += static_cast<std::uint64_t>(f.reasons(r, why, g));
                FUZZ_CHECK(given <= closed);
            }
    });
    return 0;
}
