//! Drivers other than tokio-postgres, through the proxy with routing on, in
//! both pool modes: psycopg 3 and asyncpg suites (`tests/drivers/*.py`, run
//! with the Python of the virtual environment `scripts/test` creates,
//! `PARTPROXY_DRIVER_PYTHON`), and the pgjdbc and node-postgres suites
//! (`PgjdbcSuite.java` against `PARTPROXY_JDBC_JAR`, `node_suite.js` with
//! `PARTPROXY_NODE_DIR`), which bind partition keys of every type with their
//! native types, in UTC and in a zone with daylight-saving time, and compare
//! each answer through the proxy with PostgreSQL's own.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::{self, Cluster, ProxySettings, TestProxy, PASSWORD};

/// (script, checks it reports as passed)
const SUITES: &[(&str, usize)] = &[("psycopg_suite.py", 6), ("asyncpg_suite.py", 6)];

fn drivers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("drivers")
}

/// A driver's installation: `var` when set, else `installed` (relative to the
/// project) when it exists; `None` only when the suites are skipped on
/// purpose (`PARTPROXY_SKIP_DRIVERS=1`), otherwise missing is a failure.
fn driver_tool(var: &str, installed: &str, what: &str) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(var) {
        return Some(PathBuf::from(p));
    }
    let local = Path::new(env!("CARGO_MANIFEST_DIR")).join(installed);
    if local.exists() {
        return Some(local);
    }
    if std::env::var("PARTPROXY_SKIP_DRIVERS").as_deref() == Ok("1") {
        eprintln!("{what} suite skipped (PARTPROXY_SKIP_DRIVERS=1)");
        return None;
    }
    panic!("no {what}: run scripts/test (it installs it), set {var}, or PARTPROXY_SKIP_DRIVERS=1");
}

