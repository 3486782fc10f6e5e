//! Bad input over a raw socket: each case gets a FATAL ErrorResponse with a
//! proper SQLSTATE, that connection closes, and the proxy keeps serving others.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{self, Cluster, ProxySettings, TestProxy};

fn startup_packet(params: &[(&str, &str)]) -> Vec<u8> {
    let mut body = 196_608u32.to_be_bytes().to_vec();
    for (k, v) in params {
        body.extend_from_slice(k.as_bytes());
        body.push(0);
        body.extend_from_slice(v.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut out = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    out.extend_from_slice(&body);
    out
}

/// Reads messages until the peer closes; returns (tag, SQLSTATE if an error).
async fn read_until_closed(s: &mut TcpStream) -> Vec<(u8, String)> {
    let mut buf = Vec::new();
    let read = async {
        let mut chunk = [0u8; 4096];
        loop {
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("connection was not closed");
    parse_messages(&buf)
}

fn parse_messages(buf: &[u8]) -> Vec<(u8, String)> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos + 5 <= buf.len() {
        let tag = buf[pos];
        let len = u32::from_be_bytes(buf[pos + 1..pos + 5].try_into().unwrap()) as usize;
        let body = &buf[pos + 5..(pos + 1 + len).min(buf.len())];
        let mut code = String::new();
        if tag == b'E' {
            let mut i = 0;
            while i < body.len() && body[i] != 0 {
                let field = body[i];
                let end = body[i + 1..]
                    .iter()
                    .position(|&b| b == 0)
                    .map_or(body.len(), |e| i + 1 + e);
                if field == b'C' {
                    code = String::from_utf8_lossy(&body[i + 1..end]).into_owned();
                }
                i = end + 1;
            }
        }
        out.push((tag, code));
        pos += 1 + len;
    }
    out
}

/// Logs in as the trust user and reads up to ReadyForQuery.
async fn logged_in(port: u16) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    s.write_all(&startup_packet(&[("user", "trustuser"), ("database", "postgres")]))
        .await
        .unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk).await.unwrap();
        assert!(n > 0, "closed during startup");
        buf.extend_from_slice(&chunk[..n]);
        let msgs = parse_messages(&buf);
        if msgs.iter().any(|(t, _)| *t == b'Z') {
            assert!(msgs.iter().any(|(t, _)| *t == b'K'), "no BackendKeyData");
            return s;
        }
    }
}

async fn assert_fatal(mut s: TcpStream, code: &str) {
    let msgs = read_until_closed(&mut s).await;
    assert!(
        msgs.iter().any(|(t, c)| *t == b'E' && c == code),
        "expected {code}, got {msgs:?}"
    );
}

async fn still_serving(port: u16) {
    let c = support::superuser(port).await;
    assert_eq!(c.query_one("SELECT 42", &[]).await.unwrap().get::<_, i32>(0), 42);
}

#[tokio::test]
async fn malformed_input_is_refused_and_the_proxy_survives() {
    let p = TestProxy::start(Cluster::shared(), ProxySettings::default());
    let survivor = support::superuser(p.port).await;

    // Garbage instead of a startup packet (an HTTP request).
    let mut s = TcpStream::connect(("127.0.0.1", p.port)).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    assert_fatal(s, "08P01").await;

    // A startup packet without a user.
    let mut s = TcpStream::connect(("127.0.0.1", p.port)).await.unwrap();
    s.write_all(&startup_packet(&[("database", "postgres")])).await.unwrap();
    assert_fatal(s, "28000").await;

    // Unsupported protocol version.
    let mut s = TcpStream::connect(("127.0.0.1", p.port)).await.unwrap();
    s.write_all(&[0, 0, 0, 8, 0, 2, 0, 0]).await.unwrap();
    assert_fatal(s, "0A000").await;

    // A 2 GB length field after login: refused before anything is allocated.
    let mut s = logged_in(p.port).await;
    s.write_all(&[b'Q', 0x7f, 0xff, 0xff, 0xff, b'S']).await.unwrap();
    assert_fatal(s, "08P01").await;

    // A negative length.
    let mut s = logged_in(p.port).await;
    s.write_all(&[b'Q', 0xff, 0xff, 0xff, 0xf0]).await.unwrap();
    assert_fatal(s, "08P01").await;

    // An unknown message type.
    let mut s = logged_in(p.port).await;
    s.write_all(&[b'?', 0, 0, 0, 4]).await.unwrap();
    assert_fatal(s, "08P01").await;

    // A Parse whose strings are not terminated.
    let mut s = logged_in(p.port).await;
    s.write_all(&[b'P', 0, 0, 0, 8, b'a', b'b', b'c', b'd']).await.unwrap();
    assert_fatal(s, "08P01").await;

    // SSL and GSS encryption requests are answered 'N' and startup goes on.
    let mut s = TcpStream::connect(("127.0.0.1", p.port)).await.unwrap();
    s.write_all(&[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]).await.unwrap();
    let mut b = [0u8; 1];
    s.read_exact(&mut b).await.unwrap();
    assert_eq!(&b, b"N");
    s.write_all(&[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30]).await.unwrap();
    s.read_exact(&mut b).await.unwrap();
    assert_eq!(&b, b"N");

    // The proxy and the client that was connected all along still work.
    assert_eq!(survivor.query_one("SELECT 1", &[]).await.unwrap().get::<_, i32>(0), 1);
    still_serving(p.port).await;
}
