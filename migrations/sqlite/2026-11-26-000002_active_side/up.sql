-- The active side: read timeout and clock-skew margin in the settings; per
-- repository the last error and the clock skew observed; per run the step
-- in progress and the process holding it.
ALTER TABLE sync_config ADD COLUMN read_timeout_secs INTEGER NOT NULL DEFAULT 120;
ALTER TABLE sync_config ADD COLUMN clock_skew_warn_secs INTEGER NOT NULL DEFAULT 300;
ALTER TABLE repositories ADD COLUMN last_error TEXT;
ALTER TABLE repositories ADD COLUMN clock_skew_secs BIGINT;
ALTER TABLE runs ADD COLUMN current_step TEXT;
ALTER TABLE runs ADD COLUMN holder TEXT;
