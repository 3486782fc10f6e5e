//! Reading psql's `-a` transcripts of one regression file: cutting each into
//! the output that follows every statement (psql echoes the input lines, so
//! both transcripts line up on the file's own lines), comparing two of them
//! statement by statement, and the transaction-pooling masks.

use std::collections::HashMap;

/// One stretch of the input file: the lines up to one where psql may run
/// something (a `;` or a backslash command), and what psql printed after it.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// 1-based line in the SQL file where the stretch's statement starts
    /// (its first line that is neither empty nor a `--` comment).
    pub first_line: usize,
    /// The stretch's lines as written in the file.
    pub lines: Vec<String>,
    /// What psql printed after echoing the stretch; `None` when the
    /// transcript never echoes it (psql stopped, or lost its place).
    pub output: Option<Vec<String>>,
    /// 1-based line of the transcript where the output starts (0 if none).
    pub transcript_line: usize,
}

/// A transcript cut along the input: what came before the first echo, then
/// one segment per stretch of input.
#[derive(Debug, Clone, PartialEq)]
pub struct Cut {
    pub preamble: Vec<String>,
    pub segments: Vec<Segment>,
}

struct Stretch {
    first_line: usize,
    lines: Vec<String>,
    /// The lines psql echoes (COPY data lines it reads but does not echo).
    echoed: Vec<String>,
}

/// Lines that start `COPY ... FROM STDIN` (or `FROM STDOUT`, which psql also
/// reads from its input): the data lines after them, up to `\.`, are read
/// without being echoed.
fn starts_copy_data(line: &str) -> bool {
    let l = line.to_ascii_lowercase();
    (l.contains("from stdin") || l.contains("from stdout")) && l.trim_end().ends_with(';')
}

/// After which lines psql may print something: a `;` or a backslash
/// (meta-command) on the line. Over-approximating only adds empty outputs.
fn may_run(line: &str) -> bool {
    line.contains(';') || line.contains('\\')
}

fn stretches(input: &str) -> Vec<Stretch> {
    let mut out = Vec::new();
    let mut cur = Stretch {
        first_line: 1,
        lines: Vec::new(),
        echoed: Vec::new(),
    };
    let mut in_copy = false;
    for (i, line) in input.lines().enumerate() {
        if cur.lines.is_empty() {
            cur.first_line = i + 1;
        }
        cur.lines.push(line.to_owned());
        if in_copy {
            if line == "\\." {
                in_copy = false;
                out.push(std::mem::replace(
                    &mut cur,
                    Stretch {
                        first_line: i + 2,
                        lines: Vec::new(),
                        echoed: Vec::new(),
                    },
                ));
            }
            continue;
        }
        cur.echoed.push(line.to_owned());
        if starts_copy_data(line) {
            in_copy = true;
            continue;
        }
        if may_run(line) {
            out.push(std::mem::replace(
                &mut cur,
                Stretch {
                    first_line: i + 2,
                    lines: Vec::new(),
                    echoed: Vec::new(),
                },
            ));
        }
    }
    if !cur.lines.is_empty() {
        out.push(cur);
    }
    out
}

/// Where the echo of `echoed` (a stretch's non-empty lines) starts at or
/// after `from`, and where it ends: psql echoes an empty line only inside a
/// quote or parentheses, so empty transcript lines between the stretch's
/// lines are skipped, none before its first.
fn find_echo(t: &[&str], from: usize, echoed: &[&str]) -> Option<(usize, usize)> {
    (from..t.len()).find_map(|p| {
        let mut q = p;
        for (k, line) in echoed.iter().enumerate() {
            if k > 0 {
                while q < t.len() && t[q].is_empty() {
                    q += 1;
                }
            }
            if q >= t.len() || t[q] != *line {
                return None;
            }
            q += 1;
        }
        Some((p, q))
    })
}

