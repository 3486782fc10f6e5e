//! Test support: a throwaway PostgreSQL cluster started once per test run and
//! a proxy process per test with a generated configuration.

#![allow(dead_code)]

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use partproxy::localpg::{self, ClusterOptions, LocalCluster};
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

/// The superuser's password on every test cluster.
pub const PASSWORD: &str = "secret";

/// A legacy inheritance hierarchy: `logs` with three monthly children and
/// the IF/ELSIF insert trigger of the PostgreSQL manual's example.
pub const LEGACY_LOGS: &str = r#"
CREATE TABLE logs (id bigint NOT NULL, created_at timestamptz NOT NULL, message text);
CREATE TABLE logs_2024_01 (CHECK (created_at >= '2024-01-01 00:00:00+00' AND created_at < '2024-02-01 00:00:00+00')) INHERITS (logs);
CREATE TABLE logs_2024_02 (CHECK (created_at >= '2024-02-01 00:00:00+00' AND created_at < '2024-03-01 00:00:00+00')) INHERITS (logs);
CREATE TABLE logs_2024_03 (CHECK (created_at >= '2024-03-01 00:00:00+00' AND created_at < '2024-04-01 00:00:00+00')) INHERITS (logs);
CREATE OR REPLACE FUNCTION logs_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.created_at >= '2024-01-01 00:00:00+00' AND NEW.created_at < '2024-02-01 00:00:00+00' THEN
    INSERT INTO logs_2024_01 VALUES (NEW.*);
  ELSIF NEW.created_at >= '2024-02-01 00:00:00+00' AND NEW.created_at < '2024-03-01 00:00:00+00' THEN
    INSERT INTO logs_2024_02 VALUES (NEW.*);
  ELSIF NEW.created_at >= '2024-03-01 00:00:00+00' AND NEW.created_at < '2024-04-01 00:00:00+00' THEN
    INSERT INTO logs_2024_03 VALUES (NEW.*);
  ELSE
    RAISE EXCEPTION 'Date out of range.  Fix the logs_insert() function!';
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER logs_insert_trigger BEFORE INSERT ON logs FOR EACH ROW EXECUTE FUNCTION logs_insert();
"#;

/// A free TCP port on the loopback interface.
pub fn free_port() -> u16 {
    localpg::free_port().expect("no free port")
}

/// The test run's PostgreSQL cluster.
pub struct Cluster {
    /// Port it listens on.
    pub port: u16,
    inner: LocalCluster,
}

impl Cluster {
    /// The cluster shared by the whole test run.
    pub fn shared() -> &'static Cluster {
        static SHARED: OnceLock<Cluster> = OnceLock::new();
        SHARED.get_or_init(Cluster::start)
    }

    /// Starts a new cluster, stopped and removed when the test process exits.
    pub fn start() -> Cluster {
        let inner = LocalCluster::start(&ClusterOptions {
            password: PASSWORD.into(),
            hba_prefix: "host all trustuser 127.0.0.1/32 trust\nhost all md5user 127.0.0.1/32 md5".into(),
            max_connections: 400,
        })
        .expect("start PostgreSQL");
        let cluster = Cluster {
            port: inner.port,
            inner,
        };
        cluster.spawn_watchdog();
        cluster.psql_admin(
            "SET password_encryption = 'md5'; CREATE ROLE md5user LOGIN PASSWORD 'md5pw'; \
             RESET password_encryption; CREATE ROLE trustuser LOGIN; \
             CREATE ROLE appuser LOGIN PASSWORD 'apppw';",
        );
        cluster.psql_admin("CREATE DATABASE app OWNER appuser");
        cluster
    }

    fn pg_ctl(&self, args: &[&str]) {
        self.inner.pg_ctl(args).expect("pg_ctl");
    }

    /// Stops the cluster at once and starts it again.
    pub fn restart(&self) {
        self.pg_ctl(&["stop", "-m", "immediate", "-w"]);
        self.pg_ctl(&["start", "-w", "-t", "60"]);
    }

    /// Stops the cluster (fast shutdown).
    pub fn stop(&self) {
        self.pg_ctl(&["stop", "-m", "fast", "-w"]);
    }

    /// Starts a stopped cluster.
    pub fn start_again(&self) {
        self.pg_ctl(&["start", "-w", "-t", "60"]);
    }

    /// When this process exits, stop the server and remove its directory.
    // The watchdog must outlive this process, so it is never waited for.
    #[allow(clippy::zombie_processes)]
    fn spawn_watchdog(&self) {
        let data = self.inner.dir.join("data");
        let pg_ctl = self.inner.bindir.join("pg_ctl");
        let as_pg = if localpg::run_as().is_some() {
            "runuser -u postgres -- "
        } else {
            ""
        };
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; {as_pg}{ctl} -D {data} -m immediate stop >/dev/null 2>&1; rm -rf {dir}",
            pid = std::process::id(),
            ctl = pg_ctl.display(),
            data = data.display(),
            dir = self.inner.dir.display()
        );
        Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("spawn watchdog");
    }

    /// Runs SQL as the superuser over the Unix socket.
    pub fn psql_admin(&self, sql: &str) {
        self.inner.psql("postgres", sql).expect("psql");
    }

    /// A path to one of the cluster's client programs (psql, pgbench).
    pub fn program(&self, name: &str) -> PathBuf {
        self.inner.program(name)
    }
}

