//! What each peer did here, in words: when it registered, how often and
//! when last it pulled and pushed, and the pushes refused because they are
//! not accepted yet (the receiving side of the console).

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::QueryResult;

use crate::db::DbConnection;
use crate::model::peer_calls::{self, IncomingContact};
use crate::model::repositories::Repository;
use crate::model::sync_log::REFUSED_PUSH;
use crate::web::format::span;

/// One peer's calls to this node.
#[derive(Debug, Default, Clone)]
pub struct FromPeer {
    registered: Option<NaiveDateTime>,
    pulls: (i64, Option<NaiveDateTime>),
    pushes: (i64, Option<NaiveDateTime>),
    refused: (i64, Option<NaiveDateTime>),
}

/// How far back calls are counted (whole days: the counts are kept per
/// day, see `model::peer_calls`).
pub const DAYS: i64 = 30;

/// Every repository's calls to this node in the last [`DAYS`].
pub fn load(conn: &mut DbConnection) -> QueryResult<HashMap<i64, FromPeer>> {
    let since = crate::model::now() - chrono::TimeDelta::days(DAYS);
    Ok(by_repository(peer_calls::since(conn, since)?))
}

/// Every repository's contacts, from the log's grouped counts.
pub fn by_repository(contacts: Vec<IncomingContact>) -> HashMap<i64, FromPeer> {
    let mut peers: HashMap<i64, FromPeer> = HashMap::new();
    for contact in contacts {
        let id = contact.repository_id;
        let peer = peers.entry(id).or_default();
        let slot = match (contact.mode.as_str(), contact.action.as_str()) {
            ("register/incoming", _) => {
                peer.registered = peer.registered.max(contact.last_at);
                continue;
            }
            ("pull/incoming", _) => &mut peer.pulls,
            ("push/incoming", REFUSED_PUSH) => &mut peer.refused,
            ("push/incoming", _) => &mut peer.pushes,
            _ => continue,
        };
        slot.0 += contact.count;
        slot.1 = slot.1.max(contact.last_at);
    }
    peers
}

impl FromPeer {
    /// Lines such as "registered 3 min ago", "12 pulls in 30 days, last 40 s ago".
    pub fn lines(&self, now: NaiveDateTime) -> Vec<String> {
        let ago = |at: NaiveDateTime| format!("{} ago", span(at, now));
        let counted = |(n, last): (i64, Option<NaiveDateTime>), one: &str, many: &str| {
            let word = if n == 1 { one } else { many };
            match last {
                Some(at) if n > 0 => Some(format!("{n} {word} in {DAYS} days, last {}", ago(at))),
                _ => None,
            }
        };
        let mut lines = Vec::new();
        if let Some(at) = self.registered {
            lines.push(format!("registered {}", ago(at)));
        }
        lines.extend(counted(self.pulls, "pull", "pulls"));
        lines.extend(counted(self.pushes, "push received", "pushes received"));
        lines
    }

    /// "3 pushes refused in 30 days, last 1 min ago", while pushes are not accepted.
    pub fn waiting(&self, repository: &Repository, now: NaiveDateTime) -> Option<String> {
        let (n, last) = self.refused;
        if repository.accept_push || n == 0 {
            return None;
        }
        let word = if n == 1 { "push" } else { "pushes" };
        Some(format!(
            "{n} {word} refused in {DAYS} days, last {} ago",
            span(last.unwrap_or(now), now)
        ))
    }
}

/// A peer whose pushes wait for an administrator's Accept.
pub struct Waiting {
    pub id: i64,
    /// The name the peer gave itself: shown with its uuid, which is what
    /// identifies it (a name can be chosen to look like another's).
    pub name: String,
    pub peer_uuid: String,
    pub refused: String,
}

/// The peers whose pushes were refused and are still not accepted.
pub fn waiting(
    repositories: &[Repository],
    peers: &HashMap<i64, FromPeer>,
    now: NaiveDateTime,
) -> Vec<Waiting> {
    repositories
        .iter()
        .filter_map(|r| {
            let refused = peers.get(&r.id)?.waiting(r, now)?;
            Some(Waiting {
                id: r.id,
                name: r.name.clone(),
                peer_uuid: r.peer_uuid.clone().unwrap_or_default(),
                refused,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> NaiveDateTime {
        chrono::DateTime::from_timestamp(1_700_000_000 + secs, 0)
            .unwrap()
            .naive_utc()
    }

    fn contact(mode: &str, action: &str, count: i64, last: i64) -> IncomingContact {
        IncomingContact {
            repository_id: 7,
            mode: mode.into(),
            action: action.into(),
            last_at: Some(at(last)),
            count,
        }
    }

    #[test]
    fn calls_read_as_counts_with_their_last_time() {
        let peers = by_repository(vec![
            contact("register/incoming", "none", 1, 0),
            contact("pull/incoming", "send", 5, 100),
            contact("push/incoming", "receive", 1, 110),
            contact("push/incoming", REFUSED_PUSH, 3, 90),
        ]);
        let peer = &peers[&7];
        assert_eq!(
            peer.lines(at(120)),
            [
                "registered 2 min ago",
                "5 pulls in 30 days, last 20 s ago",
                "1 push received in 30 days, last 10 s ago"
            ]
        );
        assert_eq!(peer.refused, (3, Some(at(90))));
    }
}
