//! Client authentication and startup errors, worded as PostgreSQL words them.

use crate::support::{self, sqlstate, Cluster, ProxySettings, TestProxy};

#[tokio::test]
async fn wrong_password_and_unknown_database() {
    let p = TestProxy::start(Cluster::shared(), ProxySettings::default());
    let err = support::connect(p.port, "postgres", "wrong", "postgres")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "28P01");
    assert_eq!(
        support::message(&err),
        "password authentication failed for user \"postgres\""
    );
    let err = support::connect(p.port, "nobody", "x", "postgres").await.unwrap_err();
    assert_eq!(sqlstate(&err), "28P01");
    let err = support::connect(p.port, "postgres", support::PASSWORD, "nosuchdb")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "3D000");
    assert_eq!(support::message(&err), "database \"nosuchdb\" does not exist");
    // The proxy is still fine.
    let c = support::superuser(p.port).await;
    assert_eq!(c.query_one("SELECT 7", &[]).await.unwrap().get::<_, i32>(0), 7);
}

#[tokio::test]
async fn md5_trust_and_scram_verifier_users() {
    let cluster = Cluster::shared();
    // A verifier as PostgreSQL stores it.
    let admin = support::superuser(cluster.port).await;
    support::ensure_role(&admin, "verifier_src", "vpw").await;
    let verifier: String = admin
        .query_one("SELECT rolpassword FROM pg_authid WHERE rolname = 'verifier_src'", &[])
        .await
        .unwrap()
        .get(0);
    assert!(verifier.starts_with("SCRAM-SHA-256$"));
    let extra = format!("\n[[users]]\nname = \"viaverifier\"\npassword = \"{verifier}\"\n");
    let p = TestProxy::start(
        cluster,
        ProxySettings {
            extra,
            ..Default::default()
        },
    );

    let c = support::connect(p.port, "md5user", "md5pw", "postgres").await.unwrap();
    // The database has a fixed login, so the server session runs as postgres.
    assert_eq!(
        c.query_one("SELECT current_user::text", &[])
            .await
            .unwrap()
            .get::<_, String>(0),
        "postgres"
    );
    assert_eq!(
        sqlstate(
            &support::connect(p.port, "md5user", "nope", "postgres")
                .await
                .unwrap_err()
        ),
        "28P01"
    );

    let c = support::connect(p.port, "trustuser", "", "postgres").await.unwrap();
    assert_eq!(c.query_one("SELECT 1", &[]).await.unwrap().get::<_, i32>(0), 1);

    let c = support::connect(p.port, "viaverifier", "vpw", "postgres")
        .await
        .unwrap();
    assert_eq!(c.query_one("SELECT 2", &[]).await.unwrap().get::<_, i32>(0), 2);
    assert_eq!(
        sqlstate(
            &support::connect(p.port, "viaverifier", "bad", "postgres")
                .await
                .unwrap_err()
        ),
        "28P01"
    );

    // Database without a fixed login: the proxy logs in as the client.
    let c = support::connect(p.port, "appuser", "apppw", "app").await.unwrap();
    let who: String = c
        .query_one("SELECT current_user::text || '@' || current_database()", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(who, "appuser@app");
    // The server authenticates those logins by md5 and trust (see the test
    // cluster's pg_hba.conf): the proxy answers whatever the server asks.
    for (user, password) in [("md5user", "md5pw"), ("trustuser", "")] {
        let c = support::connect(p.port, user, password, "app").await.unwrap();
        let who: String = c.query_one("SELECT current_user::text", &[]).await.unwrap().get(0);
        assert_eq!(who, user);
    }
}

#[tokio::test]
async fn quick_start_with_upstream_flag() {
    let cluster = Cluster::shared();
    let port = support::free_port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_partproxy"))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--metrics-listen", ""])
        .args([
            "--upstream",
            &format!(
                "postgres://postgres:{}@127.0.0.1:{}/postgres",
                support::PASSWORD,
                cluster.port
            ),
        ])
        .args(["--pool-mode", "transaction", "--pool-size", "3", "--log-level", "warn"])
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "did not start");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let result = async {
        let c = support::superuser(port).await;
        let v: String = c
            .query_one("SELECT current_database()::text", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(v, "postgres");
        assert_eq!(
            sqlstate(&support::connect(port, "postgres", "bad", "postgres").await.unwrap_err()),
            "28P01"
        );
    };
    result.await;
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn config_errors_name_the_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "listen = \"127.0.0.1:1\"\n[pool]\npool_size = \"ten\"\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_partproxy"))
        .arg("--config")
        .arg(&path)
        .arg("check")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 3") && err.contains("pool_size"), "{err}");
}

