//! `partproxy demo`: a throwaway PostgreSQL with a legacy partitioned table
//! (monthly children, CHECK constraints, an IF/ELSIF insert trigger as in
//! the PostgreSQL manual), the proxy in front of it, and the same workload
//! sent both ways, compared.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

use crate::config::{Config, Overrides, PoolMode};
use crate::localpg::{ClusterOptions, LocalCluster};
use crate::proxy::Proxy;

/// Options of `partproxy demo`.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoOptions {
    /// Address the proxy listens on.
    #[arg(long, default_value = "127.0.0.1:6432")]
    pub listen: String,
    /// Address of /metrics and the status page ("" turns them off; a busy
    /// port falls back to a free one).
    #[arg(long, default_value = crate::config::DEFAULT_METRICS_LISTEN)]
    pub metrics_listen: String,
    /// Statements of each kind, sent each way.
    #[arg(long, default_value_t = 200)]
    pub statements: usize,
    /// Rows loaded into the table before the workload.
    #[arg(long, default_value_t = 150_000)]
    pub rows: u32,
    /// Stop after the report instead of serving until Ctrl-C.
    #[arg(long)]
    pub exit: bool,
}

const PASSWORD: &str = "postgres";
const DATABASE: &str = "demo";
const MONTHS: u32 = 36;
/// Seeded rows are `ROW_SPACING` apart from 2024-01-01 00:00 UTC.
const ROW_SPACING_SECS: i64 = 600;
const DIRECT_IDS: i64 = 10_000_000;
const PROXY_IDS: i64 = 20_000_000;

/// Stops and removes the cluster however the demo ends.
struct ClusterGuard(LocalCluster);

impl Drop for ClusterGuard {
    fn drop(&mut self) {
        self.0.destroy();
    }
}

fn first_month() -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 1, 1).unwrap_or_default()
}

fn month_start(i: u32) -> NaiveDate {
    first_month().checked_add_months(Months::new(i)).unwrap_or_default()
}

/// The legacy schema: a parent, a child per month with a CHECK constraint
/// and an index, and the IF/ELSIF routing trigger.
pub fn legacy_schema(months: u32) -> String {
    let mut sql = String::from(
        "CREATE TABLE logs (id bigint NOT NULL, created_at timestamptz NOT NULL, \
         level text NOT NULL DEFAULT 'info', message text);\n\
         -- The trigger never stores rows in the parent; saying so lets readers skip it.\n\
         ALTER TABLE ONLY logs ADD CONSTRAINT logs_parent_empty CHECK (false) NO INHERIT;\n",
    );
    let mut trigger =
        String::from("CREATE FUNCTION logs_insert_trigger() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n");
    for i in 0..months {
        let (lo, hi) = (month_start(i), month_start(i + 1));
        let child = format!("logs_{}_{:02}", lo.year(), lo.month());
        let _ = writeln!(
            sql,
            "CREATE TABLE {child} (CHECK (created_at >= '{lo} 00:00:00+00' AND created_at < '{hi} 00:00:00+00')) INHERITS (logs);\n\
             CREATE INDEX ON {child} (created_at);"
        );
        let keyword = if i == 0 { "IF" } else { "ELSIF" };
        let _ = writeln!(
            trigger,
            "  {keyword} NEW.created_at >= '{lo} 00:00:00+00' AND NEW.created_at < '{hi} 00:00:00+00' THEN\n    INSERT INTO {child} VALUES (NEW.*);"
        );
    }
    trigger.push_str(
        "  ELSE\n    RAISE EXCEPTION 'Date out of range.  Fix the logs_insert_trigger() function!';\n  END IF;\n  RETURN NULL;\nEND $$;\n\
         CREATE TRIGGER insert_logs_trigger BEFORE INSERT ON logs FOR EACH ROW EXECUTE FUNCTION logs_insert_trigger();\n",
    );
    sql + &trigger
}

