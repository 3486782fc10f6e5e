//! What PostgreSQL's operator resolution makes of `key <op> constant` when
//! the constant's type is not the key's: the set of key values for which
//! the comparison is true. And what an INSERT stores when it assigns a
//! constant to the key column.
//!
//! Every supported pair is reduced to one question: where does the constant
//! fall among the key's own values? The answer ([`Placement`]) is the
//! largest key value at or below it and whether it equals that value; the
//! six operators follow from it. A pair whose comparison PostgreSQL makes
//! in a way this does not model exactly (numeric key against a float, a
//! bpchar constant, a clock change near a timestamp converted through the
//! session's TimeZone) answers `None`: the caller widens.

use bigdecimal::BigDecimal;

use super::set::{Bound, Interval, KeySet, RangeSet};
use super::typed::{cast, exact_decimal, CastTarget, Datum, SqlType, Typed};
use super::value::{
    date_to_timestamp, parse_text, timestamp_to_date, KeyType, KeyValue, Num, TimeZoneRule, TypMod, DAY_MICROS,
    TS_INFINITY, TS_NEG_INFINITY,
};

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `=`
    Eq,
    /// `<>`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CmpOp {
    /// The operator with its operands swapped (`5 < k` is `k > 5`).
    pub fn flipped(self) -> CmpOp {
        match self {
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::Le => CmpOp::Ge,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::Ge => CmpOp::Le,
            other => other,
        }
    }
}

/// Where a constant falls among the values of the key's type.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Placement {
    /// Below every key value.
    BelowAll,
    /// At or just above this key value: `exact` when equal to it.
    At(KeyValue, bool),
    /// Above every key value (NaN, Infinity against integers).
    AboveAll,
}

/// How the constants of one statement are compared with the key.
#[derive(Debug, Clone, Copy)]
pub struct Comparing {
    /// The key's type.
    pub ty: KeyType,
    /// Whether `<`, `>` on a text key order as bytes (the C collation).
    pub text_ranges: bool,
    /// The session's TimeZone.
    pub tz: TimeZoneRule,
    /// False where a comparison that converts through the TimeZone must
    /// not be modelled (a CHECK constraint is evaluated in whatever zone
    /// each writer had, so such a constraint proves nothing).
    pub zone_conversions: bool,
}

/// The key values for which `key <op> value` is true; `None` when not
/// modelled. A NULL constant makes every comparison NULL: the empty set.
pub fn comparison(c: &Comparing, op: CmpOp, value: &Typed) -> Option<KeySet> {
    let ranged = !matches!(op, CmpOp::Eq | CmpOp::Ne);
    if ranged && c.ty == KeyType::Text && !c.text_ranges {
        return None;
    }
    let Some(datum) = &value.datum else {
        return Some(KeySet::empty());
    };
    let placement = place(c, value.ty, datum)?;
    Some(KeySet::from(RangeSet::from_intervals(
        interval_for(op, placement).into_iter().collect(),
    )))
}

fn interval_for(op: CmpOp, p: Placement) -> Vec<Interval> {
    use Bound::{Excluded, Included, Unbounded};
    let all = || vec![Interval::all()];
    let none = Vec::new;
    match p {
        Placement::BelowAll => match op {
            CmpOp::Eq | CmpOp::Lt | CmpOp::Le => none(),
            CmpOp::Ne | CmpOp::Gt | CmpOp::Ge => all(),
        },
        Placement::AboveAll => match op {
            CmpOp::Eq | CmpOp::Gt | CmpOp::Ge => none(),
            CmpOp::Ne | CmpOp::Lt | CmpOp::Le => all(),
        },
        Placement::At(v, exact) => {
            let one = |lo, hi| Interval::new(lo, hi).into_iter().collect::<Vec<_>>();
            match (op, exact) {
                (CmpOp::Eq, true) => vec![Interval::point(v)],
                (CmpOp::Eq, false) => none(),
                (CmpOp::Ne, true) => {
                    let mut out = one(Unbounded, Excluded(v.clone()));
                    out.extend(one(Excluded(v), Unbounded));
                    out
                }
                (CmpOp::Ne, false) => all(),
                (CmpOp::Lt, true) => one(Unbounded, Excluded(v)),
                (CmpOp::Lt, false) | (CmpOp::Le, _) => one(Unbounded, Included(v)),
                (CmpOp::Gt, _) | (CmpOp::Ge, false) => one(Excluded(v), Unbounded),
                (CmpOp::Ge, true) => one(Included(v), Unbounded),
            }
        }
    }
}

