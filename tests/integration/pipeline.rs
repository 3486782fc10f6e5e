//! Extended-protocol batches sent in pieces, as node-postgres sends them (a
//! socket write per message): a server that answers early must stay the
//! client's until its Sync, and an error that arrives before the client has
//! sent the rest of the batch must not desynchronise the proxy's reading of
//! replies (the server skips the rest of the batch and answers only Sync).

use std::time::Duration;

use bytes::{Buf, BytesMut};
use postgres_protocol::message::frontend;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{self, Cluster, ProxySettings, TestProxy};

/// A raw client: writes exactly what the test says, when it says.
struct Raw {
    stream: TcpStream,
    input: BytesMut,
}

impl Raw {
    /// Logs in as `trustuser` (trusted by the proxy; the proxy's own login
    /// to database `postgres` is fixed) and waits for ReadyForQuery.
    async fn connect(port: u16) -> Raw {
        let stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let mut raw = Raw {
            stream,
            input: BytesMut::new(),
        };
        let mut out = BytesMut::new();
        frontend::startup_message([("user", "trustuser"), ("database", "postgres")], &mut out).unwrap();
        raw.write(&out).await;
        raw.until(b'Z').await;
        raw
    }

    async fn write(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    /// The next message (tag, body), or `None` after `wait` of silence.
    async fn next(&mut self, wait: Duration) -> Option<(u8, Vec<u8>)> {
        loop {
            if self.input.len() >= 5 {
                let len = u32::from_be_bytes([self.input[1], self.input[2], self.input[3], self.input[4]]) as usize;
                if self.input.len() > len {
                    let tag = self.input[0];
                    self.input.advance(5);
                    let body = self.input.split_to(len - 4).to_vec();
                    return Some((tag, body));
                }
            }
            match tokio::time::timeout(wait, self.stream.read_buf(&mut self.input)).await {
                Ok(Ok(0)) | Err(_) => return None,
                Ok(Ok(_)) => {}
                Ok(Err(e)) => panic!("read: {e}"),
            }
        }
    }

    /// Every message up to and including the first with `tag`.
    async fn until(&mut self, tag: u8) -> Vec<(u8, Vec<u8>)> {
        let mut seen = Vec::new();
        loop {
            let Some(m) = self.next(Duration::from_secs(10)).await else {
                panic!("no {:?} within 10 s; got {:?}", tag as char, tags(&seen));
            };
            let done = m.0 == tag;
            seen.push(m);
            if done {
                return seen;
            }
        }
    }
}

fn tags(messages: &[(u8, Vec<u8>)]) -> String {
    messages.iter().map(|(t, _)| *t as char).collect()
}

fn parse(sql: &str) -> BytesMut {
    let mut out = BytesMut::new();
    frontend::parse("", sql, std::iter::empty(), &mut out).unwrap();
    out
}

fn bind_text(value: &str) -> BytesMut {
    let mut out = BytesMut::new();
    frontend::bind(
        "",
        "",
        [0i16],
        [value],
        |v, buf| {
            buf.extend_from_slice(v.as_bytes());
            Ok(postgres_protocol::IsNull::No)
        },
        [0i16],
        &mut out,
    )
    .map_err(|_| "bind")
    .unwrap();
    out
}

fn message(f: impl FnOnce(&mut BytesMut) -> std::io::Result<()>) -> BytesMut {
    let mut out = BytesMut::new();
    f(&mut out).unwrap();
    out
}

fn sync() -> BytesMut {
    let mut out = BytesMut::new();
    frontend::sync(&mut out);
    out
}

fn query(sql: &str) -> BytesMut {
    message(|out| frontend::query(sql, out))
}

async fn proxy(pool_size: usize) -> TestProxy {
    let cluster = Cluster::shared();
    let _ = support::superuser(cluster.port).await;
    TestProxy::start(
        cluster,
        ProxySettings {
            mode: "transaction",
            pool_size,
            ..Default::default()
        },
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn an_error_before_the_clients_sync_leaves_replies_in_step() {
    // One server connection: it must come back to the pool after each batch.
    let p = proxy(1).await;
    let mut c = Raw::connect(p.port).await;
    let mut other = Raw::connect(p.port).await;
    for _ in 0..20 {
        // Parse and a Bind that fails, then wait for the error...
        c.write(&parse("SELECT $1::int")).await;
        c.write(&bind_text("not a number")).await;
        c.write(&message(|out| frontend::describe(b'P', "", out))).await;
        let got = c.until(b'E').await;
        assert_eq!(tags(&got), "1E");
        // ...and only then the rest of the batch: the server skips it.
        c.write(&message(|out| frontend::execute("", 0, out))).await;
        c.write(&sync()).await;
        assert_eq!(tags(&c.until(b'Z').await), "Z");
        // The next statement is answered in step.
        c.write(&query("SELECT 41 + 1")).await;
        let got = c.until(b'Z').await;
        assert_eq!(tags(&got), "TDCZ");
        assert!(got[1].1.ends_with(b"42"), "{:?}", got[1]);
        // The proxy expects nothing more of that server: another client gets it.
        other.write(&query("SELECT 1")).await;
        assert_eq!(tags(&other.until(b'Z').await), "TDCZ");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_stays_the_clients_until_its_sync() {
    // One server connection: another client can only have it once this
    // client's batch is synced.
    let p = proxy(1).await;
    let mut a = Raw::connect(p.port).await;
    a.write(&parse("SELECT pg_backend_pid()")).await;
    let mut bind = BytesMut::new();
    frontend::bind(
        "",
        "",
        std::iter::empty::<i16>(),
        std::iter::empty::<&str>(),
        |_: &str, _| Ok(postgres_protocol::IsNull::No),
        [0i16],
        &mut bind,
    )
    .map_err(|_| "bind")
    .unwrap();
    a.write(&bind).await;
    a.write(&message(|out| frontend::execute("", 0, out))).await;
    let mut flush = BytesMut::new();
    frontend::flush(&mut flush);
    a.write(&flush).await;
    let got = a.until(b'C').await;
    assert_eq!(tags(&got), "12DC");
    let mut b = Raw::connect(p.port).await;
    b.write(&query("SELECT 1")).await;
    // b waits: the only server is still inside a's unsynced batch.
    assert!(
        b.next(Duration::from_millis(500)).await.is_none(),
        "another client got the server before the batch's Sync"
    );
    a.write(&sync()).await;
    assert_eq!(tags(&a.until(b'Z').await), "Z");
    assert_eq!(tags(&b.until(b'Z').await), "TDCZ");
}
