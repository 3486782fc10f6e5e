//! PostgreSQL's own regression files for inheritance and partitioning, run
//! with the cluster's psql once straight against PostgreSQL and once through
//! the proxy, each on a fresh database made from the same set-up, in session
//! and in transaction pooling; the two transcripts (psql `-a`: every input
//! line echoed, then what the server and psql said, stdout and stderr
//! together) must be identical.
//!
//! The files are not in the repository: `scripts/test` fetches them from
//! Debian's source package of the installed major version into
//! `target/pg-regress` (`scripts/lib.sh`, `pg_regress_files`) and passes the
//! directory as `PARTPROXY_PG_REGRESS`. Without it the test fails, unless
//! `PARTPROXY_SKIP_PG_REGRESS=1`.
//!
//! Settings are pg_regress's: database defaults `lc_messages`,
//! `lc_monetary`, `lc_numeric`, `lc_time` = C, `bytea_output` = hex,
//! `timezone_abbreviations` = Default; TimeZone PST8PDT and DateStyle
//! `Postgres, MDY` for the session (PGOPTIONS); psql `-X -a -q` with
//! `HIDE_TABLEAM` and `HIDE_TOAST_COMPRESSION` on, input on stdin. Each mode
//! has a cluster of its own with autovacuum off, so no background ANALYZE
//! can change a plan between the two runs. Transcripts, and a report per
//! file with every difference, are kept in `target/pg-regress-runs/<mode>/`.
//!
//! Only differences transaction pooling's documented limit explains are
//! masked, and only in that mode (see `transcript::compare`). For each file
//! the proxy's routing counters show how many statements it routed.

mod transcript;

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{self, Cluster, TestProxy, PASSWORD};
use transcript::{Cut, Verdict};

/// A regression file and the set-up files run straight before it (on the
/// template both of its databases are made from).
struct RegressFile {
    name: &'static str,
    setup: &'static [&'static str],
}

/// test_setup.sql creates the shared tables every file of PostgreSQL's
/// schedule may use (int4_tbl, int8_tbl, tenk1, onek, the person/emp/student
/// and road hierarchies, loaded from data files) and the hash operator
/// classes part_test_int4_ops and part_test_text_ops, and grants CREATE on
/// schema public to everyone. It runs before every file, as in the schedule.
const FILES: &[RegressFile] = &[
    // int4_tbl, tenk1; create_index.sql adds tenk1's indexes, whose Merge
    // Append and index-only plans the file's EXPLAINs show (the rest of
    // create_index.sql fails for lack of other files' tables: set-up only).
    RegressFile {
        name: "inherit",
        setup: &["test_setup", "create_index"],
    },
    // int4_tbl; the hash operator classes for its hash-partitioned tables.
    RegressFile {
        name: "partition_prune",
        setup: &["test_setup"],
    },
    // int4_tbl, int8_tbl.
    RegressFile {
        name: "partition_join",
        setup: &["test_setup"],
    },
    // Nothing of test_setup's; run after it as in the schedule.
    RegressFile {
        name: "partition_aggregate",
        setup: &["test_setup"],
    },
    // Nothing of test_setup's.
    RegressFile {
        name: "partition_info",
        setup: &["test_setup"],
    },
    // part_test_int4_ops.
    RegressFile {
        name: "insert",
        setup: &["test_setup"],
    },
    // Nothing of test_setup's.
    RegressFile {
        name: "update",
        setup: &["test_setup"],
    },
    // The grant on schema public (an unprivileged role creates tables); it
    // loads its own data files (constro.data, constrf.data).
    RegressFile {
        name: "constraints",
        setup: &["test_setup"],
    },
    // SPLIT/MERGE PARTITION: not in PostgreSQL 15; run only when the
    // fetched version has these files.
    RegressFile {
        name: "partition_split",
        setup: &["test_setup"],
    },
    RegressFile {
        name: "partition_merge",
        setup: &["test_setup"],
    },
];

/// The longest a file may take through psql before it is stopped.
const PSQL_TIMEOUT: Duration = Duration::from_secs(180);

/// Differing output lines printed per file; the report file has them all.
const SHOWN_LINES: usize = 80;

