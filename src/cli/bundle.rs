//! `bundle write|show|read`: every task's changes for one peer in one file,
//! carried on a stick to the other end.

use std::path::PathBuf;

use clap::Subcommand;

use super::CliError;
use crate::app;
use crate::audit::Actor;
use crate::config::Settings;
use crate::db::DbError;
use crate::manage::{self, bundle};

#[derive(Subcommand)]
pub enum BundleCommand {
    /// Write the changes of every pushing task of REPOSITORY since its last
    /// bundle into FILE (a new file; gzip'd tar with a manifest).
    Write {
        /// The repository (peer) the bundle is for: its name or id.
        repository: String,
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Show what a bundle holds, without importing it.
    Show {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Show what a bundle holds, then import it (each table all or
    /// nothing, with the policies of the repository's task for it). A
    /// bundle read before changes nothing.
    Read {
        file: PathBuf,
        /// The repository the bundle comes from (by default the one whose
        /// peer uuid is the bundle's site).
        #[arg(long)]
        repository: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

pub(super) fn run(command: BundleCommand, settings: Settings) -> Result<(), CliError> {
    match command {
        BundleCommand::Show { file, json } => {
            let manifest = bundle::show(&file)?;
            print_manifest(&manifest, json);
            Ok(())
        }
        BundleCommand::Write {
            repository,
            file,
            json,
        } => {
            let node = app::open(settings)?;
            let mut conn = node.pool.get().map_err(DbError::from)?;
            let r = manage::repositories::find(&mut conn, &repository)?;
            let manifest = bundle::write(&mut conn, &Actor::cli(), &node.site_uuid, &r, &file)?;
            print_manifest(&manifest, json);
            if !json {
                println!("written to {}", file.display());
            }
            Ok(())
        }
        BundleCommand::Read {
            file,
            repository,
            json,
        } => {
            let node = app::open(settings)?;
            let mut conn = node.pool.get().map_err(DbError::from)?;
            let manifest = bundle::show(&file)?;
            bundle::check_addressed(&manifest, &node.site_uuid, &file)?;
            if !json {
                println!("{}", manifest.summary());
            }
            let from = match repository {
                Some(name) => Some(manage::repositories::find(&mut conn, &name)?),
                None => None,
            };
            let max_record_bytes = node.settings.max_record_bytes;
            let read = bundle::read(
                &mut conn,
                &Actor::cli(),
                &node.site_uuid,
                &file,
                from.as_ref(),
                max_record_bytes,
            )?;
            report(read, json)
        }
    }
}

fn print_manifest(manifest: &bundle::Manifest, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(manifest).unwrap_or_default()
        );
    } else {
        println!("{}", manifest.summary());
    }
}

/// What the import did; exit 3 when records were refused (they wait in the
/// review queue).
fn report(read: bundle::Outcome, json: bool) -> Result<(), CliError> {
    match read {
        bundle::Outcome::ReadBefore(_, at) => {
            let text = format!(
                "this bundle was read before, at {} UTC: nothing imported again",
                at.format("%Y-%m-%d %H:%M:%S")
            );
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "read_before": at, "message": text })
                );
            } else {
                println!("{text}");
            }
            Ok(())
        }
        bundle::Outcome::Imported {
            tables, skipped, ..
        } => {
            let refused: usize = tables.iter().map(|(_, s)| s.rejected.len()).sum();
            if json {
                let tables: serde_json::Map<String, serde_json::Value> = tables
                    .iter()
                    .map(|(t, s)| (t.clone(), serde_json::to_value(s).unwrap_or_default()))
                    .collect();
                println!("{}", serde_json::json!({ "imported": tables }));
            } else {
                for (table, s) in &tables {
                    println!(
                        "{table}: {} record(s): {} created, {} updated, {} deleted, {} unchanged, {} refused",
                        s.records,
                        s.masters.created,
                        s.masters.updated,
                        s.masters.deleted,
                        s.masters.unchanged,
                        s.rejected.len()
                    );
                }
            }
            for table in &skipped {
                eprintln!(
                    "edensync: {table} left out: no task of this repository pulls it (add one with `edensync task add`)"
                );
            }
            if refused > 0 {
                return Err(CliError::Partial(format!(
                    "{refused} record(s) refused: they wait in the review queue (`edensync review list`)"
                )));
            }
            Ok(())
        }
    }
}
