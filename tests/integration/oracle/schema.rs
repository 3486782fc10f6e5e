//! The oracle's schema: partition-key types with the values worth testing
//! (at and around every bound, plus the awkward ones), and the hierarchies
//! built on them — legacy inheritance with CHECK constraints and an
//! IF/ELSIF insert trigger, declarative RANGE (with and without DEFAULT),
//! LIST, a two-column key, expression keys, two levels, identity and serial
//! keys — each with its DDL and seed rows.

use std::sync::Arc;

/// A PostgreSQL type a value is declared or cast as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SqlType {
    pub name: &'static str,
    pub oid: u32,
    pub array_oid: u32,
}

const fn ty(name: &'static str, oid: u32, array_oid: u32) -> SqlType {
    SqlType { name, oid, array_oid }
}

pub const INT2: SqlType = ty("int2", 21, 1005);
pub const INT4: SqlType = ty("int4", 23, 1007);
pub const INT8: SqlType = ty("int8", 20, 1016);
pub const NUMERIC: SqlType = ty("numeric", 1700, 1231);
pub const FLOAT4: SqlType = ty("float4", 700, 1021);
pub const FLOAT8: SqlType = ty("float8", 701, 1022);
pub const DATE: SqlType = ty("date", 1082, 1182);
pub const TIMESTAMP: SqlType = ty("timestamp", 1114, 1115);
pub const TIMESTAMPTZ: SqlType = ty("timestamptz", 1184, 1185);
pub const TEXT: SqlType = ty("text", 25, 1009);
pub const VARCHAR: SqlType = ty("varchar", 1043, 1015);
pub const BPCHAR: SqlType = ty("bpchar", 1042, 1014);
pub const NAME: SqlType = ty("name", 19, 1003);
pub const UUID: SqlType = ty("uuid", 2950, 2951);

