/* funnelkit: the C ABI.
 *
 * A plain C interface to the funnelkit core for other languages and for SQL engines (the
 * PostgreSQL extension under bindings/postgresql is built on it). It compiles as C99 (and as
 * C++), and it is part of the funnelkit library: link funnelkit::funnelkit (the
 * static library is compiled position-independent, so it links into shared objects too).
 *
 * Conventions
 * - Every function returns an fk_status: FK_OK (0) or an error code. No C++ exception ever
 *   crosses this boundary: the implementation catches every one and turns it into a status.
 * - Error messages: a failed call on a handle stores its message in the handle
 *   (fk_<type>_error(h)); every failed call, with or without a handle, also stores it for the
 *   calling thread (fk_last_error()). Messages name the column, the row and the value, as the
 *   C++ exceptions do. A successful call leaves both untouched.
 * - Handles are opaque. fk_<type>_new() and fk_<type>_deserialize() create one and give it to
 *   the caller, who releases it with fk_<type>_free() (which accepts NULL). A handle is not
 *   thread-safe: use one per thread, or lock. Handles of different types never mix.
 * - Pointers returned by the library (error messages, serialized bytes) belong to the handle
 *   and stay valid until the next call on that handle or its free; fk_last_error() stays
 *   valid until the thread's next failing call. Copy what you need to keep.
 * - Arrays passed in are read during the call only; nothing keeps a pointer to them.
 * - Serialized states are the library's versioned, checksummed byte formats
 *   (docs/state-format.md for the core states; docs/sql.md for the row buffers of this ABI).
 *   Deserializing checks everything and fails with FK_INVALID_ARGUMENT on corrupted bytes.
 */
#ifndef FUNNELKIT_C_FUNNELKIT_H
#define FUNNELKIT_C_FUNNELKIT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fk_status {
    FK_OK = 0,
    FK_INVALID_ARGUMENT = 1, /* bad input, bad options, corrupted bytes, states that do not merge */
    FK_OUT_OF_MEMORY = 2,
    FK_INTERNAL = 3,          /* any other failure (a bug: please report it) */
    FK_NULL_POINTER = 4       /* a required pointer argument was NULL */
} fk_status;

/* The library version, e.g. "0.1.0". */
const char* fk_version(void);
/* The message of the calling thread's last failed call ("" when none failed yet). */
const char* fk_last_error(void);
/* A short name of a status code ("ok", "invalid argument", ...). */
const char* fk_status_name(fk_status status);

/* ---- Event-stream funnels (ClickHouse's windowFunnel) ------------------------------------ */

/* Mode flags, combinable with |, with ClickHouse's names. */
enum {
    FK_STRICT_DEDUPLICATION = 1,
    FK_STRICT_ORDER = 2,
    FK_STRICT_INCREASE = 4,
    FK_ALLOW_REENTRY = 8, /* needs FK_STRICT_ORDER */
    FK_EXACT_INCREASE = 16, /* funnelkit's exact strict_increase; needs FK_STRICT_INCREASE alone */
    FK_STRICT_ONCE = 32     /* ClickHouse's strict_once: an event counts for one step at most; alone */
};

/* Parses a comma-separated list of mode names ("strict_order,allow_reentry"; spaces allowed,
 * "" or NULL = default mode; "strict_increase" also as ClickHouse's alias "strict") into
 * flags, and checks the combination. */
fk_status fk_window_funnel_modes(const char* text, uint32_t* flags);

/* The funnel level of one entity's events, computed by funnelkit's window_funnel (see
 * include/funnelkit/window_funnel.hpp for the exact rule): masks[i] has bit k set when event i
 * matches step k (0-based). window >= 0 in the unit of the times; steps 1..64. */
fk_status fk_window_funnel_level(const int64_t* times, const uint64_t* masks, size_t n, int64_t window,
                                 uint32_t steps, uint32_t modes, uint32_t* level);

/* fk_events: a buffer of events of one or many entities, mergeable and serializable: the
 * aggregate state of a per-entity window_funnel(window, time, conditions...) in SQL. It
 * records the window, the modes and the number of steps from the first call that gives them;
 * later calls must give the same ones. Events matching no step are kept only where they can
 * change a level (strict_order). */
typedef struct fk_events fk_events;

