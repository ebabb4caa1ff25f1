-- The log viewer's common pairs of filters (a repository's pulls, a
-- repository's errors, a table's errors): without these, a rare pair scans
-- every row of the repository or table to fill a page.
CREATE INDEX sync_log_repository_mode_id ON sync_log (repository_id, mode, id);
CREATE INDEX sync_log_repository_result_id ON sync_log (repository_id, result, id);
CREATE INDEX sync_log_table_result_id ON sync_log (resource_name, result, id);
