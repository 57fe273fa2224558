#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>

#include <funnelkit/detail/random.hpp>
#include <funnelkit/error.hpp>
#include <funnelkit/window_funnel.hpp>

#include "error_testing.hpp"
#include "event_stream_testing.hpp"
#include "golden_testing.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <map>
#include <numeric>
#include <optional>
#include <string>
#include <utility>
#include <vector>

using namespace funnelkit;
using namespace funnelkit_testing;

namespace {

// Steps are 1-based in these helpers to read like the ClickHouse cases they come from.
std::uint64_t steps_of(std::initializer_list<int> s) {
    std::uint64_t m = 0;
    for (int k : s) m |= std::uint64_t{1} << (k - 1);
    return m;
}

// Independent reference: a direct transcription of ClickHouse's windowFunnel for one entity.
// Every event becomes one (time, step) pair per matched step (step 0 for a no-step event under
// strict_order), the pairs are sorted, then walked with an optional (start, last) per level.
unsigned reference_level(std::vector<std::pair<std::int64_t, std::uint64_t>> ev, std::int64_t window,
                         unsigned n, mode m) {
    std::vector<std::pair<std::int64_t, unsigned>> list;
    bool any = false;
    for (auto [t, mask] : ev) {
        bool has = false;
        for (unsigned k = n; k > 0; --k)
            if ((mask >> (k - 1)) & 1u) {
                list.emplace_back(t, k);
                has = true;
            }
        if (m.order && !has) list.emplace_back(t, 0u);
        any = any || has || m.order;
    }
    if (list.empty()) return 0;
    if (!m.order && n == 1) return 1;
    std::stable_sort(list.begin(), list.end());
    std::vector<std::optional<std::pair<std::int64_t, std::int64_t>>> ts(n);
    auto highest = [&]() -> unsigned {
        for (unsigned k = n; k > 0; --k)
            if (ts[k - 1]) return k;
        return 0;
    };
    bool first_event = false;
    for (auto [t, step] : list) {
        const int idx = static_cast<int>(step) - 1;
        if (m.order && idx == -1) {
            if (first_event) break;
            continue;
        }
        if (idx == 0) {
            ts[0] = std::make_pair(t, t);
            first_event = true;
        } else if (m.dedup && ts[idx]) {
            return highest();
        } else if (m.order && first_event && !ts[idx - 1]) {
            if (m.reentry) continue;
            for (unsigned k = 0; k < n; ++k)
                if (!ts[k]) return k;
        } else if (ts[idx - 1]) {
            const std::int64_t start = ts[idx - 1]->first;
            bool ok = t <= start + window;
            if (m.increase) ok = ok && ts[idx - 1]->second < t;
            if (ok) {
                ts[idx] = std::make_pair(start, t);
                if (static_cast<unsigned>(idx) + 1 == n) return n;
            }
        }
    }
    return highest();
}

std::map<std::int64_t, unsigned> reference(const events& e, std::int64_t window, unsigned n, mode m) {
    std::map<std::int64_t, std::vector<std::pair<std::int64_t, std::uint64_t>>> by;
    for (std::size_t i = 0; i < e.size(); ++i) by[e.entity[i]].emplace_back(e.time[i], e.mask[i]);
    std::map<std::int64_t, unsigned> out;
    for (auto& [id, ev] : by) out[id] = reference_level(ev, window, n, m);
    return out;
}

unsigned single_level(const events& e, std::int64_t window, std::size_t n, mode m) {
    auto o = opts(window, n, m);
    o.per_entity = true;
    auto r = window_funnel(e.view(), o);
    EXPECT_EQ(r.level.size(), 1u);
    return r.level.empty() ? 999u : r.level[0];
}

std::vector<std::size_t> order_by(const events& e, bool by_entity, std::uint64_t seed) {
    std::vector<std::size_t> p(e.size());
    std::iota(p.begin(), p.end(), 0);
    // Shuffle first so ties come out in arbitrary order.
    detail::rng r(seed);
    for (std::size_t i = p.size(); i > 1; --i) std::swap(p[i - 1], p[r.below(i)]);
    std::stable_sort(p.begin(), p.end(), [&](std::size_t a, std::size_t b) {
        if (by_entity && e.entity[a] != e.entity[b]) return e.entity[a] < e.entity[b];
        return e.time[a] < e.time[b];
    });
    return p;
}

const mode all_modes[] = {
    {}, {.dedup = true}, {.order = true}, {.increase = true}, {.order = true, .reentry = true},
    {.dedup = true, .order = true}, {.dedup = true, .increase = true}, {.order = true, .increase = true},
    {.dedup = true, .order = true, .increase = true}, {.dedup = true, .order = true, .reentry = true},
    {.order = true, .increase = true, .reentry = true},
};

std::string mode_name(mode m) {
    std::string s;
    if (m.dedup) s += "dedup ";
    if (m.order) s += "order ";
    if (m.increase) s += "increase ";
    if (m.reentry) s += "reentry ";
    return s.empty() ? "default" : s;
}

}  // namespace

