//! From an SQL expression to the set of key values for which it can be true.
//!
//! The result is always a safe over-approximation: anything not understood —
//! a function of the key, a cast that changes its meaning, a NULL literal in a
//! comparison, a predicate on another column — stands for "any value". It
//! serves two readings:
//! - a CHECK constraint admits a row unless the expression is FALSE, so a child
//!   may hold `values`, and NULL keys when `null` may be TRUE or NULL;
//! - a WHERE clause keeps a row only when the expression is TRUE, so it may
//!   touch `values`, and NULL keys when `null` may be TRUE.
//!
//! For non-NULL keys the exactly-modelled comparisons are never NULL, so one
//! set serves both readings.

use sqlparser::ast::{
    BinaryOperator, CastKind, DataType, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, TimezoneInfo,
    UnaryOperator, Value,
};

use super::param::{read_param, Reading};
use super::set::{Bound, Interval, KeySet, Modulo, RangeSet};
use super::value::{parse_number, parse_text, KeyType, KeyValue, TimeZoneRule};

/// The outcomes an expression can have for a NULL key: a subset of
/// {TRUE, FALSE, NULL}.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Truth(u8);

impl Truth {
    /// Can be TRUE.
    pub const TRUE: Truth = Truth(1);
    /// Can be FALSE.
    pub const FALSE: Truth = Truth(2);
    /// Can be NULL.
    pub const NULL: Truth = Truth(4);
    /// Anything.
    pub const ANY: Truth = Truth(7);

    /// True when TRUE is possible.
    pub fn may_be_true(self) -> bool {
        self.0 & 1 != 0
    }

    /// True when the outcome may be TRUE or NULL: a CHECK constraint may pass.
    pub fn may_pass(self) -> bool {
        self.0 & 5 != 0
    }

    /// True when FALSE is impossible (a CHECK constraint surely passes).
    pub fn never_false(self) -> bool {
        self.0 & 2 == 0
    }

    fn each(self) -> impl Iterator<Item = u8> {
        [1u8, 2, 4].into_iter().filter(move |b| self.0 & b != 0)
    }

    fn combine(self, other: Truth, f: fn(u8, u8) -> u8) -> Truth {
        let mut out = 0;
        for a in self.each() {
            for b in other.each() {
                out |= f(a, b);
            }
        }
        Truth(out)
    }

    fn and(self, other: Truth) -> Truth {
        // Three-valued AND over single outcomes (1 = TRUE, 2 = FALSE, 4 = NULL).
        self.combine(other, |a, b| match (a, b) {
            (2, _) | (_, 2) => 2,
            (1, 1) => 1,
            _ => 4,
        })
    }

    fn or(self, other: Truth) -> Truth {
        self.combine(other, |a, b| match (a, b) {
            (1, _) | (_, 1) => 1,
            (2, 2) => 2,
            _ => 4,
        })
    }

    fn not(self) -> Truth {
        Truth(
            self.each()
                .map(|b| if b == 4 { 4 } else { 3 - b })
                .fold(0, |a, b| a | b),
        )
    }
}

/// What an expression allows for the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPredicate {
    /// Non-NULL key values for which the expression may be TRUE.
    pub values: KeySet,
    /// Outcomes for a NULL key.
    pub null: Truth,
    /// False when `values` over-approximates (then it can't be negated).
    pub exact: bool,
}

impl KeyPredicate {
    /// No information: every value, any outcome.
    pub fn any() -> KeyPredicate {
        KeyPredicate {
            values: KeySet::all(),
            null: Truth::ANY,
            exact: false,
        }
    }

    fn comparison(values: KeySet) -> KeyPredicate {
        KeyPredicate {
            values,
            null: Truth::NULL,
            exact: true,
        }
    }

    /// Both must hold.
    pub fn and(self, other: KeyPredicate) -> KeyPredicate {
        let (values, exact) = self.values.intersect(&other.values);
        KeyPredicate {
            values,
            null: self.null.and(other.null),
            exact: exact && self.exact && other.exact,
        }
    }

