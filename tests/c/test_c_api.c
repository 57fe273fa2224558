/* The C ABI, used from C: every handle type, serialization round trips, merges, and errors that
 * come back as statuses with messages (never as a crash). Compiled as C11. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "funnelkit/c/funnelkit.h"

static int failures = 0;
static int checks = 0;

#define CHECK(cond)                                                          \
    do {                                                                     \
        ++checks;                                                            \
        if (!(cond)) {                                                       \
            ++failures;                                                      \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                    \
    } while (0)
#define OK(call) CHECK((call) == FK_OK)
#define NEAR(a, b, tol) CHECK(fabs((a) - (b)) <= (tol))
#define ERR_HAS(text) CHECK(strstr(fk_last_error(), (text)) != NULL)

/* ClickHouse's windowFunnel on small hand-made cases, in every mode. */
static void test_window_funnel_levels(void) {
    /* steps 1@0, 2@10, 1@3000, 2@3100, 3@3100 with a one-hour window: ClickHouse's
     * strict_increase gives 2, funnelkit's exact_increase gives 3, the default mode 3. */
    int64_t t[] = {0, 10, 3000, 3100, 3100};
    uint64_t m[] = {1, 2, 1, 2, 4};
    uint32_t level = 99, modes = 0;
    OK(fk_window_funnel_level(t, m, 5, 3600, 3, 0, &level));
    CHECK(level == 3);
    OK(fk_window_funnel_modes("strict_increase", &modes));
    OK(fk_window_funnel_level(t, m, 5, 3600, 3, modes, &level));
    CHECK(level == 2);
    {
        /* strict_once: one event matching steps 1 and 2 counts for one of them only. */
        int64_t t1[] = {0};
        uint64_t m1[] = {3};
        OK(fk_window_funnel_modes("strict_once", &modes));
        CHECK(modes == FK_STRICT_ONCE);
        OK(fk_window_funnel_level(t1, m1, 1, 3600, 2, modes, &level));
        CHECK(level == 1);
        CHECK(fk_window_funnel_modes("strict_once,strict_order", &modes) == FK_INVALID_ARGUMENT);
        ERR_HAS("strict_once");
    }
    OK(fk_window_funnel_modes("strict_increase, exact_increase", &modes));
    CHECK(modes == (FK_STRICT_INCREASE | FK_EXACT_INCREASE));
    OK(fk_window_funnel_level(t, m, 5, 3600, 3, modes, &level));
    CHECK(level == 3);

    /* strict_order: an event matching no step after step 1 ends the search. */
    {
        int64_t t2[] = {0, 1, 2, 3};
        uint64_t m2[] = {1, 0, 2, 4};
        OK(fk_window_funnel_level(t2, m2, 4, 100, 3, 0, &level));
        CHECK(level == 3);
        OK(fk_window_funnel_modes("strict_order", &modes));
        OK(fk_window_funnel_level(t2, m2, 4, 100, 3, modes, &level));
        CHECK(level == 1);
    }
    /* strict_order vs allow_reentry: step 1 again before step 2. */
    {
        int64_t t3[] = {0, 1, 2, 3};
        uint64_t m3[] = {1, 1, 2, 4};
        OK(fk_window_funnel_modes("strict_order", &modes));
        OK(fk_window_funnel_level(t3, m3, 4, 100, 3, modes, &level));
        CHECK(level == 3);
        /* step 3 before step 2 (checked with ClickHouse: 1 in strict_order, 3 with allow_reentry). */
        {
            int64_t t4[] = {0, 1, 2, 3};
            uint64_t m4[] = {1, 4, 2, 4};
            OK(fk_window_funnel_level(t4, m4, 4, 100, 3, modes, &level));
            CHECK(level == 1);
            OK(fk_window_funnel_modes("strict_order,allow_reentry", &modes));
            OK(fk_window_funnel_level(t4, m4, 4, 100, 3, modes, &level));
            CHECK(level == 3);
        }
    }
    /* strict_deduplication: a repeated step 2 ends the search at level 2. */
    {
        int64_t t5[] = {0, 1, 2, 3};
        uint64_t m5[] = {1, 2, 2, 4};
        OK(fk_window_funnel_modes("strict_deduplication", &modes));
        OK(fk_window_funnel_level(t5, m5, 4, 100, 3, modes, &level));
        CHECK(level == 2);
    }
    /* The window boundary is inclusive. */
    {
        int64_t t6[] = {0, 10};
        uint64_t m6[] = {1, 2};
        OK(fk_window_funnel_level(t6, m6, 2, 10, 2, 0, &level));
        CHECK(level == 2);
        OK(fk_window_funnel_level(t6, m6, 2, 9, 2, 0, &level));
        CHECK(level == 1);
    }
    /* Errors: unknown modes, bad combinations, bad windows and step counts. */
    CHECK(fk_window_funnel_modes("strict_ordr", &modes) == FK_INVALID_ARGUMENT);
    ERR_HAS("strict_ordr");
    CHECK(fk_window_funnel_modes("allow_reentry", &modes) == FK_INVALID_ARGUMENT);
    ERR_HAS("requires strict_order");
    CHECK(fk_window_funnel_level(t, m, 5, -1, 3, 0, &level) == FK_INVALID_ARGUMENT);
    ERR_HAS("window");
    CHECK(fk_window_funnel_level(t, m, 5, 10, 65, 0, &level) == FK_INVALID_ARGUMENT);
    ERR_HAS("64");
    CHECK(fk_window_funnel_level(t, m, 5, 10, 2, 0, &level) == FK_INVALID_ARGUMENT); /* mask 4 > 2 steps */
    CHECK(fk_window_funnel_level(t, m, 5, 10, 3, 0, NULL) == FK_NULL_POINTER);
}

