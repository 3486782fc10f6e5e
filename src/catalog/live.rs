//! The catalog of one database as the running proxy holds it: an immutable
//! snapshot swapped atomically on refresh, so lookups never wait for a load,
//! and the freshness rules that decide when it may be routed by:
//!
//! - DDL a session runs through the proxy makes the catalog stale at once
//!   (routing fails open for everyone) until the session's transaction has
//!   ended and a reload that started after that has finished;
//! - DDL made elsewhere reaches the proxy through the DDL hook (event
//!   triggers that NOTIFY a channel the refresher LISTENs on), with the same
//!   effect; without the hook only the refresh interval bounds the window.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::sync::Notify;

use super::load::{self, LoadError};
use super::{Catalog, TableRule};
use crate::backend::BackendTarget;
use prometheus::{Histogram, IntCounter, IntGauge};

/// The channel the DDL hook notifies.
pub const HOOK_CHANNEL: &str = "partproxy_ddl";

/// A database's current catalog and how to re-read it.
#[derive(Debug)]
pub struct LiveCatalog {
    /// The database's client-facing name.
    pub database: String,
    target: BackendTarget,
    rules: parking_lot::Mutex<Vec<TableRule>>,
    current: ArcSwap<Catalog>,
    wake: Notify,
    metrics: CatalogMetrics,
    /// When the snapshot in use was loaded (Unix ms; 0 before the first load).
    loaded_at: AtomicU64,
    /// Bumped whenever DDL is seen (through the proxy or by the hook).
    ddl_seen: AtomicU64,
    /// The value `ddl_seen` had when the load in use started.
    loaded_through: AtomicU64,
    /// Transactions that ran DDL and have not ended yet.
    open_ddl: AtomicUsize,
    /// The catalog connection is open and LISTENing for the hook.
    listening: AtomicBool,
    /// Woken after every load.
    loaded: Notify,
    /// The catalog connection, kept between loads.
    client: tokio::sync::Mutex<Option<Arc<tokio_postgres::Client>>>,
}

/// Held by a session from the DDL it runs to the end of its transaction:
/// the catalog stays stale (routing fails open) while any is held, and is
/// reloaded when the last one is released.
#[derive(Debug)]
pub struct DdlHold(Arc<LiveCatalog>);

impl Drop for DdlHold {
    fn drop(&mut self) {
        self.0.ddl_seen.fetch_add(1, Ordering::SeqCst);
        self.0.open_ddl.fetch_sub(1, Ordering::SeqCst);
        self.0.request_refresh();
    }
}

impl LiveCatalog {
    /// An empty catalog (everything passes through) until the first load.
    pub fn new(
        database: String,
        target: BackendTarget,
        rules: Vec<TableRule>,
        metrics: CatalogMetrics,
    ) -> Arc<LiveCatalog> {
        Arc::new(LiveCatalog {
            database,
            target,
            rules: parking_lot::Mutex::new(rules),
            current: ArcSwap::from_pointee(Catalog::default()),
            wake: Notify::new(),
            metrics,
            loaded_at: AtomicU64::new(0),
            ddl_seen: AtomicU64::new(0),
            loaded_through: AtomicU64::new(0),
            open_ddl: AtomicUsize::new(0),
            listening: AtomicBool::new(false),
            loaded: Notify::new(),
            client: tokio::sync::Mutex::new(None),
        })
    }

    /// The server and login the catalog is read with.
    pub fn target(&self) -> &BackendTarget {
        &self.target
    }

    /// Replaces the rules (RELOAD); they apply from the next load.
    pub fn set_rules(&self, rules: Vec<TableRule>) {
        *self.rules.lock() = rules;
    }

    /// When the snapshot in use was loaded (Unix ms; 0 before the first load).
    pub fn loaded_at(&self) -> u64 {
        self.loaded_at.load(Ordering::Relaxed)
    }

    /// The current snapshot, fresh or not (for display).
    pub fn snapshot(&self) -> Arc<Catalog> {
        self.current.load_full()
    }

    /// True while DDL has been seen that the snapshot may not reflect.
    pub fn is_stale(&self) -> bool {
        self.open_ddl.load(Ordering::SeqCst) > 0
            || self.loaded_through.load(Ordering::SeqCst) < self.ddl_seen.load(Ordering::SeqCst)
    }

