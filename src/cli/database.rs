//! `migrate` and `backup`: the database file itself, before or beside a
//! running server (settings only, no opened node).

use super::CliError;
use crate::config::Settings;
use crate::db::{self, DbError};

pub(super) fn migrate(settings: Settings) -> Result<(), CliError> {
    settings.prepare_data_dir()?;
    let pool = db::open_pool(&settings.database)?;
    let mut conn = pool.get().map_err(DbError::from)?;
    let applied = db::run_migrations(&mut conn)?;
    if applied.is_empty() {
        println!("database is up to date ({})", settings.database.display());
    } else {
        println!(
            "applied {} migration(s): {}",
            applied.len(),
            applied.join(", ")
        );
    }
    Ok(())
}

pub(super) fn backup(settings: Settings, target: &std::path::Path) -> Result<(), CliError> {
    let crate::config::DatabaseUrl::Sqlite(source) = &settings.database else {
        return Err(CliError::Usage(
            "edensync backup copies SQLite stores; back up PostgreSQL with pg_dump \
             (pg_dump -Fc DATABASE > edensync.dump; restore with pg_restore)"
                .into(),
        ));
    };
    if !source.exists() {
        return Err(CliError::Failed(format!(
            "there is no store at {} to back up",
            source.display()
        )));
    }
    if target.exists() {
        return Err(CliError::Usage(format!(
            "{} exists; choose a new file (a backup never overwrites)",
            target.display()
        )));
    }
    // The copy holds everything the store does: private from the start
    // (VACUUM INTO fills an empty file), and never over an existing one.
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(target)
        .map_err(|e| CliError::Usage(format!("cannot create {}: {e}", target.display())))?;
    let pool = db::open_pool(&settings.database)?;
    let mut conn = pool.get().map_err(DbError::from)?;
    if let Err(e) = db::backup_sqlite(&mut conn, target) {
        let _ = std::fs::remove_file(target);
        return Err(e.into());
    }
    let size = std::fs::metadata(target).map(|m| m.len()).unwrap_or(0);
    println!(
        "backed up {} to {} ({size} bytes)",
        source.display(),
        target.display()
    );
    println!(
        "keep {} with it: without the key the stored peer passwords cannot be read",
        settings.secret_key_path().display()
    );
    Ok(())
}
