//! Routing of extended-protocol statements (Parse/Bind/Execute) with binary
//! parameters, through tokio-postgres.
//!
//! Every parent here has no trigger and is declared empty to the proxy
//! (`parent_empty = true`) while it really holds one planted row: a routed
//! INSERT lands in the child (a passed-through one would stay in the
//! parent), and a routed SELECT cannot see the planted row (a passed-through
//! one would). So each assertion fails unless the Bind was routed.

use chrono::{NaiveDate, NaiveDateTime, TimeZone, Utc};
use tokio_postgres::types::ToSql;
use tokio_postgres::Client;

use crate::support::{self, Cluster, ProxySettings, TestProxy};

/// (parent, key type, split value as SQL, value below, value at/above the split)
const TYPES: &[(&str, &str, &str)] = &[
    ("p_int2", "smallint", "100"),
    ("p_int4", "integer", "100"),
    ("p_int8", "bigint", "100"),
    ("p_date", "date", "'2024-06-01'"),
    ("p_ts", "timestamp", "'2024-06-01 00:00:00'"),
    ("p_tstz", "timestamptz", "'2024-06-01 00:00:00+00'"),
    ("p_text", "text", "'m'"),
    ("p_uuid", "uuid", "'80000000-0000-0000-0000-000000000000'"),
];

fn schema() -> String {
    let mut sql = String::new();
    for (name, ty, split) in TYPES {
        let collate = if *ty == "text" { " COLLATE \"C\"" } else { "" };
        sql.push_str(&format!(
            "CREATE TABLE {name} (id int, k {ty}{collate}, note text);\n\
             CREATE TABLE {name}_lo (CHECK (k < {split})) INHERITS ({name});\n\
             CREATE TABLE {name}_hi (CHECK (k >= {split})) INHERITS ({name});\n"
        ));
    }
    sql
}

fn rules() -> String {
    TYPES
        .iter()
        .map(|(name, _, _)| format!("\n[[routing.tables]]\nparent = \"{name}\"\nparent_empty = true\n"))
        .collect()
}

async fn check<T: ToSql + Sync + Clone>(direct: &Client, proxied: &Client, parent: &str, high: T, planted_sql: &str) {
    // The planted row, in the parent itself.
    direct
        .batch_execute(&format!("INSERT INTO {parent} VALUES (1, {planted_sql}, 'planted')"))
        .await
        .unwrap();
    let insert = proxied
        .prepare(&format!("INSERT INTO {parent} (id, k, note) VALUES ($1, $2, $3)"))
        .await
        .unwrap();
    let n = proxied.execute(&insert, &[&2i32, &high, &"routed"]).await.unwrap();
    assert_eq!(n, 1, "{parent}");
    let row = direct
        .query_one(
            &format!("SELECT tableoid::regclass::text FROM {parent} WHERE id = 2"),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        row.get::<_, String>(0),
        format!("{parent}_hi"),
        "{parent}: INSERT not routed"
    );

    let select = proxied
        .prepare(&format!("SELECT id FROM {parent} WHERE k = $1 ORDER BY id"))
        .await
        .unwrap();
    for _ in 0..3 {
        let ids: Vec<i32> = proxied
            .query(&select, &[&high])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(ids, vec![2], "{parent}: SELECT not routed");
    }
    // A NULL parameter matches nothing (and is routed to no child or passed through).
    let none: Option<T> = None;
    let rows = proxied.query(&select, &[&none]).await.unwrap();
    assert!(rows.is_empty());
}

#[tokio::test]
async fn binds_are_routed_by_binary_parameters_of_every_key_type() {
    let cluster = Cluster::shared();
    let db = "extended_types";
    let extra = support::fresh_database(cluster, db);
    let direct = support::connect(cluster.port, "postgres", support::PASSWORD, db)
        .await
        .unwrap();
    direct.batch_execute(&schema()).await.unwrap();
    for mode in ["transaction", "session"] {
        direct
            .batch_execute(
                &TYPES
                    .iter()
                    .map(|(n, _, _)| format!("TRUNCATE {n};"))
                    .collect::<String>(),
            )
            .await
            .unwrap();
        let p = TestProxy::start(
            cluster,
            ProxySettings {
                mode,
                extra: format!("{extra}{}", rules()),
                ..Default::default()
            },
        );
        let proxied = support::connect(p.port, "postgres", support::PASSWORD, db)
            .await
            .unwrap();
        check(&direct, &proxied, "p_int2", 150i16, "150").await;
        check(&direct, &proxied, "p_int4", 150i32, "150").await;
        check(&direct, &proxied, "p_int8", 150i64, "150").await;
        let day = NaiveDate::from_ymd_opt(2024, 7, 1).unwrap();
        check(&direct, &proxied, "p_date", day, "'2024-07-01'").await;
        let ts: NaiveDateTime = day.and_hms_opt(12, 0, 0).unwrap();
        check(&direct, &proxied, "p_ts", ts, "'2024-07-01 12:00:00'").await;
        let tstz = Utc.from_utc_datetime(&ts);
        check(&direct, &proxied, "p_tstz", tstz, "'2024-07-01 12:00:00+00'").await;
        check(&direct, &proxied, "p_text", "zebra".to_owned(), "'zebra'").await;
        let id = uuid::Uuid::parse_str("c0000000-0000-0000-0000-000000000001").unwrap();
        check(
            &direct,
            &proxied,
            "p_uuid",
            id,
            "'c0000000-0000-0000-0000-000000000001'",
        )
        .await;
    }
}

#[tokio::test]
async fn pipelined_binds_with_an_error_in_the_middle() {
    let cluster = Cluster::shared();
    let db = "extended_pipeline";
    let extra = support::fresh_database(cluster, db);
    let direct = support::connect(cluster.port, "postgres", support::PASSWORD, db)
        .await
        .unwrap();
    direct.batch_execute(&schema()).await.unwrap();
    direct
        .batch_execute("INSERT INTO p_int4 VALUES (1, 150, 'planted'); INSERT INTO p_int4_hi VALUES (2, 150, 'child')")
        .await
        .unwrap();
    let p = TestProxy::start(
        cluster,
        ProxySettings {
            mode: "transaction",
            extra: format!("{extra}{}", rules()),
            ..Default::default()
        },
    );
    let proxied = support::connect(p.port, "postgres", support::PASSWORD, db)
        .await
        .unwrap();
    let select = proxied
        .prepare("SELECT id, 10 / $2::int FROM p_int4 WHERE k = $1")
        .await
        .unwrap();
    // Sent together without waiting (tokio-postgres pipelines them).
    let (a, b, c) = futures_util::join!(
        proxied.query(&select, &[&150i32, &5i32]),
        proxied.query(&select, &[&150i32, &0i32]),
        proxied.query(&select, &[&150i32, &2i32]),
    );
    let a = a.unwrap();
    assert_eq!((a.len(), a[0].get::<_, i32>(0), a[0].get::<_, i32>(1)), (1, 2, 2));
    assert_eq!(support::sqlstate(&b.unwrap_err()), "22012");
    let c = c.unwrap();
    assert_eq!((c.len(), c[0].get::<_, i32>(1)), (1, 5));
    // The connection is still good; a statement nothing narrows passes
    // through to the parent and sees the planted row too.
    let n: i64 = proxied
        .query_one("SELECT count(*) FROM p_int4", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 2);
}
