/* The PostgreSQL extension funnelkit: aggregates and functions over the funnelkit C ABI.
 *
 * Aggregate states are `internal`: a small wrapper allocated in the aggregate's memory
 * context that owns a C ABI handle, with a memory-context callback that frees the handle when
 * the context goes away (end of the group, error, cancel). Serialization for parallel plans
 * uses the library's checksummed byte formats; a corrupted state raises an SQL error.
 *
 * No C++ exception reaches this file (the C ABI catches them all), and ereport() is only
 * called from C frames, so no longjmp ever crosses C++ code. */
#include "postgres.h"

#include <limits.h>
#include <math.h>
#include <string.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "funnelkit/c/funnelkit.h"

PG_MODULE_MAGIC;

/* ---- errors ----------------------------------------------------------------------------- */

static void
fail(fk_status status, const char *message, int corrupted)
{
	int code = status == FK_OUT_OF_MEMORY ? ERRCODE_OUT_OF_MEMORY
		: corrupted ? ERRCODE_DATA_CORRUPTED
		: status == FK_INTERNAL ? ERRCODE_INTERNAL_ERROR
		: ERRCODE_INVALID_PARAMETER_VALUE;

	ereport(ERROR, (errcode(code), errmsg("funnelkit: %s", message && *message ? message : fk_status_name(status))));
}

#define FK_CHECK(call) \
	do { fk_status s_ = (call); if (s_ != FK_OK) fail(s_, fk_last_error(), 0); } while (0)
#define FK_CHECK_BYTES(call) \
	do { fk_status s_ = (call); if (s_ != FK_OK) fail(s_, fk_last_error(), 1); } while (0)

#define NOT_NULL(argno, name) \
	do { if (PG_ARGISNULL(argno)) ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), \
		errmsg("funnelkit: argument '%s' is NULL", (name)))); } while (0)

/* ---- states: a wrapper owning a C ABI handle ----------------------------------------------- */

typedef void (*free_fn) (void *);

typedef struct fkpg_state
{
	void	   *handle;
	free_fn		destroy;
	MemoryContextCallback callback;
} fkpg_state;

static void
release_handle(void *arg)
{
	fkpg_state *s = (fkpg_state *) arg;

	if (s->handle)
		s->destroy(s->handle);
	s->handle = NULL;
}

/* A wrapper in `context`, registered for release before any handle exists (so an error
 * between here and the handle's creation leaks nothing). */
static fkpg_state *
new_state(MemoryContext context, free_fn destroy)
{
	fkpg_state *s = (fkpg_state *) MemoryContextAllocZero(context, sizeof(fkpg_state));

	s->destroy = destroy;
	s->callback.func = release_handle;
	s->callback.arg = s;
	MemoryContextRegisterResetCallback(context, &s->callback);
	return s;
}

static MemoryContext
aggregate_context(FunctionCallInfo fcinfo, const char *name)
{
	MemoryContext context;

	if (!AggCheckCallContext(fcinfo, &context))
		ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						errmsg("funnelkit: %s called outside an aggregate", name)));
	return context;
}

static bytea *
to_bytea(const void *data, size_t size)
{
	bytea	   *out = (bytea *) palloc(VARHDRSZ + size);

	SET_VARSIZE(out, VARHDRSZ + size);
	memcpy(VARDATA(out), data, size);
	return out;
}


/* What the generic support functions need to know of a C ABI handle type. */
typedef struct state_kind
{
	const char *aggregate;
	free_fn		destroy;
	fk_status	(*make) (void **out);	/* NULL: copy through bytes instead */
	fk_status	(*merge) (void *into, const void *from);
	fk_status	(*serialize) (void *h, const void **data, size_t *size);
	fk_status	(*deserialize) (const void *data, size_t size, void **out);
	const char *(*error) (const void *h);
} state_kind;

static fk_status make_events(void **out) { return fk_events_new((fk_events **) out); }
static fk_status merge_events(void *a, const void *b) { return fk_events_merge(a, b); }
static fk_status serialize_events(void *h, const void **d, size_t *n) { return fk_events_serialize(h, d, n); }
static fk_status deserialize_events(const void *d, size_t n, void **out) { return fk_events_deserialize(d, n, (fk_events **) out); }
static const char *events_error(const void *h) { return fk_events_error(h); }

static fk_status merge_conversion(void *a, const void *b) { return fk_conversion_merge(a, b); }
static fk_status serialize_conversion(void *h, const void **d, size_t *n) { return fk_conversion_serialize(h, d, n); }
static fk_status deserialize_conversion(const void *d, size_t n, void **out) { return fk_conversion_deserialize(d, n, (fk_conversion **) out); }
static const char *conversion_error(const void *h) { return fk_conversion_error(h); }

static fk_status make_deals(void **out) { return fk_deals_new((fk_deals **) out); }
static fk_status merge_deals(void *a, const void *b) { return fk_deals_merge(a, b); }
static fk_status serialize_deals(void *h, const void **d, size_t *n) { return fk_deals_serialize(h, d, n); }
static fk_status deserialize_deals(const void *d, size_t n, void **out) { return fk_deals_deserialize(d, n, (fk_deals **) out); }
static const char *deals_error(const void *h) { return fk_deals_error(h); }

static void free_events(void *h) { fk_events_free(h); }
static void free_conversion(void *h) { fk_conversion_free(h); }
static void free_deals(void *h) { fk_deals_free(h); }
static void free_funnel_counts(void *h) { fk_funnel_counts_free(h); }
static void free_plan(void *h) { fk_plan_free(h); }

static fk_status merge_funnel_counts(void *a, const void *b) { return fk_funnel_counts_merge(a, b); }
static fk_status serialize_funnel_counts(void *h, const void **d, size_t *n) { return fk_funnel_counts_serialize(h, d, n); }
static fk_status deserialize_funnel_counts(const void *d, size_t n, void **out) { return fk_funnel_counts_deserialize(d, n, (fk_funnel_counts **) out); }
static const char *funnel_counts_error(const void *h) { return fk_funnel_counts_error(h); }
static void free_funnel_counts(void *h);

static const state_kind events_kind = {"window_funnel", free_events, make_events, merge_events, serialize_events,
										deserialize_events, events_error};