/// The SQL the compose stack initialises its PostgreSQL with: the demo's
/// legacy schema in database `demo`, with `rows` rows loaded through the
/// trigger (kept in `config/compose/initdb/01-demo.sql`, checked by a test).
pub fn compose_init_sql(rows: u32) -> String {
    format!(
        "-- Generated from partproxy's demo schema (src/demo.rs); a unit test keeps it in step.\n\
         CREATE DATABASE {DATABASE};\n\\connect {DATABASE}\n{}\
         INSERT INTO logs (id, created_at, level, message) SELECT g, '2024-01-01 00:00:00+00'::timestamptz + g * interval '{ROW_SPACING_SECS} seconds', \
         (ARRAY['debug','info','warn','error'])[1 + g % 4], 'message ' || g FROM generate_series(1, {rows}) g;\nANALYZE logs;\n",
        legacy_schema(MONTHS)
    )
}

fn seeded_at(g: i64) -> DateTime<Utc> {
    first_month().and_hms_opt(0, 0, 0).unwrap_or_default().and_utc() + chrono::Duration::seconds(g * ROW_SPACING_SECS)
}

fn lit(t: DateTime<Utc>) -> String {
    format!("'{}'", t.format("%Y-%m-%d %H:%M:%S+00"))
}

/// One kind of statement in the workload: each entry is the text sent
/// directly and the text sent through the proxy — the same, except that
/// writes use their own id range on each side.
struct Kind {
    name: &'static str,
    reads: bool,
    statements: Vec<[String; 2]>,
}

/// The same statement for both sides.
fn same(sql: String) -> [String; 2] {
    [sql.clone(), sql]
}

/// A write for both sides, given each side's id base.
fn per_side(f: impl Fn(i64) -> String) -> [String; 2] {
    [f(DIRECT_IDS), f(PROXY_IDS)]
}

fn workload(n: usize, seeded: u32, rng: &mut StdRng) -> Vec<Kind> {
    let span = i64::from(seeded.max(2)) - 1;
    let max_secs = (i64::from(MONTHS) * 28 * 86_400).min(span * ROW_SPACING_SECS);
    let mut point = Vec::new();
    let mut range = Vec::new();
    let mut one = Vec::new();
    let mut hundred = Vec::new();
    let mut update = Vec::new();
    let mut delete = Vec::new();
    for i in 0..n as i64 {
        let g = rng.gen_range(1..=span);
        let at = lit(seeded_at(g));
        point.push(same(format!(
            "SELECT id, level, message FROM logs WHERE created_at = {at}"
        )));
        let day = seeded_at(rng.gen_range(0..span)).date_naive();
        range.push(same(format!(
            "SELECT count(*), max(id) FROM logs WHERE created_at >= '{day}' AND created_at < '{}'",
            day + chrono::Duration::days(1)
        )));
        let t = lit(seeded_at(0) + chrono::Duration::seconds(rng.gen_range(0..max_secs)));
        one.push(per_side(|base| {
            format!(
                "INSERT INTO logs (id, created_at, message) VALUES ({}, {t}, 'one row')",
                base + i
            )
        }));
        update.push(same(format!(
            "UPDATE logs SET level = 'warn' WHERE created_at = {at} AND id = {g}"
        )));
        delete.push(per_side(|base| {
            format!("DELETE FROM logs WHERE created_at = {t} AND id = {}", base + i)
        }));
        // 100 rows over about three months.
        let start = rng.gen_range(0..(max_secs - 90 * 86_400).max(1));
        let rows: Vec<i64> = (0..100).map(|_| start + rng.gen_range(0..90 * 86_400)).collect();
        hundred.push(per_side(|base| {
            let values: Vec<String> = rows
                .iter()
                .enumerate()
                .map(|(r, secs)| {
                    format!(
                        "({}, {}, 'batch')",
                        base + 1_000_000 + i * 100 + r as i64,
                        lit(seeded_at(0) + chrono::Duration::seconds(*secs))
                    )
                })
                .collect();
            format!(
                "INSERT INTO logs (id, created_at, message) VALUES {}",
                values.join(", ")
            )
        }));
    }
    vec![
        Kind {
            name: "point SELECT by created_at",
            reads: true,
            statements: point,
        },
        Kind {
            name: "1-day range SELECT",
            reads: true,
            statements: range,
        },
        Kind {
            name: "1-row INSERT",
            reads: false,
            statements: one,
        },
        Kind {
            name: "100-row INSERT (3 months)",
            reads: false,
            statements: hundred,
        },
        Kind {
            name: "UPDATE by key",
            reads: false,
            statements: update,
        },
        Kind {
            name: "DELETE by key",
            reads: false,
            statements: delete,
        },
    ]
}

