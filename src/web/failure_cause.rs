//! Why a repository fails, in a few words, and the one thing that fixes
//! it: read from the failure's message, which the engine writes with these
//! phrases (engine/client/messages.rs); the whole message stays one click
//! away.

/// What went wrong, as an administrator names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    WrongPassword,
    AccessRefused,
    NotRegistered,
    PushNotAccepted,
    Certificate,
    Proxy,
    WrongUrl,
    PeerDown,
    Timeout,
    LinkDropped,
    PeerError,
    KeyMismatch,
    Other,
}

/// What to do about it: a link to the field to change, or a button.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fix {
    /// Change a field of the repository's configuration (its id).
    Edit(&'static str),
    /// Register at the peer again.
    Register,
    /// Try again now.
    Retry,
}

impl Cause {
    /// The phrases are the engine's own (checked by the tests below).
    pub fn of(message: &str) -> Cause {
        let has = |phrase: &str| message.contains(phrase);
        if has("refused our credentials") {
            Cause::WrongPassword
        } else if has("cannot be decrypted") {
            Cause::KeyMismatch
        } else if has("has not accepted pushes") || has("are not accepted yet") {
            Cause::PushNotAccepted
        } else if has("does not know this node") || has("Registration required") {
            Cause::NotRegistered
        } else if has("refused access (HTTP 403") {
            Cause::AccessRefused
        } else if has("certificate") {
            Cause::Certificate
        } else if has("proxy") {
            Cause::Proxy
        } else if has("no sync endpoint")
            || has("is not usable")
            || has("answered with a redirect")
            || has("not as a sync endpoint")
            || has("did not answer the registration with JSON")
        {
            Cause::WrongUrl
        } else if has("cannot be reached") {
            Cause::PeerDown
        } else if has("did not answer") && has("in time") {
            Cause::Timeout
        } else if has("link to") && has("dropped") {
            Cause::LinkDropped
        } else if has("(HTTP 5") || has("is busy (HTTP") || has("is unavailable") {
            Cause::PeerError
        } else {
            Cause::Other
        }
    }

    /// A few words, for the badge's line.
    pub fn words(self) -> &'static str {
        match self {
            Cause::WrongPassword => "wrong username or password",
            Cause::AccessRefused => "access refused by the peer",
            Cause::NotRegistered => "not registered at the peer",
            Cause::PushNotAccepted => "push not accepted by the peer",
            Cause::Certificate => "certificate not trusted",
            Cause::Proxy => "proxy refused",
            Cause::WrongUrl => "wrong URL",
            Cause::PeerDown => "peer down or unreachable",
            Cause::Timeout => "peer too slow to answer",
            Cause::LinkDropped => "link dropped",
            Cause::PeerError => "error on the peer",
            Cause::KeyMismatch => "stored password unreadable",
            Cause::Other => "failed",
        }
    }

    /// The fix, and its label.
    pub fn fix(self) -> (Fix, &'static str) {
        match self {
            Cause::WrongPassword | Cause::AccessRefused | Cause::KeyMismatch => {
                (Fix::Edit("password"), "Edit credentials")
            }
            Cause::NotRegistered => (Fix::Register, "Register again"),
            Cause::Certificate => (Fix::Edit("tls_ca_pem"), "Edit certificates"),
            Cause::Proxy => (Fix::Edit("proxy_url"), "Edit proxy"),
            Cause::WrongUrl => (Fix::Edit("url"), "Edit URL"),
            Cause::PushNotAccepted
            | Cause::PeerDown
            | Cause::Timeout
            | Cause::LinkDropped
            | Cause::PeerError
            | Cause::Other => (Fix::Retry, "Retry now"),
        }
    }

    /// What the peer's side must do, when it is not ours to fix.
    pub fn peer_side(self) -> Option<&'static str> {
        match self {
            Cause::PushNotAccepted => Some(
                "the peer's administrator must accept pushes from this node; pulls go on meanwhile",
            ),
            Cause::AccessRefused => Some(
                "or the peer's administrator must give the account sync rights for these tables",
            ),
            _ => None,
        }
    }
}

/// A failure shown on the dashboard and the repository's page.
pub struct Failure {
    pub cause: Cause,
    pub message: String,
}

impl Failure {
    pub fn of(message: &str) -> Failure {
        Failure {
            cause: Cause::of(message),
            message: message.to_string(),
        }
    }

    pub fn words(&self) -> &'static str {
        self.cause.words()
    }

    /// The field of the repository's form to change, when the fix is an
    /// edit.
    pub fn edit_field(&self) -> Option<&'static str> {
        match self.cause.fix().0 {
            Fix::Edit(field) => Some(field),
            _ => None,
        }
    }

    pub fn registers(&self) -> bool {
        self.cause.fix().0 == Fix::Register
    }

    pub fn fix_label(&self) -> &'static str {
        self.cause.fix().1
    }

    pub fn peer_side(&self) -> Option<&'static str> {
        self.cause.peer_side()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Messages as the engine writes them, and the cause each names.
    #[test]
    fn each_failure_the_engine_reports_has_its_cause() {
        let cases = [
            (
                "B refused our credentials (HTTP 401: Authentication Required): check the repository's username and password",
                Cause::WrongPassword,
            ),
            (
                "B refused access (HTTP 403: Pushes from the repository A are not accepted yet): the peer has not accepted pushes from this node yet",
                Cause::PushNotAccepted,
            ),
            (
                "B refused access (HTTP 403: Registration required): the peer does not know this node",
                Cause::NotRegistered,
            ),
            (
                "B refused access (HTTP 403: Insufficient privileges): the account needs sync rights on the peer",
                Cause::AccessRefused,
            ),
            (
                "the certificate of B (https://b) is not trusted (invalid peer certificate: UnknownIssuer)",
                Cause::Certificate,
            ),
            (
                "proxy authentication required (HTTP 407) on the way to B",
                Cause::Proxy,
            ),
            (
                "B has no sync endpoint at http://b (HTTP 404): check the repository URL",
                Cause::WrongUrl,
            ),
            (
                "B answered with a redirect (HTTP 302) from http://b to https://b",
                Cause::WrongUrl,
            ),
            (
                "B cannot be reached (details: error sending request: connection refused)",
                Cause::PeerDown,
            ),
            (
                "B did not answer in time (details: operation timed out)",
                Cause::Timeout,
            ),
            (
                "B did not answer our push in time: Eden may still be importing it",
                Cause::Timeout,
            ),
            (
                "the link to B dropped during the transfer (details: …)",
                Cause::LinkDropped,
            ),
            (
                "B failed (HTTP 500: Internal Server Error)",
                Cause::PeerError,
            ),
            (
                "the stored password of B cannot be decrypted with this node's secret key: enter it again",
                Cause::KeyMismatch,
            ),
            ("something new", Cause::Other),
        ];
        for (message, cause) in cases {
            assert_eq!(Cause::of(message), cause, "{message}");
        }
    }

    #[test]
    fn the_fix_matches_the_cause() {
        assert_eq!(
            Failure::of("B refused our credentials (HTTP 401)").edit_field(),
            Some("password")
        );
        assert!(Failure::of("B refused access (HTTP 403: Registration required)").registers());
        assert_eq!(Failure::of("B cannot be reached").fix_label(), "Retry now");
        assert!(
            Failure::of(
                "B refused access (HTTP 403: Pushes from the repository A are not accepted yet)"
            )
            .peer_side()
            .is_some()
        );
    }
}
