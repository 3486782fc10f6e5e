//! The whole session over an in-memory client stream (`tokio::io::duplex`)
//! against a scripted server: a listener that plays a transcript, checking
//! each batch of messages the proxy sends and answering with fixed bytes.
//! What the client sees is compared message by message.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::net::TcpListener;

use crate::config::{Config, Overrides};
use crate::protocol::{self, cut_frame, Frame, TransactionStatus};
use crate::proxy::Proxy;

/// One step of the server's transcript.
enum Step {
    /// Wait for client messages with these tags (in order), then answer.
    Answer(&'static str, BytesMut),
    /// Close the connection, as a crashed server does.
    Close,
}

/// Server replies, built with the proxy's own encoders.
struct Replies(BytesMut);

impl Replies {
    fn new() -> Replies {
        Replies(BytesMut::new())
    }
    fn tag(mut self, t: u8) -> Replies {
        protocol::put_empty(&mut self.0, t);
        self
    }
    fn row(mut self, v: &str) -> Replies {
        protocol::put_data_row(&mut self.0, &[Some(v)]);
        self
    }
    fn columns(mut self) -> Replies {
        protocol::put_row_description(&mut self.0, &["v"]);
        self
    }
    fn done(mut self, tag: &str) -> Replies {
        protocol::put_command_complete(&mut self.0, tag);
        self
    }
    fn error(mut self, code: &str) -> Replies {
        protocol::put_error(&mut self.0, protocol::Severity::Error, code, "scripted failure");
        self
    }
    fn ready(mut self, status: TransactionStatus) -> Replies {
        protocol::put_ready_for_query(&mut self.0, status);
        self
    }
    fn then(self, expect: &'static str) -> Step {
        Step::Answer(expect, self.0)
    }
}

/// Reads frames from `stream` into `buf` until one is whole.
async fn next_frame<S: tokio::io::AsyncRead + Unpin>(stream: &mut S, buf: &mut BytesMut) -> Option<Frame> {
    loop {
        if let Some(f) = cut_frame(buf, 1 << 20).expect("well-formed frames") {
            return Some(f);
        }
        if stream.read_buf(buf).await.ok()? == 0 {
            return None;
        }
    }
}

/// Serves one connection: startup, the pool's `SHOW search_path`, then `steps`.
async fn scripted_server(listener: TcpListener, steps: Vec<Step>) {
    let (mut s, _) = listener.accept().await.unwrap();
    let mut buf = BytesMut::new();
    // The startup packet: its length, then its body.
    while buf.len() < 4 || buf.len() < u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize {
        assert!(s.read_buf(&mut buf).await.unwrap() > 0);
    }
    let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    let _ = buf.split_to(len);
    let mut hello = BytesMut::new();
    protocol::put_auth(&mut hello, 0, &[]);
    protocol::put_parameter_status(&mut hello, "server_version", "15.0");
    protocol::put_backend_key_data(&mut hello, 4242, 7);
    protocol::put_ready_for_query(&mut hello, TransactionStatus::Idle);
    s.write_all(&hello).await.unwrap();
    let show = Replies::new()
        .columns()
        .row("public")
        .done("SHOW")
        .ready(TransactionStatus::Idle)
        .then("Q");
    for step in std::iter::once(show).chain(steps) {
        match step {
            Step::Close => return,
            Step::Answer(expect, reply) => {
                let mut got = String::new();
                while got.len() < expect.len() {
                    let f = next_frame(&mut s, &mut buf).await.expect("the proxy closed early");
                    got.push(f.tag as char);
                }
                assert_eq!(got, expect, "the proxy sent other messages than the script expects");
                s.write_all(&reply).await.unwrap();
            }
        }
    }
    // Nothing more is expected but the connection staying quiet or closing.
    let mut rest = [0u8; 1];
    let _ = tokio::time::timeout(Duration::from_millis(200), s.read(&mut rest)).await;
}

/// A proxy in transaction pooling in front of `port`, one server at most.
fn proxy(port: u16) -> Arc<Proxy> {
    let text = format!(
        "listen = \"127.0.0.1:0\"\nmetrics_listen = \"\"\n[pool]\nmode = \"transaction\"\npool_size = 1\n\
         [[databases]]\nname = \"app\"\nhost = \"127.0.0.1\"\nport = {port}\n\
         [[users]]\nname = \"trustuser\"\nauth = \"trust\"\n"
    );
    Proxy::new(Config::from_toml(&text, &Overrides::default()).unwrap(), None)
}

/// A client logged in over an in-memory stream to a session of `proxy`.
async fn client(proxy: &Arc<Proxy>) -> (DuplexStream, BytesMut) {
    let (mut ours, theirs) = tokio::io::duplex(64 * 1024);
    let peer: SocketAddr = "127.0.0.1:1".parse().unwrap();
    tokio::spawn(super::super::handle_client(proxy.clone(), theirs, peer));
    let mut startup = BytesMut::new();
    postgres_protocol::message::frontend::startup_message([("user", "trustuser"), ("database", "app")], &mut startup)
        .unwrap();
    ours.write_all(&startup).await.unwrap();
    let mut buf = BytesMut::new();
    let greeting = read_until_ready(&mut ours, &mut buf, 1).await;
    assert_eq!(greeting.first().map(String::as_str), Some("R"));
    assert_eq!(greeting.last().map(String::as_str), Some("Z I"));
    (ours, buf)
}

/// The messages the client reads up to its `n`th ReadyForQuery, as text:
/// tags, with SQLSTATEs, command tags, row values and statuses.
async fn read_until_ready(c: &mut DuplexStream, buf: &mut BytesMut, n: usize) -> Vec<String> {
    let mut seen = Vec::new();
    let mut ready = 0;
    while ready < n {
        let f = tokio::time::timeout(Duration::from_secs(5), next_frame(c, buf))
            .await
            .unwrap_or_else(|_| panic!("no reply; so far {seen:?}"))
            .expect("the session closed");
        seen.push(match f.tag {
            b'E' => format!("E {}", protocol::decode_error(f.body()).code),
            b'C' => format!("C {}", protocol::decode_command_tag(f.body()).unwrap_or("")),
            b'D' => format!("D {}", String::from_utf8_lossy(&f.body()[6..])),
            b'Z' => {
                ready += 1;
                format!("Z {}", f.body()[0] as char)
            }
            t => (t as char).to_string(),
        });
    }
    seen
}

fn query(sql: &str) -> BytesMut {
    let mut b = BytesMut::new();
    protocol::put_query(&mut b, sql);
    b
}

/// Parse, Bind, Execute and Sync of the unnamed statement `sql`.
fn extended(sql: &str) -> BytesMut {
    let mut b = BytesMut::new();
    protocol::put_parse(&mut b, "", sql, &[0, 0]);
    protocol::put_bind(&mut b, "", "", &[0, 0, 0, 0, 0, 0]);
    protocol::put_execute(&mut b, "");
    protocol::put_empty(&mut b, b'S');
    b
}

#[tokio::test]
async fn a_simple_query_reaches_the_client_as_the_server_sent_it() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(scripted_server(
        listener,
        vec![Replies::new()
            .columns()
            .row("1")
            .done("SELECT 1")
            .ready(TransactionStatus::Idle)
            .then("Q")],
    ));
    let p = proxy(port);
    let (mut c, mut buf) = client(&p).await;
    c.write_all(&query("SELECT 1")).await.unwrap();
    assert_eq!(
        read_until_ready(&mut c, &mut buf, 1).await,
        ["T", "D 1", "C SELECT 1", "Z I"]
    );
    server.await.unwrap();
}

