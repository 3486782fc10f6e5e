//! Routing edge cases through the proxy: RETURNING order over several
//! children, defaults, configured table rules, NULL keys, bound values,
//! non-UTC literals, quoted names and schemas.

use tokio_postgres::Client;

use crate::support::{self, rows, sqlstate, Cluster, ProxySettings, TestProxy};

const SCHEMA: &str = r#"
CREATE TABLE logs (id bigint NOT NULL, created_at timestamptz NOT NULL, message text);
CREATE TABLE logs_2024_01 (CHECK (created_at >= '2024-01-01 00:00:00+00' AND created_at < '2024-02-01 00:00:00+00')) INHERITS (logs);
CREATE TABLE logs_2024_02 (CHECK (created_at >= '2024-02-01 00:00:00+00' AND created_at < '2024-03-01 00:00:00+00')) INHERITS (logs);
CREATE TABLE logs_2024_03 (CHECK (created_at >= '2024-03-01 00:00:00+00' AND created_at < '2024-04-01 00:00:00+00')) INHERITS (logs);
CREATE UNIQUE INDEX ON logs_2024_01 (id);

CREATE TABLE events (id int NOT NULL, day date NOT NULL DEFAULT '2024-02-10', note text DEFAULT 'none');
CREATE TABLE events_jan (CHECK (day >= '2024-01-01' AND day < '2024-02-01')) INHERITS (events);
CREATE TABLE events_feb (CHECK (day >= '2024-02-01' AND day < '2024-03-01')) INHERITS (events);

CREATE TABLE readings (sensor int NOT NULL, value numeric);
CREATE TABLE readings_low (CHECK (sensor >= 0 AND sensor < 100)) INHERITS (readings);
CREATE TABLE readings_high (CHECK (sensor >= 100 AND sensor < 200)) INHERITS (readings);

CREATE TABLE pairs (a int, b int);
CREATE TABLE pairs_1 (CHECK (a >= 0 AND a < 10 AND b >= 0 AND b < 100)) INHERITS (pairs);
CREATE TABLE pairs_2 (CHECK (a >= 0 AND a < 10 AND b >= 100 AND b < 200)) INHERITS (pairs);

CREATE TABLE tags (id int, region text) PARTITION BY LIST (region);
CREATE TABLE tags_eu PARTITION OF tags FOR VALUES IN ('eu');
CREATE TABLE tags_none PARTITION OF tags FOR VALUES IN (NULL);

CREATE SCHEMA "Sales Data";
CREATE TABLE "Sales Data"."Orders" (n int NOT NULL, "Total" numeric);
CREATE TABLE "Sales Data"."Orders-Small" (CHECK (n < 1000)) INHERITS ("Sales Data"."Orders");
CREATE TABLE "Sales Data"."Orders-Big" (CHECK (n >= 1000)) INHERITS ("Sales Data"."Orders");
"#;

const RULES: &str = r#"
[[routing.tables]]
parent = "readings"
on_unmatched = "parent"
parent_empty = false

[[routing.tables]]
parent = "public.pairs"
key = "b"

[[routing.tables]]
parent = "logs"
parent_empty = true

[[routing.tables]]
parent = "events"
on_unmatched = "error"
"#;

async fn setup(db: &str) -> (TestProxy, Client, Client) {
    let cluster = Cluster::shared();
    let extra = support::fresh_database(cluster, db);
    let direct = support::connect(cluster.port, "postgres", support::PASSWORD, db)
        .await
        .unwrap();
    direct.batch_execute(SCHEMA).await.unwrap();
    let p = TestProxy::start(
        cluster,
        ProxySettings {
            mode: "transaction",
            extra: format!("{extra}\n{RULES}"),
            ..Default::default()
        },
    );
    let proxied = support::connect(p.port, "postgres", support::PASSWORD, db)
        .await
        .unwrap();
    (p, direct, proxied)
}

type Rows = Vec<Vec<Option<String>>>;

/// The children EXPLAIN ROUTE reports for the first parent occurrence.
async fn children(c: &Client, sql: &str) -> String {
    let (r, _) = rows(c, &format!("EXPLAIN ROUTE {sql}")).await;
    r.first()
        .and_then(|row| row.get(1).cloned().flatten().or_else(|| row.get(2).cloned().flatten()))
        .unwrap_or_default()
}

async fn located(direct: &Client, sql: &str) -> Rows {
    rows(direct, sql).await.0
}

fn texts(items: &[&str]) -> Vec<Option<String>> {
    items.iter().map(|s| Some((*s).to_owned())).collect()
}

