DROP INDEX repositories_next_retry;