// Each expected level below was obtained from ClickHouse's windowFunnel (through chdb) on the
// same events, window 3600.
TEST(WindowFunnel, ClickHouseCrafted) {
    const auto none = std::uint64_t{0};
    struct c {
        const char* name;
        events e;
        std::size_t n;
        mode m;
        unsigned want;
    };
    const std::vector<c> cases = {
        {"tie 2 then 1", one({{5, steps_of({2})}, {5, steps_of({1})}, {6, steps_of({3})}}), 3, {}, 3},
        {"multi-step event", one({{5, steps_of({1, 2})}, {6, steps_of({3})}}), 3, {}, 3},
        {"multi-step strict_increase", one({{5, steps_of({1, 2})}, {6, steps_of({3})}}), 3, {.increase = true}, 1},
        {"boundary inclusive", one({{0, steps_of({1})}, {3600, steps_of({2})}}), 2, {}, 2},
        {"boundary + 1", one({{0, steps_of({1})}, {3601, steps_of({2})}}), 2, {}, 1},
        {"restart step 1", one({{0, steps_of({1})}, {10, steps_of({2})}, {5000, steps_of({1})}, {5005, steps_of({3})}}), 3, {}, 2},
        {"dedup repeat", one({{0, steps_of({1})}, {1, steps_of({2})}, {2, steps_of({2})}, {3, steps_of({3})}}), 3, {.dedup = true}, 2},
        {"dedup tie", one({{0, steps_of({1})}, {1, steps_of({2})}, {1, steps_of({2})}, {3, steps_of({3})}}), 3, {.dedup = true}, 2},
        {"dedup step-1 repeat", one({{0, steps_of({1})}, {1, steps_of({1})}, {2, steps_of({2})}, {3, steps_of({3})}}), 3, {.dedup = true}, 3},
        {"dedup unreached repeat", one({{0, steps_of({1})}, {1, steps_of({3})}, {2, steps_of({3})}, {3, steps_of({2})}}), 3, {.dedup = true}, 2},
        {"dedup multi event", one({{0, steps_of({1})}, {1, steps_of({2, 3})}, {2, steps_of({3})}, {3, steps_of({4})}}), 4, {.dedup = true}, 3},
        {"dedup out-of-window repeat", one({{0, steps_of({1})}, {1, steps_of({2})}, {5000, steps_of({1})}, {5001, steps_of({2})}, {5002, steps_of({3})}}), 3, {.dedup = true}, 2},
        {"order intervene", one({{0, steps_of({1})}, {1, steps_of({2})}, {2, none}, {3, steps_of({3})}}), 3, {.order = true}, 2},
        {"order other tie", one({{0, steps_of({1})}, {1, steps_of({2})}, {1, none}, {3, steps_of({3})}}), 3, {.order = true}, 1},
        {"order skip", one({{0, steps_of({1})}, {1, steps_of({3})}, {2, steps_of({2})}, {3, steps_of({3})}}), 3, {.order = true}, 1},
        {"order other before first", one({{0, none}, {1, steps_of({1})}, {2, steps_of({2})}}), 2, {.order = true}, 2},
        {"order out of window", one({{0, steps_of({1})}, {4000, steps_of({2})}, {4001, steps_of({3})}}), 3, {.order = true}, 1},
        {"order repeat step 2", one({{0, steps_of({1})}, {1, steps_of({2})}, {2, steps_of({2})}, {3, steps_of({3})}}), 3, {.order = true}, 3},
        {"reentry", one({{0, steps_of({1})}, {1, steps_of({3})}, {2, steps_of({2})}, {3, steps_of({3})}}), 3, {.order = true, .reentry = true}, 3},
        {"reentry other", one({{0, steps_of({1})}, {1, none}, {2, steps_of({2})}}), 2, {.order = true, .reentry = true}, 1},
        {"increase tie", one({{0, steps_of({1})}, {0, steps_of({2})}, {3, steps_of({3})}}), 3, {.increase = true}, 1},
        {"increase overwrite", one({{0, steps_of({1})}, {10, steps_of({2})}, {3000, steps_of({1})}, {3100, steps_of({2})}, {3100, steps_of({3})}}), 3, {.increase = true}, 2},
        {"one step, order", one({{0, none}, {1, steps_of({1})}}), 1, {.order = true}, 1},
        {"stale level-2 chain", one({{0, steps_of({1})}, {10, steps_of({2})}, {3000, steps_of({1})}, {3601, steps_of({3})}}), 3, {}, 2},
        {"all flags", one({{0, steps_of({1})}, {0, steps_of({2})}, {1, steps_of({2})}, {2, steps_of({3})}}), 3, {.dedup = true, .order = true, .increase = true}, 3},
    };
    for (const auto& k : cases) {
        EXPECT_EQ(single_level(k.e, 3600, k.n, k.m), k.want) << k.name;
        std::vector<std::pair<std::int64_t, std::uint64_t>> ev;
        for (std::size_t i = 0; i < k.e.size(); ++i) ev.emplace_back(k.e.time[i], k.e.mask[i]);
        EXPECT_EQ(reference_level(ev, 3600, static_cast<unsigned>(k.n), k.m), k.want) << "reference: " << k.name;
    }
    // window 0: ties only.
    EXPECT_EQ(single_level(one({{0, steps_of({1})}, {0, steps_of({2})}, {1, steps_of({3})}}), 0, 3, {}), 2u);
}

TEST(WindowFunnel, HandWorkedCounts) {
    // Entity 1: A B C within the window -> 3. Entity 2: A, B too late -> 1. Entity 3: B only -> 0.
    // Entity 4: no-step events only -> 0.
    std::vector<std::int64_t> ent{1, 1, 1, 2, 2, 3, 4};
    std::vector<std::int64_t> tim{0, 10, 20, 0, 100, 5, 5};
    std::vector<std::int32_t> code{0, 1, 2, 0, 1, 1, -1};
    auto o = opts(50, 3);
    o.per_entity = true;
    auto r = window_funnel({.entity = ent, .time = tim, .step = code}, o);
    EXPECT_EQ(r.counts.reached_counts(), (std::vector<std::int64_t>{4, 2, 1, 1}));
    EXPECT_EQ(r.counts.at_level(0), 2);
    EXPECT_EQ(r.counts.entities(), 4);
    EXPECT_EQ(r.entity, (std::vector<std::int64_t>{1, 2, 3, 4}));
    EXPECT_EQ(r.level, (std::vector<std::uint8_t>{3, 1, 0, 0}));
}

