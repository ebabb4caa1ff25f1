ALTER TABLE runs DROP COLUMN holder;
ALTER TABLE runs DROP COLUMN current_step;
ALTER TABLE repositories DROP COLUMN clock_skew_secs;
ALTER TABLE repositories DROP COLUMN last_error;
ALTER TABLE sync_config DROP COLUMN clock_skew_warn_secs;
ALTER TABLE sync_config DROP COLUMN read_timeout_secs;