fk_status fk_events_new(fk_events** out);
void fk_events_free(fk_events* h);
const char* fk_events_error(const fk_events* h);
/* Records (window, steps, modes), or checks them against the recorded ones. */
fk_status fk_events_define(fk_events* h, int64_t window, uint32_t steps, uint32_t modes);
/* Adds one event of entity 0 / a column of events (entity may be NULL: all entity 0). */
fk_status fk_events_add(fk_events* h, int64_t time, uint64_t mask);
fk_status fk_events_add_columns(fk_events* h, const int64_t* entity, const int64_t* time, const uint64_t* mask,
                                size_t n);
/* Moves or copies every event of `other` into `h` (definitions must agree; `other` unchanged). */
fk_status fk_events_merge(fk_events* h, const fk_events* other);
/* Number of events held, and whether a definition was recorded. */
fk_status fk_events_size(const fk_events* h, size_t* n, int* defined);
fk_status fk_events_serialize(fk_events* h, const void** data, size_t* size);
fk_status fk_events_deserialize(const void* data, size_t size, fk_events** out);
/* The level of entity 0 (the whole buffer as one entity: a SQL group). 0 when empty. */
fk_status fk_events_level(const fk_events* h, uint32_t* level);
/* Levels of every entity, as a funnel-counts state (created; free it). */
typedef struct fk_funnel_counts fk_funnel_counts;
fk_status fk_events_counts(const fk_events* h, fk_funnel_counts** out);

/* fk_funnel_counts: window_funnel_counts, how many entities ended at each level 0..steps. */
fk_status fk_funnel_counts_new(uint32_t steps, fk_funnel_counts** out);
void fk_funnel_counts_free(fk_funnel_counts* h);
const char* fk_funnel_counts_error(const fk_funnel_counts* h);
fk_status fk_funnel_counts_add(fk_funnel_counts* h, uint32_t level, int64_t count);
fk_status fk_funnel_counts_merge(fk_funnel_counts* h, const fk_funnel_counts* other);
fk_status fk_funnel_counts_steps(const fk_funnel_counts* h, uint32_t* steps);
/* Entities whose level is at least `level` (reached(0) = all entities). */
fk_status fk_funnel_counts_reached(const fk_funnel_counts* h, uint32_t level, int64_t* count);
fk_status fk_funnel_counts_serialize(fk_funnel_counts* h, const void** data, size_t* size);
fk_status fk_funnel_counts_deserialize(const void* data, size_t size, fk_funnel_counts** out);

/* ---- Stage reach and conversion counts ---------------------------------------------------- */

/* The reach mask of one stage record at ladder rank `rank` (0-based, < n_stages <= 64): bit
 * `rank`, and with implied = 1 every lower bit too (reaching a stage implies the earlier ones).
 * rank < 0 (an off-ladder outcome: lost, disqualified) reaches nothing: mask 0. */
fk_status fk_reach_mask(int32_t rank, uint32_t n_stages, int implied, uint64_t* mask);

/* fk_conversion: conversion_counts, per segment the entities and how many reached each stage. */
typedef struct fk_conversion fk_conversion;
/* implied: 1 = skipped stages implied (reach masks must then be contiguous from bit 0). */
fk_status fk_conversion_new(uint32_t n_stages, int implied, fk_conversion** out);
void fk_conversion_free(fk_conversion* h);
const char* fk_conversion_error(const fk_conversion* h);
/* One entity with the stages it reached; segment >= 0, or -1 for "no segment". */
fk_status fk_conversion_add(fk_conversion* h, uint64_t reached_mask, int32_t segment);
fk_status fk_conversion_merge(fk_conversion* h, const fk_conversion* other);
fk_status fk_conversion_shape(const fk_conversion* h, uint32_t* n_stages, uint32_t* n_segments);
/* segment -1 = all entities. */
fk_status fk_conversion_entities(const fk_conversion* h, int32_t segment, int64_t* count);
fk_status fk_conversion_reached(const fk_conversion* h, uint32_t rank, int32_t segment, int64_t* count);
/* Step rate reached(rank)/reached(rank-1) and cumulative rate reached(rank)/reached(0);
 * *defined = 0 (and the rate 0) when undefined (rank 0 for the step rate, a zero denominator). */
fk_status fk_conversion_step_rate(const fk_conversion* h, uint32_t rank, int32_t segment, double* rate,
                                  int* defined);
