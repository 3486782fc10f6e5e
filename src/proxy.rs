//! The proxy's shared state: configuration, pools, catalogs, registries,
//! counters and limits every connection consults. The accept loop lives
//! apart, in `app`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use arc_swap::ArcSwap;
use dashmap::DashMap;
use parking_lot::Mutex;
use tokio::sync::watch;
use tokio::task::AbortHandle;

use crate::backend::{BackendTarget, Pool};
use crate::cancel::CancelRegistry;
use crate::catalog::live::LiveCatalog;
use crate::clients::ClientRegistry;
use crate::config::{Config, Database, Overrides, User};
use crate::metrics::Metrics;
use crate::prepared::StatementRegistry;

/// Where the configuration came from, for RELOAD.
#[derive(Debug, Clone)]
pub struct ConfigSource {
    /// The file.
    pub path: PathBuf,
    /// The command-line flags that override it.
    pub overrides: Overrides,
}

/// State shared by every client session.
#[derive(Debug)]
pub struct Proxy {
    config: ArcSwap<Config>,
    source: Option<ConfigSource>,
    pools: DashMap<(String, String), Arc<Pool>>,
    /// Cancel keys handed to clients.
    pub cancels: Arc<CancelRegistry>,
    /// The proxy's own secret for mock authentication of unknown users.
    pub mock_key: [u8; 32],
    /// Prepared statements under proxy-chosen names.
    pub statements: StatementRegistry,
    /// Parsed statements by text, for routing each Bind without re-parsing.
    pub parse_cache: crate::router::cache::ParseCache,
    /// Every exported metric.
    pub metrics: Arc<Metrics>,
    /// Connected clients, for the admin console.
    pub registry: Arc<ClientRegistry>,
    /// When the proxy started.
    pub started: SystemTime,
    shutdown: watch::Sender<bool>,
    paused: watch::Sender<bool>,
    clients: AtomicUsize,
    /// Connections that have not finished logging in.
    logging_in: AtomicUsize,
    /// Bytes of large client messages held whole, over all sessions.
    buffered: AtomicUsize,
    catalogs: DashMap<String, Arc<LiveCatalog>>,
    refreshers: Mutex<Vec<(String, AbortHandle)>>,
}

/// Counts a client session for as long as it lives.
#[derive(Debug)]
pub struct ClientGuard(Arc<Proxy>);

