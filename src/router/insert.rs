//! INSERT ... VALUES routing: every row's key decides its child.

use sqlparser::ast::{Expr, Ident, Insert, ObjectName, SetExpr, Spanned, TableObject};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Span;

use super::values_scan::{self, CastValue, KeyItem};
use super::{PassReason, Route, TargetReport, Walker};
use crate::catalog::{Hierarchy, HierarchyKind, KeySpec, TableName, Unmatched, ValueRoute};
use crate::keys::compare::assignment;
use crate::keys::predicate::{assigned_value, typed_constant};
use crate::keys::typed::{cast, CastTarget};
use crate::keys::{KeyValue, Reading, SqlType, TypMod, Typed};
use crate::names::{normalize, parts};
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

/// One row's value for each key part of a hierarchy: `Some(None)` is NULL,
/// `None` not known (an expression part, or a value not read).
type RowKey = Vec<Option<Option<KeyValue>>>;

/// The key parts of a hierarchy with their DEFAULTs (`None` spec: an
/// expression part).
fn key_parts(h: &Hierarchy) -> Vec<(Option<&KeySpec>, Option<Option<KeyValue>>)> {
    std::iter::once((h.key.as_ref(), h.key_default.clone()))
        .chain(
            h.more_key
                .iter()
                .zip(h.more_defaults.iter().cloned().chain(std::iter::repeat(None)))
                .map(|(k, d)| (k.as_ref(), d)),
        )
        .collect()
}

/// The key of one row of the AST's VALUES for hierarchy `h`.
fn row_key(h: &Hierarchy, columns: &[String], row: &[Expr], reading: Reading) -> RowKey {
    key_parts(h)
        .into_iter()
        .map(|(spec, default)| {
            let spec = spec?;
            match columns
                .iter()
                .position(|c| *c == spec.column)
                .and_then(|at| row.get(at))
            {
                None => default,
                Some(e) if is_default(e) => default,
                Some(e) => assigned_value(e, &spec.assigning(reading.tz), reading),
            }
        })
        .collect()
}

/// True when the statement gives a value (not DEFAULT) to a column
/// PostgreSQL generates itself, which only PostgreSQL may refuse.
fn sets_generated<'e>(h: &Hierarchy, columns: &[String], rows: impl IntoIterator<Item = &'e [Expr]>) -> bool {
    let positions: Vec<usize> = columns
        .iter()
        .enumerate()
        .filter(|(_, c)| h.generated_always.contains(c))
        .map(|(i, _)| i)
        .collect();
    !positions.is_empty()
        && rows
            .into_iter()
            .any(|row| positions.iter().any(|&i| row.get(i).is_some_and(|e| !is_default(e))))
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
    let columns = &columns[..width.min(columns.len())];
    if sets_generated(h, columns, values.rows.iter().map(|r| r.content.as_slice())) {
        return Route::Passthrough(PassReason::GeneratedColumn);
    }
    let key_at = columns.iter().position(|c| *c == key.column);

    // Every row's key value.
    let reading = w.reading();
    let mut uses_defaults = width < h.columns.len();
    let mut keys: Vec<RowKey> = Vec::with_capacity(values.rows.len());
    for row in &values.rows {
        let value = row_key(h, columns, &row.content, reading);
        if value.first().is_none_or(Option::is_none) {
            return Route::Passthrough(unreadable_key(key_at));
        }
        uses_defaults |= row.content.iter().any(is_default);
        keys.push(value);
    }
    let lookup = |sub: &Hierarchy, at: usize| {
        values
            .rows
            .get(at)
            .map(|row| row_key(sub, columns, &row.content, reading))
    };

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
    plan(
        sql,
        h,
        w,
        ValuesInsert {
            keys,
            rows,
            uses_defaults,
            target,
        },
        &lookup,
    )
}

/// The cast target a one-word type name spells (the scanner's casts).
fn named_target(word: &str) -> Option<CastTarget> {
    let ty = match word.to_ascii_lowercase().as_str() {
        "int2" | "smallint" => SqlType::Int2,
        "int" | "int4" | "integer" => SqlType::Int4,
        "int8" | "bigint" => SqlType::Int8,
        "numeric" | "decimal" => SqlType::Numeric,
        "float4" | "real" => SqlType::Float4,
        "float8" => SqlType::Float8,
        "date" => SqlType::Date,
        "timestamp" => SqlType::Timestamp,
        "timestamptz" => SqlType::TimestampTz,
        "text" | "varchar" => SqlType::Text,
        "uuid" => SqlType::Uuid,
        "name" => SqlType::Name,
        "bpchar" => SqlType::Bpchar,
        _ => return None,
    };
    Some(CastTarget {
        ty,
        typmod: TypMod::None,
    })
}