/// Connects with tokio-postgres and drives the connection in the background.
pub async fn connect(port: u16, user: &str, password: &str, db: &str) -> Result<Client, tokio_postgres::Error> {
    let (client, conn) = tokio_postgres::Config::new()
        .host("127.0.0.1")
        .port(port)
        .user(user)
        .password(password)
        .dbname(db)
        .connect_timeout(Duration::from_secs(10))
        .connect(NoTls)
        .await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

/// Connects as the superuser to database `postgres`.
pub async fn superuser(port: u16) -> Client {
    connect(port, "postgres", PASSWORD, "postgres").await.expect("connect")
}

/// Settings for a proxy under test.
#[derive(Clone)]
pub struct ProxySettings {
    /// `session` or `transaction`.
    pub mode: &'static str,
    /// Pool size.
    pub pool_size: usize,
    /// Wait timeout in milliseconds.
    pub wait_timeout_ms: u64,
    /// Extra TOML appended to the generated file.
    pub extra: String,
}

impl Default for ProxySettings {
    fn default() -> Self {
        Self {
            mode: "transaction",
            pool_size: 10,
            wait_timeout_ms: 10_000,
            extra: String::new(),
        }
    }
}

/// A proxy process, killed when dropped.
pub struct TestProxy {
    /// Its client port.
    pub port: u16,
    /// Its metrics/status port.
    pub metrics_port: u16,
    child: Child,
    config_path: PathBuf,
}

impl TestProxy {
    /// Starts a proxy in front of `cluster` with users postgres (scram),
    /// md5user (md5), trustuser (trust) and databases postgres and app.
    pub fn start(cluster: &Cluster, s: ProxySettings) -> TestProxy {
        let port = free_port();
        let text = format!(
            r#"listen = "127.0.0.1:{port}"
log_level = "warn"
admin_users = ["postgres"]
shutdown_timeout_secs = 10

[pool]
mode = "{mode}"
pool_size = {size}
wait_timeout_ms = {wait}

[[databases]]
name = "postgres"
port = {pg}
user = "postgres"
password = "{pw}"

[[databases]]
name = "app"
port = {pg}

[[users]]
name = "postgres"
password = "{pw}"

[[users]]
name = "md5user"
password = "md5pw"
auth = "md5"

[[users]]
name = "trustuser"
auth = "trust"

[[users]]
name = "appuser"
password = "apppw"
{extra}
"#,
            mode = s.mode,
            size = s.pool_size,
            wait = s.wait_timeout_ms,
            pg = cluster.port,
            pw = PASSWORD,
            extra = s.extra,
        );
        Self::start_with_config(&text, port)
    }

    /// Starts a proxy with a literal configuration listening on `port`.
    pub fn start_with_config(text: &str, port: u16) -> TestProxy {
        // Every proxy gets its own metrics port (the default one is shared).
        let metrics_port = free_port();
        let text = format!("metrics_listen = \"127.0.0.1:{metrics_port}\"\n{text}");
        let text = text.as_str();
        let config_path = std::env::temp_dir().join(format!("partproxy-test-{}-{port}.toml", std::process::id()));
        std::fs::write(&config_path, text).expect("write config");
        let child = Command::new(env!("CARGO_BIN_EXE_partproxy"))
            .arg("--config")
            .arg(&config_path)
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn partproxy");
        let proxy = TestProxy {
            port,
            metrics_port,
            child,
            config_path,
        };
        proxy.wait_listening();
        proxy
    }

    fn wait_listening(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "proxy did not start listening");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Runs the proxy's binary with this proxy's configuration and `args`
    /// (a subcommand such as `install-ddl-hook`).
    pub fn run_with_config(&self, args: &[&str]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_partproxy"))
            .arg("--config")
            .arg(&self.config_path)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run partproxy")
    }

    /// Appends TOML to the proxy's configuration file (for RELOAD).
    pub fn append_config(&self, extra: &str) {
        let mut text = std::fs::read_to_string(&self.config_path).expect("read config");
        text.push_str(extra);
        std::fs::write(&self.config_path, text).expect("write config");
    }

    /// Scrapes `/metrics`.
    pub fn scrape(&self) -> Scrape {
        let (status, body) = http_get(self.metrics_port, "/metrics");
        assert_eq!(status, 200, "/metrics answered {status}: {body}");
        Scrape::parse(&body)
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
    }

    /// Waits for the process to exit, up to `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for TestProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.config_path);
    }
}

