//! The router: a pure function from SQL text, a catalog snapshot and the
//! session's search_path/TimeZone to a decision — forward unchanged (with a
//! reason), forward a rewrite that names only the children that can hold the
//! rows, or refuse a write no child accepts.
//!
//! It never narrows without proof: every occurrence it does not fully
//! understand is left as the client wrote it, and every predicate is kept.

pub mod cache;
mod complexity;
pub mod explain;
mod insert;
pub mod sql_prepare;
mod values_scan;

use std::ops::ControlFlow;
use std::sync::{Arc, OnceLock};

use sqlparser::ast::{
    visit_expressions, Expr, FromTable, Ident, JoinConstraint, JoinOperator, ObjectName, Query, SetExpr, Spanned,
    Statement, TableFactor, TableWithJoins, UpdateTableFromKind,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use crate::catalog::{Catalog, Hierarchy, KeySpec, Resolved, TableName};
use crate::keys::{analyze, KeyPredicate, Param, Reading, TimeZoneRule};
pub use crate::names::name_parts;
use crate::names::{fold_identifier, normalize, normalized, parts};
use crate::rewrite::Splicer;
use crate::text::contains_ci;

/// What the router needs to know about the session.
#[derive(Debug, Clone, Copy)]
pub struct SessionView<'a> {
    /// Schemas searched for unqualified names (`$user` is resolved with `user`).
    pub search_path: &'a [String],
    /// The session's user.
    pub user: &'a str,
    /// The session's TimeZone.
    pub tz: TimeZoneRule,
    /// The parameters of the Bind being routed (empty for a simple query).
    pub params: &'a [Param<'a>],
    /// `standard_conforming_strings`: when off, `\` escapes in `'...'`,
    /// which the parser does not model.
    pub standard_strings: bool,
}

impl<'a> SessionView<'a> {
    /// A view with the usual settings: standard strings, no parameters.
    pub fn new(search_path: &'a [String], user: &'a str, tz: TimeZoneRule) -> SessionView<'a> {
        SessionView {
            search_path,
            user,
            tz,
            params: &[],
            standard_strings: true,
        }
    }

    /// How the statement's constants and parameters are read; `single_use`
    /// tells which parameters the statement uses once.
    pub fn reading<'r>(&'r self, single_use: &'r [bool]) -> Reading<'r> {
        Reading {
            tz: self.tz,
            params: self.params,
            single_use,
            zone_conversions: true,
        }
    }
}

/// Splits a `search_path` setting into schema names (quoted names kept
/// as written, others folded to lower case).
pub fn parse_search_path(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| match s.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
            Some(quoted) => quoted.replace("\"\"", "\""),
            None => s.to_lowercase(),
        })
        .collect()
}

/// Why a statement is forwarded unchanged. The names are metric labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PassReason {
    /// It names no partitioned parent.
    NoParent,
    /// The parser could not read it.
    ParseError,
    /// More than one statement in one query string.
    MultipleStatements,
    /// A statement kind the router does not handle (DDL, COPY, ...).
    UnsupportedStatement,
    /// `FROM ONLY parent`.
    Only,
    /// Nothing could be narrowed: every child may hold the rows.
    NotNarrowed,
    /// System columns over several children.
    SystemColumn,
    /// A whole-row reference to the parent.
    WholeRow,
    /// `FOR UPDATE`/`FOR SHARE` over several children.
    LockingMultiChild,
    /// UPDATE/DELETE over several tables.
    ModifyMultiChild,
    /// UPDATE that assigns the key (row movement).
    UpdateKey,
    /// The chosen child's columns differ from the parent's.
    ChildColumns,
    /// `schema.table.column` references to a schema-qualified parent.
    QualifiedReference,
    /// INSERT/UPDATE/DELETE inside a WITH.
    DataModifyingCte,
    /// INSERT from a query or with DEFAULT VALUES.
    InsertNotValues,
    /// INSERT that omits the key column.
    InsertKeyOmitted,
    /// INSERT whose key is not a constant (a parameter, a function call).
    InsertNonConstant,
    /// INSERT into a hierarchy with a child whose domain is unknown.
    InsertUnknownChild,
    /// INSERT that leaves columns to their DEFAULT while the child's
    /// defaults differ from the parent's.
    ChildDefaults,
    /// The rewrite could not be spliced.
    RewriteFailed,
    /// Nested or chained deeper than the router reads (a bounded walk).
    TooComplex,
    /// A `\` in a string while `standard_conforming_strings` is off.
    NonstandardStrings,
    /// An INSERT naming a column PostgreSQL generates itself (GENERATED
    /// ALWAYS): the error is PostgreSQL's to raise.
    GeneratedColumn,
    /// A key of several parts the INSERT's values do not decide.
    InsertKeyUnknown,
    /// DDL was seen that the catalog does not reflect yet (fail open).
    CatalogStale,
    /// An INSERT row no child accepts, left to PostgreSQL (`on_unmatched =
    /// "forward"`, the default).
    NoChild,
    /// A message so large it was relayed as it arrived, not held to be read.
    TooLarge,
}

