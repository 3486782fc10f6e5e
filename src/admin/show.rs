//! The result sets of `SHOW ...`, built from the proxy's live state and one
//! gather of its metrics.

use std::time::Duration;

use super::commands::Show;
use crate::catalog::{TableName, TableRule};
use crate::clients::{now_ms, ClientState};
use crate::metrics::summary::{routes_by_parent, stats_by_database};
use crate::proxy::Proxy;

/// Columns and rows of one answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultSet {
    /// Column names.
    pub columns: Vec<&'static str>,
    /// Rows (NULL as `None`).
    pub rows: Vec<Vec<Option<String>>>,
}

impl ResultSet {
    fn new(columns: &[&'static str]) -> ResultSet {
        ResultSet {
            columns: columns.to_vec(),
            rows: Vec::new(),
        }
    }

    fn push<I: IntoIterator<Item = String>>(&mut self, row: I) {
        self.rows.push(row.into_iter().map(Some).collect());
    }
}

/// A Unix-ms time as PgBouncer prints it; "" for never.
fn timestamp(ms: u64) -> String {
    if ms == 0 {
        return String::new();
    }
    chrono::DateTime::from_timestamp_millis(ms as i64)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

/// Answers `SHOW <what>`.
pub fn show(proxy: &Proxy, what: &Show) -> Result<ResultSet, String> {
    Ok(match what {
        Show::Help => help(),
        Show::Pools => pools(proxy),
        Show::Clients => clients(proxy),
        Show::Servers => servers(proxy),
        Show::Stats => stats(proxy),
        Show::Config => config(proxy),
        Show::Databases => databases(proxy),
        Show::Partitions(parent) => partitions(proxy, parent.as_deref())?,
        Show::Routes => routes(proxy),
        Show::Version => {
            let mut rs = ResultSet::new(&["version"]);
            rs.push([format!("partproxy {}", env!("CARGO_PKG_VERSION"))]);
            rs
        }
    })
}

fn help() -> ResultSet {
    let mut rs = ResultSet::new(&["command", "meaning"]);
    for (c, m) in [
        ("SHOW POOLS", "clients and server connections per (database, user)"),
        ("SHOW CLIENTS", "client connections"),
        ("SHOW SERVERS", "server connections"),
        ("SHOW STATS", "queries, transactions, bytes and times per database"),
        ("SHOW CONFIG", "settings in force"),
        ("SHOW DATABASES", "configured databases"),
        (
            "SHOW PARTITIONS [parent]",
            "children, key, bounds and pruning per parent",
        ),
        (
            "SHOW ROUTES",
            "routing outcomes and top pass-through reasons per parent",
        ),
        ("SHOW VERSION", "the proxy's version"),
        ("RELOAD", "re-read the configuration file and every catalog"),
        ("PAUSE", "stop lending server connections; wait until all are back"),
        ("RESUME", "lend server connections again"),
        ("SHUTDOWN", "graceful shutdown"),
    ] {
        rs.push([c.to_owned(), m.to_owned()]);
    }
    rs
}

/// The login user of a client's pool on `database`.
fn pool_user(proxy: &Proxy, database: &str, client_user: &str) -> String {
    proxy
        .config()
        .databases
        .get(database)
        .and_then(|d| d.user.clone())
        .unwrap_or_else(|| client_user.to_owned())
}

fn pools(proxy: &Proxy) -> ResultSet {
    let mut rs = ResultSet::new(&[
        "database",
        "user",
        "cl_active",
        "cl_waiting",
        "sv_active",
        "sv_idle",
        "sv_used",
        "maxwait",
        "maxwait_us",
        "pool_mode",
        "pool_size",
    ]);
    let clients = proxy.registry.all();
    let now = now_ms();
    for ((db, user), pool) in proxy.pools() {
        let mine: Vec<_> = clients
            .iter()
            .filter(|c| c.database == db && pool_user(proxy, &c.database, &c.user) == user)
            .collect();
        let waiting = mine.iter().filter(|c| c.state() == ClientState::Waiting).count();
        let maxwait_ms = mine
            .iter()
            .filter_map(|c| c.wait_since())
            .map(|since| now.saturating_sub(since))
            .max()
            .unwrap_or(0);
        rs.push([
            db,
            user,
            (mine.len() - waiting).to_string(),
            waiting.to_string(),
            pool.active_count().to_string(),
            pool.idle_count().to_string(),
            "0".to_owned(),
            (maxwait_ms / 1000).to_string(),
            ((maxwait_ms % 1000) * 1000).to_string(),
            pool.settings().mode.as_str().to_owned(),
            pool.settings().pool_size.to_string(),
        ]);
    }
    rs
}

fn clients(proxy: &Proxy) -> ResultSet {
    let mut rs = ResultSet::new(&[
        "type",
        "user",
        "database",
        "state",
        "addr",
        "port",
        "connect_time",
        "request_time",
        "wait",
        "wait_us",
        "ptr",
        "link",
        "application_name",
    ]);
    let now = now_ms();
    for c in proxy.registry.all() {
        let wait_ms = c.wait_since().map_or(0, |s| now.saturating_sub(s));
        rs.push([
            "C".to_owned(),
            c.user.clone(),
            c.database.clone(),
            c.state().as_str().to_owned(),
            c.addr.ip().to_string(),
            c.addr.port().to_string(),
            timestamp(c.connect_time),
            timestamp(c.request_time()),
            (wait_ms / 1000).to_string(),
            ((wait_ms % 1000) * 1000).to_string(),
            c.id.to_string(),
            c.server().map(|(pid, _)| pid.to_string()).unwrap_or_default(),
            c.application_name.clone(),
        ]);
    }
    rs
}

fn servers(proxy: &Proxy) -> ResultSet {
    let mut rs = ResultSet::new(&[
        "type",
        "user",
        "database",
        "state",
        "addr",
        "port",
        "connect_time",
        "request_time",
        "remote_pid",
        "link",
    ]);
    let config = proxy.config();
    let addr_of = |db: &str| {
        config
            .databases
            .get(db)
            .map(|d| (d.host.clone(), d.port.to_string()))
            .unwrap_or_default()
    };
    for c in proxy.registry.all() {
        if let Some((pid, opened)) = c.server() {
            let (host, port) = addr_of(&c.database);
            rs.push([
                "S".to_owned(),
                pool_user(proxy, &c.database, &c.user),
                c.database.clone(),
                "active".to_owned(),
                host,
                port,
                timestamp(opened),
                timestamp(c.request_time()),
                pid.to_string(),
                c.id.to_string(),
            ]);
        }
    }
    let now = now_ms();
    let ago = |d: Duration| now.saturating_sub(d.as_millis() as u64);
    for ((db, user), pool) in proxy.pools() {
        let (host, port) = pool.server_address();
        for s in pool.idle_servers() {
            rs.push([
                "S".to_owned(),
                user.clone(),
                db.clone(),
                "idle".to_owned(),
                host.to_owned(),
                port.to_string(),
                timestamp(ago(s.age)),
                timestamp(ago(s.idle_for)),
                s.pid.to_string(),
                String::new(),
            ]);
        }
    }
    rs
}

fn stats(proxy: &Proxy) -> ResultSet {
    let mut rs = ResultSet::new(&[
        "database",
        "total_xact_count",
        "total_query_count",
        "total_received",
        "total_sent",
        "total_query_time",
        "total_wait_time",
        "avg_query_time",
        "avg_wait_time",
    ]);
    for s in stats_by_database(&proxy.metrics.gather()) {
        let avg = |total: u64, n: u64| total.checked_div(n).unwrap_or(0);
        rs.push([
            s.database.clone(),
            s.xact_count.to_string(),
            s.query_count.to_string(),
            s.received.to_string(),
            s.sent.to_string(),
            s.query_time_us.to_string(),
            s.wait_time_us.to_string(),
            avg(s.query_time_us, s.query_count).to_string(),
            avg(s.wait_time_us, s.xact_count).to_string(),
        ]);
    }
    rs
}

fn config(proxy: &Proxy) -> ResultSet {
    let c = proxy.config();
    let defaults = crate::config::PoolSettings::default();
    let pool = c
        .databases
        .values()
        .next()
        .map(|d| d.pool.clone())
        .unwrap_or_else(|| defaults.clone());
    let mut rs = ResultSet::new(&["key", "value", "default", "changeable"]);
    let secs = |d: Duration| d.as_secs().to_string();
    let ms = |d: Duration| d.as_millis().to_string();
    let rows: Vec<(&str, String, String, bool)> = vec![
        ("listen", c.listen.clone(), "127.0.0.1:6432".into(), false),
        (
            "metrics_listen",
            c.metrics_listen.clone().unwrap_or_default(),
            crate::config::DEFAULT_METRICS_LISTEN.into(),
            false,
        ),
        (
            "metrics_child_labels",
            c.metrics_child_labels.to_string(),
            "false".into(),
            false,
        ),
        ("admin_database", c.admin_database.clone(), "partproxy".into(), false),
        ("admin_users", c.admin_users.join(","), String::new(), true),
        ("log_level", c.log_level.clone(), "info".into(), false),
        (
            "max_client_connections",
            c.max_client_connections.to_string(),
            "10000".into(),
            true,
        ),
        (
            "max_message_size",
            c.max_message_size.to_string(),
            (256usize << 20).to_string(),
            false,
        ),
        ("shutdown_timeout_secs", secs(c.shutdown_timeout), "30".into(), true),
        (
            "pool.mode",
            pool.mode.as_str().into(),
            defaults.mode.as_str().into(),
            true,
        ),
        (
            "pool.pool_size",
            pool.pool_size.to_string(),
            defaults.pool_size.to_string(),
            true,
        ),
        (
            "pool.min_pool_size",
            pool.min_pool_size.to_string(),
            defaults.min_pool_size.to_string(),
            true,
        ),
        (
            "pool.connect_timeout_ms",
            ms(pool.connect_timeout),
            ms(defaults.connect_timeout),
            true,
        ),
        (
            "pool.idle_timeout_secs",
            secs(pool.idle_timeout),
            secs(defaults.idle_timeout),
            true,
        ),
        (
            "pool.max_lifetime_secs",
            secs(pool.max_lifetime),
            secs(defaults.max_lifetime),
            true,
        ),
        (
            "pool.wait_timeout_ms",
            ms(pool.wait_timeout),
            ms(defaults.wait_timeout),
            true,
        ),
        ("routing.enabled", c.routing.enabled.to_string(), "true".into(), true),
        (
            "routing.refresh_interval_secs",
            secs(c.routing.refresh_interval),
            "60".into(),
            false,
        ),
        ("routing.tables", c.routing.tables.len().to_string(), "0".into(), true),
    ];
    for (k, v, d, changeable) in rows {
        rs.push([k.to_owned(), v, d, if changeable { "yes" } else { "no" }.to_owned()]);
    }
    rs
}

fn databases(proxy: &Proxy) -> ResultSet {
    let c = proxy.config();
    let mut rs = ResultSet::new(&[
        "name",
        "host",
        "port",
        "database",
        "force_user",
        "pool_size",
        "min_pool_size",
        "pool_mode",
        "current_connections",
        "paused",
        "routing",
        "catalog_age_ms",
        "catalog_fresh",
        "ddl_hook",
    ]);
    let mut dbs: Vec<_> = c.databases.values().collect();
    dbs.sort_by(|a, b| a.name.cmp(&b.name));
    let pools = proxy.pools();
    for d in dbs {
        let current: usize = pools
            .iter()
            .filter(|((db, _), _)| db == &d.name)
            .map(|(_, p)| p.active_count() + p.idle_count())
            .sum();
        rs.push([
            d.name.clone(),
            d.host.clone(),
            d.port.to_string(),
            d.dbname.clone(),
            d.user.clone().unwrap_or_default(),
            d.pool.pool_size.to_string(),
            d.pool.min_pool_size.to_string(),
            d.pool.mode.as_str().to_owned(),
            current.to_string(),
            u8::from(proxy.is_paused()).to_string(),
            if proxy.catalog(&d.name).is_some() { "on" } else { "off" }.to_owned(),
            catalog_age(proxy, &d.name),
            match proxy.catalog(&d.name) {
                Some(live) if live.is_stale() => "stale".to_owned(),
                Some(_) => "yes".to_owned(),
                None => String::new(),
            },
            proxy
                .catalog(&d.name)
                .map(|live| live.hook_state().to_owned())
                .unwrap_or_default(),
        ]);
    }
    rs
}

/// Milliseconds since the database's catalog was loaded ("" when routing is
/// off or before the first load).
fn catalog_age(proxy: &Proxy, database: &str) -> String {
    proxy
        .catalog(database)
        .and_then(|live| live.age_ms())
        .map(|ms| ms.to_string())
        .unwrap_or_default()
}

/// True when `filter` (as a user writes a table name) names `parent`: an
/// unqualified name matches in any schema.
fn names(filter: &str, parent: &TableName) -> bool {
    match TableRule::parse_parent(filter) {
        Some(t) if filter.contains('.') => &t == parent,
        Some(t) => t.name == parent.name,
        None => false,
    }
}

fn partitions(proxy: &Proxy, filter: Option<&str>) -> Result<ResultSet, String> {
    let mut rs = ResultSet::new(&[
        "database",
        "parent",
        "kind",
        "key",
        "child",
        "bounds",
        "pruning",
        "statements",
        "rows",
        "catalog_age_ms",
        "ddl_hook",
    ]);
    let mut matched = false;
    for live in proxy.catalogs() {
        let catalog = live.snapshot();
        let mut parents: Vec<_> = catalog.hierarchies.values().collect();
        parents.sort_by(|a, b| a.parent.cmp(&b.parent));
        for h in parents {
            if filter.is_some_and(|f| !names(f, &h.parent)) {
                continue;
            }
            matched = true;
            let kind = h.kind.as_str();
            let key = match &h.key {
                None => String::new(),
                Some(first) => std::iter::once(Some(first))
                    .chain(h.more_key.iter().map(Option::as_ref))
                    .map(|k| k.map_or_else(|| "(expression)".to_owned(), |k| k.column.clone()))
                    .collect::<Vec<_>>()
                    .join(", "),
            };
            let (age, hook) = (catalog_age(proxy, &live.database), live.hook_state());
            for child in &h.children {
                let (bounds, pruning) = match (&h.key, &child.domain) {
                    (None, _) => (String::new(), "no: no key column found".to_owned()),
                    (Some(_), None) => (String::new(), "no: bound or CHECK constraint not understood".to_owned()),
                    (Some(_), Some(d)) => (d.to_string(), "yes".to_owned()),
                };
                let (statements, rows) = proxy.metrics.routing.child(&live.database, &child.table);
                rs.push([
                    live.database.clone(),
                    h.parent.quoted(),
                    kind.to_owned(),
                    key.clone(),
                    child.table.quoted(),
                    bounds,
                    pruning,
                    statements.to_string(),
                    rows.to_string(),
                    age.clone(),
                    hook.to_owned(),
                ]);
            }
        }
    }
    match filter {
        Some(f) if !matched => Err(format!("no partitioned parent named {f}")),
        _ => Ok(rs),
    }
}

fn routes(proxy: &Proxy) -> ResultSet {
    let mut rs = ResultSet::new(&[
        "database",
        "parent",
        "routed_single",
        "routed_multi",
        "passthrough",
        "error",
        "rows",
        "rejected_rows",
        "top_passthrough_reasons",
    ]);
    let known = proxy.known_parents();
    for p in routes_by_parent(&proxy.metrics.gather(), &known) {
        let reasons: Vec<String> = p.reasons.iter().take(3).map(|(r, n)| format!("{r}: {n}")).collect();
        rs.push([
            p.database,
            if p.parent.is_empty() {
                "(none)".to_owned()
            } else {
                p.parent
            },
            p.outcomes[0].to_string(),
            p.outcomes[1].to_string(),
            p.outcomes[2].to_string(),
            p.outcomes[3].to_string(),
            p.rows.to_string(),
            p.rejected_rows.to_string(),
            reasons.join(", "),
        ]);
    }
    rs
}