fk_status fk_conversion_cumulative_rate(const fk_conversion* h, uint32_t rank, int32_t segment, double* rate,
                                        int* defined);
fk_status fk_conversion_serialize(fk_conversion* h, const void** data, size_t* size);
fk_status fk_conversion_deserialize(const void* data, size_t size, fk_conversion** out);

/* ---- Rates: intervals and two-sample tests ------------------------------------------------ */

typedef struct fk_interval {
    double estimate, lower, upper;
    int defined; /* 0 when trials == 0 (the rate is undefined; the numbers are 0) */
} fk_interval;

/* method: "wilson" (NULL = wilson), "agresti_coull", "jeffreys", "clopper_pearson" ("exact"). */
fk_status fk_rate_interval(int64_t successes, int64_t trials, double confidence, const char* method,
                           fk_interval* out);

typedef struct fk_test {
    double statistic, p_value;
    int defined; /* 0 when the statistic is undefined (an empty sample, a pooled rate of 0 or 1) */
} fk_test;

/* Pooled two-proportion z-test of rate b against rate a (z > 0 when b is higher);
 * alternative: "two-sided" (NULL), "larger" (b > a), "smaller". */
fk_status fk_two_proportion_ztest(int64_t x_a, int64_t n_a, int64_t x_b, int64_t n_b, const char* alternative,
                                  fk_test* out);
/* Chi-squared test of the 2x2 table (x_a, n_a - x_a; x_b, n_b - x_b), with Yates' correction
 * when yates != 0; dof is 1. */
fk_status fk_chi2_two_proportions(int64_t x_a, int64_t n_a, int64_t x_b, int64_t n_b, int yates, fk_test* out);

/* ---- Sales velocity ---------------------------------------------------------------------- */

/* Outcome codes of deal rows. */
enum { FK_DEAL_OPEN = 0, FK_DEAL_WON = 1, FK_DEAL_LOST = 2 };
/* Time value meaning "absent" (a deal not closed). */
#define FK_MISSING_TIME INT64_MIN

/* fk_deals: a buffer of opportunity rows (created, closed, outcome, amount, and optionally the
 * cycle starts sql_time and first_touch), mergeable and serializable: the aggregate state of
 * velocity in SQL. It may record the period, the unit and the options of the velocity it will
 * give (fk_deals_define), which then travel with it. */
typedef struct fk_deals fk_deals;

typedef struct fk_velocity {
    /* N under the count option: by default the time-averaged open pipeline (fractional) */
    double n;
    int64_t won, lost, cycle_deals, cycle_missing;
    double won_amount, lost_amount;
    double deal_value, win_rate, cycle_length, velocity; /* each valid when its has_ flag is 1 */
    int has_deal_value, has_win_rate, has_cycle_length, has_velocity;
    int status;         /* 0 ok, 1 no won deals, 2 no closed deals, 3 no cycle, 4 zero cycle */
    const char* reason; /* why V is undefined ("" when defined); owned by the deals handle */
    double period_length; /* (end - start) / unit: the period in units of L */
    double realised;      /* won amount of the deals won in the period / period_length */
    double velocity_per_period; /* V * period_length; valid when has_velocity_per_period is 1 */
    int has_velocity_per_period;
    /* Percentile bootstrap interval of V (option bootstrap=R > 0); valid when has_ci is 1.
     * bootstrap_undefined: replicates where V was undefined, left out of the percentiles. */
    double ci_lower, ci_upper;
    int has_ci;
    int32_t bootstrap_undefined;
    /* The end of the data (option as_of=, or the latest created, closed, sql_time or first_touch
     * time of the rows; FK_MISSING_TIME for an empty buffer without as_of), the share of the
     * period observed up to it (0..1), and partial = 1 when the period runs past it (its V and
     * realised are then not comparable with whole periods). */
    int64_t as_of;
    double observed;
    int partial;
    /* The options V's drivers depend on, as funnelkit.velocity's basis column writes them:
     * "count=..., win_rate=..., cycle_from=..., cycle_over=..., cycle_stat=..., unit=...";
     * owned by the deals handle. */
    const char* basis;
} fk_velocity;

