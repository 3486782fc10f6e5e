//! INSERT ... VALUES routing: every row's key decides its child.

use sqlparser::ast::{Expr, Ident, Insert, ObjectName, SelectItem, SetExpr, Spanned, TableObject};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Span;

use super::values_scan::{self, CastValue, KeyItem};
use super::{normalize, parts, PassReason, Route, TargetReport, Walker};
use crate::catalog::{Hierarchy, KeySpec, TableName, Unmatched, ValueRoute};
use crate::keys::predicate::{constant_value, convert};
use crate::keys::value::{parse_number, parse_text};
use crate::keys::{KeyType, KeyValue, Reading};
use crate::rewrite::Splicer;

/// Routes an INSERT into a parent: into one child when every row belongs to
/// it. Returns `None` when the target is not a parent; then the rows' source
/// query has been walked like any read.
pub(super) fn route_insert<'q>(sql: &str, ins: &'q Insert, w: &mut Walker<'_, 'q>) -> Option<Route> {
    let TableObject::TableName(name) = &ins.table else {
        return Some(Route::Passthrough(PassReason::UnsupportedStatement));
    };
    let Some(h) = w.resolve(name) else {
        if let Some(src) = &ins.source {
            w.query(src);
        }
        return None;
    };
    Some(route_into(sql, ins, name, &h, w))
}

/// Where a group of rows goes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Dest {
    Child(usize),
    /// The parent itself (the `parent` policy for unmatched rows).
    Parent,
}

/// True for the `DEFAULT` keyword in a VALUES row.
fn is_default(expr: &Expr) -> bool {
    matches!(expr, Expr::Identifier(i) if i.quote_style.is_none() && i.value.eq_ignore_ascii_case("default"))
}

fn route_into(sql: &str, ins: &Insert, name: &ObjectName, h: &Hierarchy, w: &Walker) -> Route {
    let Some(key) = &h.key else {
        return Route::Passthrough(PassReason::NotNarrowed);
    };
    let Some(src) = &ins.source else {
        return Route::Passthrough(PassReason::InsertNotValues);
    };
    if src.with.is_some() || src.order_by.is_some() || src.limit_clause.is_some() || src.fetch.is_some() {
        return Route::Passthrough(PassReason::InsertNotValues);
    }
    let SetExpr::Values(values) = src.body.as_ref() else {
        return Route::Passthrough(PassReason::InsertNotValues);
    };
    let width = values.rows.first().map_or(0, |r| r.content.len());
    if values.rows.iter().any(|r| r.content.len() != width) {
        // PostgreSQL refuses VALUES lists of different lengths.
        return Route::Passthrough(PassReason::InsertNotValues);
    }
    let listed: Vec<String>;
    let columns: &[String] = if ins.columns.is_empty() {
        &h.columns
    } else {
        listed = ins
            .columns
            .iter()
            .filter_map(|c| parts(c).and_then(|p| p.last().map(|i| normalize(i))))
            .collect();
        &listed
    };
    let Some(spelled) = spelled_columns(!ins.columns.is_empty(), columns, width, h) else {
        return Route::Passthrough(PassReason::InsertNotValues);
    };
    let key_at = columns.iter().take(width).position(|c| *c == key.column);

    // Every row's key value.
    let mut uses_defaults = width < h.columns.len();
    let mut keys: Vec<Option<KeyValue>> = Vec::with_capacity(values.rows.len());
    for row in &values.rows {
        let value = match key_at.and_then(|at| row.content.get(at)) {
            None => h.key_default.clone(),
            Some(expr) if is_default(expr) => h.key_default.clone(),
            Some(expr) => constant_value(expr, key.ty, w.session.reading()),
        };
        let Some(value) = value else {
            return Route::Passthrough(unreadable_key(key_at));
        };
        uses_defaults |= row.content.iter().any(is_default);
        keys.push(value);
    }

    let probe = Splicer::new(sql);
    let mut rows = Vec::with_capacity(values.rows.len());
    for row in &values.rows {
        let span = Span::new(row.opening_token.0.span.start, row.closing_token.0.span.end);
        let Some(range) = probe.range(span) else {
            return Route::Passthrough(PassReason::RewriteFailed);
        };
        rows.push(range);
    }
    let target = match (probe.range(name.span()), &ins.table_alias) {
        (Some(name_range), Some(alias)) => match probe.range(alias.alias.span) {
            Some((_, alias_end)) => Spelling {
                name: name_range,
                shown: String::new(),
                alias_end: Some(alias_end),
                spelled,
            },
            None => return Route::Passthrough(PassReason::RewriteFailed),
        },
        (Some(name_range), None) => Spelling {
            name: name_range,
            shown: parts(name)
                .and_then(|p| p.last().map(|i| i.to_string()))
                .unwrap_or_default(),
            alias_end: None,
            spelled,
        },
        (None, _) => return Route::Passthrough(PassReason::RewriteFailed),
    };
    let returns_star = ins
        .returning
        .iter()
        .flatten()
        .any(|i| matches!(i, SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..)));
    plan(
        sql,
        h,
        key,
        w,
        ValuesInsert {
            keys,
            rows,
            uses_defaults,
            returns_star,
            target,
        },
    )
}

