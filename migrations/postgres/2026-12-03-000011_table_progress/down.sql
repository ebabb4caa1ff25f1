ALTER TABLE runs DROP COLUMN table_progress;