fk_status fk_deals_new(fk_deals** out);
void fk_deals_free(fk_deals* h);
const char* fk_deals_error(const fk_deals* h);
/* One opportunity: closed = FK_MISSING_TIME for open deals; amount finite and >= 0. */
fk_status fk_deals_add(fk_deals* h, int64_t created, int64_t closed, int32_t outcome, double amount);
/* One opportunity with the cycle starts that cycle_from=sql and cycle_from=first_touch measure L
 * from: sql_time (when it became sales-qualified) and first_touch (its earliest touch), each
 * FK_MISSING_TIME when the deal has none (it is then left out of L and counted in
 * cycle_missing). Neither may be after the close of a closed deal. Rows added with fk_deals_add
 * have neither start. */
fk_status fk_deals_add_cycle_starts(fk_deals* h, int64_t created, int64_t closed, int32_t outcome, double amount,
                                    int64_t sql_time, int64_t first_touch);
/* Parses an outcome word: "won", "lost", "open" (any case). */
fk_status fk_deal_outcome(const char* text, int32_t* outcome);
fk_status fk_deals_merge(fk_deals* h, const fk_deals* other);
fk_status fk_deals_size(const fk_deals* h, size_t* n);
fk_status fk_deals_serialize(fk_deals* h, const void** data, size_t* size);
fk_status fk_deals_deserialize(const void* data, size_t size, fk_deals** out);
/* V = N * D * W / L over the period [start, end) in the times' unit; unit = length of one unit
 * of L in that unit (86400 for days from seconds). The definitions are those of the C++
 * funnelkit::velocity (include/funnelkit/velocity.hpp). options: NULL or "" for the defaults, or
 * comma-separated key=value pairs, each value a word of the C++ option parsers
 * (parse_count_basis and its siblings):
 *   count=average_open (default: the time-averaged open pipeline) | open_at_start |
 *         created_per_period (V = N * D * W / period length) | vendor (created, divided by L) |
 *         created_in_period (deprecated name of vendor);
 *   win_rate=count (default) | value;   cycle_over=closed (default) | won;
 *   cycle_stat=mean (default) | median;
 *   cycle_from=created (default) | sql | first_touch (the latter two need rows added with
 *         fk_deals_add_cycle_starts);
 *   bootstrap=R (replicates of the percentile interval of V, default 0: none),
 *   confidence=c (default 0.95), seed=s (default 42);
 *   as_of=T (the end of the data, in the times' unit; default: the latest time in the rows);
 *   unit_name=word (the name of the unit in basis; default "<unit> ticks", e.g. "86400 ticks").
 * Each key at most once. */
fk_status fk_deals_velocity(fk_deals* h, int64_t start, int64_t end, double unit, const char* options,
                            fk_velocity* out);
/* Records (start, end, unit, options) as above, or checks them against the recorded ones
 * (they must be constant; merging buffers with different ones fails). */
fk_status fk_deals_define(fk_deals* h, int64_t start, int64_t end, double unit, const char* options);
/* fk_deals_velocity() with the recorded definition. */
fk_status fk_deals_result(fk_deals* h, fk_velocity* out);

/* ---- The reverse funnel ------------------------------------------------------------------ */

typedef struct fk_plan fk_plan;

typedef struct fk_plan_row {
    const char* name;  /* owned by the plan */
    double rate;       /* rate to the next stage; has_rate = 0 for the won stage */
    int has_rate;
    double rate_to_won, exact, volume, per_period, per_rep_per_period;
} fk_plan_row;

/* From a revenue goal over `periods` periods, the average deal value and the stages (top of the
 * funnel first) with their rates to the next stage (the last one's next stage is won_name,
 * NULL = "Customer"); rounding "deals_first" (NULL; "from_goal" is its former name), "chained" or
 * "round_once", as funnelkit::plan_rounding. */
fk_status fk_plan_reverse_funnel(double goal, double deal_value, const char* const* names, const double* rates,
                                 size_t n_steps, const char* won_name, int32_t periods, int32_t reps,
                                 const char* rounding, fk_plan** out);
void fk_plan_free(fk_plan* h);
const char* fk_plan_error(const fk_plan* h);
fk_status fk_plan_size(const fk_plan* h, size_t* rows);
fk_status fk_plan_row_at(const fk_plan* h, size_t i, fk_plan_row* out);

#ifdef __cplusplus
}
#endif

#endif /* FUNNELKIT_C_FUNNELKIT_H */
