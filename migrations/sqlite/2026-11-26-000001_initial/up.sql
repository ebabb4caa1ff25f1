-- The full edensync data model (see DESIGN.md). Keep in step with
-- migrations/postgres and src/db/schema.rs: same tables, same columns.
-- Times are naive UTC; uuids are text.

CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'sync')),
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until TIMESTAMP,
    last_login_at TIMESTAMP,
    disabled BOOLEAN NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash TEXT NOT NULL UNIQUE,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    ip TEXT,
    user_agent TEXT
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE setup_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);

CREATE TABLE sync_config (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    site_uuid TEXT NOT NULL,
    site_name TEXT NOT NULL,
    proxy_url TEXT,
    proxy_username TEXT,
    proxy_password_enc TEXT,
    connect_timeout_secs INTEGER NOT NULL DEFAULT 30,
    request_timeout_secs INTEGER NOT NULL DEFAULT 600,
    backoff_base_secs INTEGER NOT NULL DEFAULT 60,
    backoff_cap_secs INTEGER NOT NULL DEFAULT 3600,
    log_retention_days INTEGER NOT NULL DEFAULT 90,
    accept_push_from_new_peers BOOLEAN NOT NULL DEFAULT 0,
    metrics_token_hash TEXT,
    key_check TEXT,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE repositories (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    url TEXT UNIQUE,
    peer_uuid TEXT UNIQUE,
    api_type TEXT NOT NULL DEFAULT 'eden',
    username TEXT,
    password_enc TEXT,
    proxy_url TEXT,
    proxy_username TEXT,
    proxy_password_enc TEXT,
    tls_ca_pem TEXT,
    tls_accept_invalid BOOLEAN NOT NULL DEFAULT 0,
    enabled BOOLEAN NOT NULL DEFAULT 1,
    accept_push BOOLEAN NOT NULL DEFAULT 0,
    allowed_tables TEXT,
    peer_kind TEXT,
    last_connected_at TIMESTAMP,
    last_success_at TIMESTAMP,
    last_status TEXT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    next_retry_at TIMESTAMP,
    lease_holder TEXT,
    lease_expires_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- Sync accounts bound to a repository: they may act as that peer.
CREATE TABLE repository_accounts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    repository_id BIGINT NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    UNIQUE (repository_id, user_id)
);
CREATE INDEX repository_accounts_user ON repository_accounts (user_id);

CREATE TABLE tasks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    repository_id BIGINT NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    resource_name TEXT NOT NULL,
    mode TEXT NOT NULL DEFAULT 'both' CHECK (mode IN ('pull', 'push', 'both', 'none')),
    strategy TEXT NOT NULL DEFAULT 'create,update,delete,merge',
    update_policy TEXT NOT NULL DEFAULT 'NEWER',
    conflict_policy TEXT NOT NULL DEFAULT 'NEWER',
    components BOOLEAN NOT NULL DEFAULT 0,
    last_pull TIMESTAMP,
    last_push TIMESTAMP,
    last_pull_seq BIGINT,
    last_push_seq BIGINT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (repository_id, resource_name)
);

CREATE TABLE task_filters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id BIGINT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    table_name TEXT NOT NULL,
    filter_string TEXT NOT NULL
);
CREATE INDEX task_filters_task ON task_filters (task_id);

CREATE TABLE jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    repository_id BIGINT NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    enabled BOOLEAN NOT NULL DEFAULT 1,
    cron TEXT,
    every_seconds BIGINT,
    start_at TIMESTAMP,
    stop_at TIMESTAMP,
    repeats INTEGER NOT NULL DEFAULT 0,
    times_run INTEGER NOT NULL DEFAULT 0,
    timeout_secs INTEGER NOT NULL DEFAULT 600,
    next_run_at TIMESTAMP,
    last_run_at TIMESTAMP,
    last_status TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CHECK ((cron IS NULL) <> (every_seconds IS NULL))
);
CREATE INDEX jobs_next_run ON jobs (enabled, next_run_at);
CREATE INDEX jobs_repository ON jobs (repository_id);

