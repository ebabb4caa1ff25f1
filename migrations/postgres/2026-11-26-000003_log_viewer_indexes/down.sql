DROP INDEX sync_log_table_id;
DROP INDEX sync_log_result_id;
DROP INDEX sync_log_repository_id;