impl PassReason {
    /// A short stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            PassReason::NoParent => "no_parent",
            PassReason::ParseError => "parse_error",
            PassReason::MultipleStatements => "multiple_statements",
            PassReason::UnsupportedStatement => "unsupported_statement",
            PassReason::Only => "only",
            PassReason::NotNarrowed => "not_narrowed",
            PassReason::SystemColumn => "system_column",
            PassReason::WholeRow => "whole_row",
            PassReason::LockingMultiChild => "locking_multi_child",
            PassReason::ModifyMultiChild => "modify_multi_child",
            PassReason::UpdateKey => "update_key",
            PassReason::ChildColumns => "child_columns",
            PassReason::QualifiedReference => "qualified_reference",
            PassReason::DataModifyingCte => "data_modifying_cte",
            PassReason::InsertNotValues => "insert_not_values",
            PassReason::InsertKeyOmitted => "insert_key_omitted",
            PassReason::InsertNonConstant => "insert_non_constant",
            PassReason::InsertUnknownChild => "insert_unknown_child",
            PassReason::ChildDefaults => "child_defaults",
            PassReason::RewriteFailed => "rewrite_failed",
            PassReason::TooComplex => "too_complex",
            PassReason::NonstandardStrings => "nonstandard_strings",
            PassReason::GeneratedColumn => "generated_column",
            PassReason::InsertKeyUnknown => "insert_key_unknown",
            PassReason::CatalogStale => "catalog_stale",
            PassReason::NoChild => "no_child",
            PassReason::TooLarge => "too_large",
        }
    }
}

/// The tables one parent occurrence was narrowed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetReport {
    /// The parent as named.
    pub parent: TableName,
    /// Children kept.
    pub children: Vec<TableName>,
    /// Whether the parent's own rows are still read (or, for an INSERT,
    /// written).
    pub parent_included: bool,
    /// For an INSERT: the rows sent to each child, in `children` order
    /// (empty for reads).
    pub rows: Vec<usize>,
}

/// The router's decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Forward as written.
    Passthrough(PassReason),
    /// Forward this text instead.
    Rewrite {
        /// The rewritten statement.
        sql: String,
        /// What each parent occurrence became.
        targets: Vec<TargetReport>,
    },
    /// An INSERT whose rows belong to several children: one INSERT per child,
    /// to be run together (one multi-statement query, or several Executes
    /// before one Sync) so they commit or fail together, and answered with
    /// one merged command tag.
    SplitInsert {
        /// One INSERT per destination, without trailing semicolons.
        statements: Vec<String>,
        /// For each statement, the positions its rows had in the original
        /// VALUES list (RETURNING rows are put back in that order).
        rows: Vec<Vec<usize>>,
        /// The parent and the children written.
        targets: Vec<TargetReport>,
    },
    /// Refuse with an error, as the legacy trigger or a CHECK would.
    Reject {
        /// SQLSTATE.
        code: &'static str,
        /// Message.
        message: String,
        /// The parent written to.
        parent: TableName,
        /// Rows in the refused statement.
        rows: usize,
        /// `no_child` or `overlapping_children` (a metric label).
        reason: &'static str,
        /// PostgreSQL refuses the statement itself (a declarative parent
        /// has no partition for the row): forward it unchanged, so its own
        /// error, and any error it finds first, is the one the client sees.
        server_refuses: bool,
    },
}

