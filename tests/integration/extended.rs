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
        .map(|(name, _, _)| {
            format!("\n[[routing.tables]]\nparent = \"{name}\"\nparent_empty = true\non_unmatched = \"error\"\n")
        })
        .collect()
}

/// A fresh database `db` with the schema: its config entry and a direct client.
async fn database(db: &str) -> (String, Client) {
    support::database_with(Cluster::shared(), db, &schema()).await
}

/// A proxy in `mode` with the routing rules, and a client of `db` through it.
async fn through_proxy(extra: &str, db: &str, mode: &'static str) -> (TestProxy, Client) {
    let p = TestProxy::start(
        Cluster::shared(),
        ProxySettings {
            mode,
            extra: format!("{extra}{}", rules()),
            ..Default::default()
        },
    );
    let c = support::connect(p.port, "postgres", support::PASSWORD, db)
        .await
        .unwrap();
    (p, c)
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
    let db = "extended_types";
    let (extra, direct) = database(db).await;
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
        let (_proxy, proxied) = through_proxy(&extra, db, mode).await;
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
    let db = "extended_pipeline";
    let (extra, direct) = database(db).await;
    direct
        .batch_execute("INSERT INTO p_int4 VALUES (1, 150, 'planted'); INSERT INTO p_int4_hi VALUES (2, 150, 'child')")
        .await
        .unwrap();
    let (_proxy, proxied) = through_proxy(&extra, db, "transaction").await;
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

#[tokio::test]
async fn multi_row_insert_with_parameters_is_split_per_child_atomically() {
    let db = "extended_split";
    let (extra, direct) = database(db).await;
    direct
        .batch_execute("CREATE UNIQUE INDEX ON p_int4_lo (id)")
        .await
        .unwrap();
    for mode in ["transaction", "session"] {
        direct
            .batch_execute("TRUNCATE p_int4; INSERT INTO p_int4 VALUES (1, 150, 'planted')")
            .await
            .unwrap();
        let (_proxy, proxied) = through_proxy(&extra, db, mode).await;
        let placed = || async {
            direct
                .query("SELECT id, tableoid::regclass::text FROM p_int4 ORDER BY id", &[])
                .await
                .unwrap()
                .iter()
                .map(|r| (r.get::<_, i32>(0), r.get::<_, String>(1)))
                .collect::<Vec<_>>()
        };

        // Three rows over two children, RETURNING in VALUES order, with a
        // parameter outside VALUES (each part gets its own $1..$n).
        let insert = proxied
            .prepare("INSERT INTO p_int4 (id, k, note) VALUES ($1, $2, $3), ($4, $5, $6), ($7, $8, $9) RETURNING id, $10::text || note AS tagged")
            .await
            .unwrap();
        // Describe answers for the original statement.
        let names: Vec<&str> = insert.columns().iter().map(|c| c.name()).collect();
        assert_eq!(names, ["id", "tagged"], "{mode}");
        let rows = proxied
            .query(
                &insert,
                &[&10i32, &150i32, &"a", &11i32, &50i32, &"b", &12i32, &160i32, &"c", &"#"],
            )
            .await
            .unwrap();
        let got: Vec<(i32, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        assert_eq!(
            got,
            [(10, "#a".to_owned()), (11, "#b".to_owned()), (12, "#c".to_owned())],
            "{mode}"
        );
        // Without RETURNING: one command tag with the total.
        let plain = proxied
            .prepare("INSERT INTO p_int4 (id, k, note) VALUES ($1, $2, 'x'), ($3, $4, 'y')")
            .await
            .unwrap();
        let n = proxied
            .execute(&plain, &[&13i32, &40i32, &14i32, &140i32])
            .await
            .unwrap();
        assert_eq!(n, 2, "{mode}");
        // The unnamed statement and portal (typed query, no prepare round trip).
        let n = proxied
            .query_typed(
                "INSERT INTO p_int4 (id, k) VALUES ($1, $2), ($3, $4)",
                &[
                    (&15i32, tokio_postgres::types::Type::INT4),
                    (&105i32, tokio_postgres::types::Type::INT4),
                    (&16i32, tokio_postgres::types::Type::INT4),
                    (&5i32, tokio_postgres::types::Type::INT4),
                ],
            )
            .await
            .unwrap();
        assert!(n.is_empty());
        let hi = "p_int4_hi".to_owned();
        let lo = "p_int4_lo".to_owned();
        assert_eq!(
            placed().await,
            [
                (1, "p_int4".to_owned()),
                (10, hi.clone()),
                (11, lo.clone()),
                (12, hi.clone()),
                (13, lo.clone()),
                (14, hi.clone()),
                (15, hi.clone()),
                (16, lo.clone())
            ],
            "{mode}"
        );

        // A failing part (duplicate id in the low child) leaves nothing of
        // the other part behind, outside and inside a transaction.
        let e = proxied
            .execute(&plain, &[&20i32, &150i32, &11i32, &50i32])
            .await
            .unwrap_err();
        assert_eq!(support::sqlstate(&e), "23505", "{mode}");
        proxied.batch_execute("BEGIN").await.unwrap();
        let e = proxied
            .execute(&plain, &[&21i32, &150i32, &11i32, &50i32])
            .await
            .unwrap_err();
        assert_eq!(support::sqlstate(&e), "23505", "{mode}");
        let e = proxied.query("SELECT 1", &[]).await.unwrap_err();
        assert_eq!(support::sqlstate(&e), "25P02", "{mode}");
        proxied.batch_execute("ROLLBACK").await.unwrap();

        // A row no child accepts (NULL key) is refused; nothing lands in the parent.
        let one = proxied
            .prepare("INSERT INTO p_int4 (id, k) VALUES ($1, $2)")
            .await
            .unwrap();
        let e = proxied.execute(&one, &[&30i32, &None::<i32>]).await.unwrap_err();
        assert_eq!(support::sqlstate(&e), "23514", "{mode}: {e}");
        assert!(support::message(&e).contains("p_int4"), "{mode}: {e}");

        // Pipelined: two splits and a refusal before one round trip.
        let (a, b, c) = futures_util::join!(
            proxied.execute(&plain, &[&40i32, &1i32, &41i32, &101i32]),
            proxied.execute(&one, &[&42i32, &None::<i32>]),
            proxied.execute(&plain, &[&43i32, &2i32, &44i32, &102i32]),
        );
        assert_eq!(a.unwrap(), 2, "{mode}");
        assert_eq!(support::sqlstate(&b.unwrap_err()), "23514", "{mode}");
        assert_eq!(c.unwrap(), 2, "{mode}");
        let after: Vec<i32> = placed().await.iter().map(|(id, _)| *id).collect();
        assert_eq!(after, [1, 10, 11, 12, 13, 14, 15, 16, 40, 41, 43, 44], "{mode}");
    }
}

/// The first column of every row a simple query returns.
async fn first_column(c: &Client, sql: &str) -> Result<Vec<String>, tokio_postgres::Error> {
    Ok(c.simple_query(sql)
        .await?
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_owned),
            _ => None,
        })
        .collect())
}