static void test_events_state(void) {
    fk_events *a = NULL, *b = NULL, *c = NULL;
    const void* data;
    size_t size, n;
    int defined;
    uint32_t level;
    OK(fk_events_new(&a));
    OK(fk_events_new(&b));
    OK(fk_events_define(a, 100, 3, 0));
    OK(fk_events_add(a, 0, 1));
    OK(fk_events_add(a, 5, 0)); /* matches no step: dropped outside strict_order */
    OK(fk_events_add(b, 50, 4));
    OK(fk_events_add(b, 20, 2));
    OK(fk_events_size(a, &n, &defined));
    CHECK(n == 1 && defined == 1);
    OK(fk_events_level(a, &level));
    CHECK(level == 1);
    /* Merge, serialize, deserialize: the same level. */
    OK(fk_events_merge(a, b));
    OK(fk_events_level(a, &level));
    CHECK(level == 3);
    OK(fk_events_serialize(a, &data, &size));
    OK(fk_events_deserialize(data, size, &c));
    OK(fk_events_level(c, &level));
    CHECK(level == 3);
    /* A corrupted blob is refused with a message, whichever byte is flipped. */
    {
        unsigned char* copy = malloc(size);
        size_t i;
        int refused = 0;
        for (i = 0; i < size; ++i) {
            fk_events* d = NULL;
            memcpy(copy, data, size);
            copy[i] ^= 0x10;
            if (fk_events_deserialize(copy, size, &d) == FK_INVALID_ARGUMENT) ++refused;
            fk_events_free(d);
        }
        CHECK(refused == (int)size);
        CHECK(fk_events_deserialize(copy, 3, &c) == FK_INVALID_ARGUMENT);
        ERR_HAS("cannot deserialise fk_events");
        free(copy);
    }
    /* A different definition does not merge; the message names the field. */
    {
        fk_events* other = NULL;
        OK(fk_events_new(&other));
        OK(fk_events_define(other, 200, 3, 0));
        CHECK(fk_events_merge(a, other) == FK_INVALID_ARGUMENT);
        CHECK(strstr(fk_events_error(a), "window") != NULL);
        CHECK(fk_events_define(a, 100, 2, 0) == FK_INVALID_ARGUMENT);
        fk_events_free(other);
    }
    /* Multi-entity columns give funnel counts. */
    {
        fk_events* e = NULL;
        fk_funnel_counts *fc = NULL, *fc2 = NULL;
        int64_t ent[] = {1, 1, 1, 2, 2, 3, 4};
        int64_t tt[] = {0, 10, 20, 0, 100, 5, 5};
        uint64_t mm[] = {1, 2, 4, 1, 2, 2, 0};
        int64_t reached;
        uint32_t steps;
        OK(fk_events_new(&e));
        OK(fk_events_define(e, 50, 3, FK_STRICT_ORDER)); /* keeps events matching no step */
        OK(fk_events_add_columns(e, ent, tt, mm, 7));
        OK(fk_events_counts(e, &fc));
        OK(fk_funnel_counts_steps(fc, &steps));
        CHECK(steps == 3);
        OK(fk_funnel_counts_reached(fc, 0, &reached));
        CHECK(reached == 4);
        OK(fk_funnel_counts_reached(fc, 1, &reached));
        CHECK(reached == 2);
        OK(fk_funnel_counts_reached(fc, 3, &reached));
        CHECK(reached == 1);
        OK(fk_funnel_counts_serialize(fc, &data, &size));
        OK(fk_funnel_counts_deserialize(data, size, &fc2));
        OK(fk_funnel_counts_merge(fc2, fc));
        OK(fk_funnel_counts_reached(fc2, 0, &reached));
        CHECK(reached == 8);
        CHECK(fk_funnel_counts_reached(fc2, 4, &reached) == FK_INVALID_ARGUMENT);
        CHECK(fk_funnel_counts_deserialize("FKWF", 4, &fc2) == FK_INVALID_ARGUMENT);
        fk_funnel_counts_free(fc);
        fk_funnel_counts_free(fc2);
        fk_events_free(e);
    }
    fk_events_free(a);
    fk_events_free(b);
    fk_events_free(c);
    fk_events_free(NULL);
}

