//! Recording routing decisions: Prometheus counters per database and parent,
//! and per-child counts kept inside the proxy for the status page and
//! `SHOW PARTITIONS` (exported as labels only when child labels are on).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use prometheus::{Histogram, IntCounter};

use super::Metrics;
use crate::catalog::{Catalog, TableName};
use crate::router::{PassReason, Route};

/// Statements and INSERT rows one child received.
#[derive(Debug, Default)]
pub struct ChildCounts {
    /// Routed statements that touched it.
    pub statements: AtomicU64,
    /// Rows routed INSERTs sent to it.
    pub rows: AtomicU64,
}

/// Per-child counts of one database.
pub type DatabaseHeat = DashMap<TableName, ChildCounts>;

/// Per-child counts by database, bounded by the catalogs.
#[derive(Debug, Default)]
pub struct RoutingStats {
    databases: DashMap<String, Arc<DatabaseHeat>>,
}

impl RoutingStats {
    /// The counts of one database (created on first use).
    pub fn database(&self, database: &str) -> Arc<DatabaseHeat> {
        if let Some(d) = self.databases.get(database) {
            return d.clone();
        }
        self.databases.entry(database.to_owned()).or_default().clone()
    }

    /// (statements, rows) of one child so far.
    pub fn child(&self, database: &str, child: &TableName) -> (u64, u64) {
        self.databases
            .get(database)
            .and_then(|d| {
                d.get(child)
                    .map(|c| (c.statements.load(Ordering::Relaxed), c.rows.load(Ordering::Relaxed)))
            })
            .unwrap_or((0, 0))
    }
}

/// One parent's resolved counters.
struct ParentCounters {
    label: String,
    single: IntCounter,
    multi: IntCounter,
    children: Histogram,
    rows: IntCounter,
}

/// Records one session's routing decisions; label lookups are done once per
/// parent and cached here.
pub struct RouteRecorder {
    metrics: Arc<Metrics>,
    database: String,
    no_parent: IntCounter,
    duration: Histogram,
    heat: Arc<DatabaseHeat>,
    parents: HashMap<TableName, ParentCounters>,
}

impl std::fmt::Debug for RouteRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteRecorder")
            .field("database", &self.database)
            .finish()
    }
}

/// The `outcome` label values.
pub const OUTCOMES: [&str; 4] = ["routed_single", "routed_multi", "passthrough", "error"];

impl RouteRecorder {
    /// A recorder for sessions on `database`.
    pub fn new(metrics: Arc<Metrics>, database: &str) -> RouteRecorder {
        RouteRecorder {
            no_parent: metrics.route_statements.with_label_values(&[
                database,
                "",
                "passthrough",
                PassReason::NoParent.as_str(),
            ]),
            duration: metrics.route_duration.with_label_values(&[database]),
            heat: metrics.routing.database(database),
            database: database.to_owned(),
            parents: HashMap::new(),
            metrics,
        }
    }

    /// A statement that was not routed at all (routing off, or no catalog
    /// yet): counted as naming no parent.
    pub fn unrouted(&self) {
        self.no_parent.inc();
    }

    /// Resolves a parent's counters the first time it is seen.
    fn ensure_parent(&mut self, parent: &TableName) {
        if self.parents.contains_key(parent) {
            return;
        }
        let (metrics, database) = (&self.metrics, self.database.as_str());
        let label = parent.quoted();
        let outcome = |o: &str| metrics.route_statements.with_label_values(&[database, &label, o, ""]);
        let counters = ParentCounters {
            single: outcome("routed_single"),
            multi: outcome("routed_multi"),
            children: metrics.route_children.with_label_values(&[database, &label]),
            rows: metrics.route_rows.with_label_values(&[database, &label]),
            label,
        };
        self.parents.insert(parent.clone(), counters);
    }

    /// Records one decision for `sql` and the time it took.
    pub fn record(&mut self, route: &Route, sql: &str, catalog: &Catalog, took: Duration) {
        let targets = match route {
            // A statement kind the router does not read (SHOW, FETCH, SET,
            // DDL) names no table it routes, whatever words it contains.
            Route::Passthrough(PassReason::NoParent | PassReason::UnsupportedStatement) => {
                self.no_parent.inc();
                return;
            }
            Route::Passthrough(reason) => {
                let parent = crate::router::parent_named(sql, catalog)
                    .map(TableName::quoted)
                    .unwrap_or_default();
                self.metrics
                    .route_statements
                    .with_label_values(&[&self.database, &parent, "passthrough", reason.as_str()])
                    .inc();
                self.duration.observe(took.as_secs_f64());
                return;
            }
            Route::Reject {
                parent, rows, reason, ..
            } => {
                let label = parent.quoted();
                let l = [self.database.as_str(), label.as_str()];
                self.metrics
                    .route_statements
                    .with_label_values(&[l[0], l[1], "error", reason])
                    .inc();
                self.metrics
                    .route_rejected_rows
                    .with_label_values(&l)
                    .inc_by(*rows as u64);
                self.duration.observe(took.as_secs_f64());
                return;
            }
            Route::Rewrite { targets, .. } | Route::SplitInsert { targets, .. } => targets,
        };
        self.duration.observe(took.as_secs_f64());
        for (i, t) in targets.iter().enumerate() {
            let tables = t.children.len() + usize::from(t.parent_included);
            self.ensure_parent(&t.parent);
            let Some(pc) = self.parents.get(&t.parent) else {
                continue;
            };
            pc.children.observe(tables as f64);
            let rows: usize = t.rows.iter().sum();
            if rows > 0 {
                pc.rows.inc_by(rows as u64);
            }
            // A parent named twice (a self-join) counts as one statement:
            // routed_single only when every occurrence touched one table.
            let first = targets[..i].iter().all(|o| o.parent != t.parent);
            if first {
                let single = targets
                    .iter()
                    .filter(|o| o.parent == t.parent)
                    .all(|o| o.children.len() + usize::from(o.parent_included) == 1);
                if single {
                    pc.single.inc();
                } else {
                    pc.multi.inc();
                }
            }
            self.count_children(&pc.label, t);
        }
    }

    fn count_children(&self, parent_label: &str, t: &crate::router::TargetReport) {
        for (i, child) in t.children.iter().enumerate() {
            let rows = t.rows.get(i).copied().unwrap_or(0) as u64;
            match self.heat.get(child) {
                Some(c) => bump(&c, rows),
                None => bump(&self.heat.entry(child.clone()).or_default(), rows),
            }
            if let (Some(stmts), Some(row_counter)) =
                (&self.metrics.route_child_statements, &self.metrics.route_child_rows)
            {
                let child_label = child.quoted();
                let l = [self.database.as_str(), parent_label, child_label.as_str()];
                stmts.with_label_values(&l).inc();
                if rows > 0 {
                    row_counter.with_label_values(&l).inc_by(rows);
                }
            }
        }
    }
}

fn bump(c: &ChildCounts, rows: u64) {
    c.statements.fetch_add(1, Ordering::Relaxed);
    if rows > 0 {
        c.rows.fetch_add(rows, Ordering::Relaxed);
    }
}
