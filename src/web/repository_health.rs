//! How a repository is doing, in one word an administrator can act on:
//! the badge on the dashboard and the repositories list.

use crate::model::repositories::Repository;
use crate::vocabulary::RepositoryStatus;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Ok,
    /// The last run stored what it could; some records were refused.
    Partial,
    /// A transient failure; the next attempt is scheduled.
    Retrying,
    /// A permanent failure: waits for an administrator.
    Failing,
    Disabled,
    /// A passive-only peer (no URL): it calls us.
    Passive,
    NeverRun,
}

impl Health {
    pub fn of(repository: &Repository, has_runs: bool) -> Health {
        if !repository.enabled {
            return Health::Disabled;
        }
        if !repository.is_active() {
            return Health::Passive;
        }
        match repository.status() {
            Some(RepositoryStatus::Ok) => Health::Ok,
            Some(RepositoryStatus::Partial) => Health::Partial,
            Some(RepositoryStatus::Retrying) => Health::Retrying,
            Some(RepositoryStatus::Blocked) => Health::Failing,
            None if has_runs || repository.last_success_at.is_some() => Health::Ok,
            _ => Health::NeverRun,
        }
    }

    /// Where a repository comes in a list that shows first what needs an
    /// administrator: failing, then retrying, partial, never run, ok, then
    /// the peers that call us and the disabled ones.
    pub fn attention(self) -> u8 {
        match self {
            Health::Failing => 0,
            Health::Retrying => 1,
            Health::Partial => 2,
            Health::NeverRun => 3,
            Health::Ok => 4,
            Health::Passive => 5,
            Health::Disabled => 6,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Health::Ok => "ok",
            Health::Partial => "partial",
            Health::Retrying => "retrying",
            Health::Failing => "failing",
            Health::Disabled => "disabled",
            Health::Passive => "passive",
            Health::NeverRun => "never run",
        }
    }

    /// The badge's CSS class.
    pub fn class(self) -> &'static str {
        match self {
            Health::Ok => "badge-ok",
            Health::Partial => "badge-warn",
            Health::Retrying => "badge-retrying",
            Health::Failing => "badge-error",
            Health::Disabled | Health::Passive | Health::NeverRun => "badge-off",
        }
    }
}