static const state_kind conversion_kind = {"conversion_counts", free_conversion, NULL, merge_conversion,
										   serialize_conversion, deserialize_conversion, conversion_error};
static const state_kind funnel_counts_kind = {"window_funnel_counts", free_funnel_counts, NULL, merge_funnel_counts,
											  serialize_funnel_counts, deserialize_funnel_counts, funnel_counts_error};
static const state_kind deals_kind = {"velocity", free_deals, make_deals, merge_deals, serialize_deals,
									  deserialize_deals, deals_error};

/* The state of argument 0, or a new one in the aggregate context. */
static fkpg_state *
state_or_new(FunctionCallInfo fcinfo, MemoryContext context, const state_kind *kind)
{
	fkpg_state *s;

	if (!PG_ARGISNULL(0))
		return (fkpg_state *) PG_GETARG_POINTER(0);
	s = new_state(context, kind->destroy);
	FK_CHECK(kind->make(&s->handle));
	return s;
}

static bytea *
state_bytes(const state_kind *kind, fkpg_state *s)
{
	const void *data;
	size_t		size;

	if (kind->serialize(s->handle, &data, &size) != FK_OK)
		fail(FK_INTERNAL, kind->error(s->handle), 0);
	return to_bytea(data, size);
}

/* A state read from bytes, owned by the current memory context; corrupted bytes are an error. */
static fkpg_state *
state_from_bytes(const state_kind *kind, bytea *bytes)
{
	fkpg_state *s = new_state(CurrentMemoryContext, kind->destroy);

	FK_CHECK_BYTES(kind->deserialize(VARDATA_ANY(bytes), VARSIZE_ANY_EXHDR(bytes), &s->handle));
	return s;
}

/* combinefunc: merges argument 1 into argument 0; a missing argument 0 becomes a copy of
 * argument 1 in the aggregate context (argument 1 may live in a shorter one). */
static Datum
combine_states(FunctionCallInfo fcinfo, const state_kind *kind)
{
	MemoryContext context = aggregate_context(fcinfo, kind->aggregate);
	fkpg_state *a;
	fkpg_state *b;

	if (PG_ARGISNULL(1))
		PG_RETURN_POINTER(PG_ARGISNULL(0) ? NULL : PG_GETARG_POINTER(0));
	b = (fkpg_state *) PG_GETARG_POINTER(1);
	if (PG_ARGISNULL(0) && kind->make == NULL)
	{
		const void *data;
		size_t		size;

		a = new_state(context, kind->destroy);
		if (kind->serialize(b->handle, &data, &size) != FK_OK)
			fail(FK_INTERNAL, kind->error(b->handle), 0);
		FK_CHECK(kind->deserialize(data, size, &a->handle));
		PG_RETURN_POINTER(a);
	}
	a = state_or_new(fcinfo, context, kind);
	if (kind->merge(a->handle, b->handle) != FK_OK)
		fail(FK_INVALID_ARGUMENT, kind->error(a->handle), 0);
	PG_RETURN_POINTER(a);
}


/* The combine, serialize and deserialize functions of an aggregate over one state kind. */
#define STATE_SUPPORT_FUNCTIONS(prefix, kind) \
	PG_FUNCTION_INFO_V1(prefix##_combine); \
	PG_FUNCTION_INFO_V1(prefix##_serialize); \
	PG_FUNCTION_INFO_V1(prefix##_deserialize); \
	Datum prefix##_combine(PG_FUNCTION_ARGS) { return combine_states(fcinfo, &(kind)); } \
	Datum prefix##_serialize(PG_FUNCTION_ARGS) \
	{ PG_RETURN_BYTEA_P(state_bytes(&(kind), (fkpg_state *) PG_GETARG_POINTER(0))); } \
	Datum prefix##_deserialize(PG_FUNCTION_ARGS) \
	{ PG_RETURN_POINTER(state_from_bytes(&(kind), PG_GETARG_BYTEA_PP(0))); }

/* A final function that returns the state's bytes (NULL without rows). */
#define STATE_BYTES_FINAL(name, kind) \
	PG_FUNCTION_INFO_V1(name); \
	Datum name(PG_FUNCTION_ARGS) \
	{ \
		if (PG_ARGISNULL(0)) \
			PG_RETURN_NULL(); \
		PG_RETURN_BYTEA_P(state_bytes(&(kind), (fkpg_state *) PG_GETARG_POINTER(0))); \
	}

/* An option that must be the same on every row of a group. */
static void
check_constant(const char *option, int32 value, uint32 earlier)
{
	if ((uint32) value != earlier)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("funnelkit: option '%s': value %d differs from the %u of earlier rows: it must be constant",
							   option, value, earlier)));
}

STATE_SUPPORT_FUNCTIONS(fkpg_window_funnel, events_kind)
STATE_SUPPORT_FUNCTIONS(fkpg_funnel_counts, funnel_counts_kind)
STATE_SUPPORT_FUNCTIONS(fkpg_conversion, conversion_kind)
STATE_SUPPORT_FUNCTIONS(fkpg_velocity, deals_kind)

/* ---- time ------------------------------------------------------------------------------- */

static int64
finite_timestamp(int64 ts, const char *name)
{
	if (TIMESTAMP_NOT_FINITE(ts))
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("funnelkit: argument '%s' is an infinite timestamp", name)));
	return ts;
}

/* An interval of fixed length in microseconds: days count 24 hours; months and years have no
 * fixed length and are refused. */
static int64
interval_micros(const Interval *iv, const char *name)
{
	int64		days_us;

	if (iv->month != 0)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("funnelkit: argument '%s' has months or years, which have no fixed length: give days, hours, minutes or seconds", name)));
	if (pg_mul_s64_overflow((int64) iv->day, USECS_PER_DAY, &days_us) ||
		pg_add_s64_overflow(days_us, iv->time, &days_us))
		ereport(ERROR, (errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
						errmsg("funnelkit: argument '%s' is out of range", name)));
	return days_us;
}

/* ---- window_funnel --------------------------------------------------------------------- */

/* The mode text of the last row, parsed once per distinct text (per call site). */
typedef struct mode_cache
{
	text	   *last;
	uint32		flags;
} mode_cache;