    /// The snapshot to route by, or `None` while it is stale (statements
    /// then pass through: PostgreSQL resolves them itself).
    pub fn routable(&self) -> Option<Arc<Catalog>> {
        let snapshot = self.current.load_full();
        (!self.is_stale()).then_some(snapshot)
    }

    /// A session ran DDL: stale from now until the returned hold is dropped
    /// (at the end of its transaction) and the reload after it completes.
    pub fn hold_for_ddl(self: &Arc<Self>) -> DdlHold {
        self.open_ddl.fetch_add(1, Ordering::SeqCst);
        self.ddl_seen.fetch_add(1, Ordering::SeqCst);
        DdlHold(self.clone())
    }

    /// DDL happened elsewhere (the hook said so): stale until reloaded.
    pub fn note_external_ddl(&self) {
        self.ddl_seen.fetch_add(1, Ordering::SeqCst);
        self.request_refresh();
    }

    /// True while the refresher listens for the DDL hook's notifications.
    pub fn listening(&self) -> bool {
        self.listening.load(Ordering::Relaxed)
    }

    /// The DDL hook as people read it: `listening` (DDL elsewhere is seen
    /// within milliseconds), `installed, not listening`, or `not installed`
    /// (only the refresh interval bounds how stale the catalog can be).
    pub fn hook_state(&self) -> &'static str {
        match (self.snapshot().hook_installed, self.listening()) {
            (true, true) => "listening",
            (true, false) => "installed, not listening",
            (false, _) => "not installed",
        }
    }

    /// Milliseconds since the snapshot in use was loaded (`None` before the
    /// first load).
    pub fn age_ms(&self) -> Option<u64> {
        match self.loaded_at() {
            0 => None,
            at => Some(crate::clients::now_ms().saturating_sub(at)),
        }
    }

    /// Asks the refresher to re-read soon (after DDL, RELOAD).
    pub fn request_refresh(&self) {
        self.wake.notify_one();
    }

    /// Reads the catalog now and swaps it in.
    pub async fn refresh(self: &Arc<Self>) -> Result<(), LoadError> {
        let started = std::time::Instant::now();
        // DDL seen from here on may not be in what this load reads.
        let through = self.ddl_seen.load(Ordering::SeqCst);
        let loaded = self.load().await;
        self.metrics.duration.observe(started.elapsed().as_secs_f64());
        let catalog = match loaded {
            Ok(c) => c,
            Err(e) => {
                self.metrics.failures.inc();
                return Err(e);
            }
        };
        self.metrics.refreshes.inc();
        self.metrics.parents.set(catalog.hierarchies.len() as i64);
        self.metrics.children.set(catalog.child_count() as i64);
        self.loaded_at.store(crate::clients::now_ms(), Ordering::Relaxed);
        tracing::debug!(
            database = %self.database,
            parents = catalog.hierarchies.len(),
            children = catalog.child_count(),
            hook = catalog.hook_installed,
            ms = started.elapsed().as_millis() as u64,
            "catalog loaded"
        );
        self.current.store(Arc::new(catalog));
        self.loaded_through.fetch_max(through, Ordering::SeqCst);
        self.loaded.notify_waiters();
        Ok(())
    }

    /// Waits until the catalog is fresh, up to `limit`; true when it is.
    /// A session that ran DDL waits here before its next statement, so that
    /// statement is routed by a catalog that knows the change.
    pub async fn wait_fresh(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            // Registered before the check, so a load in between is not missed.
            let loaded = self.loaded.notified();
            if !self.is_stale() {
                return true;
            }
            if tokio::time::timeout_at(deadline, loaded).await.is_err() {
                return !self.is_stale();
            }
        }
    }

    async fn load(self: &Arc<Self>) -> Result<Catalog, LoadError> {
        let client = self.client().await?;
        let rules = self.rules.lock().clone();
        let loaded = load::load(&client, &rules).await;
        if loaded.is_err() {
            // Reconnect next time.
            *self.client.lock().await = None;
        }
        loaded
    }

    /// The catalog connection, opened on first use and kept: reloads after
    /// DDL must be quick, and the same connection LISTENs for the DDL hook.
    async fn client(self: &Arc<Self>) -> Result<Arc<tokio_postgres::Client>, LoadError> {
        let mut slot = self.client.lock().await;
        if let Some(c) = slot.as_ref().filter(|c| !c.is_closed()) {
            return Ok(c.clone());
        }
        let (client, mut connection) = load::connect_raw(&self.target).await?;
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            // The connection must be polled for replies and notifications.
            while let Some(message) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                match message {
                    Ok(tokio_postgres::AsyncMessage::Notification(_)) => match weak.upgrade() {
                        Some(live) => live.note_external_ddl(),
                        None => return,
                    },
                    Ok(_) => {}
                    Err(e) => {
                        tracing::debug!(error = %e, "catalog connection ended");
                        break;
                    }
                }
            }
            if let Some(live) = weak.upgrade() {
                if live.listening.swap(false, Ordering::SeqCst) {
                    // Notifications may have been missed while nobody listened.
                    tracing::warn!(database = %live.database, "DDL hook listener lost; reconnecting");
                    live.note_external_ddl();
                }
            }
        });
        // LISTEN costs nothing where no hook notifies.
        client.batch_execute(&format!("LISTEN {HOOK_CHANNEL}")).await?;
        self.listening.store(true, Ordering::SeqCst);
        let client = Arc::new(client);
        *slot = Some(client.clone());
        Ok(client)
    }

    /// Re-reads on every interval, whenever asked (after DDL, RELOAD, a
    /// notification of the DDL hook), until the task is dropped.
    pub async fn refresh_forever(self: Arc<Self>, interval: Duration) {
        loop {
            let stale = self.is_stale();
            tokio::select! {
                _ = tokio::time::sleep(interval), if !stale => {}
                // A reload that failed while stale is retried soon.
                _ = tokio::time::sleep(Duration::from_millis(200)), if stale => {}
                _ = self.wake.notified() => {}
            }
            if let Err(e) = self.refresh().await {
                tracing::warn!(database = %self.database, error = %e, "catalog refresh failed; keeping the previous snapshot");
            }
        }
    }
}

