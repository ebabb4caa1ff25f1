-- Records a pull received exactly as stored: counted apart from real
-- changes, so a re-pull of unchanged data does not read as changes.
ALTER TABLE runs ADD COLUMN pulled_unchanged BIGINT NOT NULL DEFAULT 0;