static uint32
parse_modes(FunctionCallInfo fcinfo, int argno)
{
	mode_cache *cache = (mode_cache *) fcinfo->flinfo->fn_extra;
	text	   *t;
	char	   *s;
	uint32		flags = 0;

	NOT_NULL(argno, "mode");
	t = PG_GETARG_TEXT_PP(argno);
	if (cache && VARSIZE_ANY_EXHDR(cache->last) == VARSIZE_ANY_EXHDR(t) &&
		memcmp(VARDATA_ANY(cache->last), VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t)) == 0)
		return cache->flags;
	s = text_to_cstring(t);
	FK_CHECK(fk_window_funnel_modes(s, &flags));
	pfree(s);
	if (!cache)
	{
		cache = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(mode_cache));
		fcinfo->flinfo->fn_extra = cache;
	}
	else if (cache->last)
		pfree(cache->last);
	{
		MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);

		cache->last = (text *) PG_DETOAST_DATUM_COPY(PointerGetDatum(t));
		MemoryContextSwitchTo(old);
	}
	cache->flags = flags;
	return flags;
}

/* The step mask of a row from its boolean conditions (NULL counts as false, as in WHERE). */
static uint64
condition_mask(ArrayType *conditions, uint32 *steps)
{
	int			n;
	bits8	   *nulls;
	const char *data;
	uint64		mask = 0;
	int			i;

	if (ARR_NDIM(conditions) > 1)
		ereport(ERROR, (errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
						errmsg("funnelkit: window_funnel conditions must be a one-dimensional array")));
	n = ARR_NDIM(conditions) == 0 ? 0 : ARR_DIMS(conditions)[0];
	if (n < 1 || n > 64)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("funnelkit: window_funnel takes 1 to 64 conditions, got %d", n)));
	nulls = ARR_NULLBITMAP(conditions);
	data = ARR_DATA_PTR(conditions);
	for (i = 0; i < n; ++i)
	{
		if (nulls && !(nulls[i / 8] & (1 << (i % 8))))
			continue;
		if (*data)
			mask |= UINT64CONST(1) << i;
		data += 1;
	}
	*steps = (uint32) n;
	return mask;
}

/* Arguments: state, window, [mode,] ts, conditions. */
static Datum
window_funnel_step(FunctionCallInfo fcinfo, bool interval_window, bool with_mode)
{
	MemoryContext context = aggregate_context(fcinfo, "window_funnel");
	int			ts_arg = with_mode ? 3 : 2;
	fkpg_state *s = state_or_new(fcinfo, context, &events_kind);
	fk_events  *h = (fk_events *) s->handle;
	int64		window;
	int64		ts;
	uint32		modes = 0;
	uint32		steps = 0;
	uint64		mask;

	NOT_NULL(1, "window");
	NOT_NULL(ts_arg, "timestamp");
	NOT_NULL(ts_arg + 1, "conditions");
	window = interval_window ? interval_micros(PG_GETARG_INTERVAL_P(1), "window") : PG_GETARG_INT64(1);
	if (with_mode)
		modes = parse_modes(fcinfo, 2);
	ts = PG_GETARG_INT64(ts_arg);
	if (interval_window)
		finite_timestamp(ts, "timestamp");
	mask = condition_mask(PG_GETARG_ARRAYTYPE_P(ts_arg + 1), &steps);
	if (fk_events_define(h, window, steps, modes) != FK_OK)
		fail(FK_INVALID_ARGUMENT, fk_events_error(h), 0);
	if (fk_events_add(h, ts, mask) != FK_OK)
		fail(FK_INVALID_ARGUMENT, fk_events_error(h), 0);
	PG_RETURN_POINTER(s);
}

PG_FUNCTION_INFO_V1(fk_window_funnel_int_step);
PG_FUNCTION_INFO_V1(fk_window_funnel_int_mode_step);
PG_FUNCTION_INFO_V1(fk_window_funnel_ts_step);
PG_FUNCTION_INFO_V1(fk_window_funnel_ts_mode_step);
PG_FUNCTION_INFO_V1(fk_window_funnel_final);

Datum fk_window_funnel_int_step(PG_FUNCTION_ARGS) { return window_funnel_step(fcinfo, false, false); }
Datum fk_window_funnel_int_mode_step(PG_FUNCTION_ARGS) { return window_funnel_step(fcinfo, false, true); }
Datum fk_window_funnel_ts_step(PG_FUNCTION_ARGS) { return window_funnel_step(fcinfo, true, false); }
Datum fk_window_funnel_ts_mode_step(PG_FUNCTION_ARGS) { return window_funnel_step(fcinfo, true, true); }


Datum
fk_window_funnel_final(PG_FUNCTION_ARGS)
{
	fkpg_state *s;
	uint32		level = 0;

	if (PG_ARGISNULL(0))
		PG_RETURN_INT32(0);
	s = (fkpg_state *) PG_GETARG_POINTER(0);
	if (fk_events_level((fk_events *) s->handle, &level) != FK_OK)
		fail(FK_INVALID_ARGUMENT, fk_events_error((fk_events *) s->handle), 0);
	PG_RETURN_INT32((int32) level);
}

/* window_funnel_counts(level integer, steps integer) -> bytea: how many entities ended at each
 * level, as the library's window_funnel_counts state (its serialized bytes). */
PG_FUNCTION_INFO_V1(fk_funnel_counts_step);
Datum
fk_funnel_counts_step(PG_FUNCTION_ARGS)
{
	MemoryContext context = aggregate_context(fcinfo, "window_funnel_counts");
	fkpg_state *s;
	fk_funnel_counts *h;
	int32		steps;
	int32		level;
	uint32		have;

	NOT_NULL(1, "level");
	NOT_NULL(2, "steps");
	level = PG_GETARG_INT32(1);
	steps = PG_GETARG_INT32(2);
	if (steps < 1 || steps > 64)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("funnelkit: option 'steps': value %d must be 1 to 64", steps)));
	if (level < 0 || level > steps)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("funnelkit: level %d is not 0 to %d", level, steps)));
	if (PG_ARGISNULL(0))
	{
		s = new_state(context, funnel_counts_kind.destroy);
		FK_CHECK(fk_funnel_counts_new((uint32) steps, (fk_funnel_counts **) &s->handle));
	}
	else
		s = (fkpg_state *) PG_GETARG_POINTER(0);
	h = (fk_funnel_counts *) s->handle;
	fk_funnel_counts_steps(h, &have);
	check_constant("steps", steps, have);
	if (fk_funnel_counts_add(h, (uint32) level, 1) != FK_OK)
		fail(FK_INVALID_ARGUMENT, fk_funnel_counts_error(h), 0);
	PG_RETURN_POINTER(s);
}

