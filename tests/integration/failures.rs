//! Real failures: server restarts, dying backends, clients vanishing mid-transaction,
//! exhausted pools, and graceful shutdown.

use std::time::Duration;

use crate::support::{self, sqlstate, Cluster, ProxySettings, TestProxy};

#[tokio::test(flavor = "multi_thread")]
async fn postgres_restart_mid_test() {
    // Its own cluster: restarting the shared one would disturb other tests.
    let cluster = Cluster::start();
    for mode in ["transaction", "session"] {
        let p = TestProxy::start(
            &cluster,
            ProxySettings {
                mode,
                pool_size: 4,
                ..Default::default()
            },
        );
        let idle = support::superuser(p.port).await;
        let busy = support::superuser(p.port).await;
        assert_eq!(idle.query_one("SELECT 1", &[]).await.unwrap().get::<_, i32>(0), 1);
        let running = tokio::spawn(async move {
            let r = busy.simple_query("SELECT pg_sleep(30)").await;
            (busy, r)
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        let cluster_ref = &cluster;
        tokio::task::block_in_place(|| cluster_ref.restart());
        // The client in the middle of a query gets an error, not a hang.
        let (busy, r) = tokio::time::timeout(Duration::from_secs(20), running)
            .await
            .expect("no hang")
            .unwrap();
        assert!(r.is_err(), "{mode}: query across a restart must fail");
        // Next queries succeed once PostgreSQL is back.
        if mode == "transaction" {
            assert_eq!(busy.query_one("SELECT 2", &[]).await.unwrap().get::<_, i32>(0), 2);
            assert_eq!(idle.query_one("SELECT 3", &[]).await.unwrap().get::<_, i32>(0), 3);
        }
        let fresh = support::superuser(p.port).await;
        assert_eq!(fresh.query_one("SELECT 4", &[]).await.unwrap().get::<_, i32>(0), 4);
    }
}

/// Terminates the server backend behind `c` (inside a transaction) and waits
/// until it has exited.
async fn terminate_backend_of(c: &tokio_postgres::Client) {
    let admin = support::superuser(Cluster::shared().port).await;
    let pid: i32 = c.query_one("SELECT pg_backend_pid()", &[]).await.unwrap().get(0);
    admin.execute("SELECT pg_terminate_backend($1)", &[&pid]).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let alive: i64 = admin
            .query_one("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", &[&pid])
            .await
            .unwrap()
            .get(0);
        if alive == 0 || tokio::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn terminated_backend_fails_the_transaction_until_the_client_ends_it() {
    for mode in ["transaction", "session"] {
        let p = TestProxy::start(
            Cluster::shared(),
            ProxySettings {
                mode,
                pool_size: 2,
                ..Default::default()
            },
        );
        let c = support::superuser(p.port).await;
        c.batch_execute("BEGIN").await.unwrap();
        terminate_backend_of(&c).await;
        // Whichever statement meets the loss first gets the server's error
        // (a driver's own background Close may be that statement).
        let _ = c.simple_query("SELECT 1").await;
        // From then on, as in any failed transaction: nothing runs until the
        // client ends the block, so nothing runs outside the transaction it
        // believes it is in.
        for _ in 0..2 {
            let e = c.simple_query("SELECT 1").await.unwrap_err();
            assert_eq!(sqlstate(&e), "25P02", "{mode}: {e}");
            let e = c.query("SELECT $1::int", &[&1i32]).await.unwrap_err();
            assert_eq!(sqlstate(&e), "25P02", "{mode}: {e}");
        }
        // ROLLBACK through the extended protocol, as many drivers send it.
        c.execute("ROLLBACK", &[]).await.unwrap();
        let v: i32 = c.query_one("SELECT 5", &[]).await.unwrap().get(0);
        assert_eq!(v, 5, "{mode}");
    }
}

#[tokio::test]
async fn writes_of_a_transaction_whose_server_died_are_never_reported_committed() {
    let p = TestProxy::start(
        Cluster::shared(),
        ProxySettings {
            mode: "transaction",
            pool_size: 2,
            ..Default::default()
        },
    );
    let setup = support::superuser(Cluster::shared().port).await;
    setup
        .batch_execute("DROP TABLE IF EXISTS lost_writes; CREATE TABLE lost_writes(a int)")
        .await
        .unwrap();
    let c = support::superuser(p.port).await;

    // COMMIT is the first statement after the loss: it fails.
    c.batch_execute("BEGIN; INSERT INTO lost_writes VALUES (1)")
        .await
        .unwrap();
    terminate_backend_of(&c).await;
    let e = c.batch_execute("COMMIT").await.unwrap_err();
    assert_eq!(sqlstate(&e), "57P01", "{e}");

    // A write after the loss fails and does not run on another server, and
    // COMMIT still fails; ROLLBACK succeeds.
    c.batch_execute("BEGIN; INSERT INTO lost_writes VALUES (2)")
        .await
        .unwrap();
    terminate_backend_of(&c).await;
    assert!(c.batch_execute("INSERT INTO lost_writes VALUES (3)").await.is_err());
    let e = c.batch_execute("INSERT INTO lost_writes VALUES (4)").await.unwrap_err();
    assert_eq!(sqlstate(&e), "25P02", "{e}");
    let e = c.batch_execute("COMMIT").await.unwrap_err();
    assert_eq!(sqlstate(&e), "57P01", "{e}");

    c.batch_execute("BEGIN; INSERT INTO lost_writes VALUES (6)")
        .await
        .unwrap();
    terminate_backend_of(&c).await;
    c.batch_execute("ROLLBACK").await.unwrap();

    c.batch_execute("INSERT INTO lost_writes VALUES (5)").await.unwrap();
    let rows: Vec<i32> = setup
        .query("SELECT a FROM lost_writes ORDER BY a", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(rows, vec![5]);
}

#[tokio::test]
async fn client_vanishing_mid_transaction_leaves_nothing_behind() {
    let p = TestProxy::start(
        Cluster::shared(),
        ProxySettings {
            mode: "transaction",
            pool_size: 1,
            ..Default::default()
        },
    );
    let setup = support::superuser(Cluster::shared().port).await;
    setup
        .batch_execute("DROP TABLE IF EXISTS vanish; CREATE TABLE vanish(a int primary key)")
        .await
        .unwrap();
    {
        let c = support::superuser(p.port).await;
        c.batch_execute("BEGIN; INSERT INTO vanish VALUES (1); LOCK TABLE vanish IN ACCESS EXCLUSIVE MODE")
            .await
            .unwrap();
        // Dropped without COMMIT.
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let c = support::superuser(p.port).await;
    // The single pooled server is usable, not stuck in the dead client's transaction.
    let n: i64 = tokio::time::timeout(Duration::from_secs(5), c.query_one("SELECT count(*) FROM vanish", &[]))
        .await
        .expect("table still locked")
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
    let stuck: i64 = setup
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE state LIKE 'idle in transaction%' AND query LIKE '%vanish%'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(stuck, 0);
}

#[tokio::test]
async fn waiting_beyond_the_timeout_gets_an_error_not_a_hang() {
    let p = TestProxy::start(
        Cluster::shared(),
        ProxySettings {
            mode: "transaction",
            pool_size: 1,
            wait_timeout_ms: 300,
            ..Default::default()
        },
    );
    let holder = support::superuser(p.port).await;
    holder.batch_execute("BEGIN; SELECT 1").await.unwrap();
    let waiter = support::superuser(p.port).await;
    let started = std::time::Instant::now();
    let err = tokio::time::timeout(Duration::from_secs(5), waiter.query_one("SELECT 1", &[]))
        .await
        .expect("hung")
        .unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert_eq!(sqlstate(&err), "53300", "{err}");
    holder.batch_execute("COMMIT").await.unwrap();
    let again = support::superuser(p.port).await;
    assert_eq!(again.query_one("SELECT 1", &[]).await.unwrap().get::<_, i32>(0), 1);
}

#[tokio::test]
async fn graceful_shutdown_lets_running_transactions_finish() {
    let mut p = TestProxy::start(
        Cluster::shared(),
        ProxySettings {
            mode: "transaction",
            ..Default::default()
        },
    );
    let setup = support::superuser(Cluster::shared().port).await;
    setup
        .batch_execute("DROP TABLE IF EXISTS graceful; CREATE TABLE graceful(a int)")
        .await
        .unwrap();
    let c = support::superuser(p.port).await;
    c.batch_execute("BEGIN; INSERT INTO graceful VALUES (1)").await.unwrap();
    p.terminate();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // New clients are refused...
    assert!(support::connect(p.port, "postgres", support::PASSWORD, "postgres")
        .await
        .is_err());
    // ...while the open transaction can still commit.
    c.batch_execute("INSERT INTO graceful VALUES (2); COMMIT")
        .await
        .unwrap();
    let status = tokio::task::spawn_blocking(move || {
        let s = p.wait_exit(Duration::from_secs(10));
        drop(p);
        s
    })
    .await
    .unwrap();
    assert!(status.is_some_and(|s| s.success()), "proxy did not exit cleanly");
    let n: i64 = setup
        .query_one("SELECT count(*) FROM graceful", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 2);
}