/// Routes `INSERT INTO parent [(columns)] VALUES (constants), ...` read by
/// the hand-written scanner, without the parser. `None` when the statement
/// is not of that shape or does not target a parent: the parser decides.
pub(super) fn route_values_insert(sql: &str, w: &Walker) -> Option<Route> {
    let head = values_scan::scan_head(sql)?;
    let name = ObjectName::from(
        head.name
            .iter()
            .map(|p| match p.quoted {
                true => Ident::with_quote('"', p.value.as_str()),
                false => Ident::new(p.value.as_str()),
            })
            .collect::<Vec<_>>(),
    );
    let h = w.resolve(&name)?;
    let Some(key) = &h.key else {
        return Some(Route::Passthrough(PassReason::NotNarrowed));
    };
    let columns = head.columns.as_deref().unwrap_or(&h.columns);
    let key_at = columns.iter().position(|c| *c == key.column);
    let scanned = values_scan::scan_rows(sql, head.rows_from, key_at)?;
    let spelled = spelled_columns(head.columns.is_some(), columns, scanned.width, &h)?;
    let key_at = key_at.filter(|&at| at < scanned.width);

    let reading = w.session.reading();
    let mut uses_defaults = scanned.width < h.columns.len();
    let mut keys = Vec::with_capacity(scanned.rows.len());
    for row in &scanned.rows {
        let value = match &row.key {
            None | Some(KeyItem::Default) => h.key_default.clone(),
            Some(KeyItem::Null) => Some(None),
            Some(KeyItem::Integer(digits)) => parse_number(key.ty, digits).map(Some),
            Some(KeyItem::Text(text)) => parse_text(key.ty, text, reading.tz).map(Some),
            Some(KeyItem::Cast { value, to, written }) => match KeyType::from_pg_name(&to.to_ascii_lowercase()) {
                // Read as the parser's reading of the cast would be.
                Some(from) => {
                    let cast = |v: Option<KeyValue>| v.and_then(|v| convert(v, from, key.ty, reading.tz)).map(Some);
                    match value {
                        CastValue::Null => Some(None),
                        CastValue::Integer(digits) => cast(parse_number(from, digits)),
                        CastValue::Text(text) => cast(parse_text(from, text, reading.tz)),
                    }
                }
                None => parsed_constant(written, key.ty, reading)?,
            },
            Some(KeyItem::Other(text)) => parsed_constant(text, key.ty, reading)?,
        };
        let Some(value) = value else {
            return Some(Route::Passthrough(unreadable_key(key_at)));
        };
        uses_defaults |= row.has_default;
        keys.push(value);
    }
    let shown = head.name.last().map(|p| p.written.to_owned()).unwrap_or_default();
    Some(plan(
        sql,
        &h,
        key,
        w,
        ValuesInsert {
            keys,
            rows: scanned.rows.iter().map(|r| r.range).collect(),
            uses_defaults,
            returns_star: false,
            target: Spelling {
                name: head.name_range,
                shown,
                alias_end: None,
                spelled,
            },
        },
    ))
}