/// The server-first SCRAM message the proxy answers `user` with, and the
/// kind of the exchange it opened (10: SASL, 5: md5).
async fn scram_first(port: u16, user: &str) -> (i32, String) {
    use bytes::{Buf, BytesMut};
    use postgres_protocol::message::frontend;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut out = BytesMut::new();
    frontend::startup_message([("user", user), ("database", "postgres")], &mut out).unwrap();
    s.write_all(&out).await.unwrap();
    let mut input = BytesMut::new();
    async fn message(s: &mut tokio::net::TcpStream, input: &mut BytesMut) -> (u8, Vec<u8>) {
        loop {
            if input.len() >= 5 {
                let len = u32::from_be_bytes([input[1], input[2], input[3], input[4]]) as usize;
                if input.len() > len {
                    let tag = input[0];
                    input.advance(5);
                    return (tag, input.split_to(len - 4).to_vec());
                }
            }
            assert!(s.read_buf(input).await.unwrap() > 0, "closed");
        }
    }
    let (tag, body) = message(&mut s, &mut input).await;
    assert_eq!(tag, b'R');
    let kind = i32::from_be_bytes([body[0], body[1], body[2], body[3]]);
    if kind != 10 {
        return (kind, String::new());
    }
    let mut out = BytesMut::new();
    frontend::sasl_initial_response("SCRAM-SHA-256", b"n,,n=,r=fixednonce", &mut out).unwrap();
    s.write_all(&out).await.unwrap();
    let (tag, body) = message(&mut s, &mut input).await;
    assert_eq!(tag, b'R');
    // The nonce is fresh every time; the salt and iterations are what a name gives away.
    let text = String::from_utf8_lossy(&body[4..]).into_owned();
    let without_nonce: Vec<&str> = text.split(',').filter(|p| !p.starts_with("r=")).collect();
    (kind, without_nonce.join(","))
}

#[tokio::test]
async fn unknown_users_get_the_same_exchange_as_known_ones() {
    let cluster = Cluster::shared();
    let p = TestProxy::start(cluster, ProxySettings::default());
    let known = scram_first(p.port, "postgres").await;
    assert_eq!(known.0, 10);
    assert_eq!(
        known,
        scram_first(p.port, "postgres").await,
        "a known user's salt is stable"
    );
    assert_eq!(scram_first(p.port, "md5user").await.0, 5);
    // One of the two password users is an md5 user: unknown names draw
    // md5 or SCRAM as often, each name always the same way.
    let mut scram_names = Vec::new();
    let mut md5_names = 0;
    for i in 0..24 {
        let name = format!("no_such_user_{i}");
        let first = scram_first(p.port, &name).await;
        assert_eq!(
            first,
            scram_first(p.port, &name).await,
            "{name}: the same exchange every time"
        );
        match first.0 {
            10 => scram_names.push((name, first)),
            5 => md5_names += 1,
            other => panic!("{name}: exchange {other}"),
        }
    }
    assert!(md5_names > 0 && !scram_names.is_empty(), "{md5_names} md5 of 24");
    let shape = |s: &str| s.split(',').map(|p| (p.len(), p.chars().next())).collect::<Vec<_>>();
    for (name, (_, first)) in &scram_names {
        assert_eq!(shape(&known.1), shape(first), "{name}: {known:?} vs {first:?}");
        assert_ne!(&known.1, first, "{name} has a salt of its own");
    }
    if let [(a, x), (b, y), ..] = &scram_names[..] {
        assert_ne!(x, y, "{a} and {b} have different salts");
    }
}