/// Where a constant of type `ty` falls among the key's values, following
/// the operator PostgreSQL picks for the pair.
fn place(c: &Comparing, ty: SqlType, datum: &Datum) -> Option<Placement> {
    let exact = |v: KeyValue| Some(Placement::At(v, true));
    match (c.ty, ty, datum) {
        // An unknown literal is read as the key's own type.
        (key, SqlType::Unknown, Datum::Unknown(text)) => exact(parse_text(key, text, c.tz)?),
        // Integers of any width compare exactly with each other.
        (k, t, Datum::Key(KeyValue::Int(i))) if k.is_integer() && t.is_integer() => exact(KeyValue::Int(*i)),
        // integer against numeric compares as numeric.
        (k, SqlType::Numeric, Datum::Key(KeyValue::Numeric(n))) if k.is_integer() => place_int_in_numeric(n),
        // integer against a float compares as double precision, exact while
        // every integer near the constant converts exactly (below 2^53).
        (k, SqlType::Float4 | SqlType::Float8, Datum::Float(f)) if k.is_integer() => {
            if f.is_nan() || *f == f64::INFINITY {
                Some(Placement::AboveAll)
            } else if *f == f64::NEG_INFINITY {
                Some(Placement::BelowAll)
            } else if k == KeyType::Int8 && f.abs() >= 9_007_199_254_740_992.0 {
                None
            } else {
                place_int_in_numeric(&Num::finite(exact_decimal(*f)?))
            }
        }
        (KeyType::Numeric, t, Datum::Key(KeyValue::Int(i))) if t.is_integer() => {
            exact(KeyValue::Numeric(Num::finite(BigDecimal::from(*i))))
        }
        (KeyType::Numeric, SqlType::Numeric, Datum::Key(v @ KeyValue::Numeric(_))) => exact(v.clone()),
        (KeyType::Date, SqlType::Date, Datum::Key(v @ KeyValue::Date(_))) => exact(v.clone()),
        // date against timestamp: the date becomes its midnight.
        (KeyType::Date, SqlType::Timestamp, Datum::Key(KeyValue::Timestamp(t))) => place_date_at(*t),
        // date against timestamptz: its midnight in the session's TimeZone.
        (KeyType::Date, SqlType::TimestampTz, Datum::Key(KeyValue::TimestampTz(t))) => {
            place_date_at(steady_local(c, *t)?)
        }
        (KeyType::Timestamp, SqlType::Date, Datum::Key(KeyValue::Date(d))) => {
            exact(KeyValue::Timestamp(date_to_timestamp(*d)))
        }
        (KeyType::Timestamp, SqlType::Timestamp, Datum::Key(v @ KeyValue::Timestamp(_))) => exact(v.clone()),
        // timestamp against timestamptz: the key is read in the session's zone.
        (KeyType::Timestamp, SqlType::TimestampTz, Datum::Key(KeyValue::TimestampTz(t))) => {
            exact(KeyValue::Timestamp(steady_local(c, *t)?))
        }
        (KeyType::TimestampTz, SqlType::Date | SqlType::Timestamp, d @ Datum::Key(_)) => {
            if !c.zone_conversions {
                return None;
            }
            let local = match d {
                Datum::Key(KeyValue::Date(days)) => date_to_timestamp(*days),
                Datum::Key(KeyValue::Timestamp(t)) => *t,
                _ => return None,
            };
            exact(KeyValue::TimestampTz(c.tz.to_utc(local)?))
        }
        (KeyType::TimestampTz, SqlType::TimestampTz, Datum::Key(v @ KeyValue::TimestampTz(_))) => exact(v.clone()),
        // text against text, varchar or name: byte equality (the key's
        // collation decides whether ranges are modelled, checked above).
        (KeyType::Text, SqlType::Text | SqlType::Name, Datum::Key(v @ KeyValue::Text(_))) => exact(v.clone()),
        (KeyType::Uuid, SqlType::Uuid, Datum::Key(v @ KeyValue::Uuid(_))) => exact(v.clone()),
        _ => None,
    }
}