/// Config for a fresh database `name` on the cluster, recreated now, that the
/// proxy serves with the superuser as its fixed login.
pub fn fresh_database(cluster: &Cluster, name: &str) -> String {
    cluster.psql_admin(&format!("DROP DATABASE IF EXISTS {name}"));
    cluster.psql_admin(&format!("CREATE DATABASE {name}"));
    database_config(cluster, name)
}

/// A fresh database `name` (as [`fresh_database`]) holding `schema`: its
/// config entry and a direct client.
pub async fn database_with(cluster: &Cluster, name: &str, schema: &str) -> (String, Client) {
    let extra = fresh_database(cluster, name);
    let direct = connect(cluster.port, "postgres", PASSWORD, name)
        .await
        .unwrap_or_else(|e| panic!("connect to {name}: {e:?}"));
    direct
        .batch_execute(schema)
        .await
        .unwrap_or_else(|e| panic!("schema of {name}: {e:?}"));
    (extra, direct)
}

/// A `[[databases]]` entry for database `name`, logging in as the superuser
/// (so the proxy reads its catalog).
pub fn database_config(cluster: &Cluster, name: &str) -> String {
    format!(
        "\n[[databases]]\nname = \"{name}\"\nport = {}\nuser = \"postgres\"\npassword = \"{PASSWORD}\"\n",
        cluster.port
    )
}

/// The SQLSTATE of a tokio-postgres error, or "" when it has none.
pub fn sqlstate(e: &tokio_postgres::Error) -> String {
    e.code().map(|c| c.code().to_owned()).unwrap_or_default()
}

/// The server's message text of a tokio-postgres error.
pub fn message(e: &tokio_postgres::Error) -> String {
    e.as_db_error()
        .map(|d| d.message().to_owned())
        .unwrap_or_else(|| e.to_string())
}

/// Creates a login role on the cluster unless it exists already.
pub async fn ensure_role(admin: &Client, name: &str, password: &str) {
    let sql = format!(
        "DO $$ BEGIN CREATE ROLE {name} LOGIN PASSWORD '{password}'; EXCEPTION WHEN duplicate_object THEN NULL; END $$"
    );
    admin.batch_execute(&sql).await.expect("create role");
}

/// Rows of `table` matching `filter` (a WHERE clause or nothing), counted per
/// child table that holds them, in name order.
pub async fn landed(c: &Client, table: &str, filter: &str) -> Vec<(String, i64)> {
    let sql = format!("SELECT tableoid::regclass::text, count(*) FROM {table} {filter} GROUP BY 1 ORDER BY 1");
    c.query(&sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

/// Rows of a simple query as text, plus the last command tag's row count;
/// panics (naming the statement) on an error.
pub async fn rows(c: &Client, sql: &str) -> (Vec<Vec<Option<String>>>, Option<u64>) {
    let mut out = Vec::new();
    let mut count = None;
    for m in c.simple_query(sql).await.unwrap_or_else(|e| panic!("{sql}: {e:?}")) {
        match m {
            SimpleQueryMessage::Row(r) => out.push((0..r.len()).map(|i| r.get(i).map(str::to_owned)).collect()),
            SimpleQueryMessage::CommandComplete(n) => count = Some(n),
            _ => {}
        }
    }
    (out, count)
}

/// A plain HTTP/1.0 GET on the loopback interface: (status, body).
pub fn http_get(port: u16, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect to the metrics port");
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").expect("send request");
    let mut raw = String::new();
    s.read_to_string(&mut raw).expect("read response");
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, body.to_owned())
}

/// One scrape of `/metrics` in the text format.
#[derive(Debug, Clone)]
pub struct Scrape(pub Vec<(String, std::collections::BTreeMap<String, String>, f64)>);

impl Scrape {
    /// Parses the text exposition format (label values may hold escapes).
    pub fn parse(text: &str) -> Scrape {
        let mut out = Vec::new();
        for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
            let (name_labels, value) = line.rsplit_once(' ').expect("sample line");
            let value: f64 = value.parse().unwrap_or(f64::NAN);
            let (name, labels) = match name_labels.split_once('{') {
                None => (name_labels.to_owned(), Default::default()),
                Some((name, rest)) => (name.to_owned(), parse_labels(rest.trim_end_matches('}'))),
            };
            out.push((name, labels, value));
        }
        Scrape(out)
    }

    /// The sum of `name` over samples whose labels include every pair.
    pub fn sum(&self, name: &str, matching: &[(&str, &str)]) -> f64 {
        self.0
            .iter()
            .filter(|(n, l, _)| n == name && matching.iter().all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v)))
            .map(|(_, _, v)| v)
            .sum()
    }

    /// True when some sample of `name` exists.
    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(n, _, _)| n == name)
    }
}

