//! A cancel reaches only the query it was meant for: one client sends a
//! cancel timed to arrive as its own query ends (as a client-side timeout
//! does) while other clients wait for the same server; none of theirs may
//! ever be cancelled.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_postgres::NoTls;

use crate::support::{self, Cluster, ProxySettings, TestProxy, PASSWORD};

#[tokio::test(flavor = "multi_thread")]
async fn a_flood_of_cancels_never_cancels_another_clients_query() {
    let cluster = Cluster::shared();
    // One server: it goes straight from the cancelling client to the others.
    let p = TestProxy::start(
        cluster,
        ProxySettings {
            mode: "transaction",
            pool_size: 1,
            ..Default::default()
        },
    );
    let deadline = Instant::now() + Duration::from_secs(8);
    let others_cancelled = Arc::new(AtomicUsize::new(0));
    let others_done = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..3 {
        let (cancelled, done) = (others_cancelled.clone(), others_done.clone());
        let port = p.port;
        tasks.push(tokio::spawn(async move {
            let c = support::connect(port, "postgres", PASSWORD, "postgres").await.unwrap();
            while Instant::now() < deadline {
                match c.simple_query("SELECT pg_sleep(0.002)").await {
                    Ok(_) => {}
                    Err(e) if support::sqlstate(&e) == "57014" => {
                        cancelled.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => panic!("{e:?}"),
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let c = support::connect(p.port, "postgres", PASSWORD, "postgres")
        .await
        .unwrap();
    let token = c.cancel_token();
    let mut own = 0usize;
    let mut sent = 0usize;
    let mut delay = 0u64;
    while Instant::now() < deadline {
        // A cancel timed around the end of the query, at varying offsets.
        delay = (delay + 1) % 10;
        let token = token.clone();
        let canceller = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_micros(500 + delay * 500)).await;
            let _ = token.cancel_query(NoTls).await;
        });
        if let Err(e) = c.simple_query("SELECT pg_sleep(0.003)").await {
            assert_eq!(support::sqlstate(&e), "57014", "{e:?}");
            own += 1;
        }
        canceller.await.unwrap();
        sent += 1;
    }
    for t in tasks {
        t.await.unwrap();
    }
    let done = others_done.load(Ordering::Relaxed);
    eprintln!("{sent} cancels sent, {own} of the sender's own queries cancelled, {done} other queries run");
    assert!(
        done > 100 && sent > 100,
        "too little traffic to mean anything: {done} / {sent}"
    );
    // Cancels still reach the query they are meant for.
    let token = c.cancel_token();
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let _ = token.cancel_query(NoTls).await;
    });
    let e = c.simple_query("SELECT pg_sleep(10)").await.unwrap_err();
    assert_eq!(support::sqlstate(&e), "57014");
    canceller.await.unwrap();
    assert_eq!(
        others_cancelled.load(Ordering::Relaxed),
        0,
        "another client's query was cancelled"
    );
}