/// Cuts `transcript` along `input`: each stretch's echo is looked for as a
/// whole run of lines at or after the current place, so a line of output is
/// not taken for an echo unless the whole stretch follows it.
pub fn cut(input: &str, transcript: &str) -> Cut {
    let t: Vec<&str> = transcript.lines().collect();
    let mut pos = 0;
    let mut preamble = None;
    let mut segments: Vec<Segment> = Vec::new();
    // The last segment echoed so far, whose output runs up to the next echo.
    let mut open: Option<usize> = None;
    for mut s in stretches(input) {
        if let Some(k) = s
            .lines
            .iter()
            .position(|l| !l.trim().is_empty() && !l.trim_start().starts_with("--"))
        {
            s.first_line += k;
        }
        let echoed: Vec<&str> = s.echoed.iter().map(String::as_str).filter(|l| !l.is_empty()).collect();
        if echoed.is_empty() {
            // Only empty lines (the end of the file): psql echoes nothing.
            continue;
        }
        match find_echo(&t, pos, &echoed) {
            Some((p, end)) => {
                let between: Vec<String> = t[pos..p].iter().map(|l| l.to_string()).collect();
                match open {
                    Some(k) => segments[k].output = Some(between),
                    None => preamble = Some(between),
                }
                open = Some(segments.len());
                pos = end;
                segments.push(Segment {
                    first_line: s.first_line,
                    lines: s.lines,
                    output: Some(Vec::new()),
                    transcript_line: pos + 1,
                });
            }
            None => segments.push(Segment {
                first_line: s.first_line,
                lines: s.lines,
                output: None,
                transcript_line: 0,
            }),
        }
    }
    let rest: Vec<String> = t[pos..].iter().map(|l| l.to_string()).collect();
    match open {
        Some(k) => segments[k].output = Some(rest),
        None => preamble = Some(rest),
    }
    Cut {
        preamble: preamble.unwrap_or_default(),
        segments,
    }
}

/// A token of SQL text: an identifier or keyword (lower-cased, quoted
/// identifiers as written) or one punctuation character.
#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Punct(char),
}

/// SQL text as tokens, skipping comments, and string literals unless
/// `strings` (then their contents are read as code too: a string passed to
/// a function that runs it, `'execute q1'`, names q1). Dollar-quoted bodies
/// are read as code: a function body naming a table names it.
fn tokens(text: &str, strings: bool) -> Vec<Token> {
    let c: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if ch == '-' && c.get(i + 1) == Some(&'-') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && c.get(i + 1) == Some(&'*') {
            i += 2;
            while i < c.len() && !(c[i] == '*' && c.get(i + 1) == Some(&'/')) {
                i += 1;
            }
            i += 2;
        } else if ch == '\'' {
            let start = i + 1;
            i += 1;
            while i < c.len() {
                if c[i] == '\'' && c.get(i + 1) == Some(&'\'') {
                    i += 2;
                } else if c[i] == '\'' {
                    break;
                } else {
                    i += 1;
                }
            }
            if strings {
                out.extend(tokens(&c[start..i.min(c.len())].iter().collect::<String>(), true));
            }
            i += 1;
        } else if ch == '"' {
            let start = i + 1;
            i += 1;
            while i < c.len() && c[i] != '"' {
                i += 1;
            }
            out.push(Token::Word(c[start..i.min(c.len())].iter().collect()));
            i += 1;
        } else if ch == '$' {
            // A dollar-quote tag ($$ or $tag$) or a parameter ($1): skipped.
            i += 1;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            if c.get(i) == Some(&'$') {
                i += 1;
            }
        } else if ch.is_alphabetic() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_' || c[i] == '$') {
                i += 1;
            }
            out.push(Token::Word(c[start..i].iter().collect::<String>().to_lowercase()));
        } else if ch.is_whitespace() || ch.is_ascii_digit() {
            i += 1;
        } else {
            out.push(Token::Punct(ch));
            i += 1;
        }
    }
    out
}

fn word(t: Option<&Token>) -> Option<&str> {
    match t {
        Some(Token::Word(w)) => Some(w),
        _ => None,
    }
}

/// The name at `i`, skipping any schema qualification (`public.foo` → foo).
fn name_at(t: &[Token], mut i: usize) -> Option<String> {
    let mut name = word(t.get(i))?.to_owned();
    while t.get(i + 1) == Some(&Token::Punct('.')) {
        match word(t.get(i + 2)) {
            Some(w) => {
                name = w.to_owned();
                i += 2;
            }
            None => break,
        }
    }
    Some(name)
}