/// A split INSERT's statements as one multi-statement query.
pub fn join_statements(statements: &[String]) -> String {
    statements.join(";\n")
}

/// True when no parent's name appears in the text: nothing to route, no
/// need to parse.
pub fn names_no_parent(sql: &str, catalog: &Catalog) -> bool {
    !catalog
        .hierarchies
        .keys()
        .any(|t| contains_ci(sql.as_bytes(), t.name.as_bytes()))
}

/// The parent whose name appears in the text as a whole word (the longest
/// such name), for labelling a statement passed through: a label, not a
/// proof.
pub fn parent_named<'c>(sql: &str, catalog: &'c Catalog) -> Option<&'c TableName> {
    catalog
        .hierarchies
        .keys()
        .filter(|t| contains_word_ci(sql.as_bytes(), t.name.as_bytes()))
        .max_by(|a, b| a.name.len().cmp(&b.name.len()).then_with(|| b.cmp(a)))
}

/// True when `needle` appears in `haystack` (ASCII case-insensitively) with
/// no identifier character right before or after it.
fn contains_word_ci(haystack: &[u8], needle: &[u8]) -> bool {
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80;
    !needle.is_empty()
        && haystack.windows(needle.len()).enumerate().any(|(at, w)| {
            w.eq_ignore_ascii_case(needle)
                && (at == 0 || !ident(haystack[at - 1]))
                && haystack.get(at + needle.len()).is_none_or(|&b| !ident(b))
        })
}

/// A statement text parsed once, reused for every routing of it (each Bind
/// of a prepared statement).
#[derive(Debug)]
pub struct Parsed {
    statement: Result<Statement, PassReason>,
    /// What the statement's column references allow, found on first use.
    references: OnceLock<References>,
    /// True when the text holds a backslash (it then reads differently
    /// while `standard_conforming_strings` is off).
    backslash: bool,
}

impl Parsed {
    /// Parses `sql`; anything but exactly one statement is remembered as the
    /// reason it passes through, as is a statement too deep to walk safely.
    pub fn new(sql: &str) -> Parsed {
        let statement = if complexity::too_complex(sql) {
            Err(PassReason::TooComplex)
        } else {
            match Parser::parse_sql(&PostgreSqlDialect {}, sql) {
                Ok(mut statements) if statements.len() == 1 => statements.pop().ok_or(PassReason::ParseError),
                Ok(_) => Err(PassReason::MultipleStatements),
                Err(sqlparser::parser::ParserError::RecursionLimitExceeded) => Err(PassReason::TooComplex),
                Err(_) => Err(PassReason::ParseError),
            }
        };
        Parsed {
            statement,
            references: OnceLock::new(),
            backslash: sql.contains('\\'),
        }
    }
}

/// Routes one query string.
pub fn route(sql: &str, catalog: &Catalog, session: &SessionView) -> Route {
    // Fast path: no parent's name appears in the text at all.
    if names_no_parent(sql, catalog) {
        return Route::Passthrough(PassReason::NoParent);
    }
    if !session.standard_strings && sql.contains('\\') {
        return Route::Passthrough(PassReason::NonstandardStrings);
    }
    // Bulk INSERTs of constants are read without the parser.
    if let Some(route) = insert::route_values_insert(sql, &Walker::new(catalog, session, &[])) {
        return route;
    }
    route_parsed(sql, &Parsed::new(sql), catalog, session)
}

