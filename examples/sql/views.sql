-- Views a BI tool (Metabase, Superset, Tableau, Power BI, Looker) can chart directly, over the
-- tables that load_sample.py creates:
--   crm(entity bigint, time timestamp, stage text, source text, amount float8)  one row per stage change
--   deals(entity, source, created, closed, outcome, amount)                     one row per opportunity
-- Every number comes from the funnelkit extension, with the definitions of docs/sql.md.
CREATE EXTENSION IF NOT EXISTS funnelkit;

-- The ladder of the stage model, in order. Stages not in it (Lost, Disqualified) reach nothing.
CREATE OR REPLACE VIEW funnel_ladder AS
SELECT ARRAY['Lead', 'MQL', 'SAL', 'SQL', 'Opportunity', 'Customer'] AS stages;

-- Which ladder stages each lead reached (skipped stages implied) and its source.
CREATE OR REPLACE VIEW lead_reach AS
SELECT c.entity, stage_reach(c.stage, l.stages) AS reached,
       (array_agg(c.source ORDER BY c.time, c.source))[1] AS source,
       min(c.time) AS first_seen
FROM crm c CROSS JOIN funnel_ladder l
GROUP BY c.entity;

-- Funnel by source with 95% Wilson intervals of the cumulative rate; source '(all)' is every lead.
CREATE OR REPLACE VIEW funnel_by_source AS
WITH counts AS (
    SELECT source, conversion_counts(reached, 6) AS c FROM lead_reach GROUP BY source
    UNION ALL
    SELECT '(all)', conversion_counts(reached, 6) FROM lead_reach)
SELECT counts.source, r.rank, r.stage, r.entities, r.reached, r.step_rate, r.cumulative_rate,
       r.lower AS cumulative_lower, r.upper AS cumulative_upper
FROM counts CROSS JOIN funnel_ladder l, conversion_rows(counts.c, l.stages) r;

-- Each source's lead-to-customer rate against all other sources: pooled two-proportion z-test
-- (z > 0: the source converts better than the rest).
CREATE OR REPLACE VIEW source_vs_rest AS
WITH per AS (
    SELECT source, count(*) AS leads, count(*) FILTER (WHERE reached & 32 <> 0) AS customers
    FROM lead_reach GROUP BY source),
tot AS (SELECT sum(leads)::bigint AS leads, sum(customers)::bigint AS customers FROM per)
SELECT per.source, per.leads, per.customers, per.customers::float8 / per.leads AS rate,
       t.statistic AS z, t.p_value
FROM per CROSS JOIN tot,
     two_proportion_ztest(tot.customers - per.customers, tot.leads - per.leads, per.customers, per.leads) t;

-- Event funnel by week of the first touch: Lead -> MQL -> SQL -> Customer within 60 days of
-- the lead (ClickHouse's windowFunnel rule): per step, the entities that reached it, the step and
-- cumulative rates, and the 95% Wilson interval of the cumulative rate.
CREATE OR REPLACE VIEW event_funnel_by_week AS
WITH levels AS (
    SELECT entity, date_trunc('week', min(time)) AS week,
           window_funnel(interval '60 days', time, stage = 'Lead', stage = 'MQL', stage = 'SQL',
                         stage = 'Customer') AS level
    FROM crm GROUP BY entity),
counts AS (SELECT week, window_funnel_counts(level, 4) AS c FROM levels GROUP BY week)
SELECT counts.week, r.level AS step, r.step AS name, r.entities, r.reached, r.step_rate, r.cumulative_rate,
       r.lower AS cumulative_lower, r.upper AS cumulative_upper
FROM counts, window_funnel_rows(counts.c, ARRAY['Lead', 'MQL', 'SQL', 'Customer']) r;

-- Sales velocity V = N * D * W / L per source and calendar quarter (L in days, V per day), with
-- the library's default definitions: N is the time-averaged number of open opportunities over
-- the quarter (not a head count: an opportunity open half the quarter counts one half), L the
-- mean days from creation to close of every deal closed in the quarter, won or lost. By
-- Little's law V then estimates won revenue per day; realised_per_day, the amount actually won
-- in the quarter per day, stands beside it as the check. velocity_per_quarter = V * days.
-- Every source shares one end of the data (as_of, the latest time in deals): a quarter running
-- past it is partial (observed_share < 1), and its V and realised are not comparable with whole
-- quarters. cycle_days_from_sql and velocity_per_day_from_sql measure L from the SQL stage
-- instead of the opportunity's creation (cycle_from=sql).
CREATE OR REPLACE VIEW velocity_by_source AS
WITH quarters AS (
    SELECT q AS period_start, q + interval '3 months' AS period_end
    FROM generate_series((SELECT date_trunc('quarter', min(created)) FROM deals),
                         (SELECT date_trunc('quarter', max(created)) FROM deals), interval '3 months') q),
data_end AS (
    SELECT greatest(max(created), max(closed), max(sql_time), max(first_touch)) AS as_of FROM deals),
v AS (
    SELECT d.source, q.period_start,
           velocity(d.created, d.closed, d.outcome, d.amount, d.sql_time, d.first_touch, q.period_start,
                    q.period_end, e.as_of, '') AS v,
           velocity(d.created, d.closed, d.outcome, d.amount, d.sql_time, d.first_touch, q.period_start,
                    q.period_end, e.as_of, 'cycle_from=sql') AS from_sql
    FROM deals d CROSS JOIN quarters q CROSS JOIN data_end e
    GROUP BY d.source, q.period_start, q.period_end, e.as_of)
SELECT source, period_start, (v).n AS avg_open_opportunities, (v).won, (v).lost, (v).deal_value,
       (v).win_rate, (v).cycle_length AS cycle_days, (v).velocity AS velocity_per_day,
       (v).realised AS realised_per_day, (v).velocity_per_period AS velocity_per_quarter,
       (v).period_length AS days, (v).status, (v).partial, (v).observed AS observed_share,
       (from_sql).cycle_length AS cycle_days_from_sql, (from_sql).velocity AS velocity_per_day_from_sql
FROM v;

-- The reverse funnel: leads needed per stage for a revenue goal of 1,000,000 over 12 months and
-- 10 reps, at the measured step rates of all leads and the mean won deal.
CREATE OR REPLACE VIEW plan AS
WITH rates AS (
    SELECT array_agg(stage ORDER BY rank) FILTER (WHERE rank < 5) AS stages,
           array_agg(step_rate ORDER BY rank) FILTER (WHERE rank > 0) AS rates
    FROM funnel_by_source WHERE source = '(all)'),
deal AS (SELECT avg(amount) AS value FROM deals WHERE outcome = 'won')
SELECT p.* FROM rates, deal,
     reverse_funnel(1000000, deal.value, rates.stages, rates.rates, periods => 12, reps => 10) p;