// Random event sets with many ties: every mode, every input order, codes and masks, 1 and 3
// threads, against the transcription of ClickHouse's algorithm.
TEST(WindowFunnel, RandomAgainstReference) {
    for (std::uint64_t seed = 1; seed <= 6; ++seed) {
        const unsigned steps = static_cast<unsigned>(1 + seed % 5);
        const bool multi = seed % 2 == 0;
        auto e = random_events(seed, 1500, 12, steps, 40, multi ? 0.3 : 0.0);
        for (std::int64_t window : {0, 3, 15}) {
            for (const mode& m : all_modes) {
                const auto want = reference(e, window, steps, m);
                for (int ord = 0; ord < 3; ++ord) {
                    events in = e;
                    if (ord < 2) in.permute(order_by(e, ord == 0, seed * 7 + static_cast<std::uint64_t>(ord)));
                    // Codes when no event matches several steps.
                    std::vector<std::int32_t> code;
                    if (!multi)
                        for (auto mk : in.mask) code.push_back(mk ? std::countr_zero(mk) : -1);
                    for (unsigned threads : {1u, 3u}) {
                        auto o = opts(window, steps, m);
                        o.per_entity = true;
                        o.threads = threads;
                        o.order = ord == 0 ? input_order::entity_time : ord == 1 ? input_order::time : input_order::unsorted;
                        event_columns v = in.view();
                        if (!multi) v = {.entity = in.entity, .time = in.time, .step = code};
                        auto r = window_funnel(v, o);
                        if (!multi) {
                            // The same codes in one byte each.
                            const std::vector<std::int8_t> code8(code.begin(), code.end());
                            const auto r8 = window_funnel({.entity = in.entity, .time = in.time, .step_int8 = code8}, o);
                            EXPECT_EQ(r8.entity, r.entity);
                            EXPECT_EQ(r8.level, r.level);
                            EXPECT_EQ(r8.counts, r.counts);
                        }
                        ASSERT_EQ(r.entity.size(), want.size());
                        window_funnel_counts c(steps, window_funnel_definition::of(o));
                        std::size_t i = 0;
                        for (auto [id, lvl] : want) {
                            ASSERT_EQ(r.entity[i], id);
                            ASSERT_EQ(r.level[i], lvl) << "seed " << seed << " window " << window << " " << mode_name(m)
                                                       << " order " << ord << " threads " << threads << " entity " << id;
                            c.add(lvl);
                            ++i;
                        }
                        EXPECT_EQ(r.counts, c);
                        // Detected order gives the same answer.
                        o.order = input_order::detect;
                        o.per_entity = false;
                        EXPECT_EQ(window_funnel(v, o).counts, c);
                    }
                }
            }
        }
    }
}

TEST(WindowFunnel, SixtyFourStepsAndNegativeTimes) {
    events e;
    for (int k = 0; k < 64; ++k) e.add(1, -1000 + k, std::uint64_t{1} << k);
    // The least valid time (the smallest int64 itself is reserved: SmallestInt64IsNotATimestamp).
    e.add(2, std::numeric_limits<std::int64_t>::min() + 1, 1);
    e.add(2, std::numeric_limits<std::int64_t>::max() - 100, 2);
    auto o = opts(100, 64);
    o.per_entity = true;
    auto r = window_funnel(e.view(), o);
    EXPECT_EQ(r.level, (std::vector<std::uint8_t>{64, 1}));
    o.window = 62;
    EXPECT_EQ(window_funnel(e.view(), o).level, (std::vector<std::uint8_t>{63, 1}));
}

TEST(WindowFunnel, DetectOrder) {
    std::vector<std::int64_t> a{1, 1, 2, 2}, t1{5, 6, 1, 2}, t2{1, 2, 3, 3}, t3{3, 2, 1, 0};
    std::vector<std::int64_t> b{2, 1, 2, 1};
    EXPECT_EQ(detect_order(a, t1), input_order::entity_time);
    EXPECT_EQ(detect_order(b, t2), input_order::time);
    EXPECT_EQ(detect_order(b, t3), input_order::unsorted);
}

TEST(WindowFunnel, BadInput) {
    std::vector<std::int64_t> ent{1, 1, 2}, tim{0, 5, 3};
    std::vector<std::int32_t> code{0, 1, 0};
    const event_columns v{.entity = ent, .time = tim, .step = code};
    auto expect_error = [](auto&& f, const std::string& needle) {
        try {
            f();
            ADD_FAILURE() << "no error; expected " << needle;
        } catch (const funnelkit::invalid_argument& ex) {
            EXPECT_NE(std::string(ex.what()).find(needle), std::string::npos) << ex.what();
        }
    };
    expect_error([&] { window_funnel(v, opts(-1, 2)); }, "option 'window': value -1");
    expect_error([&] { window_funnel(v, opts(10, 0)); }, "option 'steps': value 0");
    expect_error([&] { window_funnel(v, opts(10, 65)); }, "option 'steps': value 65");
    expect_error([&] { window_funnel(v, opts(10, 2, {.reentry = true})); }, "requires strict_order");
    expect_error([&] { window_funnel(v, opts(10, 1)); }, "column 'step', row 1: value 1 is not a step code");
    // One-byte codes: the same checks, naming the same column; one form of the step column.
    const std::vector<std::int8_t> code8{0, -2, 0};
    const std::vector<std::int64_t> ordered{0, 5, 6};  // in time and (entity, time) order: no broken promise
    for (input_order ord : {input_order::detect, input_order::entity_time, input_order::time, input_order::unsorted}) {
        auto o8 = opts(10, 2);
        o8.order = ord;
        expect_error([&] { window_funnel({.entity = ent, .time = ordered, .step_int8 = code8}, o8); },
                     "column 'step', row 1: value -2 is not a step code");
    }
    expect_error([&] { window_funnel({.entity = ent, .time = tim, .step = code, .step_int8 = code8}, opts(10, 2)); },
                 "give one of column 'step'");
    expect_error([&] { window_funnel({.entity = ent, .time = tim, .step_int8 = std::span(code8).first(2)}, opts(10, 2)); },
                 "column 'step'");
    auto o = opts(10, 2);
    o.threads = 0;
    expect_error([&] { window_funnel(v, o); }, "option 'threads'");
    // Broken promises.
    o = opts(10, 2);
    o.order = input_order::time;
    expect_error([&] { window_funnel(v, o); }, "column 'time', row 2: value 3 is smaller");
    std::vector<std::int64_t> ent2{2, 2, 1};
    o.order = input_order::entity_time;
    expect_error([&] { window_funnel({.entity = ent2, .time = tim, .step = code}, o); }, "column 'entity', row 2: value 1");
    std::vector<std::int64_t> tim2{5, 0, 3};
    expect_error([&] { window_funnel({.entity = ent, .time = tim2, .step = code}, o); }, "column 'time', row 1: value 0");
    // Overflow of time + window.
    std::vector<std::int64_t> tim3{0, std::numeric_limits<std::int64_t>::max() - 5, 1};
    expect_error([&] { window_funnel({.entity = ent, .time = tim3, .step = code}, opts(10, 2)); }, "column 'time', row 1");
    // Masks beyond the steps, lengths, both step columns.
    std::vector<std::uint64_t> mask{1, 4, 1};
    expect_error([&] { window_funnel({.entity = ent, .time = tim, .step_mask = mask}, opts(10, 2)); },
                 "column 'step_mask', row 1: value 4");
    std::vector<std::int64_t> short_time{1, 2};
    expect_error([&] { window_funnel({.entity = ent, .time = short_time, .step = code}, opts(10, 2)); },
                 "column 'time' has 2 rows");
    expect_error([&] { window_funnel({.entity = ent, .time = tim, .step = code, .step_mask = mask}, opts(10, 2)); },
                 "give one of column 'step'");
    // Codes < -1 in every order.
    std::vector<std::int32_t> code2{0, -2, 0};
    for (auto ord : {input_order::entity_time, input_order::unsorted, input_order::detect}) {
        o = opts(10, 2);
        o.order = ord;
        std::vector<std::int64_t> sorted_ent{1, 1, 2}, sorted_tim{0, 5, 6};
        expect_error([&] { window_funnel({.entity = sorted_ent, .time = sorted_tim, .step = code2}, o); },
                     "row 1: value -2");
    }
}

