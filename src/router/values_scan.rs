//! A hand-written reader for the INSERT shape bulk loaders send most:
//! `INSERT INTO name [(columns)] VALUES (constants), ... [;]`.
//!
//! The full SQL parser spends microseconds per VALUES row building an AST
//! the router then only asks for one key per row; this reader finds the rows
//! and their key items in one pass over the bytes. It accepts a strict
//! subset of PostgreSQL's lexical rules and gives up (`None`) on anything
//! else — comments, parameters, dollar quotes, escape strings, backslashes
//! in strings, expressions, RETURNING, ON CONFLICT, an alias — leaving those
//! statements to the parser, so both readers always agree.

use std::borrow::Cow;

/// One part of a dotted table name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct NamePart<'s> {
    /// As written, quotes included.
    pub written: &'s str,
    /// As PostgreSQL reads it (unquoted folded to lower case).
    pub value: String,
    /// Written in double quotes.
    pub quoted: bool,
}

/// The part of the statement before its rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Head<'s> {
    /// The target table's name (one or two parts).
    pub name: Vec<NamePart<'s>>,
    /// Byte range of the name.
    pub name_range: (usize, usize),
    /// The column list, as PostgreSQL reads the names; `None` when absent.
    pub columns: Option<Vec<String>>,
    /// Byte offset just after `VALUES`.
    pub rows_from: usize,
}

/// The key item of one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum KeyItem<'s> {
    /// `DEFAULT`.
    Default,
    /// `NULL`.
    Null,
    /// An integer: digits with an optional leading minus.
    Integer(&'s str),
    /// A plain string constant, its quotes removed and `''` undoubled.
    Text(Cow<'s, str>),
    /// NULL, an unsigned integer or a string cast once to a one-word type.
    Cast {
        /// What is cast.
        value: CastValue<'s>,
        /// The type's name as written.
        to: &'s str,
        /// The whole item as written.
        written: &'s str,
    },
    /// Any other accepted constant (a decimal, a negative or repeated
    /// cast), as written.
    Other(&'s str),
}

/// The constant under a single cast.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum CastValue<'s> {
    /// `NULL::type`.
    Null,
    /// Digits.
    Integer(&'s str),
    /// A string constant's text.
    Text(Cow<'s, str>),
}

/// One row of the VALUES list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Row<'s> {
    /// Byte range, parentheses included.
    pub range: (usize, usize),
    /// The item at the key's position, when one was asked for.
    pub key: Option<KeyItem<'s>>,
    /// Some item is `DEFAULT`.
    pub has_default: bool,
}

/// The rows, all of one width.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Rows<'s> {
    /// Each row.
    pub rows: Vec<Row<'s>>,
    /// Items per row.
    pub width: usize,
}

/// Unquoted words that cannot be a table name here.
const RESERVED: [&str; 8] = [
    "values",
    "only",
    "as",
    "default",
    "select",
    "with",
    "overriding",
    "table",
];

/// Reads `INSERT INTO name [(columns)] VALUES`; `None` for anything else.
pub(super) fn scan_head(sql: &str) -> Option<Head<'_>> {
    let mut c = Cursor::new(sql);
    c.keyword("insert")?;
    c.keyword("into")?;
    c.skip_space()?;
    let name_start = c.at;
    let mut name = vec![c.name_part()?];
    while c.peek() == Some(b'.') {
        c.at += 1;
        name.push(c.name_part()?);
    }
    if name.len() > 2 || name.iter().any(|p| !p.quoted && RESERVED.contains(&p.value.as_str())) {
        return None;
    }
    let name_range = (name_start, c.at);
    c.skip_space()?;
    let columns = if c.peek() == Some(b'(') {
        c.at += 1;
        let mut columns = Vec::new();
        loop {
            c.skip_space()?;
            columns.push(c.name_part()?.value);
            c.skip_space()?;
            match c.next()? {
                b',' => {}
                b')' => break,
                _ => return None,
            }
        }
        Some(columns)
    } else {
        None
    };
    c.keyword("values")?;
    Some(Head {
        name,
        name_range,
        columns,
        rows_from: c.at,
    })
}

