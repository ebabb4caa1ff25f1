DROP INDEX runs_status_latest;
DROP INDEX runs_repository_latest;
DROP INDEX repositories_next_retry;