TEST(WindowFunnel, CountsStateContract) {
    window_funnel_counts a(3), b(3), whole(3);
    for (std::size_t l : {0u, 1u, 3u, 3u}) {
        a.add(l);
        whole.add(l);
    }
    for (std::size_t l : {2u, 1u}) {
        b.add(l);
        whole.add(l);
    }
    window_funnel_counts ab = a, ba = b;
    ab.merge(b);
    ba += a;
    EXPECT_EQ(ab, whole);
    EXPECT_EQ(ba, whole);
    window_funnel_counts empty;
    empty.merge(whole);
    EXPECT_EQ(empty, whole);
    EXPECT_EQ(whole.reached_counts(), (std::vector<std::int64_t>{6, 5, 3, 2}));
    EXPECT_EQ(whole.reached(2), 3);
    EXPECT_THROW(whole.reached(4), funnelkit::invalid_argument);
    EXPECT_THROW(whole.add(4), funnelkit::invalid_argument);
    EXPECT_THROW(ab.merge(window_funnel_counts(2)), funnelkit::invalid_argument);

    const auto blob = whole.serialize();
    EXPECT_EQ(window_funnel_counts::deserialize(blob.data(), blob.size()), whole);
    for (std::size_t cut = 0; cut < blob.size(); ++cut)
        EXPECT_THROW(window_funnel_counts::deserialize(blob.data(), cut), funnelkit::invalid_argument);
    auto bad = blob;
    bad[0] = std::byte{'X'};
    EXPECT_THROW(window_funnel_counts::deserialize(bad.data(), bad.size()), funnelkit::invalid_argument);

    // Golden blob of format version 1 (tests/data/window_funnel_counts_v1.bin): 3 steps,
    // histogram {1, 2, 1, 2}, no definition (version 1 had none). Must keep loading.
    const auto golden = funnelkit_testing::read_golden("window_funnel_counts_v1.bin");
    ASSERT_FALSE(golden.empty()) << "missing golden blob";
    EXPECT_EQ(window_funnel_counts::deserialize(golden.data(), golden.size()), whole);
    whole.reset();
    EXPECT_EQ(whole.entities(), 0);
}

// Format version 2: the same histogram computed with a one-hour window in seconds and
// strict_order, with its definition and checksum. Loads, is what the writer writes, and no
// flipped bit, truncation or extra byte of it loads.
TEST(WindowFunnel, GoldenBlobVersion2) {
    window_funnel_options o = opts(3600, 3);
    o.strict_order = true;
    window_funnel_counts expected(3, window_funnel_definition::of(o));
    for (std::size_t l : {0u, 1u, 3u, 3u, 2u, 1u}) expected.add(l);
    funnelkit_testing::write_golden_if_asked("window_funnel_counts_v2.bin", expected.serialize());
    const auto golden = funnelkit_testing::read_golden("window_funnel_counts_v2.bin");
    ASSERT_FALSE(golden.empty()) << "missing golden blob";
    const auto loaded = window_funnel_counts::deserialize(golden.data(), golden.size());
    EXPECT_EQ(loaded, expected);
    EXPECT_EQ(loaded.definition().window, 3600);
    EXPECT_EQ(loaded.definition().ticks_per_second, 1);
    EXPECT_EQ(loaded.definition().modes, std::uint8_t{strict_order_mode});
    EXPECT_EQ(expected.serialize(), golden);
    EXPECT_EQ(funnelkit_testing::corruptions_accepted<window_funnel_counts>(golden), 0);
}

// Counts computed with another window, unit or mode do not merge; the message says which.
TEST(WindowFunnel, MergeChecksDefinitions) {
    auto e = random_events(5, 200, 10, 3, 100, 0.2);
    auto o = opts(20, 3);
    const auto base = window_funnel(e.view(), o).counts;
    auto message = [&](const window_funnel_options& other) {
        auto a = base;
        const auto b = window_funnel(e.view(), other).counts;
        try {
            a.merge(b);
        } catch (const funnelkit::invalid_argument& err) {
            EXPECT_EQ(a, base);  // unchanged
            return std::string(err.what());
        }
        return std::string("<no error>");
    };
    auto wider = o;
    wider.window = 30;
    EXPECT_EQ(message(wider), "cannot merge window_funnel_counts: window differs (20 vs 30)");
    auto ms = o;
    ms.ticks_per_second = 1000;
    EXPECT_EQ(message(ms), "cannot merge window_funnel_counts: time unit differs (1 vs 1000 ticks per second)");
    auto strict = o;
    strict.strict_increase = true;
    strict.exact_increase = true;
    EXPECT_EQ(message(strict),
              "cannot merge window_funnel_counts: mode differs (default vs strict_increase+exact_increase)");
    auto threads = o;
    threads.threads = 2;  // changes no level
    EXPECT_EQ(message(threads), "<no error>");
    // Hand-built counts record nothing and take on the definition they are merged with.
    window_funnel_counts hand(3);
    hand.add(1);
    hand.merge(base);
    EXPECT_EQ(hand.definition(), base.definition());
    o.ticks_per_second = 0;
    EXPECT_THROW(window_funnel(e.view(), o), funnelkit::invalid_argument);
}