/// Skips the words in `optional` at `i`.
fn skip(t: &[Token], mut i: usize, optional: &[&str]) -> usize {
    while word(t.get(i)).is_some_and(|w| optional.contains(&w)) {
        i += 1;
    }
    i
}

/// Words that follow the write keywords without being a table (`FOR UPDATE
/// OF`, `DO UPDATE SET`, ...).
const NOT_A_TABLE: &[&str] = &[
    "set",
    "select",
    "of",
    "only",
    "nowait",
    "skip",
    "where",
    "from",
    "table",
    "if",
    "exists",
    "values",
    "default",
    "with",
    "returning",
    "using",
];

/// The end of the statement starting at `i` (the next `;`).
fn statement_end(t: &[Token], i: usize) -> usize {
    (i..t.len()).find(|&k| t[k] == Token::Punct(';')).unwrap_or(t.len())
}

/// A temporary object a stretch creates, and the tables it is a child of.
struct TempObject {
    name: String,
    parents: Vec<String>,
}

/// Temporary objects a stretch creates: `CREATE TEMP TABLE|VIEW|SEQUENCE x`
/// (with the parents it INHERITS or is a PARTITION OF), `SELECT ... INTO
/// TEMP x`, and indexes on temporary tables in `temps`.
fn temp_objects_created(t: &[Token], temps: &HashMap<String, usize>) -> Vec<TempObject> {
    let mut out = Vec::new();
    for i in 0..t.len() {
        let w = word(t.get(i));
        let temp = |j: usize| matches!(word(t.get(j)), Some("temp" | "temporary"));
        if w == Some("create") {
            let j = skip(t, i + 1, &["global", "local"]);
            if temp(j) {
                let k = skip(t, j + 1, &["unlogged"]);
                if matches!(word(t.get(k)), Some("table" | "view" | "sequence")) {
                    let k = skip(t, k + 1, &["if", "not", "exists"]);
                    if let Some(name) = name_at(t, k) {
                        let end = statement_end(t, k);
                        let mut parents = Vec::new();
                        for m in k..end {
                            match word(t.get(m)) {
                                Some("inherits") => {
                                    let mut n = m + 1;
                                    while n < end && t[n] != Token::Punct(')') {
                                        if t[n] != Token::Punct('.') && t.get(n + 1) != Some(&Token::Punct('.')) {
                                            parents.extend(word(t.get(n)).map(str::to_owned));
                                        }
                                        n += 1;
                                    }
                                }
                                Some("partition") if word(t.get(m + 1)) == Some("of") => {
                                    parents.extend(name_at(t, m + 2));
                                }
                                _ => {}
                            }
                        }
                        out.push(TempObject { name, parents });
                    }
                }
            } else {
                // CREATE [UNIQUE] INDEX [CONCURRENTLY] [IF NOT EXISTS] name ON [ONLY] table
                let k = skip(t, i + 1, &["unique"]);
                if word(t.get(k)) == Some("index") {
                    let k = skip(t, k + 1, &["concurrently", "if", "not", "exists"]);
                    if let (Some(name), Some("on")) = (word(t.get(k)), word(t.get(k + 1))) {
                        let table = name_at(t, skip(t, k + 2, &["only"]));
                        if table.is_some_and(|tb| temps.contains_key(&tb)) {
                            out.push(TempObject {
                                name: name.to_owned(),
                                parents: Vec::new(),
                            });
                        }
                    }
                }
            }
        } else if w == Some("into") && temp(i + 1) {
            let k = skip(t, i + 2, &["table"]);
            out.extend(name_at(t, k).map(|name| TempObject {
                name,
                parents: Vec::new(),
            }));
        }
    }
    out
}

/// Suffixes PostgreSQL gives the indexes and constraints it names after a
/// table (`tp_pkey`, `tp_b_a_key`, `t_a_idx`, ...).
const GENERATED_SUFFIXES: &[&str] = &["_pkey", "_key", "_idx", "_fkey", "_check", "_excl", "_not_null", "_seq"];

/// Names a stretch gives to SQL prepared statements (`PREPARE name`, not
/// `PREPARE TRANSACTION`).
fn prepared(t: &[Token]) -> Vec<String> {
    let mut out = Vec::new();
    for i in 0..t.len() {
        let after_deallocate = i > 0 && word(t.get(i - 1)) == Some("deallocate");
        if word(t.get(i)) == Some("prepare")
            && !after_deallocate
            && word(t.get(i + 1)).is_some_and(|w| w != "transaction")
        {
            out.extend(name_at(t, i + 1));
        }
    }
    out
}

