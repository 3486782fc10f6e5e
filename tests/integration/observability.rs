//! Metrics, the admin console, health checks and the status page, checked
//! after real traffic through a real proxy.

use std::time::Duration;

use tokio_postgres::{Client, SimpleQueryMessage};

use crate::support::{self, sqlstate, Cluster, ProxySettings, Scrape, TestProxy};

/// Added to the shared legacy `logs` schema: the parent proven empty, and rows.
const SCHEMA: &str = r#"
ALTER TABLE ONLY logs ADD CONSTRAINT logs_is_empty CHECK (false) NO INHERIT;
INSERT INTO logs_2024_01 SELECT g, '2024-01-01 00:00:00+00'::timestamptz + g * interval '1 hour', 'm' FROM generate_series(0, 99) g;
"#;

fn schema() -> String {
    format!("{}{SCHEMA}", support::LEGACY_LOGS)
}

/// A proxy (transaction mode, child labels on, postgres as admin) in front
/// of a fresh database holding `logs` with three monthly children.
async fn setup(db: &str) -> (TestProxy, Client) {
    let cluster = Cluster::shared();
    let (extra, _direct) = support::database_with(cluster, db, &schema()).await;
    let p = TestProxy::start(
        cluster,
        ProxySettings {
            extra: format!("{extra}\n[[routing.tables]]\nparent = \"logs\"\non_unmatched = \"error\"\n"),
            ..Default::default()
        },
    );
    let proxied = support::connect(p.port, "postgres", support::PASSWORD, db)
        .await
        .unwrap();
    (p, proxied)
}

/// Top-level keys must come before the tables of the generated file.
fn with_top_level(cluster: &Cluster, db: &str, top: &str) -> (TestProxy, u16) {
    let port = support::free_port();
    let text = format!(
        "{top}\nlisten = \"127.0.0.1:{port}\"\nlog_level = \"warn\"\nshutdown_timeout_secs = 5\n\
         admin_users = [\"postgres\"]\n\
         [pool]\nmode = \"transaction\"\npool_size = 4\n\
         [[users]]\nname = \"postgres\"\npassword = \"{pw}\"\n\
         [[users]]\nname = \"appuser\"\npassword = \"apppw\"\n{db_entry}",
        pw = support::PASSWORD,
        db_entry = support::database_config(cluster, db),
    );
    // The proxy's own refusals, so their counters can be checked.
    let text = format!("{text}\n[[routing.tables]]\nparent = \"logs\"\non_unmatched = \"error\"\n");
    (TestProxy::start_with_config(&text, port), port)
}

async fn admin(port: u16, user: &str, password: &str) -> Result<Client, tokio_postgres::Error> {
    support::connect(port, user, password, "partproxy").await
}

/// Rows of an admin command, as (columns, rows).
async fn console(c: &Client, sql: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut columns = Vec::new();
    let mut out = Vec::new();
    for m in c.simple_query(sql).await.unwrap_or_else(|e| panic!("{sql}: {e:?}")) {
        if let SimpleQueryMessage::Row(r) = m {
            if columns.is_empty() {
                columns = r.columns().iter().map(|c| c.name().to_owned()).collect();
            }
            out.push((0..r.len()).map(|i| r.get(i).unwrap_or("").to_owned()).collect());
        }
    }
    (columns, out)
}

fn column(columns: &[String], name: &str) -> usize {
    columns
        .iter()
        .position(|c| c == name)
        .unwrap_or_else(|| panic!("no column {name} in {columns:?}"))
}

/// The difference between two scrapes of one series.
fn delta(before: &Scrape, after: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    after.sum(name, labels) - before.sum(name, labels)
}