    fn or(self, other: KeyPredicate) -> KeyPredicate {
        let (values, exact) = self.values.union(&other.values);
        KeyPredicate {
            values,
            null: self.null.or(other.null),
            exact: exact && self.exact && other.exact,
        }
    }

    fn not(self) -> KeyPredicate {
        if !self.exact {
            return KeyPredicate::any();
        }
        match self.values.complement() {
            Some(values) => KeyPredicate {
                values,
                null: self.null.not(),
                exact: true,
            },
            None => KeyPredicate::any(),
        }
    }
}

/// The key column as it may appear in an expression.
#[derive(Debug, Clone)]
pub struct KeyColumn<'a> {
    /// Column name as stored (case-sensitive).
    pub name: &'a str,
    /// Names that may qualify it (`alias.key`), as stored.
    pub qualifiers: &'a [String],
    /// Its type.
    pub ty: KeyType,
    /// Whether `<`/`>` on a text key can be modelled (only under the C collation).
    pub text_ranges: bool,
    /// How timestamp literals without an offset and `$n` parameters are read.
    pub reading: Reading<'a>,
}

impl KeyColumn<'_> {
    fn ident_matches(&self, ident: &Ident) -> bool {
        match ident.quote_style {
            Some(_) => ident.value == self.name,
            None => ident.value.to_lowercase() == self.name,
        }
    }

    /// True when `expr` is a plain reference to the key column.
    fn is_key(&self, expr: &Expr) -> bool {
        match expr {
            Expr::Identifier(id) => self.ident_matches(id),
            Expr::CompoundIdentifier(parts) => match parts.as_slice() {
                [.., q, col] => {
                    self.ident_matches(col)
                        && self.qualifiers.iter().any(|name| match q.quote_style {
                            Some(_) => &q.value == name,
                            None => q.value.to_lowercase() == *name,
                        })
                }
                _ => false,
            },
            Expr::Nested(inner) => self.is_key(inner),
            // A cast that keeps the value as it is (varchar to text, say).
            Expr::Cast {
                kind: CastKind::DoubleColon | CastKind::Cast,
                expr,
                data_type,
                format: None,
            } => type_of(data_type).is_some_and(|t| same_family(t, self.ty)) && self.is_key(expr),
            _ => false,
        }
    }

    /// `key % N` or `mod(key, N)`: returns N.
    fn modulus_of(&self, expr: &Expr) -> Option<i64> {
        if !self.ty.is_integer() {
            return None;
        }
        let (lhs, rhs) = match expr {
            Expr::Nested(inner) => return self.modulus_of(inner),
            Expr::BinaryOp {
                left,
                op: BinaryOperator::Modulo,
                right,
            } => (left.as_ref(), right.as_ref()),
            Expr::Function(f) if f.name.to_string().eq_ignore_ascii_case("mod") => {
                let FunctionArguments::List(list) = &f.args else {
                    return None;
                };
                match list.args.as_slice() {
                    [FunctionArg::Unnamed(FunctionArgExpr::Expr(a)), FunctionArg::Unnamed(FunctionArgExpr::Expr(b))] => {
                        (a, b)
                    }
                    _ => return None,
                }
            }
            _ => return None,
        };
        if !self.is_key(lhs) {
            return None;
        }
        match literal(rhs, KeyType::Int8, self.reading)? {
            Literal::Value(KeyValue::Int(n)) if n != 0 => Some(n),
            _ => None,
        }
    }
}

fn same_family(a: KeyType, b: KeyType) -> bool {
    a == b || (a.is_integer() && b.is_integer() && a == KeyType::Int8)
}

/// The key type a cast target names, if it is one the analysis knows.
fn type_of(dt: &DataType) -> Option<KeyType> {
    Some(match dt {
        DataType::SmallInt(_) | DataType::Int2(_) => KeyType::Int2,
        DataType::Int(_) | DataType::Integer(_) | DataType::Int4(_) => KeyType::Int4,
        DataType::BigInt(_) | DataType::Int8(_) => KeyType::Int8,
        DataType::Numeric(_) | DataType::Decimal(_) | DataType::Dec(_) => KeyType::Numeric,
        DataType::Date => KeyType::Date,
        DataType::Timestamp(_, TimezoneInfo::WithTimeZone | TimezoneInfo::Tz) => KeyType::TimestampTz,
        DataType::Timestamp(_, TimezoneInfo::None | TimezoneInfo::WithoutTimeZone) => KeyType::Timestamp,
        DataType::Text | DataType::Varchar(_) | DataType::CharacterVarying(_) | DataType::String(_) => KeyType::Text,
        DataType::Uuid => KeyType::Uuid,
        DataType::Custom(name, _) => KeyType::from_pg_name(&name.to_string().to_lowercase())?,
        _ => return None,
    })
}