type Rows = Vec<Vec<Option<String>>>;

async fn timed(c: &Client, sql: &str) -> Result<(Duration, Rows, Option<u64>), String> {
    let started = Instant::now();
    let messages = c.simple_query(sql).await.map_err(|e| format!("{e}: {sql:.120}"))?;
    let took = started.elapsed();
    let mut rows = Vec::new();
    let mut tag = None;
    for m in messages {
        match m {
            SimpleQueryMessage::Row(r) => rows.push((0..r.len()).map(|i| r.get(i).map(str::to_owned)).collect()),
            SimpleQueryMessage::CommandComplete(n) => tag = Some(n),
            _ => {}
        }
    }
    Ok((took, rows, tag))
}

async fn connect(port: u16) -> Result<Client, String> {
    let (client, conn) = tokio_postgres::Config::new()
        .host("127.0.0.1")
        .port(port)
        .user("postgres")
        .password(PASSWORD)
        .dbname(DATABASE)
        .connect_timeout(Duration::from_secs(10))
        .connect(NoTls)
        .await
        .map_err(|e| format!("connect to port {port}: {e}"))?;
    tokio::spawn(conn);
    Ok(client)
}

/// Shortens EXPLAIN ROUTE's table list for the report.
fn summarize(tables: &str) -> String {
    let names: Vec<&str> = tables
        .split(", ")
        .filter(|t| !t.is_empty())
        .map(|t| t.trim_start_matches("public."))
        .collect();
    match names.as_slice() {
        [] => "no table".into(),
        [one] => (*one).to_owned(),
        [first, .., last] => format!("{} tables ({first} … {last})", names.len()),
    }
}

fn micros(d: Duration, n: usize) -> f64 {
    d.as_secs_f64() * 1e6 / n.max(1) as f64
}

