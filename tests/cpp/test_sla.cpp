#include <gtest/gtest.h>

#include <funnelkit/error.hpp>
#include <funnelkit/sla.hpp>
#include <funnelkit/synthetic.hpp>

#include <algorithm>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <vector>

using namespace funnelkit;

namespace {
constexpr std::int64_t hour = 3600, day = 86'400;

sla_commitment follow_up_24h() {
    sla_commitment c;
    c.name = "follow up every MQL within 24 hours";
    c.team = "sales";
    c.kind = sla_kind::response;
    c.limit = 24 * hour;
    return c;
}
}  // namespace

TEST(Sla, ResponseHandWorked) {
    const std::int64_t as_of = 10 * day;
    std::vector<std::int64_t> created{0, 0, 0, 0, as_of - hour, as_of + 10, as_of - day, 0};
    std::vector<std::int64_t> touch{hour, day, day + 1, missing_time, missing_time, missing_time, missing_time, 11 * day};
    std::vector<std::int32_t> rep{0, 0, 0, 1, 1, 1, 1, 1};
    std::vector<std::int32_t> seg{0, 1, 0, 1, 0, 1, 0, 1};
    response_records r{created, touch, rep, {}, seg};
    const auto res = sla_response(follow_up_24h(), r, as_of);
    const std::vector<sla_status> want{sla_status::met, sla_status::met, sla_status::breached, sla_status::breached,
                                       sla_status::pending, sla_status::not_started, sla_status::pending,
                                       sla_status::breached};
    EXPECT_EQ(res.status, want);
    const auto& all = res.groups[0];
    EXPECT_EQ(all.by, "all");
    EXPECT_EQ(all.met, 2);
    EXPECT_EQ(all.breached, 3);
    EXPECT_EQ(all.pending, 2);
    EXPECT_EQ(all.not_started, 1);
    EXPECT_EQ(all.breached_untouched, 2);
    EXPECT_DOUBLE_EQ(*all.compliance, 0.4);  // pending items are not breaches
    EXPECT_DOUBLE_EQ(all.max_over, 9 * 24);
    EXPECT_DOUBLE_EQ(all.mean_over, (1.0 / 3600 + 216 + 216) / 3);
    ASSERT_EQ(res.breaches.size(), 3u);
    EXPECT_EQ(res.breaches[0].row, 2u);
    EXPECT_EQ(res.breaches[0].over, 1);
    EXPECT_TRUE(res.breaches[0].touched);
    EXPECT_EQ(res.breaches[1].over, 9 * day);
    EXPECT_FALSE(res.breaches[1].touched);
    EXPECT_FALSE(res.breaches[2].touched);  // its touch came after as_of
    // Per rep and per segment.
    ASSERT_EQ(res.groups.size(), 1u + 2 + 2);
    EXPECT_EQ(res.groups[1].by, "rep");
    EXPECT_EQ(res.groups[1].met, 2);
    EXPECT_EQ(res.groups[1].breached, 1);
    EXPECT_DOUBLE_EQ(*res.groups[1].compliance, 2.0 / 3);
    EXPECT_EQ(res.groups[2].met, 0);
    EXPECT_DOUBLE_EQ(*res.groups[2].compliance, 0.0);
    EXPECT_EQ(res.groups[3].by, "segment");
    EXPECT_EQ(res.groups[3].breached, 1);
    EXPECT_NE(res.explain().json().find("\"compliance\": 0.4,"), std::string::npos);
    // Nothing decided yet: compliance undefined, not NaN.
    const auto early = sla_response(follow_up_24h(), r, 0);
    EXPECT_FALSE(early.groups[0].compliance.has_value());
    EXPECT_NE(early.explain().json().find("\"compliance\": null,"), std::string::npos);
}

TEST(Sla, TouchesWithinATime) {
    sla_commitment c = follow_up_24h();
    c.touches = 2;
    c.limit = 100;
    std::vector<std::int64_t> created{0, 0, 450, 0};
    response_records r{created};
    std::vector<std::int64_t> item{0, 0, 1, 1, 2, 0, 3};
    std::vector<std::int64_t> time{90, 10, 10, 150, 460, 95, 600};
    const auto res = sla_response(c, r, 500, {item, time});
    EXPECT_EQ(res.status[0], sla_status::met);
    EXPECT_EQ(res.status[1], sla_status::breached);
    EXPECT_EQ(res.status[2], sla_status::pending);
    EXPECT_EQ(res.status[3], sla_status::breached);  // one touch, after as_of: untouched
    EXPECT_EQ(res.breaches[0].over, 50);
    EXPECT_EQ(res.breaches[1].over, 400);
    // Touch before creation, or of an unknown item: errors naming the column.
    std::vector<std::int64_t> bad_time{90, 10, 10, 150, 440, 95, 600};
    EXPECT_THROW(sla_response(c, r, 500, {item, bad_time}), invalid_argument);
    std::vector<std::int64_t> bad_item{0, 0, 1, 1, 2, 0, 4};
    EXPECT_THROW(sla_response(c, r, 500, {bad_item, time}), invalid_argument);
    // Without touch records an SLA of 2 touches has nothing to count them from.
    std::vector<std::int64_t> first{1, 1, 1, 1};
    EXPECT_THROW(sla_response(c, {created, first}, 500), invalid_argument);
}

