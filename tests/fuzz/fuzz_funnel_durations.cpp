// Fuzz target: funnel_durations::deserialize (see fuzz_state.hpp); a state that loads gives
// summaries whose counts and histograms add up.
#include <funnelkit/funnel_analysis.hpp>

#include <numeric>

#include "fuzz_state.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace funnelkit;
    funnelkit_fuzz::fuzz_state<funnel_durations>(data, size, [](const funnel_durations& s) {
        const auto sums = s.summaries();
        FUZZ_CHECK(sums.size() == s.steps());
        for (std::size_t k = 1; k < sums.size(); ++k) {
            FUZZ_CHECK(sums[k].count == static_cast<std::int64_t>(s.durations(k).size()));
            FUZZ_CHECK(std::accumulate(sums[k].histogram.begin(), sums[k].histogram.end(), std::int64_t{0}) ==
                       sums[k].count);
            if (sums[k].count > 0) FUZZ_CHECK(sums[k].min <= sums[k].max && sums[k].min >= 0);
        }
    });
    return 0;
}
