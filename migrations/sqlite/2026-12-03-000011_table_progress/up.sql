-- A run's progress per table and direction (records done of the total the
-- peer announced, bytes, times), as JSON: written by the run's heartbeat,
-- read by the run page.
ALTER TABLE runs ADD COLUMN table_progress TEXT;
