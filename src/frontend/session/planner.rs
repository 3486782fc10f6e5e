//! The planner: turns a routing decision into the bytes to send the server
//! and the replies to expect, for a simple query, a Bind of a prepared
//! statement and a SQL `EXECUTE` alike. Pure: the decision, the client's
//! message, the shared statement registry and what the server has prepared
//! in; a plan out. No socket, no session.
//!
//! A rewrite that fits one statement replaces the client's: a Query with the
//! new text, a Bind of a prepared rewrite, an `EXECUTE` of a rewrite
//! prepared by SQL the client never sees. A multi-row INSERT over several
//! children runs as one statement per child inside the client's implicit
//! transaction (one query string, or one Bind/Execute/Close per part before
//! the client's Sync), with the replies merged into one. A refusal becomes
//! a statement that makes the server raise it, so the transaction state
//! stays the server's own.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use super::merge::MergedInsert;
use super::replies::Expect;
use super::statements::{RoutableStatement, SqlPrepared};
use crate::prepared::{Statement, StatementRegistry};
use crate::protocol::{self, BindMsg, ServerTag};
use crate::rewrite::renumber_params;
use crate::router::{self, Route};
use crate::text::quote_ident;

/// The portal the parts of a split INSERT run in, one after the other.
const SPLIT_PORTAL: &str = "partproxy_split";
/// The statement and portal that raise a refusal.
const REFUSAL: &str = "partproxy_refusal";
/// Executing a portal that already ran is refused by the server through a
/// portal that never exists.
const SPENT_PORTAL: &str = "partproxy_portal_already_run";

/// Messages for the server with the replies they will get.
#[derive(Debug, Default)]
pub(super) struct Wire {
    pub(super) bytes: BytesMut,
    pub(super) expect: Vec<Expect>,
    /// Statements these messages prepare on the server (proxy names).
    pub(super) prepared: Vec<Arc<str>>,
}

impl Wire {
    fn push(&mut self, expect: Expect) {
        self.expect.push(expect);
    }
}

/// What to send for one client message.
#[derive(Debug)]
pub(super) enum Plan {
    /// The client's message, as it is.
    AsIs,
    /// These messages instead.
    Replace(Wire),
    /// A Bind: these messages (preparations), then the client's Bind as it
    /// is; the client's Execute of the portal runs the plan instead.
    BindThen(Wire, PortalPlan),
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

/// Plans messages for one server.
pub(super) struct Planner<'a> {
    registry: &'a StatementRegistry,
    /// Whether the server has a statement of this proxy name prepared.
    on_server: &'a mut dyn FnMut(&str) -> bool,
    /// Prepared by this plan already.
    preparing: Vec<Arc<str>>,
}

