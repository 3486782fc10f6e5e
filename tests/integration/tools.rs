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

/// pgbench `-M prepared` with a custom script against a `user_events`-like
/// parent of 2048 inheritance children. The parent has no trigger and holds
/// one planted row per child range while declared empty: a passed-through
/// INSERT would stay in the parent, and a passed-through SELECT would see a
/// planted row and make the script divide by zero (failing the run).
#[test]
fn pgbench_prepared_custom_script_on_2048_children() {
    let cluster = Cluster::shared();
    let db = "bench_user_events";
    let extra = support::fresh_database(cluster, db);
    let schema = "CREATE TABLE user_events (k int NOT NULL, v text);
        DO $$ BEGIN FOR i IN 0..2047 LOOP
          EXECUTE format('CREATE TABLE user_events_%s (CHECK (k >= %s AND k < %s)) INHERITS (user_events)', i, i * 1000, (i + 1) * 1000);
        END LOOP; END $$;
        INSERT INTO user_events SELECT g * 1000, 'planted' FROM generate_series(0, 2047) g;";
    run(
        cluster,
        "psql",
        cluster.port,
        &["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", db, "-c", schema],
    );
    let script = std::env::temp_dir().join(format!("partproxy-user-events-{}.sql", std::process::id()));
    std::fs::write(
        &script,
        "\\set b random(0, 2047)\n\
         \\set k :b * 1000 + random(1, 999)\n\
         \\set p :b * 1000\n\
         INSERT INTO user_events (k, v) VALUES (:k, 'bench');\n\
         SELECT count(*) AS planted FROM user_events WHERE k = :p AND v = 'planted' \\gset\n\
         \\if :planted > 0\n\
         SELECT 1 / 0;\n\
         \\endif\n",
    )
    .unwrap();
    let p = TestProxy::start(
        cluster,
        ProxySettings {
            mode: "transaction",
            pool_size: 4,
            extra: format!("{extra}\n[[routing.tables]]\nparent = \"user_events\"\nparent_empty = true\n"),
            ..Default::default()
        },
    );
    let script_arg = script.to_string_lossy().into_owned();
    let out = run(
        cluster,
        "pgbench",
        p.port,
        &[
            "-M",
            "prepared",
            "-c",
            "8",
            "-j",
            "2",
            "-t",
            "200",
            "-n",
            "-f",
            &script_arg,
            db,
        ],
    );
    let _ = std::fs::remove_file(&script);
    assert!(
        out.contains("number of transactions actually processed: 1600/1600"),
        "{out}"
    );
    let check = run(
        cluster,
        "psql",
        cluster.port,
        &[
            "-X",
            "-A",
            "-t",
            "-d",
            db,
            "-c",
            "SELECT (SELECT count(*) FROM ONLY user_events), (SELECT count(*) FROM user_events WHERE v = 'bench'), \
             (SELECT count(*) FROM user_events WHERE v = 'bench' AND tableoid::regclass::text <> 'user_events_' || (k / 1000))",
        ],
    );
    // Only the planted rows in the parent; every row written is in its own child.
    assert_eq!(check.trim(), "2048|1600|0", "{out}");
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
            "--metrics-listen",
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
        format!("{extra}\n[[users]]\nname = \"postgres\"\npassword = \"x\"\n[[routing.tables]]\nparent = \"m\"\non_unmatched = \"error\"\n"),
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

/// The compose stack: the file validates with docker compose (or Debian's
/// docker-compose), every host path it mounts exists, and its PostgreSQL
/// init script builds the demo's legacy table.
#[test]
fn compose_stack_validates_and_its_init_script_runs() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let compose = std::fs::read_to_string(root.join("docker-compose.yml")).unwrap();
    for line in compose.lines() {
        if let Some(mount) = line.trim().strip_prefix("- ./") {
            let host = mount.split(':').next().unwrap_or_default();
            assert!(
                root.join(host).exists(),
                "docker-compose.yml mounts ./{host}, which does not exist"
            );
        }
    }
    let plugin = Command::new("docker")
        .args(["compose", "config", "-q"])
        .current_dir(root)
        .output();
    let validated = match plugin {
        Ok(out) if out.status.success() => true,
        _ => match Command::new("docker-compose")
            .args(["config", "-q"])
            .current_dir(root)
            .output()
        {
            Ok(out) => {
                assert!(
                    out.status.success(),
                    "docker-compose config: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                true
            }
            Err(_) => false,
        },
    };
    if !validated && std::env::var("PARTPROXY_SKIP_COMPOSE").as_deref() != Ok("1") {
        panic!("neither `docker compose` nor `docker-compose` is installed (PARTPROXY_SKIP_COMPOSE=1 skips)");
    }

    let cluster = Cluster::shared();
    let sql = std::fs::read_to_string(root.join("config/compose/initdb/01-demo.sql"))
        .unwrap()
        .replace("CREATE DATABASE demo;\n\\connect demo", "\\connect compose_demo");
    cluster.psql_admin("DROP DATABASE IF EXISTS compose_demo");
    cluster.psql_admin("CREATE DATABASE compose_demo");
    let path = std::env::temp_dir().join(format!("partproxy-compose-{}.sql", std::process::id()));
    std::fs::write(&path, sql).unwrap();
    let out = run(
        cluster,
        "psql",
        cluster.port,
        &[
            "-v",
            "ON_ERROR_STOP=1",
            "-q",
            "-d",
            "postgres",
            "-f",
            path.to_str().unwrap(),
        ],
    );
    let _ = std::fs::remove_file(&path);
    assert!(!out.contains("ERROR"), "{out}");
    let counts = run(
        cluster,
        "psql",
        cluster.port,
        &[
            "-At",
            "-d",
            "compose_demo",
            "-c",
            "SELECT count(*), count(DISTINCT tableoid) FROM logs",
        ],
    );
    assert_eq!(counts.trim(), "150000|35", "rows and children holding them");
}