/// A value a case compares the key with or inserts as the key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Value {
    Null,
    /// This exact text (as a parameter, or quoted as the session needs).
    Text(&'static str),
    /// SQL literal text sent as written, whose meaning depends on the
    /// session (`'\x68'` is `h` only with standard_conforming_strings off).
    Raw(&'static str),
}

/// A partition-key type and the values tried against it.
pub struct KeyType {
    /// The name categories use.
    pub label: &'static str,
    /// The column's type as declared.
    pub column: &'static str,
    /// Types values are cast to or declared as; the key's own type first.
    pub types: Vec<SqlType>,
    /// Child bounds, ascending.
    pub bounds: Vec<&'static str>,
    pub values: Vec<Value>,
}

impl KeyType {
    /// The key's own type (what an unspecified parameter is inferred as).
    pub fn own(&self) -> SqlType {
        self.types[0]
    }
}

fn texts(list: &[&'static str]) -> Vec<Value> {
    let mut out: Vec<Value> = list.iter().map(|t| Value::Text(t)).collect();
    out.push(Value::Null);
    out
}

fn int_key(
    label: &'static str,
    column: &'static str,
    own: SqlType,
    bounds: [&'static str; 4],
    extra: &[&'static str],
) -> KeyType {
    let mut types = vec![own];
    types.extend(
        [INT2, INT4, INT8, NUMERIC, FLOAT4, FLOAT8]
            .into_iter()
            .filter(|t| *t != own),
    );
    let mut values = texts(&[
        "-1",
        "0",
        "1",
        "99",
        "100",
        "101",
        "199",
        "200",
        "201",
        "299",
        "300",
        "301",
        "99.5",
        "100.5",
        "-0.5",
        "100.0",
        "1e2",
        " 100",
        "+100",
        "99.999999999999999999",
        "NaN",
        "Infinity",
        "-1000",
        "40000",
    ]);
    values.extend(extra.iter().map(|t| Value::Text(t)));
    KeyType {
        label,
        column,
        types,
        bounds: bounds.to_vec(),
        values,
    }
}

fn numeric_key(label: &'static str, column: &'static str, extra: &[&'static str]) -> KeyType {
    let mut values = texts(&[
        "-0.000001",
        "0",
        "-0",
        "99.5",
        "99.99999999999999999999",
        "100",
        "100.000",
        "1e2",
        "100.00000000000000000001",
        "200.49",
        "200.5",
        "200.50",
        "200.51",
        "299.999",
        "300",
        "NaN",
        "Infinity",
        "-Infinity",
        "1e400",
    ]);
    values.extend(extra.iter().map(|t| Value::Text(t)));
    KeyType {
        label,
        column,
        types: vec![NUMERIC, INT4, INT8, FLOAT8],
        bounds: vec!["0", "100", "200.5", "300"],
        values,
    }
}

fn date_key() -> KeyType {
    KeyType {
        label: "date",
        column: "date",
        types: vec![DATE, TIMESTAMP, TIMESTAMPTZ],
        bounds: vec!["2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01"],
        values: texts(&[
            "2023-12-31",
            "2024-01-01",
            "2024-01-02",
            "2024-01-31",
            "2024-02-01",
            "2024-02-02",
            "2024-02-29",
            "2024-03-01",
            "2024-03-31",
            "2024-04-01",
            "2024-01-31 23:59:59",
            "2024-01-31 23:59:59.9999995",
            "2024-02-01 00:00:00+00",
            "2024-02-01 12:00",
            "20240201",
            "Feb 1, 2024",
            "2024-02-30",
            "infinity",
            "-infinity",
            "epoch",
        ]),
    }
}

/// Timestamp values: bounds include the New York DST gap (02:30 on
/// 2024-03-10 does not exist) and repeat (01:30 on 2024-11-03 happens twice).
const TIMESTAMP_VALUES: &[&str] = &[
    "2023-12-31 23:59:59.999999",
    "2024-01-01 00:00:00",
    "2024-01-31 23:59:59.999999",
    "2024-01-31 23:59:59.9999994",
    "2024-01-31 23:59:59.9999995",
    "2024-01-31 23:59:59.5",
    "2024-01-31 23:59:59.4",
    "2024-02-01 00:00:00",
    "2024-02-01 00:00:00.000001",
    "2024-02-01",
    "2024-02-01T00:00:00",
    "2024-02-01 00:00:00+05",
    "2024-03-10 02:29:59.999999",
    "2024-03-10 02:30:00",
    "2024-03-10 02:30:00.000001",
    "2024-03-10 02:30:00-05",
    "2024-03-10 03:30:00",
    "2024-11-03 01:29:59.999999",
    "2024-11-03 01:30:00",
    "2024-11-03 01:30:00 EST",
    "2024-11-03 01:30:00.000001",
    "2024-12-31 23:59:59.999999",
    "2025-01-01 00:00:00",
    "infinity",
    "-infinity",
];

fn timestamp_key(label: &'static str, column: &'static str) -> KeyType {
    KeyType {
        label,
        column,
        types: vec![TIMESTAMP, TIMESTAMPTZ, DATE],
        bounds: vec![
            "2024-01-01 00:00:00",
            "2024-02-01 00:00:00",
            "2024-03-10 02:30:00",
            "2024-11-03 01:30:00",
            "2025-01-01 00:00:00",
        ],
        values: texts(TIMESTAMP_VALUES),
    }
}

/// Bounds in UTC: 07:30 UTC is 02:30 EST (the gap read as standard time),
/// 06:00 UTC lies between the two readings of 01:30 on 2024-11-03.
fn timestamptz_key() -> KeyType {
    KeyType {
        label: "timestamptz",
        column: "timestamptz",
        types: vec![TIMESTAMPTZ, TIMESTAMP, DATE],
        bounds: vec![
            "2024-01-01 00:00:00+00",
            "2024-02-01 00:00:00+00",
            "2024-03-10 07:30:00+00",
            "2024-11-03 06:00:00+00",
            "2025-01-01 00:00:00+00",
        ],
        values: texts(&[
            "2023-12-31 23:59:59.999999+00",
            "2024-01-01 00:00:00+00",
            "2024-01-31 23:59:59.999999+00",
            "2024-01-31 23:59:59.9999995+00",
            "2024-01-31 23:59:59.9999995",
            "2024-02-01 00:00:00+00",
            "2024-02-01 00:00:00.000001+00",
            "2024-02-01 00:00:00",
            "2024-02-01",
            "2024-01-31 19:00:00-05",
            "2024-02-01 05:30:00+05:30",
            "2024-01-31 21:00:00 America/Sao_Paulo",
            "2024-03-10 07:29:59.999999+00",
            "2024-03-10 07:30:00+00",
            "2024-03-10 02:30:00",
            "2024-03-10 03:30:00",
            "2024-03-10 02:30:00 America/New_York",
            "2024-11-03 05:59:59.999999+00",
            "2024-11-03 06:00:00+00",
            "2024-11-03 01:30:00",
            "2024-11-03 01:30:00 EDT",
            "2024-11-03 01:30:00 EST",
            "2024-11-03 01:00:00",
            "2024-11-03 06:00:00",
            "2025-01-01 00:00:00+00",
            "infinity",
            "-infinity",
            "epoch",
        ]),
    }
}

fn text_key(label: &'static str, column: &'static str, own: SqlType, extra: &[&'static str]) -> KeyType {
    let mut types = vec![own];
    types.extend([TEXT, VARCHAR, BPCHAR, NAME].into_iter().filter(|t| *t != own));
    let mut values = texts(&[
        "", "A", "Z", "a", "a ", "g", "gzz", "h", "h ", "ha", "H", "o", "p", "p\\", "x", "xyz", "é", "it's",
    ]);
    values.extend(extra.iter().map(|t| Value::Text(t)));
    values.extend([Value::Raw("'\\x68'"), Value::Raw("'g\\\\z'"), Value::Raw("E'\\x70'")]);
    KeyType {
        label,
        column,
        types,
        bounds: vec!["a", "h", "p", "x"],
        values,
    }
}

fn uuid_key() -> KeyType {
    KeyType {
        label: "uuid",
        column: "uuid",
        types: vec![UUID, TEXT],
        bounds: vec![
            "00000000-0000-0000-0000-000000000000",
            "40000000-0000-0000-0000-000000000000",
            "80000000-0000-0000-0000-000000000000",
            "c0000000-0000-0000-0000-000000000000",
        ],
        values: texts(&[
            "00000000-0000-0000-0000-000000000000",
            "3fffffff-ffff-ffff-ffff-ffffffffffff",
            "40000000-0000-0000-0000-000000000000",
            "40000000-0000-0000-0000-000000000001",
            "7fffffff-ffff-ffff-ffff-ffffffffffff",
            "80000000-0000-0000-0000-000000000000",
            "{80000000-0000-0000-0000-000000000000}",
            "80000000000000000000000000000000",
            "8000-0000-0000-0000-0000-0000-0000-0000",
            "bfffffff-ffff-ffff-ffff-ffffffffffff",
            "c0000000-0000-0000-0000-000000000000",
            "C0000000-0000-0000-0000-000000000000",
            "ffffffff-ffff-ffff-ffff-ffffffffffff",
            "not-a-uuid",
        ]),
    }
}

/// Every single-column key type, one hierarchy family each.
pub fn key_types() -> Vec<Arc<KeyType>> {
    let all = vec![
        int_key(
            "int2",
            "smallint",
            INT2,
            ["0", "100", "200", "300"],
            &["32767", "-32768"],
        ),
        int_key(
            "int4",
            "integer",
            INT4,
            ["0", "100", "200", "300"],
            &["2147483647", "2147483648"],
        ),
        int_key(
            "int8",
            "bigint",
            INT8,
            ["0", "100", "2147483648", "9000000000000000000"],
            &[
                "2147483647",
                "2147483648",
                "2147483649",
                "2147483648.5",
                "8999999999999999999",
                "9000000000000000000",
                "9223372036854775807",
                "9223372036854775808",
            ],
        ),
        numeric_key("numeric", "numeric", &[]),
        numeric_key(
            "numeric(10,2)",
            "numeric(10,2)",
            &["99.995", "99.994", "200.495", "200.494", "12345678901"],
        ),
        date_key(),
        timestamp_key("timestamp", "timestamp"),
        timestamp_key("timestamp(0)", "timestamp(0)"),
        timestamptz_key(),
        text_key("text", "text COLLATE \"C\"", TEXT, &[]),
        text_key(
            "varchar",
            "varchar(20) COLLATE \"C\"",
            VARCHAR,
            &["abcdefghijklmnopqrstuvwxyz"],
        ),
        uuid_key(),
    ];
    all.into_iter().map(Arc::new).collect()
}

/// A value tried in statements but never stored as a seed row: a row
/// holding it makes PostgreSQL fail while comparing it with a float8
/// (out of range), so an answer would depend on which children are
/// scanned, which is exactly what pruning changes.
const UNSEEDED: &str = "1e400";

/// How an INSERT fills one column.
#[derive(Clone, Copy, Debug)]
pub enum Col {
    /// A row number unique to the case.
    RowId,
    /// A note naming the case and row.
    Note,
    /// A value of the hierarchy's target `i`, in the case's form.
    Key(usize),
    /// The keyword DEFAULT.
    Default,
}

/// One way of writing an INSERT into a hierarchy.
#[derive(Clone, Debug)]
pub struct InsertShape {
    pub label: &'static str,
    pub overriding: bool,
    pub columns: Vec<(&'static str, Col)>,
}

/// Something a predicate constrains: a key column or expression.
#[derive(Clone)]
pub struct Target {
    pub expr: &'static str,
    pub key: Arc<KeyType>,
}

/// A partitioned parent with its children, as the oracle uses it.
pub struct Hierarchy {
    pub name: String,
    /// `legacy`, `range`, `range+default`, `list`, ... (for the report).
    pub kind: &'static str,
    /// Whether a trigger stores the rows (its INSERT reports `INSERT 0 0`).
    pub legacy: bool,
    pub ddl: String,
    pub targets: Vec<Target>,
    /// The SELECT list of read cases.
    pub show: &'static str,
    /// How seed rows are written (the first shape's key columns, crossed).
    pub seed_shape: InsertShape,
    pub inserts: Vec<InsertShape>,
    /// A sequence set to 999998 before each write, so generated keys
    /// straddle the 1000000 bound the same way on both sides.
    pub sequence: Option<String>,
}

impl Hierarchy {
    /// INSERT statements for the seed rows (each may fail: out of range).
    pub fn seed_rows(&self) -> Vec<String> {
        let keys: Vec<usize> = self
            .seed_shape
            .columns
            .iter()
            .filter_map(|(_, c)| match c {
                Col::Key(i) => Some(*i),
                _ => None,
            })
            .collect();
        let mut combos: Vec<Vec<Value>> = vec![vec![]];
        for i in &keys {
            let values: Vec<Value> = self.targets[*i]
                .key
                .values
                .iter()
                .filter(|v| !matches!(v, Value::Raw(_) | Value::Text(UNSEEDED)))
                .copied()
                .collect();
            combos = combos
                .into_iter()
                .flat_map(|c| {
                    values.iter().map(move |v| {
                        let mut c = c.clone();
                        c.push(*v);
                        c
                    })
                })
                .collect();
        }
        combos
            .iter()
            .enumerate()
            .map(|(n, combo)| self.seed_insert(n + 1, &keys, combo))
            .collect()
    }

    fn seed_insert(&self, n: usize, keys: &[usize], combo: &[Value]) -> String {
        let shape = &self.seed_shape;
        let names: Vec<&str> = shape.columns.iter().map(|(c, _)| *c).collect();
        let values: Vec<String> = shape
            .columns
            .iter()
            .map(|(_, c)| match c {
                Col::RowId => n.to_string(),
                Col::Note => format!("'seed-{n}'"),
                Col::Default => "DEFAULT".into(),
                Col::Key(i) => {
                    let at = keys.iter().position(|k| k == i).unwrap_or(0);
                    match combo[at] {
                        Value::Text(t) => quote(t, true),
                        _ => "NULL".into(),
                    }
                }
            })
            .collect();
        format!(
            "INSERT INTO {} ({}){} VALUES ({})",
            self.name,
            names.join(", "),
            if shape.overriding {
                " OVERRIDING SYSTEM VALUE"
            } else {
                ""
            },
            values.join(", ")
        )
    }
}

/// `text` as an SQL string literal for a session with the given
/// standard_conforming_strings (off: backslashes are escapes, so doubled).
pub fn quote(text: &str, standard: bool) -> String {
    let body = text.replace('\'', "''");
    if standard {
        format!("'{body}'")
    } else {
        format!("'{}'", body.replace('\\', "\\\\"))
    }
}

fn standard_insert() -> InsertShape {
    InsertShape {
        label: "INSERT",
        overriding: false,
        columns: vec![("id", Col::RowId), ("k", Col::Key(0)), ("note", Col::Note)],
    }
}

fn simple_targets(key: &Arc<KeyType>) -> Vec<Target> {
    vec![Target {
        expr: "k",
        key: key.clone(),
    }]
}

/// Child `i`'s constraint on `col` for bounds `lo`..`hi`, in one of three spellings.
fn range_check(i: usize, col: &str, lo: &str, hi: &str) -> String {
    let (lo, hi) = (quote(lo, true), quote(hi, true));
    match i % 3 {
        0 => format!("{col} >= {lo} AND {col} < {hi}"),
        1 => format!("{lo} <= {col} AND {col} < {hi}"),
        _ => format!("{col} < {hi} AND {col} >= {lo}"),
    }
}

/// A BEFORE INSERT trigger sending each row to the first child whose
/// condition (on `NEW`) holds, raising check_violation when none does.
fn route_trigger(parent: &str, branches: &[(String, String)]) -> String {
    let mut body = String::new();
    for (i, (child, cond)) in branches.iter().enumerate() {
        let word = if i == 0 { "IF" } else { "ELSIF" };
        body.push_str(&format!("  {word} {cond} THEN INSERT INTO {child} VALUES (NEW.*);\n"));
    }
    format!(
        "CREATE FUNCTION {parent}_route() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN\n{body}  ELSE RAISE EXCEPTION 'no child of {parent} for %', NEW USING ERRCODE = 'check_violation';\n  END IF;\n  RETURN NULL;\nEND $$;\n\
         CREATE TRIGGER {parent}_route BEFORE INSERT ON {parent} FOR EACH ROW EXECUTE FUNCTION {parent}_route();\n"
    )
}

/// Legacy inheritance: a child per bound interval, the parent proven empty.
fn legacy(key: &Arc<KeyType>) -> Hierarchy {
    let name = format!("leg_{}", slug(key.label));
    let mut ddl = format!(
        "CREATE TABLE {name} (id int, k {}, note text, CONSTRAINT {name}_empty CHECK (false) NO INHERIT);\n",
        key.column
    );
    let mut branches = Vec::new();
    for (i, w) in key.bounds.windows(2).enumerate() {
        let child = format!("{name}_{i}");
        ddl.push_str(&format!(
            "CREATE TABLE {child} (CHECK ({})) INHERITS ({name});\n",
            range_check(i, "k", w[0], w[1])
        ));
        branches.push((child, range_check(i, "NEW.k", w[0], w[1])));
    }
    ddl.push_str(&route_trigger(&name, &branches));
    simple(name, "legacy", true, ddl, key)
}

fn simple(name: String, kind: &'static str, legacy: bool, ddl: String, key: &Arc<KeyType>) -> Hierarchy {
    Hierarchy {
        name,
        kind,
        legacy,
        ddl,
        targets: simple_targets(key),
        show: "id, k::text",
        seed_shape: standard_insert(),
        inserts: vec![standard_insert()],
        sequence: None,
    }
}

/// Declarative RANGE on `k`: with a DEFAULT partition, or with a
/// MINVALUE partition below the first bound and none above the last.
fn range(key: &Arc<KeyType>, default: bool) -> Hierarchy {
    let name = format!("{}_{}", if default { "rngd" } else { "rng" }, slug(key.label));
    let mut ddl = format!(
        "CREATE TABLE {name} (id int, k {}, note text) PARTITION BY RANGE (k);\n",
        key.column
    );
    for (i, w) in key.bounds.windows(2).enumerate() {
        ddl.push_str(&format!(
            "CREATE TABLE {name}_{i} PARTITION OF {name} FOR VALUES FROM ({}) TO ({});\n",
            quote(w[0], true),
            quote(w[1], true)
        ));
    }
    if default {
        ddl.push_str(&format!("CREATE TABLE {name}_def PARTITION OF {name} DEFAULT;\n"));
    } else {
        ddl.push_str(&format!(
            "CREATE TABLE {name}_min PARTITION OF {name} FOR VALUES FROM (MINVALUE) TO ({});\n",
            quote(key.bounds[0], true)
        ));
    }
    simple(name, if default { "range+default" } else { "range" }, false, ddl, key)
}

/// A table-name piece for a type label: `numeric(10,2)` → `numeric10_2`.
fn slug(label: &str) -> String {
    label
        .chars()
        .filter(|c| !matches!(c, '(' | ')'))
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

fn list_key() -> Arc<KeyType> {
    let mut values = texts(&["eu", "us", "ca", "jp", "au", "EU", "uk", "", "eu "]);
    values.extend([Value::Raw("'\\x65u'"), Value::Raw("E'u\\x73'")]);
    Arc::new(KeyType {
        label: "text list",
        column: "text COLLATE \"C\"",
        types: vec![TEXT, VARCHAR, BPCHAR, NAME],
        bounds: vec![],
        values,
    })
}

/// Declarative LIST on text, with a NULL partition and optionally a DEFAULT.
fn list(key: &Arc<KeyType>, default: bool) -> Hierarchy {
    let name = if default { "lstd_text" } else { "lst_text" }.to_owned();
    let mut ddl = format!(
        "CREATE TABLE {name} (id int, k {}, note text) PARTITION BY LIST (k);\n\
         CREATE TABLE {name}_eu PARTITION OF {name} FOR VALUES IN ('eu');\n\
         CREATE TABLE {name}_na PARTITION OF {name} FOR VALUES IN ('us', 'ca');\n\
         CREATE TABLE {name}_null PARTITION OF {name} FOR VALUES IN (NULL);\n",
        key.column
    );
    if default {
        ddl.push_str(&format!("CREATE TABLE {name}_def PARTITION OF {name} DEFAULT;\n"));
    }
    simple(name, if default { "list+default" } else { "list" }, false, ddl, key)
}

/// Legacy list: equality, IN and = ANY children, and a trigger.
fn legacy_list(key: &Arc<KeyType>) -> Hierarchy {
    let name = "leglst_text".to_owned();
    let conds = [
        ("eu", "k = 'eu'"),
        ("na", "k IN ('us', 'ca')"),
        ("apac", "k = ANY (ARRAY['jp', 'au'])"),
    ];
    let mut ddl = format!(
        "CREATE TABLE {name} (id int, k {}, note text, CONSTRAINT {name}_empty CHECK (false) NO INHERIT);\n",
        key.column
    );
    let mut branches = Vec::new();
    for (suffix, cond) in conds {
        ddl.push_str(&format!(
            "CREATE TABLE {name}_{suffix} (CHECK ({cond})) INHERITS ({name});\n"
        ));
        branches.push((format!("{name}_{suffix}"), cond.replace("k ", "NEW.k ")));
    }
    ddl.push_str(&route_trigger(&name, &branches));
    simple(name, "legacy list", true, ddl, key)
}

fn small_int(label: &'static str, values: &[&'static str]) -> Arc<KeyType> {
    Arc::new(KeyType {
        label,
        column: "integer",
        types: vec![INT4, INT2, INT8, NUMERIC, FLOAT8],
        bounds: vec![],
        values: texts(values),
    })
}

/// RANGE on (a, b): `FROM (1, 0) TO (1, 10)`, `FROM (1, 10) TO (2, 0)`, and
/// a DEFAULT, or MINVALUE/MAXVALUE partitions around them.
fn multi_column(default: bool) -> Hierarchy {
    let name = if default { "mcd" } else { "mc" }.to_owned();
    let a = small_int("int4 (a)", &["0", "1", "2", "3", "1.5"]);
    let b = small_int("int4 (b)", &["-1", "0", "5", "9", "10", "11", "9.5"]);
    let mut ddl = format!(
        "CREATE TABLE {name} (id int, a int, b int, note text) PARTITION BY RANGE (a, b);\n\
         CREATE TABLE {name}_1 PARTITION OF {name} FOR VALUES FROM (1, 0) TO (1, 10);\n\
         CREATE TABLE {name}_2 PARTITION OF {name} FOR VALUES FROM (1, 10) TO (2, 0);\n"
    );
    if default {
        ddl.push_str(&format!("CREATE TABLE {name}_def PARTITION OF {name} DEFAULT;\n"));
    } else {
        ddl.push_str(&format!(
            "CREATE TABLE {name}_lo PARTITION OF {name} FOR VALUES FROM (MINVALUE, MINVALUE) TO (1, 0);\n\
             CREATE TABLE {name}_hi PARTITION OF {name} FOR VALUES FROM (2, 0) TO (MAXVALUE, MAXVALUE);\n"
        ));
    }
    let shape = InsertShape {
        label: "INSERT",
        overriding: false,
        columns: vec![
            ("id", Col::RowId),
            ("a", Col::Key(0)),
            ("b", Col::Key(1)),
            ("note", Col::Note),
        ],
    };
    Hierarchy {
        name,
        kind: if default { "two columns+default" } else { "two columns" },
        legacy: false,
        ddl,
        targets: vec![Target { expr: "a", key: a }, Target { expr: "b", key: b }],
        show: "id, a, b",
        seed_shape: shape.clone(),
        inserts: vec![shape],
        sequence: None,
    }
}

/// RANGE ((b + 0)): the key is an expression over an integer column.
fn expression_add(keys: &[Arc<KeyType>]) -> Hierarchy {
    let int4 = keys
        .iter()
        .find(|k| k.label == "int4")
        .cloned()
        .unwrap_or_else(|| small_int("int4", &["0"]));
    let name = "ex_add".to_owned();
    let ddl = format!(
        "CREATE TABLE {name} (id int, b int, note text) PARTITION BY RANGE ((b + 0));\n\
         CREATE TABLE {name}_0 PARTITION OF {name} FOR VALUES FROM (0) TO (100);\n\
         CREATE TABLE {name}_1 PARTITION OF {name} FOR VALUES FROM (100) TO (200);\n\
         CREATE TABLE {name}_def PARTITION OF {name} DEFAULT;\n"
    );
    let shape = InsertShape {
        label: "INSERT",
        overriding: false,
        columns: vec![("id", Col::RowId), ("b", Col::Key(1)), ("note", Col::Note)],
    };
    Hierarchy {
        name,
        kind: "expression",
        legacy: false,
        ddl,
        targets: vec![
            Target {
                expr: "b + 0",
                key: int4.clone(),
            },
            Target { expr: "b", key: int4 },
        ],
        show: "id, b",
        seed_shape: shape.clone(),
        inserts: vec![shape],
        sequence: None,
    }
}

/// RANGE (lower(name)) under the C collation.
fn expression_lower() -> Hierarchy {
    let key = Arc::new(KeyType {
        label: "lower(text)",
        column: "text COLLATE \"C\"",
        types: vec![TEXT, VARCHAR, BPCHAR, NAME],
        bounds: vec![],
        values: texts(&["abc", "ABC", "Mango", "m", "M", "MZ", "lz", "zed", "Zed", "z", "", "Ä"]),
    });
    let name = "ex_lower".to_owned();
    let ddl = format!(
        "CREATE TABLE {name} (id int, name text COLLATE \"C\", note text) PARTITION BY RANGE (lower(name));\n\
         CREATE TABLE {name}_am PARTITION OF {name} FOR VALUES FROM ('a') TO ('m');\n\
         CREATE TABLE {name}_mz PARTITION OF {name} FOR VALUES FROM ('m') TO ('z');\n\
         CREATE TABLE {name}_def PARTITION OF {name} DEFAULT;\n"
    );
    let shape = InsertShape {
        label: "INSERT",
        overriding: false,
        columns: vec![("id", Col::RowId), ("name", Col::Key(1)), ("note", Col::Note)],
    };
    Hierarchy {
        name,
        kind: "expression",
        legacy: false,
        ddl,
        targets: vec![
            Target {
                expr: "lower(name)",
                key: key.clone(),
            },
            Target { expr: "name", key },
        ],
        show: "id, name",
        seed_shape: shape.clone(),
        inserts: vec![shape],
        sequence: None,
    }
}

/// Two declarative levels: a child sub-partitioned by LIST on another
/// column, and one sub-partitioned by RANGE on the same key.
fn multi_level() -> Hierarchy {
    let k = small_int(
        "int4 (k)",
        &[
            "-1", "0", "99", "99.5", "100", "150", "199", "200", "249", "250", "299", "300",
        ],
    );
    let c = Arc::new(KeyType {
        label: "text (c)",
        column: "text COLLATE \"C\"",
        types: vec![TEXT, VARCHAR],
        bounds: vec![],
        values: texts(&["x", "y", "z"]),
    });
    let name = "ml_decl".to_owned();
    let ddl = format!(
        "CREATE TABLE {name} (id int, k int, c text COLLATE \"C\", note text) PARTITION BY RANGE (k);\n\
         CREATE TABLE {name}_1 PARTITION OF {name} FOR VALUES FROM (0) TO (100);\n\
         CREATE TABLE {name}_2 PARTITION OF {name} FOR VALUES FROM (100) TO (200) PARTITION BY LIST (c);\n\
         CREATE TABLE {name}_2x PARTITION OF {name}_2 FOR VALUES IN ('x');\n\
         CREATE TABLE {name}_2y PARTITION OF {name}_2 FOR VALUES IN ('y');\n\
         CREATE TABLE {name}_2d PARTITION OF {name}_2 DEFAULT;\n\
         CREATE TABLE {name}_3 PARTITION OF {name} FOR VALUES FROM (200) TO (300) PARTITION BY RANGE (k);\n\
         CREATE TABLE {name}_3a PARTITION OF {name}_3 FOR VALUES FROM (200) TO (250);\n\
         CREATE TABLE {name}_3b PARTITION OF {name}_3 FOR VALUES FROM (250) TO (300);\n"
    );
    let shape = InsertShape {
        label: "INSERT",
        overriding: false,
        columns: vec![
            ("id", Col::RowId),
            ("k", Col::Key(0)),
            ("c", Col::Key(1)),
            ("note", Col::Note),
        ],
    };
    Hierarchy {
        name,
        kind: "two levels",
        legacy: false,
        ddl,
        targets: vec![Target { expr: "k", key: k }, Target { expr: "c", key: c }],
        show: "id, k, c",
        seed_shape: shape.clone(),
        inserts: vec![shape],
        sequence: None,
    }
}

/// Two legacy levels: years, then half-years; the trigger on the top
/// parent sends rows to the half-years.
fn multi_level_legacy(keys: &[Arc<KeyType>]) -> Hierarchy {
    let date = keys
        .iter()
        .find(|k| k.label == "date")
        .cloned()
        .unwrap_or_else(|| Arc::new(date_key()));
    let key = Arc::new(KeyType {
        label: "date (2 levels)",
        column: "date",
        types: date.types.clone(),
        bounds: vec![],
        values: texts(&[
            "2022-12-31",
            "2023-01-01",
            "2023-06-30",
            "2023-07-01",
            "2023-12-31",
            "2024-01-01",
            "2024-06-30",
            "2024-07-01",
            "2024-12-31",
            "2025-01-01",
            "2023-06-30 23:59:59.9999995",
            "infinity",
        ]),
    });
    let name = "ml_leg".to_owned();
    let mut ddl =
        format!("CREATE TABLE {name} (id int, k date, note text, CONSTRAINT {name}_empty CHECK (false) NO INHERIT);\n");
    let mut branches = Vec::new();
    for year in [2023, 2024] {
        let y = format!("{name}_{year}");
        ddl.push_str(&format!(
            "CREATE TABLE {y} (CHECK (k >= '{year}-01-01' AND k < '{}-01-01'), CONSTRAINT {y}_empty CHECK (false) NO INHERIT) INHERITS ({name});\n",
            year + 1
        ));
        for (half, lo, hi) in [
            (1, format!("{year}-01-01"), format!("{year}-07-01")),
            (2, format!("{year}-07-01"), format!("{}-01-01", year + 1)),
        ] {
            let child = format!("{y}_h{half}");
            ddl.push_str(&format!(
                "CREATE TABLE {child} (CHECK ({})) INHERITS ({y});\n",
                range_check(half, "k", &lo, &hi)
            ));
            branches.push((child, range_check(half, "NEW.k", &lo, &hi)));
        }
    }
    ddl.push_str(&route_trigger(&name, &branches));
    simple(name, "legacy 2 levels", true, ddl, &key)
}

fn identity_key() -> Arc<KeyType> {
    Arc::new(KeyType {
        label: "identity",
        column: "integer",
        types: vec![INT4, INT8, NUMERIC, FLOAT8],
        bounds: vec![],
        values: texts(&[
            "0", "1", "2", "999999", "999999.5", "1000000", "1000001", "1e6", "1999999", "2000000",
        ]),
    })
}

/// Inserts into a table whose `id` is generated: leave it out, give it,
/// say DEFAULT; for GENERATED ALWAYS also give it with OVERRIDING.
fn identity_inserts(always: bool) -> Vec<InsertShape> {
    let mut shapes = vec![
        InsertShape {
            label: "INSERT key omitted",
            overriding: false,
            columns: vec![("note", Col::Note)],
        },
        InsertShape {
            label: "INSERT key DEFAULT",
            overriding: false,
            columns: vec![("id", Col::Default), ("note", Col::Note)],
        },
        InsertShape {
            label: "INSERT key given",
            overriding: false,
            columns: vec![("id", Col::Key(0)), ("note", Col::Note)],
        },
    ];
    if always {
        shapes.push(InsertShape {
            label: "INSERT OVERRIDING",
            overriding: true,
            columns: vec![("id", Col::Key(0)), ("note", Col::Note)],
        });
    }
    shapes
}

/// A declarative RANGE on a generated `id` (`identity` is the column's
/// definition), split at 1000000.
fn identity(name: &str, column: &str, always: bool) -> Hierarchy {
    let ddl = format!(
        "CREATE TABLE {name} (id {column}, note text) PARTITION BY RANGE (id);\n\
         CREATE TABLE {name}_1 PARTITION OF {name} FOR VALUES FROM (1) TO (1000000);\n\
         CREATE TABLE {name}_2 PARTITION OF {name} FOR VALUES FROM (1000000) TO (2000000);\n\
         CREATE TABLE {name}_def PARTITION OF {name} DEFAULT;\n"
    );
    generated(name, "identity", false, ddl, always)
}

fn generated(name: &str, kind: &'static str, legacy: bool, ddl: String, always: bool) -> Hierarchy {
    Hierarchy {
        name: name.to_owned(),
        kind,
        legacy,
        ddl,
        targets: vec![Target {
            expr: "id",
            key: identity_key(),
        }],
        show: "id, note",
        seed_shape: InsertShape {
            label: "seed",
            overriding: always,
            columns: vec![("id", Col::Key(0)), ("note", Col::Note)],
        },
        inserts: identity_inserts(always),
        sequence: Some(format!("pg_get_serial_sequence('{name}', 'id')")),
    }
}

/// Legacy inheritance on a generated `id`: the children do not inherit an
/// identity (only a serial's DEFAULT), so only the trigger sees its value.
fn legacy_generated(name: &str, column: &str) -> Hierarchy {
    let mut ddl =
        format!("CREATE TABLE {name} (id {column}, note text, CONSTRAINT {name}_empty CHECK (false) NO INHERIT);\n");
    let mut branches = Vec::new();
    for (i, (lo, hi)) in [("1", "1000000"), ("1000000", "2000000")].into_iter().enumerate() {
        let child = format!("{name}_{i}");
        ddl.push_str(&format!(
            "CREATE TABLE {child} (CHECK ({})) INHERITS ({name});\n",
            range_check(i, "id", lo, hi)
        ));
        branches.push((child, range_check(i, "NEW.id", lo, hi)));
    }
    ddl.push_str(&route_trigger(name, &branches));
    generated(name, "legacy identity", true, ddl, false)
}

/// An identity column that is not the key: RANGE (k).
fn identity_not_key(keys: &[Arc<KeyType>]) -> Hierarchy {
    let int4 = keys
        .iter()
        .find(|k| k.label == "int4")
        .cloned()
        .unwrap_or_else(|| small_int("int4", &["0"]));
    let name = "id_nonkey".to_owned();
    let ddl = format!(
        "CREATE TABLE {name} (id int GENERATED ALWAYS AS IDENTITY, k int, note text) PARTITION BY RANGE (k);\n\
         CREATE TABLE {name}_0 PARTITION OF {name} FOR VALUES FROM (0) TO (100);\n\
         CREATE TABLE {name}_1 PARTITION OF {name} FOR VALUES FROM (100) TO (200);\n\
         CREATE TABLE {name}_def PARTITION OF {name} DEFAULT;\n"
    );
    let shape = InsertShape {
        label: "INSERT",
        overriding: false,
        columns: vec![("k", Col::Key(0)), ("note", Col::Note)],
    };
    Hierarchy {
        name: name.clone(),
        kind: "identity not key",
        legacy: false,
        ddl,
        targets: simple_targets(&int4),
        show: "id, k, note",
        seed_shape: shape.clone(),
        inserts: vec![shape],
        sequence: Some(format!("pg_get_serial_sequence('{name}', 'id')")),
    }
}

/// Every hierarchy of the oracle.
pub fn hierarchies() -> Vec<Arc<Hierarchy>> {
    let keys = key_types();
    let mut out = Vec::new();
    for key in &keys {
        out.push(legacy(key));
        out.push(range(key, false));
        out.push(range(key, true));
    }
    let regions = list_key();
    out.push(list(&regions, false));
    out.push(list(&regions, true));
    out.push(legacy_list(&regions));
    out.push(multi_column(false));
    out.push(multi_column(true));
    out.push(expression_add(&keys));
    out.push(expression_lower());
    out.push(multi_level());
    out.push(multi_level_legacy(&keys));
    out.push(identity("id_bd", "int GENERATED BY DEFAULT AS IDENTITY", false));
    out.push(identity("id_al", "int GENERATED ALWAYS AS IDENTITY", true));
    out.push(identity("id_serial", "serial", false));
    out.push(legacy_generated("leg_serial", "serial"));
    out.push(legacy_generated("leg_ident", "int GENERATED BY DEFAULT AS IDENTITY"));
    out.push(identity_not_key(&keys));
    out.into_iter().map(Arc::new).collect()
}

/// Helpers both databases carry: the contents of a hierarchy as one text
/// (named by a string, so the proxy sees no parent and passes it through),
/// and a cast check used to pick values a binary parameter can carry.
pub const HELPERS: &str = r#"
CREATE FUNCTION oracle_contents(parent regclass) RETURNS text LANGUAGE plpgsql AS $$
DECLARE out text;
BEGIN
  EXECUTE format('SELECT string_agg(line, E''\n'' ORDER BY line) FROM (SELECT tableoid::regclass::text || '' '' || x::text AS line FROM %s x) s', parent) INTO out;
  RETURN coalesce(out, '');
END $$;
CREATE FUNCTION oracle_castable(v text, t regtype) RETURNS bool LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('SELECT %L::%s', v, t);
  RETURN true;
EXCEPTION WHEN others THEN
  RETURN false;
END $$;
"#;

/// The whole schema: helpers, every hierarchy, and seed rows (each seed
/// row in its own sub-transaction: out-of-range ones fail and are dropped).
pub fn schema_sql(all: &[Arc<Hierarchy>]) -> String {
    let mut sql = String::from("SET TimeZone = 'UTC';\n");
    sql.push_str(HELPERS);
    for h in all {
        sql.push_str(&h.ddl);
    }
    sql.push_str("DO $seed$ BEGIN\n");
    for h in all {
        for row in h.seed_rows() {
            sql.push_str(&format!("  BEGIN {row}; EXCEPTION WHEN others THEN NULL; END;\n"));
        }
    }
    sql.push_str("END $seed$;\n");
    sql
}
