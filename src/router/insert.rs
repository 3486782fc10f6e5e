//! INSERT ... VALUES routing: every row's key decides its child.

use sqlparser::ast::{Insert, ObjectName, SelectItem, SetExpr, Spanned, TableObject};
use sqlparser::tokenizer::Span;

use super::{normalize, parts, PassReason, Route, TargetReport, Walker};
use crate::catalog::{Hierarchy, TableName, ValueRoute};
use crate::keys::predicate::constant_value;
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
    let Some(key_at) = columns.iter().position(|c| *c == key.column) else {
        return Route::Passthrough(PassReason::InsertKeyOmitted);
    };

    // Each row's child, and the children in order of first appearance.
    let mut groups: Vec<(usize, Vec<usize>)> = Vec::new();
    for (at, row) in values.rows.iter().enumerate() {
        let Some(expr) = row.content.get(key_at) else {
            return Route::Passthrough(PassReason::InsertKeyOmitted);
        };
        let Some(value) = constant_value(expr, key.ty, w.session.tz) else {
            return Route::Passthrough(PassReason::InsertNonConstant);
        };
        let child = match h.route_value(value.as_ref()) {
            ValueRoute::Child(i) => i,
            ValueRoute::Unknown => return Route::Passthrough(PassReason::InsertUnknownChild),
            ValueRoute::NoChild => {
                return Route::Reject {
                    code: "23514",
                    message: format!(
                        "no child table of {} accepts the row with {} = {}",
                        h.parent.quoted(),
                        key.column,
                        expr
                    ),
                }
            }
            ValueRoute::Ambiguous(kids) => {
                let names: Vec<String> = kids.iter().map(|&i| h.children[i].table.quoted()).collect();
                return Route::Reject {
                    code: "23514",
                    message: format!(
                        "the row with {} = {} matches several children of {} ({}): their constraints overlap",
                        key.column,
                        expr,
                        h.parent.quoted(),
                        names.join(", ")
                    ),
                };
            }
        };
        match groups.iter_mut().find(|(c, _)| *c == child) {
            Some((_, rows)) => rows.push(at),
            None => groups.push((child, vec![at])),
        }
    }
    if groups.is_empty() {
        return Route::Passthrough(PassReason::InsertNotValues);
    }
    // RETURNING over several children would need the rows put back in VALUES order.
    if groups.len() > 1 && ins.returning.is_some() {
        return Route::Passthrough(PassReason::InsertMultiChild);
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
    for (child, rows) in &groups {
        let Some((leaf, leaf_same_columns)) = descend(w, h, *child, values, rows, key_at) else {
            return Route::Passthrough(PassReason::InsertUnknownChild);
        };
        if returns_star && !leaf_same_columns {
            return Route::Passthrough(PassReason::ChildColumns);
        }
        let mut splicer = Splicer::new(sql);
        if !retarget(&mut splicer, ins, name, h, &leaf) {
            return Route::Passthrough(PassReason::RewriteFailed);
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
        children.push(leaf);
    }
    let targets = vec![TargetReport {
        parent: h.parent.clone(),
        children,
        parent_included: false,
    }];
    if statements.len() == 1 {
        return Route::Rewrite {
            sql: statements.remove(0),
            targets,
        };
    }
    Route::SplitInsert {
        parts: statements.len(),
        sql: statements.join(";\n"),
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

/// Follows a child that is itself a parent down to the leaf its rows belong to.
fn descend(
    w: &Walker,
    h: &Hierarchy,
    child: usize,
    values: &sqlparser::ast::Values,
    rows: &[usize],
    key_at: usize,
) -> Option<(TableName, bool)> {
    let c = &h.children[child];
    if !c.has_children {
        return Some((c.table.clone(), c.same_columns));
    }
    let sub = w.catalog.get(&c.table)?;
    let key = sub.key.as_ref()?;
    if Some(key) != h.key.as_ref() {
        return None;
    }
    let mut chosen = None;
    for &at in rows {
        let value = constant_value(values.rows.get(at)?.content.get(key_at)?, key.ty, w.session.tz)?;
        let ValueRoute::Child(i) = sub.route_value(value.as_ref()) else {
            return None;
        };
        if chosen.is_some_and(|c| c != i) {
            return None;
        }
        chosen = Some(i);
    }
    let (leaf, same) = descend(w, sub, chosen?, values, rows, key_at)?;
    Some((leaf, same && c.same_columns))
}
