ALTER TABLE tasks DROP COLUMN review_kept_updates;