static void test_conversion(void) {
    fk_conversion *h = NULL, *g = NULL, *back = NULL;
    uint64_t mask;
    int64_t count;
    double rate;
    int defined;
    const void* data;
    size_t size;
    uint32_t stages, segments;
    OK(fk_reach_mask(2, 4, 1, &mask));
    CHECK(mask == 7);
    OK(fk_reach_mask(2, 4, 0, &mask));
    CHECK(mask == 4);
    OK(fk_reach_mask(-1, 4, 1, &mask));
    CHECK(mask == 0);
    CHECK(fk_reach_mask(4, 4, 1, &mask) == FK_INVALID_ARGUMENT);
    ERR_HAS("rank");

    OK(fk_conversion_new(3, 1, &h));
    OK(fk_conversion_new(3, 1, &g));
    /* segment 0: 3 entities reaching stages 0, 0-1, 0-2; segment 1: two entities at stage 0. */
    OK(fk_conversion_add(h, 1, 0));
    OK(fk_conversion_add(h, 3, 0));
    OK(fk_conversion_add(g, 7, 0));
    OK(fk_conversion_add(g, 1, 1));
    OK(fk_conversion_add(g, 1, 1));
    OK(fk_conversion_merge(h, g));
    OK(fk_conversion_shape(h, &stages, &segments));
    CHECK(stages == 3 && segments == 2);
    OK(fk_conversion_entities(h, -1, &count));
    CHECK(count == 5);
    OK(fk_conversion_reached(h, 1, 0, &count));
    CHECK(count == 2);
    OK(fk_conversion_step_rate(h, 1, 0, &rate, &defined));
    CHECK(defined && fabs(rate - 2.0 / 3.0) < 1e-15);
    OK(fk_conversion_step_rate(h, 0, 0, &rate, &defined));
    CHECK(!defined);
    OK(fk_conversion_cumulative_rate(h, 2, -1, &rate, &defined));
    CHECK(defined && fabs(rate - 0.2) < 1e-15);
    OK(fk_conversion_serialize(h, &data, &size));
    OK(fk_conversion_deserialize(data, size, &back));
    OK(fk_conversion_reached(back, 2, -1, &count));
    CHECK(count == 1);
    /* implied counts refuse a mask with a hole; segments below -1 are refused. */
    CHECK(fk_conversion_add(h, 5, 0) == FK_INVALID_ARGUMENT);
    CHECK(strstr(fk_conversion_error(h), "misses a stage") != NULL);
    CHECK(fk_conversion_add(h, 1, -2) == FK_INVALID_ARGUMENT);
    /* Different ladders do not merge. */
    {
        fk_conversion* four = NULL;
        OK(fk_conversion_new(4, 1, &four));
        OK(fk_conversion_add(four, 1, -1));
        CHECK(fk_conversion_merge(h, four) == FK_INVALID_ARGUMENT);
        fk_conversion_free(four);
    }
    fk_conversion_free(h);
    fk_conversion_free(g);
    fk_conversion_free(back);
}

