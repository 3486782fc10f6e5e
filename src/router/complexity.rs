//! A bound on how deep a statement's tree can be, read from its text before
//! the parser builds the tree: chains such as `a OR b OR ...`, `1 + 1 + ...`
//! or `SELECT .. UNION ALL SELECT ..` become trees as deep as they are long,
//! and every walk over a tree (the router's, the parser's visitor, even
//! dropping it) recurses once per level. Past the limit the statement
//! passes through unparsed.

/// The deepest chain-plus-nesting a statement may have and still be parsed.
pub const LIMIT: usize = 500;

/// Operators and keywords that chain (each adds a level to the tree).
const CHAIN_WORDS: [&[u8]; 5] = [b"and", b"or", b"union", b"intersect", b"except"];

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

fn is_operator_byte(b: u8) -> bool {
    matches!(
        b,
        b'+' | b'-'
            | b'*'
            | b'/'
            | b'<'
            | b'>'
            | b'='
            | b'~'
            | b'!'
            | b'@'
            | b'#'
            | b'%'
            | b'^'
            | b'&'
            | b'|'
            | b'`'
            | b'?'
            | b':'
    )
}

/// The end of a dollar-quote tag starting at `at` (`$tag$` or `$$`), if one is there.
fn dollar_tag(b: &[u8], at: usize) -> Option<usize> {
    let mut i = at + 1;
    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] >= 0x80) {
        if i == at + 1 && b[i].is_ascii_digit() {
            return None; // `$1` is a parameter
        }
        i += 1;
    }
    (b.get(i) == Some(&b'$')).then_some(i + 1)
}

/// An upper bound on the depth the statement's tree will have: for each
/// parenthesised group, the chain operators directly inside it plus the
/// deepest group within, plus one per level of nesting.
pub fn depth_bound(sql: &str) -> usize {
    let b = sql.as_bytes();
    // One frame per open group: (chain operators in it, deepest group inside).
    let mut stack: Vec<(usize, usize)> = vec![(0, 0)];
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b'\'' => {
                // A backslash escapes only in E'...' (the caller refuses
                // other backslashes when standard_conforming_strings is off).
                let escapes = i > 0 && matches!(b[i - 1], b'e' | b'E') && (i < 2 || !is_ident_byte(b[i - 2]));
                i += 1;
                while i < b.len() {
                    match b[i] {
                        b'\\' if escapes => i += 2,
                        b'\'' if b.get(i + 1) == Some(&b'\'') => i += 2,
                        b'\'' => break,
                        _ => i += 1,
                    }
                }
                i += 1;
            }
            b'"' => {
                i += 1;
                while i < b.len() {
                    if b[i] == b'"' {
                        if b.get(i + 1) == Some(&b'"') {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i += 1;
            }
            b'$' if i == 0 || !is_ident_byte(b[i - 1]) => match dollar_tag(b, i) {
                Some(end) => {
                    let tag = &b[i..end];
                    let body = end;
                    i = b[body..]
                        .windows(tag.len())
                        .position(|w| w == tag)
                        .map_or(b.len(), |p| body + p + tag.len());
                }
                None => i += 1,
            },
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                // Block comments nest in PostgreSQL.
                let mut depth = 0usize;
                while i < b.len() {
                    if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        depth += 1;
                        i += 2;
                    } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
            }
            b'(' | b'[' => {
                stack.push((0, 0));
                i += 1;
            }
            b')' | b']' => {
                if stack.len() > 1 {
                    if let Some((count, inner)) = stack.pop() {
                        if let Some(parent) = stack.last_mut() {
                            parent.1 = parent.1.max(1 + count + inner);
                        }
                    }
                }
                i += 1;
            }
            c if is_operator_byte(c) => {
                while i < b.len() && is_operator_byte(b[i]) {
                    i += 1;
                }
                if let Some(top) = stack.last_mut() {
                    top.0 += 1;
                }
            }
            c if is_ident_byte(c) => {
                let start = i;
                while i < b.len() && is_ident_byte(b[i]) {
                    i += 1;
                }
                let word = &b[start..i];
                if CHAIN_WORDS.iter().any(|w| word.eq_ignore_ascii_case(w)) {
                    if let Some(top) = stack.last_mut() {
                        top.0 += 1;
                    }
                }
            }
            _ => i += 1,
        }
    }
    // Unclosed groups still count.
    stack
        .into_iter()
        .rev()
        .fold(0, |inner, (count, deepest)| count + deepest.max(inner) + 1)
}

/// True when the statement is too deep to parse and walk safely.
pub fn too_complex(sql: &str) -> bool {
    depth_bound(sql) > LIMIT
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_and_nesting_add_up() {
        assert!(depth_bound("SELECT * FROM t WHERE k = 1") < 5);
        let ors: Vec<String> = (0..600).map(|i| format!("k = {i}")).collect();
        assert!(too_complex(&format!("SELECT * FROM t WHERE {}", ors.join(" OR "))));
        // The same chain split over groups of 100 stays within the limit.
        let groups: Vec<String> = (0..6)
            .map(|g| format!("({})", ors[g * 100..g * 100 + 100].join(" OR ")))
            .collect();
        assert!(!too_complex(&format!("SELECT * FROM t WHERE {}", groups.join(" AND "))));
        let unions = vec!["SELECT 1"; 600].join(" UNION ALL ");
        assert!(too_complex(&unions));
        assert!(too_complex(&format!("SELECT {}", vec!["1"; 600].join("+"))));
        assert!(too_complex(&format!("SELECT {}1{}", "(".repeat(600), ")".repeat(600))));
        // A bulk INSERT's rows are groups of their own.
        let rows = vec!["(1, now() - interval '1 day', 'x')"; 5000].join(", ");
        assert!(!too_complex(&format!("INSERT INTO t VALUES {rows}")));
    }

    #[test]
    fn quotes_and_comments_hide_operators() {
        let hidden = format!(
            "SELECT '{0}', \"{0}\", $x${0}$x$, $${0}$$ /* {0} /* {0} */ {0} */ -- {0}\n FROM t WHERE a = $1",
            "+".repeat(10) + &" OR ".repeat(600)
        );
        assert!(!too_complex(&hidden), "{}", depth_bound(&hidden));
        assert!(!too_complex(&format!("SELECT E'\\' {} '", " OR ".repeat(600))));
    }
}
