-- Headline questions over `bfx analyze ... --out DIR` (Parquet), for DuckDB:
--   duckdb -c "SET VARIABLE dir = 'DIR'; .read docs/queries.sql"
-- or for Athena, point external tables at the files and drop the read_parquet(...) calls.
-- Column meanings: docs/schema.md. tests/reports.rs runs every query below with DuckDB and
-- checks each answer against bfx's own JSON report.

-- q1: seconds lost to stale-socket hangs, and how many calls hung.
SELECT count(*) AS calls_hit, round(sum(stale_socket_seconds_lost), 3) AS seconds_lost
FROM read_parquet(getvariable('dir') || '/calls.parquet')
WHERE stale_socket_hang;

-- q2: hidden retries by cause: SDK attempts that failed and were retried.
SELECT outcome, coalesce(error_code, '') AS error, count(*) AS attempts
FROM read_parquet(getvariable('dir') || '/attempts.parquet')
WHERE outcome <> 'success'
GROUP BY ALL ORDER BY attempts DESC, outcome, error;

-- q3: throttle amplification: turns, model calls, throttles absorbed.
SELECT count(*) AS turns, sum(model_calls) AS model_calls, sum(throttles) AS throttles
FROM read_parquet(getvariable('dir') || '/turns.parquet');

-- q4: what Bedrock billed, what it would have without caching, and the savings (exact: picodollars).
SELECT sum(cost_picousd) / 1e12 AS billed_usd,
       sum(cost_without_caching_picousd) / 1e12 AS without_caching_usd,
       (sum(cost_without_caching_picousd) - sum(cost_picousd)) / 1e12 AS caching_savings_usd,
       count(*) FILTER (WHERE cost_picousd IS NULL) AS unpriced_requests
FROM read_parquet(getvariable('dir') || '/usage.parquet');

-- q5: cost per model and UTC day.
SELECT CAST(time AT TIME ZONE 'UTC' AS DATE) AS day, model, count(*) AS requests, sum(cost_picousd) / 1e12 AS usd
FROM read_parquet(getvariable('dir') || '/usage.parquet')
WHERE cost_picousd IS NOT NULL AND time IS NOT NULL
GROUP BY ALL ORDER BY day, model;

-- q6: prompt-cache dollars paid for nothing, by finding.
SELECT kind, impact_usd
FROM read_parquet(getvariable('dir') || '/findings.parquet')
WHERE kind LIKE 'cache_%' AND json_extract_string(detail_json, '$.category') = 'paid_for_nothing'
ORDER BY impact_usd DESC, kind;
