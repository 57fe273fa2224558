#include <gtest/gtest.h>

#include <funnelkit/detail/crc32c.hpp>
#include <funnelkit/detail/state_merge.hpp>
#include <funnelkit/detail/utf8.hpp>
#include <funnelkit/error.hpp>
#include <funnelkit/model.hpp>
#include <funnelkit/serialize.hpp>

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

using namespace funnelkit;

// The standard check value, and checksums computed in pieces.
TEST(Serialize, Crc32cCheckValues) {
    const std::string digits = "123456789";
    EXPECT_EQ(funnelkit::detail::crc32c(digits.data(), digits.size()), 0xE3069283u);
    EXPECT_EQ(funnelkit::detail::crc32c(digits.data(), 0), 0u);
    // 32 zero bytes and 32 bytes of 0xFF (RFC 3720, B.4).
    const std::vector<unsigned char> zeros(32, 0), ones(32, 0xFF);
    EXPECT_EQ(funnelkit::detail::crc32c(zeros.data(), zeros.size()), 0x8A9136AAu);
    EXPECT_EQ(funnelkit::detail::crc32c(ones.data(), ones.size()), 0x62A8AB43u);
    std::vector<unsigned char> ramp(32);
    for (std::size_t i = 0; i < ramp.size(); ++i) ramp[i] = static_cast<unsigned char>(i);
    EXPECT_EQ(funnelkit::detail::crc32c(ramp.data(), ramp.size()), 0x46DD794Eu);
    // Any split gives the checksum of the whole (the eight-byte steps and the byte steps agree).
    const std::string text = "funnelkit states end with a CRC-32C of everything before it";
    const auto whole = funnelkit::detail::crc32c(text.data(), text.size());
    for (std::size_t cut = 0; cut <= text.size(); ++cut)
        EXPECT_EQ(funnelkit::detail::crc32c(text.data() + cut, text.size() - cut, funnelkit::detail::crc32c(text.data(), cut)),
                  whole);
}

