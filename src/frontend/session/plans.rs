//! Routing each Bind of a prepared statement that names a parent, and what
//! the client's Execute of the bound portal then runs.
//!
//! A statement whose rows all go to one child is rebound to a prepared
//! rewrite. A multi-row INSERT over several children, or a refusal, cannot be
//! one prepared statement: the client's Bind still binds the original (so
//! Describe of the portal answers exactly as PostgreSQL would), and its
//! Execute is replaced by one Bind/Execute/Close per child — all before the
//! client's Sync, hence inside one transaction — or by a statement raising
//! the refusal on the server (so the transaction state stays the server's).

use std::sync::{Arc, Weak};

use bytes::{Bytes, BytesMut};

use super::merge::MergedInsert;
use super::{raise_sql, End, Expect, RoutableStatement, RoutingContext, Session};
use crate::catalog::Catalog;
use crate::keys::Param;
use crate::prepared::Statement;
use crate::protocol::{self, Frame};
use crate::rewrite::renumber_params;
use crate::router::{self, Route};

/// The portal the parts of a split INSERT run in, one after the other.
const SPLIT_PORTAL: &str = "partproxy_split";
/// The statement and portal that raise a refusal.
const REFUSAL: &str = "partproxy_refusal";
/// Executing a portal that already ran is refused by the server through a
/// portal that never exists.
const SPENT_PORTAL: &str = "partproxy_portal_already_run";

/// What a Bind routes to.
#[derive(Debug, Clone)]
pub(super) enum BindRoute {
    /// Bind this proxy-named statement instead.
    Statement(Arc<Statement>),
    /// Bind the client's statement; its Execute runs this plan instead.
    Plan(PortalPlan),
    /// Bind the client's statement as it is.
    AsIs,
}

/// What the client's Execute of a portal runs instead of what was bound.
#[derive(Debug, Clone)]
pub(super) enum PortalPlan {
    /// One INSERT per destination, with the parameters each one uses.
    Split {
        /// Each part's statement and its Bind parameter section.
        parts: Vec<(Arc<Statement>, Bytes)>,
        /// Each part's rows' positions in the original VALUES list.
        order: Vec<Vec<usize>>,
    },
    /// Raise the router's refusal.
    Refuse {
        /// The statement raising it.
        sql: String,
    },
    /// Ran already; PostgreSQL does not run a portal twice.
    Spent,
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
    bind: BindRoute,
}

impl Session {
    /// Routes a prepared statement's text (parsed once, cached) with these
    /// parameter values and the session's search_path and TimeZone.
    pub(super) fn route_prepared(&mut self, sql: &str, params: &[Param], catalog: &Catalog) -> Route {
        let started = std::time::Instant::now();
        let parsed = self.proxy.parse_cache.get(sql);
        let context = self.routing_context();
        let route = router::route_parsed(sql, &parsed, catalog, &context.view(self.current_role(), params));
        self.observe_route(&route, sql, catalog, started.elapsed());
        route
    }

    /// Routes a Bind by its parameter values.
    pub(super) fn route_bind(&mut self, bind: &protocol::BindMsg) -> BindRoute {
        let Some(src) = self.routable.get(bind.statement).cloned() else {
            self.observe_unrouted();
            return BindRoute::AsIs;
        };
        let Some(live) = self.catalog.as_ref() else {
            return BindRoute::AsIs;
        };
        let Some(catalog) = live.routable() else {
            let stale = live.snapshot();
            let route = Route::Passthrough(router::PassReason::CatalogStale);
            self.observe_route(&route, &src.sql, &stale, std::time::Duration::ZERO);
            return BindRoute::AsIs;
        };
        let Some(values) = protocol::decode_bind_values(bind.rest) else {
            return BindRoute::AsIs;
        };
        if values.is_empty() {
            return self.route_fixed(&src, &catalog, bind.rest);
        }
        let params: Vec<Param> = values
            .iter()
            .enumerate()
            .map(|(i, (value, binary))| Param::bound(*value, *binary, src.types.get(i).copied().unwrap_or(0)))
            .collect();
        let route = self.route_prepared(&src.sql, &params, &catalog);
        self.bind_route(&route, &src, bind.rest)
    }

    /// Routes a Bind without parameters, reusing the last decision for the
    /// same catalog, search_path and TimeZone.
    fn route_fixed(&mut self, src: &RoutableStatement, catalog: &Arc<Catalog>, bind_rest: &[u8]) -> BindRoute {
        let started = std::time::Instant::now();
        let context = self.routing_context();
        let reusable = src
            .fixed
            .lock()
            .ok()
            .and_then(|fixed| fixed.clone())
            .filter(|f| std::ptr::eq(f.catalog.as_ptr(), Arc::as_ptr(catalog)) && f.context == context);
        if let Some(f) = reusable {
            self.observe_route(&f.route, &src.sql, catalog, started.elapsed());
            let mut bind = f.bind.clone();
            if let BindRoute::Plan(PortalPlan::Split { parts, .. }) = &mut bind {
                // The parts take no values, but this Bind's result formats.
                let Some(rest) = protocol::slice_bind_rest(bind_rest, &[]) else {
                    return BindRoute::AsIs;
                };
                let rest = Bytes::from(rest);
                for (_, part_rest) in parts.iter_mut() {
                    *part_rest = rest.clone();
                }
            }
            self.prepare_bound(&bind);
            return bind;
        }
        let route = self.route_prepared(&src.sql, &[], catalog);
        let bind = self.bind_route(&route, src, bind_rest);
        if let Ok(mut fixed) = src.fixed.lock() {
            *fixed = Some(Arc::new(FixedRoute {
                catalog: Arc::downgrade(catalog),
                context,
                route,
                bind: bind.clone(),
            }));
        }
        bind
    }

