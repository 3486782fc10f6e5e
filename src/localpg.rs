//! A throwaway PostgreSQL cluster started from the system's server binaries:
//! used by `partproxy demo` and by the integration tests.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A free TCP port on the loopback interface.
/// A port nobody listens on now, handed out once per process. Ports come
/// from below Linux's ephemeral range (so outgoing connections, which take
/// ephemeral ports, never hold one) starting at a per-process offset, so
/// concurrent tests and processes do not pick the same one.
pub fn free_port() -> std::io::Result<u16> {
    use std::sync::atomic::{AtomicU32, Ordering};
    const FIRST: u32 = 15_000;
    const SPAN: u32 = 17_000;
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    if NEXT.load(Ordering::Relaxed) == u32::MAX {
        let offset = (std::process::id().wrapping_mul(7919)) % SPAN;
        let _ = NEXT.compare_exchange(u32::MAX, offset, Ordering::Relaxed, Ordering::Relaxed);
    }
    for _ in 0..SPAN {
        let port = (FIRST + NEXT.fetch_add(1, Ordering::Relaxed) % SPAN) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    TcpListener::bind("127.0.0.1:0")?.local_addr().map(|a| a.port())
}

/// Directory holding the PostgreSQL server binaries: `PG_BINDIR`, else
/// `pg_config --bindir`, else the newest Debian-style install.
pub fn bindir() -> Result<PathBuf, String> {
    if let Ok(dir) = std::env::var("PG_BINDIR") {
        return Ok(PathBuf::from(dir));
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("initdb").exists() {
            return Ok(dir);
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
    found.pop().ok_or_else(|| {
        "PostgreSQL server binaries not found: install them (Debian/Ubuntu: apt-get install postgresql) or set PG_BINDIR"
            .to_owned()
    })
}

/// The uid/gid PostgreSQL must run as: the `postgres` account when running
/// as root (initdb refuses root), else `None` (the current user).
pub fn run_as() -> Option<(u32, u32)> {
    let uid = Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return None;
    }
    let get = |flag: &str| -> Option<u32> {
        let out = Command::new("id").args([flag, "postgres"]).output().ok()?;
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    };
    Some((get("-u")?, get("-g")?))
}

/// Settings of a new cluster.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// The `postgres` superuser's password (SCRAM over TCP; the Unix socket trusts).
    pub password: String,
    /// Lines put in front of the generated pg_hba.conf.
    pub hba_prefix: String,
    /// `max_connections`.
    pub max_connections: u32,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            password: "postgres".into(),
            hba_prefix: String::new(),
            max_connections: 400,
        }
    }
}

/// A running cluster in a temporary directory, listening on 127.0.0.1.
#[derive(Debug)]
pub struct LocalCluster {
    /// Its port.
    pub port: u16,
    /// Directory holding the data directory, log and Unix socket.
    pub dir: PathBuf,
    /// Where its binaries are.
    pub bindir: PathBuf,
}

fn pg_command(program: &Path) -> Command {
    let mut c = Command::new(program);
    if let Some((uid, gid)) = run_as() {
        c.uid(uid).gid(gid);
    }
    c.stdout(Stdio::null()).stderr(Stdio::piped());
    c
}

fn run(mut c: Command, what: &str) -> Result<(), String> {
    let out = c.output().map_err(|e| format!("{what}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn give_to_pg(path: &Path) -> Result<(), String> {
    if let Some((uid, gid)) = run_as() {
        std::os::unix::fs::chown(path, Some(uid), Some(gid)).map_err(|e| format!("chown {}: {e}", path.display()))?;
    }
    Ok(())
}

impl LocalCluster {
    /// initdb into a new temporary directory (fsync off: data is throwaway), then start.
    pub fn start(opts: &ClusterOptions) -> Result<LocalCluster, String> {
        let bindir = bindir()?;
        let port = free_port().map_err(|e| format!("no free port: {e}"))?;
        let dir = std::env::temp_dir().join(format!("partproxy-pg-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        give_to_pg(&dir)?;
        let pwfile = dir.join("pw");
        std::fs::write(&pwfile, &opts.password).map_err(|e| format!("write password file: {e}"))?;
        give_to_pg(&pwfile)?;
        let cluster = LocalCluster { port, dir, bindir };
        let data = cluster.dir.join("data");
        let mut init = pg_command(&cluster.bindir.join("initdb"));
        init.arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"])
            .arg(format!("--pwfile={}", pwfile.display()))
            .args(["--auth-local=trust", "--auth-host=scram-sha-256"]);
        run(init, "initdb")?;

        let conf = format!(
            "\nport = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\nfsync = off\n\
             synchronous_commit = off\nfull_page_writes = off\nmax_connections = {}\nlog_min_messages = warning\n",
            cluster.dir.display(),
            opts.max_connections
        );
        append(&data.join("postgresql.conf"), &conf, false)?;
        append(&data.join("pg_hba.conf"), &opts.hba_prefix, true)?;
        cluster.pg_ctl(&["start", "-w", "-t", "60"])?;
        Ok(cluster)
    }

    /// Runs `pg_ctl` on the cluster with these arguments.
    pub fn pg_ctl(&self, args: &[&str]) -> Result<(), String> {
        let mut c = pg_command(&self.bindir.join("pg_ctl"));
        c.arg("-D")
            .arg(self.dir.join("data"))
            .arg("-l")
            .arg(self.dir.join("log"))
            .args(args);
        run(c, "pg_ctl")
    }

    /// Runs SQL as the superuser over the Unix socket.
    pub fn psql(&self, database: &str, sql: &str) -> Result<(), String> {
        let mut c = pg_command(&self.program("psql"));
        c.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h"])
            .arg(&self.dir)
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                database,
                "-c",
                sql,
            ]);
        run(c, "psql")
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

    /// Stops the server at once and removes its directory.
    pub fn destroy(&self) {
        let _ = self.pg_ctl(&["stop", "-m", "immediate", "-w"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn append(path: &Path, text: &str, in_front: bool) -> Result<(), String> {
    let old = std::fs::read_to_string(path).map_err(|e| format!("read {}: {e}", path.display()))?;
    let new = if in_front {
        format!("{text}\n{old}")
    } else {
        format!("{old}{text}")
    };
    std::fs::write(path, new).map_err(|e| format!("write {}: {e}", path.display()))
}
