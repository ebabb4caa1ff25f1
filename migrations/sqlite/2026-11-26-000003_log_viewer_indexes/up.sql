-- The log viewer lists newest first (by id) within a repository, a result
-- or a table: these indexes serve exactly that order.
CREATE INDEX sync_log_repository_id ON sync_log (repository_id, id);
CREATE INDEX sync_log_result_id ON sync_log (result, id);
CREATE INDEX sync_log_table_id ON sync_log (resource_name, id);