#[tokio::test]
async fn routing_counters_move_by_exactly_the_traffic_sent() {
    let cluster = Cluster::shared();
    let db = "obs_counters";
    let (_, direct) = support::database_with(cluster, db, &schema()).await;
    let (p, port) = with_top_level(cluster, db, "metrics_child_labels = true");
    let c = support::connect(port, "postgres", support::PASSWORD, db).await.unwrap();
    let before = p.scrape();
    let d = [("database", db)];
    let logs = [("database", db), ("parent", "public.logs")];

    // Three point reads of one child, one range read over two.
    for h in [1, 2, 3] {
        c.simple_query(&format!(
            "SELECT * FROM logs WHERE created_at = '2024-01-01 0{h}:00:00+00'"
        ))
        .await
        .unwrap();
    }
    c.simple_query("SELECT count(*) FROM logs WHERE created_at >= '2024-01-20' AND created_at < '2024-02-10'")
        .await
        .unwrap();
    // Three rows over two children.
    c.simple_query(
        "INSERT INTO logs VALUES (1000, '2024-02-02 00:00:00+00', 'a'), (1001, '2024-02-03 00:00:00+00', 'b'), (1002, '2024-03-04 00:00:00+00', 'c')",
    )
    .await
    .unwrap();
    // Passed through: ONLY the parent.
    c.simple_query("SELECT * FROM ONLY logs").await.unwrap();
    // Refused: no child accepts 2030; both rows are rejected.
    let e = c
        .simple_query("INSERT INTO logs VALUES (1, '2030-01-01 00:00:00+00', 'x'), (2, '2024-01-01 00:00:00+00', 'y')")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "23514");
    // Naming no parent.
    c.simple_query("SELECT 1").await.unwrap();
    c.simple_query("SELECT 2").await.unwrap();
    // A prepared statement bound twice: routed per Bind, parsed once.
    let stmt = c.prepare("SELECT id FROM logs WHERE created_at = $1").await.unwrap();
    for day in [2, 3] {
        let at = chrono::DateTime::parse_from_rfc3339(&format!("2024-01-0{day}T00:00:00Z"))
            .unwrap()
            .with_timezone(&chrono::Utc);
        let rows = c.query(&stmt, &[&at]).await.unwrap();
        assert_eq!(rows.len(), 1);
    }

    let after = p.scrape();
    let stmts = "partproxy_route_statements_total";
    let outcome = |o: &'static str| [("database", db), ("parent", "public.logs"), ("outcome", o)];
    assert_eq!(
        delta(&before, &after, stmts, &outcome("routed_single")),
        5.0,
        "3 reads + 2 Binds"
    );
    assert_eq!(
        delta(&before, &after, stmts, &outcome("routed_multi")),
        2.0,
        "range + split INSERT"
    );
    assert_eq!(delta(&before, &after, stmts, &outcome("error")), 1.0);
    let only = [("database", db), ("parent", "public.logs"), ("reason", "only")];
    assert_eq!(delta(&before, &after, stmts, &only), 1.0);
    let none = [("database", db), ("parent", ""), ("reason", "no_parent")];
    assert_eq!(delta(&before, &after, stmts, &none), 2.0);
    assert_eq!(delta(&before, &after, "partproxy_route_rows_total", &logs), 3.0);
    assert_eq!(
        delta(&before, &after, "partproxy_route_rejected_rows_total", &logs),
        2.0
    );
    let child = |name: &'static str| [("database", db), ("child", name)];
    assert_eq!(
        delta(
            &before,
            &after,
            "partproxy_route_child_rows_total",
            &child("public.logs_2024_02")
        ),
        2.0
    );
    assert_eq!(
        delta(
            &before,
            &after,
            "partproxy_route_child_rows_total",
            &child("public.logs_2024_03")
        ),
        1.0
    );
    assert_eq!(
        delta(
            &before,
            &after,
            "partproxy_route_child_statements_total",
            &child("public.logs_2024_01")
        ),
        6.0,
        "3 reads, the range read, 2 Binds"
    );
    // Every statement naming the parent was timed; the histogram counts them.
    assert_eq!(
        delta(&before, &after, "partproxy_route_duration_seconds_count", &d),
        9.0,
        "5 single + 2 multi + 1 passthrough + 1 error"
    );
    assert_eq!(delta(&before, &after, "partproxy_parse_cache_misses_total", &[]), 1.0);
    assert_eq!(delta(&before, &after, "partproxy_parse_cache_hits_total", &[]), 1.0);
    // Children per statement: 5 single (1 each) + range (2) + split (2) = 9 over 7.
    assert_eq!(
        delta(&before, &after, "partproxy_route_children_per_statement_sum", &logs),
        9.0
    );
    assert_eq!(
        delta(&before, &after, "partproxy_route_children_per_statement_count", &logs),
        7.0
    );
    assert_eq!(after.sum("partproxy_catalog_parents", &d), 1.0);
    assert_eq!(after.sum("partproxy_catalog_children", &d), 3.0);
    assert!(after.sum("partproxy_catalog_refreshes_total", &d) >= 1.0);

    // The rows really landed where the counters say.
    assert_eq!(
        support::landed(&direct, "logs", "WHERE id >= 1000").await,
        vec![("logs_2024_02".to_owned(), 2), ("logs_2024_03".to_owned(), 1)]
    );
}

