//! Bounds on open connections: per client address, so that a flood from one
//! host never takes the node from the others, and in total, below the
//! process's file descriptor limit, so that the database and the spool
//! files always have room. A connection over a bound is closed at once. The
//! last tenth of the places is kept for health checks and for clients with
//! credentials (a peer, a logged-in administrator): a request on such a
//! place without them gets 503 (`keep_reserve`).

use actix_web::Error;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::Next;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Connections one address may hold open: a browser opens six, a peer one
/// or two, a busy reverse proxy (see `trusted_proxies`) more.
pub const PER_ADDRESS: usize = 256;

/// File descriptors kept free for the database, spool files and logs.
const RESERVED_DESCRIPTORS: usize = 256;

pub struct ConnectionLimits {
    per_address: usize,
    /// Reverse proxies (`trusted_proxies`): every client comes through
    /// them, so they are bound only by the total.
    proxies: Vec<ipnet::IpNet>,
    total: usize,
    /// Places at the top kept for health checks and clients with credentials.
    reserve: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
    all: AtomicUsize,
}

/// An admitted connection; dropping it (when the connection ends) frees its
/// place.
pub struct Admitted {
    limits: Arc<ConnectionLimits>,
    address: IpAddr,
    /// Admitted into the reserve.
    reserved: bool,
}

impl ConnectionLimits {
    /// Limits for this process: `total` when set (`max_connections`), else
    /// the descriptor limit (raised to its hard maximum first) less
    /// [`RESERVED_DESCRIPTORS`]; never more than the descriptors allow.
    pub fn for_this_process(
        total: Option<usize>,
        proxies: Vec<ipnet::IpNet>,
    ) -> Arc<ConnectionLimits> {
        let available = raise_descriptor_limit()
            .saturating_sub(RESERVED_DESCRIPTORS)
            .max(64);
        let total = total.unwrap_or(available).min(available);
        let mut limits = ConnectionLimits::new(PER_ADDRESS, total);
        limits.proxies = proxies;
        Arc::new(limits)
    }

    pub fn new(per_address: usize, total: usize) -> ConnectionLimits {
        ConnectionLimits {
            per_address,
            proxies: Vec::new(),
            total,
            reserve: (total / 10).max(1),
            open: Mutex::new(HashMap::new()),
            all: AtomicUsize::new(0),
        }
    }

    /// A place for a new connection from `address`, if there is one.
    pub fn admit(self: &Arc<Self>, address: IpAddr) -> Option<Admitted> {
        let address = host_of(address);
        let per_address = if self.proxies.iter().any(|p| p.contains(&address)) {
            self.total
        } else {
            self.per_address
        };
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let from_address = open.get(&address).copied().unwrap_or(0);
        if from_address >= per_address || self.all.load(Ordering::Relaxed) >= self.total {
            return None;
        }
        open.insert(address, from_address + 1);
        let before = self.all.fetch_add(1, Ordering::Relaxed);
        Some(Admitted {
            limits: Arc::clone(self),
            address,
            reserved: before >= self.total.saturating_sub(self.reserve),
        })
    }
}

/// On a place of the reserve, only health checks and requests with
/// credentials (Basic for peers, a session cookie for the console) are
/// served; anything else gets 503 and the connection is closed.
pub async fn keep_reserve(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let reserved = req
        .conn_data::<Admitted>()
        .is_some_and(|admitted| admitted.reserved);
    let allowed = !reserved
        || req.path() == "/healthz"
        || req.headers().contains_key(header::AUTHORIZATION)
        || req.cookie(crate::web::session::SESSION_COOKIE).is_some();
    if allowed {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let mut response = super::request_bodies::refusal(
        req.path(),
        StatusCode::SERVICE_UNAVAILABLE,
        "This node is at its connection limit: try again shortly",
    );
    let headers = response.headers_mut();
    headers.insert(
        header::CONNECTION,
        header::HeaderValue::from_static("close"),
    );
    headers.insert(header::RETRY_AFTER, header::HeaderValue::from_static("10"));
    Ok(req.into_response(response))
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut open = self.limits.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&self.address) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.address);
            }
        }
        self.limits.all.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The host an address stands for: an IPv6 host has a whole /64 to pick
/// addresses from, so the /64 counts as one.
fn host_of(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::V6(segments.into())
            }
        },
    }
}

/// Raise the soft limit on open files to the hard one; the soft limit
/// after that.
fn raise_descriptor_limit() -> usize {
    // SAFETY: getrlimit/setrlimit read and write a plain struct we own.
    unsafe {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 1024;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
        usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_address_cannot_take_every_place() {
        let limits = Arc::new(ConnectionLimits::new(2, 3));
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let first = limits.admit(a).unwrap();
        let _second = limits.admit(a).unwrap();
        assert!(limits.admit(a).is_none(), "per address");
        let _third = limits.admit(b).unwrap();
        assert!(limits.admit(b).is_none(), "in total");
        drop(first);
        assert!(
            limits.admit(a).is_some(),
            "a closed connection frees its place"
        );
    }

    #[test]
    fn an_ipv6_host_is_its_64_and_a_proxy_is_bound_by_the_total() {
        let mut limits = ConnectionLimits::new(1, 10);
        limits.proxies = vec!["10.0.0.9/32".parse().unwrap()];
        let limits = Arc::new(limits);
        let _one = limits.admit("2001:db8::1".parse().unwrap()).unwrap();
        assert!(limits.admit("2001:db8::2".parse().unwrap()).is_none());
        assert!(limits.admit("2001:db8:0:1::1".parse().unwrap()).is_some());
        let proxy: IpAddr = "10.0.0.9".parse().unwrap();
        let through_proxy: Vec<Admitted> = (0..5).map(|_| limits.admit(proxy).unwrap()).collect();
        assert_eq!(through_proxy.len(), 5);
    }

    #[test]
    fn the_last_places_are_a_reserve() {
        let limits = Arc::new(ConnectionLimits::new(100, 20));
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let ordinary: Vec<Admitted> = (0..18).map(|_| limits.admit(a).unwrap()).collect();
        assert!(ordinary.iter().all(|c| !c.reserved));
        let top = limits.admit(a).unwrap();
        assert!(top.reserved, "the last tenth is the reserve");
    }
}
