//! Statements built to hurt a parser: a 10,000-term OR chain, 5,000 nested
//! parentheses, 20,000 UNION ALL arms, all naming a parent. Each is answered
//! as PostgreSQL answers it (rows or its own error), the proxy keeps serving
//! everyone, and statements that merely contain a parent's name are not
//! counted under that parent.

use crate::support::{self, Cluster, ProxySettings, TestProxy, PASSWORD};

const SCHEMA: &str = "
CREATE TABLE events (k int, note text) PARTITION BY RANGE (k);
CREATE TABLE events_lo PARTITION OF events FOR VALUES FROM (0) TO (5000);
CREATE TABLE events_hi PARTITION OF events FOR VALUES FROM (5000) TO (20000);
INSERT INTO events SELECT g, 'n' || g FROM generate_series(0, 19999, 7) g;
";

/// The rows (sorted) or the SQLSTATE of a simple query.
async fn answer(c: &tokio_postgres::Client, sql: &str) -> Result<Vec<Vec<Option<String>>>, String> {
    match c.simple_query(sql).await {
        Ok(messages) => {
            let mut rows: Vec<Vec<Option<String>>> = messages
                .into_iter()
                .filter_map(|m| match m {
                    tokio_postgres::SimpleQueryMessage::Row(r) => {
                        Some((0..r.len()).map(|i| r.get(i).map(str::to_owned)).collect())
                    }
                    _ => None,
                })
                .collect();
            rows.sort();
            Ok(rows)
        }
        Err(e) => Err(support::sqlstate(&e)),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn deep_and_long_statements_are_answered_and_the_proxy_survives() {
    let cluster = Cluster::shared();
    let (extra, direct) = support::database_with(cluster, "hostile", SCHEMA).await;
    let p = TestProxy::start(
        cluster,
        ProxySettings {
            extra,
            ..Default::default()
        },
    );
    let c = support::connect(p.port, "postgres", PASSWORD, "hostile").await.unwrap();
    let bystander = support::connect(p.port, "postgres", PASSWORD, "hostile").await.unwrap();
    let ors: Vec<String> = (0..10_000).map(|i| format!("k = {}", i * 2)).collect();
    let unions = vec!["SELECT count(*) FROM events WHERE k = 7"; 20_000].join(" UNION ALL ");
    let statements = [
        format!("SELECT count(*) FROM events WHERE {}", ors.join(" OR ")),
        format!(
            "SELECT count(*) FROM events WHERE {}k = 7{}",
            "(".repeat(5000),
            ")".repeat(5000)
        ),
        format!("SELECT count(*) FROM events WHERE k = {}7", "- ".repeat(5000)),
        format!("SELECT count(*) FROM events WHERE k = 7{}", "::int".repeat(10_000)),
        unions,
        format!(
            "SELECT count(*) FROM events WHERE k IN ({})",
            (0..20_000).map(|i| i.to_string()).collect::<Vec<_>>().join(", ")
        ),
    ];
    for sql in &statements {
        let through = answer(&c, sql).await;
        let straight = answer(&direct, sql).await;
        assert_eq!(through, straight, "{}...", &sql[..80]);
        // Everyone else is still served.
        let n = answer(&bystander, "SELECT count(*) FROM events WHERE k = 14").await;
        assert_eq!(n, Ok(vec![vec![Some("1".into())]]));
    }
    // Statements that only contain a parent's name are not that parent's.
    c.batch_execute("BEGIN; DECLARE events CURSOR FOR SELECT 1; FETCH 1 FROM events; CLOSE events; COMMIT")
        .await
        .unwrap();
    let _ = c.simple_query("SHOW events_hi_x").await;
    let scrape = p.scrape();
    let under_parent = scrape.sum(
        "partproxy_route_statements_total",
        &[
            ("parent", "public.events"),
            ("outcome", "passthrough"),
            ("reason", "unsupported_statement"),
        ],
    );
    assert_eq!(under_parent, 0.0, "FETCH/SHOW counted under the parent");
    let too_complex = scrape.sum(
        "partproxy_route_statements_total",
        &[("parent", "public.events"), ("reason", "too_complex")],
    );
    assert!(
        too_complex >= 4.0,
        "deep statements counted as too_complex: {too_complex}"
    );
}
