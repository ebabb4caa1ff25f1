-- The scheduler reads only the retries that are due, oldest first.
CREATE INDEX repositories_next_retry ON repositories (next_retry_at);