/// An integer literal as written by the scanner (digits, maybe a minus).
fn integer_literal(digits: &str) -> Option<Typed> {
    match digits.strip_prefix('-') {
        Some(rest) => Typed::number(rest)?.negate(),
        None => Typed::number(digits),
    }
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
    // Keys of several parts and generated columns are the parser's to read.
    if h.multi_part() || !h.generated_always.is_empty() {
        return None;
    }
    let columns = head.columns.as_deref().unwrap_or(&h.columns);
    let key_at = columns.iter().position(|c| *c == key.column);
    let scanned = values_scan::scan_rows(sql, head.rows_from, key_at)?;
    let spelled = spelled_columns(head.columns.is_some(), columns, scanned.width, &h)?;
    let key_at = key_at.filter(|&at| at < scanned.width);

    let reading = w.reading();
    let assigning = key.assigning(reading.tz);
    let mut uses_defaults = scanned.width < h.columns.len();
    let mut keys = Vec::with_capacity(scanned.rows.len());
    for row in &scanned.rows {
        let value = match &row.key {
            None | Some(KeyItem::Default) => h.key_default.clone(),
            Some(KeyItem::Null) => Some(None),
            Some(KeyItem::Integer(digits)) => integer_literal(digits).and_then(|t| assignment(&assigning, t)),
            Some(KeyItem::Text(text)) => assignment(&assigning, Typed::unknown(text.as_ref())),
            Some(KeyItem::Cast { value, to, written }) => match named_target(to) {
                // Read as the parser's reading of the cast would be.
                Some(target) => {
                    let typed = match value {
                        CastValue::Null => Some(Typed::null()),
                        CastValue::Integer(digits) => integer_literal(digits),
                        CastValue::Text(text) => Some(Typed::unknown(text.as_ref())),
                    };
                    typed
                        .and_then(|t| cast(t, target, reading.tz))
                        .and_then(|t| assignment(&assigning, t))
                }
                None => parsed_constant(written, key, reading)?,
            },
            Some(KeyItem::Other(text)) => parsed_constant(text, key, reading)?,
        };
        let Some(value) = value else {
            return Some(Route::Passthrough(unreadable_key(key_at)));
        };
        uses_defaults |= row.has_default;
        keys.push(vec![Some(value)]);
    }
    let shown = head.name.last().map(|p| p.written.to_owned()).unwrap_or_default();
    // Only the key's own column was read: a sub-hierarchy keyed on it can
    // be followed, any other can't.
    let lookup = |sub: &Hierarchy, at: usize| match (&sub.key, sub.multi_part()) {
        (Some(k), false) if k.column == key.column && k.ty == key.ty && k.typmod == key.typmod => keys.get(at).cloned(),
        _ => None,
    };
    Some(plan(
        sql,
        &h,
        w,
        ValuesInsert {
            keys: keys.clone(),
            rows: scanned.rows.iter().map(|r| r.range).collect(),
            uses_defaults,
            target: Spelling {
                name: head.name_range,
                shown,
                alias_end: None,
                spelled,
            },
        },
        &lookup,
    ))
}