/// A constant the scanner does not read itself (decimals, unusual casts),
/// read as the parser reads it; `None` when it does not parse.
fn parsed_constant(text: &str, ty: KeyType, reading: Reading) -> Option<Option<Option<KeyValue>>> {
    let expr = Parser::new(&PostgreSqlDialect {})
        .try_with_sql(text)
        .and_then(|mut p| p.parse_expr())
        .ok()?;
    Some(constant_value(&expr, ty, reading))
}

/// Why an INSERT whose key can't be read passes through.
fn unreadable_key(key_at: Option<usize>) -> PassReason {
    match key_at {
        None => PassReason::InsertKeyOmitted,
        Some(_) => PassReason::InsertNonConstant,
    }
}

/// How many of the parent's columns a rewrite must spell out: `Some(0)` when
/// the statement lists its columns, `Some(width)` when it lists none (rows
/// fill the first `width` columns). `None` when the rows are wider than the
/// columns, or narrower than the columns listed, which PostgreSQL refuses.
fn spelled_columns(listed: bool, columns: &[String], width: usize, h: &Hierarchy) -> Option<usize> {
    match listed {
        true => (width == columns.len()).then_some(0),
        false => (width <= h.columns.len()).then_some(width),
    }
}

/// An INSERT ... VALUES as either reader found it: what routing it needs.
struct ValuesInsert {
    /// Each row's key value (`None`: NULL).
    keys: Vec<Option<KeyValue>>,
    /// Each row's byte range, parentheses included.
    rows: Vec<(usize, usize)>,
    /// Some column is left to its DEFAULT.
    uses_defaults: bool,
    /// `RETURNING *`: the child's columns must be the parent's.
    returns_star: bool,
    /// Where the target is named.
    target: Spelling,
}

/// Where and how the statement names its target.
struct Spelling {
    /// Byte range of the table's name.
    name: (usize, usize),
    /// The name's last part as written: the alias a rewrite keeps.
    shown: String,
    /// End of the statement's own alias, when it has one.
    alias_end: Option<usize>,
    /// Leading parent columns to spell out (0: the statement lists them).
    spelled: usize,
}

