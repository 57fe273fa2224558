// Fuzz target: lifecycle_summary::deserialize (see fuzz_state.hpp). Its parts are nested blobs
// with checksums of their own: the fix-up recomputes those it can find, then the outer one.
#include <funnelkit/lifecycle.hpp>

#include "fuzz_state.hpp"

namespace {
std::uint64_t read_u64(const std::uint8_t* p) {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(p[i]) << (8 * i);
    return v;
}

void fix_nested(std::uint8_t* blob, std::size_t size) {
    if (size < 30 || (blob[4] | (blob[5] << 8)) < 2) return funnelkit_fuzz::fix_checksum(blob, size);
    std::size_t pos = 6 + 8 + 8 + 8;  // magic, version, stages, segments, ticks per second
    auto nested = [&]() {
        if (size - pos < 8) return false;
        const std::uint64_t n = read_u64(blob + pos);
        if (n > size - pos - 8) return false;
        funnelkit_fuzz::fix_checksum(blob + pos + 8, static_cast<std::size_t>(n));
        pos += 8 + static_cast<std::size_t>(n);
        return true;
    };
    if (nested() && nested() && size - pos >= 8) {
        const std::uint64_t count = read_u64(blob + pos);
        pos += 8;
        for (std::uint64_t i = 0; i < count && nested(); ++i) {
        }
    }
    funnelkit_fuzz::fix_checksum(blob, size);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace funnelkit;
    funnelkit_fuzz::fuzz_state<lifecycle_summary>(
        data, size,
        [](const lifecycle_summary& s) {
            for (std::int32_t g = -1; g < static_cast<std::int32_t>(s.n_segments()); ++g)
                for (std::size_t r = 0; r < s.n_stages(); ++r) {
                    const auto& d = s.time_in_stage(r, g);
                    FUZZ_CHECK(d.ticks_per_second() == s.ticks_per_second());
                    (void)d.stats();
                }
            FUZZ_CHECK(s.conversion().n_stages() == s.n_stages());
        },
        fix_nested);
    return 0;
}
