#include <gtest/gtest.h>

#include <funnelkit/detail/random.hpp>
#include <funnelkit/grouping.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

using namespace funnelkit;

namespace {

struct table {
    std::vector<std::int64_t> entity, time;
    std::vector<std::int32_t> value;  // < 0: a row the kernel drops
};

// Skewed entity sizes (one entity holds a fifth of the rows), many ties, a third of the rows
// dropped, and every row of the entities with ids divisible by 7 dropped (such entities are
// visited with no rows, once, however their dropped rows fall among the others).
// rows_per_entity: about how many rows each of the other entities holds (the grouping sorts a
// bin as a whole from 16 kept rows per entity on average, each entity on its own below).
table random_table(std::uint64_t seed, std::size_t n, std::size_t rows_per_entity = 20) {
    detail::rng r(seed);
    table t;
    for (std::size_t i = 0; i < n; ++i) {
        const auto id = r.uniform() < 0.2 ? std::int64_t{-5}
                                          : static_cast<std::int64_t>(r.below(n / rows_per_entity + 1)) * 977 - 3000;
        t.entity.push_back(id);
        t.time.push_back(static_cast<std::int64_t>(r.below(50)) - 10);
        t.value.push_back(r.uniform() < 0.33 || id % 7 == 0 ? -1 : static_cast<std::int32_t>(r.below(1000)));
    }
    return t;
}

using grouped = std::map<std::int64_t, std::vector<std::pair<std::int64_t, std::int32_t>>>;

// Reference: every entity, its kept rows sorted by (time, value).
grouped reference(const table& t, bool dropped_too) {
    grouped g;
    for (std::size_t i = 0; i < t.entity.size(); ++i) {
        if (t.value[i] >= 0) g[t.entity[i]].emplace_back(t.time[i], t.value[i]);
        else if (dropped_too) g[t.entity[i]];
    }
    for (auto& [id, rows] : g) std::sort(rows.begin(), rows.end());
    return g;
}

grouped run(const table& t, unsigned threads, std::size_t budget, bool dropped_too) {
    grouped g;
    std::mutex mu;
    grouping_options o;
    o.threads = threads;
    o.budget_bytes = budget;
    o.visit_dropped = dropped_too;
    group_by_entity<std::int32_t>(
        t.entity, t.time,
        [&](std::size_t i, std::int32_t& p) {
            p = t.value[i];
            return p >= 0;
        },
        [&](unsigned thread, std::int64_t id, std::span<const grouped_row<std::int32_t>> rows) {
            EXPECT_LT(thread, threads);
            std::lock_guard<std::mutex> lock(mu);
            EXPECT_EQ(g.count(id), 0u) << "entity " << id << " visited twice";
            auto& v = g[id];
            for (const auto& r : rows) v.emplace_back(r.time, r.payload);
        },
        o, [](std::int32_t a, std::int32_t b) { return a < b; });
    return g;
}

}  // namespace

// Every entity visited once with its kept rows in (time, tie order), whatever the row order,
// the number of threads and the memory budget: the default (one pass into the arena), 2 MiB
// (300,000 rows of 20 bytes, two thirds kept, do not fit: the one-pass partition stops at an
// eighth of the rows on the trend) and 64 KiB (it stops when the arena runs out; then rounds).
TEST(Grouping, MatchesReferenceForEveryOrderThreadAndBudget) {
    // Seeds 1 and 2: about 13 kept rows per entity; seed 3: about 130 (whole-bin sorts).
    for (std::uint64_t seed : {1u, 2u, 3u}) {
        for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{37}, std::size_t{300'000}}) {
            table t = random_table(seed, n, seed == 3 ? 200 : 20);
            for (bool dropped_too : {true, false}) {
                const grouped want = reference(t, dropped_too);
                for (unsigned threads : {1u, 2u, 3u})
                    for (std::size_t budget : {std::size_t{0}, std::size_t{2} << 20, std::size_t{1} << 16}) {
                        EXPECT_EQ(run(t, threads, budget, dropped_too), want)
                            << "seed " << seed << " n " << n << " threads " << threads << " budget " << budget;
                    }
                // Sorted by (entity, time) and by time only: the same groups.
                std::vector<std::size_t> p(n);
                for (std::size_t i = 0; i < n; ++i) p[i] = i;
                for (int by_entity = 0; by_entity < 2; ++by_entity) {
                    std::stable_sort(p.begin(), p.end(), [&](std::size_t a, std::size_t b) {
                        return by_entity ? std::pair(t.entity[a], t.time[a]) < std::pair(t.entity[b], t.time[b])
                                         : t.time[a] < t.time[b];
                    });
                    table s;
                    for (std::size_t i : p) {
                        s.entity.push_back(t.entity[i]);
                        s.time.push_back(t.time[i]);
                        s.value.push_back(t.value[i]);
                    }
                    EXPECT_EQ(run(s, 2, 0, dropped_too), want);
                }
            }
        }
    }
}

