//! A field link on loopback: a TCP proxy that limits bandwidth, adds
//! latency, cuts every connection now and then (the link dropped) and can
//! stall (a satellite fade). This machine's kernel has no netem; this is
//! what the tests and the field-link benchmark put between two nodes.
//! Shared with `benches/field_links.rs` (which uses the real profiles), so
//! it uses tokio, rand and libc only.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// What the link does.
#[derive(Debug, Clone)]
pub struct Profile {
    pub name: &'static str,
    /// Each direction's bandwidth, bytes per second (None: as fast as
    /// loopback).
    pub bytes_per_sec: Option<u64>,
    pub rtt: Duration,
    /// Every connection is cut after a random time around this (between
    /// half and one and a half of it).
    pub cut_every: Option<Duration>,
    /// After this many bytes upstream, nothing moves for this long; the
    /// proxy's own buffers stay small, so the sender's window closes.
    pub stall: Option<(u64, Duration)>,
}

impl Profile {
    pub fn clean() -> Profile {
        Profile {
            name: "clean",
            bytes_per_sec: None,
            rtt: Duration::ZERO,
            cut_every: None,
            stall: None,
        }
    }

    /// 512 kbit/s, 700 ms, a cut every 3 minutes.
    pub fn vsat() -> Profile {
        Profile {
            name: "VSAT",
            bytes_per_sec: Some(64_000),
            rtt: Duration::from_millis(700),
            cut_every: Some(Duration::from_secs(180)),
            stall: None,
        }
    }

    /// 64 kbit/s, 1 s, a cut every minute.
    pub fn two_g() -> Profile {
        Profile {
            name: "2G",
            bytes_per_sec: Some(8_000),
            rtt: Duration::from_secs(1),
            cut_every: Some(Duration::from_secs(60)),
            stall: None,
        }
    }

    /// 2 Mbit/s, 100 ms, a cut every 20 s.
    pub fn flaky() -> Profile {
        Profile {
            name: "flaky",
            bytes_per_sec: Some(250_000),
            rtt: Duration::from_millis(100),
            cut_every: Some(Duration::from_secs(20)),
            stall: None,
        }
    }

    /// What sending `bytes` as one document over this link needs ("185 s:
    /// never completes" when a cut comes first).
    pub fn one_document(&self, bytes: u64) -> String {
        let Some(rate) = self.bytes_per_sec else {
            return "–".into();
        };
        let seconds = bytes as f64 / rate as f64 + self.rtt.as_secs_f64();
        match self.cut_every {
            // The longest gap between two cuts is 1.5 times the average.
            Some(every) if seconds > every.as_secs_f64() * 1.5 => {
                format!("{seconds:.0} s: never completes")
            }
            _ => format!("{seconds:.0} s"),
        }
    }

    /// The same link, `factor` times faster in every respect (bandwidth,
    /// latency, time between cuts): what `cargo test` runs.
    pub fn scaled(mut self, factor: u32) -> Profile {
        self.bytes_per_sec = self.bytes_per_sec.map(|b| b * u64::from(factor));
        self.rtt /= factor;
        self.cut_every = self.cut_every.map(|c| c / factor);
        self
    }
}

/// What crossed the link.
#[derive(Debug, Default)]
pub struct Traffic {
    /// Bytes delivered towards the target (requests, uploads).
    pub up: AtomicU64,
    /// Bytes delivered back (answers).
    pub down: AtomicU64,
    pub cuts: AtomicU64,
    pub connections: AtomicU64,
}

impl Traffic {
    pub fn bytes(&self) -> u64 {
        self.up.load(Ordering::Relaxed) + self.down.load(Ordering::Relaxed)
    }
}

pub struct Link {
    /// `http://127.0.0.1:port`: the target, through the link.
    pub url: String,
    pub traffic: Arc<Traffic>,
}

/// One direction's bandwidth, shared by every connection on the link.
type Wire = Arc<Mutex<Instant>>;

/// When nothing moves: (after so many bytes up, until).
type Stall = Arc<Mutex<(Option<(u64, Duration)>, Option<Instant>)>>;

