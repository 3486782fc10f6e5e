//! The protocol surface through the proxy: simple and extended queries,
//! pipelining, transactions, COPY, notices, notifications, cancel.

use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt, TryStreamExt};
use tokio_postgres::{AsyncMessage, NoTls, SimpleQueryMessage};

use crate::support::{self, sqlstate, Cluster, ProxySettings, TestProxy};

fn proxy(mode: &'static str) -> TestProxy {
    TestProxy::start(
        Cluster::shared(),
        ProxySettings {
            mode,
            ..Default::default()
        },
    )
}

#[tokio::test]
async fn simple_queries_return_rows_and_command_tags() {
    for mode in ["session", "transaction"] {
        let p = proxy(mode);
        let c = support::superuser(p.port).await;
        let msgs = c
            .simple_query("CREATE TEMP TABLE t(a int); INSERT INTO t VALUES (1),(2),(3); SELECT a FROM t ORDER BY a; UPDATE t SET a = a + 1")
            .await
            .unwrap();
        let rows: Vec<String> = msgs
            .iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(r) => r.get(0).map(str::to_owned),
                _ => None,
            })
            .collect();
        let tags: Vec<u64> = msgs
            .iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::CommandComplete(n) => Some(*n),
                _ => None,
            })
            .collect();
        assert_eq!(rows, ["1", "2", "3"], "{mode}");
        assert_eq!(tags, [0, 3, 3, 3], "{mode}");
        let err = c.simple_query("SELECT 1/0").await.unwrap_err();
        assert_eq!(sqlstate(&err), "22012");
        assert_eq!(c.simple_query("SELECT 'still fine'").await.unwrap().len(), 3);
    }
}

#[tokio::test]
async fn prepared_statements_with_binary_parameters() {
    for mode in ["session", "transaction"] {
        let p = proxy(mode);
        let c = support::superuser(p.port).await;
        let stmt = c
            .prepare("SELECT $1::int4 + 1, $2::int8 * 2, $3::text || '!', $4::float8 / 2, $5::bool, $6::bytea")
            .await
            .unwrap();
        for i in 0..20i32 {
            let row = c
                .query_one(
                    &stmt,
                    &[
                        &i,
                        &(i as i64 * 1_000_000_000),
                        &format!("v{i}"),
                        &(i as f64),
                        &(i % 2 == 0),
                        &vec![i as u8, 0u8, 255u8],
                    ],
                )
                .await
                .unwrap();
            assert_eq!(row.get::<_, i32>(0), i + 1);
            assert_eq!(row.get::<_, i64>(1), i as i64 * 2_000_000_000);
            assert_eq!(row.get::<_, String>(2), format!("v{i}!"));
            assert_eq!(row.get::<_, f64>(3), i as f64 / 2.0);
            assert_eq!(row.get::<_, bool>(4), i % 2 == 0);
            assert_eq!(row.get::<_, Vec<u8>>(5), vec![i as u8, 0, 255]);
        }
        let types = stmt.params();
        assert_eq!(types.len(), 6);
    }
}

#[tokio::test]
async fn pipelined_queries_with_an_error_in_the_middle() {
    for mode in ["session", "transaction"] {
        let p = proxy(mode);
        let c = support::superuser(p.port).await;
        let a = c.prepare("SELECT $1::int * 10").await.unwrap();
        let bad = c.prepare("SELECT 10 / $1::int").await.unwrap();
        // tokio-postgres writes all of these before reading any reply.
        let (r1, r2, r3, r4) = tokio::join!(
            c.query_one(&a, &[&1i32]),
            c.query_one(&bad, &[&0i32]),
            c.query_one(&a, &[&3i32]),
            c.query("SELECT generate_series(1, 1000)", &[]),
        );
        assert_eq!(r1.unwrap().get::<_, i32>(0), 10, "{mode}");
        assert_eq!(sqlstate(&r2.unwrap_err()), "22012", "{mode}");
        assert_eq!(r3.unwrap().get::<_, i32>(0), 30, "{mode}");
        assert_eq!(r4.unwrap().len(), 1000, "{mode}");
    }
}