static void test_rates(void) {
    fk_interval iv;
    fk_test t;
    OK(fk_rate_interval(7, 50, 0.95, NULL, &iv));
    CHECK(iv.defined);
    NEAR(iv.lower, 0.069508, 5e-7);
    NEAR(iv.upper, 0.261862, 5e-7);
    NEAR(iv.estimate, 0.14, 1e-15);
    OK(fk_rate_interval(0, 0, 0.95, "wilson", &iv));
    CHECK(!iv.defined);
    OK(fk_rate_interval(7, 50, 0.95, "exact", &iv));
    CHECK(iv.lower > 0.05 && iv.upper < 0.3);
    CHECK(fk_rate_interval(8, 5, 0.95, NULL, &iv) == FK_INVALID_ARGUMENT);
    CHECK(fk_rate_interval(1, 5, 1.5, NULL, &iv) == FK_INVALID_ARGUMENT);
    ERR_HAS("confidence");
    CHECK(fk_rate_interval(1, 5, 0.95, "wilsn", &iv) == FK_INVALID_ARGUMENT);
    ERR_HAS("interval");
    /* z = (0.6 - 0.4) / sqrt(0.5 * 0.5 * (1/100 + 1/100)) = 2.8284271 (b against a). */
    OK(fk_two_proportion_ztest(40, 100, 60, 100, NULL, &t));
    CHECK(t.defined);
    NEAR(t.statistic, 2.8284271247461903, 1e-12);
    NEAR(t.p_value, 0.004677734981047177, 1e-12);
    OK(fk_two_proportion_ztest(40, 100, 60, 100, "larger", &t));
    NEAR(t.p_value, 0.0023388674905235884, 1e-12);
    OK(fk_two_proportion_ztest(0, 10, 0, 10, NULL, &t));
    CHECK(!t.defined);
    CHECK(fk_two_proportion_ztest(40, 100, 60, 100, "bigger", &t) == FK_INVALID_ARGUMENT);
    OK(fk_chi2_two_proportions(40, 100, 60, 100, 0, &t));
    NEAR(t.statistic, 8.0, 1e-12);
}

