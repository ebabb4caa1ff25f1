//! A peer's failures in words an administrator can act on: HTTP statuses,
//! transport errors, the peer's own message.

use reqwest::Response;
use serde_json::Value;

use super::Peer;
use crate::engine::error::SyncError;

impl Peer {
    /// A non-2xx answer as an error an administrator can act on.
    pub(super) async fn check(&self, response: Response) -> Result<Response, SyncError> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        if status.is_redirection() {
            return Err(self.redirected(&response));
        }
        let text = read_limited(response, 16 * 1024).await;
        let said = peer_message(&text);
        let name = &self.name;
        let error = match status.as_u16() {
            401 => SyncError::permanent(format!(
                "{name} refused our credentials (HTTP 401{}): check the repository's username and password, and that the account exists on the peer",
                suffix(&said)
            ))
            .stopping_the_run(),
            403 => SyncError::permanent(format!(
                "{name} refused access (HTTP 403{}): {}",
                suffix(&said),
                forbidden_advice(&said, &self.site_uuid)
            )),
            407 => SyncError::permanent(format!(
                "proxy authentication required (HTTP 407) on the way to {name}: check the proxy username and password"
            ))
            .stopping_the_run(),
            404 => SyncError::permanent(format!(
                "{name} has no sync endpoint at {} (HTTP 404): check the repository URL, it is the peer's base URL such as https://host/eden",
                self.base
            )),
            408 | 429 => SyncError::transient(format!(
                "{name} is busy (HTTP {}{})",
                status.as_u16(),
                suffix(&said)
            )),
            code if code >= 500 => {
                SyncError::transient(format!("{name} failed (HTTP {code}{})", suffix(&said)))
            }
            code => SyncError::permanent(format!(
                "{name} rejected the request (HTTP {code}{})",
                suffix(&said)
            )),
        };
        Err(error.from_peer())
    }
}

impl Peer {
    /// Eden's 500 to a push it could read: most often its database still
    /// locked by an earlier push. Transient, and the same content type next
    /// time.
    pub(super) async fn eden_push_failed(&self, response: Response) -> SyncError {
        let said = peer_message(&read_limited(response, 16 * 1024).await);
        SyncError::transient(format!(
            "{} failed while importing our push (HTTP 500{}): Eden may still be busy with an earlier push; the next try sends the same records again, which does no harm if Eden imported them",
            self.name,
            suffix(&said)
        ))
        .from_peer()
    }

    /// A transport failure of a push: Eden answers only once its import is
    /// done, so a timeout may mean it is still importing.
    pub(super) fn push_transport_error(&self, e: &reqwest::Error) -> SyncError {
        if self.kind == super::PeerKind::Eden && e.is_timeout() {
            return SyncError::transient(format!(
                "{} did not answer our push in time: Eden may still be importing it; the next run sends the same records again, which does no harm if Eden imported them",
                self.name
            ));
        }
        self.transport_error(e)
    }
}

impl Peer {
    /// A redirect is not followed: the repository URL must name the peer.
    fn redirected(&self, response: &Response) -> SyncError {
        let to = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|location| response.url().join(location).ok())
            .map_or_else(|| "nowhere (no Location)".to_string(), |u| u.to_string());
        let mut from = response.url().clone();
        from.set_query(None);
        SyncError::permanent(format!(
            "{} answered with a redirect (HTTP {}) from {from} to {to}: redirects are not followed, so that records and credentials go only where the repository URL says; if the peer has moved, change the repository URL",
            self.name,
            response.status().as_u16()
        ))
        .stopping_the_run()
        .from_peer()
    }
}

