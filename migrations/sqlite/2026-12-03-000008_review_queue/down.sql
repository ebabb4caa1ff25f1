DROP INDEX review_items_record;
DROP INDEX review_items_open;
ALTER TABLE review_items DROP COLUMN resolved_by;
ALTER TABLE review_items DROP COLUMN resolution;
ALTER TABLE review_items DROP COLUMN stored_version;
ALTER TABLE review_items DROP COLUMN policy;
ALTER TABLE review_items DROP COLUMN winner;
ALTER TABLE review_items DROP COLUMN kind;
ALTER TABLE review_items RENAME TO rejected_items;