#[tokio::test]
async fn sql_prepare_and_execute_are_routed_by_their_arguments() {
    let db = "extended_sql_prepare";
    let (extra, direct) = database(db).await;
    for mode in ["session", "transaction"] {
        direct
            .batch_execute("TRUNCATE p_int4; INSERT INTO p_int4 VALUES (1, 150, 'planted')")
            .await
            .unwrap();
        let (_proxy, c) = through_proxy(&extra, db, mode).await;
        // SQL prepared statements live in one server session: in transaction
        // mode that means inside one transaction (so SAVEPOINTs, not ROLLBACK).
        c.batch_execute("BEGIN").await.unwrap();
        c.batch_execute(
            "PREPARE ins (int, int, text) AS INSERT INTO p_int4 (id, k, note) VALUES ($1, $2, $3);
             PREPARE ins2 AS INSERT INTO p_int4 (id, k) VALUES ($1, $2), ($3, $4) RETURNING id",
        )
        .await
        .unwrap();
        // (Prepared together in one query string: not noted, so unrouted.)
        c.batch_execute("DEALLOCATE ins; DEALLOCATE ins2").await.unwrap();
        c.batch_execute("PREPARE ins (int, int, text) AS INSERT INTO p_int4 (id, k, note) VALUES ($1, $2, $3)")
            .await
            .unwrap();
        c.batch_execute("PREPARE ins2 AS INSERT INTO p_int4 (id, k) VALUES ($1, $2), ($3, $4) RETURNING id")
            .await
            .unwrap();
        c.batch_execute("PREPARE sel AS SELECT id FROM p_int4 WHERE k = $1 ORDER BY id")
            .await
            .unwrap();
        c.batch_execute("EXECUTE ins(50, 150, 'x')").await.unwrap();
        // Split over both children, RETURNING in VALUES order.
        assert_eq!(
            first_column(&c, "EXECUTE ins2(52, 155, 51, 5)").await.unwrap(),
            ["52", "51"],
            "{mode}"
        );
        // Routed: the planted parent row is not read.
        assert_eq!(first_column(&c, "EXECUTE sel(150)").await.unwrap(), ["50"], "{mode}");
        // An argument the proxy does not evaluate: passed through, the parent is read.
        assert_eq!(
            first_column(&c, "EXECUTE sel(149 + 1)").await.unwrap(),
            ["1", "50"],
            "{mode}"
        );
        // A failed PREPARE (the name exists) leaves the old statement in place.
        c.batch_execute("SAVEPOINT a").await.unwrap();
        let e = c
            .batch_execute("PREPARE ins AS SELECT 1 FROM p_int4 WHERE k = $1")
            .await
            .unwrap_err();
        assert_eq!(support::sqlstate(&e), "42P05", "{mode}");
        c.batch_execute("ROLLBACK TO a").await.unwrap();
        c.batch_execute("EXECUTE ins(53, 20, 'y')").await.unwrap();
        // A row no child accepts is refused.
        c.batch_execute("SAVEPOINT b").await.unwrap();
        let e = c.batch_execute("EXECUTE ins(54, NULL, 'n')").await.unwrap_err();
        assert_eq!(support::sqlstate(&e), "23514", "{mode}: {e}");
        c.batch_execute("ROLLBACK TO b").await.unwrap();
        // Re-prepared under the same name: the new text is what runs.
        c.batch_execute("DEALLOCATE sel").await.unwrap();
        c.batch_execute("PREPARE sel AS SELECT -id FROM p_int4 WHERE k = $1")
            .await
            .unwrap();
        assert_eq!(first_column(&c, "EXECUTE sel(150)").await.unwrap(), ["-50"], "{mode}");
        c.batch_execute("COMMIT").await.unwrap();

        let placed: Vec<(i32, String)> = direct
            .query("SELECT id, tableoid::regclass::text FROM p_int4 ORDER BY id", &[])
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let expected: Vec<(i32, String)> = vec![
            (1, "p_int4".into()),
            (50, "p_int4_hi".into()),
            (51, "p_int4_lo".into()),
            (52, "p_int4_hi".into()),
            (53, "p_int4_lo".into()),
        ];
        assert_eq!(placed, expected, "{mode}");
    }
}

