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
    BinaryOperator, CastKind, DataType, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, UnaryOperator,
    Value,
};

use super::compare::{assignment, comparison, Assigning, CmpOp, Comparing};
use super::param::{read_param, Reading};
use super::set::{Interval, KeySet, Modulo, RangeSet};
use super::typed::{cast, cast_target, Datum, SqlType, Typed};
use super::value::{KeyType, KeyValue, TypMod};

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
            None => ident.value.to_ascii_lowercase() == self.name,
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
                            None => q.value.to_ascii_lowercase() == *name,
                        })
                }
                _ => false,
            },
            Expr::Nested(inner) => self.is_key(inner),
            // A cast that keeps the value as it is (varchar to text, an
            // integer to a wider one).
            Expr::Cast {
                kind: CastKind::DoubleColon | CastKind::Cast,
                expr,
                data_type,
                format: None,
            } => {
                cast_target(data_type).is_some_and(|t| t.typmod == TypMod::None && same_family(t.ty, self.ty))
                    && self.is_key(expr)
            }
            _ => false,
        }
    }

    /// How constants are compared with this key.
    fn comparing(&self) -> Comparing {
        Comparing {
            ty: self.ty,
            text_ranges: self.text_ranges,
            tz: self.reading.tz,
            zone_conversions: self.reading.zone_conversions,
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
        match integer_constant(rhs, self.reading)? {
            0 => None,
            n => Some(n),
        }
    }
}

/// An integer-typed constant's value (`key % 4 = 1` compares integers).
fn integer_constant(expr: &Expr, rd: Reading) -> Option<i64> {
    let t = typed_constant(expr, rd, SqlType::Int8)?;
    match (t.ty, t.datum?) {
        (ty, Datum::Key(KeyValue::Int(i))) if ty.is_integer() => Some(i),
        _ => None,
    }
}

/// True when a cast to `cast` keeps every value of `key` unchanged.
fn same_family(cast: SqlType, key: KeyType) -> bool {
    match cast.as_key() {
        Some(t) if cast != SqlType::Name => t == key || (t == KeyType::Int8 && key.is_integer()),
        _ => false,
    }
}

/// A constant expression as PostgreSQL types it: literals by their
/// spelling, casts and typed literals by their target type, `$n` by its
/// declared type (or, when the server infers it, by `context`: the type of
/// the place it stands in). `None` for anything that is not a constant the
/// router reads exactly.
pub fn typed_constant(expr: &Expr, rd: Reading, context: SqlType) -> Option<Typed> {
    match expr {
        Expr::Nested(inner) => typed_constant(inner, rd, context),
        Expr::Value(v) => match &v.value {
            Value::Null => Some(Typed::null()),
            Value::Number(n, _) => Typed::number(n),
            Value::SingleQuotedString(s) => Some(Typed::unknown(s.as_str())),
            Value::DollarQuotedString(d) => Some(Typed::unknown(d.value.as_str())),
            Value::Placeholder(p) => read_param(&rd, p, context),
            // E'...' (escapes already decoded by the parser, which may read
            // them otherwise than PostgreSQL), U&'...', N'...', B'...': not read.
            _ => None,
        },
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => typed_constant(expr, rd, context)?.negate(),
        Expr::UnaryOp {
            op: UnaryOperator::Plus,
            expr,
        } => {
            let t = typed_constant(expr, rd, context)?;
            matches!(
                t.ty,
                SqlType::Int2 | SqlType::Int4 | SqlType::Int8 | SqlType::Numeric | SqlType::Float4 | SqlType::Float8
            )
            .then_some(t)
        }
        Expr::Cast {
            kind: CastKind::DoubleColon | CastKind::Cast,
            expr,
            data_type,
            format: None,
        } => {
            let to = cast_target(data_type)?;
            cast(typed_constant(expr, rd, to.ty)?, to, rd.tz)
        }
        Expr::TypedString(ts) => {
            let to = cast_target(&ts.data_type)?;
            let Value::SingleQuotedString(s) = &ts.value.value else {
                return None;
            };
            cast(Typed::unknown(s.as_str()), to, rd.tz)
        }
        _ => None,
    }
}