/// Prepared-statement names a stretch uses: `EXECUTE name` (also inside
/// EXPLAIN), `DEALLOCATE [PREPARE] name`, or `PREPARE name` again.
fn prepared_used(t: &[Token]) -> Vec<String> {
    let mut out = Vec::new();
    for i in 0..t.len() {
        let after_deallocate = i > 0 && word(t.get(i - 1)) == Some("deallocate");
        match word(t.get(i)) {
            Some("execute") => out.extend(name_at(t, i + 1)),
            Some("prepare") if !after_deallocate => out.extend(name_at(t, i + 1)),
            Some("deallocate") => out.extend(name_at(t, skip(t, i + 1, &["prepare"]))),
            _ => {}
        }
    }
    out
}

/// Tables a stretch writes: INSERT INTO, UPDATE, DELETE FROM, COPY,
/// TRUNCATE, ALTER TABLE, CREATE TABLE, MERGE INTO.
fn written(t: &[Token]) -> Vec<String> {
    let mut out = Vec::new();
    for i in 0..t.len() {
        let at = match (word(t.get(i)), word(t.get(i + 1))) {
            (Some("insert" | "merge"), Some("into")) | (Some("delete"), Some("from")) => Some(i + 2),
            (Some("update" | "copy"), _) => Some(i + 1),
            (Some("truncate"), _) => Some(skip(t, i + 1, &["table"])),
            (Some("alter" | "create"), Some("table")) => Some(skip(t, i + 2, &["if", "not", "exists"])),
            _ => None,
        };
        if let Some(k) = at {
            let k = skip(t, k, &["only"]);
            if let Some(name) = name_at(t, k).filter(|n| !NOT_A_TABLE.contains(&n.as_str())) {
                out.push(name);
            }
        }
    }
    out
}