static void test_velocity(void) {
    fk_deals *d = NULL, *e = NULL, *back = NULL;
    fk_velocity v;
    int32_t outcome;
    const void* data;
    size_t size, n;
    const int64_t day = 86400;
    OK(fk_deals_new(&d));
    OK(fk_deals_new(&e));
    OK(fk_deal_outcome("Won", &outcome));
    CHECK(outcome == FK_DEAL_WON);
    CHECK(fk_deal_outcome("maybe", &outcome) == FK_INVALID_ARGUMENT);
    /* Four deals created in [0, 100 days): A won 1000 (open days 0..10), B won 3000 (5..35),
     * C lost 500 (6..20), D open 800 (from day 7). Over [0, 100 days), with the defaults:
     * N = time-averaged open pipeline = (10 + 30 + 14 + 93) / 100 = 1.47, D = 2000, W = 2/3,
     * L = mean days open of all closed deals = (10 + 30 + 14) / 3 = 18:
     * V = 1.47 * 2000 * 2/3 / 18 = 108.89 per day, 10,888.9 per 100-day period; realised won
     * revenue = 4000 / 100 = 40 per day. */
    OK(fk_deals_add(d, 0, 10 * day, FK_DEAL_WON, 1000));
    OK(fk_deals_add(d, 5 * day, 35 * day, FK_DEAL_WON, 3000));
    OK(fk_deals_add(e, 6 * day, 20 * day, FK_DEAL_LOST, 500));
    OK(fk_deals_add(e, 7 * day, FK_MISSING_TIME, FK_DEAL_OPEN, 800));
    OK(fk_deals_merge(d, e));
    OK(fk_deals_size(d, &n));
    CHECK(n == 4);
    OK(fk_deals_serialize(d, &data, &size));
    OK(fk_deals_deserialize(data, size, &back));
    OK(fk_deals_velocity(back, 0, 100 * day, (double)day, NULL, &v));
    NEAR(v.n, 1.47, 1e-12);
    CHECK(v.won == 2 && v.lost == 1 && v.cycle_deals == 3 && v.cycle_missing == 0);
    CHECK(v.has_velocity && v.status == 0 && v.has_velocity_per_period && !v.has_ci);
    NEAR(v.won_amount, 4000.0, 1e-9);
    NEAR(v.lost_amount, 500.0, 1e-9);
    NEAR(v.deal_value, 2000.0, 1e-9);
    NEAR(v.win_rate, 2.0 / 3.0, 1e-12);
    NEAR(v.cycle_length, 18.0, 1e-12);
    NEAR(v.velocity, 1.47 * 2000.0 * 2.0 / 3.0 / 18.0, 1e-9);
    NEAR(v.period_length, 100.0, 1e-12);
    NEAR(v.velocity_per_period, 1.47 * 2000.0 * 2.0 / 3.0 / 18.0 * 100.0, 1e-7);
    NEAR(v.realised, 40.0, 1e-12);
    /* L over the won deals only: (10 + 30) / 2 = 20. */
    OK(fk_deals_velocity(back, 0, 100 * day, (double)day, "cycle_over=won", &v));
    NEAR(v.cycle_length, 20.0, 1e-12);
    NEAR(v.velocity, 1.47 * 2000.0 * 2.0 / 3.0 / 20.0, 1e-9);
    /* N = the 4 deals created in the period, per period: V = N * D * W / 100 days = 53.33,
     * N * D * W = 5,333.3 per period. */
    OK(fk_deals_velocity(back, 0, 100 * day, (double)day, "count=created_per_period", &v));
    CHECK(v.n == 4.0);
    NEAR(v.velocity, 4 * 2000.0 * 2.0 / 3.0 / 100.0, 1e-9);
    NEAR(v.velocity_per_period, 4 * 2000.0 * 2.0 / 3.0, 1e-7);
    /* The vendor formula: created in the period, divided by L = 18. */
    OK(fk_deals_velocity(back, 0, 100 * day, (double)day, "count=vendor", &v));
    CHECK(v.n == 4.0);
    NEAR(v.velocity, 4 * 2000.0 * 2.0 / 3.0 / 18.0, 1e-9);
    /* created_in_period, the deprecated name of the vendor figure, keeps that meaning. */
    OK(fk_deals_velocity(back, 0, 100 * day, (double)day, "count=created_in_period", &v));
    CHECK(v.n == 4.0);
    NEAR(v.velocity, 4 * 2000.0 * 2.0 / 3.0 / 18.0, 1e-9);
    /* Open at the start of [8, 100 days): A, B, C and D are all open on day 8; the period is 92
     * days long, realised = 4000 / 92. */
    OK(fk_deals_velocity(back, 8 * day, 100 * day, (double)day, "count=open_at_start", &v));
    CHECK(v.n == 4.0);
    NEAR(v.velocity, 4 * 2000.0 * 2.0 / 3.0 / 18.0, 1e-9);
    NEAR(v.period_length, 92.0, 1e-12);
    NEAR(v.realised, 4000.0 / 92.0, 1e-12);
    /* W by value 4000 / 4500; the median days open of the closed deals {10, 30, 14} is 14. */
    OK(fk_deals_velocity(back, 0, 100 * day, (double)day, "win_rate=value, cycle_stat=median", &v));
    NEAR(v.win_rate, 4000.0 / 4500.0, 1e-12);
    NEAR(v.cycle_length, 14.0, 1e-12);
    OK(fk_deals_velocity(back, 0, 100 * day, (double)day, "cycle_from=created, cycle_over=closed, count=average_open",
                         &v));
    NEAR(v.velocity, 1.47 * 2000.0 * 2.0 / 3.0 / 18.0, 1e-9);
    /* A bootstrap interval of V around the point value, reproducible with its seed. */
    OK(fk_deals_velocity(back, 0, 100 * day, (double)day, "bootstrap=200, confidence=0.9, seed=7", &v));
    CHECK(v.has_ci && v.ci_lower <= v.ci_upper && v.bootstrap_undefined >= 0 && v.bootstrap_undefined <= 200);
    {
        const double lower = v.ci_lower, upper = v.ci_upper;
        OK(fk_deals_velocity(back, 0, 100 * day, (double)day, "seed=7,bootstrap=200,confidence=0.9", &v));
        CHECK(v.ci_lower == lower && v.ci_upper == upper);
    }
    /* An empty period: undefined V with a reason. */
    OK(fk_deals_velocity(back, 200 * day, 300 * day, (double)day, NULL, &v));
    CHECK(!v.has_velocity && v.status != 0 && strlen(v.reason) > 0);
    /* Errors. */
    CHECK(fk_deals_add(d, 10, 5, FK_DEAL_WON, 1) == FK_INVALID_ARGUMENT);
    CHECK(strstr(fk_deals_error(d), "closed") != NULL);
    CHECK(fk_deals_add(d, 10, 20, FK_DEAL_WON, NAN) == FK_INVALID_ARGUMENT);
    CHECK(fk_deals_velocity(back, 0, 100, 1.0, "colour=blue", &v) == FK_INVALID_ARGUMENT);
    CHECK(fk_deals_velocity(back, 0, 100, 1.0, "count=created", &v) == FK_INVALID_ARGUMENT);
    ERR_HAS("average_open");
    CHECK(fk_deals_velocity(back, 0, 100, 1.0, "cycle_from=sql", &v) == FK_INVALID_ARGUMENT);
    ERR_HAS("cycle_from");
    CHECK(fk_deals_velocity(back, 0, 100, 1.0, "bootstrap=-1", &v) == FK_INVALID_ARGUMENT);
    CHECK(fk_deals_velocity(back, 0, 100, 1.0, "bootstrap=ten", &v) == FK_INVALID_ARGUMENT);
    ERR_HAS("bootstrap");
    CHECK(fk_deals_velocity(back, 0, 100, 1.0, "confidence=1.5", &v) == FK_INVALID_ARGUMENT);
    CHECK(fk_deals_velocity(back, 0, 100, 1.0, "seed=-3", &v) == FK_INVALID_ARGUMENT);
    CHECK(fk_deals_velocity(back, 100, 0, 1.0, NULL, &v) == FK_INVALID_ARGUMENT);
    CHECK(fk_deals_deserialize("FKDL\x02\x00", 6, &e) == FK_INVALID_ARGUMENT);
    /* A recorded definition travels with the bytes and must agree on merge. */
    OK(fk_deals_define(back, 0, 100 * day, (double)day, "cycle_stat=median"));
    OK(fk_deals_serialize(back, &data, &size));
    fk_deals_free(e);
    OK(fk_deals_deserialize(data, size, &e));
    OK(fk_deals_result(e, &v));
    NEAR(v.n, 1.47, 1e-12);
    NEAR(v.cycle_length, 14.0, 1e-12);
    CHECK(v.has_velocity);
    CHECK(fk_deals_define(e, 0, 50 * day, (double)day, "cycle_stat=median") == FK_INVALID_ARGUMENT);
    CHECK(strstr(fk_deals_error(e), "period") != NULL);
    CHECK(fk_deals_define(e, 0, 100 * day, (double)day, "cycle_stat=mode") == FK_INVALID_ARGUMENT);
    fk_deals_free(e);
    e = NULL;
    fk_deals_free(d);
    fk_deals_free(e);
    fk_deals_free(back);
}