/* The final value is the serialized state itself (window_funnel_rows reads it); NULL without rows. */
STATE_BYTES_FINAL(fk_funnel_counts_final, funnel_counts_kind)

static Datum float_or_null(double v, int defined, bool *isnull);
static char *optional_text(FunctionCallInfo fcinfo, int argno, const char *fallback);
static double optional_float(FunctionCallInfo fcinfo, int argno, double fallback);

static void rate_rows(FunctionCallInfo fcinfo, int32 first_number, int count, int64 entities, int64 base,
					  const int64 *reached, const double *step_rate, const bool *step_defined,
					  const double *cumulative_rate, const bool *cumulative_defined);

/* window_funnel_rows(counts bytea, steps text[] DEFAULT NULL, confidence float8 DEFAULT 0.95,
 *                    interval text DEFAULT 'wilson')
 * RETURNS TABLE (level, step, entities, reached, step_rate, cumulative_rate, lower, upper): one
 * row per step k = 1..steps: reached(k) entities reached at least step k; step_rate =
 * reached(k)/reached(k-1) for k > 1 (reached(1)/reached(1) for step 1), cumulative_rate =
 * reached(k)/reached(1), lower and upper its interval; as funnelkit.window_funnel's table. */
PG_FUNCTION_INFO_V1(fk_funnel_rows);
Datum
fk_funnel_rows(PG_FUNCTION_ARGS)
{
	fk_funnel_counts *h;
	uint32		steps;
	uint32		k;
	int64		entities;
	int64	   *reached;
	double	   *step_rate;
	double	   *cumulative_rate;
	bool	   *step_defined;
	bool	   *cumulative_defined;

	NOT_NULL(0, "counts");
	h = (fk_funnel_counts *) state_from_bytes(&funnel_counts_kind, PG_GETARG_BYTEA_PP(0))->handle;
	fk_funnel_counts_steps(h, &steps);
	reached = palloc(sizeof(int64) * (steps + 1));
	step_rate = palloc(sizeof(double) * steps);
	cumulative_rate = palloc(sizeof(double) * steps);
	step_defined = palloc(sizeof(bool) * steps);
	cumulative_defined = palloc(sizeof(bool) * steps);
	for (k = 0; k <= steps; ++k)
		FK_CHECK(fk_funnel_counts_reached(h, k, &reached[k]));
	entities = reached[0];
	for (k = 1; k <= steps; ++k)
	{
		int64		previous = k == 1 ? reached[1] : reached[k - 1];

		step_defined[k - 1] = previous > 0;
		step_rate[k - 1] = previous > 0 ? (double) reached[k] / (double) previous : 0.0;
		cumulative_defined[k - 1] = reached[1] > 0;
		cumulative_rate[k - 1] = reached[1] > 0 ? (double) reached[k] / (double) reached[1] : 0.0;
	}
	rate_rows(fcinfo, 1, (int) steps, entities, reached[1], reached + 1, step_rate, step_defined,
			  cumulative_rate, cumulative_defined);
	return (Datum) 0;
}

/* ---- stage reach and conversion counts ------------------------------------------------- */

static int
implied_option(FunctionCallInfo fcinfo, int argno)
{
	char	   *s;
	int			implied;

	if (PG_NARGS() <= argno)
		return 1;
	NOT_NULL(argno, "skipped");
	s = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	if (strcmp(s, "implied") == 0)
		implied = 1;
	else if (strcmp(s, "recorded") == 0 || strcmp(s, "not_implied") == 0)
		implied = 0;
	else
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("funnelkit: option 'skipped': value '%s' is not 'implied' or 'recorded'", s)));
	pfree(s);
	return implied;
}

static int32
checked_stages(FunctionCallInfo fcinfo, int argno)
{
	int32		n;

	NOT_NULL(argno, "n_stages");
	n = PG_GETARG_INT32(argno);
	if (n < 1 || n > 64)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("funnelkit: option 'n_stages': value %d must be 1 to 64", n)));
	return n;
}

/* stage_reach(state bigint, rank integer, n_stages integer [, skipped text]) */
PG_FUNCTION_INFO_V1(fk_stage_reach_step);
Datum
fk_stage_reach_step(PG_FUNCTION_ARGS)
{
	int64		state = PG_ARGISNULL(0) ? 0 : PG_GETARG_INT64(0);
	int32		n = checked_stages(fcinfo, 2);
	uint64		mask = 0;

	NOT_NULL(1, "rank");
	FK_CHECK(fk_reach_mask(PG_GETARG_INT32(1), (uint32) n, implied_option(fcinfo, 3), &mask));
	PG_RETURN_INT64(state | (int64) mask);
}

/* stage_reach(state bigint, stage text, ladder text[] [, skipped text]): the rank is the
 * stage's position in the ladder; a stage not in it (lost, disqualified) reaches nothing. */
PG_FUNCTION_INFO_V1(fk_stage_reach_named_step);
Datum
fk_stage_reach_named_step(PG_FUNCTION_ARGS)
{
	int64		state = PG_ARGISNULL(0) ? 0 : PG_GETARG_INT64(0);
	text	   *stage;
	ArrayType  *ladder;
	Datum	   *items;
	bool	   *nulls;
	int			n;
	int			i;
	int32		rank = -1;
	uint64		mask = 0;

	NOT_NULL(1, "stage");
	NOT_NULL(2, "ladder");
	stage = PG_GETARG_TEXT_PP(1);
	ladder = PG_GETARG_ARRAYTYPE_P(2);
	deconstruct_array(ladder, TEXTOID, -1, false, TYPALIGN_INT, &items, &nulls, &n);
	if (n < 1 || n > 64)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("funnelkit: the ladder has %d stages; it must have 1 to 64", n)));
	for (i = 0; i < n; ++i)
	{
		text	   *t;

		if (nulls[i])
			ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
							errmsg("funnelkit: ladder stage %d is NULL", i + 1)));
		t = DatumGetTextPP(items[i]);
		if (VARSIZE_ANY_EXHDR(t) == VARSIZE_ANY_EXHDR(stage) &&
			memcmp(VARDATA_ANY(t), VARDATA_ANY(stage), VARSIZE_ANY_EXHDR(t)) == 0)
		{
			rank = i;
			break;
		}
	}
	FK_CHECK(fk_reach_mask(rank, (uint32) n, implied_option(fcinfo, 3), &mask));
	pfree(items);
	pfree(nulls);
	PG_RETURN_INT64(state | (int64) mask);
}