/// A constant the scanner does not read itself (decimals, unusual casts),
/// read as the parser reads it; `None` when it does not parse.
fn parsed_constant(text: &str, key: &KeySpec, reading: Reading) -> Option<Option<Option<KeyValue>>> {
    let expr = Parser::new(&PostgreSqlDialect {})
        .try_with_sql(text)
        .and_then(|mut p| p.parse_expr())
        .ok()?;
    Some(
        typed_constant(&expr, reading, SqlType::of_key(key.ty)).and_then(|t| assignment(&key.assigning(reading.tz), t)),
    )
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
    /// Each row's key (its first part is always known).
    keys: Vec<RowKey>,
    /// Each row's byte range, parentheses included.
    rows: Vec<(usize, usize)>,
    /// Some column is left to its DEFAULT.
    uses_defaults: bool,
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

/// Reads a row's key values in another hierarchy (a child that is itself
/// partitioned): `None` when the statement's values can't tell.
type SubKeys<'a> = dyn Fn(&Hierarchy, usize) -> Option<RowKey> + 'a;

/// The row's key as a refusal message shows it.
fn shown_key(h: &Hierarchy, key: &RowKey) -> String {
    let show = |v: &Option<Option<KeyValue>>| match v {
        Some(Some(v)) => v.to_string(),
        Some(None) => "NULL".to_owned(),
        None => "?".to_owned(),
    };
    let names: Vec<String> = key_parts(h)
        .iter()
        .map(|(spec, _)| spec.map_or_else(|| "(expression)".to_owned(), |k| k.column.clone()))
        .collect();
    match key.as_slice() {
        [one] => format!("{} = {}", names.first().map_or("", String::as_str), show(one)),
        many => format!(
            "({}) = ({})",
            names.join(", "),
            many.iter().map(show).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// Where one row goes in `h`.
fn route_row(h: &Hierarchy, key: &RowKey) -> ValueRoute {
    if h.multi_part() {
        h.route_row(key)
    } else {
        match key.first() {
            Some(Some(v)) => h.route_value(v.as_ref()),
            _ => ValueRoute::Unknown,
        }
    }
}

/// Groups the rows by destination and writes one INSERT per destination.
fn plan(sql: &str, h: &Hierarchy, w: &Walker, v: ValuesInsert, sub_keys: &SubKeys) -> Route {
    // Each row's destination, and the destinations in order of first appearance.
    let mut groups: Vec<(Dest, Vec<usize>)> = Vec::new();
    for (at, value) in v.keys.iter().enumerate() {
        let dest = match route_row(h, value) {
            ValueRoute::Child(i) => Dest::Child(i),
            ValueRoute::Unknown if h.multi_part() => return Route::Passthrough(PassReason::InsertKeyUnknown),
            ValueRoute::Unknown => return Route::Passthrough(PassReason::InsertUnknownChild),
            ValueRoute::NoChild if h.on_unmatched == Unmatched::Parent => Dest::Parent,
            // PostgreSQL decides: the trigger, the parent or the bounds.
            ValueRoute::NoChild if h.on_unmatched == Unmatched::Forward => {
                return Route::Passthrough(PassReason::NoChild)
            }
            ValueRoute::NoChild => {
                return Route::Reject {
                    code: "23514",
                    message: format!(
                        "no child table of {} accepts the row with {}",
                        h.parent.quoted(),
                        shown_key(h, value)
                    ),
                    parent: h.parent.clone(),
                    rows: v.keys.len(),
                    reason: "no_child",
                    server_refuses: h.kind == HierarchyKind::Declarative,
                }
            }
            ValueRoute::Ambiguous(kids) => {
                let names: Vec<String> = kids.iter().map(|&i| h.children[i].table.quoted()).collect();
                return Route::Reject {
                    code: "23514",
                    message: format!(
                        "the row with {} matches several children of {} ({}): their constraints overlap",
                        shown_key(h, value),
                        h.parent.quoted(),
                        names.join(", ")
                    ),
                    parent: h.parent.clone(),
                    rows: v.keys.len(),
                    reason: "overlapping_children",
                    server_refuses: false,
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
                let Some(leaf) = descend(w, h, *child, rows, sub_keys, 0) else {
                    return Route::Passthrough(PassReason::InsertUnknownChild);
                };
                // A child ordering its columns otherwise would report a
                // failing row in its own order: PostgreSQL's answer is the
                // parent's.
                if !leaf.same_columns {
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

/// Levels of sub-partitioning followed at most (the catalog is the
/// database's; this only bounds the walk).
const MAX_LEVELS: usize = 32;

/// Follows a child that is itself a parent down to the table its rows
/// belong to. A declarative child whose own key the values don't decide
/// takes the rows itself (PostgreSQL routes them further); a legacy one
/// can't, so the INSERT passes through.
fn descend(w: &Walker, h: &Hierarchy, child: usize, rows: &[usize], sub_keys: &SubKeys, level: usize) -> Option<Leaf> {
    let c = &h.children[child];
    let here = Leaf {
        table: c.table.clone(),
        same_columns: c.same_columns,
        same_defaults: c.same_defaults,
    };
    if !c.has_children {
        return Some(here);
    }
    let stop = || (h.kind == HierarchyKind::Declarative).then(|| here_leaf(c));
    let Some(sub) = w.catalog.get(&c.table) else {
        return stop();
    };
    if level >= MAX_LEVELS || sub.kind != h.kind {
        return stop();
    }
    let mut chosen = None;
    for &at in rows {
        let routed = sub_keys(sub, at).map(|key| route_row(sub, &key));
        let Some(ValueRoute::Child(i)) = routed else {
            return stop();
        };
        if chosen.is_some_and(|c| c != i) {
            return stop();
        }
        chosen = Some(i);
    }
    let Some(leaf) = chosen.and_then(|i| descend(w, sub, i, rows, sub_keys, level + 1)) else {
        return stop();
    };
    Some(Leaf {
        table: leaf.table,
        same_columns: leaf.same_columns && here.same_columns,
        same_defaults: leaf.same_defaults && here.same_defaults,
    })
}

fn here_leaf(c: &crate::catalog::Child) -> Leaf {
    Leaf {
        table: c.table.clone(),
        same_columns: c.same_columns,
        same_defaults: c.same_defaults,
    }
}