#[tokio::test]
async fn returning_over_several_children_keeps_values_order() {
    let (_p, direct, proxied) = setup("edges_returning").await;
    let (r, tag) = rows(
        &proxied,
        "INSERT INTO logs VALUES (1, '2024-01-05 00:00:00+00', 'a'), (2, '2024-03-05 00:00:00+00', 'b'), \
         (3, '2024-01-06 00:00:00+00', 'c'), (4, '2024-02-05 00:00:00+00', 'd') \
         RETURNING id, tableoid::regclass::text, message",
    )
    .await;
    assert_eq!(tag, Some(4));
    assert_eq!(
        r,
        vec![
            texts(&["1", "logs_2024_01", "a"]),
            texts(&["2", "logs_2024_03", "b"]),
            texts(&["3", "logs_2024_01", "c"]),
            texts(&["4", "logs_2024_02", "d"]),
        ]
    );
    // RETURNING * has the parent's columns.
    let (r, _) = rows(
        &proxied,
        "INSERT INTO logs VALUES (5, '2024-03-07 00:00:00+00', 'e'), (6, '2024-01-07 00:00:00+00', 'f') RETURNING *",
    )
    .await;
    assert_eq!(r[0][0].as_deref(), Some("5"));
    assert_eq!(r[1][0].as_deref(), Some("6"));
    assert_eq!(r[1][2].as_deref(), Some("f"));
    // A failing part: an error, no rows, nothing stored.
    let err = proxied
        .simple_query("INSERT INTO logs VALUES (7, '2024-03-08 00:00:00+00', 'g'), (1, '2024-01-09 00:00:00+00', 'dup') RETURNING id")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "23505");
    assert_eq!(
        located(&direct, "SELECT count(*) FROM logs WHERE id = 7").await,
        vec![texts(&["0"])]
    );
    // The client's connection carries on.
    assert_eq!(rows(&proxied, "SELECT count(*) FROM logs").await.0, vec![texts(&["6"])]);
}

