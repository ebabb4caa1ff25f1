-- Peers' calls here per repository, day (Unix time / 86400), mode and
-- action, added to as they are logged: the console counts a month of calls
-- from these rows, however many calls there were.
CREATE TABLE peer_calls (
    repository_id BIGINT NOT NULL,
    day BIGINT NOT NULL,
    mode TEXT NOT NULL,
    action TEXT NOT NULL,
    calls BIGINT NOT NULL DEFAULT 0,
    last_at TIMESTAMP NOT NULL,
    PRIMARY KEY (repository_id, day, mode, action)
);
CREATE INDEX peer_calls_day ON peer_calls (day);
-- The last month, from the log kept before.
INSERT INTO peer_calls (repository_id, day, mode, action, calls, last_at)
SELECT repository_id, CAST(FLOOR(EXTRACT(EPOCH FROM logged_at)) AS BIGINT) / 86400 AS day, mode, action,
       COUNT(*), MAX(logged_at)
FROM sync_log
WHERE mode IN ('register/incoming', 'pull/incoming', 'push/incoming')
  AND result IN ('success', 'warning')
  AND repository_id IS NOT NULL
  AND logged_at >= (now() AT TIME ZONE 'UTC') - INTERVAL '31 days'
GROUP BY repository_id, 2, mode, action;
