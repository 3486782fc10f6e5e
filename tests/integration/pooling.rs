//! Pool modes: isolation of session state, settings that follow a client,
//! prepared statements across server switches, many clients on a small pool.

use partproxy::backend::prepared::{DEALLOCATE_BATCH, PREPARED_PER_SERVER};
use std::time::Duration;

use crate::support::{self, sqlstate, Cluster, ProxySettings, TestProxy};

fn proxy(mode: &'static str, pool_size: usize) -> TestProxy {
    TestProxy::start(
        Cluster::shared(),
        ProxySettings {
            mode,
            pool_size,
            ..Default::default()
        },
    )
}

async fn show(c: &tokio_postgres::Client, name: &str) -> String {
    c.query_one(&format!("SHOW {name}"), &[]).await.unwrap().get(0)
}

#[tokio::test]
async fn transaction_mode_keeps_each_clients_settings_to_itself() {
    // One server connection: both clients are served by the same backend.
    let p = proxy("transaction", 1);
    let a = support::superuser(p.port).await;
    let b = support::superuser(p.port).await;
    let default_tz = show(&b, "TimeZone").await;
    a.batch_execute(
        "SET TimeZone = 'Asia/Tokyo'; SET search_path = pg_catalog, public; SET application_name = 'client-a'",
    )
    .await
    .unwrap();
    for _ in 0..3 {
        assert_eq!(show(&b, "TimeZone").await, default_tz);
        assert_eq!(show(&b, "search_path").await, "\"$user\", public");
        assert_eq!(show(&a, "TimeZone").await, "Asia/Tokyo");
        assert_eq!(show(&a, "search_path").await, "pg_catalog, public");
        assert_eq!(show(&a, "application_name").await, "client-a");
    }
    // SET LOCAL and a rolled-back SET do not stick.
    a.batch_execute("BEGIN; SET LOCAL TimeZone = 'UTC'; COMMIT")
        .await
        .unwrap();
    a.batch_execute("BEGIN; SET TimeZone = 'Europe/Paris'; ROLLBACK")
        .await
        .unwrap();
    assert_eq!(show(&a, "TimeZone").await, "Asia/Tokyo");
    a.batch_execute("RESET TimeZone").await.unwrap();
    assert_eq!(show(&a, "TimeZone").await, default_tz);
    // Temp tables and advisory locks don't leak to the next client.
    a.batch_execute("CREATE TEMP TABLE mine(x int); SELECT pg_advisory_lock(4242)")
        .await
        .unwrap();
    let err = b.query("SELECT * FROM mine", &[]).await.unwrap_err();
    assert_eq!(sqlstate(&err), "42P01");
    let got: bool = b
        .query_one("SELECT pg_try_advisory_lock(4242)", &[])
        .await
        .unwrap()
        .get(0);
    assert!(got, "advisory lock leaked");
}

#[tokio::test]
async fn session_mode_resets_state_between_clients() {
    let p = proxy("session", 1);
    let a = support::superuser(p.port).await;
    a.batch_execute("SET TimeZone = 'Asia/Tokyo'; PREPARE q AS SELECT 1")
        .await
        .unwrap();
    let pid_a: i32 = a.query_one("SELECT pg_backend_pid()", &[]).await.unwrap().get(0);
    drop(a);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let b = support::superuser(p.port).await;
    let pid_b: i32 = b.query_one("SELECT pg_backend_pid()", &[]).await.unwrap().get(0);
    assert_eq!(pid_a, pid_b, "pool of one reuses the server");
    assert_ne!(show(&b, "TimeZone").await, "Asia/Tokyo");
    assert_eq!(sqlstate(&b.batch_execute("EXECUTE q").await.unwrap_err()), "26000");
}