/* The new fields of fk_velocity and the cycle starts: the deals of test_velocity with SQL times
 * 4, 15 and 10 days (won A, won B, lost C) and first touches 0, 4 and 4 days. L from the SQL
 * time = (6 + 20 + 10) / 3 = 12 days; from the first touch (10 + 31 + 16) / 3 = 19 days. */
static void test_velocity_starts(void) {
    const int64_t day = 86400;
    fk_deals *d = NULL, *e = NULL, *back = NULL;
    fk_velocity v;
    const void* data = NULL;
    size_t size = 0, n = 0;

    OK(fk_deals_new(&d));
    OK(fk_deals_new(&e));
    OK(fk_deals_add_cycle_starts(d, 0, 10 * day, FK_DEAL_WON, 1000, 4 * day, 0));
    OK(fk_deals_add_cycle_starts(d, 5 * day, 35 * day, FK_DEAL_WON, 3000, 15 * day, 4 * day));
    /* Rows without starts merge in: they have neither (missing in L from sql or first touch). */
    OK(fk_deals_add(e, 6 * day, 20 * day, FK_DEAL_LOST, 500));
    OK(fk_deals_merge(d, e));
    OK(fk_deals_velocity(d, 0, 100 * day, (double)day, "cycle_from=sql", &v));
    CHECK(v.cycle_deals == 2 && v.cycle_missing == 1);
    NEAR(v.cycle_length, 13.0, 1e-12);
    fk_deals_free(d);
    d = NULL;
    OK(fk_deals_new(&d));
    /* Rows first without, then with starts: the earlier rows get missing starts. */
    OK(fk_deals_add(d, 7 * day, FK_MISSING_TIME, FK_DEAL_OPEN, 800));
    OK(fk_deals_add_cycle_starts(d, 0, 10 * day, FK_DEAL_WON, 1000, 4 * day, 0));
    OK(fk_deals_add_cycle_starts(d, 5 * day, 35 * day, FK_DEAL_WON, 3000, 15 * day, 4 * day));
    OK(fk_deals_add_cycle_starts(d, 6 * day, 20 * day, FK_DEAL_LOST, 500, 10 * day, 4 * day));
    OK(fk_deals_size(d, &n));
    CHECK(n == 4);
    OK(fk_deals_serialize(d, &data, &size));
    CHECK(size > 6 && memcmp(data, "FKDL\x03\x00", 6) == 0);
    OK(fk_deals_deserialize(data, size, &back));
    OK(fk_deals_velocity(back, 0, 100 * day, (double)day, "cycle_from=sql", &v));
    CHECK(v.cycle_deals == 3 && v.cycle_missing == 0 && v.has_cycle_length);
    NEAR(v.cycle_length, 12.0, 1e-12);
    NEAR(v.velocity, 1.47 * 2000.0 * 2.0 / 3.0 / 12.0, 1e-9);
    OK(fk_deals_velocity(back, 0, 100 * day, (double)day, "cycle_from=first_touch, cycle_stat=median", &v));
    NEAR(v.cycle_length, 16.0, 1e-12);
    OK(fk_deals_velocity(back, 0, 100 * day, (double)day, "cycle_from=first_touch", &v));
    NEAR(v.cycle_length, 19.0, 1e-12);
    CHECK(strcmp(v.basis, "count=average_open, win_rate=count, cycle_from=first_touch, cycle_over=closed, "
                          "cycle_stat=mean, unit=86400 ticks") == 0);
    /* The end of the data: the latest time in the rows (the close at 35 days), so [0, 100 days)
     * is partial with 35% observed; an as_of after the period makes it whole. */
    CHECK(v.as_of == 35 * day && v.partial == 1);
    NEAR(v.observed, 0.35, 1e-15);
    OK(fk_deals_velocity(back, 0, 30 * day, (double)day, "unit_name=day", &v));
    CHECK(v.as_of == 35 * day && v.partial == 0 && v.observed == 1.0);
    CHECK(strcmp(v.basis, "count=average_open, win_rate=count, cycle_from=created, cycle_over=closed, "
                          "cycle_stat=mean, unit=day") == 0);
    OK(fk_deals_velocity(back, 0, 100 * day, (double)day, "as_of=8640000", &v));
    CHECK(v.as_of == 100 * day && v.partial == 0 && v.observed == 1.0);
    OK(fk_deals_velocity(back, 0, 100 * day, (double)day, "as_of=-86400", &v));
    CHECK(v.as_of == -day && v.partial == 1 && v.observed == 0.0);
    /* The deprecated count word reads as the vendor figure it names. */
    OK(fk_deals_velocity(back, 0, 100 * day, (double)day, "count=created_in_period", &v));
    CHECK(strncmp(v.basis, "count=vendor,", 13) == 0);
    /* An empty buffer without as_of has no end of data; nor has it the cycle-start columns. */
    fk_deals_free(e);
    e = NULL;
    OK(fk_deals_new(&e));
    OK(fk_deals_velocity(e, 0, 100 * day, (double)day, NULL, &v));
    CHECK(v.as_of == FK_MISSING_TIME && v.partial == 0 && !v.has_velocity);
    CHECK(fk_deals_velocity(e, 0, 100 * day, (double)day, "cycle_from=sql", &v) == FK_INVALID_ARGUMENT);
    ERR_HAS("fk_deals_add_cycle_starts");

    /* Bad input: a start after the close, unknown words, keys given twice, as_of not a time. */
    CHECK(fk_deals_add_cycle_starts(d, 0, 10, FK_DEAL_WON, 1, 11, FK_MISSING_TIME) == FK_INVALID_ARGUMENT);
    ERR_HAS("sql_time");
    CHECK(fk_deals_add_cycle_starts(d, 0, 10, FK_DEAL_LOST, 1, FK_MISSING_TIME, 12) == FK_INVALID_ARGUMENT);
    ERR_HAS("first_touch");
    CHECK(fk_deals_add_cycle_starts(d, 5, 1, FK_DEAL_WON, 1, 0, 0) == FK_INVALID_ARGUMENT);
    ERR_HAS("closed");
    CHECK(fk_deals_add_cycle_starts(NULL, 0, 1, FK_DEAL_WON, 1, 0, 0) == FK_NULL_POINTER);
    CHECK(fk_deals_velocity(back, 0, 100, 1.0, "cycle_from=sqltime", &v) == FK_INVALID_ARGUMENT);
    ERR_HAS("cycle_from");
    CHECK(fk_deals_velocity(back, 0, 100, 1.0, "count=vendor, count=vendor", &v) == FK_INVALID_ARGUMENT);
    ERR_HAS("given twice");
    CHECK(fk_deals_velocity(back, 0, 100, 1.0, "as_of=soon", &v) == FK_INVALID_ARGUMENT);
    ERR_HAS("as_of");
    CHECK(fk_deals_velocity(back, 0, 100, 1.0, "unit_name=", &v) == FK_INVALID_ARGUMENT);
    ERR_HAS("unit_name");
    CHECK(fk_deals_velocity(back, 0, 100, 1.0, NULL, NULL) == FK_NULL_POINTER);
    /* A recorded definition names the option that changes. */
    OK(fk_deals_define(back, 0, 100 * day, (double)day, "cycle_from=sql,as_of=100"));
    CHECK(fk_deals_define(back, 0, 100 * day, (double)day, "cycle_from=sql,as_of=200") == FK_INVALID_ARGUMENT);
    CHECK(strstr(fk_deals_error(back), "option 'as_of': value 200 differs from the 100") != NULL);
    fk_deals_free(d);
    fk_deals_free(e);
    fk_deals_free(back);
}

