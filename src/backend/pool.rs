//! A pool of server connections for one (database, login user): bounded size,
//! a wait queue with a timeout, idle and lifetime limits, and a minimum size.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use prometheus::{Histogram, IntCounter};
use serde::Deserialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::conn::{BackendError, BackendTarget, ServerConn};

/// How long a client keeps a backend connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum PoolMode {
    /// A backend is held for the whole client session.
    #[default]
    Session,
    /// A backend is held for one transaction and returned at ReadyForQuery `I`.
    Transaction,
}

impl PoolMode {
    /// `session` or `transaction`, as the configuration spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            PoolMode::Session => "session",
            PoolMode::Transaction => "transaction",
        }
    }
}

/// Pool sizing and timeouts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolSettings {
    /// Session or transaction pooling.
    pub mode: PoolMode,
    /// Most backend connections per (database, user).
    pub pool_size: usize,
    /// Backend connections kept open even when idle.
    pub min_pool_size: usize,
    /// Limit on connecting and authenticating to PostgreSQL.
    pub connect_timeout: Duration,
    /// Idle backends above `min_pool_size` are closed after this long.
    pub idle_timeout: Duration,
    /// Backends are closed (when idle) after this long.
    pub max_lifetime: Duration,
    /// A client waiting this long for a backend gets an error.
    pub wait_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            mode: PoolMode::Session,
            pool_size: 20,
            min_pool_size: 0,
            connect_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(600),
            max_lifetime: Duration::from_secs(3600),
            wait_timeout: Duration::from_secs(30),
        }
    }
}

/// Why a checkout failed.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// Every connection stayed busy for the whole wait timeout.
    #[error("timed out after {0:?} waiting for a server connection")]
    WaitTimeout(Duration),
    /// A new connection could not be opened.
    #[error("could not connect to the server: {0}")]
    Connect(#[from] BackendError),
}

/// A server connection lent to one client, with the pool slot it occupies.
#[derive(Debug)]
pub struct Checkout {
    /// The connection.
    pub conn: ServerConn,
    _permit: OwnedSemaphorePermit,
}

/// The pool.
#[derive(Debug)]
pub struct Pool {
    /// `database/user`, for logs.
    pub name: String,
    target: BackendTarget,
    settings: PoolSettings,
    idle: Mutex<Vec<ServerConn>>,
    permits: Arc<Semaphore>,
    waiting: AtomicUsize,
    /// ParameterStatus values a server reported after a client's startup
    /// settings were applied, by those settings.
    startup_params: Mutex<HashMap<Settings, Settings>>,
    clients: AtomicUsize,
    /// The search_path its server sessions start with (learned from the
    /// first connection; every one logs in as the same role).
    default_search_path: Mutex<Option<String>>,
    /// The pool's counters.
    pub metrics: PoolMetrics,
}

/// Counts a client session against its pool for as long as it lives.
#[derive(Debug)]
pub struct PoolClient(Arc<Pool>);

impl Drop for PoolClient {
    fn drop(&mut self) {
        self.0.clients.fetch_sub(1, Ordering::Relaxed);
    }
}

/// An idle server connection as the admin console lists it.
#[derive(Debug, Clone)]
pub struct IdleServer {
    /// Backend pid.
    pub pid: u32,
    /// How long ago it was opened.
    pub age: Duration,
    /// How long it has been idle.
    pub idle_for: Duration,
}

type Settings = BTreeMap<String, String>;

/// Distinct startup-setting combinations remembered per pool.
const MAX_CACHED_STARTUPS: usize = 256;

impl Pool {
    /// A pool that connects to `target` with `settings`.
    pub fn new(name: String, target: BackendTarget, settings: PoolSettings, metrics: PoolMetrics) -> Arc<Pool> {
        Arc::new(Pool {
            name,
            permits: Arc::new(Semaphore::new(settings.pool_size)),
            target,
            settings,
            idle: Mutex::new(Vec::new()),
            waiting: AtomicUsize::new(0),
            startup_params: Mutex::new(HashMap::new()),
            default_search_path: Mutex::new(None),
            clients: AtomicUsize::new(0),
            metrics,
        })
    }

    /// Counts a client session served by this pool until the guard drops.
    pub fn client(self: &Arc<Self>) -> PoolClient {
        self.clients.fetch_add(1, Ordering::Relaxed);
        PoolClient(self.clone())
    }

    /// Client sessions served by this pool.
    pub fn client_count(&self) -> usize {
        self.clients.load(Ordering::Relaxed)
    }

    /// True when the pool connects to this server and database.
    pub fn serves(&self, host: &str, port: u16, dbname: &str) -> bool {
        self.target.host == host && self.target.port == port && self.target.dbname == dbname
    }

    /// The idle connections, most recently used last.
    pub fn idle_servers(&self) -> Vec<IdleServer> {
        self.idle
            .lock()
            .iter()
            .map(|c| IdleServer {
                pid: c.key.0,
                age: c.created.elapsed(),
                idle_for: c.last_used.elapsed(),
            })
            .collect()
    }

    /// The server address connections go to.
    pub fn server_address(&self) -> (&str, u16) {
        (&self.target.host, self.target.port)
    }

