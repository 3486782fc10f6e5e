//! Test support: a throwaway PostgreSQL cluster started once per test run and
//! a proxy process per test with a generated configuration.

#![allow(dead_code)]

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tokio_postgres::{Client, NoTls};

/// The superuser's password on every test cluster.
pub const PASSWORD: &str = "secret";

/// A free TCP port on the loopback interface.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port")
}

/// Directory holding the PostgreSQL server binaries: `PG_BINDIR`, else
/// `pg_config --bindir`, else the newest Debian-style install.
pub fn bindir() -> PathBuf {
    if let Ok(dir) = std::env::var("PG_BINDIR") {
        return PathBuf::from(dir);
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("initdb").exists() {
            return dir;
        }
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("initdb").exists())
        .collect();
    found.sort();
    found
        .pop()
        .expect("PostgreSQL server binaries not found: set PG_BINDIR or install postgresql")
}

/// The uid/gid PostgreSQL must run as: the `postgres` account when the tests
/// run as root (initdb refuses root), else the current user.
fn run_as() -> Option<(u32, u32)> {
    let uid = Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return None;
    }
    let get = |flag: &str| -> Option<u32> {
        let out = Command::new("id").args([flag, "postgres"]).output().ok()?;
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    };
    Some((
        get("-u").expect("root needs a `postgres` account to run PostgreSQL"),
        get("-g")?,
    ))
}

fn pg_command(program: &Path) -> Command {
    let mut c = Command::new(program);
    if let Some((uid, gid)) = run_as() {
        c.uid(uid).gid(gid);
    }
    c.stdout(Stdio::null()).stderr(Stdio::piped());
    c
}

fn run(mut c: Command, what: &str) {
    let out = c.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A PostgreSQL cluster in a temporary directory.
pub struct Cluster {
    /// Port it listens on.
    pub port: u16,
    dir: PathBuf,
    bindir: PathBuf,
}

impl Cluster {
    /// The cluster shared by the whole test run.
    pub fn shared() -> &'static Cluster {
        static SHARED: OnceLock<Cluster> = OnceLock::new();
        SHARED.get_or_init(Cluster::start)
    }

    /// Starts a new cluster, stopped and removed when the test process exits.
    pub fn start() -> Cluster {
        let bindir = bindir();
        let dir = std::env::temp_dir().join(format!("partproxy-test-{}-{}", std::process::id(), free_port()));
        std::fs::create_dir_all(&dir).expect("create cluster dir");
        if let Some((uid, gid)) = run_as() {
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).expect("chown cluster dir");
        }
        let pwfile = dir.join("pw");
        std::fs::write(&pwfile, PASSWORD).expect("write pwfile");
        if let Some((uid, gid)) = run_as() {
            std::os::unix::fs::chown(&pwfile, Some(uid), Some(gid)).expect("chown pwfile");
        }
        let data = dir.join("data");
        let mut init = pg_command(&bindir.join("initdb"));
        init.arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"]);
        init.arg(format!("--pwfile={}", pwfile.display()));
        init.args(["--auth-local=trust", "--auth-host=scram-sha-256"]);
        run(init, "initdb");

        let port = free_port();
        let conf = format!(
            "\nport = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 400\nlog_min_messages = warning\n",
            dir.display()
        );
        let conf_path = data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf_path).expect("read postgresql.conf");
        text.push_str(&conf);
        std::fs::write(&conf_path, text).expect("write postgresql.conf");
        let hba_path = data.join("pg_hba.conf");
        let hba = std::fs::read_to_string(&hba_path).expect("read pg_hba.conf");
        let hba = format!("host all trustuser 127.0.0.1/32 trust\nhost all md5user 127.0.0.1/32 md5\n{hba}");
        std::fs::write(&hba_path, hba).expect("write pg_hba.conf");

        let cluster = Cluster { port, dir, bindir };
        cluster.pg_ctl(&["start", "-w", "-t", "60"]);
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
        let mut c = pg_command(&self.bindir.join("pg_ctl"));
        c.arg("-D")
            .arg(self.dir.join("data"))
            .arg("-l")
            .arg(self.dir.join("log"))
            .args(args);
        run(c, "pg_ctl");
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
        let data = self.dir.join("data");
        let pg_ctl = self.bindir.join("pg_ctl");
        let as_pg = if run_as().is_some() {
            "runuser -u postgres -- "
        } else {
            ""
        };
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; {as_pg}{ctl} -D {data} -m immediate stop >/dev/null 2>&1; rm -rf {dir}",
            pid = std::process::id(),
            ctl = pg_ctl.display(),
            data = data.display(),
            dir = self.dir.display()
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
        let mut c = pg_command(&self.bindir.join("psql"));
        c.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h"])
            .arg(&self.dir)
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-c",
                sql,
            ]);
        run(c, "psql");
    }

    /// A path to one of the cluster's client programs (psql, pgbench).
    pub fn program(&self, name: &str) -> PathBuf {
        let p = self.bindir.join(name);
        if p.exists() {
            p
        } else {
            PathBuf::from(name)
        }
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
