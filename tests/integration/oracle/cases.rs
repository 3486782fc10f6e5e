//! Case generation: for every hierarchy, key target, value form and
//! operator a SELECT, a sample of UPDATEs and DELETEs, and INSERTs in every
//! form; values are drawn (seeded) from the key type's list, which holds
//! each bound and its neighbours. Each case is one statement plus what it
//! needs: the parameters with their declared types and formats, and the
//! session settings it runs under.

use std::sync::Arc;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::Rng;

use super::schema::{quote, Col, Hierarchy, InsertShape, KeyType, SqlType, Target, Value, DATE, TEXT, TIMESTAMPTZ};

/// How a value is written into the statement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Form {
    /// `5`, `99.5`, `1e2` (numbers and NULL only).
    Bare,
    /// `'5'`: an unknown-typed literal the key's type reads.
    Quoted,
    /// `'5'::numeric`, `5::float8`, `CAST('5' AS int8)`.
    Cast(SqlType),
    /// `date '2024-01-01'`.
    Typed(SqlType),
    /// `$n` bound by the extended protocol; `ty` None is OID 0.
    Param { ty: Option<SqlType>, binary: bool },
    /// `PREPARE p(type) AS ...; EXECUTE p('5')`.
    Prepare(SqlType),
    /// The statement carries no key value (an identity key left out).
    NoValue,
}

impl Form {
    /// The category name.
    pub fn label(&self) -> String {
        match self {
            Form::Bare => "bare".into(),
            Form::Quoted => "quoted".into(),
            Form::Cast(t) => format!("cast {}", t.name),
            Form::Typed(t) => format!("typed {}", t.name),
            Form::Param { ty, binary } => format!(
                "{} param {}",
                if *binary { "binary" } else { "text" },
                ty.map(|t| t.name).unwrap_or("unspecified")
            ),
            Form::Prepare(t) => format!("PREPARE {}", t.name),
            Form::NoValue => "no value".into(),
        }
    }

    /// The form without its type: `param`, `cast`, ... (for grouping).
    pub fn family(&self) -> &'static str {
        match self {
            Form::Bare => "bare",
            Form::Quoted => "quoted",
            Form::Cast(_) => "cast",
            Form::Typed(_) => "typed",
            Form::Param { .. } => "param",
            Form::Prepare(_) => "PREPARE",
            Form::NoValue => "no value",
        }
    }

    fn is_binary(&self) -> bool {
        matches!(self, Form::Param { binary: true, .. })
    }
}

/// Session settings a case runs under.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Settings {
    pub tz: &'static str,
    pub standard_strings: bool,
}

impl Settings {
    /// The SET statements that establish them.
    pub fn sql(&self) -> String {
        format!(
            "SET TimeZone = '{}'; SET standard_conforming_strings = {}",
            self.tz,
            if self.standard_strings { "on" } else { "off" }
        )
    }

    pub fn label(&self) -> String {
        format!(
            "TimeZone={}{}",
            self.tz,
            if self.standard_strings {
                ""
            } else {
                ", standard_conforming_strings=off"
            }
        )
    }
}

/// Time zones cases run in; `UTC+3` is POSIX notation for three hours
/// *behind* UTC.
pub const TIME_ZONES: &[&str] = &["UTC", "America/New_York", "Asia/Kolkata", "UTC+3"];

/// What kind of statement a case is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stmt {
    Select,
    Update,
    Delete,
    Insert,
}

impl Stmt {
    pub fn label(&self) -> &'static str {
        match self {
            Stmt::Select => "SELECT",
            Stmt::Update => "UPDATE",
            Stmt::Delete => "DELETE",
            Stmt::Insert => "INSERT",
        }
    }
}

/// One parameter of a case.
#[derive(Clone, Debug)]
pub struct ParamSpec {
    /// The declared type (None: OID 0, the server infers it).
    pub ty: Option<SqlType>,
    /// An array of `ty` (for `= ANY($n)`).
    pub array: bool,
    pub text: Option<String>,
    pub binary: bool,
}

impl ParamSpec {
    /// The OID sent in Parse.
    pub fn declared_oid(&self) -> u32 {
        match (self.ty, self.array) {
            (None, _) => 0,
            (Some(t), false) => t.oid,
            (Some(t), true) => t.array_oid,
        }
    }