/// A timestamptz as local time in the session's zone, where the zone's
/// offset does not change nearby (so the comparison is monotonic there).
fn steady_local(c: &Comparing, utc: i64) -> Option<i64> {
    if !c.zone_conversions {
        return None;
    }
    if utc == TS_INFINITY || utc == TS_NEG_INFINITY {
        return Some(utc);
    }
    if !c.tz.steady_around(utc) {
        return None;
    }
    c.tz.to_local(utc)
}

/// The largest date whose midnight is at or below the timestamp.
fn place_date_at(t: i64) -> Option<Placement> {
    let d = timestamp_to_date(t)?;
    let exact = t == TS_INFINITY || t == TS_NEG_INFINITY || t.rem_euclid(DAY_MICROS) == 0;
    Some(Placement::At(KeyValue::Date(d), exact))
}

/// The largest integer at or below a numeric, as an integer key sees it.
fn place_int_in_numeric(n: &Num) -> Option<Placement> {
    match n {
        Num::NaN | Num::PosInf => Some(Placement::AboveAll),
        Num::NegInf => Some(Placement::BelowAll),
        Num::Finite(d) => {
            let floor = d.with_scale_round(0, bigdecimal::RoundingMode::Floor);
            let exact = &floor == d;
            let (digits, _) = floor.as_bigint_and_exponent();
            match i64::try_from(&digits) {
                Ok(i) => Some(Placement::At(KeyValue::Int(i), exact)),
                Err(_) if digits.sign() == bigdecimal::num_bigint::Sign::Minus => Some(Placement::BelowAll),
                Err(_) => Some(Placement::AboveAll),
            }
        }
    }
}

/// The key column as an INSERT assigns to it.
#[derive(Debug, Clone, Copy)]
pub struct Assigning {
    /// The key's type.
    pub ty: KeyType,
    /// Its type modifier.
    pub typmod: TypMod,
    /// The session's TimeZone.
    pub tz: TimeZoneRule,
}

