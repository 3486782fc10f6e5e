//! Small text helpers shared by the session loop and the router.

/// ASCII case-insensitive substring test (SQL keywords and unquoted names are
/// case-insensitive; this is only ever a cheap pre-check, never a decision).
pub fn contains_ci(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle))
}

/// An identifier in double quotes, as PostgreSQL reads it back exactly.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// How a statement ends a transaction block, for statements that do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionEnd {
    /// `COMMIT` / `END`: in a failed transaction PostgreSQL rolls back instead.
    Commit,
    /// `ROLLBACK` / `ABORT`.
    Rollback,
}

/// Recognises a single `COMMIT`, `END`, `ROLLBACK` or `ABORT` statement
/// (optionally with `WORK`/`TRANSACTION`, `AND NO CHAIN` and a trailing
/// semicolon). `ROLLBACK TO SAVEPOINT`, `... AND CHAIN` and the two-phase
/// forms are not plain ends and give `None`.
pub fn transaction_end(sql: &str) -> Option<TransactionEnd> {
    let sql = sql.trim().trim_end_matches(';');
    let mut words = sql.split_ascii_whitespace();
    let first = words.next()?;
    let is = |word: &str, keyword: &str| word.eq_ignore_ascii_case(keyword);
    let end = if is(first, "commit") || is(first, "end") {
        TransactionEnd::Commit
    } else if is(first, "rollback") || is(first, "abort") {
        TransactionEnd::Rollback
    } else {
        return None;
    };
    let mut next = words.next();
    if next.is_some_and(|w| is(w, "work") || is(w, "transaction")) {
        next = words.next();
    }
    let Some(word) = next else {
        return Some(end);
    };
    let no_chain = is(word, "and")
        && words.next().is_some_and(|w| is(w, "no"))
        && words.next().is_some_and(|w| is(w, "chain"))
        && words.next().is_none();
    no_chain.then_some(end)
}

#[cfg(test)]
mod tests {
    use super::{contains_ci, transaction_end, TransactionEnd};

    #[test]
    fn recognises_plain_transaction_ends_only() {
        assert_eq!(transaction_end("COMMIT"), Some(TransactionEnd::Commit));
        assert_eq!(transaction_end(" end work ; "), Some(TransactionEnd::Commit));
        assert_eq!(transaction_end("rollback"), Some(TransactionEnd::Rollback));
        assert_eq!(
            transaction_end("ABORT TRANSACTION AND NO CHAIN;"),
            Some(TransactionEnd::Rollback)
        );
        assert_eq!(transaction_end("ROLLBACK TO SAVEPOINT a"), None);
        assert_eq!(transaction_end("COMMIT AND CHAIN"), None);
        assert_eq!(transaction_end("COMMIT PREPARED 'x'"), None);
        assert_eq!(transaction_end("commitx"), None);
        assert_eq!(transaction_end("SELECT 1"), None);
        assert_eq!(transaction_end(""), None);
    }

    #[test]
    fn ignores_ascii_case() {
        assert!(contains_ci(b"SELECT * FROM Logs", b"logs"));
        assert!(!contains_ci(b"SELECT 1", b"logs"));
        assert!(contains_ci(b"", b""));
    }
}
