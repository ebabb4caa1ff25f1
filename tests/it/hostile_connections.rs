//! A connection flood from one host, against the real binary: thousands of
//! connections that each send a head and one byte of a large body. The
//! flooding address gets no more than its share; another host's health
//! check, login and pull are served meanwhile.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};

use crate::support::cli::Cli;
use crate::support::serve_binary;

const ADMIN: &str = "flood-admin@example.org";
const PASSWORD: &str = "flood admin password 1";

async fn connect_from(source: &str, to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(source.parse::<IpAddr>().unwrap(), 0))?;
    socket.connect(to).await
}

/// `count` connections from `source`, each a login form with one byte of
/// its 60 000-byte body, held open (those the server shut are dropped).
async fn hold_open(source: &str, to: SocketAddr, count: usize) -> Vec<TcpStream> {
    let head = format!(
        "POST /login HTTP/1.1\r\nHost: {to}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 60000\r\n\r\na"
    );
    let mut held = Vec::new();
    for _ in 0..count {
        let Ok(mut socket) = connect_from(source, to).await else {
            continue;
        };
        if socket.write_all(head.as_bytes()).await.is_ok() {
            held.push(socket);
        }
    }
    held
}

/// The binary with an administrator, and these settings (the data
/// directory lives as long as the returned `Cli`).
fn serve(settings: &[(&'static str, &str)]) -> (Cli, std::process::Child, String, SocketAddr) {
    let cli = Cli::new();
    let mut env: HashMap<&str, String> = cli.env().clone();
    env.insert("EDENSYNC_ADMIN_EMAIL", ADMIN.into());
    env.insert("EDENSYNC_ADMIN_PASSWORD", PASSWORD.into());
    for (key, value) in settings {
        env.insert(key, value.to_string());
    }
    let (server, url) = serve_binary(&env);
    let address: SocketAddr = url.trim_start_matches("http://").parse().unwrap();
    (cli, server, url, address)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_from_one_address_never_stops_the_others() {
    let (_dir, mut server, url, address) = serve(&[]);
    // 3 000 connections from 127.0.0.1, each holding a login form open.
    let flood = hold_open("127.0.0.1", address, 3000).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let open = std::fs::read_dir(format!("/proc/{}/fd", server.id()))
        .unwrap()
        .count();
    assert!(
        open < 1000,
        "the server holds {open} descriptors for one address's flood"
    );

    // Another host meanwhile: health check, login, pull.
    let other = reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<IpAddr>().unwrap())
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let health = other.get(format!("{url}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let form = other
        .get(format!("{url}/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = crate::support::csrf_of(&form).unwrap();
    let login = other
        .post(format!("{url}/login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", ADMIN),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 303, "login from another host");
    let pull = other
        .get(format!("{url}/sync/sync.xml?resource=org_organisation"))
        .basic_auth(ADMIN, Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(pull.status(), 200, "pull from another host");

    drop(flood);
    server.kill().unwrap();
    let _ = server.wait();
}

/// A flood from many addresses fills every ordinary place: the reserve
/// still serves the health check and clients with credentials, and refuses
/// the rest with 503.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_places_serve_health_checks_and_credentials() {
    let (_dir, mut server, url, address) = serve(&[("EDENSYNC_MAX_CONNECTIONS", "500")]);
    // 4 hosts × 200 connections, each holding a login form open: more
    // than the 500 places.
    let mut flood = Vec::new();
    for host in 1..=4 {
        flood.extend(hold_open(&format!("127.0.1.{host}"), address, 200).await);
    }
    // Connections answered 503 on the reserve free their places.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let other = reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<IpAddr>().unwrap())
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let health = other.get(format!("{url}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200, "the health check is served");
    let pull = other
        .get(format!("{url}/sync/sync.xml?resource=org_organisation"))
        .basic_auth(ADMIN, Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(pull.status(), 200, "a peer with credentials is served");
    let anonymous = other.get(format!("{url}/login")).send().await.unwrap();
    assert_eq!(anonymous.status(), 503, "anyone else waits");

    drop(flood);
    server.kill().unwrap();
    let _ = server.wait();
}
