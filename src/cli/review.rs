//! `review ...`: the review queue from the command line: what waits, one
//! item with both versions, and the decisions (accept, retry, dismiss).

use clap::Subcommand;
use serde_json::json;

use super::CliError;
use super::output::{print_json, time_text};
use crate::app::Node;
use crate::audit::Actor;
use crate::db::DbError;
use crate::manage;
use crate::model::review_items::{ReviewItem, ReviewQuery};
use crate::vocabulary::{ReviewAction, ReviewKind};

#[derive(Subcommand)]
pub(super) enum ReviewCommand {
    /// List the items waiting (newest first).
    List {
        /// Only this repository (name or id).
        #[arg(long)]
        repository: Option<String>,
        #[arg(long)]
        table: Option<String>,
        /// refused_here, refused_by_peer or conflict.
        #[arg(long)]
        kind: Option<String>,
        /// Part of the uuid or the reason.
        #[arg(long)]
        text: Option<String>,
        /// Resolved items too.
        #[arg(long)]
        all: bool,
        #[arg(long, default_value_t = 100)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
    /// One item: why, and the record as it came (and ours, for a conflict).
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Make a conflict's other version the stored one.
    Accept { ids: Vec<i64> },
    /// Import a refused record again, or send one the peer refused again.
    Retry { ids: Vec<i64> },
    /// Resolve items without changing anything (kept in the history).
    Dismiss { ids: Vec<i64> },
}

pub(super) fn run(command: ReviewCommand, node: Node) -> Result<(), CliError> {
    let mut conn = node.pool.get().map_err(DbError::from)?;
    let conn = &mut *conn;
    let (ids, action) = match command {
        ReviewCommand::List {
            repository,
            table,
            kind,
            text,
            all,
            limit,
            json,
        } => {
            let repository_id = match repository {
                Some(r) => Some(manage::repositories::find(conn, &r)?.id),
                None => None,
            };
            let kind = match kind {
                Some(k) => Some(ReviewKind::parse(&k).map_err(|e| CliError::Usage(e.to_string()))?),
                None => None,
            };
            let query = ReviewQuery {
                repository_id,
                table,
                kind,
                text,
                with_resolved: all,
                ..ReviewQuery::default()
            };
            let items = crate::model::review_items::search(conn, &query, limit.clamp(1, 10_000))?;
            if json {
                print_json(&items.iter().map(item_json).collect());
            } else {
                println!(
                    "{:<6} {:<19} {:<19} {:<24} {:<40} REASON",
                    "ID", "CREATED (UTC)", "KIND", "TABLE", "UUID"
                );
                for item in &items {
                    println!(
                        "{:<6} {:<19} {:<19} {:<24} {:<40} {}",
                        item.id,
                        time_text(Some(item.created_at)),
                        item.kind.as_str(),
                        item.table_name,
                        printable(item.uuid.as_deref().unwrap_or("-")),
                        printable(&item.reason)
                    );
                }
            }
            return Ok(());
        }
        ReviewCommand::Show { id, json } => {
            let item = manage::review::find(conn, id)?;
            if json {
                print_json(&item_json(&item));
            } else {
                print_item(&item);
            }
            return Ok(());
        }
        ReviewCommand::Accept { ids } => (ids, ReviewAction::Accept),
        ReviewCommand::Retry { ids } => (ids, ReviewAction::Retry),
        ReviewCommand::Dismiss { ids } => (ids, ReviewAction::Dismiss),
    };
    if ids.is_empty() {
        return Err(CliError::Usage("name at least one item id".into()));
    }
    let actor = Actor::cli();
    let limit = node.settings.max_record_bytes;
    let mut open = 0;
    for id in ids {
        let decided = manage::review::decide(conn, &actor, id, action, limit)?;
        println!("item {id}: {}", decided.message);
        if !decided.resolved {
            open += 1;
        }
    }
    if open > 0 {
        return Err(CliError::Partial(format!("{open} item(s) still waiting")));
    }
    Ok(())
}

fn item_json(item: &ReviewItem) -> serde_json::Value {
    json!({
        "id": item.id,
        "kind": item.kind.as_str(),
        "repository_id": item.repository_id,
        "run_id": item.run_id,
        "table": item.table_name,
        "uuid": item.uuid,
        "reason": item.reason,
        "created_at": item.created_at,
        "winner": item.winner,
        "policy": item.policy,
        "record": item.raw_element,
        "stored_version": item.stored_version,
        "resolved_at": item.resolved_at,
        "resolution": item.resolution,
        "resolved_by": item.resolved_by,
    })
}

fn print_item(item: &ReviewItem) {
    println!("item {} ({})", item.id, item.kind.label());
    println!("table:   {}", item.table_name);
    println!("uuid:    {}", item.uuid.as_deref().unwrap_or("-"));
    println!("created: {} UTC", time_text(Some(item.created_at)));
    if let Some(run) = item.run_id {
        println!("run:     {run}");
    }
    println!("reason:  {}", printable(&item.reason));
    if let Some(resolution) = &item.resolution {
        println!(
            "resolved: {resolution} by {} at {} UTC",
            item.resolved_by.as_deref().unwrap_or("-"),
            time_text(item.resolved_at)
        );
    }
    println!("record as it came:\n{}", printable(&item.raw_element));
    if let Some(stored) = &item.stored_version {
        println!("ours as it stood (fields):\n{}", printable(stored));
    }
}

/// Peer data for a terminal: control characters (escape sequences a peer
/// could send) shown as `?`, line breaks kept.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() && c != '\n' { '?' } else { c })
        .collect()
}
