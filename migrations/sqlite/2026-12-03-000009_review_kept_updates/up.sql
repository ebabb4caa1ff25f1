-- A task may keep, for review, the incoming versions its update policy
-- did not take (not only conflicts). Off by default: an Eden peer's
-- whole-table re-push would otherwise queue every record it has older.
ALTER TABLE tasks ADD COLUMN review_kept_updates BOOLEAN NOT NULL DEFAULT 0;