/// Runs the demo.
pub async fn run(opts: DemoOptions) -> Result<(), String> {
    println!("partproxy demo\n");
    let cluster = ClusterGuard(
        tokio::task::spawn_blocking(|| {
            LocalCluster::start(&ClusterOptions {
                password: PASSWORD.into(),
                ..ClusterOptions::default()
            })
        })
        .await
        .map_err(|e| e.to_string())??,
    );
    let port = cluster.0.port;
    cluster.0.psql("postgres", &format!("CREATE DATABASE {DATABASE}"))?;
    let direct = connect(port).await?;
    let version = timed(&direct, "SHOW server_version").await?.1;
    let version = version
        .first()
        .and_then(|r| r.first().cloned().flatten())
        .unwrap_or_default();
    println!("  PostgreSQL {version} started on 127.0.0.1:{port} (throwaway cluster, database \"{DATABASE}\")");

    direct
        .batch_execute(&legacy_schema(MONTHS))
        .await
        .map_err(|e| format!("schema: {e}"))?;
    let started = Instant::now();
    direct
        .batch_execute(&format!(
            "INSERT INTO logs (id, created_at, level, message) SELECT g, '2024-01-01 00:00:00+00'::timestamptz + g * interval '{ROW_SPACING_SECS} seconds', \
             (ARRAY['debug','info','warn','error'])[1 + g % 4], 'message ' || g FROM generate_series(1, {}) g; ANALYZE logs;",
            opts.rows
        ))
        .await
        .map_err(|e| format!("loading rows: {e}"))?;
    println!(
        "  legacy schema: logs + {MONTHS} monthly children (CHECK constraints, IF/ELSIF insert trigger,\n    parent marked empty with CHECK (false) NO INHERIT); {} rows loaded through the trigger in {:.1} s",
        opts.rows,
        started.elapsed().as_secs_f64()
    );

    let config = Config::from_overrides(&Overrides {
        listen: Some(opts.listen.clone()),
        upstream: Some(format!("postgres://postgres:{PASSWORD}@127.0.0.1:{port}/{DATABASE}")),
        pool_mode: Some(PoolMode::Transaction),
        pool_size: Some(8),
        log_level: None,
        metrics_listen: Some(opts.metrics_listen.clone()),
        ..Overrides::default()
    })
    .map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind(&opts.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", opts.listen))?;
    let proxy_addr = listener.local_addr().map_err(|e| e.to_string())?;
    let proxy_port = proxy_addr.port();
    let metrics_listener = match &config.metrics_listen {
        Some(addr) => match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => Some(l),
            Err(_) => tokio::net::TcpListener::bind("127.0.0.1:0").await.ok(),
        },
        None => None,
    };
    let status_addr = metrics_listener.as_ref().and_then(|l| l.local_addr().ok());
    let proxy = Proxy::new(config, None);
    let serving = tokio::spawn(crate::app::serve(proxy.clone(), listener, metrics_listener));
    let proxied = connect(proxy_port).await?;
    let catalog = proxy.catalog(DATABASE).map(|c| c.snapshot()).unwrap_or_default();
    println!(
        "  partproxy on {proxy_addr} (transaction pooling): catalog has {} parent(s), {} children\n",
        catalog.hierarchies.len(),
        catalog.child_count()
    );

    let mut rng = StdRng::seed_from_u64(20_241_121);
    let kinds = workload(opts.statements, opts.rows, &mut rng);
    println!(
        "  {:<28} {:<40} {:>11} {:>11} {:>9}",
        format!("statement ({} each way)", opts.statements),
        "routed to (first statement)",
        "direct",
        "proxy",
        "speed-up"
    );
    let mut all_same = true;
    let mut failures = 0usize;
    for kind in &kinds {
        let sample = kind.statements.first().map(|[_, p]| p.clone()).unwrap_or_default();
        let explained = timed(&proxied, &format!("EXPLAIN ROUTE {sample}")).await?.1;
        let route = explained
            .first()
            .map(|r| match (r.get(1).cloned().flatten(), r.get(2).cloned().flatten()) {
                (Some(tables), _) => summarize(&tables),
                (None, decision) => decision.unwrap_or_default(),
            })
            .unwrap_or_default();
        let (mut t_direct, mut t_proxy) = (Duration::ZERO, Duration::ZERO);
        for [to_direct, to_proxy] in &kind.statements {
            let a = timed(&direct, to_direct).await;
            let b = timed(&proxied, to_proxy).await;
            match (a, b) {
                (Ok((da, ra, ta)), Ok((db, rb, tb))) => {
                    t_direct += da;
                    t_proxy += db;
                    if kind.reads && ra != rb {
                        all_same = false;
                    }
                    // The trigger reports INSERT 0 0; the proxy the rows stored.
                    if !kind.reads && !kind.name.contains("INSERT") && ta != tb {
                        all_same = false;
                    }
                }
                (a, b) => {
                    failures += 1;
                    if let Err(e) = a.and(b) {
                        eprintln!("  error: {e}");
                    }
                }
            }
        }
        let n = kind.statements.len();
        let (ud, up) = (micros(t_direct, n), micros(t_proxy, n));
        println!(
            "  {:<28} {:<40} {:>8.0} µs {:>8.0} µs {:>8.1}×",
            kind.name,
            route,
            ud,
            up,
            ud / up.max(1.0)
        );
    }

    // Where the rows went: the proxy's inserts against the trigger's.
    let placed = |base: i64| {
        format!(
            "SELECT tableoid::regclass::text, count(*) FROM logs WHERE id >= {base} AND id < {} GROUP BY 1 ORDER BY 1",
            base + 10_000_000
        )
    };
    let by_trigger: BTreeMap<_, _> = timed(&direct, &placed(DIRECT_IDS))
        .await?
        .1
        .into_iter()
        .map(|r| (r.first().cloned().flatten(), r.get(1).cloned().flatten()))
        .collect();
    let by_proxy: BTreeMap<_, _> = timed(&direct, &placed(PROXY_IDS))
        .await?
        .1
        .into_iter()
        .map(|r| (r.first().cloned().flatten(), r.get(1).cloned().flatten()))
        .collect();
    let rows: u64 = by_proxy
        .values()
        .filter_map(|n| n.as_deref().and_then(|n| n.parse::<u64>().ok()))
        .sum();
    println!();
    if by_trigger == by_proxy && failures == 0 {
        println!(
            "  Rows written through the proxy: {rows} rows in {} children, each exactly where the trigger put the same rows sent directly.",
            by_proxy.len()
        );
    } else {
        println!("  MISMATCH: rows written through the proxy are not where the trigger put them ({failures} failed statements)");
    }
    if all_same {
        println!("  Every SELECT returned the same rows both ways; every UPDATE/DELETE the same command tag.");
    } else {
        println!("  MISMATCH: some statements answered differently through the proxy");
    }
    println!(
        "\n  Try it:  psql postgres://postgres:{PASSWORD}@{proxy_addr}/{DATABASE}\n    EXPLAIN ROUTE SELECT * FROM logs WHERE created_at >= '2025-03-01' AND created_at < '2025-03-02';"
    );

    if let Some(addr) = status_addr {
        println!("  Status page: http://{addr}/   Prometheus metrics: http://{addr}/metrics");
        println!("  Admin console: psql postgres://postgres:{PASSWORD}@{proxy_addr}/partproxy -c 'SHOW ROUTES'");
    }

    let outcome = if by_trigger == by_proxy && all_same && failures == 0 {
        Ok(())
    } else {
        Err("the proxy's answers differed from PostgreSQL's (see above)".to_owned())
    };
    if !opts.exit && outcome.is_ok() {
        println!("  Ctrl-C stops the proxy and removes the throwaway cluster.");
        let _ = tokio::signal::ctrl_c().await;
    }
    drop(proxied);
    proxy.begin_shutdown();
    let _ = tokio::time::timeout(Duration::from_secs(5), serving).await;
    drop(cluster);
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compose_init_sql_is_the_demo_schema() {
        let file = include_str!("../config/compose/initdb/01-demo.sql");
        let sql = compose_init_sql(COMPOSE_ROWS);
        if std::env::var("PARTPROXY_REGENERATE").as_deref() == Ok("1") {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/config/compose/initdb/01-demo.sql");
            std::fs::write(path, &sql).unwrap();
            return;
        }
        assert_eq!(
            file, sql,
            "run this test with PARTPROXY_REGENERATE=1 to rewrite the file"
        );
    }

    /// Rows the compose stack loads.
    const COMPOSE_ROWS: u32 = 150_000;

    #[test]
    fn schema_has_a_child_and_a_branch_per_month() {
        let sql = legacy_schema(3);
        assert!(sql.contains("CREATE TABLE logs_2024_03 (CHECK (created_at >= '2024-03-01 00:00:00+00' AND created_at < '2024-04-01 00:00:00+00')) INHERITS (logs);"));
        assert_eq!(sql.matches("ELSIF").count(), 2);
        assert!(sql.contains("CREATE TRIGGER"));
    }

    #[test]
    fn route_summaries_are_short() {
        assert_eq!(summarize("public.logs_2024_01"), "logs_2024_01");
        assert_eq!(
            summarize("public.logs_2024_01, public.logs_2024_02, public.logs_2024_03"),
            "3 tables (logs_2024_01 … logs_2024_03)"
        );
    }
}