CREATE TABLE runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    repository_id BIGINT NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    job_id BIGINT REFERENCES jobs(id) ON DELETE SET NULL,
    trigger_kind TEXT NOT NULL,
    status TEXT NOT NULL,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    heartbeat_at TIMESTAMP,
    pulled_created BIGINT NOT NULL DEFAULT 0,
    pulled_updated BIGINT NOT NULL DEFAULT 0,
    pulled_deleted BIGINT NOT NULL DEFAULT 0,
    pulled_skipped BIGINT NOT NULL DEFAULT 0,
    pulled_rejected BIGINT NOT NULL DEFAULT 0,
    pushed_created BIGINT NOT NULL DEFAULT 0,
    pushed_updated BIGINT NOT NULL DEFAULT 0,
    pushed_deleted BIGINT NOT NULL DEFAULT 0,
    pushed_skipped BIGINT NOT NULL DEFAULT 0,
    pushed_rejected BIGINT NOT NULL DEFAULT 0,
    bytes_in BIGINT NOT NULL DEFAULT 0,
    bytes_out BIGINT NOT NULL DEFAULT 0,
    error TEXT
);
CREATE INDEX runs_repository ON runs (repository_id, started_at);
CREATE INDEX runs_status ON runs (status, started_at);

CREATE TABLE sync_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    logged_at TIMESTAMP NOT NULL,
    repository_id BIGINT REFERENCES repositories(id) ON DELETE CASCADE,
    run_id BIGINT REFERENCES runs(id) ON DELETE SET NULL,
    resource_name TEXT,
    mode TEXT NOT NULL,
    action TEXT NOT NULL,
    result TEXT NOT NULL CHECK (result IN ('success', 'warning', 'error', 'fatal')),
    remote BOOLEAN NOT NULL DEFAULT 0,
    message TEXT NOT NULL
);
CREATE INDEX sync_log_time ON sync_log (logged_at, id);
CREATE INDEX sync_log_repository ON sync_log (repository_id, logged_at, id);
CREATE INDEX sync_log_run ON sync_log (run_id);

-- The node-wide record sequence: one row, incremented inside each writing
-- transaction so that commits happen in seq order.
CREATE TABLE record_seq (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    value BIGINT NOT NULL
);
INSERT INTO record_seq (id, value) VALUES (1, 0);

CREATE TABLE records (
    id INTEGER PRIMARY KEY,
    table_name TEXT NOT NULL,
    uuid TEXT NOT NULL,
    mci INTEGER NOT NULL DEFAULT 0,
    created_on TIMESTAMP,
    modified_on TIMESTAMP,
    deleted BOOLEAN NOT NULL DEFAULT 0,
    replaced_by TEXT,
    parent_id BIGINT REFERENCES records(id) ON DELETE SET NULL,
    alias TEXT,
    body TEXT NOT NULL,
    seq BIGINT NOT NULL,
    stored_at TIMESTAMP NOT NULL,
    origin_repository_id BIGINT REFERENCES repositories(id) ON DELETE SET NULL,
    changed_by_repository_id BIGINT REFERENCES repositories(id) ON DELETE SET NULL,
    UNIQUE (table_name, uuid)
);
CREATE INDEX records_table_seq ON records (table_name, seq);
CREATE INDEX records_table_modified ON records (table_name, modified_on);
CREATE INDEX records_parent ON records (parent_id);

CREATE TABLE record_refs (
    id INTEGER PRIMARY KEY,
    record_id BIGINT NOT NULL REFERENCES records(id) ON DELETE CASCADE,
    field TEXT NOT NULL,
    ref_table TEXT NOT NULL,
    ref_uuid TEXT NOT NULL
);
-- Entries are de-duplicated by the writer (store::body::Body::references).
CREATE INDEX record_refs_record ON record_refs (record_id);
CREATE INDEX record_refs_target ON record_refs (ref_table, ref_uuid);

CREATE TABLE served_watermarks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    repository_id BIGINT NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    table_name TEXT NOT NULL,
    implied_msince TIMESTAMP NOT NULL,
    max_seq BIGINT NOT NULL,
    served_at TIMESTAMP NOT NULL
);
CREATE INDEX served_watermarks_lookup ON served_watermarks (repository_id, table_name, implied_msince);

CREATE TABLE rejected_items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id BIGINT REFERENCES runs(id) ON DELETE SET NULL,
    repository_id BIGINT REFERENCES repositories(id) ON DELETE CASCADE,
    table_name TEXT NOT NULL,
    uuid TEXT,
    reason TEXT NOT NULL,
    raw_element TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    resolved_at TIMESTAMP
);
CREATE INDEX rejected_items_repository ON rejected_items (repository_id, created_at);
CREATE INDEX rejected_items_run ON rejected_items (run_id);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TIMESTAMP NOT NULL,
    actor_user_id BIGINT REFERENCES users(id) ON DELETE SET NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT,
    detail TEXT,
    ip TEXT
);
CREATE INDEX audit_log_time ON audit_log (at, id);
