//! INSERT ... VALUES routing: every row's key decides its child.

use sqlparser::ast::{Expr, Insert, ObjectName, SelectItem, SetExpr, Spanned, TableObject};
use sqlparser::tokenizer::Span;

use super::{normalize, parts, PassReason, Route, TargetReport, Walker};
use crate::catalog::{Hierarchy, TableName, Unmatched, ValueRoute};
use crate::keys::predicate::constant_value;
use crate::keys::KeyValue;
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

fn route_into(sql: &str, ins: &Insert, name: &sqlparser::ast::ObjectName, h: &Hierarchy, w: &Walker) -> Route {
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
    let columns: Vec<String> = if ins.columns.is_empty() {
        h.columns.clone()
    } else {
        ins.columns
            .iter()
            .filter_map(|c| parts(c).and_then(|p| p.last().map(|i| normalize(i))))
            .collect()
    };
    let key_at = columns.iter().position(|c| *c == key.column);
    // Columns left to their DEFAULT are filled by the table the row is
    // inserted into, so the child's defaults must be the parent's.
    let mut uses_defaults = columns.len() < h.columns.len();

    // Every row's key value.
    let mut keys: Vec<Option<KeyValue>> = Vec::with_capacity(values.rows.len());
    for row in &values.rows {
        let value = match key_at {
            None => h.key_default.clone(),
            Some(at) => match row.content.get(at) {
                None => return Route::Passthrough(PassReason::InsertKeyOmitted),
                Some(expr) if is_default(expr) => h.key_default.clone(),
                Some(expr) => constant_value(expr, key.ty, w.session.reading()),
            },
        };
        let Some(value) = value else {
            return Route::Passthrough(if key_at.is_none() {
                PassReason::InsertKeyOmitted
            } else {
                PassReason::InsertNonConstant
            });
        };
        uses_defaults |= row.content.iter().any(is_default);
        keys.push(value);
    }

    // Each row's destination, and the destinations in order of first appearance.
    let mut groups: Vec<(Dest, Vec<usize>)> = Vec::new();
    for (at, value) in keys.iter().enumerate() {
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
                    rows: keys.len(),
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
                    rows: keys.len(),
                    reason: "overlapping_children",
                };
            }
        };
        match groups.iter_mut().find(|(d, _)| *d == dest) {
            Some((_, rows)) => rows.push(at),
            None => groups.push((dest, vec![at])),
        }
    }
    if groups.is_empty() {
        return Route::Passthrough(PassReason::InsertNotValues);
    }
    let returns_star = ins
        .returning
        .iter()
        .flatten()
        .any(|i| matches!(i, SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..)));

    let probe = Splicer::new(sql);
    let row_text = |at: usize| -> Option<&str> {
        let row = values.rows.get(at)?;
        let span = Span::new(row.opening_token.0.span.start, row.closing_token.0.span.end);
        let (a, b) = probe.range(span)?;
        sql.get(a..b)
    };
    let (Some(first_row), Some(last_row)) = (values.rows.first(), values.rows.last()) else {
        return Route::Passthrough(PassReason::InsertNotValues);
    };
    let all_rows = Span::new(first_row.opening_token.0.span.start, last_row.closing_token.0.span.end);

    let mut statements = Vec::with_capacity(groups.len());
    let mut children = Vec::with_capacity(groups.len());
    let mut child_rows = Vec::with_capacity(groups.len());
    let mut parent_included = false;
    for (dest, rows) in &groups {
        let mut splicer = Splicer::new(sql);
        match dest {
            Dest::Parent => parent_included = true,
            Dest::Child(child) => {
                let Some(leaf) = descend(w, h, *child, &keys, rows) else {
                    return Route::Passthrough(PassReason::InsertUnknownChild);
                };
                if returns_star && !leaf.same_columns {
                    return Route::Passthrough(PassReason::ChildColumns);
                }
                if uses_defaults && !leaf.same_defaults {
                    return Route::Passthrough(PassReason::ChildDefaults);
                }
                if !retarget(&mut splicer, ins, name, h, &leaf.table) {
                    return Route::Passthrough(PassReason::RewriteFailed);
                }
                children.push(leaf.table);
                child_rows.push(rows.len());
            }
        }
        if groups.len() > 1 {
            let Some(texts) = rows.iter().map(|&at| row_text(at)).collect::<Option<Vec<&str>>>() else {
                return Route::Passthrough(PassReason::RewriteFailed);
            };
            if splicer.replace(all_rows, texts.join(", ")).is_none() {
                return Route::Passthrough(PassReason::RewriteFailed);
            }
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
fn retarget(splicer: &mut Splicer, ins: &Insert, name: &ObjectName, h: &Hierarchy, leaf: &TableName) -> bool {
    let column_list = if ins.columns.is_empty() {
        let cols: Vec<String> = h.columns.iter().map(|c| super::quote(c)).collect();
        format!(" ({})", cols.join(", "))
    } else {
        String::new()
    };
    match &ins.table_alias {
        Some(alias) => splicer
            .replace(name.span(), leaf.quoted())
            .and_then(|()| splicer.insert_after(alias.alias.span, column_list))
            .is_some(),
        None => {
            let shown = parts(name)
                .and_then(|p| p.last().map(|i| i.to_string()))
                .unwrap_or_default();
            splicer
                .replace(name.span(), format!("{} AS {shown}{column_list}", leaf.quoted()))
                .is_some()
        }
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