static void test_plan(void) {
    /* The DOMAIN example: $40,000 at $800, rates 0.5, 0.6, 0.5, 1/3, 10 reps. */
    const char* names[] = {"Lead", "Connect", "Discovery", "Demo"};
    double rates[] = {0.5, 0.6, 0.5, 1.0 / 3.0};
    const double volumes[] = {1000, 500, 300, 150, 50};
    fk_plan* p = NULL;
    fk_plan_row row;
    size_t rows, i;
    OK(fk_plan_reverse_funnel(40000, 800, names, rates, 4, NULL, 1, 10, NULL, &p));
    OK(fk_plan_size(p, &rows));
    CHECK(rows == 5);
    for (i = 0; i < rows && i < 5; ++i) {
        OK(fk_plan_row_at(p, i, &row));
        CHECK(row.volume == volumes[i]);
    }
    OK(fk_plan_row_at(p, 0, &row));
    CHECK(strcmp(row.name, "Lead") == 0 && row.per_rep_per_period == 100 && row.has_rate);
    OK(fk_plan_row_at(p, 4, &row));
    CHECK(strcmp(row.name, "Customer") == 0 && !row.has_rate);
    CHECK(fk_plan_row_at(p, 5, &row) == FK_INVALID_ARGUMENT);
    fk_plan_free(p);
    {
        /* Every rounding word of funnelkit::plan_rounding (and the former name of deals_first):
         * this goal divides exactly, so all give 1,000 leads. */
        const char* words[] = {"deals_first", "from_goal", "chained", "round_once"};
        for (i = 0; i < 4; ++i) {
            OK(fk_plan_reverse_funnel(40000, 800, names, rates, 4, NULL, 1, 10, words[i], &p));
            OK(fk_plan_row_at(p, 0, &row));
            CHECK(row.volume == 1000);
            fk_plan_free(p);
        }
        CHECK(fk_plan_reverse_funnel(40000, 800, names, rates, 4, NULL, 1, 10, "nearest", &p) == FK_INVALID_ARGUMENT);
        ERR_HAS("round_once");
    }
    rates[1] = 0.0;
    CHECK(fk_plan_reverse_funnel(40000, 800, names, rates, 4, NULL, 1, 10, NULL, &p) == FK_INVALID_ARGUMENT);
    ERR_HAS("rate");
}

int main(void) {
    CHECK(strlen(fk_version()) >= 5);
    CHECK(strcmp(fk_status_name(FK_INVALID_ARGUMENT), "invalid argument") == 0);
    test_window_funnel_levels();
    test_events_state();
    test_conversion();
    test_rates();
    test_velocity();
    test_velocity_starts();
    test_plan();
    printf("%d passed, %d failed\n", checks - failures, failures);
    return failures == 0 ? 0 : 1;
}
