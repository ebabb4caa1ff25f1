//! Registration at a peer (on save and on demand): it learns our uuid, we
//! learn its uuid and whether it is Eden or edensync.

use super::Engine;
use super::error::{FailureKind, SyncError};
use super::log::log;
use crate::model;
use crate::vocabulary::LogResult;

impl Engine {
    /// The name we register with: our public URL without its scheme, as
    /// Eden sends it.
    fn own_name(&self) -> String {
        self.public_url
            .as_deref()
            .map(|u| u.split_once("//").map_or(u, |(_, rest)| rest))
            .map(|u| u.trim_end_matches('/').to_string())
            .unwrap_or_else(|| format!("edensync {}", self.site_uuid))
    }

    /// Register at the peer (on save and on demand): store the uuid it
    /// answers with and whether it is Eden or edensync; log as Eden does.
    pub async fn register(&self, repository_id: i64) -> Result<String, SyncError> {
        let (repository, config) = self.load(repository_id).await?;
        let peer = self.peer(&repository, &config)?;
        let expected = repository.peer_uuid.clone();
        let result = peer.register(&self.own_name()).await.and_then(|r| {
            // A URL that now leads to another site must not receive its data.
            match (&expected, &r.peer_uuid) {
                (Some(expected), Some(got)) if expected != got => Err(SyncError::permanent(format!(
                    "{} answered as the site {got}, but this repository is the site {expected}: check the URL, or clear the peer uuid if the peer was reinstalled",
                    repository.name
                ))),
                _ => Ok(r),
            }
        });
        let logged = match &result {
            Ok(r) => (
                LogResult::Success,
                if r.message.is_empty() {
                    "Registration successful".to_string()
                } else {
                    r.message.clone()
                },
                false,
            ),
            Err(e) => (
                if e.kind == FailureKind::Permanent {
                    LogResult::Fatal
                } else {
                    LogResult::Error
                },
                e.full_text(),
                e.remote,
            ),
        };
        let registered = result.as_ref().ok().cloned();
        self.db(move |conn| {
            if let Some(r) = &registered {
                model::repositories::set_registered(
                    conn,
                    repository_id,
                    r.peer_uuid.as_deref(),
                    r.kind.as_str(),
                    &r.capabilities.join(" "),
                    model::now(),
                )?;
            }
            log(
                conn,
                repository_id,
                None,
                Some("none"),
                "push/outgoing",
                "request registration",
                logged.0,
                logged.2,
                &logged.1,
            )?;
            Ok(())
        })
        .await?;
        let registered = result?;
        Ok(format!(
            "{} ({}; peer uuid {})",
            if registered.message.is_empty() {
                "Registration successful"
            } else {
                &registered.message
            },
            registered.kind.as_str(),
            registered.peer_uuid.as_deref().unwrap_or("not given")
        ))
    }
}