TEST(Sla, ResponseBadInput) {
    std::vector<std::int64_t> created{100};
    std::vector<std::int64_t> touch{50};
    try {
        sla_response(follow_up_24h(), {created, touch}, 1000);
        FAIL();
    } catch (const invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("first_touch"), std::string::npos);
        EXPECT_NE(std::string(e.what()).find("before"), std::string::npos);
    }
    auto c = follow_up_24h();
    c.limit = -1;
    EXPECT_THROW(sla_response(c, {created, created}, 1000), invalid_argument);
    std::vector<std::int32_t> rep{-2};
    EXPECT_THROW(sla_response(follow_up_24h(), {created, created, rep}, 1000), invalid_argument);
    std::vector<std::int64_t> two{1, 2};
    EXPECT_THROW(sla_response(follow_up_24h(), {created, two}, 1000), invalid_argument);
}

TEST(Sla, ResponseMatchesBruteForce) {
    std::mt19937_64 g(8);
    const std::size_t n = 2000;
    std::vector<std::int64_t> created(n);
    std::vector<std::int32_t> rep(n);
    std::vector<std::int64_t> item, time;
    for (std::size_t i = 0; i < n; ++i) {
        created[i] = static_cast<std::int64_t>(g() % 1000);
        rep[i] = static_cast<std::int32_t>(g() % 5);
        const int k = static_cast<int>(g() % 5);
        for (int j = 0; j < k; ++j) {
            item.push_back(static_cast<std::int64_t>(i));
            time.push_back(created[i] + static_cast<std::int64_t>(g() % 300));
        }
    }
    for (std::int32_t touches : {1, 2, 3}) {
        for (std::int64_t as_of : {500, 900, 2000}) {
            sla_commitment c = follow_up_24h();
            c.limit = 120;
            c.touches = touches;
            const auto res = sla_response(c, {created, {}, rep}, as_of, {item, time});
            std::map<std::int32_t, std::pair<int, int>> per_rep;  // met, breached
            for (std::size_t i = 0; i < n; ++i) {
                std::vector<std::int64_t> ts;
                for (std::size_t j = 0; j < item.size(); ++j)
                    if (item[j] == static_cast<std::int64_t>(i) && time[j] <= as_of) ts.push_back(time[j]);
                std::sort(ts.begin(), ts.end());
                sla_status s;
                if (created[i] > as_of) s = sla_status::not_started;
                else if (ts.size() >= static_cast<std::size_t>(touches))
                    s = ts[static_cast<std::size_t>(touches - 1)] <= created[i] + 120 ? sla_status::met : sla_status::breached;
                else s = as_of > created[i] + 120 ? sla_status::breached : sla_status::pending;
                ASSERT_EQ(res.status[i], s) << i;
                if (s == sla_status::met) per_rep[rep[i]].first++;
                if (s == sla_status::breached) per_rep[rep[i]].second++;
            }
            for (std::int32_t r = 0; r < 5; ++r) {
                const auto& grp = res.groups[1 + static_cast<std::size_t>(r)];
                ASSERT_EQ(grp.met, per_rep[r].first);
                ASSERT_EQ(grp.breached, per_rep[r].second);
            }
        }
    }
}