#[tokio::test]
async fn prepared_statements_survive_server_switches() {
    let p = proxy("transaction", 3);
    let c = support::superuser(p.port).await;
    let stmt = c.prepare("SELECT $1::int + 100, pg_backend_pid()").await.unwrap();
    // Keep other clients busy so that `c` lands on different servers.
    let mut holders = Vec::new();
    let mut pids = std::collections::HashSet::new();
    for round in 0..6 {
        if round % 2 == 0 && holders.len() < 2 {
            let h = support::superuser(p.port).await;
            h.batch_execute("BEGIN; SELECT 1").await.unwrap();
            holders.push(h);
        } else if !holders.is_empty() {
            let h = holders.remove(0);
            h.batch_execute("COMMIT").await.unwrap();
        }
        for i in 0..5 {
            let row = c.query_one(&stmt, &[&i]).await.unwrap();
            assert_eq!(row.get::<_, i32>(0), i + 100);
            pids.insert(row.get::<_, i32>(1));
        }
    }
    assert!(pids.len() >= 2, "expected several servers, got {pids:?}");
    // Another client preparing the same text shares the server-side statement.
    let d = support::superuser(p.port).await;
    let s2 = d.prepare("SELECT $1::int + 100, pg_backend_pid()").await.unwrap();
    assert_eq!(d.query_one(&s2, &[&1i32]).await.unwrap().get::<_, i32>(0), 101);
    // Closing a statement on the client side does not break the other client.
    drop(s2);
    assert_eq!(c.query_one(&stmt, &[&2i32]).await.unwrap().get::<_, i32>(0), 102);
    // DEALLOCATE ALL drops this client's statements, as PostgreSQL would, and
    // the shared ones on that server are prepared again when others need them.
    d.batch_execute("DEALLOCATE ALL").await.unwrap();
    assert_eq!(c.query_one(&stmt, &[&3i32]).await.unwrap().get::<_, i32>(0), 103);
    let s3 = d.prepare("SELECT $1::int + 100, pg_backend_pid()").await.unwrap();
    assert_eq!(d.query_one(&s3, &[&4i32]).await.unwrap().get::<_, i32>(0), 104);
    c.batch_execute("DEALLOCATE ALL").await.unwrap();
    let err = c.query_one(&stmt, &[&5i32]).await.unwrap_err();
    assert_eq!(sqlstate(&err), "26000");
}

