//! The oracle: thousands of generated cases, each run straight against
//! PostgreSQL (database `oracle_direct`) and through the proxy (database
//! `oracle_proxy`, a twin made from the same template), whose answers must
//! be identical: the same rows, the same command tag and, for writes, the
//! same rows in the same child tables; or the same SQLSTATE.
//!
//! Dimensions (see `schema` and `cases`): key types × hierarchy kinds ×
//! value forms (literals, casts, typed literals, extended-protocol
//! parameters declared with many types or none, in text and binary, SQL
//! PREPARE) × operators × statements, under several TimeZones and
//! standard_conforming_strings. The bulk runs in transaction pooling mode,
//! a sample in session mode.
//!
//! Environment:
//! - `ORACLE_SEED` (default 1): varies the values and forms drawn;
//! - `ORACLE_FILTER`: comma-separated pieces of category names
//!   (`hierarchy × form × operator`, e.g. `leg_int8,binary param`); a case
//!   runs when its category contains any piece (case-insensitive);
//! - `ORACLE_SAMPLE` (default 1): the share of generated cases run;
//! - `ORACLE_SESSION_EVERY` (default 8): every n-th case also runs in session mode;
//! - `ORACLE_MODES` (default `transaction,session`);
//! - `ORACLE_WORKERS` (default 4), `ORACLE_SHOW` (default 30 cases shown in full).

mod cases;
mod report;
mod run;
mod schema;
mod wire;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::support::{self, Cluster, ProxySettings, TestProxy, PASSWORD};
use cases::{Case, Castable, Form, ParamSpec, Settings, Stmt};
use run::{Endpoints, Outcome, Verdict};
use schema::{quote, Hierarchy, SqlType, Value};
use wire::Wire;

const DIRECT_DB: &str = "oracle_direct";
const PROXY_DB: &str = "oracle_proxy";

/// The knobs read from the environment.
struct Knobs {
    seed: u64,
    filter: Vec<String>,
    sample: f64,
    session_every: usize,
    modes: Vec<String>,
    workers: usize,
    show: usize,
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

impl Knobs {
    fn from_env() -> Knobs {
        let list = |name: &str, default: &str| -> Vec<String> {
            std::env::var(name)
                .unwrap_or_else(|_| default.to_owned())
                .split(',')
                .map(|s| s.trim().to_lowercase())
                .filter(|s| !s.is_empty())
                .collect()
        };
        Knobs {
            seed: env_or("ORACLE_SEED", 1),
            filter: list("ORACLE_FILTER", ""),
            sample: env_or("ORACLE_SAMPLE", 1.0f64).clamp(0.0, 1.0),
            session_every: env_or("ORACLE_SESSION_EVERY", 8usize).max(1),
            modes: list("ORACLE_MODES", "transaction,session"),
            workers: env_or("ORACLE_WORKERS", 4usize).max(1),
            show: env_or("ORACLE_SHOW", 30),
        }
    }