#[tokio::test]
async fn traffic_and_pool_counters() {
    let cluster = Cluster::shared();
    let db = "obs_traffic";
    support::fresh_database(cluster, db);
    let (p, port) = with_top_level(cluster, db, "");
    let c = support::connect(port, "postgres", support::PASSWORD, db).await.unwrap();
    let before = p.scrape();
    let pool = [("database", db), ("user", "postgres")];
    for i in 0..5 {
        c.simple_query(&format!("SELECT {i}")).await.unwrap();
    }
    c.batch_execute("BEGIN").await.unwrap();
    c.simple_query("SELECT 1").await.unwrap();
    c.batch_execute("COMMIT").await.unwrap();
    let after = p.scrape();
    assert_eq!(delta(&before, &after, "partproxy_queries_total", &pool), 8.0);
    assert_eq!(delta(&before, &after, "partproxy_transactions_total", &pool), 6.0);
    assert_eq!(
        delta(&before, &after, "partproxy_query_duration_seconds_count", &pool),
        8.0
    );
    // Transaction pooling: a checkout per transaction.
    assert_eq!(delta(&before, &after, "partproxy_pool_checkouts_total", &pool), 6.0);
    assert!(delta(&before, &after, "partproxy_client_bytes_received_total", &pool) > 0.0);
    assert!(delta(&before, &after, "partproxy_client_bytes_sent_total", &pool) > 0.0);
    assert_eq!(after.sum("partproxy_pool_size", &pool), 4.0);
    assert_eq!(after.sum("partproxy_pool_clients_connected", &pool), 1.0);
    assert_eq!(after.sum("partproxy_pool_servers_active", &pool), 0.0);
    assert_eq!(after.sum("partproxy_clients_connected", &[]), 1.0);
    assert!(after.has("process_resident_memory_bytes"));
}

#[tokio::test]
async fn health_and_readiness() {
    let cluster = Cluster::shared();
    let db = "obs_health";
    support::fresh_database(cluster, db);
    let dead = support::free_port();
    let (p, _) = with_top_level(cluster, db, "");
    assert_eq!(support::http_get(p.metrics_port, "/healthz"), (200, "ok\n".to_owned()));
    let (status, body) = support::http_get(p.metrics_port, "/readyz");
    assert_eq!((status, body.as_str()), (200, "obs_health: ok\n"));
    let (status, _) = support::http_get(p.metrics_port, "/nowhere");
    assert_eq!(status, 404);
    // A database whose server is down makes the proxy not ready.
    p.append_config(&format!("\n[[databases]]\nname = \"gone\"\nport = {dead}\n"));
    let c = admin(p.port, "postgres", support::PASSWORD).await.unwrap();
    c.simple_query("RELOAD").await.unwrap();
    let (status, body) = support::http_get(p.metrics_port, "/readyz");
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains("gone: 127.0.0.1:") && body.contains("obs_health: ok"),
        "{body}"
    );
}

