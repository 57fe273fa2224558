// Fuzz target: duration_summary::deserialize (see fuzz_state.hpp).
#include <funnelkit/accumulators.hpp>

#include <cmath>

#include "fuzz_state.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace funnelkit;
    funnelkit_fuzz::fuzz_state<duration_summary>(data, size, [](const duration_summary& s) {
        const auto st = s.stats();
        FUZZ_CHECK(st.count == s.count());
        if (s.count() > 0) {
            FUZZ_CHECK(st.min && st.max && *st.min <= *st.max);
            FUZZ_CHECK(st.mean && std::isfinite(*st.mean));
        }
        if (st.median) FUZZ_CHECK(*st.median >= *st.min && *st.median <= *st.max);
        if (st.p90) FUZZ_CHECK(*st.p90 >= *st.median && *st.p90 <= *st.max);
    });
    return 0;
}