/// Roles a SQL file creates (`CREATE ROLE|USER|GROUP name`): roles belong
/// to the cluster, not to the database, so they are dropped after each run.
pub fn roles_created(sql: &str) -> Vec<String> {
    let t = tokens(sql, false);
    let mut out = Vec::new();
    for i in 0..t.len() {
        if word(t.get(i)) == Some("create") && matches!(word(t.get(i + 1)), Some("role" | "user" | "group")) {
            out.extend(name_at(&t, i + 2).filter(|n| n != "mapping"));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// How a segment compares.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Same,
    /// Differs, for a reason the transaction-pooling limit explains.
    Masked(String),
    Differs,
}

/// What a transcript under transaction pooling may lose, learnt statement
/// by statement: name -> (line that made it so, what).
#[derive(Default)]
struct Limit {
    temps: HashMap<String, usize>,
    temp_parents: HashMap<String, (String, usize)>,
    prepares: HashMap<String, usize>,
    tainted: HashMap<String, usize>,
}

impl Limit {
    /// Why a differing statement may differ, if the limit explains it.
    fn explain(&self, with_strings: &[Token]) -> Option<String> {
        let names: Vec<&str> = with_strings.iter().filter_map(|x| word(Some(x))).collect();
        for n in &names {
            if let Some(line) = self.temps.get(*n) {
                return Some(format!("temporary object {n} (created at line {line})"));
            }
            let derived = self.temps.iter().find(|(temp, _)| {
                n.strip_prefix(temp.as_str())
                    .is_some_and(|rest| rest.starts_with('_') && GENERATED_SUFFIXES.iter().any(|s| rest.ends_with(s)))
            });
            if let Some((temp, line)) = derived {
                return Some(format!(
                    "{n}, named after temporary table {temp} (created at line {line})"
                ));
            }
        }
        for n in prepared_used(with_strings) {
            if let Some(line) = self.prepares.get(&n) {
                return Some(format!("prepared statement {n} (prepared at line {line})"));
            }
        }
        for n in &names {
            if let Some((child, line)) = self.temp_parents.get(*n) {
                return Some(format!(
                    "table {n}, parent of temporary table {child} (created at line {line})"
                ));
            }
        }
        names.iter().find_map(|n| {
            self.tainted
                .get(*n)
                .map(|line| format!("table {n} (written at line {line} by a masked statement)"))
        })
    }

    /// Notes what a statement creates, prepares or (when it was masked) writes.
    fn learn(&mut self, code: &[Token], line: usize, masked: bool) {
        if masked {
            for w in written(code) {
                self.tainted.entry(w).or_insert(line);
            }
        }
        for o in temp_objects_created(code, &self.temps) {
            for p in o.parents {
                self.temp_parents.entry(p).or_insert((o.name.clone(), line));
            }
            self.temps.entry(o.name).or_insert(line);
        }
        for n in prepared(code) {
            self.prepares.entry(n).or_insert(line);
        }
    }
}

/// Compares two cuts of the same input segment by segment. With
/// `transaction_limit`, a differing segment is masked when — and only when —
/// transaction pooling's documented limit explains it: temporary tables and
/// SQL prepared statements do not outlive their transaction (the proxy runs
/// DISCARD ALL when it takes the server back), so a statement may differ
/// when it names, after the statement that made them,
/// - a temporary table, view or sequence, an index on a temporary table, or
///   an index or constraint PostgreSQL named after a temporary table
///   (`tp_pkey`): gone, or a permanent table of that name found instead;
/// - a table a temporary table inherits from or is a partition of: its
///   reads no longer include the temporary child's rows;
/// - a prepared statement (`EXECUTE`, `DEALLOCATE`, a repeated `PREPARE`,
///   also inside a string run by a function): gone;
/// - a table written by a statement masked for one of these reasons: it
///   holds other rows from then on.
///
/// Names are read from the statement's text (a temporary table called `t`
/// masks any later differing statement naming `t`); every mask names its
/// cause, and nothing else is excused.
pub fn compare(direct: &Cut, proxy: &Cut, transaction_limit: bool) -> Vec<Verdict> {
    let mut limit = Limit::default();
    let mut out = Vec::new();
    for (d, p) in direct.segments.iter().zip(&proxy.segments) {
        let text = d.lines.join("\n");
        let code = tokens(&text, false);
        let verdict = if d.output == p.output {
            Verdict::Same
        } else if !transaction_limit {
            Verdict::Differs
        } else {
            match limit.explain(&tokens(&text, true)) {
                Some(reason) => Verdict::Masked(reason),
                None => Verdict::Differs,
            }
        };
        limit.learn(&code, d.first_line, matches!(verdict, Verdict::Masked(_)));
        out.push(verdict);
    }
    out
}

/// A line diff of `a` against `b` (longest common subsequence): lines
/// prefixed `-` (only in a), `+` (only in b) or ` ` (both).
pub fn line_diff(a: &[String], b: &[String]) -> Vec<String> {
    let (n, m) = (a.len(), b.len());
    if n * m > 4_000_000 {
        return a
            .iter()
            .map(|l| format!("-{l}"))
            .chain(b.iter().map(|l| format!("+{l}")))
            .collect();
    }
    // lcs[i][j]: length of the LCS of a[i..] and b[j..]
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            out.push(format!(" {}", a[i]));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            out.push(format!("-{}", a[i]));
            i += 1;
        } else {
            out.push(format!("+{}", b[j]));
            j += 1;
        }
    }
    out
}