enum Literal {
    Null,
    Value(KeyValue),
}

/// Converts a value of one type to the key's type where PostgreSQL's implicit
/// comparison does so exactly.
pub fn convert(v: KeyValue, from: KeyType, to: KeyType, tz: TimeZoneRule) -> Option<KeyValue> {
    if from == to || (from.is_integer() && to.is_integer()) {
        return match (v, to) {
            (KeyValue::Int(i), KeyType::Int2) => i16::try_from(i).ok().map(|_| KeyValue::Int(i)),
            (KeyValue::Int(i), KeyType::Int4) => i32::try_from(i).ok().map(|_| KeyValue::Int(i)),
            (v, _) => Some(v),
        };
    }
    match (v, to) {
        (KeyValue::Int(i), KeyType::Numeric) => Some(KeyValue::Numeric(i.into())),
        (KeyValue::Date(d), KeyType::Timestamp) => Some(KeyValue::Timestamp(d as i64 * 86_400_000_000)),
        (KeyValue::Date(d), KeyType::TimestampTz) => local_to_utc(d as i64 * 86_400_000_000, tz),
        (KeyValue::Timestamp(t), KeyType::TimestampTz) => local_to_utc(t, tz),
        _ => None,
    }
}

/// A local timestamp (microseconds since 2000-01-01) as an instant in `tz`.
fn local_to_utc(local: i64, tz: TimeZoneRule) -> Option<KeyValue> {
    let epoch = chrono::NaiveDate::from_ymd_opt(2000, 1, 1)?.and_hms_opt(0, 0, 0)?;
    let naive = epoch.checked_add_signed(chrono::Duration::microseconds(local))?;
    Some(KeyValue::TimestampTz(local.checked_sub(tz.offset_micros_at(naive)?)?))
}

/// A constant's value in the key type: `Some(None)` for NULL, `None` when
/// the expression is not a constant the analysis can read.
pub fn constant_value(expr: &Expr, ty: KeyType, rd: Reading) -> Option<Option<KeyValue>> {
    match literal(expr, ty, rd)? {
        Literal::Null => Some(None),
        Literal::Value(v) => Some(Some(v)),
    }
}

/// Reads a constant as a value of the key type `ty`.
fn literal(expr: &Expr, ty: KeyType, rd: Reading) -> Option<Literal> {
    let tz = rd.tz;
    match expr {
        Expr::Nested(inner) => literal(inner, ty, rd),
        Expr::Value(v) => match &v.value {
            Value::Null => Some(Literal::Null),
            Value::Number(n, _) => parse_number(ty, n).map(Literal::Value),
            Value::SingleQuotedString(s) | Value::EscapedStringLiteral(s) => parse_text(ty, s, tz).map(Literal::Value),
            Value::Placeholder(p) => match read_param(&rd, p, ty)? {
                None => Some(Literal::Null),
                Some(v) => Some(Literal::Value(v)),
            },
            _ => None,
        },
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => match expr.as_ref() {
            Expr::Value(v) => match &v.value {
                Value::Number(n, _) => parse_number(ty, &format!("-{n}")).map(Literal::Value),
                _ => None,
            },
            Expr::Nested(inner) => literal(
                &Expr::UnaryOp {
                    op: UnaryOperator::Minus,
                    expr: inner.clone(),
                },
                ty,
                rd,
            ),
            _ => None,
        },
        Expr::Cast {
            kind: CastKind::DoubleColon | CastKind::Cast,
            expr,
            data_type,
            format: None,
        } => {
            let from = type_of(data_type)?;
            match literal(expr, from, rd)? {
                Literal::Null => Some(Literal::Null),
                Literal::Value(v) => convert(v, from, ty, tz).map(Literal::Value),
            }
        }
        Expr::TypedString(ts) => {
            let from = type_of(&ts.data_type)?;
            let Value::SingleQuotedString(s) = &ts.value.value else {
                return None;
            };
            convert(parse_text(from, s, tz)?, from, ty, tz).map(Literal::Value)
        }
        _ => None,
    }
}