TEST(WindowFunnel, CountsNeverWrap) {
    window_funnel_counts a(2);
    const std::int64_t top = std::numeric_limits<std::int64_t>::max();
    a.add(1, top);
    const auto before = a;
    EXPECT_THROW(a.add(2, 1), funnelkit::invalid_argument);
    EXPECT_EQ(a, before);
    window_funnel_counts b(2);
    b.add(0, 1);
    try {
        a.merge(b);
        ADD_FAILURE() << "merge wrapped";
    } catch (const funnelkit::invalid_argument& e) {
        EXPECT_STREQ(e.what(), "cannot merge window_funnel_counts: a count overflows int64 (9223372036854775807 + 1)");
    }
    EXPECT_EQ(a, before);
    EXPECT_EQ(a.reached(0), top);
}

// Merging the states of an entity partition equals the state of the whole input.
TEST(WindowFunnel, MergeOfPartitionsEqualsWhole) {
    auto e = random_events(99, 2000, 20, 4, 100, 0.2);
    const auto o = opts(20, 4);
    const auto whole = window_funnel(e.view(), o).counts;
    events part[3];
    for (std::size_t i = 0; i < e.size(); ++i) part[e.entity[i] % 3].add(e.entity[i], e.time[i], e.mask[i]);
    window_funnel_counts merged;
    for (auto& p : part) merged.merge(window_funnel(p.view(), o).counts);
    EXPECT_EQ(merged, whole);
}