impl Drop for ClientGuard {
    fn drop(&mut self) {
        self.0.clients.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A share of the buffer budget, given back when dropped.
#[derive(Debug)]
pub struct BufferReservation(Arc<Proxy>, usize);

impl Drop for BufferReservation {
    fn drop(&mut self) {
        self.0.buffered.fetch_sub(self.1, Ordering::Relaxed);
    }
}

/// Counts a connection that is logging in for as long as it does.
#[derive(Debug)]
pub struct LoginGuard(Arc<Proxy>);

impl Drop for LoginGuard {
    fn drop(&mut self) {
        self.0.logging_in.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What RELOAD changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ReloadSummary {
    /// Pools retired because their database changed or went away (their
    /// sessions finish on them; new sessions get new pools).
    pub pools_retired: usize,
    /// Catalogs asked to re-read.
    pub catalogs_refreshed: usize,
}

impl Proxy {
    /// Creates the proxy and the pools that have a fixed login user.
    pub fn new(config: Config, source: Option<ConfigSource>) -> Arc<Proxy> {
        let (shutdown, _) = watch::channel(false);
        let (paused, _) = watch::channel(false);
        let metrics = Arc::new(Metrics::new(config.metrics_child_labels));
        let proxy = Arc::new(Proxy {
            catalogs: DashMap::new(),
            refreshers: Mutex::new(Vec::new()),
            config: ArcSwap::from_pointee(config),
            source,
            pools: DashMap::new(),
            cancels: Arc::new(CancelRegistry::default()),
            mock_key: rand::random(),
            statements: StatementRegistry::default(),
            parse_cache: crate::router::cache::ParseCache::new(
                PARSE_CACHE_BYTES,
                metrics.parse_cache_hits.clone(),
                metrics.parse_cache_misses.clone(),
            ),
            metrics,
            registry: Arc::new(ClientRegistry::default()),
            started: SystemTime::now(),
            shutdown,
            paused,
            clients: AtomicUsize::new(0),
            logging_in: AtomicUsize::new(0),
            buffered: AtomicUsize::new(0),
        });
        proxy.sync_catalogs();
        let config = proxy.config();
        for db in config.databases.values() {
            if let Some(user) = &db.user {
                proxy.insert_pool(db, user, db.password.clone());
            }
        }
        proxy
    }

    /// The configuration in force.
    pub fn config(&self) -> Arc<Config> {
        self.config.load_full()
    }

    /// Makes the live catalogs match the configuration: one per database with
    /// a fixed login when routing is on, with the rules that apply to it.
    fn sync_catalogs(&self) {
        let config = self.config();
        let mut wanted = std::collections::HashSet::new();
        if config.routing.enabled {
            for db in config.databases.values() {
                // The catalog connection needs a fixed login.
                let Some(target) = catalog_target(db) else {
                    continue;
                };
                let rules = config.routing.rules_for(&db.name);
                wanted.insert(db.name.clone());
                match self.catalogs.get(&db.name).map(|c| c.clone()) {
                    Some(live) if live.target() == &target => live.set_rules(rules),
                    _ => {
                        let live = LiveCatalog::new(db.name.clone(), target, rules, self.metrics.catalog(&db.name));
                        self.catalogs.insert(db.name.clone(), live);
                    }
                }
            }
        }
        self.catalogs.retain(|name, _| wanted.contains(name));
    }

    fn insert_pool(&self, db: &Database, login: &str, password: Option<String>) -> Arc<Pool> {
        self.pools
            .entry((db.name.clone(), login.to_owned()))
            .or_insert_with(|| {
                let target = BackendTarget {
                    host: db.host.clone(),
                    port: db.port,
                    dbname: db.dbname.clone(),
                    user: login.to_owned(),
                    password,
                };
                Pool::new(
                    format!("{}/{}", db.name, login),
                    target,
                    db.pool.clone(),
                    self.metrics.pool(&db.name, login),
                )
            })
            .clone()
    }

    /// The pool serving `user` on `db`: the database's fixed login if it has
    /// one, else the client's own name and configured password.
    pub fn pool_for(&self, db: &Database, user: &User) -> Arc<Pool> {
        match &db.user {
            Some(login) => self.insert_pool(db, login, db.password.clone()),
            None => self.insert_pool(db, &user.name, user.plain_password.clone()),
        }
    }

    /// Every pool, ordered by (database, user).
    pub fn pools(&self) -> Vec<((String, String), Arc<Pool>)> {
        let mut all: Vec<_> = self
            .pools
            .iter()
            .map(|p| (p.key().clone(), p.value().clone()))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// The live catalog of a database, when routing is on for it.
    pub fn catalog(&self, database: &str) -> Option<Arc<LiveCatalog>> {
        self.catalogs.get(database).map(|c| c.clone())
    }

    /// Every live catalog, ordered by database.
    pub fn catalogs(&self) -> Vec<Arc<LiveCatalog>> {
        let mut all: Vec<_> = self.catalogs.iter().map(|c| c.value().clone()).collect();
        all.sort_by(|a, b| a.database.cmp(&b.database));
        all
    }

    /// Every (database, quoted parent) the live catalogs know.
    pub fn known_parents(&self) -> Vec<(String, String)> {
        self.catalogs()
            .iter()
            .flat_map(|live| {
                let db = live.database.clone();
                live.snapshot()
                    .hierarchies
                    .keys()
                    .map(|t| (db.clone(), t.quoted()))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Sets the gauges that are read from live state rather than counted.
    pub fn sample_metrics(&self) {
        let m = &self.metrics;
        m.clients.set(self.client_count() as i64);
        m.paused.set(i64::from(self.is_paused()));
        for ((db, user), pool) in self.pools() {
            let l = [db.as_str(), user.as_str()];
            m.pool_clients.with_label_values(&l).set(pool.client_count() as i64);
            m.pool_waiting.with_label_values(&l).set(pool.waiting() as i64);
            m.pool_active.with_label_values(&l).set(pool.active_count() as i64);
            m.pool_idle.with_label_values(&l).set(pool.idle_count() as i64);
            m.pool_size.with_label_values(&l).set(pool.settings().pool_size as i64);
        }
    }

    /// A receiver that turns true when shutdown begins.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Begins a graceful shutdown.
    pub fn begin_shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    /// True once shutdown has begun.
    pub fn shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// Stops lending server connections (PAUSE) or starts again (RESUME).
    pub fn set_paused(&self, paused: bool) {
        self.paused.send_replace(paused);
    }

    /// True while PAUSE is in force.
    pub fn is_paused(&self) -> bool {
        *self.paused.borrow()
    }

    /// Waits until RESUME (returns at once when not paused).
    pub async fn wait_resumed(&self) {
        let mut rx = self.paused.subscribe();
        let _ = rx.wait_for(|p| !*p).await;
    }

    /// Server connections lent to clients now, over every pool.
    pub fn active_servers(&self) -> usize {
        self.pools.iter().map(|p| p.active_count()).sum()
    }

    /// Re-reads the configuration file (when there is one) and every catalog.
    /// Databases whose server or pool settings changed get new pools; their
    /// running sessions finish on the old ones.
    pub fn reload(&self) -> Result<ReloadSummary, String> {
        let mut summary = ReloadSummary::default();
        if let Some(source) = &self.source {
            let text = std::fs::read_to_string(&source.path)
                .map_err(|e| format!("cannot read {}: {e}", source.path.display()))?;
            let new = Config::from_toml(&text, &source.overrides).map_err(|e| e.to_string())?;
            let new = Arc::new(new);
            self.pools.retain(|(db, _), pool| {
                let keep = new
                    .databases
                    .get(db)
                    .is_some_and(|d| pool.settings() == &d.pool && pool.serves(&d.host, d.port, &d.dbname));
                summary.pools_retired += usize::from(!keep);
                keep
            });
            self.config.store(new);
            self.sync_catalogs();
        }
        for live in self.catalogs() {
            live.request_refresh();
            summary.catalogs_refreshed += 1;
        }
        Ok(summary)
    }

    /// Reserves `bytes` of the budget for a client message held whole, or
    /// `None` when that would pass `max_buffered_bytes`.
    pub fn reserve_buffer(self: &Arc<Self>, bytes: usize) -> Option<BufferReservation> {
        let limit = self.config().max_buffered_bytes;
        let mut now = self.buffered.load(Ordering::Relaxed);
        loop {
            if now.saturating_add(bytes) > limit {
                return None;
            }
            match self
                .buffered
                .compare_exchange_weak(now, now + bytes, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return Some(BufferReservation(self.clone(), bytes)),
                Err(seen) => now = seen,
            }
        }
    }

    /// Bytes of client messages held whole now.
    pub fn buffered_bytes(&self) -> usize {
        self.buffered.load(Ordering::Relaxed)
    }

    /// Counts a connection that is logging in, or `None` when `limit` are.
    pub fn begin_login(self: &Arc<Self>, limit: usize) -> Option<LoginGuard> {
        let now = self.logging_in.fetch_add(1, Ordering::Relaxed);
        let guard = LoginGuard(self.clone());
        (now < limit).then_some(guard)
    }

    /// Connections logging in now.
    pub fn login_count(&self) -> usize {
        self.logging_in.load(Ordering::Relaxed)
    }

    /// Counts a new client, or returns `None` when the limit is reached.
    pub fn admit_client(self: &Arc<Self>) -> Option<ClientGuard> {
        let now = self.clients.fetch_add(1, Ordering::Relaxed);
        let guard = ClientGuard(self.clone());
        (now < self.config().max_client_connections).then_some(guard)
    }

    /// Clients connected now.
    pub fn client_count(&self) -> usize {
        self.clients.load(Ordering::Relaxed)
    }

    /// Starts refreshing catalogs that have no refresher yet.
    pub(crate) fn start_refreshers(&self) {
        let interval = self.config().routing.refresh_interval;
        let mut running = self.refreshers.lock();
        running.retain(|(db, handle)| {
            let keep = self.catalogs.contains_key(db);
            if !keep {
                handle.abort();
            }
            keep
        });
        for live in self.catalogs() {
            if !running.iter().any(|(db, _)| db == &live.database) {
                let handle = tokio::spawn(live.clone().refresh_forever(interval)).abort_handle();
                running.push((live.database.clone(), handle));
            }
        }
    }

    /// Runs pool maintenance once: closes idle and old servers, opens the minimum.
    pub(crate) async fn maintain_pools(&self) {
        // RELOAD may have added databases.
        self.start_refreshers();
        let pools: Vec<_> = self.pools.iter().map(|p| p.value().clone()).collect();
        for pool in pools {
            pool.maintain().await;
        }
    }

    /// Stops every catalog refresher (at shutdown).
    pub(crate) fn stop_refreshers(&self) {
        for (_, r) in self.refreshers.lock().drain(..) {
            r.abort();
        }
    }
}

/// Memory the shared parse cache may use.
const PARSE_CACHE_BYTES: usize = 64 << 20;

/// The login the catalog of `db` is read with: its fixed `user`, if any.
pub fn catalog_target(db: &crate::config::Database) -> Option<BackendTarget> {
    Some(BackendTarget {
        host: db.host.clone(),
        port: db.port,
        dbname: db.dbname.clone(),
        user: db.user.clone()?,
        password: db.password.clone(),
    })
}
