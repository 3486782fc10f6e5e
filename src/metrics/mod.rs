//! Prometheus metrics: one registry per proxy, handles resolved once per
//! pool or session so the hot path only bumps atomics.
//!
//! Label cardinality is bounded by configuration and catalog: databases,
//! users, parent tables, a fixed set of outcomes and pass-through reasons.
//! Child tables become labels only when `metrics_child_labels` is on; SQL
//! text never does.

pub mod read;
pub mod routing;
pub mod summary;

use prometheus::core::Collector;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::backend::pool::PoolMetrics;
use crate::catalog::live::CatalogMetrics;
pub use routing::{RouteRecorder, RoutingStats};

/// Buckets for the time spent routing one statement, in seconds (1 µs to 10 ms).
const ROUTE_BUCKETS: &[f64] = &[
    1e-6, 2e-6, 5e-6, 10e-6, 20e-6, 50e-6, 100e-6, 200e-6, 500e-6, 1e-3, 2e-3, 10e-3,
];
/// Buckets for query and pool-wait durations, in seconds (100 µs to 30 s).
const LATENCY_BUCKETS: &[f64] = &[
    100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 500e-3, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// Buckets for children touched by one statement.
const CHILDREN_BUCKETS: &[f64] = &[0.0, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0, 100.0, 500.0, 1000.0, 5000.0];
/// Buckets for catalog loads, in seconds.
const CATALOG_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Every metric the proxy exports.
pub struct Metrics {
    registry: Registry,
    /// Whether child tables appear as labels.
    pub child_labels: bool,
    pub(crate) route_statements: IntCounterVec,
    pub(crate) route_children: HistogramVec,
    pub(crate) route_rows: IntCounterVec,
    pub(crate) route_rejected_rows: IntCounterVec,
    pub(crate) route_duration: HistogramVec,
    pub(crate) route_child_statements: Option<IntCounterVec>,
    pub(crate) route_child_rows: Option<IntCounterVec>,
    /// Per-child counts for the status page and SHOW PARTITIONS, kept
    /// whatever `child_labels` says (they are never exported as labels
    /// unless it is on).
    pub routing: RoutingStats,
    /// Parse-cache hits (prepared statements bound again).
    pub parse_cache_hits: IntCounter,
    /// Parse-cache misses.
    pub parse_cache_misses: IntCounter,
    catalog_refreshes: IntCounterVec,
    catalog_failures: IntCounterVec,
    catalog_duration: HistogramVec,
    catalog_parents: IntGaugeVec,
    catalog_children: IntGaugeVec,
    pub(crate) pool_clients: IntGaugeVec,
    pub(crate) pool_waiting: IntGaugeVec,
    pub(crate) pool_active: IntGaugeVec,
    pub(crate) pool_idle: IntGaugeVec,
    pub(crate) pool_size: IntGaugeVec,
    pool_wait: HistogramVec,
    pool_checkouts: IntCounterVec,
    pool_connect_errors: IntCounterVec,
    pool_resets: IntCounterVec,
    queries: IntCounterVec,
    transactions: IntCounterVec,
    query_duration: HistogramVec,
    bytes_received: IntCounterVec,
    bytes_sent: IntCounterVec,
    pub(crate) clients: IntGauge,
    pub(crate) paused: IntGauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("child_labels", &self.child_labels)
            .finish()
    }
}

fn counter_vec(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    IntCounterVec::new(Opts::new(name, help), labels).expect("static metric definition")
}

fn gauge_vec(name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    IntGaugeVec::new(Opts::new(name, help), labels).expect("static metric definition")
}

fn histogram_vec(name: &str, help: &str, buckets: &[f64], labels: &[&str]) -> HistogramVec {
    HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets.to_vec()), labels)
        .expect("static metric definition")
}

const POOL: &[&str] = &["database", "user"];

