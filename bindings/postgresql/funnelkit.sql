-- The SQL objects of the funnelkit extension. docs/sql.md describes each one.
\echo Use "CREATE EXTENSION funnelkit" to load this file. \quit

CREATE FUNCTION funnelkit_version() RETURNS text
    AS 'MODULE_PATHNAME', 'fk_version_sql' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- ---- window_funnel: the level of an entity's events (ClickHouse's windowFunnel) -----------------
-- Support functions of the aggregates: transition (one per argument shape), combine, serialize,
-- deserialize, final. The state is a buffer of (time, step mask) in the aggregate context.
CREATE FUNCTION fk_window_funnel_step(internal, bigint, bigint, VARIADIC boolean[]) RETURNS internal
    AS 'MODULE_PATHNAME', 'fk_window_funnel_int_step' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION fk_window_funnel_step(internal, bigint, text, bigint, VARIADIC boolean[]) RETURNS internal
    AS 'MODULE_PATHNAME', 'fk_window_funnel_int_mode_step' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION fk_window_funnel_step(internal, interval, timestamp, VARIADIC boolean[]) RETURNS internal
    AS 'MODULE_PATHNAME', 'fk_window_funnel_ts_step' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION fk_window_funnel_step(internal, interval, text, timestamp, VARIADIC boolean[]) RETURNS internal
    AS 'MODULE_PATHNAME', 'fk_window_funnel_ts_mode_step' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION fk_window_funnel_step(internal, interval, timestamptz, VARIADIC boolean[]) RETURNS internal
    AS 'MODULE_PATHNAME', 'fk_window_funnel_ts_step' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION fk_window_funnel_step(internal, interval, text, timestamptz, VARIADIC boolean[]) RETURNS internal
    AS 'MODULE_PATHNAME', 'fk_window_funnel_ts_mode_step' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION fk_window_funnel_combine(internal, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'fkpg_window_funnel_combine' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION fk_window_funnel_serialize(internal) RETURNS bytea
    AS 'MODULE_PATHNAME', 'fkpg_window_funnel_serialize' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION fk_window_funnel_deserialize(bytea, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'fkpg_window_funnel_deserialize' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION fk_window_funnel_final(internal) RETURNS integer
    AS 'MODULE_PATHNAME', 'fk_window_funnel_final' LANGUAGE C PARALLEL SAFE;

CREATE AGGREGATE window_funnel(conversion_window bigint, ts bigint, VARIADIC conditions boolean[]) (
    SFUNC = fk_window_funnel_step, STYPE = internal, FINALFUNC = fk_window_funnel_final,
    COMBINEFUNC = fk_window_funnel_combine, SERIALFUNC = fk_window_funnel_serialize,
    DESERIALFUNC = fk_window_funnel_deserialize, PARALLEL = SAFE);
CREATE AGGREGATE window_funnel(conversion_window bigint, mode text, ts bigint, VARIADIC conditions boolean[]) (
    SFUNC = fk_window_funnel_step, STYPE = internal, FINALFUNC = fk_window_funnel_final,
    COMBINEFUNC = fk_window_funnel_combine, SERIALFUNC = fk_window_funnel_serialize,
    DESERIALFUNC = fk_window_funnel_deserialize, PARALLEL = SAFE);
CREATE AGGREGATE window_funnel(conversion_window interval, ts timestamp, VARIADIC conditions boolean[]) (
    SFUNC = fk_window_funnel_step, STYPE = internal, FINALFUNC = fk_window_funnel_final,
    COMBINEFUNC = fk_window_funnel_combine, SERIALFUNC = fk_window_funnel_serialize,
    DESERIALFUNC = fk_window_funnel_deserialize, PARALLEL = SAFE);
CREATE AGGREGATE window_funnel(conversion_window interval, mode text, ts timestamp, VARIADIC conditions boolean[]) (
    SFUNC = fk_window_funnel_step, STYPE = internal, FINALFUNC = fk_window_funnel_final,
    COMBINEFUNC = fk_window_funnel_combine, SERIALFUNC = fk_window_funnel_serialize,
    DESERIALFUNC = fk_window_funnel_deserialize, PARALLEL = SAFE);
CREATE AGGREGATE window_funnel(conversion_window interval, ts timestamptz, VARIADIC conditions boolean[]) (
    SFUNC = fk_window_funnel_step, STYPE = internal, FINALFUNC = fk_window_funnel_final,
    COMBINEFUNC = fk_window_funnel_combine, SERIALFUNC = fk_window_funnel_serialize,
    DESERIALFUNC = fk_window_funnel_deserialize, PARALLEL = SAFE);
CREATE AGGREGATE window_funnel(conversion_window interval, mode text, ts timestamptz, VARIADIC conditions boolean[]) (
    SFUNC = fk_window_funnel_step, STYPE = internal, FINALFUNC = fk_window_funnel_final,
    COMBINEFUNC = fk_window_funnel_combine, SERIALFUNC = fk_window_funnel_serialize,
    DESERIALFUNC = fk_window_funnel_deserialize, PARALLEL = SAFE);

-- window_funnel_counts: entities per level (the library's window_funnel_counts state, as bytes),
-- shown per step with rates and intervals by window_funnel_rows.
CREATE FUNCTION fk_funnel_counts_step(internal, integer, integer) RETURNS internal
    AS 'MODULE_PATHNAME', 'fk_funnel_counts_step' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION fk_funnel_counts_combine(internal, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'fkpg_funnel_counts_combine' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION fk_funnel_counts_serialize(internal) RETURNS bytea
    AS 'MODULE_PATHNAME', 'fkpg_funnel_counts_serialize' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION fk_funnel_counts_deserialize(bytea, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'fkpg_funnel_counts_deserialize' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION fk_funnel_counts_final(internal) RETURNS bytea
    AS 'MODULE_PATHNAME', 'fk_funnel_counts_final' LANGUAGE C PARALLEL SAFE;

CREATE AGGREGATE window_funnel_counts(level integer, steps integer) (
    SFUNC = fk_funnel_counts_step, STYPE = internal, FINALFUNC = fk_funnel_counts_final,
    COMBINEFUNC = fk_funnel_counts_combine, SERIALFUNC = fk_funnel_counts_serialize,
    DESERIALFUNC = fk_funnel_counts_deserialize, PARALLEL = SAFE);

CREATE FUNCTION window_funnel_rows(counts bytea, steps text[] DEFAULT NULL, confidence float8 DEFAULT 0.95,
                                   "interval" text DEFAULT 'wilson')
    RETURNS TABLE (level integer, step text, entities bigint, reached bigint, step_rate float8,
                   cumulative_rate float8, lower float8, upper float8)
    AS 'MODULE_PATHNAME', 'fk_funnel_rows' LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 8;

-- ---- stage reach per entity and conversion counts ---------------------------------------------
CREATE FUNCTION fk_stage_reach_step(bigint, integer, integer) RETURNS bigint
    AS 'MODULE_PATHNAME', 'fk_stage_reach_step' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION fk_stage_reach_step(bigint, integer, integer, text) RETURNS bigint
    AS 'MODULE_PATHNAME', 'fk_stage_reach_step' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION fk_stage_reach_step(bigint, text, text[]) RETURNS bigint
    AS 'MODULE_PATHNAME', 'fk_stage_reach_named_step' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION fk_stage_reach_step(bigint, text, text[], text) RETURNS bigint
    AS 'MODULE_PATHNAME', 'fk_stage_reach_named_step' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE AGGREGATE stage_reach(rank integer, n_stages integer) (
    SFUNC = fk_stage_reach_step, STYPE = bigint, INITCOND = '0', COMBINEFUNC = int8or, PARALLEL = SAFE);
CREATE AGGREGATE stage_reach(rank integer, n_stages integer, skipped text) (
    SFUNC = fk_stage_reach_step, STYPE = bigint, INITCOND = '0', COMBINEFUNC = int8or, PARALLEL = SAFE);
CREATE AGGREGATE stage_reach(stage text, ladder text[]) (
    SFUNC = fk_stage_reach_step, STYPE = bigint, INITCOND = '0', COMBINEFUNC = int8or, PARALLEL = SAFE);
CREATE AGGREGATE stage_reach(stage text, ladder text[], skipped text) (
    SFUNC = fk_stage_reach_step, STYPE = bigint, INITCOND = '0', COMBINEFUNC = int8or, PARALLEL = SAFE);

CREATE FUNCTION fk_conversion_step(internal, bigint, integer) RETURNS internal
    AS 'MODULE_PATHNAME', 'fk_conversion_step' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION fk_conversion_step(internal, bigint, integer, text) RETURNS internal
    AS 'MODULE_PATHNAME', 'fk_conversion_step' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION fk_conversion_combine(internal, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'fkpg_conversion_combine' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION fk_conversion_serialize(internal) RETURNS bytea
    AS 'MODULE_PATHNAME', 'fkpg_conversion_serialize' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION fk_conversion_deserialize(bytea, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'fkpg_conversion_deserialize' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION fk_conversion_final(internal) RETURNS bytea
    AS 'MODULE_PATHNAME', 'fk_conversion_final' LANGUAGE C PARALLEL SAFE;

CREATE AGGREGATE conversion_counts(reached bigint, n_stages integer) (
    SFUNC = fk_conversion_step, STYPE = internal, FINALFUNC = fk_conversion_final,
    COMBINEFUNC = fk_conversion_combine, SERIALFUNC = fk_conversion_serialize,
    DESERIALFUNC = fk_conversion_deserialize, PARALLEL = SAFE);
CREATE AGGREGATE conversion_counts(reached bigint, n_stages integer, skipped text) (
    SFUNC = fk_conversion_step, STYPE = internal, FINALFUNC = fk_conversion_final,
    COMBINEFUNC = fk_conversion_combine, SERIALFUNC = fk_conversion_serialize,
    DESERIALFUNC = fk_conversion_deserialize, PARALLEL = SAFE);

CREATE FUNCTION conversion_merge(a bytea, b bytea) RETURNS bytea
    AS 'MODULE_PATHNAME', 'fk_conversion_merge_bytes' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION conversion_rows(counts bytea, stages text[] DEFAULT NULL, confidence float8 DEFAULT 0.95,
                                "interval" text DEFAULT 'wilson')
    RETURNS TABLE (rank integer, stage text, entities bigint, reached bigint, step_rate float8,
                   cumulative_rate float8, lower float8, upper float8)
    AS 'MODULE_PATHNAME', 'fk_conversion_rows' LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 8;

-- ---- rates: intervals and two-sample tests -------------------------------------------------------
CREATE TYPE rate_interval_result AS (estimate float8, lower float8, upper float8);
CREATE TYPE test_result AS (statistic float8, p_value float8);

CREATE FUNCTION rate_interval(successes bigint, trials bigint, confidence float8 DEFAULT 0.95,
                              "interval" text DEFAULT 'wilson') RETURNS rate_interval_result
    AS 'MODULE_PATHNAME', 'fk_rate_interval_sql' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION wilson(successes bigint, trials bigint, confidence float8 DEFAULT 0.95) RETURNS rate_interval_result
    AS 'MODULE_PATHNAME', 'fk_rate_interval_sql' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION two_proportion_ztest(x_a bigint, n_a bigint, x_b bigint, n_b bigint,
                                     alternative text DEFAULT 'two-sided') RETURNS test_result
    AS 'MODULE_PATHNAME', 'fk_two_proportion_ztest_sql' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION chi2_two_proportions(x_a bigint, n_a bigint, x_b bigint, n_b bigint, yates boolean DEFAULT true)
    RETURNS test_result
    AS 'MODULE_PATHNAME', 'fk_chi2_two_proportions_sql' LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- ---- sales velocity over deal rows -------------------------------------------------------------------
-- n: N under the count option (by default the time-averaged open pipeline, fractional);
-- velocity: V per unit of L; velocity_per_period = V * period_length; realised: won amount of
-- the deals won in the period / period_length; ci_lower, ci_upper: bootstrap interval of V
-- (option bootstrap=R); as_of: the end of the data, of the times' type (hence one result type
-- per time type); observed: the share of the period up to as_of; partial: the period runs past
-- as_of; basis: the options V's drivers depend on.
-- Per time type T (timestamptz, timestamp, bigint with a unit float8 argument U after the
-- period and as_of), five shapes of the aggregate:
--   velocity(created T, closed T, outcome text, amount float8, period_start T, period_end T [U])
--   velocity(... period_end T [U], options text)
--   velocity(... period_end T, as_of T [U], options text)
--   velocity(created T, closed T, outcome text, amount float8, sql_time T, first_touch T,
--            period_start T, period_end T [U], options text)
--   velocity(... sql_time T, first_touch T, period_start T, period_end T, as_of T [U], options text)
CREATE FUNCTION fk_velocity_combine(internal, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'fkpg_velocity_combine' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION fk_velocity_serialize(internal) RETURNS bytea
    AS 'MODULE_PATHNAME', 'fkpg_velocity_serialize' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION fk_velocity_deserialize(bytea, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'fkpg_velocity_deserialize' LANGUAGE C STRICT PARALLEL SAFE;

DO $velocity$
DECLARE
    t record;
    shape record;
    fields constant text := 'n float8, won bigint, lost bigint, won_amount float8, lost_amount float8, '
        'deal_value float8, win_rate float8, cycle_length float8, velocity float8, status text, reason text, '
        'velocity_per_period float8, realised float8, period_length float8, cycle_deals bigint, '
        'cycle_missing bigint, ci_lower float8, ci_upper float8, as_of %s, observed float8, partial boolean, '
        'basis text';
    args text;
    types text;
BEGIN
    FOR t IN SELECT * FROM (VALUES ('timestamptz', 'velocity_result', 'ts', ''),
                                   ('timestamp', 'velocity_result_timestamp', 'ts', ''),
                                   ('bigint', 'velocity_result_bigint', 'int', ', unit float8')) v(ty, result, c, unit)
    LOOP
        EXECUTE format('CREATE TYPE %I AS (' || fields || ')', t.result, t.ty);
        EXECUTE format('CREATE FUNCTION fk_velocity_final_%s(internal) RETURNS %I '
                       'AS ''MODULE_PATHNAME'', ''fk_velocity_final'' LANGUAGE C PARALLEL SAFE', t.ty, t.result);
        FOR shape IN SELECT * FROM (VALUES
                ('', '', false, '', ''),
                ('', '', false, ', options text', ''),
                ('', ', as_of %1$s', true, ', options text', '_as_of'),
                (', sql_time %1$s, first_touch %1$s', '', false, ', options text', '_starts'),
                (', sql_time %1$s, first_touch %1$s', ', as_of %1$s', true, ', options text', '_starts_as_of'))
                v(starts, as_of, has_as_of, options, suffix)
        LOOP
            args := format('created %1$s, closed %1$s, outcome text, amount float8' || shape.starts ||
                           ', period_start %1$s, period_end %1$s' || shape.as_of || t.unit || shape.options, t.ty);
            -- The transition function takes the state, then the aggregate's argument types.
            types := regexp_replace(args, '(^|, )[a-z_]+ ', '\1', 'g');
            EXECUTE format('CREATE FUNCTION fk_velocity_step(internal, %s) RETURNS internal '
                           'AS ''MODULE_PATHNAME'', ''fk_velocity_%s%s_step'' LANGUAGE C PARALLEL SAFE',
                           types, t.c, shape.suffix);
            EXECUTE format('CREATE AGGREGATE velocity(%s) (SFUNC = fk_velocity_step, STYPE = internal, '
                           'FINALFUNC = fk_velocity_final_%s, COMBINEFUNC = fk_velocity_combine, '
                           'SERIALFUNC = fk_velocity_serialize, DESERIALFUNC = fk_velocity_deserialize, '
                           'PARALLEL = SAFE)', args, t.ty);
        END LOOP;
    END LOOP;
END
$velocity$;

-- ---- the reverse funnel ---------------------------------------------------------------------------
CREATE FUNCTION reverse_funnel(goal float8, deal_value float8, stages text[], rates float8[],
                               periods integer DEFAULT 1, reps integer DEFAULT 1,
                               won text DEFAULT 'Customer', rounding text DEFAULT 'deals_first')
    RETURNS TABLE (stage text, rate float8, rate_to_won float8, exact float8, volume float8,
                   per_period float8, per_rep_per_period float8)
    AS 'MODULE_PATHNAME', 'fk_reverse_funnel' LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 8;

-- ---- introspection ----------------------------------------------------------------------------------
CREATE FUNCTION funnelkit_state_check(state bytea) RETURNS text
    AS 'MODULE_PATHNAME', 'fk_state_check' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
