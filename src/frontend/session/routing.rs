//! Asking the router about the client's statements — simple queries, each
//! Bind of a statement naming a parent, SQL `PREPARE`/`EXECUTE`, and
//! `EXPLAIN ROUTE` — with the session's search_path, role, TimeZone and
//! string syntax, and handing each decision to the planner.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use super::planner::{Plan, Planner};
use super::statements::{RoutableStatement, SqlPrepared};
use super::Session;
use crate::catalog::Catalog;
use crate::client_conn::ClientStream;
use crate::keys::predicate::typed_constant;
use crate::keys::{Param, ParamValue, Reading, SqlType, TimeZoneRule, Typed};
use crate::protocol::{self, BindMsg, Frame};
use crate::router::sql_prepare::{read_sql_command, SqlCommand};
use crate::router::{self, PassReason, Route, SessionView};

/// The session settings a routing decision depends on.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RoutingContext {
    /// search_path as schema names.
    pub(crate) path: Vec<String>,
    /// The TimeZone rule.
    pub(crate) tz: TimeZoneRule,
    /// `standard_conforming_strings`.
    pub(crate) standard_strings: bool,
}

impl RoutingContext {
    /// The router's view of the session, with a Bind's parameters.
    pub(crate) fn view<'a>(&'a self, user: &'a str, params: &'a [Param<'a>]) -> SessionView<'a> {
        SessionView {
            search_path: &self.path,
            user,
            tz: self.tz,
            params,
            standard_strings: self.standard_strings,
        }
    }
}

/// The decision for a statement bound without parameters: it depends only on
/// the text, the catalog and the session's search_path and TimeZone.
#[derive(Debug)]
pub(super) struct FixedRoute {
    /// The catalog it was made with (held weakly: its address stays unique
    /// while this lives, and an old catalog is not kept alive).
    catalog: Weak<Catalog>,
    context: RoutingContext,
    route: Route,
}

impl<S: ClientStream> Session<S> {
    /// The role `$user` stands for: a role or session authorization the
    /// client switched to, else the role its servers log in as (the
    /// database's fixed login, which routing requires).
    fn current_role(&self) -> &str {
        let login = self
            .catalog
            .as_ref()
            .map_or(self.user.as_str(), |c| c.target().user.as_str());
        self.server.current_role(login)
    }

    /// The session's settings routing depends on.
    fn routing_context(&self) -> RoutingContext {
        // The client's own setting, else the one its servers start with.
        let server_default = self.server.pool().default_search_path().or_else(|| {
            self.catalog
                .as_ref()
                .and_then(|live| live.snapshot().default_search_path.clone())
        });
        let path = router::parse_search_path(
            self.server
                .desired
                .get("search_path")
                .or(server_default.as_ref())
                .map_or("\"$user\", public", String::as_str),
        );
        let tz = TimeZoneRule::from_setting(&self.reported.time_zone).unwrap_or(TimeZoneRule::Unknown);
        RoutingContext {
            path,
            tz,
            standard_strings: self.reported.standard_strings,
        }
    }

    /// The catalog to route by, or `None` with the reason counted: routing
    /// is off, or DDL the catalog may not reflect yet is in flight (then
    /// PostgreSQL resolves the statement itself).
    fn routing_catalog(&mut self, sql: &str) -> Option<Arc<Catalog>> {
        let live = self.catalog.as_ref()?;
        match live.routable() {
            Some(catalog) => Some(catalog),
            None => {
                let stale = live.snapshot();
                self.observe_route(
                    &Route::Passthrough(PassReason::CatalogStale),
                    sql,
                    &stale,
                    Duration::ZERO,
                );
                None
            }
        }
    }

    /// What to send for a client's simple query.
    pub(super) fn route_query(&mut self, frame: &Frame) -> Plan {
        let Some(sql) = protocol::decode_query(frame.body()) else {
            return Plan::AsIs;
        };
        let Some(catalog) = self.routing_catalog(sql) else {
            return Plan::AsIs;
        };
        if catalog.hierarchies.is_empty() {
            self.observe_unrouted();
            return Plan::AsIs;
        }
        if let Some(plan) = self.route_sql_command(sql, &catalog) {
            return plan;
        }
        let started = Instant::now();
        let context = self.routing_context();
        let route = router::route(sql, &catalog, &context.view(self.current_role(), &[]));
        self.observe_route(&route, sql, &catalog, started.elapsed());
        if let Route::Passthrough(reason) = &route {
            tracing::trace!(reason = reason.as_str(), "passed through");
        }
        self.planner_run(|p| p.query(&route))
    }

    /// Runs the planner against the held server's prepared statements.
    fn planner_run(&mut self, plan: impl FnOnce(&mut Planner) -> Plan) -> Plan {
        let registry = &self.proxy.statements;
        let server = &mut self.server;
        let mut on_server = |name: &str| server.has_prepared(name);
        plan(&mut Planner::new(registry, &mut on_server))
    }

    /// Routes a prepared statement's text (parsed once, cached) with these
    /// parameter values and the session's search_path and TimeZone.
    fn route_prepared(&mut self, sql: &str, params: &[Param], catalog: &Catalog) -> Route {
        let started = Instant::now();
        let parsed = self.proxy.parse_cache.get(sql);
        let context = self.routing_context();
        let route = router::route_parsed(sql, &parsed, catalog, &context.view(self.current_role(), params));
        self.observe_route(&route, sql, catalog, started.elapsed());
        route
    }

