//! Partition routing through the proxy (simple query protocol) against a
//! legacy inheritance schema, checked against PostgreSQL itself.

use std::time::Duration;

use tokio_postgres::Client;

use crate::support::{self, rows, sqlstate, Cluster, ProxySettings, TestProxy};

/// Added to the shared legacy `logs` schema.
const SCHEMA: &str = r#"
CREATE UNIQUE INDEX ON logs_2024_01 (id);
INSERT INTO logs SELECT g, '2024-01-01 00:00:00+00'::timestamptz + g * interval '7 hours', 'm' || g FROM generate_series(0, 280) g;
CREATE SCHEMA "Other";
CREATE TABLE "Other".items (k int, v text);
CREATE TABLE "Other"."items-low" (CHECK (k < 100)) INHERITS ("Other".items);
CREATE TABLE "Other"."items-high" (CHECK (k >= 100)) INHERITS ("Other".items);
INSERT INTO "Other"."items-low" VALUES (1, 'low');
INSERT INTO "Other"."items-high" VALUES (500, 'high');
"#;

async fn setup(db: &str, mode: &'static str) -> (TestProxy, Client, Client) {
    let cluster = Cluster::shared();
    let (extra, direct) = support::database_with(cluster, db, &format!("{}{SCHEMA}", support::LEGACY_LOGS)).await;
    let p = TestProxy::start(
        cluster,
        ProxySettings {
            mode,
            // The proxy's own refusal, so the tests see it.
            extra: format!("{extra}\n[[routing.tables]]\nparent = \"logs\"\non_unmatched = \"error\"\n"),
            ..Default::default()
        },
    );
    let proxied = support::connect(p.port, "postgres", support::PASSWORD, db)
        .await
        .unwrap();
    (p, direct, proxied)
}

async fn explain(c: &Client, sql: &str) -> Vec<Vec<Option<String>>> {
    rows(c, &format!("EXPLAIN ROUTE {sql}")).await.0
}

#[tokio::test]
async fn reads_and_writes_are_routed_and_match_postgres() {
    for mode in ["session", "transaction"] {
        reads_and_writes(mode).await;
    }
}

async fn reads_and_writes(mode: &'static str) {
    let (_p, direct, proxied) = setup(&format!("routing_rw_{mode}"), mode).await;

    // EXPLAIN ROUTE shows the decision without executing.
    let e = explain(
        &proxied,
        "SELECT * FROM logs WHERE created_at = '2024-01-05 07:00:00+00'",
    )
    .await;
    assert_eq!(e[0][0].as_deref(), Some("public.logs"));
    assert_eq!(e[0][1].as_deref(), Some("ONLY public.logs, public.logs_2024_01"));
    assert_eq!(e[0][2].as_deref(), Some("rewrite"));
    let e = explain(&proxied, "SELECT * FROM ONLY logs").await;
    assert_eq!(e[0][2].as_deref(), Some("passthrough: only"));

    // Same answers as PostgreSQL for a spread of predicates.
    for q in [
        "SELECT id, message FROM logs WHERE created_at = '2024-01-05 07:00:00+00' ORDER BY id",
        "SELECT count(*) FROM logs WHERE created_at >= '2024-01-31 20:00:00+00' AND created_at < '2024-02-02'",
        "SELECT id FROM logs WHERE created_at BETWEEN '2024-02-29' AND '2024-03-01 03:00:00+00' ORDER BY id",
        "SELECT count(*) FROM logs WHERE created_at IN ('2024-01-01 07:00:00+00', '2024-03-05 00:00:00+00')",
        "SELECT count(*) FROM logs WHERE created_at NOT BETWEEN '2024-01-02' AND '2024-03-30'",
        "SELECT count(*) FROM logs WHERE created_at < '2023-01-01'",
        "SELECT count(*) FROM logs WHERE created_at IS NULL",
        "SELECT l.id FROM logs l JOIN logs r ON r.id = l.id + 1 AND r.created_at = '2024-02-10 01:00:00+00' ORDER BY 1",
    ] {
        assert_eq!(rows(&proxied, q).await, rows(&direct, q).await, "{q}");
    }

    // A one-child INSERT goes straight to the child (the trigger never runs).
    let (_, tag) = rows(
        &proxied,
        "INSERT INTO logs (id, created_at, message) VALUES (9001, '2024-02-14 12:00:00+00', 'v')",
    )
    .await;
    assert_eq!(tag, Some(1));
    let (r, _) = rows(&direct, "SELECT tableoid::regclass::text FROM logs WHERE id = 9001").await;
    assert_eq!(r, vec![vec![Some("logs_2024_02".to_owned())]]);
    // Without a column list too.
    rows(
        &proxied,
        "INSERT INTO logs VALUES (9002, '2024-03-14 12:00:00+00', 'w')",
    )
    .await;
    let (r, _) = rows(&direct, "SELECT tableoid::regclass::text FROM logs WHERE id = 9002").await;
    assert_eq!(r, vec![vec![Some("logs_2024_03".to_owned())]]);
    // ON CONFLICT works against the child's unique index.
    let (_, tag) = rows(
        &proxied,
        "INSERT INTO logs VALUES (1, '2024-01-01 07:00:00+00', 'dup') ON CONFLICT (id) DO NOTHING",
    )
    .await;
    assert_eq!(tag, Some(0));
    // Rows for several children: one INSERT per child, one summed tag (the
    // legacy trigger would report INSERT 0 0).
    let (_, tag) = rows(
        &proxied,
        "INSERT INTO logs VALUES (9003, '2024-01-20 00:00:00+00', 'a'), (9004, '2024-03-20 00:00:00+00', 'b'), (9007, '2024-01-21 00:00:00+00', 'c')",
    )
    .await;
    assert_eq!(tag, Some(3));
    let (r, _) = rows(
        &direct,
        "SELECT id, tableoid::regclass::text FROM logs WHERE id IN (9003, 9004, 9007) ORDER BY id",
    )
    .await;
    assert_eq!(r[0][1].as_deref(), Some("logs_2024_01"));
    assert_eq!(r[1][1].as_deref(), Some("logs_2024_03"));
    assert_eq!(r[2][1].as_deref(), Some("logs_2024_01"));
    // All or nothing: a duplicate key in the January part leaves nothing in March.
    let err = proxied
        .simple_query(
            "INSERT INTO logs VALUES (9008, '2024-03-21 00:00:00+00', 'x'), (1, '2024-01-01 07:00:00+00', 'dup')",
        )
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "23505");
    let (r, _) = rows(&direct, "SELECT count(*) FROM logs WHERE id = 9008").await;
    assert_eq!(r, vec![vec![Some("0".to_owned())]]);
    // Inside the client's transaction, the split is part of it.
    proxied.batch_execute("BEGIN").await.unwrap();
    let (_, tag) = rows(
        &proxied,
        "INSERT INTO logs VALUES (9009, '2024-02-21 00:00:00+00', 'x'), (9010, '2024-03-21 00:00:00+00', 'y')",
    )
    .await;
    assert_eq!(tag, Some(2));
    proxied.batch_execute("ROLLBACK").await.unwrap();
    let (r, _) = rows(&direct, "SELECT count(*) FROM logs WHERE id IN (9009, 9010)").await;
    assert_eq!(r, vec![vec![Some("0".to_owned())]]);

    // A row no child accepts is refused with 23514, naming parent and key value.
    let err = proxied
        .simple_query("INSERT INTO logs VALUES (9005, '2030-01-01 00:00:00+00', 'x')")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "23514");
    assert!(support::message(&err).contains("public.logs") && support::message(&err).contains("2030-01-01"));
    // Inside a transaction the refusal aborts it, as a server error would.
    proxied.batch_execute("BEGIN").await.unwrap();
    assert!(proxied
        .batch_execute("INSERT INTO logs VALUES (9006, '2031-01-01', 'x')")
        .await
        .is_err());
    assert_eq!(sqlstate(&proxied.batch_execute("SELECT 1").await.unwrap_err()), "25P02");
    proxied.batch_execute("ROLLBACK").await.unwrap();

    // UPDATE and DELETE on one child.
    let (_, tag) = rows(
        &proxied,
        "UPDATE logs SET message = 'u' WHERE created_at = '2024-02-14 12:00:00+00'",
    )
    .await;
    assert_eq!(tag, Some(1));
    let (_, tag) = rows(
        &proxied,
        "DELETE FROM logs WHERE created_at = '2024-02-14 12:00:00+00' AND id = 9001",
    )
    .await;
    assert_eq!(tag, Some(1));
}