#[tokio::test]
async fn admin_console_answers_with_pgbouncer_columns() {
    let (p, c) = setup("obs_admin").await;
    c.simple_query("SELECT * FROM logs WHERE created_at = '2024-01-01 05:00:00+00'")
        .await
        .unwrap();
    c.simple_query("SELECT * FROM ONLY logs").await.unwrap();
    c.simple_query("SELECT * FROM ONLY logs").await.unwrap();
    let a = admin(p.port, "postgres", support::PASSWORD).await.unwrap();

    let (cols, rows) = console(&a, "SHOW POOLS").await;
    for name in [
        "database",
        "user",
        "cl_active",
        "cl_waiting",
        "sv_active",
        "sv_idle",
        "maxwait",
        "pool_mode",
    ] {
        column(&cols, name);
    }
    let ours = rows
        .iter()
        .find(|r| r[column(&cols, "database")] == "obs_admin")
        .unwrap_or_else(|| panic!("no pool row for obs_admin: {rows:?}"));
    assert_eq!(ours[column(&cols, "cl_active")], "1", "{cols:?} {rows:?}");
    assert_eq!(ours[column(&cols, "user")], "postgres");
    assert_eq!(ours[column(&cols, "cl_active")], "1");
    assert_eq!(ours[column(&cols, "sv_active")], "0");
    assert_eq!(ours[column(&cols, "pool_mode")], "transaction");

    let (cols, rows) = console(&a, "SHOW ROUTES").await;
    let logs = rows
        .iter()
        .find(|r| r[column(&cols, "database")] == "obs_admin" && r[column(&cols, "parent")] == "public.logs")
        .expect("a routes row for logs");
    assert_eq!(logs[column(&cols, "routed_single")], "1");
    assert_eq!(logs[column(&cols, "passthrough")], "2");
    assert_eq!(logs[column(&cols, "top_passthrough_reasons")], "only: 2");

    let (cols, rows) = console(&a, "SHOW PARTITIONS logs").await;
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0][column(&cols, "child")], "public.logs_2024_01");
    assert_eq!(rows[0][column(&cols, "key")], "created_at");
    assert_eq!(rows[0][column(&cols, "kind")], "inheritance");
    assert_eq!(rows[0][column(&cols, "pruning")], "yes");
    assert!(rows[0][column(&cols, "bounds")].starts_with("[2024-01-01 00:00:00+00, 2024-01-31 23:59:59.999999+00]"));
    assert_eq!(rows[0][column(&cols, "statements")], "1");
    let e = a.simple_query("SHOW PARTITIONS nosuch").await.unwrap_err();
    assert_eq!(sqlstate(&e), "42704");

    let (cols, rows) = console(&a, "SHOW CLIENTS").await;
    let dbs: Vec<&str> = rows.iter().map(|r| r[column(&cols, "database")].as_str()).collect();
    assert!(dbs.contains(&"obs_admin") && dbs.contains(&"partproxy"), "{dbs:?}");
    column(&cols, "state");
    column(&cols, "addr");

    let (cols, rows) = console(&a, "SHOW SERVERS").await;
    assert!(rows
        .iter()
        .any(|r| r[column(&cols, "database")] == "obs_admin" && r[column(&cols, "state")] == "idle"));

    let (cols, rows) = console(&a, "SHOW STATS").await;
    let stats = rows
        .iter()
        .find(|r| r[column(&cols, "database")] == "obs_admin")
        .expect("stats for obs_admin");
    assert_eq!(stats[column(&cols, "total_query_count")], "3");
    assert_eq!(stats[column(&cols, "total_xact_count")], "3");

    let (cols, rows) = console(&a, "SHOW CONFIG").await;
    let mode = rows.iter().find(|r| r[0] == "pool.mode").expect("pool.mode");
    assert_eq!(mode[column(&cols, "value")], "transaction");

    // Bad input: an error, and the console goes on.
    let e = a.simple_query("DROP TABLE logs").await.unwrap_err();
    assert_eq!(sqlstate(&e), "42601");
    let e = a.query("SHOW POOLS", &[]).await.unwrap_err();
    assert_eq!(sqlstate(&e), "0A000");
    assert_eq!(console(&a, "SHOW VERSION").await.1.len(), 1);

    // Only admin users get in.
    let e = admin(p.port, "appuser", "apppw").await.unwrap_err();
    assert_eq!(sqlstate(&e), "28000");
}

