-- The review queue: every record that did not go where it was sent
-- (refused here, refused by the peer) and every conflict a policy decided,
-- kept until an administrator resolves it.
ALTER TABLE rejected_items RENAME TO review_items;
ALTER TABLE review_items ADD COLUMN kind TEXT NOT NULL DEFAULT 'refused_here';
-- Conflicts: which version the policy kept ('local' or 'peer'), the policy,
-- and our version as it stood before the decision (the stored body, JSON).
ALTER TABLE review_items ADD COLUMN winner TEXT;
ALTER TABLE review_items ADD COLUMN policy TEXT;
ALTER TABLE review_items ADD COLUMN stored_version TEXT;
ALTER TABLE review_items ADD COLUMN resolution TEXT;
ALTER TABLE review_items ADD COLUMN resolved_by TEXT;
UPDATE review_items SET kind = 'refused_by_peer' WHERE reason LIKE 'refused by the peer:%';
-- What waits, newest first: all of it (the list, the badge), or one
-- repository's, or one kind's of it (the filtered list).
CREATE INDEX review_items_newest ON review_items (resolved_at, id);
CREATE INDEX review_items_open ON review_items (resolved_at, repository_id, kind, id);
-- The counts per repository, table and kind, from the index alone.
CREATE INDEX review_items_counts ON review_items (resolved_at, repository_id, table_name, kind);
CREATE INDEX review_items_record ON review_items (table_name, uuid);