#[tokio::test]
async fn routed_portals_are_read_in_slices() {
    let db = "extended_portals";
    let (extra, direct) = database(db).await;
    direct
        .batch_execute(
            "INSERT INTO p_int4 VALUES (0, 150, 'planted');
             INSERT INTO p_int4_hi SELECT g, 150, 'child' FROM generate_series(1, 5) g",
        )
        .await
        .unwrap();
    for mode in ["transaction", "session"] {
        let (_proxy, mut c) = through_proxy(&extra, db, mode).await;
        let tx = c.transaction().await.unwrap();
        let stmt = tx
            .prepare("SELECT id FROM p_int4 WHERE k = $1 ORDER BY id")
            .await
            .unwrap();
        // A named portal (routed at its Bind), read two rows per Execute:
        // PortalSuspended, then more Executes of the same portal.
        let portal = tx.bind(&stmt, &[&150i32]).await.unwrap();
        let mut ids = Vec::new();
        loop {
            let rows = tx.query_portal(&portal, 2).await.unwrap();
            if rows.is_empty() {
                break;
            }
            assert!(rows.len() <= 2, "{mode}");
            ids.extend(rows.iter().map(|r| r.get::<_, i32>(0)));
        }
        assert_eq!(ids, [1, 2, 3, 4, 5], "{mode}: the planted parent row must not be read");
        drop(portal);
        tx.commit().await.unwrap();
    }
}

/// A statement bound without parameters always routes the same way: the
/// decision is made once and reused, each Bind still getting its own result
/// formats and its own refusal.
#[tokio::test]
async fn a_statement_without_parameters_reuses_its_routing() {
    let db = "extended_fixed";
    let (extra, direct) = database(db).await;
    for mode in ["transaction", "session"] {
        direct.batch_execute("TRUNCATE p_int4").await.unwrap();
        let (proxy, proxied) = through_proxy(&extra, db, mode).await;
        let insert = proxied
            .prepare("INSERT INTO p_int4 (id, k, note) VALUES (1, 150, 'a'), (2, 50, 'b') RETURNING id, note")
            .await
            .unwrap();
        let refused = proxied
            .prepare("INSERT INTO p_int4 (id, k, note) VALUES (3, NULL, 'n')")
            .await
            .unwrap();
        // Another client holds the server just used in a transaction, so
        // in transaction mode the next round runs on a server that has not
        // prepared the parts yet.
        let other = support::connect(proxy.port, "postgres", support::PASSWORD, db)
            .await
            .unwrap();
        for round in 0..3 {
            // tokio-postgres reads results in binary: the parts must be bound so.
            let rows = proxied.query(&insert, &[]).await.unwrap();
            let got: Vec<(i32, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
            assert_eq!(got, [(1, "a".to_owned()), (2, "b".to_owned())], "{mode} round {round}");
            let err = proxied.execute(&refused, &[]).await.unwrap_err();
            assert_eq!(support::sqlstate(&err), "23514", "{mode} round {round}");
            let hold = if round % 2 == 0 { "BEGIN; SELECT 1" } else { "COMMIT" };
            other.batch_execute(hold).await.unwrap();
        }
        assert_eq!(
            support::landed(&direct, "p_int4", "").await,
            [("p_int4_hi".to_owned(), 3), ("p_int4_lo".to_owned(), 3)],
            "{mode}"
        );
    }
}