#[tokio::test]
async fn pause_holds_new_work_until_resume_and_reload_adds_a_database() {
    let (p, c) = setup("obs_pause").await;
    let a = admin(p.port, "postgres", support::PASSWORD).await.unwrap();
    assert_eq!(console(&a, "PAUSE").await.1.len(), 0);
    let query = tokio::spawn(async move {
        let r = c.simple_query("SELECT count(*) FROM logs").await.map(|_| ());
        (c, r)
    });
    // The query reaches the proxy and waits there.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (cols, rows) = console(&a, "SHOW CLIENTS").await;
        if rows.iter().any(|r| r[column(&cols, "state")] == "waiting") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no client waiting: {rows:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!query.is_finished(), "a query ran while paused");
    a.simple_query("RESUME").await.unwrap();
    let (_c, r) = tokio::time::timeout(Duration::from_secs(10), query)
        .await
        .expect("query finished after RESUME")
        .unwrap();
    r.unwrap();

    // RELOAD reads the file again: a database added there can be used.
    let e = support::connect(p.port, "postgres", support::PASSWORD, "obs_added")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "3D000");
    let cluster = Cluster::shared();
    p.append_config(&format!(
        "\n[[databases]]\nname = \"obs_added\"\ndbname = \"obs_pause\"\nport = {}\nuser = \"postgres\"\npassword = \"{}\"\n",
        cluster.port,
        support::PASSWORD
    ));
    a.simple_query("RELOAD").await.unwrap();
    let added = support::connect(p.port, "postgres", support::PASSWORD, "obs_added")
        .await
        .unwrap();
    let n: i64 = added.query_one("SELECT count(*) FROM logs", &[]).await.unwrap().get(0);
    assert_eq!(n, 100);
    // A file that no longer parses is refused and the running config stays.
    p.append_config("\nthis is not toml\n");
    let e = a.simple_query("RELOAD").await.unwrap_err();
    assert_eq!(sqlstate(&e), "F0000");
    assert!(added.query_one("SELECT 1", &[]).await.is_ok());
}

#[tokio::test]
async fn shutdown_from_the_console_stops_the_proxy() {
    let (mut p, c) = setup("obs_shutdown").await;
    let a = admin(p.port, "postgres", support::PASSWORD).await.unwrap();
    a.simple_query("SHUTDOWN").await.unwrap();
    drop(c);
    let status = p
        .wait_exit(Duration::from_secs(15))
        .expect("proxy exited after SHUTDOWN");
    assert!(status.success(), "{status:?}");
}

/// The status page, rendered by a real browser after traffic, shows the
/// same figures `/metrics` exports.
#[tokio::test]
async fn status_page_in_a_browser_matches_the_metrics() {
    let Some(browser) = support::chromium() else {
        return;
    };
    let cluster = Cluster::shared();
    let db = "obs_page";
    support::database_with(cluster, db, &schema()).await;
    let (p, port) = with_top_level(cluster, db, "metrics_child_labels = true");
    let c = support::connect(port, "postgres", support::PASSWORD, db).await.unwrap();
    for day in 1..=20 {
        c.simple_query(&format!(
            "SELECT * FROM logs WHERE created_at = '2024-01-{day:02} 00:00:00+00'"
        ))
        .await
        .unwrap();
    }
    c.simple_query(
        "INSERT INTO logs VALUES (500, '2024-02-02 00:00:00+00', 'a'), (501, '2024-03-03 00:00:00+00', 'b')",
    )
    .await
    .unwrap();
    c.simple_query("SELECT * FROM ONLY logs").await.unwrap();
    c.simple_query("SELECT 1").await.unwrap();

    let url = format!("http://127.0.0.1:{}/", p.metrics_port);
    let dom = support::browser_dom(&browser, &url);
    let scrape = p.scrape();
    assert!(
        dom.contains("data-loaded=\"1\""),
        "the page never rendered its data:\n{dom}"
    );
    let figures = support::page_figures(&dom);
    assert!(figures.len() >= 15, "too few figures on the page: {figures:?}");
    for (name, labels, shown) in &figures {
        let matching: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            *shown,
            scrape.sum(name, &matching),
            "{name} {labels:?} on the page differs from /metrics"
        );
    }
    // The page shows what was sent: 20 single reads, and the children's heat.
    assert!(
        figures.iter().any(|(n, l, v)| n == "partproxy_route_statements_total"
            && l.get("outcome").map(String::as_str) == Some("routed_single")
            && *v == 20.0),
        "{figures:?}"
    );
    assert!(figures
        .iter()
        .any(|(n, l, v)| n == "partproxy_route_child_statements_total"
            && l.get("child").map(String::as_str) == Some("public.logs_2024_01")
            && *v == 20.0));
    support::browser_screenshot(&browser, &url, "status-page.png");
}