/// Reads the rows from `from` (just after `VALUES`) to the end of the text,
/// noting each row's item at `key_at`. `None` unless every row is a list of
/// constants of one width and only an optional `;` follows them.
pub(super) fn scan_rows(sql: &str, from: usize, key_at: Option<usize>) -> Option<Rows<'_>> {
    let mut c = Cursor { sql, at: from };
    let mut rows = Vec::new();
    let mut width = None;
    loop {
        c.skip_space()?;
        let start = c.at;
        if c.next()? != b'(' {
            return None;
        }
        let mut key = None;
        let mut has_default = false;
        let mut items = 0;
        loop {
            c.skip_space()?;
            let item = c.item()?;
            has_default |= item == Item::Default;
            if key_at == Some(items) {
                key = Some(match item {
                    Item::Default => KeyItem::Default,
                    Item::Null => KeyItem::Null,
                    Item::Integer(t) => KeyItem::Integer(t),
                    Item::Text(t) => KeyItem::Text(t),
                    Item::Cast { value, to, written } => KeyItem::Cast { value, to, written },
                    Item::Other(t) => KeyItem::Other(t),
                });
            }
            items += 1;
            c.skip_space()?;
            match c.next()? {
                b',' => {}
                b')' => break,
                _ => return None,
            }
        }
        if *width.get_or_insert(items) != items {
            return None;
        }
        rows.push(Row {
            range: (start, c.at),
            key,
            has_default,
        });
        c.skip_space()?;
        match c.peek() {
            Some(b',') => c.at += 1,
            Some(b';') => {
                c.at += 1;
                c.skip_space()?;
                break;
            }
            _ => break,
        }
    }
    (c.at == sql.len()).then_some(Rows {
        rows,
        width: width.unwrap_or(0),
    })
}