TEST(Serialize, Utf8Validation) {
    using funnelkit::detail::utf8_error_offset;
    using funnelkit::detail::valid_utf8;
    EXPECT_TRUE(valid_utf8(""));
    EXPECT_TRUE(valid_utf8("plain ascii"));
    EXPECT_TRUE(valid_utf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"));  // é, €, an emoji
    EXPECT_TRUE(valid_utf8("\xF4\x8F\xBF\xBF"));                           // U+10FFFF
    EXPECT_EQ(utf8_error_offset("ab\x80"), 2u);                             // lone continuation byte
    EXPECT_EQ(utf8_error_offset("\xC0\xAF"), 0u);                           // overlong '/'
    EXPECT_EQ(utf8_error_offset("x\xE0\x80\xAF"), 1u);                      // overlong three-byte form
    EXPECT_EQ(utf8_error_offset("\xED\xA0\x80"), 0u);                       // surrogate U+D800
    EXPECT_EQ(utf8_error_offset("\xF4\x90\x80\x80"), 0u);                   // above U+10FFFF
    EXPECT_EQ(utf8_error_offset("ok\xE2\x82"), 2u);                         // truncated
    EXPECT_EQ(utf8_error_offset("\xFF"), 0u);
}

TEST(Serialize, ReaderChecksVersionsAndChecksum) {
    funnelkit::detail::byte_writer w("TEST", 2);
    w.put(std::int64_t{-7});
    w.put(std::string_view("text"));
    const auto blob = std::move(w).finish();
    ASSERT_EQ(blob.size(), 4u + 2 + 8 + 8 + 4 + 4);
    EXPECT_EQ(funnelkit::detail::blob_version(blob.data(), blob.size()), 2);
    {
        funnelkit::detail::byte_reader r(blob.data(), blob.size(), "TEST", "test state");
        EXPECT_EQ(r.accept_versions(1, 2), 2);
        EXPECT_EQ(r.get<std::int64_t>(), -7);
        EXPECT_EQ(r.get_string(), "text");
        r.finish();  // the checksum is not left over
    }
    auto message = [&](std::vector<std::byte> b, std::uint16_t newest) {
        try {
            funnelkit::detail::byte_reader r(b.data(), b.size(), "TEST", "test state");
            (void)r.accept_versions(1, newest);
        } catch (const invalid_argument& e) {
            return std::string(e.what());
        }
        return std::string("<no error>");
    };
    EXPECT_EQ(message(blob, 1), "cannot deserialise test state: format version 2 is not supported (this build reads versions 1 to 1)");
    auto bad = blob;
    bad[8] ^= std::byte{0x10};
    EXPECT_EQ(message(bad, 2).rfind("cannot deserialise test state: checksum mismatch (stored 0x", 0), 0u);
    // Version 1 blobs carry no checksum: nothing is taken off their end.
    funnelkit::detail::byte_writer v1("TEST", 1);
    v1.put(std::uint8_t{1});
    const auto old = std::move(v1).finish();
    ASSERT_EQ(old.size(), 7u);
    funnelkit::detail::byte_reader r(old.data(), old.size(), "TEST", "test state");
    EXPECT_EQ(r.accept_versions(1, 2), 1);
    EXPECT_EQ(r.get<std::uint8_t>(), 1);
    r.finish();
}

// The fingerprint follows operator== of the model and is pinned: it is stored in blobs.
TEST(Serialize, ModelFingerprint) {
    const auto b2b = stage_model::b2b();
    // Computed independently from docs/state-format.md's description (FNV-1a then splitmix64).
    EXPECT_EQ(b2b.fingerprint(), 0x450ed7861a2392bfULL);
    std::vector<stage> stages(b2b.stages().begin(), b2b.stages().end());
    EXPECT_EQ(stage_model(stages, {.recycle_target = "Lead"}).fingerprint(), b2b.fingerprint());
    EXPECT_NE(stage_model(stages).fingerprint(), b2b.fingerprint());  // no recycle target
    stages[2].owner = "marketing";
    EXPECT_NE(stage_model(stages, {.recycle_target = "Lead"}).fingerprint(), b2b.fingerprint());
    stages[2].owner = "sales";
    stages[6].kind = stage_kind::disqualified;
    EXPECT_NE(stage_model(stages, {.recycle_target = "Lead"}).fingerprint(), b2b.fingerprint());
    EXPECT_EQ(funnelkit::detail::fingerprint_text(b2b.fingerprint()).size(), 30u);
    EXPECT_EQ(funnelkit::detail::fingerprint_text(0x1234), "fingerprint 0x0000000000001234");
}

TEST(Serialize, MergeHelpers) {
    using funnelkit::detail::add_count;
    using funnelkit::detail::join_recorded;
    auto text = [](std::int64_t v) { return std::to_string(v); };
    EXPECT_EQ(join_recorded("cannot merge x", "time unit", std::int64_t{0}, std::int64_t{1000}, std::int64_t{0}, text), 1000);
    EXPECT_EQ(join_recorded("cannot merge x", "time unit", std::int64_t{5}, std::int64_t{0}, std::int64_t{0}, text), 5);
    try {
        (void)join_recorded("cannot merge x", "time unit", std::int64_t{1}, std::int64_t{1000}, std::int64_t{0}, text,
                            "ticks per second");
        ADD_FAILURE();
    } catch (const invalid_argument& e) {
        EXPECT_STREQ(e.what(), "cannot merge x: time unit differs (1 vs 1000 ticks per second)");
    }
    EXPECT_EQ(add_count(-3, 5, "x"), 2);
    EXPECT_THROW((void)add_count(std::numeric_limits<std::int64_t>::max(), 1, "x"), invalid_argument);
    std::vector<std::int64_t> dst{1, std::numeric_limits<std::int64_t>::max()};
    const std::vector<std::int64_t> src{1, 1};
    EXPECT_THROW(funnelkit::detail::add_counts(dst, src, "x"), invalid_argument);
    EXPECT_EQ(dst[0], 1);  // nothing changed
}