    fn wants(&self, case: &Case) -> bool {
        if self.filter.is_empty() {
            return true;
        }
        let category = case.category().to_lowercase();
        self.filter.iter().any(|f| category.contains(f))
    }
}

/// (type OID, text) pairs PostgreSQL can read.
struct CastTable(HashSet<(u32, String)>);

impl Castable for CastTable {
    fn castable(&self, ty: &SqlType, text: &str) -> bool {
        self.0.contains(&(ty.oid, text.to_owned()))
    }
}

/// Asks PostgreSQL which values each type of the schema can read.
async fn cast_table(port: u16, all: &[Arc<Hierarchy>]) -> CastTable {
    let mut pairs: HashSet<(SqlType, &'static str)> = HashSet::new();
    for h in all {
        for t in &h.targets {
            for ty in &t.key.types {
                for v in &t.key.values {
                    if let Value::Text(text) = v {
                        pairs.insert((*ty, text));
                    }
                }
            }
        }
    }
    let pairs: Vec<(SqlType, &str)> = pairs.into_iter().collect();
    let rows: Vec<String> = pairs
        .iter()
        .map(|(ty, text)| format!("({}, {})", ty.oid, quote(text, true)))
        .collect();
    let sql = format!(
        "SELECT o, v FROM (VALUES {}) s(o, v) WHERE oracle_castable(v, o::oid::regtype)",
        rows.join(", ")
    );
    let mut w = Wire::connect(port, "postgres", PASSWORD, DIRECT_DB)
        .await
        .expect("connect");
    let reply = w.simple(&sql).await.expect("cast table");
    assert!(reply.error.is_none(), "cast table: {:?}", reply.error);
    let set = reply
        .rows
        .iter()
        .filter_map(|r| {
            let text = |i: usize| {
                r.get(i)
                    .cloned()
                    .flatten()
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
            };
            Some((text(0)?.parse().ok()?, text(1)?))
        })
        .collect();
    CastTable(set)
}

/// Builds the schema in the direct database and copies it as the proxy's twin.
async fn twins(cluster: &Cluster, all: &[Arc<Hierarchy>]) -> String {
    let (_, setup) = support::database_with(cluster, DIRECT_DB, &schema::schema_sql(all)).await;
    drop(setup);
    cluster.psql_admin(&format!("DROP DATABASE IF EXISTS {PROXY_DB}"));
    // The set-up connection may still be closing.
    cluster.psql_admin(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{DIRECT_DB}'; SELECT pg_sleep(0.2)"
    ));
    cluster.psql_admin(&format!("CREATE DATABASE {PROXY_DB} TEMPLATE {DIRECT_DB}"));
    support::database_config(cluster, PROXY_DB)
}

/// Waits until the proxy has loaded the catalog (until then it passes everything through).
async fn wait_for_catalog(port: u16) {
    let mut w = Wire::connect(port, "postgres", PASSWORD, PROXY_DB)
        .await
        .expect("connect to the proxy");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = w
            .simple("EXPLAIN ROUTE SELECT id FROM rng_int4 WHERE k = 5")
            .await
            .expect("EXPLAIN ROUTE");
        let decision = r
            .rows
            .first()
            .and_then(|row| row.get(2).cloned().flatten())
            .map(|b| String::from_utf8_lossy(&b).into_owned());
        if decision.as_deref() == Some("rewrite") {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the proxy never loaded the catalog: {decision:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs `selected` cases through a new proxy in `mode`.
async fn phase(
    cluster: &Cluster,
    db_config: &str,
    mode: &'static str,
    cases: &Arc<Vec<Case>>,
    selected: &[usize],
    workers: usize,
) -> (TestProxy, Endpoints, Vec<Outcome>) {
    let proxy = TestProxy::start(
        cluster,
        ProxySettings {
            mode,
            pool_size: workers + 4,
            extra: db_config.to_owned(),
            ..Default::default()
        },
    );
    wait_for_catalog(proxy.port).await;
    let ep = Endpoints {
        direct_port: cluster.port,
        direct_db: DIRECT_DB.into(),
        proxy_port: proxy.port,
        proxy_db: PROXY_DB.into(),
        mode,
    };
    let tasks: Vec<_> = run::assign(cases, selected, workers)
        .into_iter()
        .map(|mine| tokio::spawn(run::worker(ep.clone(), cases.clone(), mine)))
        .collect();
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.extend(t.await.expect("oracle worker"));
    }
    (proxy, ep, outcomes)
}

/// Cases that must mismatch once a row is planted in the proxy's twin
/// only: proof that a difference is seen, in a literal, a binary
/// parameter and a write.
fn canary_cases(all: &[Arc<Hierarchy>]) -> Vec<Case> {
    let h = all.iter().find(|h| h.name == "rng_int4").cloned().expect("rng_int4");
    let utc = Settings {
        tz: "UTC",
        standard_strings: true,
    };
    let case = |n: usize, form: Form, stmt: Stmt, sql: &str, params: Vec<ParamSpec>| Case {
        n,
        hier: h.clone(),
        form,
        op: "canary".into(),
        stmt,
        settings: utc,
        sql: sql.into(),
        params,
    };
    vec![
        case(
            0,
            Form::Quoted,
            Stmt::Select,
            "SELECT id, k::text FROM rng_int4 WHERE k = '50'",
            vec![],
        ),
        case(
            1,
            Form::Param {
                ty: Some(schema::INT4),
                binary: true,
            },
            Stmt::Select,
            "SELECT id, k::text FROM rng_int4 WHERE k = $1",
            vec![ParamSpec {
                ty: Some(schema::INT4),
                array: false,
                text: Some("50".into()),
                binary: true,
            }],
        ),
        case(2, Form::Bare, Stmt::Delete, "DELETE FROM rng_int4 WHERE k = 50", vec![]),
    ]
}

/// Plants a row in the proxy's twin, checks every canary case mismatches, removes the row.
async fn canary(ep: &Endpoints, all: &[Arc<Hierarchy>]) -> Result<(), String> {
    let cluster = Cluster::shared();
    let twin = support::connect(cluster.port, "postgres", PASSWORD, PROXY_DB)
        .await
        .expect("connect to the twin");
    twin.batch_execute("INSERT INTO rng_int4 (id, k, note) VALUES (999999, 50, 'canary')")
        .await
        .expect("plant");
    let cases = Arc::new(canary_cases(all));
    let outcomes = run::worker(ep.clone(), cases.clone(), (0..cases.len()).collect()).await;
    twin.batch_execute("DELETE FROM rng_int4 WHERE id = 999999")
        .await
        .expect("unplant");
    let missed: Vec<String> = outcomes
        .iter()
        .filter(|o| o.verdict != Verdict::Mismatch)
        .map(|o| report::case_text(&cases[o.case], o))
        .collect();
    if missed.is_empty() {
        Ok(())
    } else {
        Err(format!("the canary went unseen:\n{}", missed.join("")))
    }
}

/// Hierarchies whose committed contents differ between the twins (a write
/// through the proxy that escaped its rolled-back transaction).
async fn leaked_writes(all: &[Arc<Hierarchy>]) -> Vec<String> {
    let port = Cluster::shared().port;
    let mut direct = Wire::connect(port, "postgres", PASSWORD, DIRECT_DB)
        .await
        .expect("connect");
    let mut twin = Wire::connect(port, "postgres", PASSWORD, PROXY_DB)
        .await
        .expect("connect");
    let mut out = Vec::new();
    for h in all {
        let sql = format!("SET TimeZone = 'UTC'; SELECT oracle_contents('{}')", h.name);
        let (a, b) = (
            direct.simple(&sql).await.expect("contents"),
            twin.simple(&sql).await.expect("contents"),
        );
        if a.rows != b.rows {
            out.push(h.name.clone());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_answers_as_postgres_does() {
    let started = Instant::now();
    let knobs = Knobs::from_env();
    let cluster = Cluster::shared();
    let all = schema::hierarchies();
    let db_config = twins(cluster, &all).await;
    let castable = cast_table(cluster.port, &all).await;
    let mut rng = StdRng::seed_from_u64(knobs.seed);
    let plan = cases::Plan { castable: &castable };
    let cases = Arc::new(cases::generate(&all, &plan, &mut rng));
    let mut sampler = StdRng::seed_from_u64(knobs.seed ^ 0x5eed);
    let selected: Vec<usize> = (0..cases.len())
        .filter(|&i| sampler.gen_bool(knobs.sample) && knobs.wants(&cases[i]))
        .collect();
    eprintln!(
        "oracle: seed {} (ORACLE_SEED), {} cases generated, {} selected (ORACLE_SAMPLE={}, ORACLE_FILTER={:?}), set-up {:.1}s",
        knobs.seed,
        cases.len(),
        selected.len(),
        knobs.sample,
        knobs.filter,
        started.elapsed().as_secs_f64()
    );

    let mut outcomes: Vec<Outcome> = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    for mode in ["transaction", "session"] {
        if !knobs.modes.iter().any(|m| m == mode) {
            continue;
        }
        let chosen: Vec<usize> = if mode == "transaction" {
            selected.clone()
        } else {
            selected.iter().copied().step_by(knobs.session_every).collect()
        };
        let t = Instant::now();
        let (_proxy, ep, got) = phase(cluster, &db_config, mode, &cases, &chosen, knobs.workers).await;
        eprintln!(
            "oracle: {} cases in {mode} mode in {:.1}s",
            got.len(),
            t.elapsed().as_secs_f64()
        );
        outcomes.extend(got);
        if mode == "transaction" {
            match canary(&ep, &all).await {
                Ok(()) => {
                    eprintln!("oracle: canary: a row planted in the proxy's twin only was seen by every canary case")
                }
                Err(e) => failures.push(e),
            }
        }
    }
    outcomes.sort_by_key(|o| (o.mode != "transaction", o.case));
    let leaked = leaked_writes(&all).await;
    if !leaked.is_empty() {
        failures.push(format!(
            "writes through the proxy outlived their rollback in: {}",
            leaked.join(", ")
        ));
    }

    let total = outcomes.len();
    let mismatches = outcomes.iter().filter(|o| o.verdict == Verdict::Mismatch).count();
    let skipped = outcomes
        .iter()
        .filter(|o| matches!(o.verdict, Verdict::Skipped(_)))
        .count();
    let routed = outcomes.iter().filter(|o| o.routed).count();
    eprintln!("{}", report::dimensions(&cases, &outcomes));
    eprintln!(
        "oracle: {total} case runs, {routed} routed by the proxy, {} passed through, {skipped} skipped \
         (value not representable in a binary parameter's type), {mismatches} mismatches; {:.1}s in all",
        total - routed - skipped,
        started.elapsed().as_secs_f64()
    );
    if mismatches > 0 {
        eprintln!("{}", report::mismatch_categories(&cases, &outcomes, 120));
        eprintln!(
            "mismatching cases (the first of each key type × hierarchy kind × form, round-robin over key types):\n{}",
            report::first_mismatches(&cases, &outcomes, knobs.show)
        );
        failures.push(format!(
            "{mismatches} of {total} cases answered differently through the proxy (seed {}; ORACLE_FILTER narrows a rerun)",
            knobs.seed
        ));
    }
    // A comparison means something only when the proxy did route: a case
    // passed through unchanged cannot differ.
    if total > 200 && routed * 10 < total {
        failures.push(format!("only {routed} of {total} cases were routed by the proxy"));
    }
    assert!(failures.is_empty(), "oracle failed:\n{}", failures.join("\n"));
}