#[tokio::test]
async fn transactions_commit_and_roll_back() {
    for mode in ["session", "transaction"] {
        let p = proxy(mode);
        let mut c = support::superuser(p.port).await;
        let table = format!("tx_{mode}");
        c.batch_execute(&format!("DROP TABLE IF EXISTS {table}; CREATE TABLE {table}(a int)"))
            .await
            .unwrap();
        let tx = c.transaction().await.unwrap();
        tx.execute(&format!("INSERT INTO {table} VALUES (1)"), &[])
            .await
            .unwrap();
        tx.rollback().await.unwrap();
        let tx = c.transaction().await.unwrap();
        tx.execute(&format!("INSERT INTO {table} VALUES (2)"), &[])
            .await
            .unwrap();
        tx.commit().await.unwrap();
        // An error inside a transaction aborts it until ROLLBACK.
        c.batch_execute("BEGIN").await.unwrap();
        assert_eq!(sqlstate(&c.batch_execute("SELECT 1/0").await.unwrap_err()), "22012");
        let err = c.batch_execute("SELECT 1").await.unwrap_err();
        assert_eq!(sqlstate(&err), "25P02");
        c.batch_execute("ROLLBACK").await.unwrap();
        let rows = c.query(&format!("SELECT a FROM {table}"), &[]).await.unwrap();
        let got: Vec<i32> = rows.iter().map(|r| r.get(0)).collect();
        assert_eq!(got, [2], "{mode}");
    }
}

#[tokio::test]
async fn copy_in_and_out() {
    for mode in ["session", "transaction"] {
        let p = proxy(mode);
        let c = support::superuser(p.port).await;
        let table = format!("copy_{mode}");
        c.batch_execute(&format!(
            "DROP TABLE IF EXISTS {table}; CREATE TABLE {table}(a int, b text)"
        ))
        .await
        .unwrap();
        let sink = c.copy_in(&format!("COPY {table} FROM STDIN")).await.unwrap();
        futures_util::pin_mut!(sink);
        let mut data = String::new();
        for i in 0..5000 {
            data.push_str(&format!("{i}\trow {i}\n"));
        }
        sink.send(Bytes::from(data.clone())).await.unwrap();
        assert_eq!(sink.finish().await.unwrap(), 5000);
        let out: Vec<Bytes> = c
            .copy_out(&format!("COPY (SELECT * FROM {table} ORDER BY a) TO STDOUT"))
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        let text: Vec<u8> = out.concat();
        assert_eq!(String::from_utf8(text).unwrap(), data, "{mode}");
        // A failing COPY leaves the session usable.
        let sink = c.copy_in(&format!("COPY {table} FROM STDIN")).await.unwrap();
        futures_util::pin_mut!(sink);
        sink.send(Bytes::from_static(b"not-a-number\tx\n")).await.unwrap();
        assert_eq!(sqlstate(&sink.finish().await.unwrap_err()), "22P02");
        let n: i64 = c
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 5000);
    }
}

#[tokio::test]
async fn notices_and_notifications_are_delivered() {
    let p = proxy("session");
    let (client, mut conn) = tokio_postgres::Config::new()
        .host("127.0.0.1")
        .port(p.port)
        .user("postgres")
        .password(support::PASSWORD)
        .dbname("postgres")
        .connect(NoTls)
        .await
        .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut stream = futures_util::stream::poll_fn(move |cx| conn.poll_message(cx));
        while let Some(Ok(msg)) = stream.next().await {
            let _ = tx.send(msg);
        }
    });
    client
        .batch_execute("DO $$ BEGIN RAISE NOTICE 'hello from plpgsql'; END $$")
        .await
        .unwrap();
    client.batch_execute("LISTEN chan").await.unwrap();
    let other = support::superuser(p.port).await;
    other.batch_execute("NOTIFY chan, 'payload-1'").await.unwrap();
    let mut notice = None;
    let mut notification = None;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while notice.is_none() || notification.is_none() {
        let msg = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .expect("messages")
            .expect("open");
        match msg {
            AsyncMessage::Notice(n) => notice = Some(n.message().to_owned()),
            AsyncMessage::Notification(n) => notification = Some((n.channel().to_owned(), n.payload().to_owned())),
            _ => {}
        }
    }
    assert_eq!(notice.unwrap(), "hello from plpgsql");
    assert_eq!(notification.unwrap(), ("chan".to_owned(), "payload-1".to_owned()));
}

#[tokio::test]
async fn cancel_reaches_the_right_backend() {
    for mode in ["session", "transaction"] {
        let p = proxy(mode);
        let c = support::superuser(p.port).await;
        let bystander = support::superuser(p.port).await;
        let token = c.cancel_token();
        let slow = tokio::spawn(async move { c.simple_query("SELECT pg_sleep(30)").await });
        let side = tokio::spawn(async move { bystander.simple_query("SELECT pg_sleep(1.5), 'ok'").await });
        tokio::time::sleep(Duration::from_millis(500)).await;
        let started = std::time::Instant::now();
        token.cancel_query(NoTls).await.unwrap();
        let err = slow.await.unwrap().unwrap_err();
        assert_eq!(sqlstate(&err), "57014", "{mode}");
        assert!(started.elapsed() < Duration::from_secs(10));
        // The other client's query was not cancelled.
        let msgs = side.await.unwrap().unwrap();
        assert!(
            matches!(&msgs[1], SimpleQueryMessage::Row(r) if r.get(1) == Some("ok")),
            "{mode}"
        );
    }
}