// Large enough for the unsorted kernel's rounds (over 2^17 events) and for two threads.
TEST(WindowFunnel, LargeUnsortedRoundsMatchSorted) {
    auto e = random_events(123, 40'000, 14, 4, 200, 0.1);
    ASSERT_GT(e.size(), std::size_t{1} << 17);
    auto o = opts(30, 4);
    o.per_entity = true;
    o.order = input_order::unsorted;
    const auto shuffled = window_funnel(e.view(), o);
    events s = e;
    s.permute(order_by(e, true, 5));
    o.order = input_order::entity_time;
    const auto sorted = window_funnel(s.view(), o);
    EXPECT_EQ(shuffled.counts, sorted.counts);
    EXPECT_EQ(shuffled.level, sorted.level);
    EXPECT_EQ(shuffled.entity, sorted.entity);
    o.order = input_order::unsorted;
    o.threads = 2;
    EXPECT_EQ(window_funnel(e.view(), o).level, sorted.level);
    const auto want = reference(e, 30, 4, {});
    std::size_t i = 0;
    for (auto [id, lvl] : want) ASSERT_EQ(sorted.level[i++], lvl) << id;
}

// The (entity, time) kernel of the default mode reads an entity's rows in blocks of a few
// thousand: long entities with many events per timestamp, so that blocks end inside a group,
// codes and masks, against the reference and the grouped kernel.
TEST(WindowFunnel, LongEntitiesAcrossBlocks) {
    for (std::uint64_t seed = 1; seed <= 4; ++seed) {
        const unsigned steps = seed <= 2 ? 7 : 4;
        const bool multi = seed % 2 == 0;
        auto e = random_events(seed, 6, 12'000, steps, 2500, multi ? 0.3 : 0.0);
        events sorted = e;
        sorted.permute(order_by(e, true, seed));
        std::vector<std::int32_t> code;
        if (!multi)
            for (auto mk : sorted.mask) code.push_back(mk ? std::countr_zero(mk) : -1);
        for (std::int64_t window : {0, 2, 40}) {
            const auto want = reference(e, window, steps, {});
            auto o = opts(window, steps);
            o.per_entity = true;
            o.order = input_order::entity_time;
            event_columns v = sorted.view();
            if (!multi) v = {.entity = sorted.entity, .time = sorted.time, .step = code};
            const auto r = window_funnel(v, o);
            ASSERT_EQ(r.level.size(), want.size());
            std::size_t i = 0;
            for (auto [id, lvl] : want) {
                ASSERT_EQ(r.entity[i], id);
                EXPECT_EQ(r.level[i], lvl) << "seed " << seed << " window " << window << " entity " << id;
                ++i;
            }
            o.order = input_order::unsorted;
            EXPECT_EQ(window_funnel(e.view(), o).level, r.level);
        }
    }
    // One group of steps 1, 2, 0, 3 (in that row order) at one timestamp reaches level 4 only
    // when taken whole; it is placed after `lead` rows matching no step, for leads around every
    // power of two a block could have, so that some block ends inside it.
    events e;
    std::int64_t id = 0;
    for (std::size_t base : {256u, 512u, 1024u, 2048u, 4096u, 8192u})
        for (std::size_t lead = base - 4; lead <= base + 1; ++lead, ++id) {
            for (std::size_t x = 0; x < lead; ++x) e.add(id, static_cast<std::int64_t>(x / 3), 0);
            for (unsigned step : {1u, 2u, 0u, 3u}) e.add(id, 1'000'000, std::uint64_t{1} << step);
        }
    std::vector<std::int32_t> code;
    for (auto mk : e.mask) code.push_back(mk ? std::countr_zero(mk) : -1);
    auto o = opts(0, 4);
    o.per_entity = true;
    o.order = input_order::entity_time;
    for (bool codes : {false, true}) {
        event_columns v = e.view();
        if (codes) v = {.entity = e.entity, .time = e.time, .step = code};
        const auto r = window_funnel(v, o);
        ASSERT_EQ(r.level.size(), static_cast<std::size_t>(id));
        for (std::size_t k = 0; k < r.level.size(); ++k) EXPECT_EQ(r.level[k], 4) << "entity " << k << " codes " << codes;
    }
}

// Events in time order and sorted by (entity, time), each with its step codes.
struct two_orders {
    events by_time, sorted;
    std::vector<std::int32_t> c_time, c_sorted;
};
two_orders in_two_orders(const events& e, std::uint64_t seed) {
    const auto codes = [](const events& x) {
        std::vector<std::int32_t> c;
        for (auto mk : x.mask) c.push_back(mk ? std::countr_zero(mk) : -1);
        return c;
    };
    two_orders t{e, e, {}, {}};
    t.by_time.permute(order_by(e, false, seed));
    t.sorted.permute(order_by(e, true, seed + 1));
    t.c_time = codes(t.by_time);
    t.c_sorted = codes(t.sorted);
    return t;
}

// In mode m, the time-ordered rows on each thread count give the levels of the sorted rows (and
// so do their step masks when `masks`); the sorted rows have more than `at_least` entities.
void expect_time_order_matches(const two_orders& t, const mode& m, std::vector<unsigned> thread_counts, bool masks,
                               std::size_t at_least) {
    auto o = opts(7, 4, m);
    o.per_entity = true;
    o.order = input_order::entity_time;
    const auto want = window_funnel({.entity = t.sorted.entity, .time = t.sorted.time, .step = t.c_sorted}, o);
    ASSERT_GT(want.entity.size(), at_least);
    for (unsigned threads : thread_counts) {
        o.threads = threads;
        o.order = input_order::time;
        const auto got = window_funnel({.entity = t.by_time.entity, .time = t.by_time.time, .step = t.c_time}, o);
        ASSERT_EQ(got.entity, want.entity) << mode_name(m) << threads;
        ASSERT_EQ(got.level, want.level) << mode_name(m) << " threads " << threads << " entities " << want.entity.size();
        EXPECT_EQ(got.counts, want.counts);
        if (masks) {
            const auto by_mask = window_funnel(t.by_time.view(), o);
            ASSERT_EQ(by_mask.level, want.level) << mode_name(m) << " masks, threads " << threads;
        }
    }
}

// Time order streams through a table of entity states while the entities are few (below 2^17)
// and groups otherwise: both sides of that limit, every mode, codes and masks, 1 to 3 threads,
// against the (entity, time) kernel on the same events.
TEST(WindowFunnel, TimeOrderStreamMatchesSorted) {
    for (std::size_t entities : {std::size_t{700}, std::size_t{140'000}}) {
        const two_orders t = in_two_orders(random_events(entities, entities, entities < 1000 ? 60 : 3, 4, 50, 0.0), 11);
        for (const mode& m : all_modes) expect_time_order_matches(t, m, {1u, 2u, 3u}, true, entities / 2);
    }
    // A bad row is reported at its row whichever thread meets it.
    auto e = random_events(3, 3000, 20, 4, 50, 0.0);
    e.permute(order_by(e, false, 4));
    std::vector<std::int32_t> code;
    for (auto mk : e.mask) code.push_back(mk ? std::countr_zero(mk) : -1);
    code[e.size() - 10] = 9;
    code[e.size() - 5] = 9;
    for (unsigned threads : {1u, 2u}) {
        auto o = opts(7, 4);
        o.order = input_order::time;
        o.threads = threads;
        try {
            window_funnel({.entity = e.entity, .time = e.time, .step = code}, o);
            ADD_FAILURE() << "no error";
        } catch (const std::exception& x) {
            EXPECT_NE(std::string(x.what()).find("row " + std::to_string(e.size() - 10)), std::string::npos) << x.what();
        }
    }
}

// Time order with more entities than the stream's first table holds (2^17): the stream
// estimates the entities and goes on in a reserved table while that fits its budget (default
// and dedup modes here), or gives up and the rows are grouped (the wider states of
// strict_order); either way the levels equal those of the rows sorted by entity, on 1 to 3
// threads.
TEST(WindowFunnel, TimeOrderStreamPastItsFirstTableMatchesSorted) {
    // 140,000 entities fit the first table's slots once reserved; 200,000 need a larger table
    // (the states move), in the default mode only.
    for (const std::size_t entities : {std::size_t{140'000}, std::size_t{200'000}}) {
        const bool larger = entities > 150'000;
        const two_orders t = in_two_orders(random_events(23, entities, larger ? 44 : 40, 4, 5000, 0.0), 13);
        if (larger) {
            expect_time_order_matches(t, mode{}, {1u, 2u}, false, std::size_t{1} << 17);
        } else {
            for (const mode& m : {mode{}, mode{.dedup = true}, mode{.order = true}})
                expect_time_order_matches(t, m, {1u, 2u, 3u}, false, std::size_t{1} << 17);
        }
    }
}

// exact_increase against a brute force: the longest chain of strictly increasing times in the
// window, steps in order.
TEST(WindowFunnel, ExactIncreaseAgainstBruteForce) {
    auto brute = [](std::vector<std::pair<std::int64_t, std::uint64_t>> ev, std::int64_t window, unsigned n) {
        std::sort(ev.begin(), ev.end());
        unsigned best = 0;
        std::vector<std::int64_t> chain;
        auto dfs = [&](auto&& self) -> void {
            best = std::max(best, static_cast<unsigned>(chain.size()));
            if (chain.size() == n) return;
            for (auto [t, m] : ev) {
                if (!((m >> chain.size()) & 1u)) continue;
                if (!chain.empty() && (t <= chain.back() || t - chain[0] > window)) continue;
                chain.push_back(t);
                self(self);
                chain.pop_back();
            }
        };
        dfs(dfs);
        return best;
    };
    bool differs = false;
    for (std::uint64_t seed = 1; seed <= 3; ++seed) {
        auto e = random_events(seed + 300, 1500, 9, 4, 30, 0.3);
        auto o = opts(8, 4, {.increase = true});
        o.exact_increase = true;
        o.per_entity = true;
        for (auto ord : {input_order::unsorted, input_order::detect}) {
            o.order = ord;
            const auto r = window_funnel(e.view(), o);
            std::map<std::int64_t, std::vector<std::pair<std::int64_t, std::uint64_t>>> by;
            for (std::size_t i = 0; i < e.size(); ++i) by[e.entity[i]].emplace_back(e.time[i], e.mask[i]);
            std::size_t i = 0;
            for (auto& [id, ev] : by) {
                ASSERT_EQ(r.level[i], brute(ev, 8, 4)) << "entity " << id;
                differs = differs || r.level[i] != reference_level(ev, 8, 4, {.increase = true});
                ++i;
            }
        }
    }
    EXPECT_TRUE(differs);  // the correction changes some answers on these inputs
    // The documented example: ClickHouse-compatible 2, exact 3.
    const auto ex = one({{0, steps_of({1})}, {10, steps_of({2})}, {3000, steps_of({1})}, {3100, steps_of({2})}, {3100, steps_of({3})}});
    auto o = opts(3600, 3, {.increase = true});
    o.per_entity = true;
    EXPECT_EQ(window_funnel(ex.view(), o).level[0], 2u);
    o.exact_increase = true;
    EXPECT_EQ(window_funnel(ex.view(), o).level[0], 3u);
    o.strict_order = true;
    EXPECT_THROW(window_funnel(ex.view(), o), funnelkit::invalid_argument);
}

// strict_once: ClickHouse's windowFunnel(w, 'strict_once') on these events (steps 1-based as
// bit sets; values checked against ClickHouse through chdb).
TEST(WindowFunnel, StrictOnceClickHouseCases) {
    struct kase {
        std::vector<std::pair<std::int64_t, std::uint64_t>> ev;
        unsigned default_level, once_level;
    };
    const std::vector<kase> cases = {
        {{{1, steps_of({1, 2, 3})}}, 3, 1},
        {{{1, steps_of({1, 2, 3})}, {2, steps_of({1, 2, 3})}}, 3, 2},
        {{{1, steps_of({1, 2})}, {2, steps_of({2, 3})}}, 3, 2},
        {{{1, steps_of({1})}, {1, steps_of({2})}}, 2, 2},
        {{{1, steps_of({2})}, {1, steps_of({1})}}, 2, 2},
        {{{1, steps_of({1, 2})}, {1, steps_of({1, 2})}}, 2, 2},
        {{{1, steps_of({1})}, {2, steps_of({1, 2})}}, 2, 2},
        {{{1, steps_of({1, 2})}, {2, steps_of({3})}}, 3, 1},
        {{{1, steps_of({1})}, {1, steps_of({2, 3})}}, 3, 2},
        {{{1, steps_of({1, 2})}, {1, steps_of({1, 3})}}, 3, 2},
        {{{1, steps_of({1, 2})}, {1, steps_of({1, 2})}, {1, steps_of({3})}}, 3, 3},
    };
    for (const auto& c : cases) {
        events e;
        for (auto [t, m] : c.ev) e.add(7, t, m);
        auto o = opts(100, 3);
        o.per_entity = true;
        EXPECT_EQ(window_funnel(e.view(), o).level.at(0), c.default_level);
        o.strict_once = true;
        for (auto order : {input_order::entity_time, input_order::unsorted}) {
            o.order = order;
            const auto r = window_funnel(e.view(), o);
            ASSERT_EQ(r.level.size(), 1u);
            EXPECT_EQ(r.level[0], c.once_level) << "case " << (&c - cases.data());
        }
    }
}

// With one step per event (step codes), strict_once is the default mode; it records its own
// mode bit, and does not combine with another mode.
TEST(WindowFunnel, StrictOnceWithCodesAndOptions) {
    auto e = random_events(11, 2000, 10, 4, 30, 0.0);
    std::vector<std::int32_t> code;
    for (auto mk : e.mask) code.push_back(mk ? std::countr_zero(mk) : -1);
    const event_columns v{.entity = e.entity, .time = e.time, .step = code};
    auto o = opts(5, 4);
    o.per_entity = true;
    const auto plain = window_funnel(v, o);
    o.strict_once = true;
    const auto once = window_funnel(v, o);
    EXPECT_EQ(once.level, plain.level);
    EXPECT_EQ(once.counts.definition().modes, std::optional<std::uint8_t>(strict_once_mode));
    auto merged = plain.counts;
    EXPECT_THROW(merged.merge(once.counts), invalid_argument);
    o.strict_order = true;
    EXPECT_NE(error_of([&] { window_funnel(v, o); }).find("option 'strict_once'"), std::string::npos);
}

// A bad row is reported as the first bad row of the input whatever the thread count and
// whichever path (time-order stream or grouping) runs: two bad step codes on entities of
// different threads, the later one on the entity seen first.
TEST(WindowFunnel, FirstBadRowWithAnyThreads) {
    const std::size_t n = 3 * 8192;
    std::vector<std::int64_t> ent(n), tim(n);
    std::vector<std::int32_t> code(n);
    for (std::size_t i = 0; i < n; ++i) {
        ent[i] = static_cast<std::int64_t>(i % 97);
        tim[i] = static_cast<std::int64_t>(i);
        code[i] = static_cast<std::int32_t>(i % 3) - 1;
    }
    const auto expect_error = [&](input_order order, unsigned threads, const std::string& needle) {
        auto o = opts(100, 2);
        o.order = order;
        o.threads = threads;
        try {
            window_funnel({.entity = ent, .time = tim, .step = code}, o);
            ADD_FAILURE() << "no error, threads " << threads;
        } catch (const funnelkit::invalid_argument& ex) {
            EXPECT_NE(std::string(ex.what()).find(needle), std::string::npos)
                << ex.what() << " threads " << threads << " order " << static_cast<int>(order);
        }
    };
    for (std::size_t bad : {std::size_t{15000}, std::size_t{20001}}) code[bad] = 7;
    for (input_order order : {input_order::detect, input_order::time, input_order::unsorted})
        for (unsigned threads : {1u, 2u, 3u, 4u}) expect_error(order, threads, "column 'step', row 15000: value 7");
    // A broken time-order promise: the first decrease is named whichever thread checks it.
    for (std::size_t i = 0; i < n; ++i) code[i] = static_cast<std::int32_t>(i % 3) - 1;
    tim[20001] = 0;
    tim[15000] = 1;
    for (unsigned threads : {1u, 2u, 3u, 4u}) expect_error(input_order::time, threads, "column 'time', row 15000: value 1");
    // A bad step code before the broken promise: the promise is checked first, also by one
    // thread streaming the rows (which meets the bad code first).
    tim[15000] = 15000;
    code[9000] = 7;
    for (unsigned threads : {1u, 2u, 3u, 4u}) expect_error(input_order::time, threads, "column 'time', row 20001: value 0");
    // More entities than a time-order stream keeps: the stream gives up, and a promise broken
    // after that point is still reported.
    const std::size_t many = (std::size_t{1} << 17) + 5000;
    ent.resize(many);
    tim.resize(many);
    code.assign(many, 0);
    for (std::size_t i = 0; i < many; ++i) {
        ent[i] = static_cast<std::int64_t>(i);
        tim[i] = static_cast<std::int64_t>(i);
    }
    tim[many - 10] = 3;
    for (unsigned threads : {1u, 2u}) expect_error(input_order::time, threads, "row " + std::to_string(many - 10) + ": value 3");
}

// The smallest int64 is reserved for "no time" across the library: as a timestamp it is an
// error naming its row on every path (sorted, time-order stream, grouping) and thread count,
// while the next value up is an ordinary time.
TEST(WindowFunnel, SmallestInt64IsNotATimestamp) {
    constexpr std::int64_t least = std::numeric_limits<std::int64_t>::min();
    const std::size_t n = 3 * 8192;
    for (input_order order : {input_order::entity_time, input_order::time, input_order::unsorted})
        for (unsigned threads : {1u, 2u, 3u}) {
            std::vector<std::int64_t> ent(n), tim(n);
            std::vector<std::int32_t> code(n);
            for (std::size_t i = 0; i < n; ++i) {
                ent[i] = order == input_order::entity_time ? static_cast<std::int64_t>(i / 97)
                                                           : static_cast<std::int64_t>((i * 7919) % 101);
                tim[i] = order == input_order::entity_time ? static_cast<std::int64_t>(i % 97) : static_cast<std::int64_t>(i);
                code[i] = static_cast<std::int32_t>(i % 3) - 1;
            }
            auto o = opts(100, 2);
            o.order = order;
            o.threads = threads;
            // The first row may hold least + 1 (sorted input must start with it there).
            tim[0] = least + 1;
            if (order == input_order::entity_time) tim[97] = least + 1;
            EXPECT_NO_THROW(window_funnel({.entity = ent, .time = tim, .step = code}, o));
            const std::size_t bad = order == input_order::entity_time ? 194 : 0;
            tim[bad] = least;
            EXPECT_EQ(error_of([&] { window_funnel({.entity = ent, .time = tim, .step = code}, o); }),
                      "column 'time', row " + std::to_string(bad) +
                          ": value -9223372036854775808 is the smallest int64, which is reserved for 'no time'; it is "
                          "not a valid timestamp")
                << "order " << static_cast<int>(order) << " threads " << threads;
        }
}

// Rows promised in (entity, time) order are cut between threads at entity boundaries. A broken
// entity order at a cut is still the error of its row, named only when no earlier row is bad:
// the first bad row of the input, whatever the thread count (a step code at row 10 comes before
// an entity decrease at row 10000, where two or four threads cut 20000 rows).
TEST(WindowFunnel, EntityOrderBrokenAtAThreadCutIsNotReportedBeforeEarlierRows) {
    const std::size_t n = 20000;
    std::vector<std::int64_t> ent(n), tim(n);
    std::vector<std::int32_t> code(n, 0);
    const auto reset = [&] {
        for (std::size_t i = 0; i < n; ++i) {
            // Entities of 10 rows, ascending, then from row 10000 on smaller ids again.
            ent[i] = static_cast<std::int64_t>(i / 10) - (i >= 10000 ? 5000 : 0);
            tim[i] = static_cast<std::int64_t>(i % 10);
            code[i] = 0;
        }
    };
    const auto error_of = [&](unsigned threads, bool masks) -> std::string {
        auto o = opts(10, 3);
        o.order = input_order::entity_time;
        o.threads = threads;
        std::vector<std::uint64_t> mask(n);
        for (std::size_t i = 0; i < n; ++i) mask[i] = code[i] < 0 ? 0 : std::uint64_t{1} << (code[i] & 63);
        try {
            if (masks) window_funnel({.entity = ent, .time = tim, .step_mask = mask}, o);
            else window_funnel({.entity = ent, .time = tim, .step = code}, o);
        } catch (const funnelkit::invalid_argument& ex) {
            return ex.what();
        }
        return "no error";
    };
    for (bool masks : {false, true}) {
        reset();
        code[10] = 7;  // a step code beyond 3 steps (a mask with bit 7)
        const std::string step = masks ? "column 'step_mask', row 10" : "column 'step', row 10";
        for (unsigned threads : {1u, 2u, 3u, 4u})
            EXPECT_NE(error_of(threads, masks).find(step), std::string::npos) << error_of(threads, masks) << " threads " << threads;
        reset();
        tim[15] = -3;  // time decreasing within entity 1
        for (unsigned threads : {1u, 2u, 3u, 4u})
            EXPECT_NE(error_of(threads, masks).find("column 'time', row 15: value -3"), std::string::npos)
                << error_of(threads, masks) << " threads " << threads;
        reset();  // only the entity order broken: named at its row with any thread count
        for (unsigned threads : {1u, 2u, 3u, 4u})
            EXPECT_NE(error_of(threads, masks).find("column 'entity', row 10000: value -4000"), std::string::npos)
                << error_of(threads, masks) << " threads " << threads;
    }
}