impl Metrics {
    /// A fresh registry with every metric defined (and the process metrics
    /// on Linux).
    pub fn new(child_labels: bool) -> Metrics {
        let m = Metrics {
            registry: Registry::new(),
            child_labels,
            route_statements: counter_vec(
                "partproxy_route_statements_total",
                "Statements (simple queries, Binds, SQL EXECUTEs) by routing outcome: routed_single, routed_multi, passthrough (with reason) or error.",
                &["database", "parent", "outcome", "reason"],
            ),
            route_children: histogram_vec(
                "partproxy_route_children_per_statement",
                "Tables a routed statement touches per parent named (children, plus the parent's own rows when read).",
                CHILDREN_BUCKETS,
                &["database", "parent"],
            ),
            route_rows: counter_vec(
                "partproxy_route_rows_total",
                "Rows of routed INSERTs sent straight to a child.",
                &["database", "parent"],
            ),
            route_rejected_rows: counter_vec(
                "partproxy_route_rejected_rows_total",
                "Rows of INSERTs refused because a row matched no child (on_unmatched = \"error\").",
                &["database", "parent"],
            ),
            route_duration: histogram_vec(
                "partproxy_route_duration_seconds",
                "Time spent parsing, routing and rewriting a statement that names a parent.",
                ROUTE_BUCKETS,
                &["database"],
            ),
            route_child_statements: child_labels.then(|| {
                counter_vec(
                    "partproxy_route_child_statements_total",
                    "Routed statements that touched each child (metrics_child_labels = true).",
                    &["database", "parent", "child"],
                )
            }),
            route_child_rows: child_labels.then(|| {
                counter_vec(
                    "partproxy_route_child_rows_total",
                    "Rows of routed INSERTs per child (metrics_child_labels = true).",
                    &["database", "parent", "child"],
                )
            }),
            routing: RoutingStats::default(),
            parse_cache_hits: IntCounter::new(
                "partproxy_parse_cache_hits_total",
                "Bound statements whose parsed form was cached.",
            )
            .expect("static metric definition"),
            parse_cache_misses: IntCounter::new(
                "partproxy_parse_cache_misses_total",
                "Bound statements parsed because they were not cached.",
            )
            .expect("static metric definition"),
            catalog_refreshes: counter_vec(
                "partproxy_catalog_refreshes_total",
                "Catalog loads that succeeded.",
                &["database"],
            ),
            catalog_failures: counter_vec(
                "partproxy_catalog_refresh_failures_total",
                "Catalog loads that failed (the previous snapshot stays in use).",
                &["database"],
            ),
            catalog_duration: histogram_vec(
                "partproxy_catalog_refresh_duration_seconds",
                "Time to read the catalog of partitioned tables.",
                CATALOG_BUCKETS,
                &["database"],
            ),
            catalog_parents: gauge_vec(
                "partproxy_catalog_parents",
                "Partitioned parents known.",
                &["database"],
            ),
            catalog_children: gauge_vec(
                "partproxy_catalog_children",
                "Child tables known.",
                &["database"],
            ),
            pool_clients: gauge_vec(
                "partproxy_pool_clients_connected",
                "Client connections served by the pool.",
                POOL,
            ),
            pool_waiting: gauge_vec(
                "partproxy_pool_clients_waiting",
                "Clients waiting for a server connection.",
                POOL,
            ),
            pool_active: gauge_vec(
                "partproxy_pool_servers_active",
                "Server connections lent to clients.",
                POOL,
            ),
            pool_idle: gauge_vec("partproxy_pool_servers_idle", "Idle server connections.", POOL),
            pool_size: gauge_vec("partproxy_pool_size", "Most server connections the pool opens.", POOL),
            pool_wait: histogram_vec(
                "partproxy_pool_wait_seconds",
                "Time a client waited for a server connection.",
                LATENCY_BUCKETS,
                POOL,
            ),
            pool_checkouts: counter_vec(
                "partproxy_pool_checkouts_total",
                "Server connections lent to clients.",
                POOL,
            ),
            pool_connect_errors: counter_vec(
                "partproxy_pool_connect_errors_total",
                "Failed attempts to open a server connection.",
                POOL,
            ),
            pool_resets: counter_vec(
                "partproxy_pool_server_resets_total",
                "Server connections reset (DISCARD ALL, settings put back) when returned.",
                POOL,
            ),
            queries: counter_vec(
                "partproxy_queries_total",
                "Queries answered: simple queries and extended-protocol Syncs, each ended by ReadyForQuery.",
                POOL,
            ),
            transactions: counter_vec(
                "partproxy_transactions_total",
                "Transactions completed (including single-statement ones).",
                POOL,
            ),
            query_duration: histogram_vec(
                "partproxy_query_duration_seconds",
                "Time from a query's first message reaching the server to its ReadyForQuery.",
                LATENCY_BUCKETS,
                POOL,
            ),
            bytes_received: counter_vec(
                "partproxy_client_bytes_received_total",
                "Bytes read from clients.",
                POOL,
            ),
            bytes_sent: counter_vec("partproxy_client_bytes_sent_total", "Bytes written to clients.", POOL),
            clients: IntGauge::new("partproxy_clients_connected", "Client connections open (all pools and the admin console).")
                .expect("static metric definition"),
            paused: IntGauge::new("partproxy_paused", "1 while PAUSE is in force.").expect("static metric definition"),
        };
        for c in m.collectors() {
            // Names are distinct and static: registration cannot fail.
            let _ = m.registry.register(c);
        }
        #[cfg(target_os = "linux")]
        {
            let _ = m
                .registry
                .register(Box::new(prometheus::process_collector::ProcessCollector::for_self()));
        }
        m
    }