/// The value an INSERT stores in the key for `expr` (`Some(None)`: NULL);
/// `None` when it is not a constant, or its assignment is not modelled.
pub fn assigned_value(expr: &Expr, key: &Assigning, rd: Reading) -> Option<Option<KeyValue>> {
    assignment(key, typed_constant(expr, rd, SqlType::of_key(key.ty))?)
}

fn cmp_op(op: &BinaryOperator) -> Option<CmpOp> {
    Some(match op {
        BinaryOperator::Eq => CmpOp::Eq,
        BinaryOperator::NotEq => CmpOp::Ne,
        BinaryOperator::Lt => CmpOp::Lt,
        BinaryOperator::LtEq => CmpOp::Le,
        BinaryOperator::Gt => CmpOp::Gt,
        BinaryOperator::GtEq => CmpOp::Ge,
        _ => return None,
    })
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
            '\\' => cur.push(chars.next()?),
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

/// The values of a list whose elements PostgreSQL compares with the key one
/// by one in a common type. Per-element comparison equals PostgreSQL's only
/// when the elements share one type, or are all exact numbers (integers and
/// numeric, which convert to the common type without loss); unknown
/// literals are allowed only beside elements of the key's own type. A NULL
/// element is not read either.
fn uniform_list(items: Vec<Typed>, key: &KeyColumn) -> Option<Vec<Typed>> {
    let exact_number = |t: SqlType| t.is_integer() || t == SqlType::Numeric;
    let typed: Vec<SqlType> = items
        .iter()
        .filter(|t| t.ty != SqlType::Unknown)
        .map(|t| t.ty)
        .collect();
    if let Some(&first) = typed.first() {
        let same = typed.iter().all(|&t| t == first);
        if !same && !typed.iter().all(|&t| exact_number(t)) {
            return None;
        }
        let has_unknown = typed.len() < items.len();
        if has_unknown && !(same && first == SqlType::of_key(key.ty)) {
            return None;
        }
    }
    items.iter().all(|t| t.datum.is_some()).then_some(items)
}

/// The key values equal to one of `items`.
fn equal_to_any(items: &[Typed], key: &KeyColumn) -> Option<KeySet> {
    let c = key.comparing();
    let mut out = KeySet::empty();
    for t in items {
        let (union, _) = out.union(&comparison(&c, CmpOp::Eq, t)?);
        out = union;
    }
    Some(out)
}

/// The elements of the right side of `key = ANY (...)`: an ARRAY[...]
/// constructor, or an array literal (cast to an array type, or unknown and
/// so read as an array of the key's type).
fn any_elements(expr: &Expr, key: &KeyColumn) -> Option<Vec<Typed>> {
    let context = SqlType::of_key(key.ty);
    match expr {
        Expr::Nested(inner) => any_elements(inner, key),
        Expr::Array(arr) => {
            let items: Vec<Typed> = arr
                .elem
                .iter()
                .map(|e| typed_constant(e, key.reading, context))
                .collect::<Option<_>>()?;
            // ARRAY['a', 'b'] of unknown literals alone is a text[].
            if items.iter().all(|t| t.ty == SqlType::Unknown) {
                return items
                    .into_iter()
                    .map(|t| {
                        cast(
                            t,
                            super::typed::CastTarget {
                                ty: SqlType::Text,
                                typmod: TypMod::None,
                            },
                            key.reading.tz,
                        )
                    })
                    .collect();
            }
            uniform_list(items, key)
        }
        Expr::Cast {
            kind: CastKind::DoubleColon | CastKind::Cast,
            expr,
            data_type: DataType::Array(inner),
            format: None,
        } => {
            let element = match inner {
                sqlparser::ast::ArrayElemTypeDef::SquareBracket(t, None)
                | sqlparser::ast::ArrayElemTypeDef::AngleBracket(t) => cast_target(t)?,
                _ => return None,
            };
            // `'{a,b}'::t[]`, or `ARRAY[...]::t[]` as catalog text prints it.
            let items: Vec<Typed> = match strip_nested(expr) {
                Expr::Value(v) => match &v.value {
                    Value::SingleQuotedString(s) => array_elements(s)?.into_iter().map(Typed::unknown).collect(),
                    _ => return None,
                },
                Expr::Array(arr) => arr
                    .elem
                    .iter()
                    .map(|e| typed_constant(e, key.reading, element.ty))
                    .collect::<Option<_>>()?,
                _ => return None,
            };
            items
                .into_iter()
                .map(|item| cast(item, element, key.reading.tz))
                .collect()
        }
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) => Some(array_elements(s)?.into_iter().map(Typed::unknown).collect()),
            _ => None,
        },
        _ => None,
    }
}