/// One item of a row, as far as routing cares.
#[derive(Debug, PartialEq, Eq)]
enum Item<'s> {
    Default,
    Null,
    Integer(&'s str),
    Text(Cow<'s, str>),
    Cast {
        value: CastValue<'s>,
        to: &'s str,
        written: &'s str,
    },
    Other(&'s str),
}

struct Cursor<'s> {
    sql: &'s str,
    at: usize,
}

impl<'s> Cursor<'s> {
    fn new(sql: &'s str) -> Self {
        Cursor { sql, at: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.sql.as_bytes().get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.at += 1;
        Some(b)
    }

    /// Skips whitespace; `None` at a comment, which the parser must read.
    fn skip_space(&mut self) -> Option<()> {
        let bytes = self.sql.as_bytes();
        while let Some(&b) = bytes.get(self.at) {
            match b {
                b' ' | b'\t' | b'\n' | b'\r' | 0x0c => self.at += 1,
                b'-' if bytes.get(self.at + 1) == Some(&b'-') => return None,
                b'/' if bytes.get(self.at + 1) == Some(&b'*') => return None,
                _ => break,
            }
        }
        Some(())
    }

    /// An unquoted ASCII word (letters, digits, underscores).
    fn word(&mut self) -> Option<&'s str> {
        let bytes = self.sql.as_bytes();
        let start = self.at;
        if !bytes.get(start).is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_') {
            return None;
        }
        let mut end = start + 1;
        while bytes.get(end).is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_') {
            end += 1;
        }
        // `$` and non-ASCII bytes continue identifiers in PostgreSQL; leave
        // such words to the parser.
        if bytes.get(end).is_some_and(|b| *b == b'$' || !b.is_ascii()) {
            return None;
        }
        self.at = end;
        self.sql.get(start..end)
    }

    fn keyword(&mut self, kw: &str) -> Option<()> {
        self.skip_space()?;
        self.word()?.eq_ignore_ascii_case(kw).then_some(())
    }

    /// A plain or double-quoted identifier.
    fn name_part(&mut self) -> Option<NamePart<'s>> {
        let start = self.at;
        if self.peek() == Some(b'"') {
            let bytes = self.sql.as_bytes();
            let mut end = start + 1;
            loop {
                match bytes.get(end)? {
                    b'"' if bytes.get(end + 1) == Some(&b'"') => end += 2,
                    b'"' => break,
                    _ => end += 1,
                }
            }
            let inner = self.sql.get(start + 1..end)?;
            if inner.is_empty() {
                return None;
            }
            self.at = end + 1;
            return Some(NamePart {
                written: self.sql.get(start..self.at)?,
                value: inner.replace("\"\"", "\""),
                quoted: true,
            });
        }
        let w = self.word()?;
        Some(NamePart {
            written: w,
            value: w.to_ascii_lowercase(),
            quoted: false,
        })
    }

    /// A constant: a number, a string, NULL/TRUE/FALSE/DEFAULT, optionally
    /// cast with `::type` (one-word types only).
    fn item(&mut self) -> Option<Item<'s>> {
        let start = self.at;
        let bytes = self.sql.as_bytes();
        let base = match self.peek()? {
            b'\'' => {
                let mut end = start + 1;
                let mut doubled = false;
                loop {
                    match bytes.get(end)? {
                        b'\'' if bytes.get(end + 1) == Some(&b'\'') => {
                            doubled = true;
                            end += 2;
                        }
                        b'\'' => break,
                        // Read differently without standard_conforming_strings.
                        b'\\' => return None,
                        _ => end += 1,
                    }
                }
                let inner = self.sql.get(start + 1..end)?;
                self.at = end + 1;
                Item::Text(if doubled {
                    Cow::Owned(inner.replace("''", "'"))
                } else {
                    Cow::Borrowed(inner)
                })
            }
            b'-' | b'0'..=b'9' | b'.' => {
                let integer = self.number()?;
                let text = self.sql.get(start..self.at)?;
                if integer {
                    Item::Integer(text)
                } else {
                    Item::Other(text)
                }
            }
            _ => {
                let w = self.word()?;
                if w.eq_ignore_ascii_case("default") {
                    // DEFAULT cannot be cast.
                    return Some(Item::Default);
                } else if w.eq_ignore_ascii_case("null") {
                    Item::Null
                } else if w.eq_ignore_ascii_case("true") || w.eq_ignore_ascii_case("false") {
                    Item::Other(w)
                } else {
                    return None;
                }
            }
        };
        let mut casts = Vec::new();
        loop {
            let before = self.at;
            self.skip_space()?;
            if self.sql.as_bytes().get(self.at..self.at + 2) != Some(b"::") {
                self.at = before;
                break;
            }
            self.at += 2;
            self.skip_space()?;
            casts.push(self.word()?);
        }
        let written = self.sql.get(start..self.at)?;
        Some(match (casts.as_slice(), base) {
            ([], base) => base,
            // `-1::int` is `-(1::int)`: left, with repeated casts, to the parser.
            ([to], Item::Integer(digits)) if !digits.starts_with('-') => Item::Cast {
                value: CastValue::Integer(digits),
                to,
                written,
            },
            ([to], Item::Text(text)) => Item::Cast {
                value: CastValue::Text(text),
                to,
                written,
            },
            ([to], Item::Null) => Item::Cast {
                value: CastValue::Null,
                to,
                written,
            },
            _ => Item::Other(written),
        })
    }

    /// A numeric constant (`-` only directly before a digit); true when it
    /// is an integer. The byte after it must end it.
    fn number(&mut self) -> Option<bool> {
        let bytes = self.sql.as_bytes();
        let digits = |at: &mut usize| {
            let from = *at;
            while bytes.get(*at).is_some_and(u8::is_ascii_digit) {
                *at += 1;
            }
            *at - from
        };
        let mut at = self.at;
        if bytes.get(at) == Some(&b'-') {
            at += 1;
        }
        let whole = digits(&mut at);
        let mut integer = true;
        if bytes.get(at) == Some(&b'.') {
            at += 1;
            integer = false;
            if whole + digits(&mut at) == 0 {
                return None;
            }
        } else if whole == 0 {
            return None;
        }
        if matches!(bytes.get(at), Some(b'e' | b'E')) {
            at += 1;
            if matches!(bytes.get(at), Some(b'+' | b'-')) {
                at += 1;
            }
            if digits(&mut at) == 0 {
                return None;
            }
            integer = false;
        }
        // `1abc`, `1.2.3`, `0x1F`: not a plain number.
        if bytes
            .get(at)
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'.' || !b.is_ascii())
        {
            return None;
        }
        self.at = at;
        Some(integer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_head() {
        let sql = "insert INTO public.\"Logs\" (id, \"Created\") values (1, '2025-01-01')";
        let h = scan_head(sql).unwrap();
        assert_eq!(h.name.len(), 2);
        assert_eq!(h.name[1].written, "\"Logs\"");
        assert_eq!(h.name[1].value, "Logs");
        assert_eq!(&sql[h.name_range.0..h.name_range.1], "public.\"Logs\"");
        assert_eq!(h.columns, Some(vec!["id".to_owned(), "Created".to_owned()]));
        assert_eq!(&sql[h.rows_from..], " (1, '2025-01-01')");
        let h = scan_head("INSERT INTO logs VALUES(1)").unwrap();
        assert_eq!(h.columns, None);
        for other in [
            "INSERT INTO logs AS l VALUES (1)",
            "INSERT INTO logs (id) SELECT 1",
            "INSERT INTO logs DEFAULT VALUES",
            "INSERT INTO a.b.c VALUES (1)",
            "INSERT /* hint */ INTO logs VALUES (1)",
            "INSERT INTO logs (id) OVERRIDING SYSTEM VALUE VALUES (1)",
            "WITH x AS (SELECT 1) INSERT INTO logs VALUES (1)",
            "INSERT INTO lögs VALUES (1)",
            "INSERT INTO values VALUES (1)",
        ] {
            assert_eq!(scan_head(other), None, "{other}");
        }
    }

    fn rows(sql: &str, key_at: Option<usize>) -> Option<Rows<'_>> {
        let h = scan_head(sql)?;
        scan_rows(sql, h.rows_from, key_at)
    }

    #[test]
    fn reads_rows_of_constants() {
        let sql = "INSERT INTO t VALUES (1, 'it''s', NULL),\n (-20, 'b', DEFAULT) ,(3.5e2, 'x'::text, true);  ";
        let r = rows(sql, Some(0)).unwrap();
        assert_eq!(r.width, 3);
        let keys: Vec<_> = r.rows.iter().map(|r| r.key.clone().unwrap()).collect();
        assert_eq!(
            keys,
            vec![KeyItem::Integer("1"), KeyItem::Integer("-20"), KeyItem::Other("3.5e2")]
        );
        assert_eq!(&sql[r.rows[1].range.0..r.rows[1].range.1], "(-20, 'b', DEFAULT)");
        assert_eq!(
            r.rows.iter().map(|r| r.has_default).collect::<Vec<_>>(),
            [false, true, false]
        );
        let r = rows(sql, Some(1)).unwrap();
        assert_eq!(r.rows[0].key, Some(KeyItem::Text(Cow::Owned("it's".into()))));
        assert_eq!(
            r.rows[2].key,
            Some(KeyItem::Cast {
                value: CastValue::Text(Cow::Borrowed("x")),
                to: "text",
                written: "'x'::text"
            })
        );
        let r = rows(sql, Some(2)).unwrap();
        assert_eq!(r.rows[0].key, Some(KeyItem::Null));
        assert_eq!(r.rows[1].key, Some(KeyItem::Default));
        assert_eq!(rows(sql, None).unwrap().rows[0].key, None);
    }

    #[test]
    fn leaves_everything_else_to_the_parser() {
        for other in [
            "INSERT INTO t VALUES (1), (2, 3)",
            "INSERT INTO t VALUES (1) RETURNING *",
            "INSERT INTO t VALUES (1) ON CONFLICT DO NOTHING",
            "INSERT INTO t VALUES (1); SELECT 1",
            "INSERT INTO t VALUES ($1)",
            "INSERT INTO t VALUES (now())",
            "INSERT INTO t VALUES (1 + 1)",
            "INSERT INTO t VALUES (+1)",
            "INSERT INTO t VALUES (- 1)",
            "INSERT INTO t VALUES (0x1F)",
            "INSERT INTO t VALUES (1.2.3)",
            "INSERT INTO t VALUES (E'a')",
            "INSERT INTO t VALUES ('a\\')",
            "INSERT INTO t VALUES ('a' 'b')",
            "INSERT INTO t VALUES ('a'\n'b')",
            "INSERT INTO t VALUES ($$a$$)",
            "INSERT INTO t VALUES (1) -- trailing comment",
            "INSERT INTO t VALUES (1 /* c */)",
            "INSERT INTO t VALUES ('x'::timestamp with time zone)",
            "INSERT INTO t VALUES ('x'::varchar(3))",
            "INSERT INTO t VALUES (DEFAULT::int)",
            "INSERT INTO t VALUES ('unterminated)",
            "INSERT INTO t VALUES ()",
            "INSERT INTO t VALUES (1),",
        ] {
            assert_eq!(rows(other, Some(0)), None, "{other}");
        }
    }
}