// Rounds cover the bins in order, as few as the budget needs, filled evenly: the buffers are
// sized for the largest round.
TEST(Grouping, RoundsAreFewAndEven) {
    const std::vector<std::size_t> none(8, 0);
    const std::vector<std::size_t> kept{10, 10, 10, 10, 10, 10, 10, 12};  // 82 rows of 1 byte
    EXPECT_EQ(detail::grouping_rounds(kept, none, 1, 100), (std::vector<std::size_t>{0, 8}));
    // 82 bytes in a budget of 60: two rounds of about 41 (not 60 and 22).
    EXPECT_EQ(detail::grouping_rounds(kept, none, 1, 60), (std::vector<std::size_t>{0, 4, 8}));
    // A bin larger than the budget is a round of its own.
    EXPECT_EQ(detail::grouping_rounds({5, 50, 5}, {0, 0, 0}, 1, 20), (std::vector<std::size_t>{0, 1, 2, 3}));
    // Dropped rows count 8 bytes each.
    EXPECT_EQ(detail::grouping_rounds({0, 0}, {2, 2}, 100, 16), (std::vector<std::size_t>{0, 1, 2}));
    EXPECT_EQ(detail::grouping_rounds({}, {}, 17, 0), (std::vector<std::size_t>{0, 0}));
}

// A long entity goes through the radix sort: times spanning the whole int64 range.
TEST(Grouping, LongEntityWithExtremeTimes) {
    detail::rng r(9);
    table t;
    for (std::size_t i = 0; i < 5000; ++i) {
        t.entity.push_back(42);
        const std::uint64_t u = r.next();
        t.time.push_back(static_cast<std::int64_t>(u));
        t.value.push_back(static_cast<std::int32_t>(i % 7));
    }
    t.time[0] = std::numeric_limits<std::int64_t>::min();
    t.time[1] = std::numeric_limits<std::int64_t>::max();
    EXPECT_EQ(run(t, 1, 0, true), reference(t, true));
}

// Two threads on a huge-page arena of 128 MiB: the largest bins (here the one holding the
// entity with a fifth of the rows, and one more) keep their rows on pages of their own, given
// back once copied; the other bins' rows are cut from the arena's bottom. Four bins, so that
// both kinds meet; rows read from a page given back too early would read as zeros.
TEST(Grouping, LargestBinsOnPagesOfTheirOwnMatchReference) {
    table t = random_table(11, 1'200'000);
    for (bool dropped_too : {true, false})
        EXPECT_EQ(run(t, 2, std::size_t{1} << 27, dropped_too), reference(t, dropped_too)) << "dropped " << dropped_too;
}

