-- A folder as a repository (sneakernet, compatible with Eden's filesync):
-- the folder, and per task the file name patterns to read and to write.
ALTER TABLE repositories ADD COLUMN folder_path TEXT;
ALTER TABLE tasks ADD COLUMN infile_pattern TEXT;
ALTER TABLE tasks ADD COLUMN outfile_pattern TEXT;
-- Bundles (one file of every task's changes for a peer): where the last
-- bundle ended.
ALTER TABLE tasks ADD COLUMN last_bundle_seq BIGINT;
ALTER TABLE tasks ADD COLUMN delete_input_files BOOLEAN NOT NULL DEFAULT 0;
-- Every file a folder repository read or wrote: a file read again (the
-- same bytes under any name) is recognised and not imported twice.
CREATE TABLE folder_files (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    repository_id BIGINT NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    task_id BIGINT REFERENCES tasks(id) ON DELETE SET NULL,
    direction TEXT NOT NULL,
    name TEXT NOT NULL,
    bytes BIGINT NOT NULL,
    file_mtime TIMESTAMP NOT NULL,
    digest TEXT NOT NULL,
    site_uuid TEXT,
    records BIGINT NOT NULL,
    outcome TEXT NOT NULL,
    message TEXT,
    handled_at TIMESTAMP NOT NULL,
    run_id BIGINT
);
CREATE INDEX folder_files_digest ON folder_files (repository_id, digest);
CREATE INDEX folder_files_name ON folder_files (repository_id, name, bytes, file_mtime);
-- What a bad link cost a run: bytes of transfers cut short or dropped as
-- too large for the link, sent again.
ALTER TABLE runs ADD COLUMN bytes_lost BIGINT NOT NULL DEFAULT 0;
