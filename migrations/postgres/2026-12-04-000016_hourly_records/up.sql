-- Records moved per hour (Unix time / 3600), added to as runs finish and
-- peers' calls are logged: the dashboard's chart reads a day of rows,
-- however many runs and calls there were.
CREATE TABLE hourly_records (
    hour BIGINT PRIMARY KEY NOT NULL,
    records_in BIGINT NOT NULL DEFAULT 0,
    records_out BIGINT NOT NULL DEFAULT 0
);
-- The last two days, from what was kept before.
INSERT INTO hourly_records (hour, records_in, records_out)
SELECT hour, SUM(records_in), SUM(records_out) FROM (
    SELECT CAST(FLOOR(EXTRACT(EPOCH FROM finished_at)) AS BIGINT) / 3600 AS hour,
           pulled_created + pulled_updated + pulled_deleted AS records_in,
           pushed_created + pushed_updated + pushed_deleted AS records_out
    FROM runs WHERE finished_at >= (now() AT TIME ZONE 'UTC') - INTERVAL '2 days'
    UNION ALL
    SELECT CAST(FLOOR(EXTRACT(EPOCH FROM logged_at)) AS BIGINT) / 3600,
           CASE WHEN mode = 'push/incoming' THEN records ELSE 0 END,
           CASE WHEN mode = 'pull/incoming' THEN records ELSE 0 END
    FROM sync_log
    WHERE records IS NOT NULL AND mode IN ('push/incoming', 'pull/incoming')
      AND logged_at >= (now() AT TIME ZONE 'UTC') - INTERVAL '2 days'
) AS moved GROUP BY hour;
