-- What an edensync peer said it can do at registration (space-separated,
-- e.g. "since_seq limit gzip ndjson"): pushes use JSON lines only when it
-- lists them.
ALTER TABLE repositories ADD COLUMN peer_capabilities TEXT;