impl<'a> Planner<'a> {
    pub(super) fn new(registry: &'a StatementRegistry, on_server: &'a mut dyn FnMut(&str) -> bool) -> Planner<'a> {
        Planner {
            registry,
            on_server,
            preparing: Vec::new(),
        }
    }

    /// A simple query.
    pub(super) fn query(&mut self, route: &Route) -> Plan {
        let (text, expect) = match route {
            Route::Passthrough(_)
            | Route::Reject {
                server_refuses: true, ..
            } => return Plan::AsIs,
            Route::Rewrite { sql, .. } => (sql.clone(), Expect::Query),
            // One query string runs as one implicit transaction (or inside
            // the client's): the per-child INSERTs commit or fail together.
            Route::SplitInsert { statements, rows, .. } => (
                router::join_statements(statements),
                Expect::MergedInsert(Box::new(MergedInsert::new(rows.clone()))),
            ),
            Route::Reject { code, message, .. } => (raise_sql(code, message), Expect::Query),
        };
        let mut wire = Wire::default();
        protocol::put_query(&mut wire.bytes, &text);
        wire.push(expect);
        Plan::Replace(wire)
    }

    /// A Bind of the routable statement `src`.
    pub(super) fn bind(&mut self, route: &Route, src: &RoutableStatement, bind: &BindMsg) -> Plan {
        let mut wire = Wire::default();
        match route {
            Route::Rewrite { sql, .. } => {
                let stmt = self.registry.intern(sql, &src.rest);
                self.prepare(&stmt, &mut wire);
                protocol::put_bind(&mut wire.bytes, bind.portal, &stmt.server_name, bind.rest);
                wire.push(Expect::Bind);
                Plan::Replace(wire)
            }
            Route::SplitInsert { statements, rows, .. } => {
                let Some(parts) = self.split_parts(statements, &src.types, bind.rest, &mut wire) else {
                    return Plan::AsIs;
                };
                let order = rows.clone();
                Plan::BindThen(wire, PortalPlan::Split { parts, order })
            }
            Route::Reject {
                server_refuses: false,
                code,
                message,
                ..
            } => Plan::BindThen(
                wire,
                PortalPlan::Refuse {
                    sql: raise_sql(code, message),
                },
            ),
            Route::Reject { .. } | Route::Passthrough(_) => Plan::AsIs,
        }
    }

    /// A SQL `EXECUTE` of `prepared` with its arguments' text.
    pub(super) fn sql_execute(&mut self, route: &Route, prepared: &SqlPrepared, args: &[&str]) -> Plan {
        let mut wire = Wire::default();
        let (text, expect) = match route {
            Route::Rewrite { sql, .. } => {
                let all: Vec<usize> = (0..args.len()).collect();
                let Some(run) = self.execute_variant(sql, &prepared.types, args, &all, &mut wire) else {
                    return Plan::AsIs;
                };
                (run, Expect::Query)
            }
            Route::SplitInsert { statements, rows, .. } => {
                let mut runs = Vec::with_capacity(statements.len());
                for part in statements {
                    let Some((sql, picks)) = renumber_params(part) else {
                        return Plan::AsIs;
                    };
                    let Some(run) = self.execute_variant(&sql, &prepared.types, args, &picks, &mut wire) else {
                        return Plan::AsIs;
                    };
                    runs.push(run);
                }
                (
                    router::join_statements(&runs),
                    Expect::MergedInsert(Box::new(MergedInsert::new(rows.clone()))),
                )
            }
            Route::Reject {
                server_refuses: false,
                code,
                message,
                ..
            } => (raise_sql(code, message), Expect::Query),
            Route::Reject { .. } | Route::Passthrough(_) => return Plan::AsIs,
        };
        protocol::put_query(&mut wire.bytes, &text);
        wire.push(expect);
        Plan::Replace(wire)
    }

    /// The client's Execute of a portal with a plan.
    pub(super) fn execute(&mut self, plan: PortalPlan) -> Wire {
        let mut wire = Wire::default();
        match plan {
            PortalPlan::Split { parts, order } => {
                for (stmt, rest) in &parts {
                    // Evicted since the Bind: prepared again.
                    self.prepare(stmt, &mut wire);
                    let out = &mut wire.bytes;
                    protocol::put_bind(out, SPLIT_PORTAL, &stmt.server_name, rest);
                    protocol::put_execute(out, SPLIT_PORTAL);
                    protocol::put_target(out, b'C', b'P', SPLIT_PORTAL);
                }
                wire.push(Expect::SplitExecute(Box::new(MergedInsert::new(order))));
            }
            PortalPlan::Refuse { sql } => {
                let out = &mut wire.bytes;
                // Closing a statement that does not exist is not an error.
                protocol::put_target(out, b'C', b'S', REFUSAL);
                protocol::put_parse(out, REFUSAL, &sql, &[0, 0]);
                protocol::put_bind(out, REFUSAL, REFUSAL, &[0, 0, 0, 0, 0, 0]);
                protocol::put_execute(out, REFUSAL);
                wire.expect.extend([
                    Expect::Hidden(ServerTag::CloseComplete),
                    Expect::Hidden(ServerTag::ParseComplete),
                    Expect::Hidden(ServerTag::BindComplete),
                    Expect::Execute,
                ]);
            }
            PortalPlan::Spent => {
                protocol::put_execute(&mut wire.bytes, SPENT_PORTAL);
                wire.push(Expect::Execute);
            }
        }
        wire
    }

    /// Each part of a split INSERT as a statement with its own `$1..$n`
    /// (declared with the original types), prepared on the server, and the
    /// Bind values it takes.
    fn split_parts(
        &mut self,
        statements: &[String],
        types: &[u32],
        bind_rest: &[u8],
        wire: &mut Wire,
    ) -> Option<Vec<(Arc<Statement>, Bytes)>> {
        let mut parts = Vec::with_capacity(statements.len());
        for text in statements {
            let (sql, picks) = renumber_params(text)?;
            let part_types: Vec<u32> = picks.iter().map(|&i| types.get(i).copied().unwrap_or(0)).collect();
            let stmt = self.registry.intern(&sql, &protocol::param_types_section(&part_types));
            let rest = protocol::slice_bind_rest(bind_rest, &picks)?;
            parts.push((stmt, Bytes::from(rest)));
        }
        for (stmt, _) in &parts {
            self.prepare(stmt, wire);
        }
        Some(parts)
    }

    /// `EXECUTE` of `sql` prepared under a proxy name by SQL `PREPARE`
    /// (queued first if the server lacks it), with the arguments at `picks`.
    fn execute_variant(
        &mut self,
        sql: &str,
        types: &[String],
        args: &[&str],
        picks: &[usize],
        wire: &mut Wire,
    ) -> Option<String> {
        let picked: Vec<&str> = picks.iter().map(|&i| args.get(i).copied()).collect::<Option<_>>()?;
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
        let stmt = self.registry.intern(sql, format!("\0sql{declaration}").as_bytes());
        let name = quote_ident(&stmt.server_name);
        if self.needs(&stmt) {
            protocol::put_query(&mut wire.bytes, &format!("PREPARE {name}{declaration} AS {sql}"));
            wire.push(Expect::HiddenPrepare(stmt.server_name.clone()));
            wire.prepared.push(stmt.server_name.clone());
        }
        Some(if picked.is_empty() {
            format!("EXECUTE {name}")
        } else {
            format!("EXECUTE {name}({})", picked.join(", "))
        })
    }

    /// Queues a Parse of `stmt` (its reply hidden) if the server lacks it.
    fn prepare(&mut self, stmt: &Statement, wire: &mut Wire) {
        if !self.needs(stmt) {
            return;
        }
        wire.bytes.extend_from_slice(&stmt.parse);
        wire.push(Expect::Parse {
            forward: false,
            server_name: Some(stmt.server_name.clone()),
        });
        wire.prepared.push(stmt.server_name.clone());
    }

    /// Whether `stmt` must be prepared: neither on the server nor prepared
    /// earlier in this plan.
    fn needs(&mut self, stmt: &Statement) -> bool {
        if self.preparing.contains(&stmt.server_name) || (self.on_server)(&stmt.server_name) {
            return false;
        }
        self.preparing.push(stmt.server_name.clone());
        true
    }
}