/// Routes a statement parsed earlier from `sql`.
pub fn route_parsed(sql: &str, parsed: &Parsed, catalog: &Catalog, session: &SessionView) -> Route {
    if !session.standard_strings && parsed.backslash {
        return Route::Passthrough(PassReason::NonstandardStrings);
    }
    let statement = match &parsed.statement {
        Ok(s) => s,
        Err(reason) => return Route::Passthrough(*reason),
    };
    let refs = parsed.references.get_or_init(|| scan_references(statement));
    let mut w = Walker::new(catalog, session, &refs.single_use);
    match statement {
        Statement::Query(q) => w.query(q),
        Statement::Update(u) => {
            w.target(&u.table, u.selection.as_ref());
            if let Some(UpdateTableFromKind::AfterSet(from) | UpdateTableFromKind::BeforeSet(from)) = &u.from {
                for twj in from {
                    w.twj(twj, u.selection.as_ref(), false);
                }
            }
            if let Some(occ) = w.occs.iter().find(|o| o.target) {
                let h = &occ.h;
                // An expression key part may depend on any column.
                let any_expression = h.more_key.iter().any(Option::is_none);
                let key_columns: Vec<&str> = h
                    .key
                    .iter()
                    .chain(h.more_key.iter().flatten())
                    .map(|k| k.column.as_str())
                    .collect();
                let assigns_key = u.assignments.iter().any(|a| {
                    any_expression
                        || a.target
                            .to_string()
                            .rsplit('.')
                            .next()
                            .map(unquote_str)
                            .is_some_and(|c| key_columns.contains(&c.as_str()))
                });
                if h.key.is_some() && assigns_key {
                    return Route::Passthrough(PassReason::UpdateKey);
                }
            }
        }
        Statement::Delete(d) => {
            let (FromTable::WithFromKeyword(from) | FromTable::WithoutKeyword(from)) = &d.from;
            if let Some((first, rest)) = from.split_first() {
                w.target(first, d.selection.as_ref());
                for twj in rest {
                    w.twj(twj, d.selection.as_ref(), false);
                }
            }
            for twj in d.using.iter().flatten() {
                w.twj(twj, d.selection.as_ref(), false);
            }
        }
        Statement::Insert(i) => {
            if let Some(route) = insert::route_insert(sql, i, &mut w) {
                // System columns in RETURNING are refused on a partitioned
                // parent but not on its child: PostgreSQL's answer it is.
                if refs.row_system_columns && !matches!(route, Route::Passthrough(_)) {
                    return Route::Passthrough(PassReason::SystemColumn);
                }
                return route;
            }
        }
        _ => return Route::Passthrough(PassReason::UnsupportedStatement),
    }
    w.finish(sql, refs)
}

fn unquote_str(s: &str) -> String {
    match s.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\""),
        None => fold_identifier(s),
    }
}

/// One appearance of a parent in the statement.
struct Occ<'q> {
    h: Arc<Hierarchy>,
    name: &'q ObjectName,
    alias: Option<&'q Ident>,
    /// Renamed columns (`AS l(a, b)`): the key can't be recognised by name.
    renamed_columns: bool,
    /// Join conditions that restrict this table's rows.
    on: Vec<&'q Expr>,
    /// The scope's WHERE.
    where_: Option<&'q Expr>,
    /// On the NULL-extended side of an outer join.
    nullable: bool,
    /// The UPDATE/DELETE target.
    target: bool,
}

pub(crate) struct Walker<'c, 'q> {
    catalog: &'c Catalog,
    session: &'c SessionView<'c>,
    /// Which `$n` the statement uses once (see [`Reading::single_use`]).
    single_use: &'c [bool],
    occs: Vec<Occ<'q>>,
    pass: Option<PassReason>,
    locking: bool,
    /// Names of the WITH queries in scope.
    ctes: Vec<String>,
}

impl<'c, 'q> Walker<'c, 'q> {
    fn new(catalog: &'c Catalog, session: &'c SessionView<'c>, single_use: &'c [bool]) -> Self {
        Walker {
            catalog,
            session,
            single_use,
            occs: Vec::new(),
            pass: None,
            locking: false,
            ctes: Vec::new(),
        }
    }