impl Link {
    /// A link to `target` (`http://host:port`).
    pub async fn start(target: &str, profile: Profile) -> Link {
        // A small receive buffer: a stalled link closes the sender's window
        // quickly instead of swallowing megabytes into loopback buffers.
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(16 * 1024).unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener: TcpListener = socket.listen(256).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let target = target.trim_start_matches("http://").to_string();
        let traffic = Arc::new(Traffic::default());
        let (cut_tx, cut_rx) = watch::channel(0u64);
        if let Some(every) = profile.cut_every {
            let traffic = traffic.clone();
            tokio::spawn(async move {
                loop {
                    let wait = every.mul_f64(0.5 + rand::random::<f64>());
                    tokio::time::sleep(wait).await;
                    traffic.cuts.fetch_add(1, Ordering::Relaxed);
                    if cut_tx.send(traffic.cuts.load(Ordering::Relaxed)).is_err() {
                        return;
                    }
                }
            });
        } else {
            // Kept open so connections wait on it forever.
            std::mem::forget(cut_tx);
        }
        let wires: [Wire; 2] = [
            Arc::new(Mutex::new(Instant::now())),
            Arc::new(Mutex::new(Instant::now())),
        ];
        let stall: Stall = Arc::new(Mutex::new((profile.stall, None)));
        let link_traffic = traffic.clone();
        tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                link_traffic.connections.fetch_add(1, Ordering::Relaxed);
                let (target, profile, traffic) =
                    (target.clone(), profile.clone(), link_traffic.clone());
                let (wires, stall, mut cut) = (wires.clone(), stall.clone(), cut_rx.clone());
                tokio::spawn(async move {
                    let Ok(upstream) = TcpStream::connect(&target).await else {
                        return;
                    };
                    cut.borrow_and_update();
                    let (client, client_handle) = keep_handle(client);
                    let (upstream, upstream_handle) = keep_handle(upstream);
                    let (client_read, client_write) = client.into_split();
                    let (upstream_read, upstream_write) = upstream.into_split();
                    let up = pump(
                        client_read,
                        upstream_write,
                        profile.clone(),
                        wires[0].clone(),
                        Some(stall),
                        traffic.clone(),
                        true,
                    );
                    let down = pump(
                        upstream_read,
                        client_write,
                        profile,
                        wires[1].clone(),
                        None,
                        traffic,
                        false,
                    );
                    // Either side closing ends the connection; a cut drops
                    // both halves at once, mid-transfer.
                    tokio::select! {
                        _ = async { tokio::join!(up, down) } => {}
                        _ = cut.changed() => {
                            reset(&client_handle);
                            reset(&upstream_handle);
                        }
                    }
                });
            }
        });
        Link { url, traffic }
    }
}

/// Copy one direction: read, hold for half the round trip, then send at
/// the link's bandwidth.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    profile: Profile,
    wire: Wire,
    stall: Option<Stall>,
    traffic: Arc<Traffic>,
    up: bool,
) {
    // Small chunks: the bandwidth is metered smoothly, and a cut lands
    // at a random byte.
    let chunk = profile
        .bytes_per_sec
        .map_or(16 * 1024, |b| (b / 20).clamp(512, 16 * 1024) as usize);
    let (tx, mut rx) = mpsc::channel::<(Instant, Vec<u8>)>(4);
    let reader = async move {
        let mut buffer = vec![0u8; chunk];
        loop {
            match from.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if tx
                        .send((Instant::now(), buffer[..n].to_vec()))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            }
        }
    };
    let writer = async move {
        let mut sent: u64 = 0;
        while let Some((read_at, bytes)) = rx.recv().await {
            tokio::time::sleep_until(read_at + profile.rtt / 2).await;
            if let Some(stall) = &stall {
                let until = {
                    let mut s = stall.lock().unwrap();
                    if let Some((after, length)) = s.0
                        && sent >= after
                    {
                        s.0 = None;
                        s.1 = Some(Instant::now() + length);
                    }
                    s.1
                };
                if let Some(until) = until {
                    tokio::time::sleep_until(until).await;
                }
            }
            if let Some(rate) = profile.bytes_per_sec {
                let done = {
                    let mut free = wire.lock().unwrap();
                    let start = (*free).max(Instant::now());
                    *free = start + Duration::from_secs_f64(bytes.len() as f64 / rate as f64);
                    *free
                };
                tokio::time::sleep_until(done).await;
            }
            if to.write_all(&bytes).await.is_err() {
                return;
            }
            sent += bytes.len() as u64;
            let counter = if up { &traffic.up } else { &traffic.down };
            counter.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(reader, writer);
}

/// The stream, and a second handle on its socket to reset it with.
fn keep_handle(stream: TcpStream) -> (TcpStream, std::net::TcpStream) {
    let std_stream = stream.into_std().unwrap();
    let handle = std_stream.try_clone().unwrap();
    (TcpStream::from_std(std_stream).unwrap(), handle)
}

/// Make the socket's last close (its halves and this handle dropped) a
/// reset, as a dropped link shows itself to the
/// ends ("connection reset by peer"), unsent bytes discarded.
fn reset(socket: &std::net::TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket and a correctly sized option value.
    unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}
