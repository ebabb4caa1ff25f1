-- How many records a peer's call moved, on the rows of calls to this node:
-- a push received (records it changed here) and a pull served (records
-- sent). The dashboard charts them beside this node's own runs.
ALTER TABLE sync_log ADD COLUMN records BIGINT;