static fkpg_state *
conversion_state(FunctionCallInfo fcinfo, MemoryContext context, uint32 n_stages, int implied)
{
	fkpg_state *s;

	if (!PG_ARGISNULL(0))
		return (fkpg_state *) PG_GETARG_POINTER(0);
	s = new_state(context, conversion_kind.destroy);
	FK_CHECK(fk_conversion_new(n_stages, implied, (fk_conversion **) &s->handle));
	return s;
}

/* conversion_counts(state, reached bigint, n_stages integer [, skipped text]) */
PG_FUNCTION_INFO_V1(fk_conversion_step);
Datum
fk_conversion_step(PG_FUNCTION_ARGS)
{
	MemoryContext context = aggregate_context(fcinfo, "conversion_counts");
	int32		n = checked_stages(fcinfo, 2);
	fkpg_state *s = conversion_state(fcinfo, context, (uint32) n, implied_option(fcinfo, 3));
	fk_conversion *h = (fk_conversion *) s->handle;
	uint32		have;

	NOT_NULL(1, "reached");
	fk_conversion_shape(h, &have, NULL);
	check_constant("n_stages", n, have);
	if (fk_conversion_add(h, (uint64) PG_GETARG_INT64(1), -1) != FK_OK)
		fail(FK_INVALID_ARGUMENT, fk_conversion_error(h), 0);
	PG_RETURN_POINTER(s);
}


/* The final value is the serialized state itself: conversion_rows() reads it, and two of them
 * merge with conversion_merge(). NULL without rows. */
STATE_BYTES_FINAL(fk_conversion_final, conversion_kind)

/* A conversion state read from bytes, freed with the current memory context. */
static fk_conversion *
read_conversion(bytea *bytes)
{
	return (fk_conversion *) state_from_bytes(&conversion_kind, bytes)->handle;
}

PG_FUNCTION_INFO_V1(fk_conversion_merge_bytes);
Datum
fk_conversion_merge_bytes(PG_FUNCTION_ARGS)
{
	fk_conversion *a;
	fk_conversion *b;
	const void *data;
	size_t		size;

	NOT_NULL(0, "a");
	NOT_NULL(1, "b");
	a = read_conversion(PG_GETARG_BYTEA_PP(0));
	b = read_conversion(PG_GETARG_BYTEA_PP(1));
	if (fk_conversion_merge(a, b) != FK_OK)
		fail(FK_INVALID_ARGUMENT, fk_conversion_error(a), 0);
	if (fk_conversion_serialize(a, &data, &size) != FK_OK)
		fail(FK_INTERNAL, fk_conversion_error(a), 0);
	PG_RETURN_BYTEA_P(to_bytea(data, size));
}

static Datum
float_or_null(double v, int defined, bool *isnull)
{
	*isnull = !defined;
	return Float8GetDatum(defined ? v : 0.0);
}

static char *
optional_text(FunctionCallInfo fcinfo, int argno, const char *fallback)
{
	if (PG_NARGS() <= argno || PG_ARGISNULL(argno))
		return pstrdup(fallback);
	return text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

static double
optional_float(FunctionCallInfo fcinfo, int argno, double fallback)
{
	if (PG_NARGS() <= argno || PG_ARGISNULL(argno))
		return fallback;
	return PG_GETARG_FLOAT8(argno);
}

/* The rows of conversion_rows and window_funnel_rows: (number, name, entities, reached,
 * step_rate, cumulative_rate, lower, upper), numbered from first_number, named by the text[] of
 * argument 1 (or NULL), lower and upper the interval of reached over base (argument 2 the
 * confidence, argument 3 the interval method); no interval where reached exceeds base. */
static void
rate_rows(FunctionCallInfo fcinfo, int32 first_number, int count, int64 entities, int64 base,
		  const int64 *reached, const double *step_rate, const bool *step_defined,
		  const double *cumulative_rate, const bool *cumulative_defined)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum	   *names = NULL;
	bool	   *name_nulls = NULL;
	int			n_names = 0;
	double		confidence = optional_float(fcinfo, 2, 0.95);
	char	   *method = optional_text(fcinfo, 3, "wilson");
	int			k;

	if (PG_NARGS() > 1 && !PG_ARGISNULL(1))
	{
		deconstruct_array(PG_GETARG_ARRAYTYPE_P(1), TEXTOID, -1, false, TYPALIGN_INT, &names, &name_nulls, &n_names);
		if (n_names != count)
			ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							errmsg("funnelkit: %d names given for counts of %d stages or steps", n_names, count)));
	}
	InitMaterializedSRF(fcinfo, 0);
	for (k = 0; k < count; ++k)
	{
		Datum		values[8];
		bool		nulls[8] = {false};
		fk_interval iv;

		values[0] = Int32GetDatum(first_number + k);
		if (names && !name_nulls[k])
			values[1] = names[k];
		else
			nulls[1] = true;
		values[2] = Int64GetDatum(entities);
		values[3] = Int64GetDatum(reached[k]);
		values[4] = float_or_null(step_rate[k], step_defined[k], &nulls[4]);
		values[5] = float_or_null(cumulative_rate[k], cumulative_defined[k], &nulls[5]);
		FK_CHECK(fk_rate_interval(reached[k], base, confidence, method, &iv));
		values[6] = float_or_null(iv.lower, iv.defined && reached[k] <= base, &nulls[6]);
		values[7] = float_or_null(iv.upper, iv.defined && reached[k] <= base, &nulls[7]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
}

/* conversion_rows(counts bytea, stages text[] DEFAULT NULL, confidence float8 DEFAULT 0.95,
 *                 interval text DEFAULT 'wilson')
 * RETURNS TABLE (rank, stage, entities, reached, step_rate, cumulative_rate, lower, upper):
 * one row per ladder stage, the rates from the library; lower and upper bound the cumulative
 * rate. */
PG_FUNCTION_INFO_V1(fk_conversion_rows);
Datum
fk_conversion_rows(PG_FUNCTION_ARGS)
{
	fk_conversion *h;
	uint32		n;
	uint32		k;
	int64		entities;
	int64	   *reached;
	double	   *step_rate;
	double	   *cumulative_rate;
	bool	   *step_defined;
	bool	   *cumulative_defined;

	NOT_NULL(0, "counts");
	h = read_conversion(PG_GETARG_BYTEA_PP(0));
	fk_conversion_shape(h, &n, NULL);
	reached = palloc(sizeof(int64) * n);
	step_rate = palloc(sizeof(double) * n);
	cumulative_rate = palloc(sizeof(double) * n);
	step_defined = palloc(sizeof(bool) * n);
	cumulative_defined = palloc(sizeof(bool) * n);
	FK_CHECK(fk_conversion_entities(h, -1, &entities));
	for (k = 0; k < n; ++k)
	{
		int			defined;

		FK_CHECK(fk_conversion_reached(h, k, -1, &reached[k]));
		FK_CHECK(fk_conversion_step_rate(h, k, -1, &step_rate[k], &defined));
		step_defined[k] = defined != 0;
		FK_CHECK(fk_conversion_cumulative_rate(h, k, -1, &cumulative_rate[k], &defined));
		cumulative_defined[k] = defined != 0;
	}
	rate_rows(fcinfo, 0, (int) n, entities, n > 0 ? reached[0] : 0, reached, step_rate, step_defined,
			  cumulative_rate, cumulative_defined);
	return (Datum) 0;
}

/* ---- rates ------------------------------------------------------------------------------ */

static Datum
composite(FunctionCallInfo fcinfo, Datum *values, bool *nulls)
{
	TupleDesc	desc;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED), errmsg("funnelkit: a composite result type is needed")));
	desc = BlessTupleDesc(desc);
	return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
}