/// A transport failure in words: connect errors, timeouts and cut
/// connections are transient; a URL reqwest cannot use is permanent.
pub fn transport_error(name: &str, base: &str, e: &reqwest::Error) -> SyncError {
    let detail = error_chain(e);
    if e.is_builder() {
        return SyncError::permanent(format!(
            "the URL of {name} ({base}) is not usable: {detail}"
        ));
    }
    // rustls says "invalid peer certificate: UnknownIssuer" and the like:
    // waiting will not fix that, the repository's settings must.
    if detail.contains("invalid peer certificate") {
        return SyncError::permanent(format!(
            "the certificate of {name} ({base}) is not trusted ({detail}); if the peer's \
             certificate comes from its own CA, add that CA certificate to the repository; \
             check the URL's host name otherwise"
        ))
        .stopping_the_run();
    }
    // The link, not the peer, is named when the connection broke: on a
    // field link it usually is the link. The technical chain comes last.
    let what = if e.is_timeout() {
        format!("{name} did not answer in time")
    } else if e.is_connect() {
        format!("{name} cannot be reached")
    } else if e.is_body() || e.is_decode() {
        format!("the link to {name} dropped during the transfer")
    } else if e.is_request() {
        format!("the link to {name} dropped before the exchange was complete")
    } else {
        format!("{name} is unavailable")
    };
    let error = SyncError::transient(what).with_details(detail);
    // Nobody answers at that address: the other tasks would only wait too.
    if e.is_connect() {
        error.stopping_the_run()
    } else if e.is_timeout() {
        // Silent for the whole read timeout: waiting again would not help.
        error
    } else {
        // Cut in the middle of the exchange.
        error.link_dropped()
    }
}

/// reqwest's error with its causes ("error sending request: connection refused").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

fn suffix(said: &str) -> String {
    if said.is_empty() {
        String::new()
    } else {
        format!(": {said}")
    }
}

pub(super) async fn read_limited(mut response: Response, limit: usize) -> String {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        body.extend_from_slice(&chunk);
        if body.len() >= limit {
            body.truncate(limit);
            break;
        }
    }
    String::from_utf8_lossy(&body).into_owned()
}

/// The peer's own words: the `message` of Eden's JSON, else the text
/// without markup, shortened.
pub fn peer_message(text: &str) -> String {
    if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(text)
        && let Some(message) = map.get("message").and_then(Value::as_str)
    {
        return excerpt(message);
    }
    let mut plain = String::with_capacity(text.len());
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => plain.push(c),
            _ => {}
        }
    }
    excerpt(&plain.split_whitespace().collect::<Vec<_>>().join(" "))
}

pub(super) fn excerpt(text: &str) -> String {
    const MAX: usize = 300;
    let text = text.trim();
    if text.chars().count() <= MAX {
        return text.to_string();
    }
    let cut: String = text.chars().take(MAX).collect();
    format!("{cut}…")
}

/// What to do about a 403, by what the peer said: each refusal of the sync
/// API (ours and Eden's) has its own remedy.
fn forbidden_advice(said: &str, site_uuid: &str) -> String {
    if said.contains("not accepted yet") {
        "the peer has not accepted pushes from this node yet: its administrator must allow \
         them (on an edensync peer: \"Accept pushes\" on this node's repository there)"
            .into()
    } else if said.contains("Registration required") {
        format!(
            "the peer does not know this node: register the repository again, or enter our \
             site uuid {site_uuid} on the peer"
        )
    } else if said.contains("may not act as the repository") {
        "the account on the peer is bound to another repository there: use the account that \
         peer gave this node, or bind this one to our repository on the peer"
            .into()
    } else if said.contains("may not sync the table") {
        "the peer limits which tables this node may sync: remove this table from the task, \
         or ask the peer's administrator to allow it"
            .into()
    } else {
        format!(
            "the account needs sync rights on the peer, and the peer must know our site uuid \
             {site_uuid} (register the repository or enter it on the peer)"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::forbidden_advice;

    #[test]
    fn the_advice_for_a_refusal_matches_its_cause() {
        let uuid = "urn:uuid:ours";
        let cases = [
            (
                "Pushes from the repository A are not accepted yet: an administrator must allow them",
                "has not accepted pushes from this node yet",
            ),
            ("Registration required", "register the repository again"),
            (
                "The account x@example.org may not act as the repository urn:uuid:a",
                "bound to another repository",
            ),
            (
                "The repository A may not sync the table pr_person",
                "limits which tables",
            ),
            ("Insufficient privileges", "needs sync rights"),
        ];
        for (said, advice) in cases {
            let text = forbidden_advice(said, uuid);
            assert!(text.contains(advice), "{said}: {text}");
        }
        assert!(!forbidden_advice(cases[0].0, uuid).contains("sync rights"));
    }
}