#[tokio::test]
async fn defaults_rules_nulls_bounds_and_names() {
    let (_p, direct, proxied) = setup("edges_misc").await;

    // Omitted key with a constant DEFAULT: routed by the default's value.
    assert_eq!(
        children(&proxied, "INSERT INTO events (id) VALUES (1)").await,
        "public.events_feb"
    );
    rows(&proxied, "INSERT INTO events (id) VALUES (1), (2)").await;
    rows(
        &proxied,
        "INSERT INTO events VALUES (3, DEFAULT, 'x'), (4, '2024-01-03', DEFAULT)",
    )
    .await;
    assert_eq!(
        located(
            &direct,
            "SELECT id, tableoid::regclass::text, day::text, note FROM events ORDER BY id"
        )
        .await,
        vec![
            texts(&["1", "events_feb", "2024-02-10", "none"]),
            texts(&["2", "events_feb", "2024-02-10", "none"]),
            texts(&["3", "events_feb", "2024-02-10", "x"]),
            texts(&["4", "events_jan", "2024-01-03", "none"]),
        ]
    );

    // on_unmatched = "parent": the row no child accepts is kept in the parent.
    let (_, tag) = rows(&proxied, "INSERT INTO readings VALUES (5, 1.5), (500, 2.5), (150, 3.5)").await;
    assert_eq!(tag, Some(3));
    assert_eq!(
        located(
            &direct,
            "SELECT sensor, tableoid::regclass::text FROM readings ORDER BY sensor"
        )
        .await,
        vec![
            texts(&["5", "readings_low"]),
            texts(&["150", "readings_high"]),
            texts(&["500", "readings"]),
        ]
    );
    // ... and reads of the parent still see it (the parent may hold rows).
    assert_eq!(
        rows(&proxied, "SELECT count(*) FROM readings WHERE sensor = 500")
            .await
            .0,
        vec![texts(&["1"])]
    );
    // The error policy elsewhere.
    let err = proxied
        .simple_query("INSERT INTO events VALUES (9, '2025-01-01', 'late')")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "23514");

    // key = "b" chosen by the config over discovery's pick (a).
    assert_eq!(
        children(&proxied, "SELECT * FROM pairs WHERE b = 150").await,
        "ONLY public.pairs, public.pairs_2"
    );
    // parent_empty = true: the parent's own rows are not read.
    assert_eq!(
        children(
            &proxied,
            "SELECT * FROM logs WHERE created_at = '2024-02-01 00:00:00+00'"
        )
        .await,
        "public.logs_2024_02"
    );

    // Bounds: exactly on a bound belongs to the child whose range starts there.
    assert_eq!(
        children(
            &proxied,
            "SELECT * FROM logs WHERE created_at < '2024-02-01 00:00:00+00'"
        )
        .await,
        "public.logs_2024_01"
    );
    assert_eq!(
        children(
            &proxied,
            "SELECT * FROM logs WHERE created_at <= '2024-02-01 00:00:00+00'"
        )
        .await,
        "public.logs_2024_01, public.logs_2024_02"
    );
    rows(&proxied, "INSERT INTO logs VALUES (10, '2024-02-01 00:00:00+00', 'edge'), (11, '2024-01-31 23:59:59.999999+00', 'before')").await;
    assert_eq!(
        located(
            &direct,
            "SELECT id, tableoid::regclass::text FROM logs WHERE id IN (10, 11) ORDER BY id"
        )
        .await,
        vec![texts(&["10", "logs_2024_02"]), texts(&["11", "logs_2024_01"])]
    );

    // A literal without offset in a non-UTC session: 20:00 on Jan 31st in New York is February in UTC.
    proxied
        .batch_execute("SET TimeZone = 'America/New_York'")
        .await
        .unwrap();
    rows(&proxied, "INSERT INTO logs VALUES (12, '2024-01-31 20:00:00', 'ny')").await;
    assert_eq!(
        located(&direct, "SELECT tableoid::regclass::text FROM logs WHERE id = 12").await,
        vec![texts(&["logs_2024_02"])]
    );
    assert_eq!(
        rows(&proxied, "SELECT id FROM logs WHERE created_at = '2024-01-31 20:00:00'")
            .await
            .0,
        vec![texts(&["12"])]
    );
    proxied.batch_execute("RESET TimeZone").await.unwrap();

    // Rows shorter than the table fill its first columns; the rest take their defaults.
    let (_, count) = rows(&proxied, "INSERT INTO logs VALUES (13, '2024-02-10 00:00:00+00')").await;
    assert_eq!(count, Some(1));
    assert_eq!(
        located(
            &direct,
            "SELECT tableoid::regclass::text, coalesce(message, 'null') FROM logs WHERE id = 13"
        )
        .await,
        vec![texts(&["logs_2024_02", "null"])]
    );

    // NULL keys: a legacy child accepts none; IS NULL reads every child (and matches nothing here).
    let err = proxied
        .simple_query("INSERT INTO events VALUES (20, NULL, 'n')")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "23514");
    assert!(
        support::message(&err).contains("day = NULL"),
        "{}",
        support::message(&err)
    );
    assert_eq!(
        rows(&proxied, "SELECT count(*) FROM events WHERE day IS NULL").await.0,
        vec![texts(&["0"])]
    );
    // A declarative list with a NULL partition: NULL goes there, and IS NULL reads only it.
    rows(&proxied, "INSERT INTO tags VALUES (1, NULL), (2, 'eu')").await;
    assert_eq!(
        located(&direct, "SELECT id, tableoid::regclass::text FROM tags ORDER BY id").await,
        vec![texts(&["1", "tags_none"]), texts(&["2", "tags_eu"])]
    );
    assert_eq!(
        children(&proxied, "SELECT * FROM tags WHERE region IS NULL").await,
        "public.tags_none"
    );

    // Quoted schema and table names, qualified and through search_path.
    rows(
        &proxied,
        "INSERT INTO \"Sales Data\".\"Orders\" VALUES (5, 1), (5000, 2)",
    )
    .await;
    proxied.batch_execute("SET search_path = \"Sales Data\"").await.unwrap();
    rows(&proxied, "INSERT INTO \"Orders\" (n, \"Total\") VALUES (7, 3)").await;
    assert_eq!(
        children(&proxied, "SELECT * FROM \"Orders\" WHERE n = 5000").await,
        "ONLY \"Sales Data\".\"Orders\", \"Sales Data\".\"Orders-Big\""
    );
    assert_eq!(
        rows(
            &proxied,
            "SELECT n, \"Total\" FROM \"Orders\" o WHERE o.n < 1000 ORDER BY n"
        )
        .await
        .0,
        vec![texts(&["5", "1"]), texts(&["7", "3"])]
    );
    assert_eq!(
        located(
            &direct,
            "SELECT n, tableoid::regclass::text FROM \"Sales Data\".\"Orders\" ORDER BY n"
        )
        .await,
        vec![
            texts(&["5", "\"Sales Data\".\"Orders-Small\""]),
            texts(&["7", "\"Sales Data\".\"Orders-Small\""]),
            texts(&["5000", "\"Sales Data\".\"Orders-Big\""]),
        ]
    );
}
