//! Names resolve as PostgreSQL resolves them, and the catalog is never
//! trusted stale: DDL through the proxy followed at once by statements that
//! depend on it (the same client and another one, both pool modes, in a
//! loop), DDL straight on PostgreSQL seen through the DDL hook, WITH
//! queries, temporary tables and shadowing schemas named like a parent.
//! Every answer is checked against PostgreSQL's own.

use std::time::{Duration, Instant};

use tokio_postgres::Client;

use crate::support::{self, Cluster, ProxySettings, TestProxy, PASSWORD};

const SCHEMA: &str = "
CREATE TABLE dp (k int, v text) PARTITION BY RANGE (k);
CREATE TABLE dp1 PARTITION OF dp FOR VALUES FROM (0) TO (10);
CREATE TABLE dp2 PARTITION OF dp FOR VALUES FROM (10) TO (20);
CREATE TABLE logs (id int, k int, note text);
CREATE TABLE logs_lo (CHECK (k < 100)) INHERITS (logs);
CREATE TABLE logs_hi (CHECK (k >= 100)) INHERITS (logs);
INSERT INTO logs_lo VALUES (1, 5, 'lo');
INSERT INTO logs_hi VALUES (2, 150, 'hi');
";

/// A fresh database with the schema, a proxy in `mode` in front of it, and
/// a direct client.
async fn setup(db: &str, mode: &'static str) -> (TestProxy, Client) {
    setup_with(db, mode, SCHEMA).await
}

/// [`setup`] with another schema.
async fn setup_with(db: &str, mode: &'static str, schema: &str) -> (TestProxy, Client) {
    let cluster = Cluster::shared();
    let (extra, direct) = support::database_with(cluster, db, schema).await;
    let p = TestProxy::start(
        cluster,
        ProxySettings {
            mode,
            extra,
            ..Default::default()
        },
    );
    (p, direct)
}

async fn proxied(p: &TestProxy, db: &str) -> Client {
    support::connect(p.port, "postgres", PASSWORD, db).await.unwrap()
}

/// The one value of a one-row, one-column simple query.
async fn value(c: &Client, sql: &str) -> Option<String> {
    let (rows, _) = support::rows(c, sql).await;
    rows.first().and_then(|r| r.first().cloned()).flatten()
}

/// Rows as text, sorted.
async fn sorted(c: &Client, sql: &str) -> Vec<Vec<Option<String>>> {
    let (mut rows, _) = support::rows(c, sql).await;
    rows.sort();
    rows
}