fn flip(op: &BinaryOperator) -> Option<BinaryOperator> {
    Some(match op {
        BinaryOperator::Eq => BinaryOperator::Eq,
        BinaryOperator::NotEq => BinaryOperator::NotEq,
        BinaryOperator::Lt => BinaryOperator::Gt,
        BinaryOperator::LtEq => BinaryOperator::GtEq,
        BinaryOperator::Gt => BinaryOperator::Lt,
        BinaryOperator::GtEq => BinaryOperator::LtEq,
        _ => return None,
    })
}

fn points(values: impl IntoIterator<Item = KeyValue>) -> KeySet {
    KeySet::from(RangeSet::from_intervals(
        values.into_iter().map(Interval::point).collect(),
    ))
}

/// The values `key <op> v` holds for.
fn compare(op: &BinaryOperator, v: KeyValue, key: &KeyColumn) -> Option<KeySet> {
    let ranged = !matches!(op, BinaryOperator::Eq | BinaryOperator::NotEq);
    if ranged && key.ty == KeyType::Text && !key.text_ranges {
        return None;
    }
    let interval = match op {
        BinaryOperator::Eq => Some(Interval::point(v)),
        BinaryOperator::NotEq => return Some(points([v]).complement().unwrap_or_else(KeySet::all)),
        BinaryOperator::Lt => Interval::new(Bound::Unbounded, Bound::Excluded(v)),
        BinaryOperator::LtEq => Interval::new(Bound::Unbounded, Bound::Included(v)),
        BinaryOperator::Gt => Interval::new(Bound::Excluded(v), Bound::Unbounded),
        BinaryOperator::GtEq => Interval::new(Bound::Included(v), Bound::Unbounded),
        _ => return None,
    };
    Some(KeySet::from(RangeSet::from_intervals(interval.into_iter().collect())))
}

/// Parses the text of an array literal such as `{a,"b c",d}` into its elements.
fn array_elements(text: &str) -> Option<Vec<String>> {
    let inner = text.trim().strip_prefix('{')?.strip_suffix('}')?;
    if inner.trim().is_empty() {
        return Some(Vec::new());
    }
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut was_quoted = false;
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted = !quoted;
                was_quoted = true;
            }
            '\\' if quoted => cur.push(chars.next()?),
            ',' if !quoted => {
                let item = std::mem::take(&mut cur);
                if !was_quoted && item.trim().eq_ignore_ascii_case("null") {
                    return None;
                }
                out.push(if was_quoted { item } else { item.trim().to_owned() });
                was_quoted = false;
            }
            '{' | '}' if !quoted => return None,
            c => cur.push(c),
        }
    }
    if quoted || (!was_quoted && cur.trim().eq_ignore_ascii_case("null")) {
        return None;
    }
    out.push(if was_quoted { cur } else { cur.trim().to_owned() });
    Some(out)
}

/// Values of a list of constants; `None` if any is NULL or not understood.
fn list_values(items: &[Expr], key: &KeyColumn) -> Option<Vec<KeyValue>> {
    items
        .iter()
        .map(|e| match literal(e, key.ty, key.reading)? {
            Literal::Value(v) => Some(v),
            Literal::Null => None,
        })
        .collect()
}

/// The right side of `key = ANY (...)`: an ARRAY[...] constructor or an array literal.
fn any_values(expr: &Expr, key: &KeyColumn) -> Option<Vec<KeyValue>> {
    match expr {
        Expr::Nested(inner) => any_values(inner, key),
        Expr::Array(arr) => list_values(&arr.elem, key),
        Expr::Cast { expr, data_type, .. } => {
            match data_type {
                DataType::Array(_) => {}
                DataType::Custom(..) => {}
                _ => return None,
            }
            any_values(expr, key)
        }
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) => array_elements(s)?
                .iter()
                .map(|item| parse_text(key.ty, item, key.reading.tz))
                .collect(),
            _ => None,
        },
        _ => None,
    }
}

