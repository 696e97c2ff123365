-- Point-in-time lookups on the market features (DuckDB table macros, DuckDB >= 1.1).
--
-- Self-contained: run this file in any DuckDB session (`duckdb warehouse.duckdb < warehouse/point_in_time.sql`
-- or `.read warehouse/point_in_time.sql`), then call the macros. They read a table or view named
-- `market_features` by default (pass `tbl := 'other_table'` for another one) with at least the columns
--   date DATE            -- market session the row describes
--   available_at TIMESTAMPTZ -- instant the row became known (16:15 America/New_York for end-of-day rows)
-- A date may appear several times: later rows with a later available_at are revisions of that date.
-- The table is bound when a macro is *called* (query_table), so this file runs before the table exists.
--
-- Macros
--   features_as_of(as_of_ts [, tbl])
--       every date's latest revision with available_at <= as_of_ts: the table as it was known then.
--   feature_as_of_dates(dates_tbl, as_of_ts [, ttl_days, tbl])
--       for each `date` in table/view `dates_tbl`, the latest row with date <= that date among those
--       known at as_of_ts (column requested_date + the row). ttl_days: a match older than that many
--       calendar days is returned as NULLs (TTL applied after the as-of join). Mirrors features.point_in_time.as_of.
--   features_known_at(requests_tbl [, tbl])
--       for each timestamp `ts` in table/view `requests_tbl`: the newest date known at ts, in its latest
--       revision known at ts (column request_ts + the row) — the training-set join for events at ts.
--       The ASOF JOIN has exactly one inequality, on available_at; revisions of *older* dates published later
--       are removed first from the timeline (they never become "the latest known row").
--
-- Examples
--   SELECT * FROM features_as_of(TIMESTAMPTZ '2024-03-01 09:00:00-05');
--   CREATE TEMP TABLE wanted AS SELECT DATE '2024-03-01' AS date;
--   SELECT * FROM feature_as_of_dates('wanted', TIMESTAMPTZ '2024-03-01 09:00:00-05');   -- Feb 29's row
--   SELECT * FROM feature_as_of_dates('wanted', TIMESTAMPTZ '2024-03-01 17:00:00-05');   -- Mar 1's row
--   CREATE TEMP TABLE asks AS SELECT TIMESTAMPTZ '2024-03-01 12:00:00-05' AS ts;
--   SELECT * FROM features_known_at('asks');

CREATE OR REPLACE MACRO features_as_of(as_of_ts, tbl := 'market_features') AS TABLE
    SELECT *
    FROM query_table(tbl)
    WHERE available_at <= as_of_ts
    QUALIFY row_number() OVER (PARTITION BY date ORDER BY available_at DESC) = 1;

CREATE OR REPLACE MACRO feature_as_of_dates(dates_tbl, as_of_ts, ttl_days := NULL, tbl := 'market_features') AS TABLE
    WITH known AS (
        SELECT * FROM features_as_of(as_of_ts, tbl := tbl)
    ),
    req AS (
        SELECT DISTINCT CAST(date AS DATE) AS requested_date FROM query_table(dates_tbl)
    ),
    matched AS (
        -- one inequality: the newest known date at or before the requested date
        SELECT r.requested_date, k.date AS matched_date
        FROM req AS r ASOF LEFT JOIN (SELECT date FROM known) AS k ON r.requested_date >= k.date
    ),
    fresh AS (
        SELECT requested_date,
               CASE WHEN ttl_days IS NULL OR requested_date - matched_date <= ttl_days
                    THEN matched_date END AS matched_date
        FROM matched
    )
    SELECT f.requested_date, k.*
    FROM fresh AS f LEFT JOIN known AS k ON k.date = f.matched_date
    ORDER BY f.requested_date;

CREATE OR REPLACE MACRO features_known_at(requests_tbl, tbl := 'market_features') AS TABLE
    WITH rows_ AS (
        SELECT * FROM query_table(tbl)
    ),
    timeline AS (
        -- a row is "the latest known row" from its available_at onward only if no newer date was known by then
        SELECT * FROM rows_
        QUALIFY date >= max(date) OVER (ORDER BY available_at RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
    ),
    timeline1 AS (
        -- several rows published at the same instant: the newest date wins
        SELECT * FROM timeline
        QUALIFY row_number() OVER (PARTITION BY available_at ORDER BY date DESC) = 1
    ),
    req AS (
        SELECT DISTINCT ts AS request_ts FROM query_table(requests_tbl)
    )
    SELECT r.request_ts, t.*
    FROM req AS r ASOF LEFT JOIN timeline1 AS t ON r.request_ts >= t.available_at
    ORDER BY r.request_ts;
