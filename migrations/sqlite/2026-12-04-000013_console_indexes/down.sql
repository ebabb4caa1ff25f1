DROP INDEX sync_log_mode_time;
DROP INDEX runs_started;