fn strip_nested(e: &Expr) -> &Expr {
    match e {
        Expr::Nested(inner) => strip_nested(inner),
        other => other,
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

/// Analyses `expr` for the key column.
pub fn analyze(expr: &Expr, key: &KeyColumn) -> KeyPredicate {
    analyze_inner(expr, key).unwrap_or_else(KeyPredicate::any)
}

/// `key IS [NOT] DISTINCT FROM value`: never NULL.
fn distinct_from(value: &Expr, key: &KeyColumn, distinct: bool) -> Option<KeyPredicate> {
    let t = typed_constant(value, key.reading, SqlType::of_key(key.ty))?;
    let p = if t.datum.is_none() {
        // IS NOT DISTINCT FROM NULL is IS NULL.
        KeyPredicate {
            values: KeySet::empty(),
            null: Truth::TRUE,
            exact: true,
        }
    } else {
        KeyPredicate {
            values: comparison(&key.comparing(), CmpOp::Eq, &t)?,
            null: Truth::FALSE,
            exact: true,
        }
    };
    Some(if distinct { p.not() } else { p })
}

fn analyze_inner(expr: &Expr, key: &KeyColumn) -> Option<KeyPredicate> {
    let context = SqlType::of_key(key.ty);
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
            let op = cmp_op(op)?;
            let (op, keyside, other) = if key.is_key(left) || key.modulus_of(left).is_some() {
                (op, left.as_ref(), right.as_ref())
            } else if key.is_key(right) || key.modulus_of(right).is_some() {
                (op.flipped(), right.as_ref(), left.as_ref())
            } else {
                return None;
            };
            if let Some(m) = key.modulus_of(keyside) {
                if op != CmpOp::Eq {
                    return None;
                }
                return Some(KeyPredicate::comparison(bucket(
                    m,
                    [integer_constant(other, key.reading)?],
                )));
            }
            let value = typed_constant(other, key.reading, context)?;
            // A comparison with NULL is NULL: a CHECK passes, a WHERE keeps
            // nothing; one set can't say both, so it is not read.
            value.datum.as_ref()?;
            comparison(&key.comparing(), op, &value).map(KeyPredicate::comparison)
        }
        Expr::IsDistinctFrom(a, b) | Expr::IsNotDistinctFrom(a, b) => {
            let distinct = matches!(expr, Expr::IsDistinctFrom(..));
            if key.is_key(a) {
                distinct_from(b, key, distinct)
            } else if key.is_key(b) {
                distinct_from(a, key, distinct)
            } else {
                None
            }
        }
        Expr::Between {
            expr,
            negated,
            low,
            high,
        } => {
            if !key.is_key(expr) {
                return None;
            }
            let (lo, hi) = (
                typed_constant(low, key.reading, context)?,
                typed_constant(high, key.reading, context)?,
            );
            lo.datum.as_ref()?;
            hi.datum.as_ref()?;
            let c = key.comparing();
            let (set, _) = comparison(&c, CmpOp::Ge, &lo)?.intersect(&comparison(&c, CmpOp::Le, &hi)?);
            let p = KeyPredicate::comparison(set);
            Some(if *negated { p.not() } else { p })
        }
        Expr::InList { expr, list, negated } => {
            let set = if let Some(m) = key.modulus_of(expr) {
                let residues: Vec<i64> = list
                    .iter()
                    .map(|e| integer_constant(e, key.reading))
                    .collect::<Option<_>>()?;
                bucket(m, residues)
            } else if key.is_key(expr) {
                let items: Vec<Typed> = list
                    .iter()
                    .map(|e| typed_constant(e, key.reading, context))
                    .collect::<Option<_>>()?;
                equal_to_any(&uniform_list(items, key)?, key)?
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
        } if key.is_key(left) => Some(KeyPredicate::comparison(equal_to_any(&any_elements(right, key)?, key)?)),
        Expr::AllOp {
            left,
            compare_op: BinaryOperator::NotEq,
            right,
        } if key.is_key(left) => Some(KeyPredicate::comparison(equal_to_any(&any_elements(right, key)?, key)?).not()),
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

/// Values of a point set, for tests and callers that list values.
pub fn points(values: impl IntoIterator<Item = KeyValue>) -> KeySet {
    KeySet::from(RangeSet::from_intervals(
        values.into_iter().map(Interval::point).collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::value::{parse_text, TimeZoneRule};
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
        let p = analyze_as(
            "((k)::text = ANY ((ARRAY['de'::character varying, 'fr'::character varying])::text[]))",
            KeyType::Text,
        );
        assert!(p.values.contains(&KeyValue::Text("fr".into())) && !p.values.contains(&KeyValue::Text("us".into())));
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
        // No integer equals 1.5 (the comparison is numeric): nothing matches.
        assert!(
            ints("k = 1.5").values.is_empty(),
            "fractional literal on an integer key"
        );
        assert!(
            ints("k = '1.5'").values.is_all(),
            "'1.5' is not an integer: PostgreSQL errors"
        );
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
        assert!(p
            .values
            .contains(&KeyValue::Numeric(crate::keys::Num::finite(10.into()))));
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
    fn typed_values_against_an_integer_key() {
        let p = ints("k = 5.0");
        assert!(has(&p, 5) && !has(&p, 4));
        let p = ints("k < 5.5::float8");
        assert!(has(&p, 5) && !has(&p, 6));
        let p = ints("k >= '5.5'::numeric");
        assert!(!has(&p, 5) && has(&p, 6));
        let p = ints("k IS NOT DISTINCT FROM 5");
        assert!(has(&p, 5) && !has(&p, 6) && p.null == Truth::FALSE);
        let p = ints("k IS DISTINCT FROM 5");
        assert!(!has(&p, 5) && has(&p, 6) && p.null == Truth::TRUE);
        let p = ints("k IS NOT DISTINCT FROM NULL");
        assert!(p.values.is_empty() && p.null == Truth::TRUE);
        let p = ints("k <> ALL (ARRAY[1, 2])");
        assert!(!has(&p, 1) && has(&p, 3));
        // Mixed list types resolve to a common type PostgreSQL picks: not read.
        assert!(ints("k IN ('1', 2.5)").values.is_all());
        let p = ints("k IN (1, 2.5)");
        assert!(ints("k IN (1, 2.5::float8)").values.is_all());
        assert!(!p.values.is_all());
        // An ARRAY of unknown literals is text[]: PostgreSQL refuses it against an integer.
        assert!(ints("k = ANY (ARRAY['1', '2'])").values.is_all());
        let p = ints("k = ANY ('{1.5,2}'::numeric[])");
        assert!(has(&p, 2) && !has(&p, 1));
        let p = ints("k = -5::int");
        assert!(has(&p, -5));
        let p = ints("k = +5");
        assert!(has(&p, 5));
        assert!(ints("k = E'5'").values.is_all(), "escape strings are not read");
        let p = ints("k = $$7$$");
        assert!(has(&p, 7));
    }

    #[test]
    fn array_literal_text() {
        assert_eq!(array_elements("{a, b ,\"c,d\"}").unwrap(), ["a", "b", "c,d"]);
        assert!(array_elements("{a,NULL}").is_none());
        assert!(array_elements("{{1,2}}").is_none());
    }
}
