//! The query string of a pull or a push, read as Eden's sync controller
//! reads it.

/// A pull or a push as the query string asks for it.
#[derive(Debug, Clone, Default)]
pub struct PeerQuery {
    pub resource: Option<String>,
    pub repository: Option<String>,
    /// The raw `msince`: Eden's strict format only, anything else ignored.
    pub msince: Option<String>,
    pub filters: Vec<(String, String)>,
    pub since_seq: Option<i64>,
    pub limit: Option<u64>,
    /// edensync peers: say how many masters follow the page (`count=1`).
    pub count_remaining: bool,
    /// edensync peers: the rest of a kept answer (its token and where to
    /// go on from).
    pub resume: Option<(String, u64)>,
}

impl PeerQuery {
    /// Read the parameters Eden's sync controller reads: `resource`,
    /// `repository`, `msince` and every `[…]…` filter; plus `since_seq`,
    /// `limit` and `count` for edensync peers. Everything else is ignored, as in Eden.
    pub fn parse(query: &str) -> PeerQuery {
        let mut pull = PeerQuery::default();
        let (mut answer, mut offset) = (None, None);
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            match key.as_ref() {
                "resource" => pull.resource = Some(value.into_owned()),
                "repository" => pull.repository = Some(value.into_owned()),
                "msince" => pull.msince = Some(value.into_owned()),
                "since_seq" => pull.since_seq = value.parse().ok(),
                "limit" => pull.limit = value.parse().ok().filter(|l| *l > 0),
                "count" => pull.count_remaining = value == "1",
                "answer" => answer = Some(value.into_owned()),
                "offset" => offset = value.parse().ok(),
                k if k.starts_with('[') => pull.filters.push((k.to_string(), value.into_owned())),
                _ => {}
            }
        }
        pull.resume = answer.zip(offset);
        pull
    }
}