    /// Prepares on the current server what a reused decision binds.
    fn prepare_bound(&mut self, bind: &BindRoute) {
        match bind {
            BindRoute::Statement(stmt) => self.prepare_if_missing(stmt),
            BindRoute::Plan(PortalPlan::Split { parts, .. }) => {
                for (stmt, _) in parts {
                    self.prepare_if_missing(stmt);
                }
            }
            BindRoute::Plan(_) | BindRoute::AsIs => {}
        }
    }

    /// What a Bind with these values (`bind_rest`) runs for `route`.
    fn bind_route(&mut self, route: &Route, src: &RoutableStatement, bind_rest: &[u8]) -> BindRoute {
        match route {
            Route::Rewrite { sql, .. } => {
                let stmt = self.proxy.statements.intern(sql, &src.rest);
                self.prepare_if_missing(&stmt);
                BindRoute::Statement(stmt)
            }
            Route::SplitInsert { statements, rows, .. } => match self.split_parts(statements, &src.types, bind_rest) {
                Some(parts) => BindRoute::Plan(PortalPlan::Split {
                    parts,
                    order: rows.clone(),
                }),
                None => BindRoute::AsIs,
            },
            Route::Reject {
                server_refuses: true, ..
            } => BindRoute::AsIs,
            Route::Reject { code, message, .. } => BindRoute::Plan(PortalPlan::Refuse {
                sql: raise_sql(code, message),
            }),
            Route::Passthrough(_) => BindRoute::AsIs,
        }
    }

    /// Each part of a split INSERT as a statement with its own `$1..$n`
    /// (declared with the original types) and the Bind values it takes.
    fn split_parts(
        &mut self,
        statements: &[String],
        types: &[u32],
        bind_rest: &[u8],
    ) -> Option<Vec<(Arc<Statement>, Bytes)>> {
        let mut parts = Vec::with_capacity(statements.len());
        for text in statements {
            let (sql, picks) = renumber_params(text)?;
            let part_types: Vec<u32> = picks.iter().map(|&i| types.get(i).copied().unwrap_or(0)).collect();
            let stmt = self
                .proxy
                .statements
                .intern(&sql, &protocol::param_types_section(&part_types));
            let rest = protocol::slice_bind_rest(bind_rest, &picks)?;
            parts.push((stmt, Bytes::from(rest)));
        }
        for (stmt, _) in &parts {
            self.prepare_if_missing(stmt);
        }
        Some(parts)
    }

    fn prepare_if_missing(&mut self, stmt: &Statement) {
        if !self.server_has(stmt) {
            self.prepare_on_server(stmt, false);
        }
    }

    pub(super) async fn client_execute(&mut self, frame: Frame) -> Result<(), End> {
        self.ensure_server().await?;
        let plan = match protocol::decode_execute(frame.body()) {
            Some(portal) if !self.portal_plans.is_empty() => self
                .portal_plans
                .get_mut(portal)
                .map(|p| std::mem::replace(p, PortalPlan::Spent)),
            _ => None,
        };
        let Some(plan) = plan else {
            self.send(Expect::Execute, &frame.bytes);
            return Ok(());
        };
        let mut out = BytesMut::new();
        match plan {
            PortalPlan::Split { parts, order } => {
                for (stmt, rest) in &parts {
                    protocol::put_bind(&mut out, SPLIT_PORTAL, &stmt.server_name, rest);
                    protocol::put_execute(&mut out, SPLIT_PORTAL);
                    protocol::put_target(&mut out, b'C', b'P', SPLIT_PORTAL);
                }
                self.send(Expect::SplitExecute(Box::new(MergedInsert::new(order))), &out);
            }
            PortalPlan::Refuse { sql } => {
                // Closing a statement that does not exist is not an error.
                protocol::put_target(&mut out, b'C', b'S', REFUSAL);
                protocol::put_parse(&mut out, REFUSAL, &sql, &[0, 0]);
                protocol::put_bind(&mut out, REFUSAL, REFUSAL, &[0, 0, 0, 0, 0, 0]);
                protocol::put_execute(&mut out, REFUSAL);
                self.to_server.extend_from_slice(&out);
                for e in [
                    Expect::Hidden(b'3'),
                    Expect::Hidden(b'1'),
                    Expect::Hidden(b'2'),
                    Expect::Execute,
                ] {
                    self.expect.push(e);
                }
            }
            PortalPlan::Spent => {
                protocol::put_execute(&mut out, SPENT_PORTAL);
                self.send(Expect::Execute, &out);
            }
        }
        Ok(())
    }
}