/// Groups the rows by destination and writes one INSERT per destination.
fn plan(sql: &str, h: &Hierarchy, key: &KeySpec, w: &Walker, v: ValuesInsert) -> Route {
    // Each row's destination, and the destinations in order of first appearance.
    let mut groups: Vec<(Dest, Vec<usize>)> = Vec::new();
    for (at, value) in v.keys.iter().enumerate() {
        let shown = || match value {
            Some(v) => v.to_string(),
            None => "NULL".to_owned(),
        };
        let dest = match h.route_value(value.as_ref()) {
            ValueRoute::Child(i) => Dest::Child(i),
            ValueRoute::Unknown => return Route::Passthrough(PassReason::InsertUnknownChild),
            ValueRoute::NoChild if h.on_unmatched == Unmatched::Parent => Dest::Parent,
            ValueRoute::NoChild => {
                return Route::Reject {
                    code: "23514",
                    message: format!(
                        "no child table of {} accepts the row with {} = {}",
                        h.parent.quoted(),
                        key.column,
                        shown()
                    ),
                    parent: h.parent.clone(),
                    rows: v.keys.len(),
                    reason: "no_child",
                }
            }
            ValueRoute::Ambiguous(kids) => {
                let names: Vec<String> = kids.iter().map(|&i| h.children[i].table.quoted()).collect();
                return Route::Reject {
                    code: "23514",
                    message: format!(
                        "the row with {} = {} matches several children of {} ({}): their constraints overlap",
                        key.column,
                        shown(),
                        h.parent.quoted(),
                        names.join(", ")
                    ),
                    parent: h.parent.clone(),
                    rows: v.keys.len(),
                    reason: "overlapping_children",
                };
            }
        };
        // Rows mostly arrive grouped: check the latest group first.
        match groups.iter_mut().rev().find(|(d, _)| *d == dest) {
            Some((_, rows)) => rows.push(at),
            None => groups.push((dest, vec![at])),
        }
    }
    let (Some(&(all_from, _)), Some(&(_, all_to))) = (v.rows.first(), v.rows.last()) else {
        return Route::Passthrough(PassReason::InsertNotValues);
    };

    let mut statements = Vec::with_capacity(groups.len());
    let mut children = Vec::with_capacity(groups.len());
    let mut child_rows = Vec::with_capacity(groups.len());
    let mut parent_included = false;
    for (dest, rows) in &groups {
        let mut splicer = Splicer::by_offsets(sql);
        match dest {
            Dest::Parent => parent_included = true,
            Dest::Child(child) => {
                let Some(leaf) = descend(w, h, *child, &v.keys, rows) else {
                    return Route::Passthrough(PassReason::InsertUnknownChild);
                };
                if v.returns_star && !leaf.same_columns {
                    return Route::Passthrough(PassReason::ChildColumns);
                }
                if v.uses_defaults && !leaf.same_defaults {
                    return Route::Passthrough(PassReason::ChildDefaults);
                }
                retarget(&mut splicer, &v.target, h, &leaf.table);
                children.push(leaf.table);
                child_rows.push(rows.len());
            }
        }
        if groups.len() > 1 {
            let Some(texts) = rows
                .iter()
                .map(|&at| v.rows.get(at).and_then(|&(a, b)| sql.get(a..b)))
                .collect::<Option<Vec<&str>>>()
            else {
                return Route::Passthrough(PassReason::RewriteFailed);
            };
            splicer.edit(all_from, all_to, texts.join(", "));
        }
        let Some(statement) = splicer.finish() else {
            return Route::Passthrough(PassReason::RewriteFailed);
        };
        statements.push(statement.trim_end().trim_end_matches(';').to_owned());
    }
    let targets = vec![TargetReport {
        parent: h.parent.clone(),
        children,
        parent_included,
        rows: child_rows,
    }];
    if statements.len() == 1 {
        return Route::Rewrite {
            sql: statements.remove(0),
            targets,
        };
    }
    Route::SplitInsert {
        statements,
        rows: groups.into_iter().map(|(_, rows)| rows).collect(),
        targets,
    }
}

/// Points the INSERT at `leaf`, keeping the parent's name as the alias and
/// spelling out the parent's columns when the statement lists none.
fn retarget(splicer: &mut Splicer, t: &Spelling, h: &Hierarchy, leaf: &TableName) {
    let column_list = match t.spelled {
        0 => String::new(),
        n => {
            let cols: Vec<String> = h.columns.iter().take(n).map(|c| super::quote(c)).collect();
            format!(" ({})", cols.join(", "))
        }
    };
    let (a, b) = t.name;
    match t.alias_end {
        Some(end) => {
            splicer.edit(a, b, leaf.quoted());
            splicer.edit(end, end, column_list);
        }
        None => splicer.edit(a, b, format!("{} AS {}{column_list}", leaf.quoted(), t.shown)),
    }
}

/// The table an INSERT's rows finally go to.
struct Leaf {
    table: TableName,
    same_columns: bool,
    same_defaults: bool,
}

/// Follows a child that is itself a parent down to the leaf its rows belong to.
fn descend(w: &Walker, h: &Hierarchy, child: usize, keys: &[Option<KeyValue>], rows: &[usize]) -> Option<Leaf> {
    let c = &h.children[child];
    let here = Leaf {
        table: c.table.clone(),
        same_columns: c.same_columns,
        same_defaults: c.same_defaults,
    };
    if !c.has_children {
        return Some(here);
    }
    let sub = w.catalog.get(&c.table)?;
    if sub.key.as_ref() != h.key.as_ref() {
        return None;
    }
    let mut chosen = None;
    for &at in rows {
        let ValueRoute::Child(i) = sub.route_value(keys.get(at)?.as_ref()) else {
            return None;
        };
        if chosen.is_some_and(|c| c != i) {
            return None;
        }
        chosen = Some(i);
    }
    let leaf = descend(w, sub, chosen?, keys, rows)?;
    Some(Leaf {
        table: leaf.table,
        same_columns: leaf.same_columns && here.same_columns,
        same_defaults: leaf.same_defaults && here.same_defaults,
    })
}
