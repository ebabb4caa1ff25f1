ALTER TABLE tasks DROP COLUMN filters_changed_at;
