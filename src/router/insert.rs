//! INSERT ... VALUES routing: every row's key decides its child.

use sqlparser::ast::{Insert, SelectItem, SetExpr, Spanned, TableObject};

use super::{normalize, parts, PassReason, Route, TargetReport, Walker};
use crate::catalog::{Hierarchy, ValueRoute};
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

    let mut chosen: Option<usize> = None;
    for row in &values.rows {
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
        match chosen {
            None => chosen = Some(child),
            Some(c) if c == child => {}
            Some(_) => return Route::Passthrough(PassReason::InsertMultiChild),
        }
    }
    let Some(first) = chosen else {
        return Route::Passthrough(PassReason::InsertNotValues);
    };
    let Some((leaf, leaf_same_columns)) = descend(w, h, first, values, key_at) else {
        return Route::Passthrough(PassReason::InsertUnknownChild);
    };
    let returns_star = ins
        .returning
        .iter()
        .flatten()
        .any(|i| matches!(i, SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..)));
    if returns_star && !leaf_same_columns {
        return Route::Passthrough(PassReason::ChildColumns);
    }

    let mut splicer = Splicer::new(sql);
    let column_list = if ins.columns.is_empty() {
        let cols: Vec<String> = h.columns.iter().map(|c| super::quote(c)).collect();
        format!(" ({})", cols.join(", "))
    } else {
        String::new()
    };
    let edited = match &ins.table_alias {
        Some(alias) => splicer
            .replace(name.span(), leaf.quoted())
            .and_then(|()| splicer.insert_after(alias.alias.span, column_list)),
        None => {
            let shown = parts(name)
                .and_then(|p| p.last().map(|i| i.to_string()))
                .unwrap_or_default();
            splicer.replace(name.span(), format!("{} AS {shown}{column_list}", leaf.quoted()))
        }
    };
    match edited.and_then(|()| splicer.finish()) {
        Some(sql) => Route::Rewrite {
            sql,
            targets: vec![TargetReport {
                parent: h.parent.clone(),
                children: vec![leaf],
                parent_included: false,
            }],
        },
        None => Route::Passthrough(PassReason::RewriteFailed),
    }
}

/// Follows a child that is itself a parent down to the leaf every row belongs to.
fn descend(
    w: &Walker,
    h: &Hierarchy,
    child: usize,
    values: &sqlparser::ast::Values,
    key_at: usize,
) -> Option<(crate::catalog::TableName, bool)> {
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
    for row in &values.rows {
        let value = constant_value(row.content.get(key_at)?, key.ty, w.session.tz)?;
        let ValueRoute::Child(i) = sub.route_value(value.as_ref()) else {
            return None;
        };
        if chosen.is_some_and(|c| c != i) {
            return None;
        }
        chosen = Some(i);
    }
    let (leaf, same) = descend(w, sub, chosen?, values, key_at)?;
    Some((leaf, same && c.same_columns))
}