/// The value an INSERT stores in the key for this constant (`Some(None)`
/// for NULL), applying PostgreSQL's assignment cast and the column's type
/// modifier; `None` where that fails or is not modelled (the statement
/// then passes through and PostgreSQL decides).
pub fn assignment(a: &Assigning, value: Typed) -> Option<Option<KeyValue>> {
    if value.datum.is_none() {
        return Some(None);
    }
    let target = SqlType::of_key(a.ty);
    // Strings other than unknown literals assign only to string keys.
    let from_string = matches!(value.ty, SqlType::Text | SqlType::Name | SqlType::Bpchar);
    if from_string && a.ty != KeyType::Text {
        return None;
    }
    // float to numeric goes through a 15-digit text form: not modelled.
    if matches!(value.ty, SqlType::Float4 | SqlType::Float8) && !a.ty.is_integer() {
        return None;
    }
    let typed = cast(
        value,
        CastTarget {
            ty: target,
            typmod: a.typmod,
        },
        a.tz,
    )?;
    match typed.datum? {
        Datum::Key(v) => Some(Some(v)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::typed::from_text;
    use crate::keys::value::parse_numeric;

    fn key(ty: KeyType, tz: TimeZoneRule) -> Comparing {
        Comparing {
            ty,
            text_ranges: true,
            tz,
            zone_conversions: true,
        }
    }

    fn typed(ty: SqlType, text: &str, tz: TimeZoneRule) -> Typed {
        from_text(ty, text, tz).unwrap_or_else(|| panic!("{text}"))
    }

    fn holds(set: &KeySet, v: KeyValue) -> bool {
        set.contains(&v)
    }

    #[test]
    fn integer_key_against_numeric_and_float() {
        let c = key(KeyType::Int8, TimeZoneRule::Utc);
        let n = |s: &str| typed(SqlType::Numeric, s, TimeZoneRule::Utc);
        let i = KeyValue::Int;
        let eq = comparison(&c, CmpOp::Eq, &n("99999")).unwrap();
        assert!(holds(&eq, i(99999)) && !holds(&eq, i(99998)));
        assert!(comparison(&c, CmpOp::Eq, &n("5.5")).unwrap().is_empty());
        let lt = comparison(&c, CmpOp::Lt, &n("5.5")).unwrap();
        assert!(holds(&lt, i(5)) && !holds(&lt, i(6)));
        let ge = comparison(&c, CmpOp::Ge, &n("5.5")).unwrap();
        assert!(!holds(&ge, i(5)) && holds(&ge, i(6)));
        let lt = comparison(&c, CmpOp::Lt, &n("-5.5")).unwrap();
        assert!(holds(&lt, i(-6)) && !holds(&lt, i(-5)));
        // NaN sorts above every number.
        assert!(comparison(&c, CmpOp::Gt, &n("NaN")).unwrap().is_empty());
        assert!(comparison(&c, CmpOp::Lt, &n("NaN")).unwrap().is_all());
        assert!(comparison(&c, CmpOp::Lt, &n("1e30")).unwrap().is_all());
        let f = |v: f64| Typed {
            ty: SqlType::Float8,
            datum: Some(Datum::Float(v)),
        };
        let le = comparison(&c, CmpOp::Le, &f(2.5)).unwrap();
        assert!(holds(&le, i(2)) && !holds(&le, i(3)));
        assert!(
            comparison(&c, CmpOp::Eq, &f(9.3e18)).is_none(),
            "past 2^53 bigint to double is lossy"
        );
        let c4 = key(KeyType::Int4, TimeZoneRule::Utc);
        assert!(comparison(&c4, CmpOp::Eq, &f(9.3e18)).unwrap().is_empty());
        assert!(comparison(&c, CmpOp::Gt, &f(f64::NEG_INFINITY)).unwrap().is_all());
    }

    #[test]
    fn numeric_key() {
        let c = key(KeyType::Numeric, TimeZoneRule::Utc);
        let eq = comparison(&c, CmpOp::Eq, &Typed::number("5").unwrap()).unwrap();
        assert!(holds(&eq, KeyValue::Numeric(parse_numeric("5.000").unwrap())));
        let f = Typed {
            ty: SqlType::Float8,
            datum: Some(Datum::Float(0.1)),
        };
        assert!(
            comparison(&c, CmpOp::Eq, &f).is_none(),
            "numeric against double is lossy"
        );
        let nan = comparison(&c, CmpOp::Eq, &Typed::unknown("NaN")).unwrap();
        assert!(holds(&nan, KeyValue::Numeric(Num::NaN)));
    }

    #[test]
    fn dates_and_timestamps_across_types() {
        let utc = TimeZoneRule::Utc;
        let ts = |s: &str| typed(SqlType::Timestamp, s, utc);
        let date = |s: &str| match parse_text(KeyType::Date, s, utc) {
            Some(v) => v,
            None => panic!("{s}"),
        };
        let c = key(KeyType::Date, utc);
        let eq = comparison(&c, CmpOp::Eq, &ts("2024-01-05 00:00")).unwrap();
        assert!(holds(&eq, date("2024-01-05")));
        assert!(comparison(&c, CmpOp::Eq, &ts("2024-01-05 10:00")).unwrap().is_empty());
        let lt = comparison(&c, CmpOp::Lt, &ts("2024-01-05 10:00")).unwrap();
        assert!(holds(&lt, date("2024-01-05")) && !holds(&lt, date("2024-01-06")));
        let ge = comparison(&c, CmpOp::Ge, &ts("2024-01-05 10:00")).unwrap();
        assert!(!holds(&ge, date("2024-01-05")) && holds(&ge, date("2024-01-06")));

        // A timestamp key against timestamptz, in New York: the key is read locally.
        let ny = TimeZoneRule::from_setting("America/New_York").unwrap();
        let c = key(KeyType::Timestamp, ny);
        let tstz = typed(SqlType::TimestampTz, "2024-07-01 16:00+00", ny);
        let eq = comparison(&c, CmpOp::Eq, &tstz).unwrap();
        assert!(holds(
            &eq,
            parse_text(KeyType::Timestamp, "2024-07-01 12:00", ny).unwrap()
        ));
        // Near a clock change it is not modelled.
        let near = typed(SqlType::TimestampTz, "2024-11-03 06:00+00", ny);
        assert!(comparison(&c, CmpOp::Lt, &near).is_none());
        // A CHECK constraint's conversions prove nothing.
        let check = Comparing {
            zone_conversions: false,
            ..c
        };
        assert!(comparison(&check, CmpOp::Eq, &tstz).is_none());
        // A timestamptz key against a timestamp: the constant is read locally.
        let c = key(KeyType::TimestampTz, ny);
        let local = typed(SqlType::Timestamp, "2024-07-01 12:00", ny);
        let eq = comparison(&c, CmpOp::Eq, &local).unwrap();
        assert!(holds(
            &eq,
            parse_text(KeyType::TimestampTz, "2024-07-01 16:00+00", ny).unwrap()
        ));
    }

    #[test]
    fn strings() {
        let c = Comparing {
            text_ranges: false,
            ..key(KeyType::Text, TimeZoneRule::Utc)
        };
        let bp = typed(SqlType::Bpchar, "a ", TimeZoneRule::Utc);
        assert!(comparison(&c, CmpOp::Eq, &bp).is_none());
        assert!(comparison(&c, CmpOp::Lt, &Typed::unknown("m")).is_none());
        let name = typed(SqlType::Name, &"x".repeat(70), TimeZoneRule::Utc);
        let eq = comparison(&c, CmpOp::Eq, &name).unwrap();
        assert!(holds(&eq, KeyValue::Text("x".repeat(63))));
        assert!(comparison(&c, CmpOp::Eq, &Typed::number("5").unwrap()).is_none());
    }

    #[test]
    fn assignments() {
        let ny = TimeZoneRule::from_setting("America/New_York").unwrap();
        let a = |ty, typmod| Assigning { ty, typmod, tz: ny };
        let int = a(KeyType::Int4, TypMod::None);
        assert_eq!(
            assignment(&int, typed(SqlType::Numeric, "2.5", ny)),
            Some(Some(KeyValue::Int(3)))
        );
        let f = Typed {
            ty: SqlType::Float8,
            datum: Some(Datum::Float(2.5)),
        };
        assert_eq!(assignment(&int, f), Some(Some(KeyValue::Int(2))));
        assert_eq!(assignment(&int, Typed::unknown("2.5")), None);
        assert_eq!(assignment(&int, typed(SqlType::Text, "2", ny)), None);
        assert_eq!(assignment(&int, Typed::null()), Some(None));
        let date = a(KeyType::Date, TypMod::None);
        assert_eq!(
            assignment(&date, typed(SqlType::Timestamp, "2024-01-05 23:00", ny)),
            Some(parse_text(KeyType::Date, "2024-01-05", ny))
        );
        assert_eq!(
            assignment(&date, typed(SqlType::TimestampTz, "2024-01-06 02:00+00", ny)),
            Some(parse_text(KeyType::Date, "2024-01-05", ny))
        );
        let ts0 = a(KeyType::Timestamp, TypMod::Precision(0));
        assert_eq!(
            assignment(&ts0, Typed::unknown("2024-01-05 10:00:00.5")),
            Some(parse_text(KeyType::Timestamp, "2024-01-05 10:00:01", ny))
        );
        let vc = a(KeyType::Text, TypMod::Length(3));
        assert_eq!(assignment(&vc, Typed::unknown("abcd")), None);
        let text = a(KeyType::Text, TypMod::None);
        assert_eq!(
            assignment(&text, typed(SqlType::Bpchar, "ab  ", ny)),
            Some(Some(KeyValue::Text("ab".into())))
        );
    }
}