/// How many times the DETACH / CREATE / INSERT round runs per pool mode.
fn rounds() -> usize {
    std::env::var("FRESHNESS_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500)
}

#[tokio::test(flavor = "multi_thread")]
async fn ddl_through_the_proxy_is_seen_by_the_very_next_statement() {
    for mode in ["transaction", "session"] {
        let db = format!("fresh_ddl_{mode}");
        let (p, direct) = setup(&db, mode).await;
        let a = proxied(&p, &db).await;
        let b = proxied(&p, &db).await;
        let started = Instant::now();
        for round in 0..rounds() {
            // The one that did the DDL, or another client, writes next.
            let writer = if round % 2 == 0 { &a } else { &b };
            a.batch_execute(
                "ALTER TABLE dp DETACH PARTITION dp2; CREATE TABLE dp2b PARTITION OF dp FOR VALUES FROM (10) TO (20)",
            )
            .await
            .unwrap();
            let note = format!("r{round}");
            writer
                .batch_execute(&format!("INSERT INTO dp VALUES (15, '{note}')"))
                .await
                .unwrap();
            let landed = value(
                &direct,
                &format!("SELECT tableoid::regclass::text FROM dp WHERE v = '{note}'"),
            )
            .await;
            assert_eq!(
                landed.as_deref(),
                Some("dp2b"),
                "{mode} round {round}: the row went elsewhere"
            );
            let seen = value(
                writer,
                &format!("SELECT count(*) FROM dp WHERE k = 15 AND v = '{note}'"),
            )
            .await;
            assert_eq!(
                seen.as_deref(),
                Some("1"),
                "{mode} round {round}: the row is not seen through the proxy"
            );
            a.batch_execute("DROP TABLE dp2b; ALTER TABLE dp ATTACH PARTITION dp2 FOR VALUES FROM (10) TO (20)")
                .await
                .unwrap();
            // The re-attached child's rows are read at once by the other client.
            let other = if round % 2 == 0 { &b } else { &a };
            let through = value(other, "SELECT count(*) FROM dp WHERE k = 15").await;
            let straight = value(&direct, "SELECT count(*) FROM dp WHERE k = 15").await;
            assert_eq!(through, straight, "{mode} round {round}: after ATTACH");
        }
        eprintln!("{mode}: {} rounds in {:?}", rounds(), started.elapsed());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_parent_re_created_with_other_columns_is_read_anew() {
    for mode in ["transaction", "session"] {
        let db = format!("fresh_recreate_{mode}");
        let (p, direct) = setup(&db, mode).await;
        let c = proxied(&p, &db).await;
        for round in 0..50 {
            let (columns, row) = if round % 2 == 0 {
                ("(a int, b text)", "(1, 'x')")
            } else {
                ("(b text, a int)", "('x', 1)")
            };
            c.batch_execute(&format!(
                "DROP TABLE IF EXISTS rc; CREATE TABLE rc {columns} PARTITION BY LIST (a); \
                 CREATE TABLE rc1 PARTITION OF rc FOR VALUES IN (1); CREATE TABLE rc2 PARTITION OF rc FOR VALUES IN (2); \
                 INSERT INTO rc VALUES {row}"
            ))
            .await
            .unwrap();
            let sql = "SELECT *, tableoid::regclass::text FROM rc WHERE a = 1";
            assert_eq!(
                sorted(&c, sql).await,
                sorted(&direct, sql).await,
                "{mode} round {round}"
            );
        }
        // A table attached with rows already in it is read at once.
        c.batch_execute(
            "CREATE TABLE dp3 (k int, v text); INSERT INTO dp3 VALUES (25, 'pre'); \
             ALTER TABLE dp ATTACH PARTITION dp3 FOR VALUES FROM (20) TO (30)",
        )
        .await
        .unwrap();
        let other = proxied(&p, &db).await;
        assert_eq!(
            value(&other, "SELECT count(*) FROM dp WHERE k = 25").await.as_deref(),
            Some("1")
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn names_resolve_as_postgres_resolves_them() {
    for mode in ["transaction", "session"] {
        let db = format!("fresh_names_{mode}");
        let (p, direct) = setup(&db, mode).await;
        let c = proxied(&p, &db).await;
        // A WITH query named like the parent.
        for sql in [
            "WITH logs AS (SELECT 7 AS k) SELECT count(*) FROM logs WHERE k = 7",
            "WITH x AS (WITH logs AS (SELECT 150 AS k) SELECT * FROM logs WHERE k = 150) SELECT count(*) FROM x",
            "WITH RECURSIVE logs(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM logs WHERE k < 5) SELECT count(*) FROM logs WHERE k = 5",
            "SELECT count(*) FROM logs WHERE k = 5",
        ] {
            assert_eq!(sorted(&c, sql).await, sorted(&direct, sql).await, "{mode}: {sql}");
        }
        // A temporary table named like the parent hides it (in one
        // transaction, so transaction pooling keeps the server).
        c.batch_execute(
            "BEGIN; CREATE TEMP TABLE logs (id int, k int, note text); INSERT INTO logs VALUES (9, 5, 'temp')",
        )
        .await
        .unwrap();
        assert_eq!(
            value(&c, "SELECT count(*) FROM logs WHERE k = 5").await.as_deref(),
            Some("1")
        );
        assert_eq!(
            value(&c, "SELECT note FROM logs WHERE k = 5").await.as_deref(),
            Some("temp")
        );
        c.batch_execute("DELETE FROM logs WHERE k = 5; COMMIT").await.unwrap();
        assert_eq!(
            value(&direct, "SELECT count(*) FROM logs WHERE k = 5").await.as_deref(),
            Some("1"),
            "{mode}: the parent's row was deleted instead of the temporary table's"
        );
        if mode == "session" {
            // The temporary table outlives the transaction in session mode.
            c.batch_execute("INSERT INTO logs VALUES (10, 5, 'temp2')")
                .await
                .unwrap();
            assert_eq!(value(&direct, "SELECT count(*) FROM logs").await.as_deref(), Some("2"));
            assert_eq!(value(&c, "SELECT count(*) FROM logs").await.as_deref(), Some("1"));
            c.batch_execute("DROP TABLE pg_temp.logs").await.unwrap();
        }
        // A schema earlier on the search_path with a table of that name,
        // created through the proxy.
        c.batch_execute("CREATE SCHEMA s2; CREATE TABLE s2.logs (id int, k int, note text)")
            .await
            .unwrap();
        let s = proxied(&p, &db).await;
        s.batch_execute("SET search_path = s2, public").await.unwrap();
        s.batch_execute("INSERT INTO logs VALUES (11, 5, 's2')").await.unwrap();
        assert_eq!(
            value(&direct, "SELECT count(*) FROM s2.logs").await.as_deref(),
            Some("1")
        );
        s.batch_execute("DELETE FROM logs WHERE k = 5").await.unwrap();
        assert_eq!(
            value(&direct, "SELECT count(*) FROM s2.logs").await.as_deref(),
            Some("0")
        );
        assert_eq!(
            value(&direct, "SELECT count(*) FROM public.logs WHERE k = 5")
                .await
                .as_deref(),
            Some("1")
        );
    }
}

/// Polls `SHOW DATABASES` until the DDL hook of `db` is `listening`.
async fn wait_listening(p: &TestProxy, db: &str) {
    let admin = support::connect(p.port, "postgres", PASSWORD, "partproxy")
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (rows, _) = support::rows(&admin, "SHOW DATABASES").await;
        let hook = rows
            .iter()
            .find(|r| r[0].as_deref() == Some(db))
            .and_then(|r| r.last().cloned().flatten());
        if hook.as_deref() == Some("listening") {
            return;
        }
        assert!(Instant::now() < deadline, "hook not listening: {hook:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ddl_straight_on_postgres_is_seen_through_the_hook() {
    let db = "fresh_hook";
    let (p, direct) = setup(db, "transaction").await;
    let out = p.run_with_config(&["install-ddl-hook", "--database", db]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("installed the DDL hook"));
    // The running proxy notices the hook at its next load: any DDL is one.
    let c = proxied(&p, db).await;
    c.batch_execute("CREATE TABLE trigger_a_reload (x int)").await.unwrap();
    wait_listening(&p, db).await;
    for round in 0..20 {
        let (lo, hi) = (100 + round * 10, 110 + round * 10);
        direct
            .batch_execute(&format!(
                "CREATE TABLE dp_{round} PARTITION OF dp FOR VALUES FROM ({lo}) TO ({hi}); \
                 INSERT INTO dp_{round} VALUES ({lo}, 'direct')"
            ))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let seen = value(&c, &format!("SELECT count(*) FROM dp WHERE k = {lo}")).await;
        assert_eq!(
            seen.as_deref(),
            Some("1"),
            "round {round}: a child added straight on PostgreSQL is missed"
        );
    }
    // A table that now shadows a parent on the search_path.
    direct
        .batch_execute("CREATE SCHEMA s3; CREATE TABLE s3.logs (id int, k int, note text)")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    c.batch_execute("SET search_path = s3, public").await.unwrap();
    c.batch_execute("INSERT INTO logs VALUES (12, 150, 's3')")
        .await
        .unwrap();
    assert_eq!(
        value(&direct, "SELECT count(*) FROM s3.logs").await.as_deref(),
        Some("1")
    );
    assert_eq!(
        value(&direct, "SELECT count(*) FROM public.logs").await.as_deref(),
        Some("2")
    );
    // And removing the hook works.
    let out = p.run_with_config(&["install-ddl-hook", "--database", db, "--uninstall"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        value(
            &direct,
            "SELECT count(*) FROM pg_event_trigger WHERE evtname LIKE 'partproxy%'"
        )
        .await
        .as_deref(),
        Some("0")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_search_path_a_server_session_starts_with_is_the_one_followed() {
    for mode in ["transaction", "session"] {
        let db = format!("fresh_default_path_{mode}");
        let schema = format!(
            "{SCHEMA} CREATE SCHEMA s4; CREATE TABLE s4.logs (id int, k int, note text); \
             ALTER DATABASE {db} SET search_path = s4, public;"
        );
        let (p, direct) = setup_with(&db, mode, &schema).await;
        let c = proxied(&p, &db).await;
        c.batch_execute("INSERT INTO logs VALUES (13, 5, 's4')").await.unwrap();
        assert_eq!(
            value(&direct, "SELECT count(*) FROM s4.logs").await.as_deref(),
            Some("1"),
            "{mode}"
        );
        assert_eq!(
            value(&c, "SELECT count(*) FROM logs WHERE k = 5").await.as_deref(),
            Some("1"),
            "{mode}"
        );
        assert_eq!(
            value(&direct, "SELECT count(*) FROM public.logs").await.as_deref(),
            Some("2"),
            "{mode}"
        );
    }
}
