//! Watching a session's own DDL: while its transaction may have changed
//! relations, schemas or constraints, the catalog is held stale (routing
//! fails open for everyone); once the transaction ends, the session's next
//! statement waits for the reload, so it is routed by the new catalog.

use std::sync::Arc;

use crate::catalog::live::{DdlHold, LiveCatalog};
use crate::text::contains_ci;

/// The DDL state of one session.
#[derive(Default)]
pub(super) struct DdlWatch {
    /// Held from DDL this session ran until its transaction ends.
    hold: Option<DdlHold>,
    /// This session's DDL ended: its next statement waits for the reload.
    awaits_reload: bool,
    /// The transaction's SQL may create relations with a SELECT tag
    /// (CREATE TABLE AS, SELECT INTO).
    may_create: bool,
}

impl DdlWatch {
    /// Notes SQL that may create relations although its command tag says
    /// SELECT: `CREATE TABLE ... AS`, `CREATE MATERIALIZED VIEW`, `SELECT
    /// ... INTO` (a cheap look at the first word).
    pub(super) fn note_sql(&mut self, sql: &[u8]) {
        self.may_create |= may_create(sql);
    }

    /// Unread SQL went to the server: it may do anything.
    pub(super) fn note_unread_sql(&mut self) {
        self.may_create = true;
    }

    /// A statement completed with command tag `tag`.
    pub(super) fn note_tag(&mut self, tag: &str, live: &Arc<LiveCatalog>) {
        if self.hold.is_none() && is_ddl(tag, self.may_create) {
            self.hold = Some(live.hold_for_ddl());
        }
    }

    /// The transaction ended: DDL in it is committed or rolled back.
    pub(super) fn transaction_ended(&mut self) {
        if self.hold.take().is_some() {
            self.awaits_reload = true;
        }
        self.may_create = false;
    }

    /// Whether the next statement must wait for the reload (asked once).
    pub(super) fn take_awaits_reload(&mut self) -> bool {
        std::mem::take(&mut self.awaits_reload)
    }
}

fn may_create(sql: &[u8]) -> bool {
    let text = std::str::from_utf8(sql).unwrap_or("").trim_start();
    let first = text.split(|c: char| !c.is_ascii_alphabetic()).next().unwrap_or("");
    first.eq_ignore_ascii_case("create")
        || ((first.eq_ignore_ascii_case("select") || first.eq_ignore_ascii_case("with")) && contains_ci(sql, b"into"))
}

/// Whether a command tag reports a change the catalog may not reflect.
fn is_ddl(tag: &str, may_create: bool) -> bool {
    ["CREATE ", "ALTER ", "DROP ", "IMPORT FOREIGN SCHEMA", "COMMENT"]
        .iter()
        .any(|p| tag.starts_with(p))
        // CREATE TABLE AS and SELECT INTO answer with a SELECT tag.
        || (may_create && tag.starts_with("SELECT"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ddl_tags_and_creating_selects() {
        assert!(is_ddl("CREATE TABLE", false));
        assert!(is_ddl("ALTER TABLE", false));
        assert!(is_ddl("COMMENT", false));
        assert!(!is_ddl("SELECT 3", false));
        assert!(is_ddl("SELECT 3", true), "CREATE TABLE AS answers SELECT");
        assert!(!is_ddl("INSERT 0 1", true));
        assert!(may_create(b"  create table t as select 1"));
        assert!(may_create(b"SELECT * INTO t2 FROM t"));
        assert!(may_create(b"with a as (select 1) select * into t3 from a"));
        assert!(!may_create(b"SELECT * FROM t"));
        assert!(!may_create(b"INSERT INTO t SELECT 1"));
    }
}