/// A diff with unchanged lines kept only within `context` lines of a
/// change; each run left out becomes one ` …` line.
pub fn trim_context(diff: &[String], context: usize) -> Vec<String> {
    let changed: Vec<usize> = (0..diff.len()).filter(|&k| !diff[k].starts_with(' ')).collect();
    let near = |k: usize| changed.iter().any(|&c| c.abs_diff(k) <= context);
    let mut out = Vec::new();
    for (k, line) in diff.iter().enumerate() {
        if near(k) {
            out.push(line.clone());
        } else if out.last().map(String::as_str) != Some(" …") {
            out.push(" …".to_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const INPUT: &str = "-- a comment\nselect 1;\n\ncreate temp table tt (a int);\ncopy tt from stdin;\n1\n2\n\\.\nselect * from tt;\n\nexecute q;\n";

    fn transcript(table_rows: &str) -> String {
        format!(
            "-- a comment\nselect 1;\n ?column? \n----------\n        1\n(1 row)\n\ncreate temp table tt (a int);\ncopy tt from stdin;\nselect * from tt;\n{table_rows}execute q;\nERROR:  prepared statement \"q\" does not exist\n"
        )
    }

    #[test]
    fn regress_transcript_cut_on_echoed_lines() {
        let cut = cut(INPUT, &transcript(" a \n---\n 1\n 2\n(2 rows)\n\n"));
        assert!(cut.preamble.is_empty());
        let first: Vec<usize> = cut.segments.iter().map(|s| s.first_line).collect();
        assert_eq!(first, vec![2, 4, 5, 9, 11]);
        // The table's own trailing empty line stays its output (psql does not
        // echo the file's empty lines between statements).
        assert_eq!(
            cut.segments[0].output.as_deref().unwrap(),
            &[" ?column? ", "----------", "        1", "(1 row)", ""]
        );
        assert_eq!(cut.segments[3].output.as_deref().unwrap().len(), 6);
        assert_eq!(cut.segments[4].output.as_deref().unwrap().len(), 1);
        // An empty line inside a quote is echoed.
        let quoted = super::cut("select 'a\n\nb';\n", "select 'a\n\nb';\n ?column? \n");
        assert_eq!(quoted.segments[0].output.as_deref().unwrap(), &[" ?column? "]);
    }

    #[test]
    fn regress_transcript_masks_only_what_transaction_pooling_explains() {
        let direct = cut(INPUT, &transcript(" a \n---\n 1\n 2\n(2 rows)\n\n"));
        let proxy = cut(INPUT, &transcript("ERROR:  relation \"tt\" does not exist\n"));
        let v = compare(&direct, &proxy, true);
        assert!(matches!(&v[3], Verdict::Masked(r) if r.contains("tt")), "{v:?}");
        assert_eq!(compare(&direct, &proxy, false)[3], Verdict::Differs);
        // A stopped transcript: the missing segments differ.
        let stopped = cut(
            INPUT,
            "-- a comment\nselect 1;\nserver closed the connection unexpectedly\n",
        );
        assert!(stopped.segments[1].output.is_none());
        assert_eq!(compare(&direct, &stopped, true)[1], Verdict::Differs);
    }

    #[test]
    fn regress_transcript_names_read_from_sql() {
        let t = tokens("insert into public.w select * from \"T\" -- x\n where s = 'a;b' for update; prepare p1 as select $1; deallocate prepare p2", false);
        assert_eq!(written(&t), vec!["w"]);
        assert_eq!(prepared(&t), vec!["p1"]);
        assert_eq!(prepared_used(&t), vec!["p1", "p2"]);
        assert!(t.contains(&Token::Word("T".into())));
        assert!(!t.contains(&Token::Word("b".into())));
        let t = tokens(
            "CREATE TEMP TABLE q11 PARTITION OF public.q1 FOR VALUES IN (1); select 1 into temp table zz;",
            false,
        );
        let created = temp_objects_created(&t, &HashMap::new());
        let names: Vec<&str> = created.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, vec!["q11", "zz"]);
        assert_eq!(created[0].parents, vec!["q1"]);
        let t = tokens(
            "create temp table c (x int) inherits (a, public.b); create unique index ci on c (x);",
            false,
        );
        let mut temps = HashMap::new();
        temps.insert("c".to_owned(), 1);
        let created = temp_objects_created(&t, &temps);
        assert_eq!(created[0].parents, vec!["a", "b"]);
        assert_eq!(created[1].name, "ci");
        let t = tokens("select f('execute q1 (1)')", true);
        assert_eq!(prepared_used(&t), vec!["q1"]);
    }

    #[test]
    fn regress_transcript_line_diff() {
        let a: Vec<String> = ["x", "y", "z"].map(String::from).to_vec();
        let b: Vec<String> = ["x", "z", "w"].map(String::from).to_vec();
        assert_eq!(line_diff(&a, &b), vec![" x", "-y", " z", "+w"]);
        let long: Vec<String> = (0..20)
            .map(|k| format!(" {k}"))
            .chain(["-a".to_owned(), "+b".to_owned()])
            .collect();
        let trimmed = trim_context(&long, 3);
        assert_eq!(trimmed, vec![" …", " 17", " 18", " 19", "-a", "+b"]);
    }
}
