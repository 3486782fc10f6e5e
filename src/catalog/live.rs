//! The catalog of one database as the running proxy holds it: an immutable
//! snapshot swapped atomically on refresh, so lookups never wait for a load.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::sync::Notify;

use super::load::{self, LoadError};
use super::{Catalog, TableRule};
use crate::backend::BackendTarget;
use crate::metrics::CatalogMetrics;

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
    loaded_at: std::sync::atomic::AtomicU64,
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
            loaded_at: std::sync::atomic::AtomicU64::new(0),
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
        self.loaded_at.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<Catalog> {
        self.current.load_full()
    }

    /// Asks the refresher to re-read soon (after DDL, RELOAD).
    pub fn request_refresh(&self) {
        self.wake.notify_one();
    }

    /// Reads the catalog now and swaps it in.
    pub async fn refresh(&self) -> Result<(), LoadError> {
        let started = std::time::Instant::now();
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
        self.loaded_at
            .store(crate::clients::now_ms(), std::sync::atomic::Ordering::Relaxed);
        tracing::info!(
            database = %self.database,
            parents = catalog.hierarchies.len(),
            children = catalog.child_count(),
            ms = started.elapsed().as_millis() as u64,
            "catalog loaded"
        );
        self.current.store(Arc::new(catalog));
        Ok(())
    }

    async fn load(&self) -> Result<Catalog, LoadError> {
        let client = load::connect(&self.target).await?;
        let rules = self.rules.lock().clone();
        load::load(&client, &rules).await
    }

    /// Re-reads on every interval and whenever asked, until the task is dropped.
    pub async fn refresh_forever(self: Arc<Self>, interval: Duration) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = self.wake.notified() => {
                    // Let a burst of DDL settle into one reload.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            if let Err(e) = self.refresh().await {
                tracing::warn!(database = %self.database, error = %e, "catalog refresh failed; keeping the previous snapshot");
            }
        }
    }
}
