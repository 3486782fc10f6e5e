//! The statement map: what the client's statement and portal names stand
//! for. In transaction pooling a named statement is the proxy's shared,
//! proxy-named statement (prepared on whichever server the client holds);
//! statements naming a parent are kept to route each Bind; portals whose
//! Execute runs something else than what was bound keep that plan; and
//! statements prepared with SQL `PREPARE` that name a parent are kept to
//! route each `EXECUTE`.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;

use super::planner::PortalPlan;
use super::routing::FixedRoute;
use crate::prepared::Statement;

/// A prepared statement that names a parent: what routing a Bind needs.
#[derive(Debug)]
pub(super) struct RoutableStatement {
    pub(super) sql: Arc<str>,
    /// The Parse's parameter-type section, reused for the rewritten variants.
    pub(super) rest: Bytes,
    pub(super) types: Vec<u32>,
    /// For a Bind without parameters: the last decision, reused while the
    /// catalog and the session's search_path and TimeZone are unchanged.
    pub(super) fixed: std::sync::Mutex<Option<Arc<FixedRoute>>>,
}

impl RoutableStatement {
    pub(super) fn new(sql: &str, rest: &[u8], types: Vec<u32>) -> RoutableStatement {
        RoutableStatement {
            sql: sql.into(),
            rest: Bytes::copy_from_slice(rest),
            types,
            fixed: Default::default(),
        }
    }
}

/// A statement prepared with SQL `PREPARE` that names a parent.
#[derive(Debug, Clone)]
pub(super) struct SqlPrepared {
    /// Declared parameter types, as written.
    pub(super) types: Vec<String>,
    /// The same as OIDs, for routing.
    pub(super) type_oids: Vec<u32>,
    pub(super) sql: Arc<str>,
}

/// The session's names.
#[derive(Debug)]
pub(super) struct StatementMap {
    /// Named statements are renamed (transaction pooling).
    renames: bool,
    /// Client statement name → shared statement (when renaming).
    named: HashMap<String, Arc<Statement>>,
    /// Client statement name ("" for the unnamed one) → its text, for
    /// statements that name a parent.
    routable: HashMap<String, Arc<RoutableStatement>>,
    /// Portals whose Execute runs something else than what was bound.
    portals: HashMap<String, PortalPlan>,
    /// SQL-prepared statements that name a parent, by name.
    sql_prepared: HashMap<String, SqlPrepared>,
    /// A PREPARE sent, to note once the server confirms it (`None`: it names no parent).
    sql_prepare_pending: Option<(String, Option<SqlPrepared>)>,
}

impl StatementMap {
    /// A map for a session that renames named statements or not.
    pub(super) fn new(renames: bool) -> StatementMap {
        StatementMap {
            renames,
            named: HashMap::new(),
            routable: HashMap::new(),
            portals: HashMap::new(),
            sql_prepared: HashMap::new(),
            sql_prepare_pending: None,
        }
    }

    /// Whether the client's statement `name` is one the proxy renames.
    pub(super) fn renames(&self, name: &str) -> bool {
        self.renames && !name.is_empty()
    }

    /// The client prepared `name` as the shared statement `stmt`.
    pub(super) fn define(&mut self, name: &str, stmt: Arc<Statement>) {
        self.named.insert(name.to_owned(), stmt);
    }

    /// The shared statement the client's `name` stands for, if renamed.
    pub(super) fn shared(&self, name: &str) -> Option<Arc<Statement>> {
        if !self.renames(name) {
            return None;
        }
        self.named.get(name).cloned()
    }

    /// Notes (`Some`) or forgets (`None`) that the client's statement `name` names a parent.
    pub(super) fn set_routable(&mut self, name: &str, stmt: Option<RoutableStatement>) {
        match stmt {
            Some(s) => {
                self.routable.insert(name.to_owned(), Arc::new(s));
            }
            None => {
                self.routable.remove(name);
            }
        }
    }

    /// The routable statement the client calls `name`.
    pub(super) fn routable(&self, name: &str) -> Option<Arc<RoutableStatement>> {
        self.routable.get(name).cloned()
    }

    /// The client closed its statement `name`. Returns true when the proxy
    /// answers the Close itself (the server keeps the shared statement for
    /// other clients).
    pub(super) fn close_statement(&mut self, name: &str) -> bool {
        self.routable.remove(name);
        let renamed = self.renames(name);
        if renamed {
            self.named.remove(name);
        }
        renamed
    }