TEST(Sla, VolumeHandWorked) {
    sla_commitment c;
    c.name = "contact 20 prospects a week";
    c.team = "sales";
    c.kind = sla_kind::volume;
    c.target = 20;
    const period weeks[] = {{0, 7 * day}, {7 * day, 14 * day}};
    const std::int64_t as_of = 7 * day + 84 * hour;  // half of week 2
    std::vector<std::int64_t> time;
    std::vector<std::int32_t> rep;
    auto add = [&](std::int32_t r, std::int64_t t0, int count) {
        for (int i = 0; i < count; ++i) { time.push_back(t0 + i * 60); rep.push_back(r); }
    };
    add(0, day, 20);
    add(1, day, 15);
    add(0, 8 * day, 8);
    add(1, 8 * day, 12);
    add(1, 13 * day, 30);  // after as_of: not counted yet
    add(0, 20 * day, 5);   // outside every period
    const auto res = sla_volume(c, {time, rep}, weeks, as_of, 2);
    ASSERT_EQ(res.rows.size(), 6u);
    const auto& w1 = res.rows[0];
    EXPECT_EQ(w1.rep, -1);
    EXPECT_EQ(w1.committed, 40);
    EXPECT_EQ(w1.delivered, 35);
    EXPECT_EQ(w1.status, sla_status::breached);
    EXPECT_EQ(w1.shortfall, 5);
    EXPECT_EQ(res.rows[1].status, sla_status::met);
    EXPECT_EQ(res.rows[2].status, sla_status::breached);
    const auto& w2 = res.rows[3];
    EXPECT_EQ(w2.status, sla_status::pending);
    EXPECT_DOUBLE_EQ(w2.elapsed, 0.5);
    EXPECT_DOUBLE_EQ(w2.expected_to_date, 20);
    EXPECT_DOUBLE_EQ(*w2.pacing, 1.0);
    EXPECT_DOUBLE_EQ(*w2.forecast, 40);
    EXPECT_TRUE(w2.on_track);
    const auto& r0 = res.rows[4];
    EXPECT_DOUBLE_EQ(*r0.pacing, 0.8);
    EXPECT_DOUBLE_EQ(*r0.forecast, 16);
    EXPECT_FALSE(r0.on_track);
    EXPECT_DOUBLE_EQ(r0.shortfall, 4);
    EXPECT_DOUBLE_EQ(*res.rows[5].forecast, 24);
    ASSERT_EQ(res.breaches.size(), 2u);
    EXPECT_EQ(res.breaches[1].rep, 1);
    EXPECT_NE(res.explain().text().find("pacing"), std::string::npos);
    // Before a period starts: not started, no pacing.
    const auto before = sla_volume(c, {time, rep}, weeks, 0, 2);
    EXPECT_EQ(before.rows[0].status, sla_status::not_started);
    EXPECT_FALSE(before.rows[0].pacing.has_value());
    // Errors.
    std::vector<std::int32_t> bad_rep(rep);
    bad_rep[3] = 2;
    EXPECT_THROW(sla_volume(c, {time, bad_rep}, weeks, as_of, 2), invalid_argument);
    EXPECT_THROW(sla_volume(c, {time, rep}, weeks, as_of, 0), invalid_argument);
    EXPECT_THROW(sla_volume(follow_up_24h(), {time, rep}, weeks, as_of, 2), invalid_argument);
    c.target = -1;
    EXPECT_THROW(sla_volume(c, {time, rep}, weeks, as_of, 2), invalid_argument);
}

TEST(Sla, SampleMqlFollowUp) {
    // MQL entry starts the clock; the entity's next record (SAL or disqualification) is the touch.
    const auto s = generate_sample({.leads = 5000, .seed = 9});
    std::vector<std::int64_t> created, touch;
    std::vector<std::int32_t> rep, seg;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s.stage[i] != 1) continue;
        created.push_back(s.time[i]);
        const bool next = i + 1 < s.size() && s.entity[i + 1] == s.entity[i];
        touch.push_back(next ? s.time[i + 1] : missing_time);
        rep.push_back(s.rep[i]);
        seg.push_back(s.source[i]);
    }
    const auto res = sla_response(follow_up_24h(), {created, touch, rep, {}, seg}, s.end);
    const auto& all = res.groups[0];
    EXPECT_EQ(all.met + all.breached + all.pending, static_cast<std::int64_t>(created.size()));
    ASSERT_TRUE(all.compliance.has_value());
    EXPECT_GT(*all.compliance, 0.1);
    EXPECT_LT(*all.compliance, 0.95);
    EXPECT_EQ(res.groups.size(), 1u + 12 + 6);
}

TEST(Sla, ExtremeTimesSaturate) {
    const std::int64_t lo = std::numeric_limits<std::int64_t>::min() + 1;
    const std::int64_t hi = std::numeric_limits<std::int64_t>::max();
    std::vector<std::int64_t> created{lo, lo};
    std::vector<std::int64_t> touch{hi - 1, missing_time};
    const auto res = sla_response(follow_up_24h(), {created, touch}, hi);
    EXPECT_EQ(res.status[0], sla_status::breached);
    EXPECT_EQ(res.status[1], sla_status::breached);
    EXPECT_EQ(res.breaches[0].over, hi);  // saturated
    EXPECT_GT(res.groups[0].max_over, 0);
}

