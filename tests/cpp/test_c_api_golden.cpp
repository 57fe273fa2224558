// Golden blobs of the C ABI's row buffers (docs/sql.md, "Byte formats of the row buffers"):
// fk_events (FKEV) format version 2, fk_deals (FKDL) format versions 2 and 3. The bytes a
// PostgreSQL server passes between its parallel workers must keep loading; each stored blob
// loads, gives the answer it was made for, and no flipped bit, truncation or extra byte of it
// loads; the blob of each current version is exactly what the writer writes today.
#include <gtest/gtest.h>

#include <funnelkit/c/funnelkit.h>
#include <funnelkit/error.hpp>

#include "golden_testing.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace {

std::vector<std::byte> bytes_of(const void* data, std::size_t size) {
    std::vector<std::byte> out(size);
    if (size) std::memcpy(out.data(), data, size);
    return out;
}

// The State::deserialize shape corruptions_accepted expects, for a C handle type.
template <class H, fk_status (*Deserialize)(const void*, std::size_t, H**), void (*Free)(H*)>
struct c_blob {
    static int deserialize(const std::byte* data, std::size_t size) {
        H* h = nullptr;
        if (Deserialize(data, size, &h) != FK_OK) throw funnelkit::invalid_argument(fk_last_error());
        Free(h);
        return 0;
    }
};
using events_blob = c_blob<fk_events, fk_events_deserialize, fk_events_free>;
using deals_blob = c_blob<fk_deals, fk_deals_deserialize, fk_deals_free>;

constexpr std::int64_t day = 86'400;

// The stored blob `name` of a current format (written anew when FUNNELKIT_WRITE_GOLDEN is set):
// exactly the bytes the writer writes today, starting with `head` (magic and version).
std::vector<std::byte> current_golden(const char* name, const std::vector<std::byte>& written, const char* head) {
    funnelkit_testing::write_golden_if_asked(name, written);
    auto golden = funnelkit_testing::read_golden(name);
    EXPECT_FALSE(golden.empty()) << "missing golden blob " << name;
    EXPECT_EQ(written, golden);
    EXPECT_TRUE(golden.size() >= 6 && std::memcmp(golden.data(), head, 6) == 0) << name;
    return golden;
}

}  // namespace

// Two entities' events, three steps, a one-hour window in strict_order. Entity 1: steps 1, 2,
// 3 within the hour (level 3); entity 2: step 1, an event matching no step (which strict_order
// keeps: it ends the chain), then step 2 (level 1).
TEST(CApiGolden, EventBufferVersion2) {
    fk_events* h = nullptr;
    ASSERT_EQ(fk_events_new(&h), FK_OK);
    std::uint32_t modes = 0;
    ASSERT_EQ(fk_window_funnel_modes("strict_order", &modes), FK_OK);
    ASSERT_EQ(fk_events_define(h, 3600, 3, modes), FK_OK);
    const std::int64_t entity[] = {1, 1, 1, 2, 2, 2};
    const std::int64_t time[] = {0, 600, 1200, 100, 200, 300};
    const std::uint64_t mask[] = {1, 2, 4, 1, 0, 2};
    ASSERT_EQ(fk_events_add_columns(h, entity, time, mask, 6), FK_OK);
    const void* data = nullptr;
    std::size_t size = 0;
    ASSERT_EQ(fk_events_serialize(h, &data, &size), FK_OK);
    const auto written = bytes_of(data, size);
    fk_events_free(h);

    const auto golden = current_golden("fk_events_v2.bin", written, "FKEV\x02\x00");
    ASSERT_FALSE(golden.empty());

    fk_events* back = nullptr;
    ASSERT_EQ(fk_events_deserialize(golden.data(), golden.size(), &back), FK_OK) << fk_last_error();
    std::size_t n = 0;
    int defined = 0;
    ASSERT_EQ(fk_events_size(back, &n, &defined), FK_OK);
    EXPECT_EQ(n, 6u);
    EXPECT_EQ(defined, 1);
    fk_funnel_counts* counts = nullptr;
    ASSERT_EQ(fk_events_counts(back, &counts), FK_OK) << fk_events_error(back);
    std::int64_t reached = 0;
    const std::int64_t want[] = {2, 2, 1, 1};  // entities at level >= 0, 1, 2, 3
    for (std::uint32_t level = 0; level <= 3; ++level) {
        ASSERT_EQ(fk_funnel_counts_reached(counts, level, &reached), FK_OK);
        EXPECT_EQ(reached, want[level]) << "level " << level;
    }
    fk_funnel_counts_free(counts);
    fk_events_free(back);
    EXPECT_EQ(funnelkit_testing::corruptions_accepted<events_blob>(golden), 0);
}

namespace {

// The four deals of tests/c/test_c_api.c with a recorded definition: the period [0, 100 days)
// in seconds, L in days, options "cycle_stat=median". Without cycle starts (fk_deals_add).
fk_deals* four_deals() {
    fk_deals* h = nullptr;
    EXPECT_EQ(fk_deals_new(&h), FK_OK);
    EXPECT_EQ(fk_deals_define(h, 0, 100 * day, double(day), "cycle_stat=median"), FK_OK);
    EXPECT_EQ(fk_deals_add(h, 0, 10 * day, FK_DEAL_WON, 1000), FK_OK);
    EXPECT_EQ(fk_deals_add(h, 5 * day, 35 * day, FK_DEAL_WON, 3000), FK_OK);
    EXPECT_EQ(fk_deals_add(h, 6 * day, 20 * day, FK_DEAL_LOST, 500), FK_OK);
    EXPECT_EQ(fk_deals_add(h, 7 * day, FK_MISSING_TIME, FK_DEAL_OPEN, 800.5), FK_OK);
    return h;
}

std::vector<std::byte> serialized(fk_deals* h) {
    const void* data = nullptr;
    std::size_t size = 0;
    EXPECT_EQ(fk_deals_serialize(h, &data, &size), FK_OK);
    return bytes_of(data, size);
}

}  // namespace