/// The fetched files (`sql/`, `data/`, `VERSION`); `None` only when skipped
/// on purpose.
fn regress_dir() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PARTPROXY_PG_REGRESS") {
        return Some(PathBuf::from(p));
    }
    let default = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/pg-regress");
    if default.join("VERSION").exists() {
        return Some(default);
    }
    if std::env::var("PARTPROXY_SKIP_PG_REGRESS").as_deref() == Ok("1") {
        eprintln!("PostgreSQL regression files skipped (PARTPROXY_SKIP_PG_REGRESS=1)");
        return None;
    }
    panic!(
        "PostgreSQL's regression files not found: run scripts/test (it fetches them into target/pg-regress), \
         set PARTPROXY_PG_REGRESS, or PARTPROXY_SKIP_PG_REGRESS=1"
    );
}

/// The major version of the cluster's server binaries.
fn server_major(cluster: &Cluster) -> String {
    let out = Command::new(cluster.program("postgres"))
        .arg("--version")
        .output()
        .expect("postgres --version");
    let text = String::from_utf8_lossy(&out.stdout);
    // "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
    let version = text.split_once("(PostgreSQL)").map(|(_, v)| v).unwrap_or(&text);
    version
        .split(|c: char| !c.is_ascii_digit())
        .find(|s| !s.is_empty())
        .unwrap_or_else(|| panic!("no version in {text:?}"))
        .to_owned()
}

/// psql as pg_regress runs it, with the environment cleared but for what
/// the files and a stable transcript need.
struct Psql {
    program: PathBuf,
    srcdir: PathBuf,
    libdir: PathBuf,
}

impl Psql {
    fn command(&self, port: u16, db: &str) -> Command {
        let mut c = Command::new(&self.program);
        c.env_clear()
            .env("LC_ALL", "C")
            .env("PGPASSWORD", PASSWORD)
            .env("PGCONNECT_TIMEOUT", "10")
            .env("PGAPPNAME", "pg_regress")
            .env("PGOPTIONS", "-c TimeZone=PST8PDT -c DateStyle=Postgres,MDY")
            // test_setup.sql and constraints.sql read these with \getenv.
            .env("PG_ABS_SRCDIR", &self.srcdir)
            .env("PG_LIBDIR", &self.libdir)
            .env("PG_DLSUFFIX", ".so")
            .args([
                "-X",
                "-q",
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-U",
                "postgres",
                "-d",
                db,
            ])
            .args(["-v", "HIDE_TABLEAM=on", "-v", "HIDE_TOAST_COMPRESSION=on"]);
        c
    }

    /// Runs a SQL file echoed (`-a`), its transcript written to `out` and
    /// returned with psql's exit status as a last line.
    fn run(&self, port: u16, db: &str, sql: &Path, out: &Path) -> (String, Duration) {
        let file = File::create(out).unwrap_or_else(|e| panic!("create {}: {e}", out.display()));
        let started = Instant::now();
        // One open file for both streams, as `> out 2>&1`: errors stay in place.
        let mut child = self
            .command(port, db)
            .arg("-a")
            .stdin(File::open(sql).unwrap_or_else(|e| panic!("open {}: {e}", sql.display())))
            .stdout(file.try_clone().expect("clone transcript handle"))
            .stderr(file)
            .spawn()
            .expect("spawn psql");
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for psql") {
                break format!("[psql exit status {}]", status.code().unwrap_or(-1));
            }
            if started.elapsed() > PSQL_TIMEOUT {
                let _ = child.kill();
                let _ = child.wait();
                break format!("[psql stopped after {} s]", PSQL_TIMEOUT.as_secs());
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let elapsed = started.elapsed();
        let mut text = std::fs::read_to_string(out).unwrap_or_else(|e| panic!("read {}: {e}", out.display()));
        text.push_str(&status);
        text.push('\n');
        std::fs::write(out, &text).expect("write transcript");
        (text, elapsed)
    }

