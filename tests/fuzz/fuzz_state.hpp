// The fuzz target of a state's deserializer: the raw bytes, then the same bytes with their
// checksum recomputed (so that the invariant checks are reached); a state that loads must
// serialise and load back to an equal state, and merging it with itself must either work or
// be refused with funnelkit::invalid_argument (a counter overflow), never wrap or crash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "fuzz_input.hpp"

namespace funnelkit_fuzz {

template <class State, class Exercise>
void fuzz_state(const std::uint8_t* data, std::size_t size, Exercise exercise,
                void (*fix)(std::uint8_t*, std::size_t) = fix_checksum) {
    auto check_loaded = [&](const State& s) {
        const auto blob = s.serialize();
        const State back = State::deserialize(blob.data(), blob.size());
        FUZZ_CHECK(back == s);
        FUZZ_CHECK(back.serialize() == blob);
        exercise(s);
        State twice = s;
        if (completes([&] { twice.merge(s); })) exercise(twice);
        State empty;
        empty.merge(s);
        FUZZ_CHECK(empty == s);
    };
    State loaded;
    if (completes([&] { loaded = State::deserialize(data, size); })) check_loaded(loaded);
    std::vector<std::uint8_t> fixed(data, data + size);
    fix(fixed.data(), fixed.size());
    if (completes([&] { loaded = State::deserialize(fixed.data(), fixed.size()); })) check_loaded(loaded);
}

}  // namespace funnelkit_fuzz