// A period at the top of the int64 range: its length and the elapsed share come from exact
// integer differences. In doubles both ends were the same number (2^63) and the share was NaN.
TEST(Sla, VolumePeriodAtTheInt64Limit) {
    sla_commitment c;
    c.name = "calls";
    c.kind = sla_kind::volume;
    c.target = 10;
    const std::int64_t hi = std::numeric_limits<std::int64_t>::max();
    const period p[] = {{hi - 1000, hi}};
    std::vector<std::int64_t> time{hi - 900, hi - 800, hi - 700};
    std::vector<std::int32_t> rep{0, 0, 0};
    const auto res = sla_volume(c, {time, rep}, p, hi - 500, 1);
    const auto& team = res.rows[0];
    EXPECT_EQ(team.elapsed, 0.5);
    EXPECT_EQ(team.delivered, 3);
    EXPECT_EQ(team.forecast, std::optional<double>(6.0));
    EXPECT_EQ(team.pacing, std::optional<double>(0.6));
    EXPECT_EQ(team.status, sla_status::pending);
}

namespace {
// One response SLA of one touch, evaluated on items created at 0 and touched `over` ticks after
// a deadline of `limit` ticks, with `scale` ticks per second.
response_sla_result late_touches(const std::vector<std::int64_t>& over, std::int64_t limit, std::int64_t scale) {
    sla_commitment c = follow_up_24h();
    c.limit = limit * scale;
    c.display_unit = static_cast<double>(hour * scale);
    std::vector<std::int64_t> created(over.size(), 0), touch;
    for (std::int64_t o : over) touch.push_back(c.limit + o * scale);
    return sla_response(c, response_records{created, touch}, std::numeric_limits<std::int64_t>::max());
}
}  // namespace

// mean_over is formed from the exact integer sum of the time over the limit: the same instants
// in seconds, milliseconds and nanoseconds give the same bits, and so does any row order.
TEST(Sla, MeanOverDependsOnlyOnTheInstants) {
    // Hand-worked: 2,181,138 s over the limit in 5 breaches = 436,227.6 s = 121.1743 h, i.e.
    // 2181138 / 18000 = 363523 / 3000 hours, rounded once.
    const std::vector<std::int64_t> over{719'831, 227'121, 442'622, 761'112, 30'452};
    const auto s = late_touches(over, 24 * hour, 1);
    const auto ms = late_touches(over, 24 * hour, 1'000);
    const auto ns = late_touches(over, 24 * hour, 1'000'000'000);
    ASSERT_EQ(s.groups[0].breached, 5);
    EXPECT_EQ(s.groups[0].mean_over, 363'523.0 / 3'000.0);
    // Summed in doubles and divided twice, the nanosecond mean came out one ulp away.
    EXPECT_EQ(ms.groups[0].mean_over, s.groups[0].mean_over);
    EXPECT_EQ(ns.groups[0].mean_over, s.groups[0].mean_over);
    EXPECT_EQ(ns.groups[0].max_over, s.groups[0].max_over);
    EXPECT_EQ(s.groups[0].max_over, 761'112.0 / 3'600.0);
    for (std::size_t i = 0; i < over.size(); ++i) EXPECT_EQ(ns.breaches[i].over_display, s.breaches[i].over_display);

    // Row order: overs near 10^18 ns, whose double sum depends on the order of the additions.
    std::vector<std::int64_t> big{995'097'304'719'337'844, 978'894'089'588'363'900, 105'590'074'702'964'384};
    const double first = late_touches(big, 0, 1).groups[0].mean_over;
    std::sort(big.begin(), big.end());
    do {
        EXPECT_EQ(late_touches(big, 0, 1).groups[0].mean_over, first);
    } while (std::next_permutation(big.begin(), big.end()));
    // The exact mean: 2,079,581,469,010,666,128 / 3 / 3600 hours.
    EXPECT_NEAR(first, 2'079'581'469'010'666'128.0 / 3.0 / 3600.0, 1e-15 * first);
}

// The elapsed share of a running volume period is the same for the same instants in any unit.
TEST(Sla, VolumeElapsedShareIsUnitFree) {
    auto share = [](std::int64_t scale) {
        sla_commitment c;
        c.kind = sla_kind::volume;
        c.target = 10;
        const std::vector<period> periods{{0, 365 * day * scale}};
        const std::vector<std::int64_t> time{day * scale};
        const std::vector<std::int32_t> rep{0};
        return sla_volume(c, volume_records{time, rep}, periods, (100 * day + 7) * scale, 1).rows[0].elapsed;
    };
    EXPECT_EQ(share(1), static_cast<double>(100 * day + 7) / static_cast<double>(365 * day));
    EXPECT_EQ(share(1'000), share(1));
    EXPECT_EQ(share(1'000'000'000), share(1));
}
