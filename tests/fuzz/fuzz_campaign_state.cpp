// Fuzz target: campaign_state::deserialize (see fuzz_state.hpp); a state that loads gives a
// report whose counts are its own and whose rates lie in [0, 1] where they have an interval.
#include <funnelkit/campaign.hpp>

#include <cmath>

#include "fuzz_state.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace funnelkit;
    funnelkit_fuzz::fuzz_state<campaign_state>(data, size, [](const campaign_state& s) {
        campaign_options op;
        if (s.definition().ticks_per_day > 0) op.seconds_per_day = s.definition().ticks_per_day;
        campaign_report_result r;
        if (!funnelkit_fuzz::completes([&] { r = campaign_report(s, op); })) return;
        FUZZ_CHECK(r.rows.size() == s.segments());
        for (std::size_t g = 0; g < r.rows.size(); ++g) {
            FUZZ_CHECK(r.rows[g].leads == s.segment(g).leads);
            const auto& rate = r.rows[g].lead_to_won;
            if (rate.lower) FUZZ_CHECK(*rate.lower >= 0.0 && *rate.upper <= 1.0);
        }
    });
    return 0;
}
