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
