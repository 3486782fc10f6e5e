//! Rewriting SQL by splicing the original text at the parser's spans, so that
//! everything the router does not touch stays byte for byte as the client
//! wrote it (quoting, comments, formatting, literals).

use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::tokenizer::{Location, Span, Token, Tokenizer};

/// Collects non-overlapping edits on one SQL text and applies them.
#[derive(Debug)]
pub struct Splicer<'a> {
    sql: &'a str,
    line_starts: Vec<usize>,
    /// For non-ASCII text: byte offset of every character, and the index of
    /// each line's first character (spans count characters, not bytes).
    chars: Option<(Vec<usize>, Vec<usize>)>,
    edits: Vec<(usize, usize, String)>,
}

impl<'a> Splicer<'a> {
    /// A splicer over `sql`.
    pub fn new(sql: &'a str) -> Splicer<'a> {
        let mut line_starts = vec![0];
        line_starts.extend(sql.match_indices('\n').map(|(i, _)| i + 1));
        let chars = (!sql.is_ascii()).then(|| {
            let mut starts = Vec::with_capacity(sql.len());
            let mut first = vec![0];
            for (n, (i, c)) in sql.char_indices().enumerate() {
                starts.push(i);
                if c == '\n' {
                    first.push(n + 1);
                }
            }
            starts.push(sql.len());
            (starts, first)
        });
        Splicer {
            sql,
            line_starts,
            chars,
            edits: Vec::new(),
        }
    }

    /// A splicer edited by byte offsets only ([`Splicer::edit`]): it skips
    /// building the tables that map parser locations to offsets.
    pub fn by_offsets(sql: &'a str) -> Splicer<'a> {
        Splicer {
            sql,
            line_starts: Vec::new(),
            chars: None,
            edits: Vec::new(),
        }
    }

    /// Replaces the bytes `a..b` with `text` (an insertion when `a == b`).
    pub fn edit(&mut self, a: usize, b: usize, text: String) {
        self.edits.push((a, b, text));
    }

    /// Byte offset of a 1-based (line, character column) location, in O(1).
    pub fn offset(&self, loc: Location) -> Option<usize> {
        let line = (loc.line as usize).checked_sub(1)?;
        let col = (loc.column as usize).checked_sub(1)?;
        let line_end = self.line_starts.get(line + 1).copied().unwrap_or(self.sql.len());
        let at = match &self.chars {
            None => self.line_starts.get(line)? + col,
            Some((starts, first)) => *starts.get(first.get(line)? + col)?,
        };
        (at <= line_end).then_some(at)
    }

    /// The byte range a span covers (its end is exclusive).
    pub fn range(&self, span: Span) -> Option<(usize, usize)> {
        let (a, b) = (self.offset(span.start)?, self.offset(span.end)?);
        (a <= b).then_some((a, b))
    }

    /// Replaces the text of `span` with `text`.
    pub fn replace(&mut self, span: Span, text: String) -> Option<()> {
        let (a, b) = self.range(span)?;
        self.edits.push((a, b, text));
        Some(())
    }

    /// Inserts `text` right after `span`.
    pub fn insert_after(&mut self, span: Span, text: String) -> Option<()> {
        let (_, b) = self.range(span)?;
        self.edits.push((b, b, text));
        Some(())
    }

    /// The spliced text; `None` if two edits overlap.
    pub fn finish(mut self) -> Option<String> {
        self.edits.sort_by_key(|(a, b, _)| (*a, *b));
        let mut out = String::with_capacity(self.sql.len() + 64);
        let mut at = 0;
        for (a, b, text) in &self.edits {
            if *a < at {
                return None;
            }
            out.push_str(self.sql.get(at..*a)?);
            out.push_str(text);
            at = *b;
        }
        out.push_str(self.sql.get(at..)?);
        Some(out)
    }
}

/// Renumbers the `$n` parameters of one statement of a split so they run
/// from `$1` in order of first appearance. Returns the new text and, for
/// each new parameter, the zero-based index of the original one it takes its
/// value (and declared type) from. `None` if the text does not tokenize.
pub fn renumber_params(sql: &str) -> Option<(String, Vec<usize>)> {
    if !sql.contains('$') {
        // No parameter: nothing to renumber, no need to tokenize.
        return Some((sql.to_owned(), Vec::new()));
    }
    let tokens = Tokenizer::new(&PostgreSqlDialect {}, sql)
        .tokenize_with_location()
        .ok()?;
    let mut splicer = Splicer::new(sql);
    let mut picks: Vec<usize> = Vec::new();
    for t in &tokens {
        let Token::Placeholder(p) = &t.token else {
            continue;
        };
        let Some(n) = p.strip_prefix('$').and_then(|d| d.parse::<usize>().ok()) else {
            continue;
        };
        let original = n.checked_sub(1)?;
        let new = match picks.iter().position(|&o| o == original) {
            Some(i) => i + 1,
            None => {
                picks.push(original);
                picks.len()
            }
        };
        if new != n {
            splicer.replace(t.span, format!("${new}"))?;
        }
    }
    Some((splicer.finish()?, picks))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renumbers_parameters_in_order_of_appearance() {
        let (sql, picks) =
            renumber_params("INSERT INTO c AS p (a, b) VALUES ($3, $4), ($7, '$9') RETURNING $3 || $1").unwrap();
        assert_eq!(
            sql,
            "INSERT INTO c AS p (a, b) VALUES ($1, $2), ($3, '$9') RETURNING $1 || $4"
        );
        assert_eq!(picks, vec![2, 3, 6, 0]);
        let (sql, picks) = renumber_params("SELECT $1, $$ $2 $$").unwrap();
        assert_eq!(sql, "SELECT $1, $$ $2 $$");
        assert_eq!(picks, vec![0]);
        assert!(renumber_params("SELECT $0").is_none());
    }

    fn span(l1: u64, c1: u64, l2: u64, c2: u64) -> Span {
        Span::new(Location::new(l1, c1), Location::new(l2, c2))
    }

    #[test]
    fn splices_across_lines_and_multibyte_text() {
        let sql = "SELECT 'é' FROM logs\nWHERE x = 1";
        let mut s = Splicer::new(sql);
        s.replace(span(1, 17, 1, 21), "logs_1 AS logs".into()).unwrap();
        s.insert_after(span(2, 7, 2, 8), "_renamed".into()).unwrap();
        assert_eq!(
            s.finish().unwrap(),
            "SELECT 'é' FROM logs_1 AS logs\nWHERE x_renamed = 1"
        );
    }

    #[test]
    fn overlapping_edits_are_refused() {
        let mut s = Splicer::new("abcdef");
        s.replace(span(1, 1, 1, 4), "x".into()).unwrap();
        s.replace(span(1, 3, 1, 5), "y".into()).unwrap();
        assert!(s.finish().is_none());
    }
}
