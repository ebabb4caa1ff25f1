//! A repository as a run talks to it: URL, credentials (decrypted), proxy,
//! TLS and timeouts.

use std::time::Duration;

use super::Engine;
use super::client::{self, Peer, PeerKind, ProxyConfig, Transport};
use super::error::SyncError;
use crate::model::repositories::Repository;
use crate::model::sync_config::SyncConfig;

impl Engine {
    /// The peer as a run talks to it: URL, credentials, proxy, TLS.
    pub(super) fn peer(
        &self,
        repository: &Repository,
        config: &SyncConfig,
    ) -> Result<Peer, SyncError> {
        let url = repository.url.as_deref().ok_or_else(|| {
            SyncError::permanent(
                "No URL set for repository: it is a passive-only peer (it calls us)",
            )
        })?;
        let base = client::base_url(url)?;
        let decrypt = |sealed: &Option<String>, what: &str| {
            sealed
                .as_deref()
                .map(|s| {
                    self.key.decrypt(s).map_err(|_| {
                        SyncError::permanent(format!(
                            "the stored {what} of {} cannot be decrypted with this node's secret key: enter it again",
                            repository.name
                        ))
                    })
                })
                .transpose()
        };
        let proxy = match &repository.proxy_url {
            Some(url) => Some(ProxyConfig {
                url: url.clone(),
                username: repository.proxy_username.clone(),
                password: decrypt(&repository.proxy_password_enc, "proxy password")?,
            }),
            None => match &config.proxy_url {
                Some(url) => Some(ProxyConfig {
                    url: url.clone(),
                    username: config.proxy_username.clone(),
                    password: decrypt(&config.proxy_password_enc, "default proxy password")?,
                }),
                None => None,
            },
        };
        let secs = |s: i32| Duration::from_secs(s.max(1) as u64);
        let transport = Transport {
            proxy,
            connect_timeout: secs(config.connect_timeout_secs),
            read_timeout: secs(config.read_timeout_secs),
            total_timeout: secs(config.request_timeout_secs),
            extra_ca_pem: repository.tls_ca_pem.clone(),
            accept_invalid_certs: repository.tls_accept_invalid,
        };
        Ok(Peer {
            http: self.clients.get(&transport)?,
            clients: self.clients.clone(),
            transport,
            base,
            name: repository.name.clone(),
            username: repository.username.clone().filter(|u| !u.is_empty()),
            password: decrypt(&repository.password_enc, "password")?,
            kind: PeerKind::parse(repository.peer_kind.as_deref()),
            // Only edensync peers list capabilities at registration.
            speaks_lines: repository.peer_can("ndjson"),
            site_uuid: self.site_uuid.clone(),
            form_pushes: false,
        })
    }
}
