-- The console's per-peer counts read the log by mode and time (what peers
-- did here in the last days); the dashboard's chart reads runs by start.
CREATE INDEX sync_log_mode_time ON sync_log (mode, logged_at);
CREATE INDEX runs_started ON runs (started_at);