#[tokio::test]
async fn two_hundred_clients_over_a_pool_of_ten() {
    let cluster = Cluster::shared();
    let admin = support::superuser(cluster.port).await;
    support::ensure_role(&admin, "manyclients", "mc").await;
    let extra = "\n[[users]]\nname = \"manyclients\"\npassword = \"mc\"\n".to_owned();
    let p = TestProxy::start(
        cluster,
        ProxySettings {
            mode: "transaction",
            pool_size: 10,
            extra,
            ..Default::default()
        },
    );
    let port = p.port;
    let mut tasks = Vec::new();
    for id in 0..200i32 {
        tasks.push(tokio::spawn(async move {
            let c = support::connect(port, "manyclients", "mc", "app").await.unwrap();
            let stmt = c.prepare("SELECT $1::int * 2, $2::text").await.unwrap();
            for j in 0..10i32 {
                let row = c.query_one(&stmt, &[&(id * 100 + j), &format!("client-{id}")]).await.unwrap();
                assert_eq!(row.get::<_, i32>(0), (id * 100 + j) * 2);
                assert_eq!(row.get::<_, String>(1), format!("client-{id}"));
            }
            let rows = c.simple_query(&format!("SELECT {id}")).await.unwrap();
            assert!(matches!(&rows[1], tokio_postgres::SimpleQueryMessage::Row(r) if r.get(0) == Some(id.to_string().as_str())));
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // Never more server connections than the pool size.
    let n: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE usename = 'manyclients'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!((1..=10).contains(&n), "server connections: {n}");
}

#[tokio::test]
async fn deferred_parse_still_reports_errors_with_their_sqlstate() {
    let p = proxy("transaction", 2);
    let c = support::superuser(p.port).await;
    // Parse + Describe + Sync outside a transaction: the error comes back as
    // it would from PostgreSQL, and the session goes on.
    let err = c.prepare("SELEC broken syntax").await.unwrap_err();
    assert_eq!(sqlstate(&err), "42601");
    let err = c.prepare("SELECT * FROM no_such_table_anywhere").await.unwrap_err();
    assert_eq!(sqlstate(&err), "42P01");
    let ok = c.prepare("SELECT $1::int").await.unwrap();
    assert_eq!(c.query_one(&ok, &[&9i32]).await.unwrap().get::<_, i32>(0), 9);
    // Inside a transaction as well.
    c.batch_execute("BEGIN").await.unwrap();
    assert_eq!(sqlstate(&c.prepare("SELEC 1").await.unwrap_err()), "42601");
    c.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(c.query_one(&ok, &[&10i32]).await.unwrap().get::<_, i32>(0), 10);
}

#[tokio::test]
async fn startup_options_become_session_settings() {
    for mode in ["session", "transaction"] {
        let p = proxy(mode, 2);
        let (c, conn) = tokio_postgres::Config::new()
            .host("127.0.0.1")
            .port(p.port)
            .user("postgres")
            .password(support::PASSWORD)
            .dbname("postgres")
            .options("-c search_path=pg_catalog -c statement_timeout=1234")
            .application_name("startup-test")
            .connect(tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        for _ in 0..3 {
            assert_eq!(show(&c, "search_path").await, "pg_catalog", "{mode}");
            assert_eq!(show(&c, "statement_timeout").await, "1234ms", "{mode}");
            assert_eq!(show(&c, "application_name").await, "startup-test", "{mode}");
        }
        // An invalid startup setting is refused at connect, as PostgreSQL does.
        let Err(err) = tokio_postgres::Config::new()
            .host("127.0.0.1")
            .port(p.port)
            .user("postgres")
            .password(support::PASSWORD)
            .dbname("postgres")
            .options("-c no_such_setting_x=1")
            .connect(tokio_postgres::NoTls)
            .await
        else {
            panic!("invalid setting accepted")
        };
        assert_eq!(sqlstate(&err), "42704", "{mode}");
    }
}

#[tokio::test]
async fn min_pool_size_opens_connections_ahead() {
    let cluster = Cluster::shared();
    let admin = support::superuser(cluster.port).await;
    support::ensure_role(&admin, "warmpool", "wp").await;
    let extra = format!(
        "\n[[databases]]\nname = \"warm\"\ndbname = \"postgres\"\nport = {}\nuser = \"warmpool\"\npassword = \"wp\"\nmin_pool_size = 3\n",
        cluster.port
    );
    let _p = TestProxy::start(
        cluster,
        ProxySettings {
            extra,
            ..Default::default()
        },
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let n: i64 = admin
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE usename = 'warmpool' \
                 AND application_name <> 'partproxy-catalog'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if n == 3 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "expected 3 warm connections, have {n}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Beyond 1,000 proxy-named statements a server connection drops the least
/// recently used ones (deallocated in batches while it is idle); a dropped one is
/// prepared again when a client uses it, and a hot one is never dropped.
#[tokio::test]
async fn prepared_statements_per_server_are_bounded_least_recently_used_first() {
    for mode in ["transaction", "session"] {
        let p = proxy(mode, 1);
        let c = support::superuser(p.port).await;
        let hot = c.prepare("SELECT -1::int").await.unwrap();
        let mut all = Vec::new();
        for i in 0..1100i32 {
            let s = c.prepare(&format!("SELECT {i}::int")).await.unwrap();
            assert_eq!(c.query_one(&s, &[]).await.unwrap().get::<_, i32>(0), i, "{mode}");
            if i % 100 == 0 {
                assert_eq!(c.query_one(&hot, &[]).await.unwrap().get::<_, i32>(0), -1, "{mode}");
            }
            all.push(s);
        }
        // The oldest ones were evicted: they still run.
        for (i, s) in all.iter().enumerate().take(20) {
            assert_eq!(c.query_one(s, &[]).await.unwrap().get::<_, i32>(0), i as i32, "{mode}");
        }
        assert_eq!(c.query_one(&hot, &[]).await.unwrap().get::<_, i32>(0), -1, "{mode}");
        let n: i64 = c
            .simple_query("SELECT count(*) FROM pg_prepared_statements")
            .await
            .unwrap()
            .iter()
            .find_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).and_then(|v| v.parse().ok()),
                _ => None,
            })
            .unwrap();
        if mode == "transaction" {
            let most = (PREPARED_PER_SERVER + DEALLOCATE_BATCH) as i64;
            assert!((900..most).contains(&n), "{mode}: {n} statements on the server");
        } else {
            // Session mode: the client's statements are its own, as on a direct connection.
            assert_eq!(n, 1101, "{mode}");
        }
    }
}
