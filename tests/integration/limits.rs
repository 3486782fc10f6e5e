//! Clients that never log in, stall in the middle of logging in, or sit idle
//! are closed on time, and connections still logging in can never crowd out
//! clients that want to log in or have logged in.

use std::time::{Duration, Instant};

use bytes::BytesMut;
use postgres_protocol::message::frontend;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{self, Cluster, TestProxy, PASSWORD};

/// A proxy for database `postgres` with extra top-level settings.
fn proxy(top: &str) -> TestProxy {
    let cluster = Cluster::shared();
    let port = support::free_port();
    let text = format!(
        "{top}\nlisten = \"127.0.0.1:{port}\"\nlog_level = \"warn\"\n\
         [pool]\nmode = \"transaction\"\npool_size = 1\n\
         [[users]]\nname = \"postgres\"\npassword = \"{PASSWORD}\"\n{db}",
        db = support::database_config(cluster, "postgres"),
    );
    TestProxy::start_with_config(&text, port)
}

/// Waits until the peer closes the connection (or `limit` passes); true
/// when it closed.
async fn closed_within(s: &mut TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline.into(), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn silent_and_stalled_connections_are_closed_by_the_login_timeout() {
    partproxy::app::raise_open_file_limit();
    let p = proxy("client_login_timeout_secs = 2");
    let mut silent = Vec::new();
    for _ in 0..2000 {
        silent.push(TcpStream::connect(("127.0.0.1", p.port)).await.unwrap());
    }
    // A client stalled mid-SASL: it got the server's first challenge and
    // never answers.
    let mut stalled = TcpStream::connect(("127.0.0.1", p.port)).await.unwrap();
    let mut out = BytesMut::new();
    frontend::startup_message([("user", "postgres"), ("database", "postgres")], &mut out).unwrap();
    stalled.write_all(&out).await.unwrap();
    let mut first = [0u8; 64];
    let n = stalled.read(&mut first).await.unwrap();
    assert_eq!(first[0], b'R', "{:?}", &first[..n]);
    // A normal client logs in at once meanwhile.
    let started = Instant::now();
    let c = support::connect(p.port, "postgres", PASSWORD, "postgres")
        .await
        .unwrap();
    c.simple_query("SELECT 1").await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    // Every silent and stalled connection is closed soon after the timeout.
    assert!(
        closed_within(&mut stalled, Duration::from_secs(6)).await,
        "stalled mid-SASL and still open"
    );
    for (i, s) in silent.iter_mut().enumerate() {
        assert!(
            closed_within(s, Duration::from_secs(6)).await,
            "silent connection {i} still open"
        );
    }
    // The logged-in client is unaffected.
    c.simple_query("SELECT 1").await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_logging_in_have_a_limit_of_their_own() {
    let p = proxy("client_login_timeout_secs = 2\nmax_login_connections = 20");
    let c = support::connect(p.port, "postgres", PASSWORD, "postgres")
        .await
        .unwrap();
    let mut silent = Vec::new();
    for _ in 0..20 {
        silent.push(TcpStream::connect(("127.0.0.1", p.port)).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The next one is refused at once, with a message.
    let mut over = TcpStream::connect(("127.0.0.1", p.port)).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), over.read_to_end(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(buf.first(), Some(&b'E'));
    assert!(String::from_utf8_lossy(&buf).contains("53300"), "{buf:?}");
    // Logged-in clients go on; once the silent ones time out, logins work.
    c.simple_query("SELECT 1").await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let d = support::connect(p.port, "postgres", PASSWORD, "postgres")
        .await
        .unwrap();
    d.simple_query("SELECT 1").await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_clients_are_closed_when_asked() {
    let p = proxy("idle_transaction_timeout_secs = 1\nclient_idle_timeout_secs = 3");
    // Idle inside a transaction: closed, its server freed for others.
    let holder = support::connect(p.port, "postgres", PASSWORD, "postgres")
        .await
        .unwrap();
    holder.batch_execute("BEGIN; SELECT 1").await.unwrap();
    let other = support::connect(p.port, "postgres", PASSWORD, "postgres")
        .await
        .unwrap();
    let started = Instant::now();
    other.simple_query("SELECT 1").await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    let e = holder.simple_query("SELECT 1").await.unwrap_err();
    assert!(
        support::sqlstate(&e) == "25P03" || holder.is_closed(),
        "idle-in-transaction client not closed: {e:?}"
    );
    // Idle outside one: closed after its own timeout, not before.
    let idle = support::connect(p.port, "postgres", PASSWORD, "postgres")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    idle.simple_query("SELECT 1").await.unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(idle.simple_query("SELECT 1").await.is_err(), "idle client not closed");
}
