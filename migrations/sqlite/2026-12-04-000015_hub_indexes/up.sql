-- The scheduler reads only the retries that are due, oldest first.
CREATE INDEX repositories_next_retry ON repositories (next_retry_at);
-- A repository's latest run is one step down this index, however many
-- runs are kept (the dashboard and the repositories page read it for each);
-- the runs page lists by repository or by status, newest first.
CREATE INDEX runs_repository_latest ON runs (repository_id, id);
CREATE INDEX runs_status_latest ON runs (status, id);
