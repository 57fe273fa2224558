// Fuzz target: conversion_counts::deserialize (see fuzz_state.hpp).
#include <funnelkit/conversion.hpp>

#include "fuzz_state.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace funnelkit;
    funnelkit_fuzz::fuzz_state<conversion_counts>(data, size, [](const conversion_counts& c) {
        for (std::int32_t g = -1; g < static_cast<std::int32_t>(c.n_segments()); ++g) {
            FUZZ_CHECK(c.entities(g) >= 0);
            for (std::size_t k = 0; k < c.n_stages(); ++k) {
                FUZZ_CHECK(c.reached(k, g) <= c.entities(g));
                if (const auto r = c.cumulative_rate(k, g)) FUZZ_CHECK(*r >= 0.0);
                if (const auto r = c.step_rate(k, g); r && c.definition().skipped == skipped_stages::implied)
                    FUZZ_CHECK(*r <= 1.0);
            }
        }
    });
    return 0;
}