/// The Python with psycopg and asyncpg installed.
fn driver_python() -> Option<PathBuf> {
    driver_tool(
        "PARTPROXY_DRIVER_PYTHON",
        "target/driver-venv/bin/python",
        "Python with psycopg and asyncpg",
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn psycopg_and_asyncpg_suites_pass_in_both_pool_modes() {
    let Some(python) = driver_python() else {
        return;
    };
    let cluster = Cluster::shared();
    let schema = std::fs::read_to_string(drivers_dir().join("schema.sql")).unwrap();
    let rules = std::fs::read_to_string(drivers_dir().join("rules.toml")).unwrap();
    for mode in ["transaction", "session"] {
        let db = format!("drivers_{mode}");
        let (extra, _direct) = support::database_with(cluster, &db, &schema).await;
        let p = TestProxy::start(
            cluster,
            ProxySettings {
                mode,
                extra: format!("{extra}{rules}"),
                ..Default::default()
            },
        );
        for (script, checks) in SUITES {
            let out = tokio::task::block_in_place(|| {
                Command::new(&python)
                    .arg(drivers_dir().join(script))
                    .env(
                        "PROXY_DSN",
                        format!("postgresql://postgres:{PASSWORD}@127.0.0.1:{}/{db}", p.port),
                    )
                    .env(
                        "DIRECT_DSN",
                        format!("postgresql://postgres:{PASSWORD}@127.0.0.1:{}/{db}", cluster.port),
                    )
                    .output()
                    .unwrap()
            });
            let stdout = String::from_utf8_lossy(&out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{script} ({mode}) failed:\n{stdout}\n{stderr}");
            assert!(
                stdout.contains(&format!(": {checks} checks passed")),
                "{script} ({mode}) did not report {checks} checks:\n{stdout}"
            );
        }
    }
}

/// Session TimeZones the typed-key suites run in: UTC, and one whose
/// daylight-saving changes fall on the children's bounds.
const ZONES: &[&str] = &["UTC", "America/New_York"];

/// Checks each typed-key suite reports per run (same in every zone and mode).
const JDBC_CHECKS: usize = 5592;
const NODE_CHECKS: usize = 7508;

/// A fresh database `db` with the typed-key schema, and a proxy in `mode`
/// in front of it with the suites' routing rules.
async fn keys_database(db: &str, mode: &'static str) -> TestProxy {
    let cluster = Cluster::shared();
    let schema = std::fs::read_to_string(drivers_dir().join("keys.sql")).unwrap();
    let rules = std::fs::read_to_string(drivers_dir().join("keys_rules.toml")).unwrap();
    let (extra, _direct) = support::database_with(cluster, db, &schema).await;
    TestProxy::start(
        cluster,
        ProxySettings {
            mode,
            extra: format!("{extra}{rules}"),
            ..Default::default()
        },
    )
}

/// What is wrong with one run of a typed-key suite, if anything: a failed
/// exit (its output lists each mismatching check) or another count of checks.
fn suite_verdict(label: &str, out: &Output, checks: usize) -> Option<String> {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Some(format!("{label} failed ({}):\n{stdout}\n{stderr}", out.status));
    }
    if !stdout.contains(&format!(": {checks} checks passed")) {
        return Some(format!("{label} did not report {checks} checks:\n{stdout}\n{stderr}"));
    }
    None
}

/// Every parent of the typed-key schema had statements routed (not only
/// passed through) by this proxy, so the suites compared routed answers.
fn assert_every_parent_routed(p: &TestProxy, db: &str) {
    let scrape = p.scrape();
    for ty in ["int8", "int4", "numeric", "ts", "tstz", "date", "text", "uuid"] {
        for kind in ["l", "d"] {
            let parent = format!("public.{kind}_{ty}");
            let routed: f64 = ["routed_single", "routed_multi"]
                .iter()
                .map(|o| {
                    scrape.sum(
                        "partproxy_route_statements_total",
                        &[("database", db), ("parent", &parent), ("outcome", o)],
                    )
                })
                .sum();
            assert!(routed > 0.0, "no statement on {parent} was routed in {db}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn pgjdbc_suite_matches_postgresql_in_both_pool_modes_and_zones() {
    let Some(jar) = driver_tool("PARTPROXY_JDBC_JAR", "target/driver-jdbc/postgresql.jar", "pgjdbc") else {
        return;
    };
    // Compiled at test time, so an edited suite never runs stale.
    let classes = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/driver-jdbc/classes");
    std::fs::create_dir_all(&classes).unwrap();
    let javac = Command::new("javac")
        .arg("-cp")
        .arg(&jar)
        .arg("-d")
        .arg(&classes)
        .arg(drivers_dir().join("PgjdbcSuite.java"))
        .output()
        .expect("javac (a JDK, 17 or later) is needed for the pgjdbc suite");
    assert!(
        javac.status.success(),
        "javac failed:\n{}",
        String::from_utf8_lossy(&javac.stderr)
    );
    let classpath = format!("{}:{}", jar.display(), classes.display());
    let mut failures = Vec::new();
    for mode in ["transaction", "session"] {
        let db = format!("drivers_jdbc_{mode}");
        let p = keys_database(&db, mode).await;
        let url = |port: u16| format!("jdbc:postgresql://127.0.0.1:{port}/{db}?user=postgres&password={PASSWORD}");
        for zone in ZONES {
            let out = tokio::task::block_in_place(|| {
                Command::new("java")
                    .arg(format!("-Duser.timezone={zone}"))
                    .arg("-cp")
                    .arg(&classpath)
                    .arg("PgjdbcSuite")
                    .env("PROXY_DSN", url(p.port))
                    .env("DIRECT_DSN", url(Cluster::shared().port))
                    .output()
                    .expect("java is needed for the pgjdbc suite")
            });
            failures.extend(suite_verdict(&format!("pgjdbc ({mode}, {zone})"), &out, JDBC_CHECKS));
        }
        assert_every_parent_routed(&p, &db);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test(flavor = "multi_thread")]
async fn node_postgres_suite_matches_postgresql_in_both_pool_modes_and_zones() {
    let Some(dir) = driver_tool("PARTPROXY_NODE_DIR", "target/driver-node", "node-postgres") else {
        return;
    };
    let modules = dir.join("node_modules");
    assert!(
        modules.join("pg").exists(),
        "no node-postgres in {}: run scripts/test",
        dir.display()
    );
    let mut failures = Vec::new();
    for mode in ["transaction", "session"] {
        let db = format!("drivers_node_{mode}");
        let p = keys_database(&db, mode).await;
        let url = |port: u16| format!("postgresql://postgres:{PASSWORD}@127.0.0.1:{port}/{db}");
        for zone in ZONES {
            let out = tokio::task::block_in_place(|| {
                Command::new("node")
                    .arg(drivers_dir().join("node_suite.js"))
                    .env("NODE_PATH", &modules)
                    .env("TZ", zone)
                    .env("PROXY_DSN", url(p.port))
                    .env("DIRECT_DSN", url(Cluster::shared().port))
                    .output()
                    .expect("node is needed for the node-postgres suite")
            });
            failures.extend(suite_verdict(
                &format!("node-postgres ({mode}, {zone})"),
                &out,
                NODE_CHECKS,
            ));
        }
        assert_every_parent_routed(&p, &db);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
