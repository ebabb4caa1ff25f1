//! The review queue's words: what kind of item, and how it was resolved.

use super::words;

words! {
    /// Why a record waits for review.
    pub enum ReviewKind ("review kind") {
        /// A peer sent it and we could not store it.
        RefusedHere = "refused_here",
        /// We sent it and the peer refused it.
        RefusedByPeer = "refused_by_peer",
        /// Changed on both sides; a policy kept one version.
        Conflict = "conflict",
    }
}

words! {
    /// How an item left the queue.
    pub enum Resolution ("resolution") {
        /// The other version was made the stored one.
        Accepted = "accepted",
        /// Imported again (refused here) or sent again (refused by the peer).
        Retried = "retried",
        Dismissed = "dismissed",
        /// A later version of the record arrived, or it was deleted.
        Superseded = "superseded",
    }
}

words! {
    /// Which version a conflict's policy kept.
    pub enum ConflictWinner ("conflict winner") {
        Local = "local",
        Peer = "peer",
    }
}

words! {
    /// What an administrator decides for an item.
    pub enum ReviewAction ("review action") {
        /// Make the other version of a conflict the stored one.
        Accept = "accept",
        /// Import a refused record again, or send it to the peer again.
        Retry = "retry",
        Dismiss = "dismiss",
    }
}

impl ReviewKind {
    /// The kind in words, for pages and the CLI.
    pub fn label(self) -> &'static str {
        match self {
            ReviewKind::RefusedHere => "refused here",
            ReviewKind::RefusedByPeer => "refused by the peer",
            ReviewKind::Conflict => "conflict",
        }
    }
}