    /// The type name PREPARE declares.
    pub fn declared_name(&self) -> String {
        let t = self.ty.map(|t| t.name).unwrap_or("unknown");
        if self.array {
            format!("{t}[]")
        } else {
            t.to_owned()
        }
    }
}

/// One generated case.
pub struct Case {
    pub n: usize,
    pub hier: Arc<Hierarchy>,
    pub form: Form,
    /// The operator, or the INSERT shape, as the category names it.
    pub op: String,
    pub stmt: Stmt,
    pub settings: Settings,
    /// The statement (with `$n` for parameter and PREPARE forms).
    pub sql: String,
    pub params: Vec<ParamSpec>,
}

impl Case {
    /// Key type × form × operator (the hierarchy's name says its kind and key type).
    pub fn category(&self) -> String {
        let op = match self.stmt {
            Stmt::Select | Stmt::Insert => self.op.clone(),
            s => format!("{} {}", s.label(), self.op),
        };
        format!("{} × {} × {}", self.hier.name, self.form.label(), op)
    }

    /// Whether it writes (and so runs in a transaction rolled back after).
    pub fn writes(&self) -> bool {
        self.stmt != Stmt::Select
    }

    pub fn prepare_name(&self) -> String {
        format!("oracle_p{}", self.n)
    }

    /// `PREPARE ...` and `EXECUTE ...` for the PREPARE form.
    pub fn prepare_sql(&self) -> (String, String) {
        let name = self.prepare_name();
        let types: Vec<String> = self.params.iter().map(ParamSpec::declared_name).collect();
        let args: Vec<String> = self
            .params
            .iter()
            .map(|p| match &p.text {
                Some(t) => quote(t, self.settings.standard_strings),
                None => "NULL".into(),
            })
            .collect();
        (
            format!("PREPARE {name}({}) AS {}", types.join(", "), self.sql),
            format!("EXECUTE {name}({})", args.join(", ")),
        )
    }
}

/// Which text values a type can read (asked of PostgreSQL once), so binary
/// parameters are only made of values their declared type can carry.
pub trait Castable {
    fn castable(&self, ty: &SqlType, text: &str) -> bool;
}

/// Knobs of the generator.
pub struct Plan<'a> {
    pub castable: &'a dyn Castable,
}

fn numeric_like(t: &str) -> bool {
    let body = t.strip_prefix(['-', '+']).unwrap_or(t);
    let (mantissa, exponent) = match body.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e.strip_prefix(['-', '+']).unwrap_or(e))),
        None => (body, None),
    };
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some((a, b)) => (digits(a) || a.is_empty()) && (digits(b) || b.is_empty()) && !(a.is_empty() && b.is_empty()),
        None => digits(mantissa),
    };
    mantissa_ok && exponent.is_none_or(digits)
}

/// The declared type a form gives a value of `key`: the form's type when
/// the key takes it, else the key's own (the second column of a pair).
fn resolve(ty: SqlType, key: &KeyType) -> SqlType {
    if key.types.contains(&ty) {
        ty
    } else {
        key.own()
    }
}

/// Writes values into a statement in one form, collecting parameters.
struct Binder<'a> {
    form: Form,
    settings: Settings,
    castable: &'a dyn Castable,
    params: Vec<ParamSpec>,
}