#[tokio::test]
async fn a_pipeline_with_an_error_in_the_middle_stays_in_step() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    // The first batch fails at its Bind: the server skips its Execute and
    // answers the Sync; the second batch runs.
    let server = tokio::spawn(scripted_server(
        listener,
        vec![Replies::new()
            .tag(b'1')
            .error("22P02")
            .ready(TransactionStatus::Idle)
            .tag(b'1')
            .tag(b'2')
            .done("SELECT 1")
            .ready(TransactionStatus::Idle)
            .then("PBESPBES")],
    ));
    let p = proxy(port);
    let (mut c, mut buf) = client(&p).await;
    let mut both = extended("SELECT 'x'::int");
    both.extend_from_slice(&extended("SELECT 1"));
    c.write_all(&both).await.unwrap();
    assert_eq!(
        read_until_ready(&mut c, &mut buf, 2).await,
        ["1", "E 22P02", "Z I", "1", "2", "C SELECT 1", "Z I"]
    );
    server.await.unwrap();
}

#[tokio::test]
async fn a_server_lost_inside_a_transaction_fails_it_until_rollback() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(scripted_server(
        listener,
        vec![
            Replies::new().done("BEGIN").ready(TransactionStatus::InBlock).then("Q"),
            // The INSERT arrives, and the server dies.
            Replies::new().then("Q"),
            Step::Close,
        ],
    ));
    let p = proxy(port);
    let (mut c, mut buf) = client(&p).await;
    c.write_all(&query("BEGIN")).await.unwrap();
    assert_eq!(read_until_ready(&mut c, &mut buf, 1).await, ["C BEGIN", "Z T"]);
    c.write_all(&query("INSERT INTO t VALUES (1)")).await.unwrap();
    assert_eq!(read_until_ready(&mut c, &mut buf, 1).await, ["E 08006", "Z E"]);
    server.await.unwrap();
    // No server now: the session answers as PostgreSQL does in a failed block.
    c.write_all(&query("SELECT 1")).await.unwrap();
    assert_eq!(read_until_ready(&mut c, &mut buf, 1).await, ["E 25P02", "Z E"]);
    c.write_all(&query("COMMIT")).await.unwrap();
    assert_eq!(
        read_until_ready(&mut c, &mut buf, 1).await,
        ["E 08006", "Z I"],
        "the lost writes are never reported committed"
    );
}

#[tokio::test]
async fn a_prepared_statement_follows_the_client_to_the_server_once() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    // The client prepares `s` between transactions (acknowledged by the
    // proxy), then binds it twice: the server sees one Parse, under the
    // proxy's name, whose reply the client never sees.
    let bound = |r: Replies| r.tag(b'2').done("SELECT 1").ready(TransactionStatus::Idle);
    let server = tokio::spawn(scripted_server(
        listener,
        vec![
            bound(Replies::new().tag(b'1')).then("PBES"),
            bound(Replies::new()).then("BES"),
        ],
    ));
    let p = proxy(port);
    let (mut c, mut buf) = client(&p).await;
    let mut parse = BytesMut::new();
    protocol::put_parse(&mut parse, "s", "SELECT 1", &[0, 0]);
    protocol::put_empty(&mut parse, b'S');
    c.write_all(&parse).await.unwrap();
    assert_eq!(read_until_ready(&mut c, &mut buf, 1).await, ["1", "Z I"]);
    for _ in 0..2 {
        let mut run = BytesMut::new();
        protocol::put_bind(&mut run, "", "s", &[0, 0, 0, 0, 0, 0]);
        protocol::put_execute(&mut run, "");
        protocol::put_empty(&mut run, b'S');
        c.write_all(&run).await.unwrap();
        assert_eq!(read_until_ready(&mut c, &mut buf, 1).await, ["2", "C SELECT 1", "Z I"]);
    }
    server.await.unwrap();
}
