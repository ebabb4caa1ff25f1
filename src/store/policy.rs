//! Eden's import rules as pure functions: which method an incoming record
//! gets, whether it conflicts, and whether the update and conflict policies
//! let it through. See PROTOCOL.md §4; where Eden has a bug we do what it
//! meant (the deviations are listed on each function and in README.md).

use chrono::NaiveDateTime;

// The words live in the vocabulary; the rules about them live here.
pub use crate::vocabulary::{Method, Policy, Strategy};

/// Whether an update policy compares modification times. Eden leaves
/// `msince` out for THIS and OTHER: those compare nothing.
pub fn compares_times(policy: Policy) -> bool {
    !matches!(policy, Policy::This | Policy::Other)
}

/// The local copy, as far as the rules need it.
#[derive(Debug, Clone, Copy)]
pub struct Local {
    pub modified_on: NaiveDateTime,
    pub mci: i32,
    pub deleted: bool,
    /// The current version came from the peer we are importing from.
    pub from_this_peer: bool,
}

/// The incoming copy.
#[derive(Debug, Clone, Copy)]
pub struct Incoming {
    /// `modified_on`, or the import time when the element had none.
    pub mtime: NaiveDateTime,
    /// `mci`, or 2 when the element had none (Eden's default).
    pub mci: i32,
}

/// Both copies changed since the last sync (Eden: `not (t < last_sync)` on
/// both sides). Without a last sync time there are no conflicts.
pub fn is_conflict(local: &Local, incoming: &Incoming, last_sync: Option<NaiveDateTime>) -> bool {
    match last_sync {
        Some(last) => local.modified_on >= last && incoming.mtime >= last,
        None => false,
    }
}

/// Whether the conflict policy accepts the incoming copy. `None` (no task
/// for this peer and table) accepts always, as Eden does.
///
/// Deviation: Eden's MASTER rule reads `local.mci == 0 or incoming.mci == 1`
/// (an operator-precedence slip that accepts remote data when the local copy
/// is the original). We accept when the incoming copy comes from its origin
/// and the local copy is not the original.
pub fn conflict_accepts(policy: Option<Policy>, local: &Local, incoming: &Incoming) -> bool {
    match policy {
        None | Some(Policy::Other) => true,
        Some(Policy::Newer) => local.modified_on <= incoming.mtime,
        Some(Policy::Master) => incoming.mci == 1 && local.mci != 0,
        Some(Policy::This) => false,
    }
}

/// Whether the update policy lets incoming field values replace local ones
/// (and bring a locally deleted record back).
pub fn update_accepts(policy: Policy, local: &Local, incoming: &Incoming) -> bool {
    match policy {
        Policy::This => false,
        Policy::Other => true,
        Policy::Newer => local.modified_on <= incoming.mtime,
        Policy::Master => local.mci != 0 && incoming.mci == 1,
    }
}

/// Whether a delete or merge may be applied to the local copy.
///
/// Deviation: deleted stubs carry no `mci`, so in Eden they never pass the
/// MASTER rule and deletes are never applied under MASTER. We apply a delete
/// under MASTER when the record's current version came from the same peer.
pub fn delete_accepts(policy: Policy, local: &Local, incoming: &Incoming) -> bool {
    match policy {
        Policy::This => false,
        Policy::Other => true,
        Policy::Newer => local.modified_on <= incoming.mtime,
        Policy::Master => local.from_this_peer || (local.mci != 0 && incoming.mci == 1),
    }
}