// A throwing classifier: the exception of the first bad row reaches the caller, from any thread.
// Bad rows: 40,000 (thread 0's share with two threads) and all from 50,001 (thread 1's). Thread
// 0 waits at row 100 until thread 1 has thrown, so that with 64 KiB, where the one-pass
// partition then stops for want of memory before thread 0 reaches its bad row, thread 1's
// error has come first; the caller must still get row 40,000.
TEST(Grouping, ClassifierErrorsReachTheCaller) {
    table t = random_table(3, 100'000);
    for (unsigned threads : {1u, 2u})
        for (std::size_t budget : {std::size_t{0}, std::size_t{1} << 16}) {
            grouping_options o;
            o.threads = threads;
            o.budget_bytes = budget;
            std::atomic<bool> thrown{false};
            try {
                group_by_entity<int>(
                    t.entity, t.time,
                    [&](std::size_t i, int&) -> bool {
                        if (i == 100 && threads == 2)
                            for (int k = 0; k < 10'000 && !thrown.load(); ++k)
                                std::this_thread::sleep_for(std::chrono::milliseconds(1));
                        if (i > 50'000) thrown.store(true);
                        if (i == 40'000 || i > 50'000) throw std::runtime_error("row " + std::to_string(i));
                        return true;
                    },
                    [](unsigned, std::int64_t, std::span<const grouped_row<int>>) {}, o);
                FAIL() << "no error";
            } catch (const std::runtime_error& e) {
                EXPECT_STREQ(e.what(), "row 40000") << "threads " << threads << " budget " << budget;
            }
        }
}

// A visitor that throws on one thread: the other threads, which wait at the end for every bin
// to be grouped before giving back the arena's pages, stop waiting, and the error reaches the
// caller (a hang here would time the test out). The throwing bin is the first one taken (the
// largest), so the other thread has many bins left when it happens; then the last one taken.
TEST(Grouping, VisitorErrorsStopTheOtherThreads) {
    table t = random_table(5, 2'000'000);  // 4 bins on several threads
    const std::size_t entities = reference(t, false).size();
    for (unsigned threads : {2u, 3u})
        for (bool early : {true, false}) {
            grouping_options o;
            o.threads = threads;
            o.budget_bytes = std::size_t{1} << 27;  // room for the one-pass partition, the path that waits
            std::atomic<std::size_t> visits{0};
            const std::size_t throw_at = early ? 1 : entities - 10;
            std::atomic<bool> armed{true};
            try {
                group_by_entity<int>(
                    t.entity, t.time, [&](std::size_t i, int& v) -> bool { return (v = t.value[i]) >= 0; },
                    [&](unsigned, std::int64_t, std::span<const grouped_row<int>>) {
                        const std::size_t k = visits.fetch_add(1) + 1;
                        if (k == throw_at && armed.exchange(false))
                            throw std::runtime_error("visitor failed");
                    },
                    o);
                FAIL() << "no error, threads " << threads;
            } catch (const std::runtime_error& e) {
                EXPECT_STREQ(e.what(), "visitor failed");
            }
        }
}

// fold_by_entity: every entity folded once over all its rows, whatever the thread count.
TEST(Grouping, FoldVisitsEveryEntityOnceWithItsWholeState) {
    for (std::size_t n : {std::size_t{0}, std::size_t{5}, std::size_t{200'000}}) {
        table t = random_table(4, n);
        std::map<std::int64_t, std::pair<std::int64_t, std::int64_t>> want;  // rows, sum of values
        for (std::size_t i = 0; i < n; ++i) {
            want[t.entity[i]].first += 1;
            want[t.entity[i]].second += t.value[i];
        }
        for (unsigned threads : {1u, 2u, 3u}) {
            std::map<std::int64_t, std::pair<std::int64_t, std::int64_t>> got;
            std::mutex mu;
            fold_by_entity(
                t.entity, 2,
                [&](std::size_t i, std::int64_t* w, bool fresh) {
                    if (fresh) {
                        EXPECT_TRUE(w[0] == 0 && w[1] == 0);
                    }
                    w[0] += 1;
                    w[1] += t.value[i];
                },
                [&](unsigned, std::int64_t id, const std::int64_t* w) {
                    std::lock_guard<std::mutex> lock(mu);
                    EXPECT_EQ(got.count(id), 0u);
                    got[id] = {w[0], w[1]};
                },
                threads);
            EXPECT_EQ(got, want) << "n " << n << " threads " << threads;
        }
    }
}

// The distinct-count estimate that sizes fold tables: within a few percent for every
// cardinality and key pattern (dense, spread by 2^32, negative), never above the row count.
TEST(Grouping, DistinctEstimateIsCloseForEveryCardinality) {
    detail::rng r(11);
    for (std::size_t distinct : {std::size_t{1}, std::size_t{7}, std::size_t{300}, std::size_t{5'000},
                                 std::size_t{60'000}, std::size_t{400'000}}) {
        for (int pattern = 0; pattern < 3; ++pattern) {
            std::vector<std::int64_t> keys(400'000);
            std::vector<bool> seen(distinct, false);
            std::size_t truth = 0;
            for (auto& k : keys) {
                const std::uint64_t v = r.below(distinct);
                truth += !seen[v];
                seen[v] = true;
                k = pattern == 0 ? static_cast<std::int64_t>(v)
                                 : pattern == 1 ? static_cast<std::int64_t>(v << 32) : -static_cast<std::int64_t>(v) * 977;
            }
            const std::size_t est = detail::estimate_distinct(keys.data(), keys.size());
            EXPECT_LE(est, keys.size());
            EXPECT_NEAR(static_cast<double>(est), static_cast<double>(truth), 0.05 * static_cast<double>(truth) + 1)
                << "distinct " << truth << " pattern " << pattern;
        }
    }
    EXPECT_EQ(detail::estimate_distinct(nullptr, 0), 0u);
}

// The estimate is the same whichever way the keys are hashed (eight at a time with AVX-512
// where the processor has it, else one by one): equal to a plain HyperLogLog written here,
// for key counts around the vector width and patterns that fill registers unevenly.
TEST(Grouping, DistinctEstimateEqualsAPlainSketch) {
    const auto plain = [](const std::vector<std::int64_t>& keys) {
        constexpr unsigned bits = 12;
        std::vector<std::uint8_t> reg(std::size_t{1} << bits, 0);
        for (const std::int64_t k : keys) {
            const std::uint64_t h = detail::mix64(static_cast<std::uint64_t>(k));
            unsigned rank = 1;
            for (std::uint64_t rest = h << bits; rank <= 64 - bits && !(rest >> 63); rest <<= 1) ++rank;
            std::uint8_t& r = reg[h >> (64 - bits)];
            r = std::max<std::uint8_t>(r, static_cast<std::uint8_t>(rank));
        }
        double sum = 0.0;
        std::size_t zeros = 0;
        for (const std::uint8_t r : reg) {
            sum += std::ldexp(1.0, -static_cast<int>(r));
            zeros += r == 0;
        }
        const double m = static_cast<double>(reg.size());
        double e = 0.7213 / (1.0 + 1.079 / m) * m * m / sum;
        if (e <= 2.5 * m && zeros > 0) e = m * std::log(m / static_cast<double>(zeros));
        return static_cast<std::size_t>(std::min(e, static_cast<double>(keys.size())) + 0.5);
    };
    detail::rng r(21);
    for (std::size_t n : {std::size_t{1}, std::size_t{7}, std::size_t{8}, std::size_t{9}, std::size_t{15}, std::size_t{17},
                          std::size_t{1000}, std::size_t{123'457}, std::size_t{600'001}}) {
        for (int pattern = 0; pattern < 3; ++pattern) {
            std::vector<std::int64_t> keys(n);
            for (auto& k : keys) {
                const std::uint64_t v = r.below(pattern == 0 ? n : 50);
                k = pattern == 2 ? static_cast<std::int64_t>(v << 40) - 1 : static_cast<std::int64_t>(v);
            }
            EXPECT_EQ(detail::estimate_distinct(keys.data(), n), plain(keys)) << "n " << n << " pattern " << pattern;
        }
    }
}

// The sketch that sizes the fold tables on several threads: the sketches of parts of the keys,
// merged, give estimate_distinct's estimate of all of them, whatever the split.
TEST(Grouping, MergedSketchesOfPartsEstimateTheWhole) {
    detail::rng r(31);
    for (std::size_t n : {std::size_t{1}, std::size_t{1000}, std::size_t{250'001}}) {
        std::vector<std::int64_t> keys(n);
        for (auto& k : keys) k = static_cast<std::int64_t>(r.below(n / 3 + 1)) * 7919 - 5;
        const std::size_t whole = detail::estimate_distinct(keys.data(), n);
        for (std::size_t parts : {std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{7}}) {
            std::vector<detail::distinct_sketch> sketch(parts);
            for (std::size_t i = 0; i < n; ++i) sketch[i * parts / n].offer(detail::mix64(static_cast<std::uint64_t>(keys[i])));
            for (std::size_t p = 1; p < parts; ++p) sketch[0].merge(sketch[p]);
            EXPECT_EQ(sketch[0].estimate(n), whole) << "n " << n << " parts " << parts;
        }
    }
}

// fold_by_entity's first pass on several threads lists rows by number: with 8-byte numbers (the
// form past 2^32 rows) as with 4-byte ones, on 1 to 4 threads, every entity is folded once
// over all its rows, for one-word and wider states.
TEST(Grouping, FoldWithEitherRowNumbersVisitsEveryEntityOnce) {
    table t = random_table(12, 120'000);
    std::map<std::int64_t, std::int64_t> want;
    for (std::size_t i = 0; i < t.entity.size(); ++i) want[t.entity[i]] += t.value[i] + 1;
    for (const std::size_t words : {std::size_t{1}, std::size_t{3}})
        for (unsigned threads : {1u, 2u, 3u, 4u})
            for (const bool wide : {false, true}) {
                std::map<std::int64_t, std::int64_t> got;
                std::mutex mu;
                const auto fold = [&](std::size_t i, std::int64_t* w, bool) { w[words - 1] += t.value[i] + 1; };
                const auto visit = [&](unsigned, std::int64_t id, const std::int64_t* w) {
                    std::lock_guard<std::mutex> lock(mu);
                    EXPECT_TRUE(got.emplace(id, w[words - 1]).second) << id;
                };
                if (wide)
                    detail::fold_by_entity_numbered<std::uint64_t>(t.entity, words, fold, visit, threads);
                else
                    detail::fold_by_entity_numbered<std::uint32_t>(t.entity, words, fold, visit, threads);
                EXPECT_EQ(got, want) << "words " << words << " threads " << threads << " wide " << wide;
            }
}

// A table sized far too small grows on the way and keeps every key's state.
TEST(Grouping, StateTableGrowsPastItsSizeKeepingStates) {
    detail::state_table t(2, 4);
    bool fresh = false;
    for (std::int64_t round = 0; round < 3; ++round)
        for (std::int64_t k = 0; k < 50'000; ++k) {
            std::int64_t* s = t.find_or_insert(k * 7919 - 100'000, fresh);
            EXPECT_EQ(fresh, round == 0);
            if (fresh) {
                EXPECT_EQ(s[0], 0);
                EXPECT_EQ(s[1], 0);
            }
            s[0] += 1;
            s[1] += k;
        }
    EXPECT_EQ(t.size(), 50'000u);
    std::size_t visited = 0;
    t.for_each([&](std::int64_t key, std::int64_t* s) {
        ++visited;
        const std::int64_t k = (key + 100'000) / 7919;
        EXPECT_EQ(s[0], 3);
        EXPECT_EQ(s[1], 3 * k);
    });
    EXPECT_EQ(visited, 50'000u);
}

// The tables' hash (one multiplication, halves swapped) spreads the id patterns of real data
// over the slots it indexes by: consecutive ids, ids with a stride of 1000, of 2^32 and of
// 2^40 (the low bits all equal), negative ones. 65,536 keys into 65,536 buckets or slots (as
// bucket_table and state_table take them: the top bits of the hash's low half) leave none with
// more than a handful; the unswapped product, whose low half ignores the high bits of a key,
// would put every key of stride 2^32 in one bucket, and the hash's lowest bits (the product's
// middle) left seven slots in eight empty for consecutive ids.
TEST(Grouping, TableHashSpreadsCommonIdPatterns) {
    constexpr std::size_t keys = 65536;
    for (const std::int64_t stride : {std::int64_t{1}, std::int64_t{1000}, std::int64_t{1} << 32, std::int64_t{1} << 40,
                                      std::int64_t{-7}}) {
        std::vector<std::uint32_t> by_bucket(keys, 0), by_slot(keys, 0);
        for (std::size_t i = 0; i < keys; ++i) {
            const std::uint64_t h = detail::table_hash(static_cast<std::uint64_t>(static_cast<std::int64_t>(i) * stride + 12345));
            ++by_bucket[((h & 0xffffffffu) * keys) >> 32];  // bucket_table
            ++by_slot[(h & 0xffffffffu) >> 16];             // state_table
        }
        EXPECT_LE(*std::max_element(by_bucket.begin(), by_bucket.end()), 8u) << "stride " << stride;
        EXPECT_LE(*std::max_element(by_slot.begin(), by_slot.end()), 8u) << "stride " << stride;
    }
}

// The one-word table: a table sized far too small grows (spilling full buckets into the next
// ones on the way) and keeps every key's word, the keys 0, -1, INT64_MAX and INT64_MIN (kept
// beside the table) included; for_each visits each key once.
TEST(Grouping, BucketTableGrowsPastItsSizeKeepingWords) {
    for (double load : {0.4, 0.8}) {
        detail::bucket_table t(3, load);
        std::vector<std::int64_t> keys = {0, -1, std::numeric_limits<std::int64_t>::max(), std::numeric_limits<std::int64_t>::min()};
        for (std::int64_t k = 1; k <= 30'000; ++k) keys.push_back(k * 7919 - 100'000'000);
        bool fresh = false;
        for (std::int64_t round = 0; round < 3; ++round)
            for (std::size_t i = 0; i < keys.size(); ++i) {
                std::int64_t* w = t.find_or_insert_hashed(keys[i], detail::table_hash(static_cast<std::uint64_t>(keys[i])), fresh);
                EXPECT_EQ(fresh, round == 0);
                if (fresh) {
                    EXPECT_EQ(*w, 0);
                }
                *w += static_cast<std::int64_t>(i) + 1;
            }
        EXPECT_EQ(t.size(), keys.size());
        std::map<std::int64_t, std::int64_t> seen;
        t.for_each([&](std::int64_t key, std::int64_t* w) { EXPECT_TRUE(seen.emplace(key, *w).second) << key; });
        ASSERT_EQ(seen.size(), keys.size());
        for (std::size_t i = 0; i < keys.size(); ++i) EXPECT_EQ(seen[keys[i]], 3 * (static_cast<std::int64_t>(i) + 1)) << keys[i];
    }
}

// fold_by_entity with a one-word state (the bucket table) on 1 to 3 threads: every entity,
// the extreme ids included, folded once over all its rows.
TEST(Grouping, OneWordFoldVisitsEveryEntityOnce) {
    table t = random_table(8, 150'000);
    t.entity[10] = std::numeric_limits<std::int64_t>::min();
    t.entity[11] = std::numeric_limits<std::int64_t>::min();
    t.entity[12] = 0;
    t.entity[13] = std::numeric_limits<std::int64_t>::max();
    std::map<std::int64_t, std::int64_t> want;
    for (std::size_t i = 0; i < t.entity.size(); ++i) want[t.entity[i]] += t.value[i] + 1;
    for (unsigned threads : {1u, 2u, 3u}) {
        std::map<std::int64_t, std::int64_t> got;
        std::mutex mu;
        fold_by_entity(
            t.entity, 1,
            [&](std::size_t i, std::int64_t* w, bool fresh) {
                if (fresh) {
                    EXPECT_EQ(*w, 0);
                }
                *w += t.value[i] + 1;
            },
            [&](unsigned, std::int64_t id, const std::int64_t* w) {
                std::lock_guard<std::mutex> lock(mu);
                EXPECT_TRUE(got.emplace(id, *w).second) << id;
            },
            threads);
        EXPECT_EQ(got, want) << "threads " << threads;
    }
}