    fn collectors(&self) -> Vec<Box<dyn Collector>> {
        let mut all: Vec<Box<dyn Collector>> = vec![
            Box::new(self.route_statements.clone()),
            Box::new(self.route_children.clone()),
            Box::new(self.route_rows.clone()),
            Box::new(self.route_rejected_rows.clone()),
            Box::new(self.route_duration.clone()),
            Box::new(self.parse_cache_hits.clone()),
            Box::new(self.parse_cache_misses.clone()),
            Box::new(self.catalog_refreshes.clone()),
            Box::new(self.catalog_failures.clone()),
            Box::new(self.catalog_duration.clone()),
            Box::new(self.catalog_parents.clone()),
            Box::new(self.catalog_children.clone()),
            Box::new(self.pool_clients.clone()),
            Box::new(self.pool_waiting.clone()),
            Box::new(self.pool_active.clone()),
            Box::new(self.pool_idle.clone()),
            Box::new(self.pool_size.clone()),
            Box::new(self.pool_wait.clone()),
            Box::new(self.pool_checkouts.clone()),
            Box::new(self.pool_connect_errors.clone()),
            Box::new(self.pool_resets.clone()),
            Box::new(self.queries.clone()),
            Box::new(self.transactions.clone()),
            Box::new(self.query_duration.clone()),
            Box::new(self.bytes_received.clone()),
            Box::new(self.bytes_sent.clone()),
            Box::new(self.clients.clone()),
            Box::new(self.paused.clone()),
        ];
        if let Some(c) = &self.route_child_statements {
            all.push(Box::new(c.clone()));
        }
        if let Some(c) = &self.route_child_rows {
            all.push(Box::new(c.clone()));
        }
        all
    }

    /// The names of every metric family the proxy defines (histograms
    /// without their `_bucket`/`_sum`/`_count` suffixes).
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .collectors()
            .iter()
            .flat_map(|c| c.desc().into_iter().map(|d| d.fq_name.clone()))
            .collect();
        names.sort();
        names
    }

    /// Every family with at least one sample.
    pub fn gather(&self) -> Vec<prometheus::proto::MetricFamily> {
        self.registry.gather()
    }

    /// The Prometheus text exposition of everything gathered.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.gather(), &mut out) {
            tracing::warn!(error = %e, "encoding metrics failed");
        }
        String::from_utf8(out).unwrap_or_default()
    }

    /// Handles for one pool's counters.
    pub fn pool(&self, database: &str, user: &str) -> PoolMetrics {
        let l = [database, user];
        PoolMetrics {
            wait: self.pool_wait.with_label_values(&l),
            checkouts: self.pool_checkouts.with_label_values(&l),
            connect_errors: self.pool_connect_errors.with_label_values(&l),
            resets: self.pool_resets.with_label_values(&l),
            queries: self.queries.with_label_values(&l),
            transactions: self.transactions.with_label_values(&l),
            query_duration: self.query_duration.with_label_values(&l),
            bytes_received: self.bytes_received.with_label_values(&l),
            bytes_sent: self.bytes_sent.with_label_values(&l),
        }
    }

    /// Handles for one database's catalog.
    pub fn catalog(&self, database: &str) -> CatalogMetrics {
        let l = [database];
        CatalogMetrics {
            refreshes: self.catalog_refreshes.with_label_values(&l),
            failures: self.catalog_failures.with_label_values(&l),
            duration: self.catalog_duration.with_label_values(&l),
            parents: self.catalog_parents.with_label_values(&l),
            children: self.catalog_children.with_label_values(&l),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exprs(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    match (k.as_str(), v) {
                        ("expr" | "definition", serde_json::Value::String(s)) => out.push(s.clone()),
                        _ => exprs(v, out),
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| exprs(v, out)),
            _ => {}
        }
    }

    /// Every metric name the Grafana dashboard queries is one the proxy exports.
    #[test]
    fn dashboard_queries_only_exported_metrics() {
        let text = include_str!("../../config/grafana/partproxy-dashboard.json");
        let dashboard: serde_json::Value = serde_json::from_str(text).expect("the dashboard is JSON");
        let m = Metrics::new(true);
        let mut exported = m.names();
        exported.extend(m.gather().iter().map(|f| f.name().to_owned()));
        let mut queries = Vec::new();
        exprs(&dashboard, &mut queries);
        assert!(queries.len() >= 20, "the dashboard has {} queries", queries.len());
        let mut used = Vec::new();
        for q in &queries {
            let mut rest = q.as_str();
            while let Some(at) = rest.find(|c: char| c.is_ascii_alphabetic()) {
                let word: String = rest[at..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                rest = &rest[at + word.len().max(1)..];
                if word.starts_with("partproxy_") || word.starts_with("process_") {
                    used.push(word);
                }
            }
        }
        assert!(used.len() >= 20);
        for name in used {
            let base = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s).filter(|b| exported.iter().any(|e| e == b)))
                .unwrap_or(&name);
            assert!(
                exported.iter().any(|e| e == base),
                "the dashboard queries {name}, which is not exported"
            );
        }
        // Panels the issue asks for.
        let titles: Vec<&str> = dashboard["panels"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["title"].as_str())
            .collect();
        for t in [
            "Routing outcomes",
            "Pass-through reasons",
            "Children touched per statement",
            "Routing latency (parse + route + rewrite)",
            "Pool saturation",
            "Errors",
        ] {
            assert!(titles.contains(&t), "no panel {t}: {titles:?}");
        }
    }

    #[test]
    fn prometheus_config_scrapes_the_metrics_port() {
        let text = include_str!("../../config/prometheus.yml");
        assert!(text.contains("metrics_path: /metrics") && text.contains(":9930"));
    }
}