/* rate_interval(x bigint, n bigint, confidence float8, interval text) and wilson(x, n, confidence) */
PG_FUNCTION_INFO_V1(fk_rate_interval_sql);
Datum
fk_rate_interval_sql(PG_FUNCTION_ARGS)
{
	fk_interval iv;
	char	   *method = optional_text(fcinfo, 3, "wilson");
	Datum		values[3];
	bool		nulls[3];

	NOT_NULL(0, "successes");
	NOT_NULL(1, "trials");
	NOT_NULL(2, "confidence");
	FK_CHECK(fk_rate_interval(PG_GETARG_INT64(0), PG_GETARG_INT64(1), PG_GETARG_FLOAT8(2), method, &iv));
	values[0] = float_or_null(iv.estimate, iv.defined, &nulls[0]);
	values[1] = float_or_null(iv.lower, iv.defined, &nulls[1]);
	values[2] = float_or_null(iv.upper, iv.defined, &nulls[2]);
	return composite(fcinfo, values, nulls);
}

/* The four counts of a two-sample function, none NULL. */
static void
two_sample_counts(FunctionCallInfo fcinfo)
{
	static const char *const names[] = {"x_a", "n_a", "x_b", "n_b"};
	int			i;

	for (i = 0; i < 4; ++i)
		NOT_NULL(i, names[i]);
}

/* A test_result row (statistic, p_value), NULL where undefined. */
static Datum
test_row(FunctionCallInfo fcinfo, const fk_test *t)
{
	Datum		values[2];
	bool		nulls[2];

	values[0] = float_or_null(t->statistic, t->defined, &nulls[0]);
	values[1] = float_or_null(t->p_value, t->defined, &nulls[1]);
	return composite(fcinfo, values, nulls);
}

/* two_proportion_ztest(x_a, n_a, x_b, n_b, alternative text) */
PG_FUNCTION_INFO_V1(fk_two_proportion_ztest_sql);
Datum
fk_two_proportion_ztest_sql(PG_FUNCTION_ARGS)
{
	fk_test		t;

	two_sample_counts(fcinfo);
	FK_CHECK(fk_two_proportion_ztest(PG_GETARG_INT64(0), PG_GETARG_INT64(1), PG_GETARG_INT64(2), PG_GETARG_INT64(3),
									 optional_text(fcinfo, 4, "two-sided"), &t));
	return test_row(fcinfo, &t);
}

/* chi2_two_proportions(x_a, n_a, x_b, n_b, yates boolean) */
PG_FUNCTION_INFO_V1(fk_chi2_two_proportions_sql);
Datum
fk_chi2_two_proportions_sql(PG_FUNCTION_ARGS)
{
	fk_test		t;

	two_sample_counts(fcinfo);
	NOT_NULL(4, "yates");
	FK_CHECK(fk_chi2_two_proportions(PG_GETARG_INT64(0), PG_GETARG_INT64(1), PG_GETARG_INT64(2), PG_GETARG_INT64(3),
									 PG_GETARG_BOOL(4) ? 1 : 0, &t));
	return test_row(fcinfo, &t);
}

/* ---- velocity --------------------------------------------------------------------------- */

/* The transition function of every velocity aggregate. Arguments: state, created, closed,
 * outcome text, amount float8, [sql_time, first_touch,] period_start, period_end, [as_of,]
 * [unit float8 (bigint times only),] [options text]. Timestamps count microseconds and L is in
 * days; bigint times are ticks and L is in `unit` ticks. The C ABI reads the options with the
 * C++ option parsers; this function adds the unit's name (day) for timestamps and as_of. */
