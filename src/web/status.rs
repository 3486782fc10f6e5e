//! The JSON behind the status page: routing per parent with each child's
//! counts in key order, pass-through reasons, routing latency and pools.

use std::cmp::Ordering;

use serde_json::{json, Value};

use crate::catalog::{Child, Hierarchy};
use crate::metrics::read::{merge_buckets, quantile, samples};
use crate::metrics::routing::OUTCOMES;
use crate::metrics::summary::routes_by_parent;
use crate::proxy::Proxy;

/// Children in key order (by the start of their first range); children
/// whose bounds are unknown or not ranges keep catalog order, at the end.
fn in_key_order(h: &Hierarchy) -> Vec<&Child> {
    let start = |c: &Child| {
        c.domain
            .as_ref()
            .filter(|d| d.values.modulo.is_none())
            .and_then(|d| d.values.ranges.intervals().first().cloned())
    };
    let mut children: Vec<&Child> = h.children.iter().collect();
    children.sort_by(|a, b| match (start(a), start(b)) {
        (Some(x), Some(y)) => x.cmp_start(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    });
    children
}

/// Everything the status page shows, from one gather.
pub fn status(proxy: &Proxy) -> Value {
    proxy.sample_metrics();
    let families = proxy.metrics.gather();
    let catalogs = proxy.catalogs();
    let known = proxy.known_parents();
    let routes = routes_by_parent(&families, &known);

    let mut parents = Vec::new();
    let mut unrouted = Vec::new();
    for r in &routes {
        let outcomes: serde_json::Map<String, Value> = OUTCOMES
            .iter()
            .zip(r.outcomes)
            .map(|(o, n)| ((*o).to_owned(), json!(n)))
            .collect();
        let reasons: Vec<Value> = r
            .reasons
            .iter()
            .map(|(reason, n)| json!({"reason": reason, "count": n}))
            .collect();
        if r.parent.is_empty() {
            unrouted.push(json!({"database": r.database, "statements": outcomes, "reasons": reasons}));
            continue;
        }
        let hierarchy = catalogs.iter().find(|c| c.database == r.database).and_then(|c| {
            c.snapshot()
                .hierarchies
                .values()
                .find(|h| h.parent.quoted() == r.parent)
                .cloned()
        });
        let (kind, key, children) = match &hierarchy {
            Some(h) => (
                h.kind.as_str(),
                h.key.as_ref().map(|k| k.column.clone()).unwrap_or_default(),
                in_key_order(h)
                    .into_iter()
                    .map(|c| {
                        let (statements, rows) = proxy.metrics.routing.child(&r.database, &c.table);
                        json!({
                            "name": c.table.quoted(),
                            "bounds": c.domain.as_ref().map(ToString::to_string).unwrap_or_else(|| "unknown".into()),
                            "statements": statements,
                            "rows": rows,
                        })
                    })
                    .collect::<Vec<_>>(),
            ),
            None => ("gone", String::new(), Vec::new()),
        };
        parents.push(json!({
            "database": r.database,
            "parent": r.parent,
            "kind": kind,
            "key": key,
            "statements": outcomes,
            "reasons": reasons,
            "rows": r.rows,
            "rejected_rows": r.rejected_rows,
            "children": children,
        }));
    }

    let durations = samples(&families, "partproxy_route_duration_seconds");
    let mut databases: Vec<&str> = durations.iter().map(|s| s.label("database")).collect();
    databases.sort_unstable();
    databases.dedup();
    let latency: Vec<Value> = databases
        .iter()
        .map(|db| {
            let mine: Vec<_> = durations
                .iter()
                .filter(|s| s.label("database") == *db)
                .cloned()
                .collect();
            let buckets = merge_buckets(mine.iter());
            let us = |q: f64| quantile(&buckets, q).map(|s| (s * 1e6 * 10.0).round() / 10.0);
            json!({
                "database": db,
                "count": buckets.last().map_or(0, |b| b.1),
                "p50_us": us(0.5),
                "p90_us": us(0.9),
                "p99_us": us(0.99),
            })
        })
        .collect();

    let pools: Vec<Value> = proxy
        .pools()
        .into_iter()
        .map(|((db, user), p)| {
            json!({
                "database": db,
                "user": user,
                "mode": p.settings().mode.as_str(),
                "size": p.settings().pool_size,
                "active": p.active_count(),
                "idle": p.idle_count(),
                "waiting": p.waiting(),
                "clients": p.client_count(),
            })
        })
        .collect();

    let catalog_rows: Vec<Value> = catalogs
        .iter()
        .map(|c| {
            json!({
                "database": c.database,
                "parents": c.snapshot().hierarchies.len(),
                "age_ms": c.age_ms(),
                "stale": c.is_stale(),
                "hook": c.hook_state(),
            })
        })
        .collect();

    let uptime = proxy.started.elapsed().map_or(0, |d| d.as_secs());
    json!({
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_seconds": uptime,
        "paused": proxy.is_paused(),
        "clients": proxy.client_count(),
        "child_labels": proxy.metrics.child_labels,
        "parents": parents,
        "unrouted": unrouted,
        "latency": latency,
        "pools": pools,
        "catalogs": catalog_rows,
    })
}