    /// The pool's settings.
    pub fn settings(&self) -> &PoolSettings {
        &self.settings
    }

    /// The parameters to report to a client with these startup settings, if a
    /// server reported them before.
    pub fn startup_params(&self, settings: &Settings) -> Option<Settings> {
        self.startup_params.lock().get(settings).cloned()
    }

    /// Remembers what a server reported for these startup settings.
    pub fn remember_startup_params(&self, settings: &Settings, params: &Settings) {
        let mut cache = self.startup_params.lock();
        if cache.len() < MAX_CACHED_STARTUPS {
            cache.insert(settings.clone(), params.clone());
        }
    }

    /// The search_path a server session of this pool starts with, once a
    /// connection has been opened.
    pub fn default_search_path(&self) -> Option<String> {
        self.default_search_path.lock().clone()
    }

    /// Clients currently waiting for a connection.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Connections currently idle in the pool.
    pub fn idle_count(&self) -> usize {
        self.idle.lock().len()
    }

    /// Connections currently lent to clients.
    pub fn active_count(&self) -> usize {
        self.settings.pool_size - self.permits.available_permits()
    }

    /// Takes an idle connection that still looks healthy, or opens a new one,
    /// waiting at most the wait timeout for a free slot.
    pub async fn checkout(&self) -> Result<Checkout, PoolError> {
        let started = Instant::now();
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let permit = tokio::time::timeout(self.settings.wait_timeout, self.permits.clone().acquire_owned()).await;
        self.waiting.fetch_sub(1, Ordering::Relaxed);
        self.metrics.wait.observe(started.elapsed().as_secs_f64());
        let permit = match permit {
            Ok(Ok(p)) => p,
            // The semaphore is never closed; treat it like a timeout regardless.
            _ => return Err(PoolError::WaitTimeout(self.settings.wait_timeout)),
        };
        loop {
            let candidate = self.idle.lock().pop();
            match candidate {
                Some(conn) if conn.looks_alive() && conn.created.elapsed() < self.settings.max_lifetime => {
                    self.metrics.checkouts.inc();
                    return Ok(Checkout { conn, _permit: permit });
                }
                Some(conn) => {
                    tracing::debug!(pool = %self.name, pid = conn.key.0, "dropping stale idle connection")
                }
                None => break,
            }
        }
        let conn = match ServerConn::connect(&self.target, self.settings.connect_timeout).await {
            Ok(c) => c,
            Err(e) => {
                self.metrics.connect_errors.inc();
                return Err(e.into());
            }
        };
        tracing::debug!(pool = %self.name, pid = conn.key.0, "opened server connection");
        *self.default_search_path.lock() = Some(conn.default_search_path.clone());
        self.metrics.checkouts.inc();
        Ok(Checkout { conn, _permit: permit })
    }

    /// Returns a connection that is idle and clean.
    pub fn checkin(&self, mut c: Checkout) {
        if c.conn.created.elapsed() >= self.settings.max_lifetime {
            return;
        }
        c.conn.last_used = Instant::now();
        self.idle.lock().push(c.conn);
    }

    /// Closes idle connections past their idle timeout (above the minimum) or
    /// lifetime, and opens connections up to the minimum size.
    pub async fn maintain(&self) {
        {
            let mut idle = self.idle.lock();
            let min = self.settings.min_pool_size;
            let mut keep = Vec::with_capacity(idle.len());
            // Oldest-used first so the most recently used survive.
            idle.sort_by_key(|c| c.last_used);
            let total = idle.len();
            for (i, conn) in idle.drain(..).enumerate() {
                let surplus = total - i > min;
                let expired = conn.created.elapsed() >= self.settings.max_lifetime
                    || (surplus && conn.last_used.elapsed() >= self.settings.idle_timeout)
                    || !conn.looks_alive();
                if !expired {
                    keep.push(conn);
                }
            }
            *idle = keep;
        }
        while self.idle_count() + self.active_count() < self.settings.min_pool_size {
            let Ok(permit) = self.permits.clone().try_acquire_owned() else {
                break;
            };
            match ServerConn::connect(&self.target, self.settings.connect_timeout).await {
                Ok(conn) => {
                    *self.default_search_path.lock() = Some(conn.default_search_path.clone());
                    self.checkin(Checkout { conn, _permit: permit })
                }
                Err(e) => {
                    self.metrics.connect_errors.inc();
                    tracing::warn!(pool = %self.name, error = %e, "could not open a minimum-pool connection");
                    break;
                }
            }
        }
    }
}

/// One pool's counters (gauges are sampled from the pool at scrape time).
#[derive(Debug, Clone)]
pub struct PoolMetrics {
    /// Time waited for a server.
    pub wait: Histogram,
    /// Servers lent.
    pub checkouts: IntCounter,
    /// Failed connects.
    pub connect_errors: IntCounter,
    /// Resets on release.
    pub resets: IntCounter,
    /// ReadyForQuery answers.
    pub queries: IntCounter,
    /// ReadyForQuery 'I' answers.
    pub transactions: IntCounter,
    /// Query durations.
    pub query_duration: Histogram,
    /// Bytes from clients.
    pub bytes_received: IntCounter,
    /// Bytes to clients.
    pub bytes_sent: IntCounter,
}