impl Binder<'_> {
    /// Whether `v` can be written in this form for `key`.
    fn expresses(&self, key: &KeyType, v: &Value) -> bool {
        match (self.form, v) {
            (Form::NoValue, _) => false,
            (Form::Bare, Value::Null) => true,
            (Form::Bare, Value::Text(t)) => numeric_like(t),
            (Form::Bare, Value::Raw(_)) => false,
            (Form::Quoted | Form::Cast(_), _) => true,
            (Form::Typed(_), v) => matches!(v, Value::Text(_)),
            (_, Value::Raw(_)) => false,
            (Form::Param { ty, binary: true }, Value::Text(t)) => {
                let ty = ty.map(|t| resolve(t, key)).unwrap_or(key.own());
                self.castable.castable(&ty, t)
            }
            _ => true,
        }
    }

    /// The SQL for one value.
    fn value(&mut self, key: &KeyType, v: Value, rng: &mut StdRng) -> String {
        let standard = self.settings.standard_strings;
        let text = |t: &str| quote(t, standard);
        match (self.form, v) {
            (Form::Bare | Form::Quoted, Value::Null) => "NULL".into(),
            (Form::Bare, Value::Text(t)) => t.into(),
            (Form::Quoted, Value::Text(t)) => text(t),
            (Form::Quoted, Value::Raw(r)) => r.into(),
            (Form::Cast(ty), v) => {
                let name = resolve(ty, key).name;
                match v {
                    Value::Null => format!("NULL::{name}"),
                    Value::Raw(r) => format!("{r}::{name}"),
                    Value::Text(t) => match rng.gen_range(0..3) {
                        0 if numeric_like(t) => format!("{t}::{name}"),
                        1 => format!("CAST({} AS {name})", text(t)),
                        _ => format!("{}::{name}", text(t)),
                    },
                }
            }
            (Form::Typed(ty), Value::Text(t)) => format!("{} {}", resolve(ty, key).name, text(t)),
            (Form::Param { ty, binary }, v) => self.param(ty.map(|t| resolve(t, key)), false, text_of(v), binary),
            (Form::Prepare(ty), v) => self.param(Some(resolve(ty, key)), false, text_of(v), false),
            _ => "NULL".into(),
        }
    }

    /// The SQL for an array of values (`= ANY(...)`), or None when the form
    /// has no way to write one.
    fn array(&mut self, key: &KeyType, vs: &[Value]) -> Option<String> {
        let literal = array_literal(vs);
        let standard = self.settings.standard_strings;
        match self.form {
            Form::Quoted => Some(quote(&literal, standard)),
            Form::Cast(ty) => Some(format!("{}::{}[]", quote(&literal, standard), resolve(ty, key).name)),
            Form::Param { ty, binary } => Some(self.param(ty.map(|t| resolve(t, key)), true, Some(literal), binary)),
            Form::Prepare(ty) => Some(self.param(Some(resolve(ty, key)), true, Some(literal), false)),
            _ => None,
        }
    }

    fn param(&mut self, ty: Option<SqlType>, array: bool, text: Option<String>, binary: bool) -> String {
        self.params.push(ParamSpec {
            ty,
            array,
            text,
            binary,
        });
        format!("${}", self.params.len())
    }
}

fn text_of(v: Value) -> Option<String> {
    match v {
        Value::Text(t) => Some(t.to_owned()),
        _ => None,
    }
}

/// `{"a","b",NULL}`.
fn array_literal(vs: &[Value]) -> String {
    let items: Vec<String> = vs
        .iter()
        .map(|v| match v {
            Value::Text(t) => format!("\"{}\"", t.replace('\\', "\\\\").replace('"', "\\\"")),
            _ => "NULL".into(),
        })
        .collect();
    format!("{{{}}}", items.join(","))
}

