ALTER TABLE runs DROP COLUMN pulled_unchanged;
