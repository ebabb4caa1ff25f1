//! Hostile input on the sync API: broken, malicious and enormous documents,
//! and clients that trickle bytes. Each gets a clear Eden-style answer,
//! changes nothing, and leaves the node serving everyone else.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::peers::count;
use crate::support::{Backend, TestApp, edensync, serve_binary};
use crate::sync_register::{PEER_PASSWORD, accept_pushes, register_sync_peer};

const PEER: &str = "hostile@example.org";
const PEER_UUID: &str = "urn:uuid:hostile-peer";
const PUSH: &str = "/sync/sync.xml?resource=org_organisation&repository=urn:uuid:hostile-peer";

async fn hostile_peer() -> TestApp {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    register_sync_peer(&app, PEER, PEER_UUID).await;
    accept_pushes(&app, PEER_UUID);
    app
}

async fn push(app: &TestApp, content_type: &str, body: Vec<u8>) -> (u16, serde_json::Value) {
    let response = reqwest::Client::new()
        .post(app.url(PUSH))
        .basic_auth(PEER, Some(PEER_PASSWORD))
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let json = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    (status, json)
}

fn organisation(uuid: &str, name: &str) -> String {
    format!(
        "<resource name=\"org_organisation\" uuid=\"{uuid}\" modified_on=\"2026-11-20T10:00:00\"><data field=\"name\">{name}</data></resource>"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_documents_are_refused_and_change_nothing() {
    let app = hostile_peer().await;
    let good = organisation("urn:uuid:h-1", "Fine");
    let whole = format!(
        "<s3xml>{good}{}</s3xml>",
        organisation("urn:uuid:h-2", "Also fine")
    );
    let laughs = r#"<?xml version="1.0"?>
<!DOCTYPE s3xml [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<s3xml><resource name="org_organisation" uuid="urn:uuid:h-3"><data field="name">&lol9;</data></resource></s3xml>"#;
    let deep = format!(
        "<s3xml><resource name=\"org_organisation\" uuid=\"urn:uuid:h-4\">{}{}</resource></s3xml>",
        "<resource name=\"org_office\">".repeat(10_000),
        "</resource>".repeat(10_000)
    );
    let mut invalid_utf8 = format!("<s3xml>{good}<resource name=\"org_organisation\" uuid=\"urn:uuid:h-5\"><data field=\"name\">")
        .into_bytes();
    invalid_utf8.extend_from_slice(&[0xff, 0xfe, 0xc3, 0x28]);
    invalid_utf8.extend_from_slice(b"</data></resource></s3xml>");

    let cases: Vec<(&str, &str, Vec<u8>)> = vec![
        (
            "malformed",
            "text/xml",
            format!("<s3xml>{good}<resource></s3xml>").into_bytes(),
        ),
        (
            "truncated",
            "text/xml",
            whole.as_bytes()[..whole.len() - 40].to_vec(),
        ),
        ("billion laughs", "text/xml", laughs.as_bytes().to_vec()),
        ("10 000 deep", "text/xml", deep.into_bytes()),
        ("invalid UTF-8", "text/xml", invalid_utf8),
        (
            "not XML",
            "application/octet-stream",
            vec![0u8, 159, 146, 150, 7, 0, 1],
        ),
        ("JSON", "application/json", br#"{"s3xml": []}"#.to_vec()),
        ("empty", "text/xml", Vec::new()),
        // The JSON lines edensync nodes exchange: every line is checked
        // before anything is stored.
        (
            "JSON lines, a broken line",
            LINES,
            lines(&[LINE_1, r#"{"table":"org_organisation","uuid":"#]),
        ),
        (
            "JSON lines, cut at a line break",
            LINES,
            lines(&[LINE_1, LINE_2]),
        ),
        (
            "JSON lines, a wrong count",
            LINES,
            lines(&[LINE_1, LINE_2, "[5]"]),
        ),
        (
            "JSON lines, 10 000 deep",
            LINES,
            lines(&[&deep_line(10_000), "[1]"]),
        ),
        (
            "JSON lines, no root line",
            LINES,
            lines(&[LINE_1, "[1]"])[ROOT.len() + 1..].to_vec(),
        ),
        (
            "JSON lines, an attribute name that would inject XML",
            LINES,
            lines(&[
                &LINE_1.replace(
                    r#""fields""#,
                    r#""attributes":[["x=\"1\"/><resource name=\"org_organisation\" deleted=\"True","y"]],"fields""#,
                ),
                "[1]",
            ]),
        ),
        ("JSON lines, XML inside", LINES, whole.as_bytes().to_vec()),
        ("JSON lines, empty", LINES, Vec::new()),
    ];
    for (what, content_type, body) in cases {
        let (status, answer) = push(&app, content_type, body).await;
        assert_eq!(status, 400, "{what}: {answer}");
        assert_eq!(answer["status"], "failed", "{what}: {answer}");
        assert_eq!(answer["statuscode"], "400", "{what}: {answer}");
        let message = answer["message"].as_str().unwrap();
        assert!(!message.is_empty(), "{what}: a message says why");
        assert_eq!(count(&app, "org_organisation"), 0, "{what} changed nothing");
    }
    // A bad time refuses its record, as in S3XML, not the document.
    let bad_time = lines(&[
        LINE_1,
        &LINE_2.replace("2026-11-20T10:00:00", "soon"),
        "[2]",
    ]);
    let (status, answer) = push(&app, LINES, bad_time).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["records"], 1, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("modified_on 'soon' is not a date and time"),
        "{answer}"
    );
    // The node still takes a good document, in either form.
    let (status, answer) = push(&app, "text/xml", whole.into_bytes()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(count(&app, "org_organisation"), 2);
    let good_lines = lines(&[
        LINE_1.replace("h-1", "h-6").as_str(),
        LINE_2.replace("h-2", "h-7").as_str(),
        "[2]",
    ]);
    let (status, answer) = push(&app, LINES, good_lines).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["created"].as_array().map(Vec::len),
        Some(2),
        "{answer}"
    );
    assert_eq!(count(&app, "org_organisation"), 4);
}

const LINES: &str = "application/x-ndjson";
const ROOT: &str = r#"[["success","true"],["results","2"]]"#;
const LINE_1: &str = r#"{"table":"org_organisation","uuid":"urn:uuid:h-1","modified_on":"2026-11-20T10:00:00","fields":[{"kind":"data","field":"name","text":"Fine"}]}"#;
const LINE_2: &str = r#"{"table":"org_organisation","uuid":"urn:uuid:h-2","modified_on":"2026-11-20T10:00:00","fields":[{"kind":"data","field":"name","text":"Also fine"}]}"#;

/// A JSON-lines document: the root line, then these lines.
fn lines(body: &[&str]) -> Vec<u8> {
    let mut text = format!("{ROOT}\n");
    for line in body {
        text.push_str(line);
        text.push('\n');
    }
    text.into_bytes()
}

/// A record with components nested `depth` deep.
fn deep_line(depth: usize) -> String {
    let open = r#"{"table":"org_office","components":["#.repeat(depth);
    format!(
        r#"{{"table":"org_organisation","uuid":"urn:uuid:h-8","components":[{open}{}"#,
        "]}".repeat(depth + 1)
    )
}

/// Peak resident memory of a process, in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// The real binary: a declared 1 GiB body is refused before it is read,
/// and 1 GiB streamed without a length is cut at the limit; the server's
/// memory stays flat either way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gigabyte_body_gets_413_and_memory_stays_flat() {
    let dir = tempfile::tempdir().unwrap();
    let env: HashMap<&str, String> = [
        ("EDENSYNC_DATA_DIR", dir.path().display().to_string()),
        ("EDENSYNC_MAX_PUSH_BYTES", (64u64 << 20).to_string()),
    ]
    .into();
    let ok = |args: &[&str], stdin: Option<&str>| {
        let out = edensync(args, &env, stdin);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    ok(
        &["user", "add", PEER, "--role", "sync", "--password-stdin"],
        Some(PEER_PASSWORD),
    );
    ok(
        &[
            "repository",
            "add",
            "Hostile",
            "--peer-uuid",
            PEER_UUID,
            "--accept-push",
            "--account",
            PEER,
            "--no-register",
        ],
        None,
    );
    let (mut server, base) = serve_binary(&env);
    let address = base.trim_start_matches("http://").to_string();
    let authorization = crate::support::basic_credentials(PEER, PEER_PASSWORD);

    // Declared: refused from the head alone.
    let mut socket = TcpStream::connect(&address).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        socket,
        "POST {PUSH} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Basic {authorization}\r\n\
         Content-Type: text/xml\r\nContent-Length: {}\r\n\r\n<s3xml>",
        1u64 << 30
    )
    .unwrap();
    let mut answer = vec![0u8; 4096];
    let n = socket.read(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]).to_string();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("larger than the limit"), "{answer}");

    // Streamed without a length: 1 GiB of one endless record.
    let chunk = bytes_of(
        "<data field=\"name\">aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa</data>",
        1 << 20,
    );
    let chunks = 1024usize;
    let body = futures_util::stream::iter((0..chunks).map(move |i| {
        Ok::<_, std::io::Error>(if i == 0 {
            bytes_of("<s3xml><resource name=\"org_organisation\" uuid=\"x\">", 1)
        } else {
            chunk.clone()
        })
    }));
    let streamed = reqwest::Client::new()
        .post(format!("{base}{PUSH}"))
        .basic_auth(PEER, Some(PEER_PASSWORD))
        .header("Content-Type", "text/xml")
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await;
    match streamed {
        Ok(response) => assert_eq!(response.status(), 413),
        // The server may close the connection as soon as it answered,
        // while the client is still sending.
        Err(e) => assert!(e.is_request() || e.is_body(), "{e:?}"),
    }
    let health = reqwest::get(format!("{base}/healthz")).await.unwrap();
    assert_eq!(health.status(), 200, "the node still serves");
    let peak = peak_rss_kib(server.id());
    println!("peak RSS after 1 GiB pushes: {} MiB", peak / 1024);
    assert!(
        peak < 200 * 1024,
        "peak RSS {peak} KiB: the body was held in memory"
    );
    server.kill().unwrap();
    let _ = server.wait();
}

fn bytes_of(piece: &str, size: usize) -> Vec<u8> {
    let mut buffer = Vec::with_capacity(size + piece.len());
    while buffer.len() < size {
        buffer.extend_from_slice(piece.as_bytes());
    }
    buffer
}

/// Connections that send a byte a second (in the request head, in a console
/// form's body, or in a push body) are cut off with 408, and meanwhile
/// everyone else is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_time_out_and_do_not_starve_others() {
    let app = hostile_peer().await;
    let address = app.url.trim_start_matches("http://").to_string();
    let authorization = crate::support::basic_credentials(PEER, PEER_PASSWORD);
    let mut slow = Vec::new();
    for n in 0..40 {
        let address = address.clone();
        let head = if n % 2 == 0 {
            // Trickles its request head.
            format!(
                "GET /healthz HTTP/1.1\r\nHost: {address}\r\nX-Padding: {}\r\n\r\n",
                "p".repeat(100)
            )
        } else if n % 4 == 1 {
            // A console form, its body trickled.
            format!(
                "POST /login HTTP/1.1\r\nHost: {address}\r\n\
                 Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 60000\r\n\r\n"
            )
        } else {
            // A complete head, then a body trickled byte by byte.
            format!(
                "POST {PUSH} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Basic {authorization}\r\n\
                 Content-Type: text/xml\r\nContent-Length: 100000\r\n\r\n"
            )
        };
        slow.push(tokio::spawn(async move {
            let mut socket = tokio::net::TcpStream::connect(&address).await.unwrap();
            let (head_now, trickle) = if n % 2 == 0 {
                (String::new(), head.into_bytes())
            } else {
                (head, b"<s3xml>".repeat(1000))
            };
            socket.write_all(head_now.as_bytes()).await.unwrap();
            let started = tokio::time::Instant::now();
            for byte in trickle {
                if socket.write_all(&[byte]).await.is_err() {
                    break;
                }
                let mut peek = [0u8; 1];
                // Stop trickling once the server has answered.
                if let Ok(Ok(n)) =
                    tokio::time::timeout(Duration::from_secs(1), socket.peek(&mut peek)).await
                    && n > 0
                {
                    break;
                }
                if started.elapsed() > Duration::from_secs(90) {
                    panic!("a client sending a byte a second was never cut off");
                }
            }
            let mut answer = Vec::new();
            let _ =
                tokio::time::timeout(Duration::from_secs(5), socket.read_to_end(&mut answer)).await;
            (
                started.elapsed(),
                String::from_utf8_lossy(&answer).to_string(),
            )
        }));
    }

    // While they trickle, others are served: the console's health check
    // and a peer's pull, again and again.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    for _ in 0..10 {
        let health = http.get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(health.status(), 200);
        let pull = http
            .get(
                app.url(
                    "/sync/sync.xml?resource=org_organisation&repository=urn:uuid:hostile-peer",
                ),
            )
            .basic_auth(PEER, Some(PEER_PASSWORD))
            .send()
            .await
            .unwrap();
        assert_eq!(pull.status(), 200);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }

    for client in slow {
        let (took, answer) = client.await.unwrap();
        assert!(took < Duration::from_secs(60), "cut off after {took:?}");
        if answer.contains("HTTP/1.1") {
            assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        }
    }
}
