//! The database schema, written by hand to match `migrations/sqlite` and
//! `migrations/postgres`. Only portable types: ids are BigInt (Integer for the
//! single-row tables), uuids are Text, times are naive-UTC Timestamps.

diesel::table! {
    users (id) {
        id -> BigInt,
        email -> Text,
        password_hash -> Text,
        role -> Text,
        failed_logins -> Integer,
        locked_until -> Nullable<Timestamp>,
        last_login_at -> Nullable<Timestamp>,
        disabled -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    sessions (id) {
        id -> BigInt,
        token_hash -> Text,
        user_id -> BigInt,
        csrf_token -> Text,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        expires_at -> Timestamp,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
    }
}

diesel::table! {
    setup_tokens (id) {
        id -> BigInt,
        token_hash -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    sync_config (id) {
        id -> Integer,
        site_uuid -> Text,
        site_name -> Text,
        proxy_url -> Nullable<Text>,
        proxy_username -> Nullable<Text>,
        proxy_password_enc -> Nullable<Text>,
        connect_timeout_secs -> Integer,
        request_timeout_secs -> Integer,
        backoff_base_secs -> Integer,
        backoff_cap_secs -> Integer,
        log_retention_days -> Integer,
        accept_push_from_new_peers -> Bool,
        metrics_token_hash -> Nullable<Text>,
        key_check -> Nullable<Text>,
        updated_at -> Timestamp,
        read_timeout_secs -> Integer,
        clock_skew_warn_secs -> Integer,
    }
}

diesel::table! {
    repositories (id) {
        id -> BigInt,
        name -> Text,
        url -> Nullable<Text>,
        peer_uuid -> Nullable<Text>,
        api_type -> Text,
        username -> Nullable<Text>,
        password_enc -> Nullable<Text>,
        proxy_url -> Nullable<Text>,
        proxy_username -> Nullable<Text>,
        proxy_password_enc -> Nullable<Text>,
        tls_ca_pem -> Nullable<Text>,
        tls_accept_invalid -> Bool,
        enabled -> Bool,
        accept_push -> Bool,
        allowed_tables -> Nullable<Text>,
        peer_kind -> Nullable<Text>,
        last_connected_at -> Nullable<Timestamp>,
        last_success_at -> Nullable<Timestamp>,
        last_status -> Nullable<Text>,
        consecutive_failures -> Integer,
        next_retry_at -> Nullable<Timestamp>,
        lease_holder -> Nullable<Text>,
        lease_expires_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        last_error -> Nullable<Text>,
        clock_skew_secs -> Nullable<BigInt>,
        peer_capabilities -> Nullable<Text>,
        folder_path -> Nullable<Text>,
    }
}

diesel::table! {
    repository_accounts (id) {
        id -> BigInt,
        repository_id -> BigInt,
        user_id -> BigInt,
    }
}

diesel::table! {
    trusted_addresses (id) {
        id -> BigInt,
        user_id -> BigInt,
        address -> Text,
        last_success -> Timestamp,
    }
}

diesel::table! {
    tasks (id) {
        id -> BigInt,
        repository_id -> BigInt,
        position -> Integer,
        resource_name -> Text,
        mode -> Text,
        strategy -> Text,
        update_policy -> Text,
        conflict_policy -> Text,
        components -> Bool,
        last_pull -> Nullable<Timestamp>,
        last_push -> Nullable<Timestamp>,
        last_pull_seq -> Nullable<BigInt>,
        last_push_seq -> Nullable<BigInt>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        review_kept_updates -> Bool,
        infile_pattern -> Nullable<Text>,
        outfile_pattern -> Nullable<Text>,
        last_bundle_seq -> Nullable<BigInt>,
        delete_input_files -> Bool,
        filters_changed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    task_filters (id) {
        id -> BigInt,
        task_id -> BigInt,
        table_name -> Text,
        filter_string -> Text,
    }
}

diesel::table! {
    folder_files (id) {
        id -> BigInt,
        repository_id -> BigInt,
        task_id -> Nullable<BigInt>,
        direction -> Text,
        name -> Text,
        bytes -> BigInt,
        file_mtime -> Timestamp,
        digest -> Text,
        site_uuid -> Nullable<Text>,
        records -> BigInt,
        outcome -> Text,
        message -> Nullable<Text>,
        handled_at -> Timestamp,
        run_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    jobs (id) {
        id -> BigInt,
        repository_id -> BigInt,
        enabled -> Bool,
        cron -> Nullable<Text>,
        every_seconds -> Nullable<BigInt>,
        start_at -> Nullable<Timestamp>,
        stop_at -> Nullable<Timestamp>,
        repeats -> Integer,
        times_run -> Integer,
        timeout_secs -> Integer,
        next_run_at -> Nullable<Timestamp>,
        last_run_at -> Nullable<Timestamp>,
        last_status -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    runs (id) {
        id -> BigInt,
        repository_id -> BigInt,
        job_id -> Nullable<BigInt>,
        trigger_kind -> Text,
        status -> Text,
        started_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
        heartbeat_at -> Nullable<Timestamp>,
        pulled_created -> BigInt,
        pulled_updated -> BigInt,
        pulled_deleted -> BigInt,
        pulled_skipped -> BigInt,
        pulled_rejected -> BigInt,
        pushed_created -> BigInt,
        pushed_updated -> BigInt,
        pushed_deleted -> BigInt,
        pushed_skipped -> BigInt,
        pushed_rejected -> BigInt,
        bytes_in -> BigInt,
        bytes_out -> BigInt,
        bytes_lost -> BigInt,
        error -> Nullable<Text>,
        current_step -> Nullable<Text>,
        holder -> Nullable<Text>,
        pulled_unchanged -> BigInt,
        table_progress -> Nullable<Text>,
    }
}

diesel::table! {
    sync_log (id) {
        id -> BigInt,
        logged_at -> Timestamp,
        repository_id -> Nullable<BigInt>,
        run_id -> Nullable<BigInt>,
        resource_name -> Nullable<Text>,
        mode -> Text,
        action -> Text,
        result -> Text,
        remote -> Bool,
        message -> Text,
        records -> Nullable<BigInt>,
    }
}

diesel::table! {
    peer_calls (repository_id, day, mode, action) {
        repository_id -> BigInt,
        day -> BigInt,
        mode -> Text,
        action -> Text,
        calls -> BigInt,
        last_at -> Timestamp,
    }
}

diesel::table! {
    hourly_records (hour) {
        hour -> BigInt,
        records_in -> BigInt,
        records_out -> BigInt,
    }
}

diesel::table! {
    record_seq (id) {
        id -> Integer,
        value -> BigInt,
    }
}

diesel::table! {
    records (id) {
        id -> BigInt,
        table_name -> Text,
        uuid -> Text,
        mci -> Integer,
        created_on -> Nullable<Timestamp>,
        modified_on -> Nullable<Timestamp>,
        deleted -> Bool,
        replaced_by -> Nullable<Text>,
        parent_id -> Nullable<BigInt>,
        alias -> Nullable<Text>,
        body -> Text,
        seq -> BigInt,
        stored_at -> Timestamp,
        origin_repository_id -> Nullable<BigInt>,
        changed_by_repository_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    record_refs (id) {
        id -> BigInt,
        record_id -> BigInt,
        field -> Text,
        ref_table -> Text,
        ref_uuid -> Text,
    }
}

diesel::table! {
    served_watermarks (id) {
        id -> BigInt,
        repository_id -> BigInt,
        table_name -> Text,
        implied_msince -> Timestamp,
        max_seq -> BigInt,
        served_at -> Timestamp,
    }
}

diesel::table! {
    review_items (id) {
        id -> BigInt,
        run_id -> Nullable<BigInt>,
        repository_id -> Nullable<BigInt>,
        table_name -> Text,
        uuid -> Nullable<Text>,
        reason -> Text,
        raw_element -> Text,
        created_at -> Timestamp,
        resolved_at -> Nullable<Timestamp>,
        kind -> Text,
        winner -> Nullable<Text>,
        policy -> Nullable<Text>,
        stored_version -> Nullable<Text>,
        resolution -> Nullable<Text>,
        resolved_by -> Nullable<Text>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        at -> Timestamp,
        actor_user_id -> Nullable<BigInt>,
        actor -> Text,
        action -> Text,
        target -> Nullable<Text>,
        detail -> Nullable<Text>,
        ip -> Nullable<Text>,
    }
}

diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(repository_accounts -> repositories (repository_id));
diesel::joinable!(repository_accounts -> users (user_id));
diesel::joinable!(tasks -> repositories (repository_id));
diesel::joinable!(task_filters -> tasks (task_id));
diesel::joinable!(jobs -> repositories (repository_id));
diesel::joinable!(runs -> repositories (repository_id));
diesel::joinable!(sync_log -> runs (run_id));
diesel::joinable!(record_refs -> records (record_id));
diesel::joinable!(served_watermarks -> repositories (repository_id));

diesel::joinable!(trusted_addresses -> users (user_id));
diesel::joinable!(folder_files -> repositories (repository_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    trusted_addresses,
    sessions,
    setup_tokens,
    sync_config,
    repositories,
    repository_accounts,
    tasks,
    task_filters,
    jobs,
    runs,
    sync_log,
    hourly_records,
    peer_calls,
    record_seq,
    records,
    record_refs,
    served_watermarks,
    review_items,
    audit_log,
    folder_files,
);

// A temporary table, created per export by `model::export_dependencies`
// (not a migration): the references still to follow, de-duplicated by the
// database instead of a set in memory.
diesel::table! {
    export_dependencies (ref_table, ref_uuid) {
        ref_table -> Text,
        ref_uuid -> Text,
        depth -> Integer,
        position -> BigInt,
        done -> Bool,
    }
}