#[tokio::test]
async fn session_time_zone_search_path_and_refresh_after_ddl() {
    let (_p, direct, proxied) = setup("routing_session", "transaction").await;

    // 07:00 on Feb 1st in Tokyo is 22:00 on Jan 31st UTC: the January child.
    proxied.batch_execute("SET TimeZone = 'Asia/Tokyo'").await.unwrap();
    let e = explain(&proxied, "SELECT id FROM logs WHERE created_at = '2024-02-01 07:00:00'").await;
    assert!(
        e[0][1].as_deref().unwrap_or_default().ends_with("logs_2024_01"),
        "{e:?}"
    );
    direct.batch_execute("SET TimeZone = 'Asia/Tokyo'").await.unwrap();
    let q = "SELECT id FROM logs WHERE created_at = '2024-02-01 07:00:00' ORDER BY id";
    assert_eq!(rows(&proxied, q).await, rows(&direct, q).await);
    assert!(!rows(&proxied, q).await.0.is_empty());

    // search_path decides which parent an unqualified name means.
    let e = explain(&proxied, "SELECT * FROM items WHERE k = 500").await;
    assert_eq!(e[0][2].as_deref(), Some("passthrough: no_parent"));
    proxied
        .batch_execute("SET search_path = \"Other\", public")
        .await
        .unwrap();
    let e = explain(&proxied, "SELECT * FROM items WHERE k = 500").await;
    assert!(
        e[0][1]
            .as_deref()
            .unwrap_or_default()
            .contains("\"Other\".\"items-high\""),
        "{e:?}"
    );
    let (r, _) = rows(&proxied, "SELECT v FROM items WHERE k = 500").await;
    assert_eq!(r, vec![vec![Some("high".to_owned())]]);

    // DDL through the proxy refreshes the catalog.
    proxied
        .batch_execute(
            "CREATE TABLE public.logs_2024_04 (CHECK (created_at >= '2024-04-01 00:00:00+00' AND created_at < '2024-05-01 00:00:00+00')) INHERITS (public.logs)",
        )
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let e = explain(
            &proxied,
            "SELECT * FROM public.logs WHERE created_at = '2024-04-10 00:00:00+00'",
        )
        .await;
        if e[0][1].as_deref().unwrap_or_default().contains("logs_2024_04") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "catalog not refreshed: {e:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
