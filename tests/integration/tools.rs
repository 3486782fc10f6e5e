//! psql and pgbench through the proxy, with their output checked.

use std::process::Command;

use crate::support::{self, Cluster, ProxySettings, TestProxy};

fn run(cluster: &Cluster, program: &str, port: u16, args: &[&str]) -> String {
    let out = Command::new(cluster.program(program))
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres"])
        .args(args)
        .env("PGPASSWORD", support::PASSWORD)
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{program} {args:?} failed:
{stdout}{stderr}"
    );
    stdout
}

#[test]
fn psql_through_the_proxy() {
    let cluster = Cluster::shared();
    for mode in ["session", "transaction"] {
        let p = TestProxy::start(
            cluster,
            ProxySettings {
                mode,
                ..Default::default()
            },
        );
        let table = format!("psql_{mode}");
        let create = format!("DROP TABLE IF EXISTS {table}; CREATE TABLE {table}(a int, b text)");
        let insert = format!("INSERT INTO {table} SELECT g, 'x' || g FROM generate_series(1, 100) g");
        let select = format!("SELECT count(*), max(b) FROM {table} WHERE a > 50");
        let out = run(
            cluster,
            "psql",
            p.port,
            &[
                "-X",
                "-A",
                "-t",
                "-d",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                &create,
                "-c",
                &insert,
                "-c",
                &select,
                "-c",
                "SELECT current_setting('application_name')",
            ],
        );
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines,
            ["DROP TABLE", "CREATE TABLE", "INSERT 0 100", "50|x99", "psql"],
            "{mode}: {out}"
        );
    }
}

#[test]
fn pgbench_in_every_query_mode() {
    let cluster = Cluster::shared();
    let db = "bench_tools";
    let extra = support::fresh_database(cluster, db);
    run(cluster, "pgbench", cluster.port, &["-i", "-q", "-s", "1", db]);
    let p = TestProxy::start(
        cluster,
        ProxySettings {
            mode: "transaction",
            pool_size: 4,
            extra,
            ..Default::default()
        },
    );
    for mode in ["simple", "extended", "prepared"] {
        let out = run(
            cluster,
            "pgbench",
            p.port,
            &["-M", mode, "-c", "8", "-j", "2", "-t", "100", "-n", db],
        );
        assert!(
            out.contains("number of transactions actually processed: 800/800"),
            "{mode}: {out}"
        );
        assert!(!out.contains("number of failed transactions: 1"), "{mode}: {out}");
    }
    // The tpcb-like runs changed balances consistently: branch and teller sums agree.
    let check = run(
        cluster,
        "psql",
        p.port,
        &["-X", "-A", "-t", "-d", db, "-c", "SELECT (SELECT sum(bbalance) FROM pgbench_branches) = (SELECT sum(tbalance) FROM pgbench_tellers) AND (SELECT count(*) FROM pgbench_history) = 2400"],
    );
    assert_eq!(check.trim(), "t");
}

/// `partproxy demo` starts its own PostgreSQL, routes its workload and
/// reports that every answer matched PostgreSQL's.
#[test]
fn demo_runs_and_reports_matching_answers() {
    let out = Command::new(env!("CARGO_BIN_EXE_partproxy"))
        .args([
            "demo",
            "--exit",
            "--listen",
            "127.0.0.1:0",
            "--statements",
            "10",
            "--rows",
            "3000",
        ])
        .output()
        .expect("run demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "demo failed:\n{stdout}{stderr}");
    assert!(stdout.contains("36 children"), "{stdout}");
    assert!(stdout.contains("each exactly where the trigger put"), "{stdout}");
    assert!(stdout.contains("Every SELECT returned the same rows"), "{stdout}");
    // A point SELECT is narrowed to one monthly child.
    let point = stdout.lines().find(|l| l.contains("point SELECT")).unwrap_or_default();
    assert!(point.contains("logs_20"), "{point}");
}

/// `partproxy explain` prints the decision against the live catalog.
#[test]
fn explain_command_prints_the_decision() {
    let cluster = Cluster::shared();
    let extra = support::fresh_database(cluster, "explain_cli");
    let setup = Command::new(cluster.program("psql"))
        .args(["-X", "-q", "-h", "127.0.0.1", "-p", &cluster.port.to_string(), "-U", "postgres", "-d", "explain_cli"])
        .args(["-c", "CREATE TABLE m (k int); CREATE TABLE m_1 (CHECK (k >= 0 AND k < 10)) INHERITS (m); CREATE TABLE m_2 (CHECK (k >= 10 AND k < 20)) INHERITS (m);"])
        .env("PGPASSWORD", support::PASSWORD)
        .output()
        .expect("psql");
    assert!(setup.status.success(), "{}", String::from_utf8_lossy(&setup.stderr));
    let config = std::env::temp_dir().join(format!("partproxy-explain-{}.toml", std::process::id()));
    std::fs::write(
        &config,
        format!("{extra}\n[[users]]\nname = \"postgres\"\npassword = \"x\"\n"),
    )
    .unwrap();
    let explain = |sql: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_partproxy"))
            .arg("--config")
            .arg(&config)
            .args(["explain", sql])
            .output()
            .expect("explain");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let out = explain("SELECT * FROM m WHERE k = 12");
    assert!(out.contains("parent:   public.m"), "{out}");
    assert!(out.contains("tables:   ONLY public.m, public.m_2"), "{out}");
    assert!(out.contains("decision: rewrite"), "{out}");
    let out = explain("SELECT * FROM ONLY m");
    assert!(out.contains("decision: passthrough: only"), "{out}");
    let out = explain("INSERT INTO m VALUES (99)");
    assert!(out.contains("decision: reject: 23514"), "{out}");
    let _ = std::fs::remove_file(&config);
}