/// A predicate shape.
#[derive(Clone, Copy, Debug)]
enum Op {
    Cmp(&'static str),
    In,
    NotIn,
    Between,
    NotBetween,
    Distinct,
    NotDistinct,
    AnyList,
    AnyArray,
    Range,
    Or,
    /// `t0 = v AND t1 op v` over a hierarchy's two targets.
    Pair(&'static str),
    /// `(t0, t1) op (v, v)`.
    Row(&'static str),
}

const SINGLE_OPS: &[Op] = &[
    Op::Cmp("="),
    Op::Cmp("<>"),
    Op::Cmp("<"),
    Op::Cmp("<="),
    Op::Cmp(">"),
    Op::Cmp(">="),
    Op::In,
    Op::NotIn,
    Op::Between,
    Op::NotBetween,
    Op::Distinct,
    Op::NotDistinct,
    Op::AnyList,
    Op::AnyArray,
    Op::Range,
    Op::Or,
];

const PAIR_OPS: &[Op] = &[
    Op::Pair("="),
    Op::Pair("<"),
    Op::Pair(">="),
    Op::Row("="),
    Op::Row("<"),
    Op::Row(">="),
];

fn mirror(op: &str) -> &str {
    match op {
        "<" => ">",
        "<=" => ">=",
        ">" => "<",
        ">=" => "<=",
        o => o,
    }
}

/// Draws values and renders predicates for one case.
struct Draw<'a, 'b> {
    binder: Binder<'a>,
    rng: &'b mut StdRng,
}

impl Draw<'_, '_> {
    /// A value of `key` the form can write (None: it can write none).
    fn pick(&mut self, key: &KeyType) -> Option<Value> {
        let usable: Vec<Value> = key
            .values
            .iter()
            .filter(|v| self.binder.expresses(key, v))
            .copied()
            .collect();
        usable.choose(self.rng).copied()
    }

    fn slot(&mut self, key: &KeyType) -> Option<String> {
        let v = self.pick(key)?;
        Some(self.binder.value(key, v, self.rng))
    }

    fn slots(&mut self, key: &KeyType, n: usize) -> Option<Vec<String>> {
        (0..n).map(|_| self.slot(key)).collect()
    }

    /// The predicate and its label.
    fn predicate(&mut self, op: Op, targets: &[Target], t: usize) -> Option<(String, String)> {
        let e = targets[t].expr;
        let key = targets[t].key.clone();
        Some(match op {
            Op::Cmp(o) => {
                let v = self.slot(&key)?;
                if self.rng.gen_bool(0.5) {
                    (format!("{e} {o} {v}"), format!("k {o} v"))
                } else {
                    let m = mirror(o);
                    (format!("{v} {m} {e}"), format!("v {m} k"))
                }
            }
            Op::In | Op::NotIn => {
                let n = self.rng.gen_range(1..=3);
                let vs = self.slots(&key, n)?;
                let word = if matches!(op, Op::In) { "IN" } else { "NOT IN" };
                (format!("{e} {word} ({})", vs.join(", ")), format!("k {word} (...)"))
            }
            Op::Between | Op::NotBetween => {
                let vs = self.slots(&key, 2)?;
                let word = if matches!(op, Op::Between) {
                    "BETWEEN"
                } else {
                    "NOT BETWEEN"
                };
                (
                    format!("{e} {word} {} AND {}", vs[0], vs[1]),
                    format!("k {word} v AND v"),
                )
            }
            Op::Distinct | Op::NotDistinct => {
                let v = self.slot(&key)?;
                let word = if matches!(op, Op::Distinct) {
                    "IS DISTINCT FROM"
                } else {
                    "IS NOT DISTINCT FROM"
                };
                if self.rng.gen_bool(0.5) {
                    (format!("{e} {word} {v}"), format!("k {word} v"))
                } else {
                    (format!("{v} {word} {e}"), format!("v {word} k"))
                }
            }
            Op::AnyList => {
                let n = self.rng.gen_range(1..=3);
                let vs = self.slots(&key, n)?;
                (
                    format!("{e} = ANY (ARRAY[{}])", vs.join(", ")),
                    "k = ANY (ARRAY[...])".into(),
                )
            }
            Op::AnyArray => {
                let n = self.rng.gen_range(1..=3);
                let vs: Vec<Value> = (0..n).map(|_| self.pick_plain(&key)).collect::<Option<Vec<Value>>>()?;
                let arr = self.binder.array(&key, &vs)?;
                (format!("{e} = ANY ({arr})"), "k = ANY (array value)".into())
            }
            Op::Range => {
                let vs = self.slots(&key, 2)?;
                (
                    format!("{e} >= {} AND {e} < {}", vs[0], vs[1]),
                    "k >= v AND k < v".into(),
                )
            }
            Op::Or => {
                let vs = self.slots(&key, 2)?;
                if self.rng.gen_bool(0.5) {
                    (format!("({e} = {} OR {e} = {})", vs[0], vs[1]), "k = v OR k = v".into())
                } else {
                    (format!("({e} < {} OR {e} > {})", vs[0], vs[1]), "k < v OR k > v".into())
                }
            }
            Op::Pair(o) => {
                let (e1, key1) = (targets[1].expr, targets[1].key.clone());
                let v0 = self.slot(&key)?;
                let v1 = self.slot(&key1)?;
                (format!("{e} = {v0} AND {e1} {o} {v1}"), format!("k0 = v AND k1 {o} v"))
            }
            Op::Row(o) => {
                let (e1, key1) = (targets[1].expr, targets[1].key.clone());
                let v0 = self.slot(&key)?;
                let v1 = self.slot(&key1)?;
                (format!("({e}, {e1}) {o} ({v0}, {v1})"), format!("(k0, k1) {o} (v, v)"))
            }
        })
    }

    /// A value for an array element: text or NULL, and for a binary array
    /// one its element type can carry.
    fn pick_plain(&mut self, key: &KeyType) -> Option<Value> {
        let usable: Vec<Value> = key
            .values
            .iter()
            .filter(|v| !matches!(v, Value::Raw(_)))
            .filter(|v| !self.binder.form.is_binary() || self.binder.expresses(key, v))
            .copied()
            .collect();
        usable.choose(self.rng).copied()
    }
}

/// The forms tried for a key: every declared type for parameters (text and
/// binary), one type drawn for casts, typed literals and PREPARE.
fn forms(key: &KeyType, rng: &mut StdRng) -> Vec<Form> {
    let mut out = vec![Form::Bare, Form::Quoted];
    let drawn = |rng: &mut StdRng| *key.types.choose(rng).unwrap_or(&key.types[0]);
    out.push(Form::Cast(drawn(rng)));
    out.push(Form::Typed(drawn(rng)));
    for t in &key.types {
        out.push(Form::Param {
            ty: Some(*t),
            binary: false,
        });
        out.push(Form::Param {
            ty: Some(*t),
            binary: true,
        });
    }
    out.push(Form::Param {
        ty: None,
        binary: false,
    });
    out.push(Form::Param { ty: None, binary: true });
    out.push(Form::Prepare(drawn(rng)));
    out
}

/// Settings for a case on `key`: time zones matter for time keys (and are
/// tried now and then elsewhere), standard_conforming_strings for text.
fn settings(key: &KeyType, rng: &mut StdRng) -> Settings {
    let timey = key.types.iter().any(|t| *t == DATE || *t == TIMESTAMPTZ);
    let tz = if timey || rng.gen_ratio(1, 5) {
        TIME_ZONES.choose(rng).copied().unwrap_or("UTC")
    } else {
        "UTC"
    };
    let textual = key.types.contains(&TEXT);
    let off = if textual {
        rng.gen_ratio(1, 3)
    } else {
        rng.gen_ratio(1, 20)
    };
    Settings {
        tz,
        standard_strings: !off,
    }
}

/// Numbers the cases as they are made.
struct Maker<'a> {
    plan: &'a Plan<'a>,
    cases: Vec<Case>,
}

impl<'a> Maker<'a> {
    fn new_draw<'b>(&self, form: Form, settings: Settings, rng: &'b mut StdRng) -> Draw<'a, 'b> {
        Draw {
            binder: Binder {
                form,
                settings,
                castable: self.plan.castable,
                params: Vec::new(),
            },
            rng,
        }
    }

    /// Adds `case`, numbering it.
    fn push(&mut self, case: Case) {
        let n = self.cases.len();
        self.cases.push(Case { n, ..case });
    }

    /// A read or write with `op` on target `t`, trying a few draws for
    /// values the form can write.
    fn predicate_case(&mut self, h: &Arc<Hierarchy>, t: usize, form: Form, op: Op, stmt: Stmt, rng: &mut StdRng) {
        let key = h.targets[t].key.clone();
        for _ in 0..4 {
            let s = settings(&key, rng);
            let mut draw = self.new_draw(form, s, rng);
            let Some((pred, label)) = draw.predicate(op, &h.targets, t) else {
                continue;
            };
            let (sql, label) = match stmt {
                Stmt::Select => (format!("SELECT {} FROM {} WHERE {pred}", h.show, h.name), label),
                Stmt::Delete => (format!("DELETE FROM {} WHERE {pred}", h.name), label),
                _ => {
                    let target = &h.targets[t];
                    let plain = target.expr.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                    if plain && draw.rng.gen_ratio(1, 4) {
                        let Some(v) = draw.slot(&key) else { continue };
                        let sql = format!("UPDATE {} SET {} = {v} WHERE {pred}", h.name, target.expr);
                        (sql, format!("SET k = v WHERE {label}"))
                    } else {
                        let sql = format!("UPDATE {} SET note = 'upd' WHERE {pred}", h.name);
                        (sql, label)
                    }
                }
            };
            self.push(Case {
                n: 0,
                hier: h.clone(),
                form,
                op: label,
                stmt,
                settings: s,
                sql,
                params: draw.binder.params,
            });
            return;
        }
    }

    /// An INSERT of `rows` rows in `shape`, key values in `form`.
    fn insert_case(&mut self, h: &Arc<Hierarchy>, shape: &InsertShape, form: Form, rows: usize, rng: &mut StdRng) {
        let key = h.targets[0].key.clone();
        let n = self.cases.len();
        for _ in 0..4 {
            let s = settings(&key, rng);
            let mut draw = self.new_draw(form, s, rng);
            let Some(values) = (0..rows)
                .map(|r| insert_row(&mut draw, h, shape, n, r))
                .collect::<Option<Vec<String>>>()
            else {
                continue;
            };
            let columns: Vec<&str> = shape.columns.iter().map(|(c, _)| *c).collect();
            let sql = format!(
                "INSERT INTO {} ({}){} VALUES {}",
                h.name,
                columns.join(", "),
                if shape.overriding {
                    " OVERRIDING SYSTEM VALUE"
                } else {
                    ""
                },
                values.join(", ")
            );
            self.push(Case {
                n: 0,
                hier: h.clone(),
                form,
                op: format!("{} ×{rows}", shape.label),
                stmt: Stmt::Insert,
                settings: s,
                sql,
                params: draw.binder.params,
            });
            return;
        }
    }
}

fn insert_row(draw: &mut Draw, h: &Hierarchy, shape: &InsertShape, n: usize, r: usize) -> Option<String> {
    let cells: Option<Vec<String>> = shape
        .columns
        .iter()
        .map(|(_, c)| match c {
            Col::RowId => Some((100_000 + n * 4 + r).to_string()),
            Col::Note => Some(format!("'ins-{n}-{r}'")),
            Col::Default => Some("DEFAULT".into()),
            Col::Key(i) => draw.slot(&h.targets[*i].key.clone()),
        })
        .collect();
    Some(format!("({})", cells?.join(", ")))
}

/// Every case for `all`, in generation order (case numbers are indices).
pub fn generate(all: &[Arc<Hierarchy>], plan: &Plan, rng: &mut StdRng) -> Vec<Case> {
    let mut maker = Maker {
        plan,
        cases: Vec::new(),
    };
    for h in all {
        for t in 0..h.targets.len() {
            let key = h.targets[t].key.clone();
            for op in SINGLE_OPS {
                for form in forms(&key, rng) {
                    maker.predicate_case(h, t, form, *op, Stmt::Select, rng);
                }
            }
            for form in forms(&key, rng) {
                for stmt in [Stmt::Update, Stmt::Delete] {
                    let op = *SINGLE_OPS.choose(rng).unwrap_or(&Op::Cmp("="));
                    maker.predicate_case(h, t, form, op, stmt, rng);
                }
            }
        }
        if h.targets.len() == 2
            && h.inserts[0]
                .columns
                .iter()
                .filter(|(_, c)| matches!(c, Col::Key(_)))
                .count()
                == 2
        {
            let key = h.targets[0].key.clone();
            for op in PAIR_OPS {
                for form in forms(&key, rng) {
                    maker.predicate_case(h, 0, form, *op, Stmt::Select, rng);
                }
            }
        }
        for shape in &h.inserts {
            let keyed = shape.columns.iter().any(|(_, c)| matches!(c, Col::Key(_)));
            if !keyed {
                for rows in [1, 2] {
                    maker.insert_case(h, shape, Form::NoValue, rows, rng);
                }
                continue;
            }
            for form in forms(&h.targets[0].key, rng) {
                for rows in [1, rng.gen_range(2..=3)] {
                    maker.insert_case(h, shape, form, rows, rng);
                }
            }
        }
    }
    maker.cases
}
