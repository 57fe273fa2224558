// Fuzz target: suppression_list::deserialize (see fuzz_state.hpp); a loaded list also checks a
// batch of its own keys.
#include <funnelkit/detail/utf8.hpp>
#include <funnelkit/suppression.hpp>

#include "fuzz_state.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace funnelkit;
    funnelkit_fuzz::fuzz_state<suppression_list>(data, size, [](const suppression_list& s) {
        for (const auto& r : s.reasons()) FUZZ_CHECK(!r.empty() && funnelkit::detail::valid_utf8(r));
        const auto kinds = s.kinds();  // the key columns below view these strings
        for (const auto& k : kinds) FUZZ_CHECK(funnelkit::detail::valid_utf8(k));
        const std::string text = "Example.COM";
        const std::int64_t offsets[] = {0, static_cast<std::int64_t>(text.size())};
        const std::int64_t ids[] = {17};
        std::vector<key_column> keys;
        for (const auto& k : kinds) keys.push_back({k, {std::span<const char>(text.data(), text.size()), offsets}});
        if (keys.size() <= 31) {
            const auto c = s.check(ids, keys);
            FUZZ_CHECK(c.suppressed.size() == 1);
            FUZZ_CHECK((c.suppressed[0] != 0) == (c.matched_by[0] != 0));
        }
    });
    return 0;
}