    /// What to send for a Bind, routed by its parameter values.
    pub(super) fn route_bind(&mut self, bind: &BindMsg) -> Plan {
        let Some(src) = self.names.routable(bind.statement) else {
            self.observe_unrouted();
            return Plan::AsIs;
        };
        let Some(catalog) = self.routing_catalog(&src.sql) else {
            return Plan::AsIs;
        };
        let Some(values) = protocol::decode_bind_values(bind.rest) else {
            return Plan::AsIs;
        };
        let route = if values.is_empty() {
            self.route_fixed(&src, &catalog)
        } else {
            let params: Vec<Param> = values
                .iter()
                .enumerate()
                .map(|(i, (value, binary))| Param::bound(*value, *binary, src.types.get(i).copied().unwrap_or(0)))
                .collect();
            self.route_prepared(&src.sql, &params, &catalog)
        };
        self.planner_run(|p| p.bind(&route, &src, bind))
    }

    /// Routes a Bind without parameters, reusing the last decision for the
    /// same catalog, search_path and TimeZone.
    fn route_fixed(&mut self, src: &RoutableStatement, catalog: &Arc<Catalog>) -> Route {
        let started = Instant::now();
        let context = self.routing_context();
        let reusable = src
            .fixed
            .lock()
            .ok()
            .and_then(|fixed| fixed.clone())
            .filter(|f| std::ptr::eq(f.catalog.as_ptr(), Arc::as_ptr(catalog)) && f.context == context);
        if let Some(f) = reusable {
            self.observe_route(&f.route, &src.sql, catalog, started.elapsed());
            return f.route.clone();
        }
        let route = self.route_prepared(&src.sql, &[], catalog);
        if let Ok(mut fixed) = src.fixed.lock() {
            *fixed = Some(Arc::new(FixedRoute {
                catalog: Arc::downgrade(catalog),
                context,
                route: route.clone(),
            }));
        }
        route
    }

    /// Notes a `PREPARE` (kept once the server confirms it) or `DEALLOCATE`;
    /// for an `EXECUTE` the proxy can route, what to send instead.
    fn route_sql_command(&mut self, sql: &str, catalog: &Catalog) -> Option<Plan> {
        match read_sql_command(sql)? {
            SqlCommand::Prepare {
                name,
                types,
                type_oids,
                sql,
            } => {
                let prepared = (!router::names_no_parent(&sql, catalog)).then(|| SqlPrepared {
                    types,
                    type_oids,
                    sql: sql.into(),
                });
                self.names.sql_prepare_sent(name, prepared);
                None
            }
            SqlCommand::Deallocate(name) => {
                self.names.sql_deallocate(name.as_deref());
                None
            }
            SqlCommand::Execute { name, args } => {
                let prepared = self.names.sql_prepared(&name)?;
                // Each argument as PostgreSQL types it (in this session's
                // zone), then coerced to its declared type when routing.
                let reading = Reading::from(self.routing_context().tz);
                let values: Vec<Typed> = args
                    .iter()
                    .map(|a| typed_constant(&a.expr, reading, SqlType::Unknown))
                    .collect::<Option<_>>()?;
                let params: Vec<Param> = values
                    .iter()
                    .enumerate()
                    .map(|(i, v)| Param {
                        value: ParamValue::Constant(v),
                        type_oid: prepared.type_oids.get(i).copied().unwrap_or(0),
                    })
                    .collect();
                let route = self.route_prepared(&prepared.sql, &params, catalog);
                let texts: Vec<&str> = args.iter().map(|a| a.text.as_str()).collect();
                match self.planner_run(|p| p.sql_execute(&route, &prepared, &texts)) {
                    Plan::AsIs => None,
                    plan => Some(plan),
                }
            }
        }
    }

    /// Answers `EXPLAIN ROUTE <sql>` without executing anything.
    pub(super) fn explain_route(&self, body: &[u8]) -> Option<Bytes> {
        let sql = protocol::decode_query(body)?;
        let rest = strip_word(sql.trim_start(), "explain")?;
        let inner = strip_word(rest, "route")?.trim().trim_end_matches(';').trim();
        let (catalog, fresh) = match &self.catalog {
            Some(live) => (live.snapshot(), !live.is_stale()),
            None => Default::default(),
        };
        let mut out = BytesMut::new();
        protocol::put_row_description(&mut out, &["parent", "children", "decision", "sql"]);
        let route = match fresh || catalog.hierarchies.is_empty() {
            true => {
                let context = self.routing_context();
                router::route(inner, &catalog, &context.view(self.current_role(), &[]))
            }
            false => Route::Passthrough(PassReason::CatalogStale),
        };
        let rows = router::explain::explain(&route, inner);
        for r in &rows {
            protocol::put_data_row(
                &mut out,
                &[
                    r.parent.as_deref(),
                    r.children.as_deref(),
                    Some(&r.decision),
                    Some(&r.sql),
                ],
            );
        }
        let rows = rows.len();
        protocol::put_command_complete(&mut out, &format!("SELECT {rows}"));
        protocol::put_ready_for_query(&mut out, self.tx.status());
        Some(out.freeze())
    }
}

/// Strips a leading keyword (case-insensitive) followed by white space.
fn strip_word<'a>(text: &'a str, word: &str) -> Option<&'a str> {
    let head = text.get(..word.len())?;
    let rest = &text[word.len()..];
    (head.eq_ignore_ascii_case(word) && rest.starts_with(char::is_whitespace)).then(|| rest.trim_start())
}