fn parse_labels(text: &str) -> std::collections::BTreeMap<String, String> {
    let mut labels = std::collections::BTreeMap::new();
    let mut chars = text.chars().peekable();
    loop {
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() {
            break;
        }
        assert_eq!(chars.next(), Some('"'));
        let mut value = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some(other) => value.push(other),
                    None => break,
                },
                '"' => break,
                c => value.push(c),
            }
        }
        labels.insert(key.trim_start_matches(',').to_owned(), value);
        if chars.peek() == Some(&',') {
            chars.next();
        }
    }
    labels
}

/// The headless browser for page tests: `PARTPROXY_CHROMIUM`, or chromium
/// on the PATH. Missing, the test fails unless `PARTPROXY_SKIP_BROWSER=1`.
pub fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PARTPROXY_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        if let Ok(out) = Command::new("sh").args(["-c", &format!("command -v {name}")]).output() {
            let path = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            if out.status.success() && !path.is_empty() {
                return Some(PathBuf::from(path));
            }
        }
    }
    if std::env::var("PARTPROXY_SKIP_BROWSER").as_deref() == Ok("1") {
        eprintln!("no chromium: browser test skipped (PARTPROXY_SKIP_BROWSER=1)");
        return None;
    }
    panic!("no chromium found: install Debian's chromium package, set PARTPROXY_CHROMIUM, or PARTPROXY_SKIP_BROWSER=1");
}

fn headless(browser: &std::path::Path, profile: &std::path::Path) -> Command {
    let mut c = Command::new(browser);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,900",
        // Lets the page's fetch and render finish before the dump.
        "--virtual-time-budget=5000",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .stdin(Stdio::null());
    c
}

/// The page's DOM after its scripts ran.
pub fn browser_dom(browser: &std::path::Path, url: &str) -> String {
    let profile = tempfile::tempdir().expect("profile dir");
    let out = headless(browser, profile.path())
        .arg("--dump-dom")
        .arg(url)
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Saves a screenshot of the page under target/ (the README's copy lives in docs/).
pub fn browser_screenshot(browser: &std::path::Path, url: &str, name: &str) {
    let profile = tempfile::tempdir().expect("profile dir");
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target").join(name);
    let out = headless(browser, profile.path())
        .arg(format!("--screenshot={}", path.display()))
        .arg(url)
        .output()
        .expect("run chromium");
    assert!(
        out.status.success() && path.exists(),
        "no screenshot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn unescape_html(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let len = tag[start..].find('"')?;
    Some(&tag[start..start + len])
}

/// Every figure the page marks with `data-metric`: (family, labels, value).
pub fn page_figures(dom: &str) -> Vec<(String, std::collections::BTreeMap<String, String>, f64)> {
    let mut out = Vec::new();
    for piece in dom.split('<').skip(1) {
        let tag = match piece.find('>') {
            Some(end) => &piece[..end],
            None => continue,
        };
        let (Some(name), Some(labels), Some(value)) = (
            attribute(tag, "data-metric"),
            attribute(tag, "data-match"),
            attribute(tag, "data-value"),
        ) else {
            continue;
        };
        let labels: std::collections::BTreeMap<String, String> =
            serde_json::from_str(&unescape_html(labels)).expect("data-match is JSON");
        out.push((name.to_owned(), labels, value.parse().expect("data-value is a number")));
    }
    out
}