    /// How the statement's constants and parameters are read.
    pub(crate) fn reading(&self) -> Reading<'_> {
        self.session.reading(self.single_use)
    }

    /// The parent a table name in the statement stands for, if any: a name
    /// of a WITH query in scope is that query; an unqualified name is looked
    /// up along the session's search_path as PostgreSQL does.
    pub(crate) fn resolve(&self, name: &ObjectName) -> Option<Arc<Hierarchy>> {
        let p = parts(name)?;
        let (schema, table) = match p.as_slice() {
            [t] => (None, normalized(t)),
            [s, t] | [_, s, t] => (Some(normalized(s)), normalized(t)),
            _ => return None,
        };
        match schema {
            Some(schema) => self.catalog.lookup(&schema, &table).cloned(),
            None if self.ctes.iter().any(|c| *c == table) => None,
            None => {
                let user = self.session.user;
                let path = self.session.search_path.iter().map(|s| match s.as_str() {
                    "$user" => user,
                    schema => schema,
                });
                match self.catalog.resolve(&table, path) {
                    Resolved::Parent(h) => Some(h.clone()),
                    Resolved::Other | Resolved::Nothing => None,
                }
            }
        }
    }

    fn query(&mut self, q: &'q Query) {
        // A WITH query's name hides a table of that name in the whole query,
        // its own and its siblings' bodies included (a recursive one refers
        // to itself; hiding more than PostgreSQL does only routes less).
        let scope = self.ctes.len();
        if let Some(with) = &q.with {
            self.ctes
                .extend(with.cte_tables.iter().map(|cte| normalize(&cte.alias.name)));
            for cte in &with.cte_tables {
                self.query(&cte.query);
            }
        }
        if !q.locks.is_empty() {
            self.locking = true;
        }
        self.setexpr(&q.body);
        self.ctes.truncate(scope);
    }

    fn setexpr(&mut self, body: &'q SetExpr) {
        match body {
            SetExpr::Select(s) => {
                for twj in &s.from {
                    self.twj(twj, s.selection.as_ref(), false);
                }
            }
            SetExpr::Query(q) => self.query(q),
            SetExpr::SetOperation { left, right, .. } => {
                self.setexpr(left);
                self.setexpr(right);
            }
            SetExpr::Insert(_) | SetExpr::Update(_) | SetExpr::Delete(_) | SetExpr::Merge(_) => {
                self.pass = Some(PassReason::DataModifyingCte);
            }
            _ => {}
        }
    }

    fn target(&mut self, twj: &'q TableWithJoins, where_: Option<&'q Expr>) {
        let before = self.occs.len();
        self.factor(&twj.relation, where_, false, Vec::new());
        if let Some(o) = self.occs.get_mut(before) {
            o.target = true;
        }
        for join in &twj.joins {
            self.factor(&join.relation, where_, true, Vec::new());
        }
    }

    fn twj(&mut self, twj: &'q TableWithJoins, where_: Option<&'q Expr>, outer_nullable: bool) {
        // (factor, nullable, restricting ON conditions)
        let mut items: Vec<(&'q TableFactor, bool, Vec<&'q Expr>)> = vec![(&twj.relation, outer_nullable, Vec::new())];
        for join in &twj.joins {
            let on = |c: &'q JoinConstraint| match c {
                JoinConstraint::On(e) => Some(e),
                _ => None,
            };
            match &join.join_operator {
                JoinOperator::Join(c) | JoinOperator::Inner(c) | JoinOperator::StraightJoin(c) => {
                    let cond = on(c);
                    for item in &mut items {
                        item.2.extend(cond);
                    }
                    items.push((&join.relation, outer_nullable, cond.into_iter().collect()));
                }
                JoinOperator::CrossJoin(_) => items.push((&join.relation, outer_nullable, Vec::new())),
                JoinOperator::Left(c) | JoinOperator::LeftOuter(c) => {
                    items.push((&join.relation, true, on(c).into_iter().collect()));
                }
                JoinOperator::Right(c) | JoinOperator::RightOuter(c) => {
                    let cond = on(c);
                    for item in &mut items {
                        item.1 = true;
                        item.2.extend(cond);
                    }
                    items.push((&join.relation, outer_nullable, Vec::new()));
                }
                _ => {
                    for item in &mut items {
                        item.1 = true;
                    }
                    items.push((&join.relation, true, Vec::new()));
                }
            }
        }
        for (factor, nullable, on) in items {
            self.factor(factor, where_, nullable, on);
        }
    }

    fn factor(&mut self, factor: &'q TableFactor, where_: Option<&'q Expr>, nullable: bool, on: Vec<&'q Expr>) {
        match factor {
            TableFactor::Table {
                name,
                alias,
                args: None,
                ..
            } => {
                if let Some(p) = parts(name) {
                    if let ([only], Some(a)) = (p.as_slice(), alias) {
                        if only.quote_style.is_none() && only.value.eq_ignore_ascii_case("only") {
                            // sqlparser reads `ONLY parent` as table "only" aliased "parent".
                            if self.resolve(&ObjectName::from(vec![a.name.clone()])).is_some() {
                                self.pass = Some(PassReason::Only);
                            }
                            return;
                        }
                    }
                }
                if let Some(h) = self.resolve(name) {
                    self.occs.push(Occ {
                        h,
                        name,
                        alias: alias.as_ref().map(|a| &a.name),
                        renamed_columns: alias.as_ref().is_some_and(|a| !a.columns.is_empty()),
                        on,
                        where_,
                        nullable,
                        target: false,
                    });
                }
            }
            TableFactor::Derived { subquery, .. } => self.query(subquery),
            TableFactor::NestedJoin { table_with_joins, .. } => self.twj(table_with_joins, where_, true),
            _ => {}
        }
    }

    /// The name a statement uses to refer to an occurrence's columns.
    fn visible_name(occ: &Occ) -> Option<String> {
        match occ.alias {
            Some(a) => Some(normalize(a)),
            None => parts(occ.name)?.last().map(|i| normalize(i)),
        }
    }

    /// What restricts an occurrence's rows, one predicate per key part (an
    /// expression part is not read: anything).
    fn predicates(&self, occ: &Occ) -> Option<Vec<KeyPredicate>> {
        let h = &occ.h;
        let first = h.key.as_ref()?;
        if occ.renamed_columns {
            return None;
        }
        let quals = vec![Self::visible_name(occ)?];
        let part = |key: Option<&KeySpec>| -> KeyPredicate {
            let Some(key) = key else {
                return KeyPredicate::any();
            };
            let col = key.column(&quals, self.reading());
            let mut p = KeyPredicate::any();
            for e in &occ.on {
                p = p.and(analyze(e, &col));
            }
            if let Some(w) = occ.where_ {
                let wp = analyze(w, &col);
                if !occ.nullable || !wp.null.may_be_true() {
                    p = p.and(wp);
                }
            }
            p
        };
        Some(
            std::iter::once(Some(first))
                .chain(h.more_key.iter().map(Option::as_ref))
                .map(part)
                .collect(),
        )
    }

    fn finish(self, sql: &str, refs: &References) -> Route {
        if let Some(reason) = self.pass {
            return Route::Passthrough(reason);
        }
        // A write's system columns (in RETURNING) mean other things on a
        // child than on its parent.
        if refs.row_system_columns && self.occs.iter().any(|o| o.target) {
            return Route::Passthrough(PassReason::SystemColumn);
        }
        if self.occs.is_empty() {
            return Route::Passthrough(PassReason::NoParent);
        }
        let mut splicer = Splicer::new(sql);
        let mut targets = Vec::new();
        for occ in &self.occs {
            let Some(p) = self.predicates(occ) else {
                continue;
            };
            let selected = occ.h.select(&p);
            if selected.len() == occ.h.children.len() {
                continue;
            }
            let visible = Self::visible_name(occ).unwrap_or_default();
            if refs.bare.contains(&visible) && !occ.h.columns.contains(&visible) {
                return Route::Passthrough(PassReason::WholeRow);
            }
            let qualified = parts(occ.name).is_some_and(|p| p.len() > 1);
            if qualified && occ.alias.is_none() && refs.three_part {
                return Route::Passthrough(PassReason::QualifiedReference);
            }
            let with_parent = occ.h.parent_may_hold_rows;
            let count = selected.len() + usize::from(with_parent);
            let text = if count <= 1 && !with_parent {
                match selected.first() {
                    Some(&i) if occ.h.children[i].same_columns => occ.h.children[i].table.quoted(),
                    Some(_) if occ.target => return Route::Passthrough(PassReason::ChildColumns),
                    Some(&i) => union_all(&occ.h, &[i], false),
                    None => format!("ONLY {}", occ.h.parent.quoted()),
                }
            } else if selected.is_empty() {
                format!("ONLY {}", occ.h.parent.quoted())
            } else if occ.target {
                return Route::Passthrough(PassReason::ModifyMultiChild);
            } else {
                if self.locking {
                    return Route::Passthrough(PassReason::LockingMultiChild);
                }
                if refs.system_columns {
                    return Route::Passthrough(PassReason::SystemColumn);
                }
                union_all(&occ.h, &selected, with_parent)
            };
            let text = match occ.alias {
                Some(_) => text,
                None => {
                    let shown = parts(occ.name)
                        .and_then(|p| p.last().map(|i| i.to_string()))
                        .unwrap_or_default();
                    format!("{text} AS {shown}")
                }
            };
            if splicer.replace(occ.name.span(), text).is_none() {
                return Route::Passthrough(PassReason::RewriteFailed);
            }
            targets.push(TargetReport {
                parent: occ.h.parent.clone(),
                children: selected.iter().map(|&i| occ.h.children[i].table.clone()).collect(),
                parent_included: with_parent,
                rows: Vec::new(),
            });
        }
        if targets.is_empty() {
            return Route::Passthrough(PassReason::NotNarrowed);
        }
        match splicer.finish() {
            Some(sql) => Route::Rewrite { sql, targets },
            None => Route::Passthrough(PassReason::RewriteFailed),
        }
    }
}