// Version 2, written before the cycle starts existed: it keeps loading, gives the answer it was
// made for (N = (10 + 30 + 14 + 93) / 100 = 1.47 open deals on average, D = 2000, W = 2/3,
// L = median of {10, 30, 14} = 14 days, V = 1.47 * 2000 * 2/3 / 14 = 140 per day), and writes
// today's version 3 of the same rows.
TEST(CApiGolden, DealBufferVersion2) {
    fk_deals* h = four_deals();
    const auto written = serialized(h);
    fk_deals_free(h);
    ASSERT_EQ(std::memcmp(written.data(), "FKDL\x03\x00", 6), 0);

    const auto golden = funnelkit_testing::read_golden("fk_deals_v2.bin");
    ASSERT_FALSE(golden.empty()) << "missing golden blob";
    ASSERT_EQ(std::memcmp(golden.data(), "FKDL\x02\x00", 6), 0);

    fk_deals* back = nullptr;
    ASSERT_EQ(fk_deals_deserialize(golden.data(), golden.size(), &back), FK_OK) << fk_last_error();
    std::size_t n = 0;
    ASSERT_EQ(fk_deals_size(back, &n), FK_OK);
    EXPECT_EQ(n, 4u);
    fk_velocity v{};
    ASSERT_EQ(fk_deals_result(back, &v), FK_OK) << fk_deals_error(back);
    EXPECT_NEAR(v.n, 1.47, 1e-12);
    EXPECT_EQ(v.won, 2);
    EXPECT_EQ(v.lost, 1);
    EXPECT_DOUBLE_EQ(v.won_amount, 4000.0);
    EXPECT_DOUBLE_EQ(v.cycle_length, 14.0);
    EXPECT_NEAR(v.velocity, 1.47 * 2000.0 * 2.0 / 3.0 / 14.0, 1e-9);
    EXPECT_DOUBLE_EQ(v.period_length, 100.0);
    EXPECT_DOUBLE_EQ(v.realised, 40.0);
    EXPECT_EQ(v.as_of, 35 * day);
    EXPECT_EQ(v.partial, 1);
    EXPECT_EQ(serialized(back), written);  // read as version 2, written as version 3
    fk_deals_free(back);
    EXPECT_EQ(funnelkit_testing::corruptions_accepted<deals_blob>(golden), 0);
}

// Version 3 with the cycle starts and as_of in the definition: SQL times 4, 15 and 10 days of
// the closed deals (none for the open one), first touches 0, 4 and 4 days; options
// "cycle_from=sql,as_of=8640000" (the end of the data at 100 days: the period is whole).
// L = mean of {10 - 4, 35 - 15, 20 - 10} = 12 days, V = 1.47 * 2000 * 2/3 / 12 = 163.33.
TEST(CApiGolden, DealBufferVersion3) {
    fk_deals* h = nullptr;
    ASSERT_EQ(fk_deals_new(&h), FK_OK);
    ASSERT_EQ(fk_deals_define(h, 0, 100 * day, double(day), "cycle_from=sql,as_of=8640000"), FK_OK);
    ASSERT_EQ(fk_deals_add_cycle_starts(h, 0, 10 * day, FK_DEAL_WON, 1000, 4 * day, 0), FK_OK);
    ASSERT_EQ(fk_deals_add_cycle_starts(h, 5 * day, 35 * day, FK_DEAL_WON, 3000, 15 * day, 4 * day), FK_OK);
    ASSERT_EQ(fk_deals_add_cycle_starts(h, 6 * day, 20 * day, FK_DEAL_LOST, 500, 10 * day, 4 * day), FK_OK);
    ASSERT_EQ(fk_deals_add_cycle_starts(h, 7 * day, FK_MISSING_TIME, FK_DEAL_OPEN, 800.5, FK_MISSING_TIME,
                                        FK_MISSING_TIME), FK_OK);
    const auto written = serialized(h);
    fk_deals_free(h);

    const auto golden = current_golden("fk_deals_v3.bin", written, "FKDL\x03\x00");
    ASSERT_FALSE(golden.empty());

    fk_deals* back = nullptr;
    ASSERT_EQ(fk_deals_deserialize(golden.data(), golden.size(), &back), FK_OK) << fk_last_error();
    fk_velocity v{};
    ASSERT_EQ(fk_deals_result(back, &v), FK_OK) << fk_deals_error(back);
    EXPECT_NEAR(v.n, 1.47, 1e-12);
    EXPECT_EQ(v.cycle_deals, 3);
    EXPECT_EQ(v.cycle_missing, 0);
    EXPECT_DOUBLE_EQ(v.cycle_length, 12.0);
    EXPECT_NEAR(v.velocity, 1.47 * 2000.0 * 2.0 / 3.0 / 12.0, 1e-9);
    EXPECT_EQ(v.as_of, 100 * day);
    EXPECT_EQ(v.partial, 0);
    EXPECT_DOUBLE_EQ(v.observed, 1.0);
    EXPECT_STREQ(v.basis, "count=average_open, win_rate=count, cycle_from=sql, cycle_over=closed, cycle_stat=mean, "
                          "unit=86400 ticks");
    fk_deals_free(back);
    EXPECT_EQ(funnelkit_testing::corruptions_accepted<deals_blob>(golden), 0);
}
