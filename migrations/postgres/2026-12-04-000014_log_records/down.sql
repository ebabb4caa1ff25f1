ALTER TABLE sync_log DROP COLUMN records;