static Datum
velocity_step(FunctionCallInfo fcinfo, bool timestamps, bool starts, bool with_as_of)
{
	MemoryContext context = aggregate_context(fcinfo, "velocity");
	fkpg_state *s = state_or_new(fcinfo, context, &deals_kind);
	fk_deals   *h = (fk_deals *) s->handle;
	int			period_arg = starts ? 7 : 5;
	int			next = period_arg + 2;
	int			as_of_arg = with_as_of ? next++ : -1;
	int			unit_arg = timestamps ? -1 : next++;
	int64		created;
	int64		closed = FK_MISSING_TIME;
	int64		sql_time = FK_MISSING_TIME;
	int64		first_touch = FK_MISSING_TIME;
	int64		period_start;
	int64		period_end;
	int32		outcome;
	char	   *word;
	double		unit = (double) USECS_PER_DAY;
	char	   *user_options = optional_text(fcinfo, next, "");
	char	   *options;
	fk_status	added;

	NOT_NULL(1, "created");
	NOT_NULL(3, "outcome");
	NOT_NULL(4, "amount");
	NOT_NULL(period_arg, "period_start");
	NOT_NULL(period_arg + 1, "period_end");
	if (with_as_of)
		NOT_NULL(as_of_arg, "as_of");
	if (!timestamps && PG_NARGS() > unit_arg)
	{
		NOT_NULL(unit_arg, "unit");
		unit = PG_GETARG_FLOAT8(unit_arg);
	}
	else if (!timestamps)
		unit = 1.0;
	created = PG_GETARG_INT64(1);
	if (!PG_ARGISNULL(2))
		closed = PG_GETARG_INT64(2);
	if (starts && !PG_ARGISNULL(5))
		sql_time = PG_GETARG_INT64(5);
	if (starts && !PG_ARGISNULL(6))
		first_touch = PG_GETARG_INT64(6);
	period_start = PG_GETARG_INT64(period_arg);
	period_end = PG_GETARG_INT64(period_arg + 1);
	if (timestamps)
	{
		finite_timestamp(created, "created");
		if (closed != FK_MISSING_TIME)
			finite_timestamp(closed, "closed");
		if (sql_time != FK_MISSING_TIME)
			finite_timestamp(sql_time, "sql_time");
		if (first_touch != FK_MISSING_TIME)
			finite_timestamp(first_touch, "first_touch");
		finite_timestamp(period_start, "period_start");
		finite_timestamp(period_end, "period_end");
		if (with_as_of)
			finite_timestamp(PG_GETARG_INT64(as_of_arg), "as_of");
	}
	word = text_to_cstring(PG_GETARG_TEXT_PP(3));
	FK_CHECK(fk_deal_outcome(word, &outcome));
	options = psprintf("%s%s%s", timestamps ? "unit_name=day" : "", timestamps && *user_options ? "," : "",
					   user_options);
	if (with_as_of)
		options = psprintf("%s%sas_of=" INT64_FORMAT, options, *options ? "," : "", PG_GETARG_INT64(as_of_arg));
	if (fk_deals_define(h, period_start, period_end, unit, options) != FK_OK)
		fail(FK_INVALID_ARGUMENT, fk_deals_error(h), 0);
	added = starts ? fk_deals_add_cycle_starts(h, created, closed, outcome, PG_GETARG_FLOAT8(4), sql_time, first_touch)
		: fk_deals_add(h, created, closed, outcome, PG_GETARG_FLOAT8(4));
	if (added != FK_OK)
		fail(FK_INVALID_ARGUMENT, fk_deals_error(h), 0);
	pfree(word);
	pfree(user_options);
	pfree(options);
	PG_RETURN_POINTER(s);
}

/* The transition functions: ts (timestamp or timestamptz) or int (bigint) times, with the
 * cycle-start columns (starts) and an as_of argument or not. */
#define VELOCITY_STEP(name, timestamps, starts, as_of) \
	PG_FUNCTION_INFO_V1(name); \
	Datum name(PG_FUNCTION_ARGS) { return velocity_step(fcinfo, timestamps, starts, as_of); }
VELOCITY_STEP(fk_velocity_ts_step, true, false, false)
VELOCITY_STEP(fk_velocity_int_step, false, false, false)
VELOCITY_STEP(fk_velocity_ts_as_of_step, true, false, true)
VELOCITY_STEP(fk_velocity_int_as_of_step, false, false, true)
VELOCITY_STEP(fk_velocity_ts_starts_step, true, true, false)
VELOCITY_STEP(fk_velocity_int_starts_step, false, true, false)
VELOCITY_STEP(fk_velocity_ts_starts_as_of_step, true, true, true)
VELOCITY_STEP(fk_velocity_int_starts_as_of_step, false, true, true)

/* RETURNS velocity_result (n, won, lost, won_amount, lost_amount, deal_value, win_rate,
 * cycle_length, velocity, status, reason, velocity_per_period, realised, period_length,
 * cycle_deals, cycle_missing, ci_lower, ci_upper, as_of, observed, partial, basis), or
 * velocity_result_timestamp / velocity_result_bigint, the same with as_of of the times' type
 * (each an int64 Datum). */
PG_FUNCTION_INFO_V1(fk_velocity_final);
Datum
fk_velocity_final(PG_FUNCTION_ARGS)
{
	fkpg_state *s;
	fk_velocity v;
	Datum		values[22];
	bool		nulls[22] = {false};
	static const char *const statuses[] = {"ok", "no_won_deals", "no_closed_deals", "no_cycle", "zero_cycle"};

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	s = (fkpg_state *) PG_GETARG_POINTER(0);
	if (fk_deals_result((fk_deals *) s->handle, &v) != FK_OK)
		fail(FK_INVALID_ARGUMENT, fk_deals_error((fk_deals *) s->handle), 0);
	values[0] = Float8GetDatum(v.n);
	values[1] = Int64GetDatum(v.won);
	values[2] = Int64GetDatum(v.lost);
	values[3] = Float8GetDatum(v.won_amount);
	values[4] = Float8GetDatum(v.lost_amount);
	values[5] = float_or_null(v.deal_value, v.has_deal_value, &nulls[5]);
	values[6] = float_or_null(v.win_rate, v.has_win_rate, &nulls[6]);
	values[7] = float_or_null(v.cycle_length, v.has_cycle_length, &nulls[7]);
	values[8] = float_or_null(v.velocity, v.has_velocity, &nulls[8]);
	values[9] = CStringGetTextDatum(v.status >= 0 && v.status <= 4 ? statuses[v.status] : "unknown");
	values[10] = CStringGetTextDatum(v.reason ? v.reason : "");
	values[11] = float_or_null(v.velocity_per_period, v.has_velocity_per_period, &nulls[11]);
	values[12] = Float8GetDatum(v.realised);
	values[13] = Float8GetDatum(v.period_length);
	values[14] = Int64GetDatum(v.cycle_deals);
	values[15] = Int64GetDatum(v.cycle_missing);
	values[16] = float_or_null(v.ci_lower, v.has_ci, &nulls[16]);
	values[17] = float_or_null(v.ci_upper, v.has_ci, &nulls[17]);
	values[18] = Int64GetDatum(v.as_of);
	nulls[18] = v.as_of == FK_MISSING_TIME;
	values[19] = Float8GetDatum(v.observed);
	values[20] = BoolGetDatum(v.partial != 0);
	values[21] = CStringGetTextDatum(v.basis ? v.basis : "");
	return composite(fcinfo, values, nulls);
}

