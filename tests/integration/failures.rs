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

#[tokio::test]
async fn terminated_backend_gives_an_error_and_the_client_goes_on() {
    let p = TestProxy::start(
        Cluster::shared(),
        ProxySettings {
            mode: "transaction",
            pool_size: 2,
            ..Default::default()
        },
    );
    let c = support::superuser(p.port).await;
    let admin = support::superuser(Cluster::shared().port).await;
    c.batch_execute("BEGIN").await.unwrap();
    let pid: i32 = c.query_one("SELECT pg_backend_pid()", &[]).await.unwrap().get(0);
    admin.execute("SELECT pg_terminate_backend($1)", &[&pid]).await.unwrap();
    // Wait until the backend has really exited (slow when the machine is busy).
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
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(c.query_one("SELECT 1", &[]).await.is_err());
    // The broken connection was discarded; the client keeps working.
    let v: i32 = c.query_one("SELECT 5", &[]).await.unwrap().get(0);
    assert_eq!(v, 5);
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
