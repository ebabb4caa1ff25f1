//! A task's words: which way it syncs, its update and conflict policies,
//! and which import methods its strategy allows.

use super::{UnknownWord, words};

words! {
    /// Which way a task syncs.
    pub enum TaskMode ("mode") {
        Pull = "pull",
        Push = "push",
        /// Pull, then push.
        Both = "both",
        /// Paused.
        None = "none",
    }
}

impl TaskMode {
    pub fn pulls(self) -> bool {
        matches!(self, TaskMode::Pull | TaskMode::Both)
    }

    pub fn pushes(self) -> bool {
        matches!(self, TaskMode::Push | TaskMode::Both)
    }
}

words! {
    /// Update and conflict policies, as Eden names them.
    pub enum Policy ("policy") {
        /// Never update: the local copy wins.
        This = "THIS",
        /// Always update: the incoming copy wins.
        Other = "OTHER",
        /// Update if the incoming copy is at least as new.
        Newer = "NEWER",
        /// Update only with data from the record's originating site.
        Master = "MASTER",
    }
}

words! {
    /// Import methods.
    pub enum Method ("method") {
        Create = "create",
        Update = "update",
        Delete = "delete",
        Merge = "merge",
    }
}

/// Which methods an import may use (a task's strategy), stored as
/// `create,update,delete,merge` (any subset).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Strategy {
    pub create: bool,
    pub update: bool,
    pub delete: bool,
    pub merge: bool,
}

impl Strategy {
    pub const ALL: Strategy = Strategy {
        create: true,
        update: true,
        delete: true,
        merge: true,
    };

    pub const NONE: Strategy = Strategy {
        create: false,
        update: false,
        delete: false,
        merge: false,
    };

    pub fn allows(self, method: Method) -> bool {
        match method {
            Method::Create => self.create,
            Method::Update => self.update,
            Method::Delete => self.delete,
            Method::Merge => self.merge,
        }
    }

    /// Parse `create,update,delete,merge` (any subset, any order, any case).
    pub fn parse(text: &str) -> Result<Strategy, UnknownWord> {
        let mut strategy = Strategy::NONE;
        for part in text.split(',').filter(|p| !p.trim().is_empty()) {
            match Method::parse(part)? {
                Method::Create => strategy.create = true,
                Method::Update => strategy.update = true,
                Method::Delete => strategy.delete = true,
                Method::Merge => strategy.merge = true,
            }
        }
        Ok(strategy)
    }

    /// The stored text: the allowed methods in their usual order.
    pub fn to_text(self) -> String {
        Method::ALL
            .iter()
            .filter(|m| self.allows(**m))
            .map(|m| m.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl std::fmt::Display for Strategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(&self.to_text())
    }
}

impl TryFrom<String> for Strategy {
    type Error = UnknownWord;
    fn try_from(text: String) -> Result<Strategy, UnknownWord> {
        Strategy::parse(&text)
    }
}