/// A statement that makes the server raise `code` with `message`, so the
/// refusal affects the transaction exactly as an error from PostgreSQL would.
pub(super) fn raise_sql(code: &str, message: &str) -> String {
    let mut tag = "$partproxy$".to_owned();
    while message.contains(&tag) {
        tag.insert(tag.len() - 1, '_');
    }
    format!(
        "DO {tag} BEGIN RAISE EXCEPTION USING ERRCODE = '{code}', MESSAGE = {}; END {tag}",
        protocol::quote_literal(message)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::TableName;
    use crate::protocol::{cut_frame, Frame};
    use crate::router::PassReason;

    fn frames(bytes: &[u8]) -> Vec<Frame> {
        let mut buf = BytesMut::from(bytes);
        let mut out = Vec::new();
        while let Some(f) = cut_frame(&mut buf, 1 << 20).unwrap() {
            out.push(f);
        }
        assert!(buf.is_empty());
        out
    }

    fn tags(bytes: &[u8]) -> String {
        frames(bytes).iter().map(|f| f.tag as char).collect()
    }

    fn reject(server_refuses: bool) -> Route {
        Route::Reject {
            code: "23514",
            message: "no child for $partproxy$ it".into(),
            parent: TableName {
                schema: "public".into(),
                name: "m".into(),
            },
            rows: 1,
            reason: "no_child",
            server_refuses,
        }
    }

    fn split() -> Route {
        Route::SplitInsert {
            statements: vec![
                "INSERT INTO m_1 VALUES ($1), ($3)".into(),
                "INSERT INTO m_2 VALUES ($2)".into(),
            ],
            rows: vec![vec![0, 2], vec![1]],
            targets: vec![],
        }
    }

    fn rewrite(sql: &str) -> Route {
        Route::Rewrite {
            sql: sql.into(),
            targets: vec![],
        }
    }

    /// A Bind's parameter section: no formats, these text values, no result formats.
    fn bind_rest(values: &[&str]) -> Vec<u8> {
        let mut v = vec![0, 0];
        v.extend_from_slice(&(values.len() as u16).to_be_bytes());
        for s in values {
            v.extend_from_slice(&(s.len() as i32).to_be_bytes());
            v.extend_from_slice(s.as_bytes());
        }
        v.extend_from_slice(&[0, 0]);
        v
    }

    #[test]
    fn simple_queries_are_replaced_or_left_alone() {
        let registry = StatementRegistry::default();
        let mut none = |_: &str| false;
        let mut p = Planner::new(&registry, &mut none);
        assert!(matches!(p.query(&Route::Passthrough(PassReason::NoParent)), Plan::AsIs));
        assert!(
            matches!(p.query(&reject(true)), Plan::AsIs),
            "PostgreSQL raises its own error"
        );
        let Plan::Replace(w) = p.query(&rewrite("SELECT * FROM m_1")) else {
            panic!("a rewrite replaces the query")
        };
        assert_eq!(
            protocol::decode_query(frames(&w.bytes)[0].body()),
            Some("SELECT * FROM m_1")
        );
        assert!(matches!(w.expect[..], [Expect::Query]));
        let Plan::Replace(w) = p.query(&split()) else { panic!() };
        let text = protocol::decode_query(frames(&w.bytes)[0].body()).unwrap().to_owned();
        assert_eq!(text, "INSERT INTO m_1 VALUES ($1), ($3);\nINSERT INTO m_2 VALUES ($2)");
        assert!(matches!(w.expect[..], [Expect::MergedInsert(_)]));
        let Plan::Replace(w) = p.query(&reject(false)) else {
            panic!()
        };
        let text = protocol::decode_query(frames(&w.bytes)[0].body()).unwrap().to_owned();
        // The message holds the dollar-quote tag: the tag grows until it does not.
        assert!(
            text.starts_with("DO $partproxy_$ BEGIN RAISE EXCEPTION USING ERRCODE = '23514'"),
            "{text}"
        );
    }

    #[test]
    fn a_bound_rewrite_is_prepared_once_per_server() {
        let registry = StatementRegistry::default();
        let src = RoutableStatement::new("SELECT * FROM m WHERE k = $1", &[0, 1, 0, 0, 0, 23], vec![23]);
        let rest = bind_rest(&["5"]);
        let bind = BindMsg {
            portal: "p",
            statement: "s",
            rest: &rest,
        };
        let mut none = |_: &str| false;
        let Plan::Replace(w) =
            Planner::new(&registry, &mut none).bind(&rewrite("SELECT * FROM m_1 WHERE k = $1"), &src, &bind)
        else {
            panic!()
        };
        assert_eq!(tags(&w.bytes), "PB");
        assert!(matches!(
            w.expect[..],
            [Expect::Parse { forward: false, .. }, Expect::Bind]
        ));
        assert_eq!(w.prepared.len(), 1);
        let name = w.prepared[0].clone();
        let sent = frames(&w.bytes);
        let bound = protocol::decode_bind(sent[1].body()).unwrap();
        assert_eq!((bound.portal, bound.statement, bound.rest), ("p", &*name, &rest[..]));
        // The server has it now: only the Bind goes.
        let mut has = |n: &str| n == &*name;
        let Plan::Replace(w) =
            Planner::new(&registry, &mut has).bind(&rewrite("SELECT * FROM m_1 WHERE k = $1"), &src, &bind)
        else {
            panic!()
        };
        assert_eq!(tags(&w.bytes), "B");
        assert!(w.prepared.is_empty());
    }

    #[test]
    fn a_bound_split_prepares_its_parts_and_runs_them_at_execute() {
        let registry = StatementRegistry::default();
        let src = RoutableStatement::new("INSERT INTO m VALUES ($1), ($2), ($3)", &[0, 0], vec![23, 23, 23]);
        let rest = bind_rest(&["1", "20", "3"]);
        let bind = BindMsg {
            portal: "",
            statement: "s",
            rest: &rest,
        };
        let mut none = |_: &str| false;
        let mut planner = Planner::new(&registry, &mut none);
        let Plan::BindThen(w, plan) = planner.bind(&split(), &src, &bind) else {
            panic!()
        };
        assert_eq!(tags(&w.bytes), "PP", "both parts prepared before the client's Bind");
        let PortalPlan::Split { parts, order } = &plan else {
            panic!()
        };
        assert_eq!(order, &vec![vec![0, 2], vec![1]]);
        assert_eq!(
            parts[0].1,
            Bytes::from(bind_rest(&["1", "3"])),
            "each part takes its rows' values"
        );
        assert_eq!(parts[1].1, Bytes::from(bind_rest(&["20"])));
        let mut all = |_: &str| true;
        let run = Planner::new(&registry, &mut all).execute(plan);
        assert_eq!(tags(&run.bytes), "BECBEC");
        assert!(matches!(run.expect[..], [Expect::SplitExecute(_)]));
    }

    #[test]
    fn a_bound_refusal_is_raised_by_the_server_at_execute_once() {
        let registry = StatementRegistry::default();
        let src = RoutableStatement::new("INSERT INTO m VALUES ($1)", &[0, 0], vec![23]);
        let rest = bind_rest(&["99"]);
        let bind = BindMsg {
            portal: "",
            statement: "",
            rest: &rest,
        };
        let mut none = |_: &str| false;
        let mut planner = Planner::new(&registry, &mut none);
        let Plan::BindThen(w, plan) = planner.bind(&reject(false), &src, &bind) else {
            panic!()
        };
        assert!(w.bytes.is_empty());
        let run = planner.execute(plan);
        assert_eq!(tags(&run.bytes), "CPBE");
        assert!(matches!(
            run.expect[..],
            [
                Expect::Hidden(ServerTag::CloseComplete),
                Expect::Hidden(ServerTag::ParseComplete),
                Expect::Hidden(ServerTag::BindComplete),
                Expect::Execute
            ]
        ));
        let spent = planner.execute(PortalPlan::Spent);
        assert_eq!(
            protocol::decode_execute(frames(&spent.bytes)[0].body()),
            Some(SPENT_PORTAL)
        );
    }

    #[test]
    fn a_sql_execute_runs_a_hidden_prepared_rewrite() {
        let registry = StatementRegistry::default();
        let prepared = SqlPrepared {
            types: vec!["int".into(), "int".into(), "int".into()],
            type_oids: vec![23, 23, 23],
            sql: "INSERT INTO m VALUES ($1), ($2), ($3)".into(),
        };
        let mut none = |_: &str| false;
        let mut planner = Planner::new(&registry, &mut none);
        let Plan::Replace(w) = planner.sql_execute(&split(), &prepared, &["1", "20", "3"]) else {
            panic!()
        };
        let texts: Vec<String> = frames(&w.bytes)
            .iter()
            .map(|f| protocol::decode_query(f.body()).unwrap().to_owned())
            .collect();
        assert_eq!(texts.len(), 3);
        assert!(
            texts[0].starts_with("PREPARE ") && texts[0].ends_with("(int, int) AS INSERT INTO m_1 VALUES ($1), ($2)"),
            "{}",
            texts[0]
        );
        assert!(
            texts[1].ends_with("(int) AS INSERT INTO m_2 VALUES ($1)"),
            "{}",
            texts[1]
        );
        assert!(
            texts[2].contains("(1, 3);\nEXECUTE ") && texts[2].ends_with("(20)"),
            "{}",
            texts[2]
        );
        assert!(matches!(
            w.expect[..],
            [
                Expect::HiddenPrepare(_),
                Expect::HiddenPrepare(_),
                Expect::MergedInsert(_)
            ]
        ));
        assert_eq!(w.prepared.len(), 2);
    }
}
