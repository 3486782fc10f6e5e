//! The catalog of one database as the running proxy holds it: an immutable
//! snapshot swapped atomically on refresh, so lookups never wait for a load.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::sync::Notify;

use super::load::{self, LoadError};
use super::{Catalog, TableRule};
use crate::backend::BackendTarget;

/// A database's current catalog and how to re-read it.
#[derive(Debug)]
pub struct LiveCatalog {
    /// The database's client-facing name.
    pub database: String,
    target: BackendTarget,
    rules: Vec<TableRule>,
    current: ArcSwap<Catalog>,
    wake: Notify,
}

impl LiveCatalog {
    /// An empty catalog (everything passes through) until the first load.
    pub fn new(database: String, target: BackendTarget, rules: Vec<TableRule>) -> Arc<LiveCatalog> {
        Arc::new(LiveCatalog {
            database,
            target,
            rules,
            current: ArcSwap::from_pointee(Catalog::default()),
            wake: Notify::new(),
        })
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
        let client = load::connect(&self.target).await?;
        let catalog = load::load(&client, &self.rules).await?;
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
