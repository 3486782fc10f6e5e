//! The running proxy: shared state, the accept loop, pool maintenance and
//! graceful shutdown.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::backend::{BackendTarget, Pool};
use crate::cancel::CancelRegistry;
use crate::catalog::live::LiveCatalog;
use crate::config::{Config, Database, User};
use crate::prepared::StatementRegistry;

/// State shared by every client session.
#[derive(Debug)]
pub struct Proxy {
    /// The configuration in force.
    pub config: Config,
    pools: DashMap<(String, String), Arc<Pool>>,
    /// Cancel keys handed to clients.
    pub cancels: Arc<CancelRegistry>,
    /// Prepared statements under proxy-chosen names.
    pub statements: StatementRegistry,
    /// Parsed statements by text, for routing each Bind without re-parsing.
    pub parse_cache: crate::router::cache::ParseCache,
    shutdown: watch::Sender<bool>,
    clients: AtomicUsize,
    catalogs: std::collections::HashMap<String, Arc<LiveCatalog>>,
}

/// Counts a client session for as long as it lives.
#[derive(Debug)]
pub struct ClientGuard(Arc<Proxy>);

impl Drop for ClientGuard {
    fn drop(&mut self) {
        self.0.clients.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Proxy {
    /// Creates the proxy and the pools that have a fixed login user.
    pub fn new(config: Config) -> Arc<Proxy> {
        let (shutdown, _) = watch::channel(false);
        let mut catalogs = std::collections::HashMap::new();
        if config.routing.enabled {
            for db in config.databases.values() {
                // The catalog connection needs a fixed login.
                if let Some(target) = catalog_target(db) {
                    catalogs.insert(
                        db.name.clone(),
                        LiveCatalog::new(db.name.clone(), target, config.routing.rules_for(&db.name)),
                    );
                }
            }
        }
        let proxy = Arc::new(Proxy {
            catalogs,
            config,
            pools: DashMap::new(),
            cancels: Arc::new(CancelRegistry::default()),
            statements: StatementRegistry::default(),
            parse_cache: crate::router::cache::ParseCache::new(PARSE_CACHE_BYTES),
            shutdown,
            clients: AtomicUsize::new(0),
        });
        for db in proxy.config.databases.values() {
            if let Some(user) = &db.user {
                proxy.insert_pool(db, user, db.password.clone());
            }
        }
        proxy
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
                Pool::new(format!("{}/{}", db.name, login), target, db.pool.clone())
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

    /// The live catalog of a database, when routing is on for it.
    pub fn catalog(&self, database: &str) -> Option<Arc<LiveCatalog>> {
        self.catalogs.get(database).cloned()
    }

    /// A receiver that turns true when shutdown begins.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Begins a graceful shutdown.
    pub fn begin_shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    /// Counts a new client, or returns `None` when the limit is reached.
    pub fn admit_client(self: &Arc<Self>) -> Option<ClientGuard> {
        let now = self.clients.fetch_add(1, Ordering::Relaxed);
        let guard = ClientGuard(self.clone());
        (now < self.config.max_client_connections).then_some(guard)
    }

    /// Clients connected now.
    pub fn client_count(&self) -> usize {
        self.clients.load(Ordering::Relaxed)
    }

    /// Accepts clients until shutdown, then waits for sessions to finish their
    /// transactions (up to the shutdown timeout).
    pub async fn run(self: Arc<Self>, listener: TcpListener) {
        // First catalog load before serving, so routing starts with the first
        // statement; a failure only delays it (statements pass through).
        for live in self.catalogs.values() {
            match tokio::time::timeout(Duration::from_secs(10), live.refresh()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(database = %live.database, error = %e, "catalog not loaded yet"),
                Err(_) => tracing::warn!(database = %live.database, "catalog load timed out"),
            }
        }
        let refreshers: Vec<_> = self
            .catalogs
            .values()
            .map(|live| tokio::spawn(live.clone().refresh_forever(self.config.routing.refresh_interval)))
            .collect();
        let maintenance = tokio::spawn({
            let proxy = self.clone();
            async move {
                let mut tick = tokio::time::interval(Duration::from_secs(1));
                loop {
                    tick.tick().await;
                    let pools: Vec<_> = proxy.pools.iter().map(|p| p.value().clone()).collect();
                    for pool in pools {
                        pool.maintain().await;
                    }
                }
            }
        });
        let mut stop = self.shutdown_signal();
        loop {
            tokio::select! {
                // The guard wait_for returns is dropped inside, keeping this future Send.
                () = async { let _ = stop.wait_for(|s| *s).await; } => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let proxy = self.clone();
                        tokio::spawn(async move {
                            crate::frontend::handle_client(proxy, stream, peer).await;
                        });
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
            }
        }
        drop(listener);
        maintenance.abort();
        for r in refreshers {
            r.abort();
        }
        tracing::info!(
            clients = self.client_count(),
            "shutting down: waiting for running transactions"
        );
        let deadline = tokio::time::Instant::now() + self.config.shutdown_timeout;
        while self.client_count() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tracing::info!(remaining = self.client_count(), "shutdown complete");
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

/// Routes one statement against a freshly loaded catalog, without a running
/// proxy: what `partproxy explain` prints.
pub async fn explain_offline(
    config: &Config,
    database: Option<&str>,
    sql: &str,
    search_path: &str,
    time_zone: &str,
) -> Result<Vec<crate::router::explain::ExplainRow>, String> {
    let db = match database {
        Some(name) => config
            .databases
            .get(name)
            .ok_or_else(|| format!("no database \"{name}\" in the configuration"))?,
        None => {
            let mut with_user: Vec<_> = config.databases.values().filter(|d| d.user.is_some()).collect();
            with_user.sort_by(|a, b| a.name.cmp(&b.name));
            match with_user.as_slice() {
                [one] => *one,
                [] => return Err("no database has a fixed `user` to read its catalog with".into()),
                many => {
                    let names: Vec<&str> = many.iter().map(|d| d.name.as_str()).collect();
                    return Err(format!(
                        "several databases ({}): choose one with --database",
                        names.join(", ")
                    ));
                }
            }
        }
    };
    let target = catalog_target(db).ok_or_else(|| format!("database \"{}\" has no fixed `user`", db.name))?;
    let client = crate::catalog::load::connect(&target)
        .await
        .map_err(|e| e.to_string())?;
    let catalog = crate::catalog::load::load(&client, &config.routing.rules_for(&db.name))
        .await
        .map_err(|e| e.to_string())?;
    let tz =
        crate::keys::TimeZoneRule::from_setting(time_zone).ok_or_else(|| format!("unknown time zone {time_zone}"))?;
    let path = crate::router::parse_search_path(search_path);
    let view = crate::router::SessionView {
        search_path: &path,
        user: &target.user,
        tz,
        params: &[],
    };
    let sql = sql.trim().trim_end_matches(';');
    Ok(crate::router::explain::explain(
        &crate::router::route(sql, &catalog, &view),
        sql,
    ))
}