fn bucket(modulus: i64, residues: impl IntoIterator<Item = i64>) -> KeySet {
    KeySet {
        ranges: RangeSet::all(),
        modulo: Some(Modulo {
            modulus,
            residues: residues.into_iter().collect(),
        }),
    }
}

fn int_values(values: Vec<KeyValue>) -> Option<Vec<i64>> {
    values
        .into_iter()
        .map(|v| match v {
            KeyValue::Int(i) => Some(i),
            _ => None,
        })
        .collect()
}

/// Analyses `expr` for the key column.
pub fn analyze(expr: &Expr, key: &KeyColumn) -> KeyPredicate {
    analyze_inner(expr, key).unwrap_or_else(KeyPredicate::any)
}

fn analyze_inner(expr: &Expr, key: &KeyColumn) -> Option<KeyPredicate> {
    match expr {
        Expr::Nested(inner) => analyze_inner(inner, key),
        Expr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => Some(analyze(left, key).and(analyze(right, key))),
        Expr::BinaryOp {
            left,
            op: BinaryOperator::Or,
            right,
        } => Some(analyze(left, key).or(analyze(right, key))),
        Expr::UnaryOp {
            op: UnaryOperator::Not,
            expr,
        } => Some(analyze(expr, key).not()),
        Expr::BinaryOp { left, op, right } => {
            let (op, other) = if key.is_key(left) || key.modulus_of(left).is_some() {
                (op.clone(), right.as_ref())
            } else if key.is_key(right) || key.modulus_of(right).is_some() {
                (flip(op)?, left.as_ref())
            } else {
                return None;
            };
            let keyside = if key.is_key(left) || key.modulus_of(left).is_some() {
                left
            } else {
                right
            };
            if let Some(m) = key.modulus_of(keyside) {
                if op != BinaryOperator::Eq {
                    return None;
                }
                let Literal::Value(KeyValue::Int(r)) = literal(other, KeyType::Int8, key.reading)? else {
                    return None;
                };
                return Some(KeyPredicate::comparison(bucket(m, [r])));
            }
            match literal(other, key.ty, key.reading)? {
                Literal::Null => None,
                Literal::Value(v) => compare(&op, v, key).map(KeyPredicate::comparison),
            }
        }
        Expr::Between {
            expr,
            negated,
            low,
            high,
        } => {
            if !key.is_key(expr) || (key.ty == KeyType::Text && !key.text_ranges) {
                return None;
            }
            let (Literal::Value(lo), Literal::Value(hi)) =
                (literal(low, key.ty, key.reading)?, literal(high, key.ty, key.reading)?)
            else {
                return None;
            };
            let set = KeySet::from(RangeSet::from_intervals(
                Interval::new(Bound::Included(lo), Bound::Included(hi))
                    .into_iter()
                    .collect(),
            ));
            let p = KeyPredicate::comparison(set);
            Some(if *negated { p.not() } else { p })
        }
        Expr::InList { expr, list, negated } => {
            let set = if let Some(m) = key.modulus_of(expr) {
                bucket(
                    m,
                    int_values(list_values(
                        list,
                        &KeyColumn {
                            ty: KeyType::Int8,
                            ..key.clone()
                        },
                    )?)?,
                )
            } else if key.is_key(expr) {
                points(list_values(list, key)?)
            } else {
                return None;
            };
            let p = KeyPredicate::comparison(set);
            Some(if *negated { p.not() } else { p })
        }
        Expr::AnyOp {
            left,
            compare_op: BinaryOperator::Eq,
            right,
            ..
        } if key.is_key(left) => Some(KeyPredicate::comparison(points(any_values(right, key)?))),
        Expr::IsNull(e) if key.is_key(e) => Some(KeyPredicate {
            values: KeySet::empty(),
            null: Truth::TRUE,
            exact: true,
        }),
        Expr::IsNotNull(e) if key.is_key(e) => Some(KeyPredicate {
            values: KeySet::all(),
            null: Truth::FALSE,
            exact: true,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::dialect::PostgreSqlDialect;
    use sqlparser::parser::Parser;

    fn parse(sql: &str) -> Expr {
        Parser::new(&PostgreSqlDialect {})
            .try_with_sql(sql)
            .and_then(|mut p| p.parse_expr())
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    fn analyze_as(sql: &str, ty: KeyType) -> KeyPredicate {
        let quals = vec!["t".to_owned()];
        let key = KeyColumn {
            name: "k",
            qualifiers: &quals,
            ty,
            text_ranges: false,
            reading: TimeZoneRule::Utc.into(),
        };
        analyze(&parse(sql), &key)
    }

    fn ints(sql: &str) -> KeyPredicate {
        analyze_as(sql, KeyType::Int4)
    }

    fn has(p: &KeyPredicate, v: i64) -> bool {
        p.values.contains(&KeyValue::Int(v))
    }

    #[test]
    fn comparisons_in_either_order() {
        let p = ints("k >= 10 AND 20 > k");
        assert!(has(&p, 10) && has(&p, 19) && !has(&p, 9) && !has(&p, 20));
        assert!(p.exact && p.null == Truth::NULL);
        let p = ints("t.k = 5");
        assert!(has(&p, 5) && !has(&p, 6));
        let p = ints("k <> 5");
        assert!(!has(&p, 5) && has(&p, 4));
    }

    #[test]
    fn between_in_and_any() {
        let p = ints("k BETWEEN 3 AND 5");
        assert!(has(&p, 3) && has(&p, 5) && !has(&p, 6));
        let p = ints("k NOT BETWEEN 3 AND 5");
        assert!(!has(&p, 4) && has(&p, 2) && has(&p, 6));
        let p = ints("k IN (1, 7)");
        assert!(has(&p, 7) && !has(&p, 2));
        let p = ints("k NOT IN (1, 7)");
        assert!(!has(&p, 7) && has(&p, 2));
        let p = ints("k = ANY (ARRAY[1, 2])");
        assert!(has(&p, 2) && !has(&p, 3));
        let p = ints("k = ANY ('{4,5}')");
        assert!(has(&p, 5) && !has(&p, 3));
        let p = analyze_as("k = ANY ('{\"a b\",c}'::text[])", KeyType::Text);
        assert!(p.values.contains(&KeyValue::Text("a b".into())) && !p.values.contains(&KeyValue::Text("a".into())));
    }

    #[test]
    fn null_handling() {
        // IS NULL matches only NULL keys; CHECK on a comparison admits NULL.
        let p = ints("k IS NULL");
        assert!(p.values.is_empty() && p.null == Truth::TRUE);
        let p = ints("k IS NOT NULL AND k > 0");
        assert!(!p.null.may_be_true() && !p.null.never_false());
        let p = ints("k > 0");
        assert!(p.null.never_false() && !p.null.may_be_true());
        // `k = NULL` and a NULL in an IN list are not modelled: no pruning.
        assert_eq!(ints("k = NULL"), KeyPredicate::any());
        assert_eq!(ints("k IN (1, NULL)"), KeyPredicate::any());
    }

    #[test]
    fn or_and_not() {
        let p = ints("k < 0 OR k > 100");
        assert!(has(&p, -1) && has(&p, 101) && !has(&p, 50));
        let p = ints("NOT (k < 0 OR k > 100)");
        assert!(has(&p, 50) && !has(&p, 101));
        // An OR branch without the key widens to everything.
        let p = ints("k = 1 OR other = 2");
        assert!(p.values.is_all());
        // NOT over something inexact widens too.
        let p = ints("NOT (k = 1 AND f(k) = 2)");
        assert!(p.values.is_all());
        // AND with an unrelated predicate keeps the key's restriction.
        let p = ints("k = 1 AND other = 2");
        assert!(has(&p, 1) && !has(&p, 2));
    }

    #[test]
    fn functions_of_the_key_are_not_understood() {
        assert!(ints("abs(k) = 1").values.is_all());
        assert!(ints("k + 1 = 5").values.is_all());
        assert!(ints("k::text = '5'").values.is_all());
        assert!(ints("x.k = 5").values.is_all(), "other table's column");
        assert!(ints("k = 1.5").values.is_all(), "fractional literal on an integer key");
    }

    #[test]
    fn modulo_buckets() {
        let p = analyze_as("((k % 4) = 1)", KeyType::Int8);
        assert!(has(&p, 5) && !has(&p, 6) && !has(&p, -3));
        let p = analyze_as("(mod(k, 4) = 3)", KeyType::Int8);
        assert!(has(&p, 7) && !has(&p, 5));
        let p = analyze_as("k % 4 IN (0, 1)", KeyType::Int8);
        assert!(has(&p, 4) && has(&p, 5) && !has(&p, 6));
        assert!(analyze_as("k % 4 > 1", KeyType::Int8).values.is_all());
    }

    #[test]
    fn text_ranges_need_the_c_collation() {
        assert!(analyze_as("k < 'm'", KeyType::Text).values.is_all());
        let p = analyze_as("(k)::text = 'eu'::text", KeyType::Text);
        assert!(p.values.contains(&KeyValue::Text("eu".into())) && !p.values.contains(&KeyValue::Text("us".into())));
        let quals = vec![];
        let key = KeyColumn {
            name: "k",
            qualifiers: &quals,
            ty: KeyType::Text,
            text_ranges: true,
            reading: TimeZoneRule::Utc.into(),
        };
        let p = analyze(&parse("k >= 'a' AND k < 'm'"), &key);
        assert!(p.values.contains(&KeyValue::Text("b".into())) && !p.values.contains(&KeyValue::Text("n".into())));
    }

    #[test]
    fn typed_literals() {
        let p = analyze_as(
            "((k >= '2024-01-01 00:00:00+00'::timestamp with time zone) AND (k < '2024-02-01 00:00:00+00'::timestamp with time zone))",
            KeyType::TimestampTz,
        );
        let jan15 = parse_text(KeyType::TimestampTz, "2024-01-15 12:00:00+00", TimeZoneRule::Utc).unwrap();
        let feb1 = parse_text(KeyType::TimestampTz, "2024-02-01 00:00:00+00", TimeZoneRule::Utc).unwrap();
        assert!(p.values.contains(&jan15) && !p.values.contains(&feb1));
        // A date literal compared with a timestamptz key means midnight.
        let p = analyze_as("k >= DATE '2024-02-01'", KeyType::TimestampTz);
        assert!(p.values.contains(&feb1) && !p.values.contains(&jan15));
        let p = analyze_as("k >= (0)::numeric AND k < '10.5'", KeyType::Numeric);
        assert!(p.values.contains(&KeyValue::Numeric(10.into())));
        let p = analyze_as("k = '-100'::integer OR k = (-5)", KeyType::Int8);
        assert!(has(&p, -100) && has(&p, -5));
        let p = analyze_as("k < '00200000-0000-0000-0000-000000000000'::uuid", KeyType::Uuid);
        let low = parse_text(KeyType::Uuid, "00100000-0000-0000-0000-000000000000", TimeZoneRule::Utc).unwrap();
        assert!(p.values.contains(&low));
    }

    #[test]
    fn quoted_identifiers_match_exactly() {
        let quals = vec!["Events".to_owned()];
        let key = KeyColumn {
            name: "UserId",
            qualifiers: &quals,
            ty: KeyType::Int4,
            text_ranges: false,
            reading: TimeZoneRule::Utc.into(),
        };
        assert!(!analyze(&parse("\"Events\".\"UserId\" = 3"), &key).values.is_all());
        assert!(
            analyze(&parse("UserId = 3"), &key).values.is_all(),
            "unquoted folds to lower case"
        );
    }

    #[test]
    fn array_literal_text() {
        assert_eq!(array_elements("{a, b ,\"c,d\"}").unwrap(), ["a", "b", "c,d"]);
        assert!(array_elements("{a,NULL}").is_none());
        assert!(array_elements("{{1,2}}").is_none());
    }
}