/* ---- the reverse funnel ------------------------------------------------------------------ */

/* reverse_funnel(goal, deal_value, stages text[], rates float8[], periods int, reps int,
 *                won text, rounding text) RETURNS TABLE (stage, rate, rate_to_won, exact,
 *                volume, per_period, per_rep_per_period) */
PG_FUNCTION_INFO_V1(fk_reverse_funnel);
Datum
fk_reverse_funnel(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum	   *name_items;
	bool	   *name_nulls;
	int			n_names;
	Datum	   *rate_items;
	bool	   *rate_nulls;
	int			n_rates;
	const char **names;
	double	   *rates;
	int			i;
	char	   *won;
	char	   *rounding;
	fk_plan    *plan = NULL;
	fkpg_state *owner;
	size_t		rows;
	size_t		r;

	for (i = 0; i < 8; ++i)
		NOT_NULL(i, i == 0 ? "goal" : i == 1 ? "deal_value" : i == 2 ? "stages" : i == 3 ? "rates"
				 : i == 4 ? "periods" : i == 5 ? "reps" : i == 6 ? "won" : "rounding");
	deconstruct_array(PG_GETARG_ARRAYTYPE_P(2), TEXTOID, -1, false, TYPALIGN_INT, &name_items, &name_nulls, &n_names);
	deconstruct_array(PG_GETARG_ARRAYTYPE_P(3), FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &rate_items,
					  &rate_nulls, &n_rates);
	if (n_names != n_rates)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("funnelkit: %d stages but %d rates: give one rate per stage", n_names, n_rates)));
	names = palloc(sizeof(char *) * (n_names + 1));
	rates = palloc(sizeof(double) * (n_names + 1));
	for (i = 0; i < n_names; ++i)
	{
		if (name_nulls[i] || rate_nulls[i])
			ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
							errmsg("funnelkit: stage %d has a NULL name or rate", i + 1)));
		names[i] = TextDatumGetCString(name_items[i]);
		rates[i] = DatumGetFloat8(rate_items[i]);
	}
	won = text_to_cstring(PG_GETARG_TEXT_PP(6));
	rounding = text_to_cstring(PG_GETARG_TEXT_PP(7));
	owner = new_state(CurrentMemoryContext, free_plan);
	FK_CHECK(fk_plan_reverse_funnel(PG_GETARG_FLOAT8(0), PG_GETARG_FLOAT8(1), names, rates, (size_t) n_names, won,
									PG_GETARG_INT32(4), PG_GETARG_INT32(5), rounding, &plan));
	owner->handle = plan;
	InitMaterializedSRF(fcinfo, 0);
	fk_plan_size(plan, &rows);
	for (r = 0; r < rows; ++r)
	{
		fk_plan_row row;
		Datum		values[7];
		bool		nulls[7] = {false};

		if (fk_plan_row_at(plan, r, &row) != FK_OK)
			fail(FK_INTERNAL, fk_plan_error(plan), 0);
		values[0] = CStringGetTextDatum(row.name);
		values[1] = float_or_null(row.rate, row.has_rate, &nulls[1]);
		values[2] = Float8GetDatum(row.rate_to_won);
		values[3] = Float8GetDatum(row.exact);
		values[4] = Float8GetDatum(row.volume);
		values[5] = Float8GetDatum(row.per_period);
		values[6] = Float8GetDatum(row.per_rep_per_period);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* ---- introspection ------------------------------------------------------------------------ */

PG_FUNCTION_INFO_V1(fk_version_sql);
Datum
fk_version_sql(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(fk_version()));
}

/* funnelkit_state_check(state bytea) RETURNS text: reads any serialized state of this
 * extension (the bytes of conversion_counts, and of the aggregate states that parallel plans
 * pass between processes) through the same checks as the aggregates, and describes it; an
 * SQL error names what is wrong with corrupted bytes. */
PG_FUNCTION_INFO_V1(fk_state_check);
Datum
fk_state_check(PG_FUNCTION_ARGS)
{
	bytea	   *bytes = PG_GETARG_BYTEA_PP(0);
	const char *data = VARDATA_ANY(bytes);
	size_t		size = VARSIZE_ANY_EXHDR(bytes);
	char		magic[5] = {0};
	char	   *out;

	if (size >= 4)
		memcpy(magic, data, 4);
	if (strcmp(magic, "FKEV") == 0)
	{
		fkpg_state *s = state_from_bytes(&events_kind, bytes);
		size_t		n;
		int			defined;

		fk_events_size((fk_events *) s->handle, &n, &defined);
		out = psprintf("window_funnel events: %zu events", n);
	}
	else if (strcmp(magic, "FKDL") == 0)
	{
		fkpg_state *s = state_from_bytes(&deals_kind, bytes);
		size_t		n;

		fk_deals_size((fk_deals *) s->handle, &n);
		out = psprintf("velocity deals: %zu deals", n);
	}
	else if (strcmp(magic, "FKWF") == 0)
	{
		fkpg_state *s = state_from_bytes(&funnel_counts_kind, bytes);
		uint32		steps;

		fk_funnel_counts_steps((fk_funnel_counts *) s->handle, &steps);
		out = psprintf("window_funnel counts: %u steps", steps);
	}
	else
	{
		fk_conversion *h = read_conversion(bytes);
		uint32		stages;
		int64		entities;

		fk_conversion_shape(h, &stages, NULL);
		FK_CHECK(fk_conversion_entities(h, -1, &entities));
		out = psprintf("conversion_counts: %u stages, " INT64_FORMAT " entities", stages, entities);
	}
	PG_RETURN_TEXT_P(cstring_to_text(out));
}