/// `(SELECT cols FROM ONLY a UNION ALL SELECT cols FROM ONLY b ...)`.
fn union_all(h: &Hierarchy, children: &[usize], with_parent: bool) -> String {
    let cols = h.columns.iter().map(|c| quote(c)).collect::<Vec<_>>().join(", ");
    let mut branches = Vec::with_capacity(children.len() + 1);
    if with_parent {
        branches.push(format!("SELECT {cols} FROM ONLY {}", h.parent.quoted()));
    }
    for &i in children {
        let c = &h.children[i];
        // A child with children of its own is read with its descendants.
        let only = if c.has_children { "" } else { "ONLY " };
        branches.push(format!("SELECT {cols} FROM {only}{}", c.table.quoted()));
    }
    format!("({})", branches.join(" UNION ALL "))
}

use crate::text::quote_ident as quote;

/// Facts about column references that decide whether a rewrite is safe.
#[derive(Debug)]
struct References {
    /// Bare identifiers (a column, or a whole-row reference to a table).
    bare: Vec<String>,
    /// Any `a.b.c` reference.
    three_part: bool,
    /// Any system column.
    system_columns: bool,
    /// A system column other than `tableoid` (`xmin`, `ctid`, ...), which a
    /// write on a partitioned parent can't return.
    row_system_columns: bool,
    /// For each `$n` (index n-1): used exactly once.
    single_use: Vec<bool>,
}