/// One database's catalog metrics.
#[derive(Debug, Clone)]
pub struct CatalogMetrics {
    /// Successful loads.
    pub refreshes: IntCounter,
    /// Failed loads.
    pub failures: IntCounter,
    /// Load time.
    pub duration: Histogram,
    /// Parents known.
    pub parents: IntGauge,
    /// Children known.
    pub children: IntGauge,
}

#[cfg(test)]
impl CatalogMetrics {
    /// Handles registered nowhere.
    fn unregistered() -> CatalogMetrics {
        let counter = |n: &str| IntCounter::new(n, n).expect("valid name");
        let gauge = |n: &str| IntGauge::new(n, n).expect("valid name");
        CatalogMetrics {
            refreshes: counter("refreshes"),
            failures: counter("failures"),
            duration: Histogram::with_opts(prometheus::HistogramOpts::new("duration", "duration")).expect("valid name"),
            parents: gauge("parents"),
            children: gauge("children"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live() -> Arc<LiveCatalog> {
        LiveCatalog::new(
            "db".into(),
            BackendTarget {
                host: "127.0.0.1".into(),
                port: 1,
                dbname: "db".into(),
                user: "u".into(),
                password: None,
            },
            Vec::new(),
            CatalogMetrics::unregistered(),
        )
    }

    #[test]
    fn ddl_keeps_the_catalog_stale_until_its_transaction_ends_and_a_later_load_lands() {
        let c = live();
        assert!(c.routable().is_some());
        let hold = c.hold_for_ddl();
        assert!(c.routable().is_none(), "stale from the DDL on");
        // A load that started before the transaction ended proves nothing.
        let before = c.ddl_seen.load(Ordering::SeqCst);
        drop(hold);
        c.loaded_through.fetch_max(before, Ordering::SeqCst);
        assert!(c.routable().is_none());
        let after = c.ddl_seen.load(Ordering::SeqCst);
        c.loaded_through.fetch_max(after, Ordering::SeqCst);
        assert!(c.routable().is_some());
        c.note_external_ddl();
        assert!(c.routable().is_none());
    }
}
