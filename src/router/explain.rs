//! The decision in rows, as `EXPLAIN ROUTE` and `partproxy explain` show it.

use super::Route;

/// One line of an explanation: a parent occurrence and what it became.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExplainRow {
    /// The parent, when the statement was rewritten.
    pub parent: Option<String>,
    /// The tables read or written instead (`ONLY parent` for its own rows).
    pub children: Option<String>,
    /// `rewrite`, `passthrough: <reason>` or `reject: <SQLSTATE>`.
    pub decision: String,
    /// The SQL sent to the server, or the refusal's message.
    pub sql: String,
}

/// Explains `route`, the decision for `original`.
pub fn explain(route: &Route, original: &str) -> Vec<ExplainRow> {
    match route {
        Route::Passthrough(reason) => vec![ExplainRow {
            parent: None,
            children: None,
            decision: format!("passthrough: {}", reason.as_str()),
            sql: original.to_owned(),
        }],
        Route::Rewrite { sql, targets } => rewrite_rows(sql, targets),
        Route::SplitInsert {
            statements, targets, ..
        } => rewrite_rows(&super::join_statements(statements), targets),
        Route::Reject {
            code,
            message,
            server_refuses,
            ..
        } => vec![ExplainRow {
            parent: None,
            children: None,
            decision: match server_refuses {
                true => format!("reject: {code} (forwarded: PostgreSQL raises it)"),
                false => format!("reject: {code}"),
            },
            sql: message.clone(),
        }],
    }
}

/// One row per parent occurrence of a rewritten statement.
fn rewrite_rows(sql: &str, targets: &[super::TargetReport]) -> Vec<ExplainRow> {
    targets
        .iter()
        .map(|t| {
            let mut names: Vec<String> = Vec::with_capacity(t.children.len() + 1);
            if t.parent_included {
                names.push(format!("ONLY {}", t.parent.quoted()));
            }
            names.extend(t.children.iter().map(|c| c.quoted()));
            ExplainRow {
                parent: Some(t.parent.quoted()),
                children: Some(names.join(", ")),
                decision: "rewrite".into(),
                sql: sql.to_owned(),
            }
        })
        .collect()
}