fn scan_references(statement: &Statement) -> References {
    const SYSTEM: [&str; 6] = ["tableoid", "ctid", "xmin", "xmax", "cmin", "cmax"];
    let mut r = References {
        bare: Vec::new(),
        three_part: false,
        system_columns: false,
        row_system_columns: false,
        single_use: Vec::new(),
    };
    let mut uses: Vec<u32> = Vec::new();
    let _ = visit_expressions(statement, |e| {
        match e {
            Expr::Value(v) => {
                if let sqlparser::ast::Value::Placeholder(p) = &v.value {
                    if let Some(n) = p.strip_prefix('$').and_then(|n| n.parse::<usize>().ok()) {
                        // Parameters past 65,535 do not exist in the protocol.
                        if (1..=65_535).contains(&n) {
                            if uses.len() < n {
                                uses.resize(n, 0);
                            }
                            uses[n - 1] += 1;
                        }
                    }
                }
            }
            Expr::Identifier(id) => {
                let n = normalize(id);
                r.system_columns |= SYSTEM.contains(&n.as_str());
                r.row_system_columns |= SYSTEM.contains(&n.as_str()) && n != "tableoid";
                r.bare.push(n);
            }
            Expr::CompoundIdentifier(ids) => {
                r.three_part |= ids.len() >= 3;
                if let Some(last) = ids.last() {
                    let n = normalize(last);
                    r.system_columns |= SYSTEM.contains(&n.as_str());
                    r.row_system_columns |= SYSTEM.contains(&n.as_str()) && n != "tableoid";
                }
            }
            _ => {}
        }
        ControlFlow::<()>::Continue(())
    });
    r.single_use = uses.into_iter().map(|n| n == 1).collect();
    r
}

#[cfg(test)]
mod key_tests;
#[cfg(test)]
mod name_tests;
#[cfg(test)]
mod prop_tests;
#[cfg(test)]
mod test_catalog;
#[cfg(test)]
mod tests;
