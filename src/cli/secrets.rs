//! `secrets rotate`: a new secret key for the stored passwords.

use clap::Subcommand;

use super::CliError;
use crate::app::{self, Node};
use crate::config::Settings;
use crate::db::DbError;
use crate::model;

#[derive(Subcommand)]
pub(super) enum SecretsCommand {
    /// Re-encrypt every stored password under a new secret key and replace
    /// the key (stop edensync first; it holds the old key in memory).
    Rotate,
    /// Make this data directory's key the database's key, when the
    /// database's own key was lost before any password was encrypted with it.
    Adopt,
}

pub(super) fn run(command: SecretsCommand, node: Node) -> Result<(), CliError> {
    match command {
        SecretsCommand::Rotate => rotate(node),
        // (Normally run before the node is opened; once it opens, the keys
        // already agree and adopting changes nothing.)
        SecretsCommand::Adopt => adopt(node.settings),
    }
}

/// `secrets adopt`, before the node is opened (it cannot be until then).
pub(super) fn adopt(settings: Settings) -> Result<(), CliError> {
    app::adopt_key(&settings)?;
    println!("this data directory's secret key is now the database's key");
    Ok(())
}

/// Runs that sent a heartbeat in the last three minutes: a server is
/// working with the key in memory.
fn live_runs(conn: &mut crate::db::DbConnection) -> Result<usize, CliError> {
    let recent = model::now() - chrono::Duration::minutes(3);
    let runs = model::runs::in_progress(conn).map_err(DbError::from)?;
    Ok(runs
        .iter()
        .filter(|r| r.heartbeat_at.unwrap_or(r.started_at) > recent)
        .count())
}

fn rotate(node: Node) -> Result<(), CliError> {
    if app::serve_is_running(&node.settings) {
        return Err(CliError::Usage(
            "edensync serve is running on this data directory: stop it first (it holds the old \
             key in memory), then rotate"
                .into(),
        ));
    }
    let mut conn = node.pool.get().map_err(DbError::from)?;
    let live = live_runs(&mut conn)?;
    if live > 0 {
        return Err(CliError::Usage(format!(
            "{live} run(s) in progress: stop edensync first (it holds the old key in memory), \
             then rotate"
        )));
    }
    let rotation = crate::secrets::rotate(&node.settings.key_location(), &mut conn, &node.key)
        .map_err(|e| CliError::Failed(e.to_string()))?;
    println!(
        "re-encrypted {} stored password(s) under a new key",
        rotation.reencrypted
    );
    if rotation.from_environment {
        println!(
            "the key comes from EDENSYNC_SECRET_KEY: set it to the new key in {} before the next \
             start, then delete that file",
            rotation.key_file.display()
        );
    } else {
        println!("the new key is in {}", rotation.key_file.display());
    }
    Ok(())
}
