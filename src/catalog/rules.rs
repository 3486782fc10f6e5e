//! Explicit per-table routing rules from the configuration, which override
//! or complete what discovery finds.

use super::TableName;

/// What an INSERT does with a row that no child accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unmatched {
    /// Send the statement to PostgreSQL unchanged: the parent's trigger, the
    /// parent itself or the partition bounds decide, as without the proxy.
    #[default]
    Forward,
    /// Refuse the statement with SQLSTATE 23514 (what a CHECK violation or a
    /// legacy trigger's `RAISE` gives).
    Error,
    /// Store the row in the parent itself.
    Parent,
}

/// A rule for one parent table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRule {
    /// The parent, schema-qualified (`public` when the config gave none).
    pub parent: TableName,
    /// The key column to use instead of the one discovery would pick.
    pub key: Option<String>,
    /// The policy for rows no child accepts.
    pub on_unmatched: Unmatched,
    /// When set, overrides whether the parent is known to hold no rows of its own.
    pub parent_empty: Option<bool>,
}

impl TableRule {
    /// Reads `schema.table`, `table` or quoted parts into a table name
    /// (unquoted parts fold to lower case, as PostgreSQL folds them).
    pub fn parse_parent(text: &str) -> Option<TableName> {
        let dialect = sqlparser::dialect::PostgreSqlDialect {};
        let mut parser = sqlparser::parser::Parser::new(&dialect).try_with_sql(text).ok()?;
        let name = parser.parse_object_name(false).ok()?;
        if parser.peek_token().token != sqlparser::tokenizer::Token::EOF {
            return None;
        }
        let parts = crate::names::name_parts(&name)?;
        match parts.as_slice() {
            [name] => Some(TableName {
                schema: "public".into(),
                name: name.clone(),
            }),
            [schema, name] => Some(TableName {
                schema: schema.clone(),
                name: name.clone(),
            }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_names_fold_and_unquote() {
        let t = TableRule::parse_parent("Logs").unwrap();
        assert_eq!((t.schema.as_str(), t.name.as_str()), ("public", "logs"));
        let t = TableRule::parse_parent("\"My Schema\".\"Odd\"\"Name\"").unwrap();
        assert_eq!((t.schema.as_str(), t.name.as_str()), ("My Schema", "Odd\"Name"));
        assert!(TableRule::parse_parent("a.b.c").is_none());
        assert!(TableRule::parse_parent("a.").is_none());
        assert!(TableRule::parse_parent("\"open").is_none());
    }
}
