//! Routing `EXECUTE` of statements the client prepared with SQL `PREPARE`.
//!
//! The proxy remembers each successful `PREPARE` of a statement naming a
//! parent. An `EXECUTE` with literal arguments is routed like a Bind: the
//! rewrite is prepared on the server under a proxy name (once per server,
//! with the client's declared types, by a query the client never sees) and
//! the client's `EXECUTE` runs that instead, with the same argument text.

use std::sync::Arc;

use super::merge::MergedInsert;
use super::{raise_sql, Expect, Session};
use crate::catalog::Catalog;
use crate::keys::predicate::typed_constant;
use crate::keys::{Param, ParamValue, Reading, SqlType, Typed};
use crate::protocol;
use crate::rewrite::renumber_params;
use crate::router::sql_prepare::{read_sql_command, SqlCommand};
use crate::router::{self, Route};
use crate::text::quote_ident;

/// A statement prepared with SQL `PREPARE` that names a parent.
#[derive(Debug, Clone)]
pub(super) struct SqlPrepared {
    /// Declared parameter types, as written.
    types: Vec<String>,
    /// The same as OIDs, for routing.
    type_oids: Vec<u32>,
    sql: Arc<str>,
}

impl Session {
    /// Notes a `PREPARE` (kept once the server confirms it) or `DEALLOCATE`;
    /// for an `EXECUTE` the proxy can route, the query text to send instead
    /// and what its reply will be.
    pub(super) fn route_sql_command(&mut self, sql: &str, catalog: &Catalog) -> Option<(String, Expect)> {
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
                self.sql_prepare_pending = Some((name, prepared));
                None
            }
            SqlCommand::Deallocate(None) => {
                self.sql_prepared.clear();
                None
            }
            SqlCommand::Deallocate(Some(name)) => {
                self.sql_prepared.remove(&name);
                None
            }
            SqlCommand::Execute { name, args } => {
                let prepared = self.sql_prepared.get(&name)?.clone();
                // Each argument as PostgreSQL types it (in this session's
                // zone), then coerced to its declared type when routing.
                let tz = self.routing_context().tz;
                let reading = Reading::from(tz);
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
                let texts: Vec<&str> = args.iter().map(|a| a.text.as_str()).collect();
                match self.route_prepared(&prepared.sql, &params, catalog) {
                    Route::Rewrite { sql, .. } => {
                        let all: Vec<usize> = (0..texts.len()).collect();
                        let run = self.execute_variant(&sql, &prepared.types, &texts, &all)?;
                        Some((run, Expect::Query))
                    }
                    Route::SplitInsert { statements, rows, .. } => {
                        let mut runs = Vec::with_capacity(statements.len());
                        for part in &statements {
                            let (sql, picks) = renumber_params(part)?;
                            runs.push(self.execute_variant(&sql, &prepared.types, &texts, &picks)?);
                        }
                        Some((
                            runs.join(";\n"),
                            Expect::MergedInsert(Box::new(MergedInsert::new(rows))),
                        ))
                    }
                    Route::Reject {
                        server_refuses: true, ..
                    } => None,
                    Route::Reject { code, message, .. } => Some((raise_sql(code, &message), Expect::Query)),
                    Route::Passthrough(_) => None,
                }
            }
        }
    }

    /// `EXECUTE` of `sql` prepared under a proxy name (preparing it on the
    /// server first if needed), with the arguments at `picks`.
    fn execute_variant(&mut self, sql: &str, types: &[String], args: &[&str], picks: &[usize]) -> Option<String> {
        // Undeclared positions are inferred, as in the client's PREPARE.
        let declared: Vec<&str> = picks
            .iter()
            .map(|&i| types.get(i).map_or("unknown", String::as_str))
            .collect();
        let declaration = if types.is_empty() {
            String::new()
        } else {
            format!(" ({})", declared.join(", "))
        };
        // The key cannot collide with a protocol-level statement's.
        let stmt = self
            .proxy
            .statements
            .intern(sql, format!("\0sql{declaration}").as_bytes());
        let name = quote_ident(&stmt.server_name);
        if !self.server_has(&stmt) {
            self.note_prepared(&stmt.server_name);
            let mut out = bytes::BytesMut::new();
            protocol::put_query(&mut out, &format!("PREPARE {name}{declaration} AS {sql}"));
            self.send(Expect::HiddenPrepare(stmt.server_name.clone()), &out);
        }
        let picked: Vec<&str> = picks.iter().map(|&i| args.get(i).copied()).collect::<Option<_>>()?;
        Some(if picked.is_empty() {
            format!("EXECUTE {name}")
        } else {
            format!("EXECUTE {name}({})", picked.join(", "))
        })
    }

    /// The server confirmed the client's `PREPARE`.
    pub(super) fn sql_prepare_done(&mut self) {
        if let Some((name, prepared)) = self.sql_prepare_pending.take() {
            match prepared {
                Some(p) => {
                    self.sql_prepared.insert(name, p);
                }
                None => {
                    self.sql_prepared.remove(&name);
                }
            }
        }
    }
}
