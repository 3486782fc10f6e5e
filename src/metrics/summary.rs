//! Figures grouped for people: routing per parent and traffic per database,
//! computed from one gather so the admin console, the status page and
//! `/metrics` agree.

use std::collections::BTreeMap;

use prometheus::proto::MetricFamily;

use super::read::{samples, total};
use super::routing::OUTCOMES;

/// Routing figures of one (database, parent); parent "" holds statements
/// that named no parent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParentRoutes {
    /// Database.
    pub database: String,
    /// Parent as a quoted name, or "".
    pub parent: String,
    /// Statements per outcome, in [`OUTCOMES`] order.
    pub outcomes: [u64; 4],
    /// Pass-through reasons, most frequent first.
    pub reasons: Vec<(String, u64)>,
    /// Rows routed straight to children.
    pub rows: u64,
    /// Rows refused.
    pub rejected_rows: u64,
}

/// Routing figures per (database, parent), including `known` parents with
/// no traffic yet, ordered by database then parent.
pub fn routes_by_parent(families: &[MetricFamily], known: &[(String, String)]) -> Vec<ParentRoutes> {
    let mut by: BTreeMap<(String, String), ParentRoutes> = BTreeMap::new();
    let mut entry = |db: &str, parent: &str| -> (String, String) {
        let key = (db.to_owned(), parent.to_owned());
        by.entry(key.clone()).or_insert_with(|| ParentRoutes {
            database: db.to_owned(),
            parent: parent.to_owned(),
            ..ParentRoutes::default()
        });
        key
    };
    for (db, parent) in known {
        entry(db, parent);
    }
    let mut keys = Vec::new();
    for s in samples(families, "partproxy_route_statements_total") {
        keys.push((entry(s.label("database"), s.label("parent")), s));
    }
    for name in ["partproxy_route_rows_total", "partproxy_route_rejected_rows_total"] {
        for s in samples(families, name) {
            entry(s.label("database"), s.label("parent"));
        }
    }
    for (key, s) in keys {
        let Some(p) = by.get_mut(&key) else { continue };
        let n = s.value() as u64;
        if let Some(i) = OUTCOMES.iter().position(|o| *o == s.label("outcome")) {
            p.outcomes[i] += n;
        }
        if s.label("outcome") == "passthrough" && n > 0 {
            p.reasons.push((s.label("reason").to_owned(), n));
        }
    }
    for p in by.values_mut() {
        let l = [("database", p.database.as_str()), ("parent", p.parent.as_str())];
        p.rows = total(families, "partproxy_route_rows_total", &l) as u64;
        p.rejected_rows = total(families, "partproxy_route_rejected_rows_total", &l) as u64;
        p.reasons.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    }
    by.into_values().collect()
}

/// Traffic of one database, as `SHOW STATS` shows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DatabaseStats {
    /// Database.
    pub database: String,
    /// Transactions completed.
    pub xact_count: u64,
    /// Queries answered.
    pub query_count: u64,
    /// Bytes from clients.
    pub received: u64,
    /// Bytes to clients.
    pub sent: u64,
    /// Time spent in queries, µs.
    pub query_time_us: u64,
    /// Time clients waited for a server, µs.
    pub wait_time_us: u64,
}

/// Traffic per database, summed over its pools' users.
pub fn stats_by_database(families: &[MetricFamily]) -> Vec<DatabaseStats> {
    let mut by: BTreeMap<String, DatabaseStats> = BTreeMap::new();
    let mut add = |name: &str, f: &mut dyn FnMut(&mut DatabaseStats, &super::read::Sample)| {
        for s in samples(families, name) {
            let db = s.label("database").to_owned();
            let e = by.entry(db.clone()).or_insert_with(|| DatabaseStats {
                database: db,
                ..DatabaseStats::default()
            });
            f(e, &s);
        }
    };
    add("partproxy_transactions_total", &mut |e, s| {
        e.xact_count += s.value() as u64
    });
    add("partproxy_queries_total", &mut |e, s| e.query_count += s.value() as u64);
    add("partproxy_client_bytes_received_total", &mut |e, s| {
        e.received += s.value() as u64
    });
    add("partproxy_client_bytes_sent_total", &mut |e, s| {
        e.sent += s.value() as u64
    });
    add("partproxy_query_duration_seconds", &mut |e, s| {
        e.query_time_us += (s.sum() * 1e6) as u64
    });
    add("partproxy_pool_wait_seconds", &mut |e, s| {
        e.wait_time_us += (s.sum() * 1e6) as u64
    });
    by.into_values().collect()
}
