//! Drivers other than tokio-postgres, through the proxy with routing on:
//! psycopg 3 and asyncpg suites (`tests/drivers/*.py`), run with the Python
//! of a virtual environment that `scripts/test` creates
//! (`PARTPROXY_DRIVER_PYTHON`).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{self, Cluster, ProxySettings, TestProxy, PASSWORD};

/// (script, checks it reports as passed)
const SUITES: &[(&str, usize)] = &[("psycopg_suite.py", 6), ("asyncpg_suite.py", 6)];

fn drivers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("drivers")
}

/// The Python with psycopg and asyncpg installed; `None` only when the
/// suites are skipped on purpose (`PARTPROXY_SKIP_DRIVERS=1`).
fn driver_python() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PARTPROXY_DRIVER_PYTHON") {
        return Some(PathBuf::from(p));
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/driver-venv/bin/python");
    if venv.exists() {
        return Some(venv);
    }
    if std::env::var("PARTPROXY_SKIP_DRIVERS").as_deref() == Ok("1") {
        eprintln!("driver suites skipped (PARTPROXY_SKIP_DRIVERS=1)");
        return None;
    }
    panic!("no Python with the drivers: run scripts/test (it creates target/driver-venv), set PARTPROXY_DRIVER_PYTHON, or PARTPROXY_SKIP_DRIVERS=1");
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
