//! Memory per client is bounded: a huge simple query is relayed as it
//! arrives instead of being held whole, and a huge message the proxy must
//! read whole is refused once it would pass the buffer budget, with a clear
//! error, while other clients go on.

use std::time::Duration;

use bytes::BytesMut;
use postgres_protocol::message::frontend;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{self, Cluster, TestProxy, PASSWORD};

fn proxy(top: &str) -> TestProxy {
    let cluster = Cluster::shared();
    let port = support::free_port();
    let text = format!(
        "{top}\nlisten = \"127.0.0.1:{port}\"\nlog_level = \"warn\"\n\
         [pool]\nmode = \"transaction\"\npool_size = 8\n\
         [[users]]\nname = \"trustuser\"\nauth = \"trust\"\n\
         [[users]]\nname = \"postgres\"\npassword = \"{PASSWORD}\"\n{db}",
        db = support::database_config(cluster, "postgres"),
    );
    TestProxy::start_with_config(&text, port)
}

/// A raw client logged in (trusted), ready for queries.
async fn raw(port: u16) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut out = BytesMut::new();
    frontend::startup_message([("user", "trustuser"), ("database", "postgres")], &mut out).unwrap();
    s.write_all(&out).await.unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !seen.windows(6).any(|w| w == b"Z\0\0\0\x05I") {
        let n = s.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed during login");
        seen.extend_from_slice(&buf[..n]);
    }
    s
}

/// The proxy's resident memory, from its own metrics.
fn resident_mb(p: &TestProxy) -> f64 {
    p.scrape().sum("process_resident_memory_bytes", &[]) / (1 << 20) as f64
}

#[tokio::test(flavor = "multi_thread")]
async fn a_huge_query_is_relayed_not_held() {
    let p = proxy("");
    let before = resident_mb(&p);
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(raw(p.port).await);
    }
    // 48 MiB of a 64 MiB query each, sent and never finished.
    let total: usize = 64 << 20;
    let chunk = vec![b'x'; 1 << 20];
    for c in clients.iter_mut() {
        let mut head = vec![b'Q'];
        head.extend_from_slice(&((total + 4) as i32).to_be_bytes());
        head.extend_from_slice(b"SELECT '");
        c.write_all(&head).await.unwrap();
    }
    for _ in 0..48 {
        for c in clients.iter_mut() {
            c.write_all(&chunk).await.unwrap();
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let during = resident_mb(&p);
    eprintln!("proxy resident memory: {before:.0} MiB before, {during:.0} MiB with 4 x 48 MiB of queries in flight");
    assert!(
        during - before < 64.0,
        "{before:.0} -> {during:.0} MiB: the queries are held"
    );
    drop(clients);
    // Everyone else is served.
    let c = support::connect(p.port, "postgres", PASSWORD, "postgres")
        .await
        .unwrap();
    c.simple_query("SELECT 1").await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_message_past_the_budget_is_refused_with_a_clear_error() {
    let p = proxy("max_buffered_bytes = 33554432");
    let mut c = raw(p.port).await;
    // A 40 MiB Parse: read whole to be routed, so it needs the budget.
    let len: usize = 40 << 20;
    let mut head = vec![b'P'];
    head.extend_from_slice(&((len + 4) as i32).to_be_bytes());
    c.write_all(&head).await.unwrap();
    // The proxy may refuse before this is written; the refusal still arrives.
    let _ = c.write_all(&vec![b'x'; 1 << 20]).await;
    let mut reply = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), c.read_to_end(&mut reply))
        .await
        .expect("no answer")
        .ok();
    let text = String::from_utf8_lossy(&reply);
    assert!(text.contains("53200") && text.contains("max_buffered_bytes"), "{text}");
    let other = support::connect(p.port, "postgres", PASSWORD, "postgres")
        .await
        .unwrap();
    other.simple_query("SELECT 1").await.unwrap();
}