    /// The client bound `portal` again, or closed it.
    pub(super) fn close_portal(&mut self, portal: &str) {
        if !self.portals.is_empty() {
            self.portals.remove(portal);
        }
    }

    /// The client's Execute of `portal` runs `plan` instead of what was bound.
    pub(super) fn plan_portal(&mut self, portal: &str, plan: PortalPlan) {
        self.portals.insert(portal.to_owned(), plan);
    }

    /// The plan for an Execute of `portal`, if it has one; the portal is then spent.
    pub(super) fn take_portal_plan(&mut self, portal: &str) -> Option<PortalPlan> {
        if self.portals.is_empty() {
            return None;
        }
        self.portals
            .get_mut(portal)
            .map(|p| std::mem::replace(p, PortalPlan::Spent))
    }

    /// The transaction ended (or its server was lost): every portal is gone.
    pub(super) fn transaction_ended(&mut self) {
        if !self.portals.is_empty() {
            self.portals.clear();
        }
    }

    /// `DEALLOCATE ALL` or `DISCARD ALL` ran: every prepared statement is gone.
    pub(super) fn server_dropped_statements(&mut self) {
        self.named.clear();
        self.sql_prepared.clear();
    }

    /// The server was reset on release: statements the client prepared with
    /// SQL `PREPARE` are gone (protocol-level ones follow the client).
    pub(super) fn sql_statements_discarded(&mut self) {
        self.sql_prepared.clear();
    }

    /// A `PREPARE name` was sent; `prepared` when it names a parent.
    pub(super) fn sql_prepare_sent(&mut self, name: String, prepared: Option<SqlPrepared>) {
        self.sql_prepare_pending = Some((name, prepared));
    }

    /// The statement the client sends next is not the pending `PREPARE`'s confirmation.
    pub(super) fn forget_pending_prepare(&mut self) {
        self.sql_prepare_pending = None;
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

    /// `DEALLOCATE name`, or `DEALLOCATE ALL` for `None`.
    pub(super) fn sql_deallocate(&mut self, name: Option<&str>) {
        match name {
            Some(n) => {
                self.sql_prepared.remove(n);
            }
            None => self.sql_prepared.clear(),
        }
    }

    /// The SQL-prepared statement `name`, if it names a parent.
    pub(super) fn sql_prepared(&self, name: &str) -> Option<SqlPrepared> {
        self.sql_prepared.get(name).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prepared::StatementRegistry;

    #[test]
    fn named_statements_are_renamed_only_in_transaction_pooling() {
        let registry = StatementRegistry::default();
        let stmt = registry.intern("SELECT 1", &[0, 0]);
        let mut pooled = StatementMap::new(true);
        pooled.define("s1", stmt.clone());
        assert!(pooled.shared("s1").is_some());
        assert!(pooled.shared("").is_none(), "the unnamed statement is never renamed");
        assert!(pooled.close_statement("s1"), "the proxy answers the Close itself");
        assert!(pooled.shared("s1").is_none());
        let mut session = StatementMap::new(false);
        session.define("s1", stmt);
        assert!(session.shared("s1").is_none());
        assert!(!session.close_statement("s1"), "the server answers the Close");
    }

    #[test]
    fn a_portal_plan_runs_once_and_ends_with_its_transaction() {
        let mut map = StatementMap::new(true);
        map.plan_portal("p", PortalPlan::Refuse { sql: "x".into() });
        assert!(matches!(map.take_portal_plan("p"), Some(PortalPlan::Refuse { .. })));
        assert!(matches!(map.take_portal_plan("p"), Some(PortalPlan::Spent)));
        map.transaction_ended();
        assert!(map.take_portal_plan("p").is_none());
    }

    #[test]
    fn a_sql_prepare_counts_once_the_server_confirms_it() {
        let mut map = StatementMap::new(true);
        let p = SqlPrepared {
            types: vec![],
            type_oids: vec![],
            sql: "INSERT INTO t VALUES (1)".into(),
        };
        map.sql_prepare_sent("q".into(), Some(p.clone()));
        map.forget_pending_prepare();
        map.sql_prepare_done();
        assert!(map.sql_prepared("q").is_none(), "another statement came first");
        map.sql_prepare_sent("q".into(), Some(p));
        map.sql_prepare_done();
        assert!(map.sql_prepared("q").is_some());
        map.sql_deallocate(Some("q"));
        assert!(map.sql_prepared("q").is_none());
    }
}