    /// One value from a query, straight.
    fn value(&self, port: u16, db: &str, sql: &str) -> String {
        let out = self
            .command(port, db)
            .args(["-tA", "-c", sql])
            .stdin(Stdio::null())
            .output()
            .expect("psql");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

/// Drops and creates `name` from `template` with pg_regress's database
/// defaults (not copied from a template, so set on each).
fn create_database(cluster: &Cluster, name: &str, template: &str) {
    cluster.psql_admin(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    cluster.psql_admin(&format!("CREATE DATABASE {name} TEMPLATE {template}"));
    let mut sql = String::new();
    for s in ["lc_messages", "lc_monetary", "lc_numeric", "lc_time"] {
        let _ = write!(sql, "ALTER DATABASE {name} SET {s} TO 'C';");
    }
    let _ = write!(
        sql,
        "ALTER DATABASE {name} SET bytea_output TO 'hex'; ALTER DATABASE {name} SET timezone_abbreviations TO 'Default';"
    );
    cluster.psql_admin(&sql);
}

/// Drops a run's database, then the roles its file created (cluster-wide,
/// and left behind when a run stopped early), so the next run starts alike.
fn drop_run(cluster: &Cluster, db: &str, roles: &[String]) {
    cluster.psql_admin(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
    for r in roles {
        cluster.psql_admin(&format!("DROP ROLE IF EXISTS {r}"));
    }
}

/// The proxy's routing decisions for one database, from `/metrics`
/// (`partproxy_route_statements_total`; a statement naming two parents
/// counts under each).
#[derive(Default)]
struct Routes {
    single: f64,
    multi: f64,
    refused: f64,
    passthrough: f64,
    reasons: BTreeMap<String, f64>,
    no_parent: f64,
    unparsed: f64,
}

impl Routes {
    fn read(scrape: &support::Scrape, db: &str) -> Routes {
        let mut r = Routes::default();
        for (name, labels, value) in &scrape.0 {
            if name != "partproxy_route_statements_total" || labels.get("database").map(String::as_str) != Some(db) {
                continue;
            }
            let get = |k: &str| labels.get(k).map(String::as_str).unwrap_or("");
            match (get("outcome"), get("parent").is_empty()) {
                ("routed_single", _) => r.single += value,
                ("routed_multi", _) => r.multi += value,
                ("error", _) => r.refused += value,
                (_, true) => {
                    r.no_parent += value;
                    if get("reason") == "parse_error" {
                        r.unparsed += value;
                    }
                }
                _ => {
                    r.passthrough += value;
                    *r.reasons.entry(get("reason").to_owned()).or_default() += value;
                }
            }
        }
        r
    }

    fn summary(&self) -> String {
        let mut reasons: Vec<(&String, &f64)> = self.reasons.iter().collect();
        reasons.sort_by(|a, b| b.1.total_cmp(a.1).then(a.0.cmp(b.0)));
        let reasons: Vec<String> = reasons.iter().map(|(k, v)| format!("{k} {v}")).collect();
        format!(
            "routed {} (one table {}, several {}), refused {}, passed through {} naming a parent [{}], {} naming none ({} not parsed)",
            self.single + self.multi,
            self.single,
            self.multi,
            self.refused,
            self.passthrough,
            reasons.join(", "),
            self.no_parent,
            self.unparsed
        )
    }
}

/// A proxy in `mode` serving `db` with the superuser as its fixed login (so
/// it reads the catalog). Its log is kept to errors: the files' schemas make
/// it warn (overlapping children, ...) on every catalog load.
fn start_proxy(cluster: &Cluster, mode: &str, db: &str) -> TestProxy {
    let port = support::free_port();
    let config = format!(
        "listen = \"127.0.0.1:{port}\"\nlog_level = \"error\"\n\n[pool]\nmode = \"{mode}\"\npool_size = 10\n\n\
         [[users]]\nname = \"postgres\"\npassword = \"{PASSWORD}\"\n{}",
        support::database_config(cluster, db)
    );
    TestProxy::start_with_config(&config, port)
}

/// Waits until the proxy has loaded `db`'s catalog, so every statement of
/// the file meets the same catalog on every run.
fn wait_for_catalog(proxy: &TestProxy, db: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while proxy
        .scrape()
        .sum("partproxy_catalog_refreshes_total", &[("database", db)])
        < 1.0
    {
        assert!(Instant::now() < deadline, "the proxy did not load {db}'s catalog");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The comparison of one file's two transcripts.
struct Comparison {
    differing: usize,
    masked: Vec<(usize, String)>,
    /// Every difference, written out.
    report: String,
    /// The first differences, for the test's output.
    shown: String,
}

fn statement_text(lines: &[String]) -> Vec<String> {
    let lines: Vec<&String> = lines
        .iter()
        .skip_while(|l| l.trim().is_empty() || l.trim_start().starts_with("--"))
        .collect();
    let mut out: Vec<String> = lines.iter().take(6).map(|l| format!("  | {l}")).collect();
    if lines.len() > 6 {
        out.push(format!("  | … ({} more lines)", lines.len() - 6));
    }
    out
}

fn compare(file: &str, mode: &str, direct: &Cut, proxy: &Cut) -> Comparison {
    let verdicts = transcript::compare(direct, proxy, mode == "transaction");
    let mut c = Comparison {
        differing: 0,
        masked: Vec::new(),
        report: String::new(),
        shown: String::new(),
    };
    let mut shown_lines = 0;
    let mut hidden = 0;
    let mut blocks: Vec<(String, Vec<String>, Vec<String>)> = Vec::new();
    if direct.preamble != proxy.preamble {
        blocks.push((
            format!("@@ {file}.sql before its first line ({mode})"),
            Vec::new(),
            transcript::trim_context(&transcript::line_diff(&direct.preamble, &proxy.preamble), 3),
        ));
    }
    for ((d, p), v) in direct.segments.iter().zip(&proxy.segments).zip(&verdicts) {
        match v {
            Verdict::Same => {}
            Verdict::Masked(reason) => c.masked.push((d.first_line, reason.clone())),
            Verdict::Differs => {
                let never = vec!["(never echoed: psql had stopped or lost its place)".to_owned()];
                let diff = transcript::trim_context(
                    &transcript::line_diff(d.output.as_ref().unwrap_or(&never), p.output.as_ref().unwrap_or(&never)),
                    3,
                );
                blocks.push((
                    format!(
                        "@@ {file}.sql line {} ({mode}; transcript line {} straight, {} through the proxy)",
                        d.first_line, d.transcript_line, p.transcript_line
                    ),
                    statement_text(&d.lines),
                    diff,
                ));
            }
        }
    }
    c.differing = blocks.len();
    for (head, stmt, diff) in blocks {
        let mut block = format!("{head}\n");
        for l in stmt.iter().chain(&diff) {
            block.push_str(l);
            block.push('\n');
        }
        c.report.push_str(&block);
        let changed = diff.iter().filter(|l| l.starts_with(['-', '+'])).count();
        if shown_lines < SHOWN_LINES {
            c.shown.push_str(&block);
            shown_lines += changed;
        } else {
            hidden += 1;
        }
    }
    if hidden > 0 {
        let _ = writeln!(
            c.shown,
            "… {hidden} more differing statements in target/pg-regress-runs/{mode}/{file}.report"
        );
    }
    if !c.masked.is_empty() {
        let mut by_reason: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (line, reason) in &c.masked {
            by_reason.entry(reason).or_default().push(*line);
        }
        let _ = writeln!(
            c.report,
            "masked: {} statements, transaction pooling's limit (temporary tables and SQL PREPARE end with their transaction):",
            c.masked.len()
        );
        for (reason, lines) in by_reason {
            let lines: Vec<String> = lines.iter().map(usize::to_string).collect();
            let _ = writeln!(c.report, "  {reason}: lines {}", lines.join(", "));
        }
    }
    c
}

/// Runs every file present, straight and through a proxy in `mode`, and
/// fails listing the files whose transcripts differ.
fn run_mode(mode: &'static str) {
    let Some(dir) = regress_dir() else {
        return;
    };
    let started = Instant::now();
    let cluster = Cluster::start();
    // No background ANALYZE between the two runs of a file.
    cluster.psql_admin("ALTER SYSTEM SET autovacuum = off");
    cluster.psql_admin("SELECT pg_reload_conf()");
    let major = server_major(&cluster);
    let version = std::fs::read_to_string(dir.join("VERSION"))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.join("VERSION").display()));
    assert_eq!(
        version.trim().split('.').next(),
        Some(major.as_str()),
        "the regression files in {} are PostgreSQL {}'s, the server is {major}: remove the directory and run scripts/test",
        dir.display(),
        version.trim()
    );
    let psql_path = cluster.program("psql");
    let psql = Psql {
        libdir: psql_path.parent().map(|b| b.join("../lib")).unwrap_or_default(),
        program: psql_path,
        srcdir: dir.clone(),
    };
    let runs = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/pg-regress-runs")
        .join(mode);
    let _ = std::fs::remove_dir_all(&runs);
    std::fs::create_dir_all(&runs).expect("create the runs directory");

    let mut templates: HashMap<String, String> = HashMap::new();
    let mut summary = String::new();
    let mut failed = Vec::new();
    let mut shown = String::new();
    for f in FILES {
        let sql = dir.join("sql").join(format!("{}.sql", f.name));
        if !sql.exists() {
            let _ = writeln!(
                summary,
                "  {:<20} not in PostgreSQL {}: skipped",
                f.name,
                version.trim()
            );
            continue;
        }
        let template = templates
            .entry(f.setup.join("+"))
            .or_insert_with(|| build_template(&cluster, &psql, &dir, &runs, f.setup))
            .clone();
        let input = std::fs::read_to_string(&sql).expect("read the SQL file");
        let roles = transcript::roles_created(&input);
        let db = format!("rg_{}", f.name);

        // Straight, then the same database name again for the proxy, so
        // nothing in the transcripts can differ by name.
        create_database(&cluster, &db, &template);
        let (direct, t_direct) = psql.run(cluster.port, &db, &sql, &runs.join(format!("{}.direct.out", f.name)));
        drop_run(&cluster, &db, &roles);

        create_database(&cluster, &db, &template);
        let proxy = start_proxy(&cluster, mode, &db);
        wait_for_catalog(&proxy, &db);
        let (through, t_proxy) = psql.run(proxy.port, &db, &sql, &runs.join(format!("{}.proxy.out", f.name)));
        let routes = Routes::read(&proxy.scrape(), &db);
        drop(proxy);
        drop_run(&cluster, &db, &roles);

        let c = compare(
            f.name,
            mode,
            &transcript::cut(&input, &direct),
            &transcript::cut(&input, &through),
        );
        std::fs::write(runs.join(format!("{}.report", f.name)), &c.report).expect("write the report");
        let verdict = if c.differing == 0 {
            "identical".to_owned()
        } else {
            failed.push(f.name);
            let _ = write!(
                shown,
                "\n=== {}.sql, {mode} pooling: {} statements differ (- straight, + through the proxy)\n{}",
                f.name, c.differing, c.shown
            );
            format!("{} statements DIFFER", c.differing)
        };
        let masked = if c.masked.is_empty() {
            String::new()
        } else {
            format!(" ({} masked)", c.masked.len())
        };
        let _ = writeln!(
            summary,
            "  {:<20} {verdict}{masked}; straight {:.1} s, proxy {:.1} s; {}",
            f.name,
            t_direct.as_secs_f64(),
            t_proxy.as_secs_f64(),
            routes.summary()
        );
    }
    cluster.stop();
    println!(
        "PostgreSQL {} regression files, {mode} pooling ({:.0} s):\n{summary}{shown}",
        version.trim(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        failed.is_empty(),
        "{mode} pooling: transcripts differ for {} (reports and transcripts in {})",
        failed.join(", "),
        runs.display()
    );
}

/// A database holding the set-up files' objects, run straight, that a
/// file's two databases are copied from: both start byte for byte alike.
fn build_template(cluster: &Cluster, psql: &Psql, dir: &Path, runs: &Path, setup: &[&str]) -> String {
    let name = format!("rg_tpl_{}", setup.join("_"));
    create_database(cluster, &name, "template0");
    for s in setup {
        let sql = dir.join("sql").join(format!("{s}.sql"));
        let input = std::fs::read_to_string(&sql).unwrap_or_else(|e| panic!("{}: {e}", sql.display()));
        psql.run(cluster.port, &name, &sql, &runs.join(format!("setup.{name}.{s}.out")));
        for r in transcript::roles_created(&input) {
            cluster.psql_admin(&format!("DROP ROLE IF EXISTS {r}"));
        }
    }
    // The data files are read by the server itself: a set-up that could not
    // read them would make every comparison vacuous.
    let rows = psql.value(cluster.port, &name, "SELECT count(*) FROM tenk1");
    assert_eq!(
        rows,
        "10000",
        "set-up did not load tenk1 (can the server's account read {}/data?)",
        dir.display()
    );
    name
}

#[test]
fn regress_files_session_pooling() {
    run_mode("session");
}

#[test]
fn regress_files_transaction_pooling() {
    run_mode("transaction");
}
