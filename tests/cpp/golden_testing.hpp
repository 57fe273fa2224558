// Golden blobs under tests/data (one per state and format version) and the corruption checks
// every serialised state must pass.
#pragma once

#include <gtest/gtest.h>

#include <funnelkit/error.hpp>

#include <cstddef>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace funnelkit_testing {

inline std::string golden_path(const std::string& name) { return std::string(FUNNELKIT_TEST_DATA_DIR) + "/" + name; }

/// The bytes of tests/data/<name> (empty when the file is missing).
inline std::vector<std::byte> read_golden(const std::string& name) {
    std::ifstream in(golden_path(name), std::ios::binary);
    const std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<std::byte> out(chars.size());
    for (std::size_t i = 0; i < chars.size(); ++i) out[i] = static_cast<std::byte>(chars[i]);
    return out;
}

/// With the environment variable FUNNELKIT_WRITE_GOLDEN set, (re)writes tests/data/<name>.
/// Only ever for a new format version: a stored blob of a released version never changes.
inline void write_golden_if_asked(const std::string& name, const std::vector<std::byte>& blob) {
    if (std::getenv("FUNNELKIT_WRITE_GOLDEN") == nullptr) return;
    std::ofstream(golden_path(name), std::ios::binary)
        .write(reinterpret_cast<const char*>(blob.data()), static_cast<std::streamsize>(blob.size()));
}

/// Every flipped bit, every truncation and one trailing byte of a checksummed blob must be
/// rejected with funnelkit::invalid_argument; returns how many corruptions loaded anyway.
template <class State>
int corruptions_accepted(const std::vector<std::byte>& blob) {
    int accepted = 0;
    auto loads = [](const std::vector<std::byte>& b, std::size_t n) {
        try {
            (void)State::deserialize(b.data(), n);
            return true;
        } catch (const funnelkit::invalid_argument&) {
            return false;
        }
    };
    std::vector<std::byte> bad = blob;
    for (std::size_t i = 0; i < blob.size(); ++i)
        for (int bit = 0; bit < 8; ++bit) {
            bad[i] = blob[i] ^ static_cast<std::byte>(1u << bit);
            if (loads(bad, bad.size())) {
                ADD_FAILURE() << "a flip of bit " << bit << " of byte " << i << " loaded";
                ++accepted;
            }
            bad[i] = blob[i];
        }
    for (std::size_t cut = 0; cut < blob.size(); ++cut)
        if (loads(blob, cut)) {
            ADD_FAILURE() << "the first " << cut << " bytes loaded";
            ++accepted;
        }
    bad.push_back(std::byte{0});
    if (loads(bad, bad.size())) {
        ADD_FAILURE() << "a trailing byte loaded";
        ++accepted;
    }
    return accepted;
}

}  // namespace funnelkit_testing
