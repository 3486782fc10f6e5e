//! SQL-level `PREPARE`, `EXECUTE` and `DEALLOCATE`, read so that an
//! `EXECUTE` of a statement naming a parent can be routed by its arguments,
//! as a Bind is.

use sqlparser::ast::{Expr, Statement};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer};

use crate::keys::typed::cast_target;
use crate::keys::TypMod;
use crate::names::{normalize, parts};
use crate::rewrite::Splicer;

/// A session-level prepared-statement command.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlCommand {
    /// `PREPARE name [(types)] AS statement`.
    Prepare {
        /// The name as PostgreSQL stores it.
        name: String,
        /// The declared parameter types as SQL text (may be fewer than used).
        types: Vec<String>,
        /// The same as OIDs for routing (`u32::MAX`: a type the router
        /// does not read, or one with a modifier it would apply).
        type_oids: Vec<u32>,
        /// The prepared statement's text.
        sql: String,
    },
    /// `EXECUTE name [(args)]`.
    Execute {
        /// The name as PostgreSQL stores it.
        name: String,
        /// Each argument.
        args: Vec<ExecuteArg>,
    },
    /// `DEALLOCATE [PREPARE] name | ALL`; `None` for ALL.
    Deallocate(Option<String>),
}

/// One argument of an `EXECUTE`.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecuteArg {
    /// The argument exactly as the client wrote it.
    pub text: String,
    /// The argument as parsed (read as a typed constant when routing).
    pub expr: Expr,
}

/// Reads `sql` when it is one PREPARE, EXECUTE or DEALLOCATE; cheap for
/// everything else (one look at the first word).
pub fn read_sql_command(sql: &str) -> Option<SqlCommand> {
    let first = sql.trim_start().split(|c: char| !c.is_ascii_alphabetic()).next()?;
    if !["prepare", "execute", "deallocate"]
        .iter()
        .any(|k| first.eq_ignore_ascii_case(k))
    {
        return None;
    }
    let mut statements = Parser::parse_sql(&PostgreSqlDialect {}, sql).ok()?;
    if statements.len() != 1 {
        return None;
    }
    match statements.pop()? {
        Statement::Prepare { name, data_types, .. } => Some(SqlCommand::Prepare {
            name: normalize(&name),
            types: data_types.iter().map(ToString::to_string).collect(),
            type_oids: data_types
                .iter()
                .map(|t| match cast_target(t) {
                    Some(target) if target.typmod == TypMod::None => target.ty.oid(),
                    _ => u32::MAX,
                })
                .collect(),
            sql: prepared_text(sql)?,
        }),
        Statement::Execute {
            name: Some(name),
            parameters,
            immediate: false,
            into,
            using,
            ..
        } if into.is_empty() && using.is_empty() => {
            let name = match parts(&name)?.as_slice() {
                [one] => normalize(one),
                _ => return None,
            };
            let texts = argument_texts(sql)?;
            if texts.len() != parameters.len() {
                return None;
            }
            let args = texts
                .into_iter()
                .zip(&parameters)
                .map(|(text, e)| ExecuteArg { text, expr: e.clone() })
                .collect();
            Some(SqlCommand::Execute { name, args })
        }
        Statement::Deallocate { name, .. } => Some(SqlCommand::Deallocate(
            (name.quote_style.is_some() || !name.value.eq_ignore_ascii_case("all")).then(|| normalize(&name)),
        )),
        _ => None,
    }
}

/// The statement after `PREPARE name [(types)] AS`, without a trailing `;`.
fn prepared_text(sql: &str) -> Option<String> {
    let tokens = Tokenizer::new(&PostgreSqlDialect {}, sql)
        .tokenize_with_location()
        .ok()?;
    let splicer = Splicer::new(sql);
    let as_token = tokens.iter().find(
        |t| matches!(&t.token, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("as")),
    )?;
    let (_, end) = splicer.range(as_token.span)?;
    let text = sql.get(end..)?.trim().trim_end_matches(';').trim_end();
    Some(text.to_owned())
}

/// The text of each argument of `EXECUTE name(a, b, ...)`, split at the
/// top-level commas of the first parenthesis (the parser's expression spans
/// do not cover casts and calls).
fn argument_texts(sql: &str) -> Option<Vec<String>> {
    let tokens = Tokenizer::new(&PostgreSqlDialect {}, sql)
        .tokenize_with_location()
        .ok()?;
    let splicer = Splicer::new(sql);
    let mut texts = Vec::new();
    let mut depth = 0usize;
    let mut start: Option<usize> = None;
    let mut end = 0usize;
    for t in &tokens {
        let (a, b) = splicer.range(t.span)?;
        match &t.token {
            Token::LParen => {
                depth += 1;
                if depth == 1 {
                    continue;
                }
            }
            Token::RParen if depth == 1 => {
                texts.push(sql.get(start?..end)?.to_owned());
                return Some(texts);
            }
            Token::RParen => depth = depth.checked_sub(1)?,
            Token::Comma if depth == 1 => {
                texts.push(sql.get(start.take()?..end)?.to_owned());
                continue;
            }
            Token::Whitespace(_) => continue,
            _ => {}
        }
        if depth >= 1 {
            start.get_or_insert(a);
            end = b;
        }
    }
    // No parenthesis: no arguments.
    (depth == 0).then_some(texts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_prepare_execute_and_deallocate() {
        assert_eq!(
            read_sql_command("PREPARE Q1 (int, date) AS SELECT * FROM logs WHERE id = $1 AND d = $2;"),
            Some(SqlCommand::Prepare {
                name: "q1".into(),
                types: vec!["INT".into(), "DATE".into()],
                type_oids: vec![23, 1082],
                sql: "SELECT * FROM logs WHERE id = $1 AND d = $2".into(),
            })
        );
        match read_sql_command("execute q1 (42, '2024-01-02'::date, -7, NULL, now())") {
            Some(SqlCommand::Execute { name, args }) => {
                assert_eq!(name, "q1");
                let texts: Vec<&str> = args.iter().map(|a| a.text.as_str()).collect();
                assert_eq!(texts, ["42", "'2024-01-02'::date", "-7", "NULL", "now()"]);
                let exprs: Vec<String> = args.iter().map(|a| a.expr.to_string()).collect();
                assert_eq!(exprs, ["42", "'2024-01-02'::DATE", "-7", "NULL", "now()"]);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(read_sql_command("DEALLOCATE ALL"), Some(SqlCommand::Deallocate(None)));
        assert_eq!(
            read_sql_command("deallocate prepare \"Q\""),
            Some(SqlCommand::Deallocate(Some("Q".into())))
        );
        assert_eq!(read_sql_command("SELECT 1"), None);
        assert_eq!(read_sql_command("EXECUTE q; EXECUTE q"), None);
    }
}
