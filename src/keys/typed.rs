//! Constants as PostgreSQL types them before they meet a key: a literal's
//! type from its spelling, a cast's target type, a Bind parameter's declared
//! type (text or binary format), and the explicit casts between the types
//! the router models.

use bigdecimal::num_bigint::BigInt;
use bigdecimal::BigDecimal;
use sqlparser::ast::{DataType, ExactNumberInfo, TimezoneInfo};

use super::value::{
    date_to_timestamp, parse_numeric, parse_text, timestamp_to_date, KeyType, KeyValue, Num, TimeZoneRule, TypMod,
    DAY_MICROS, TS_INFINITY, TS_NEG_INFINITY,
};

/// The SQL types of constants the router can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SqlType {
    /// smallint
    Int2,
    /// integer
    Int4,
    /// bigint
    Int8,
    /// numeric
    Numeric,
    /// real
    Float4,
    /// double precision
    Float8,
    /// date
    Date,
    /// timestamp without time zone
    Timestamp,
    /// timestamp with time zone
    TimestampTz,
    /// text and varchar
    Text,
    /// character(n): trailing spaces do not count
    Bpchar,
    /// name (at most 63 bytes)
    Name,
    /// uuid
    Uuid,
    /// A quoted literal or an untyped parameter: it takes the type of what
    /// it is compared with or assigned to.
    Unknown,
}

impl SqlType {
    /// The type a key type's values have.
    pub fn of_key(ty: KeyType) -> SqlType {
        match ty {
            KeyType::Int2 => SqlType::Int2,
            KeyType::Int4 => SqlType::Int4,
            KeyType::Int8 => SqlType::Int8,
            KeyType::Numeric => SqlType::Numeric,
            KeyType::Date => SqlType::Date,
            KeyType::Timestamp => SqlType::Timestamp,
            KeyType::TimestampTz => SqlType::TimestampTz,
            KeyType::Text => SqlType::Text,
            KeyType::Uuid => SqlType::Uuid,
        }
    }

    /// The key type that stores values of this type, if any.
    pub fn as_key(self) -> Option<KeyType> {
        Some(match self {
            SqlType::Int2 => KeyType::Int2,
            SqlType::Int4 => KeyType::Int4,
            SqlType::Int8 => KeyType::Int8,
            SqlType::Numeric => KeyType::Numeric,
            SqlType::Date => KeyType::Date,
            SqlType::Timestamp => KeyType::Timestamp,
            SqlType::TimestampTz => KeyType::TimestampTz,
            SqlType::Text | SqlType::Name => KeyType::Text,
            SqlType::Uuid => KeyType::Uuid,
            _ => return None,
        })
    }

    /// The type a parameter declared with this OID has; `None` for types
    /// the router does not read (their parameters never narrow).
    pub fn from_oid(oid: u32) -> Option<SqlType> {
        Some(match oid {
            21 => SqlType::Int2,
            23 => SqlType::Int4,
            20 => SqlType::Int8,
            1700 => SqlType::Numeric,
            700 => SqlType::Float4,
            701 => SqlType::Float8,
            1082 => SqlType::Date,
            1114 => SqlType::Timestamp,
            1184 => SqlType::TimestampTz,
            25 | 1043 => SqlType::Text,
            1042 => SqlType::Bpchar,
            19 => SqlType::Name,
            2950 => SqlType::Uuid,
            705 => SqlType::Unknown,
            _ => return None,
        })
    }

    /// The OID of the type (the one a Parse would declare).
    pub fn oid(self) -> u32 {
        match self {
            SqlType::Int2 => 21,
            SqlType::Int4 => 23,
            SqlType::Int8 => 20,
            SqlType::Numeric => 1700,
            SqlType::Float4 => 700,
            SqlType::Float8 => 701,
            SqlType::Date => 1082,
            SqlType::Timestamp => 1114,
            SqlType::TimestampTz => 1184,
            SqlType::Text => 25,
            SqlType::Bpchar => 1042,
            SqlType::Name => 19,
            SqlType::Uuid => 2950,
            SqlType::Unknown => 705,
        }
    }

    /// True for the integer types.
    pub fn is_integer(self) -> bool {
        matches!(self, SqlType::Int2 | SqlType::Int4 | SqlType::Int8)
    }
}

/// A cast target: a type and the modifier it applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CastTarget {
    /// The type.
    pub ty: SqlType,
    /// Its modifier.
    pub typmod: TypMod,
}

/// The cast target a parsed type names, if the router models it.
pub fn cast_target(dt: &DataType) -> Option<CastTarget> {
    let plain = |ty| {
        Some(CastTarget {
            ty,
            typmod: TypMod::None,
        })
    };
    match dt {
        DataType::SmallInt(None) | DataType::Int2(None) => plain(SqlType::Int2),
        DataType::Int(None) | DataType::Integer(None) | DataType::Int4(None) => plain(SqlType::Int4),
        DataType::BigInt(None) | DataType::Int8(None) => plain(SqlType::Int8),
        DataType::Numeric(info) | DataType::Decimal(info) | DataType::Dec(info) => Some(CastTarget {
            ty: SqlType::Numeric,
            typmod: match info {
                ExactNumberInfo::None => TypMod::None,
                ExactNumberInfo::Precision(p) => TypMod::Numeric {
                    precision: u32::try_from(*p).ok()?,
                    scale: 0,
                },
                ExactNumberInfo::PrecisionAndScale(p, s) => TypMod::Numeric {
                    precision: u32::try_from(*p).ok()?,
                    scale: i32::try_from(*s).ok()?,
                },
            },
        }),
        DataType::Real | DataType::Float4 => plain(SqlType::Float4),
        DataType::DoublePrecision | DataType::Float8 | DataType::Double(_) => plain(SqlType::Float8),
        DataType::Float(info) => match info {
            ExactNumberInfo::None => plain(SqlType::Float8),
            ExactNumberInfo::Precision(p) if (1..=24).contains(p) => plain(SqlType::Float4),
            ExactNumberInfo::Precision(p) if (25..=53).contains(p) => plain(SqlType::Float8),
            _ => None,
        },
        DataType::Date => plain(SqlType::Date),
        DataType::Timestamp(precision, tz) => Some(CastTarget {
            ty: match tz {
                TimezoneInfo::WithTimeZone | TimezoneInfo::Tz => SqlType::TimestampTz,
                TimezoneInfo::None | TimezoneInfo::WithoutTimeZone => SqlType::Timestamp,
            },
            typmod: match precision {
                None => TypMod::None,
                Some(p) if *p <= 6 => TypMod::Precision(*p as u32),
                Some(_) => return None,
            },
        }),
        DataType::Text | DataType::String(None) => plain(SqlType::Text),
        DataType::Varchar(None) | DataType::CharacterVarying(None) => plain(SqlType::Text),
        DataType::Uuid => plain(SqlType::Uuid),
        DataType::Custom(name, args) if args.is_empty() => {
            let n = name.to_string().to_ascii_lowercase();
            let n = n.trim_matches('"');
            plain(match n {
                "int2" => SqlType::Int2,
                "int4" => SqlType::Int4,
                "int8" => SqlType::Int8,
                "float4" => SqlType::Float4,
                "float8" => SqlType::Float8,
                "timestamptz" => SqlType::TimestampTz,
                "name" => SqlType::Name,
                "bpchar" => SqlType::Bpchar,
                "varchar" | "text" => SqlType::Text,
                "pg_catalog.int4" => SqlType::Int4,
                "pg_catalog.int8" => SqlType::Int8,
                "pg_catalog.text" => SqlType::Text,
                _ => return None,
            })
        }
        _ => None,
    }
}

/// A constant's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Datum {
    /// A value a key type can hold (text for text, varchar, bpchar, name).
    Key(KeyValue),
    /// real or double precision.
    Float(f64),
    /// The text of an unknown-typed literal.
    Unknown(String),
}

/// A typed constant; `datum` is `None` for NULL.
#[derive(Debug, Clone, PartialEq)]
pub struct Typed {
    /// Its type.
    pub ty: SqlType,
    /// Its value.
    pub datum: Option<Datum>,
}

impl Typed {
    /// A NULL of unknown type.
    pub fn null() -> Typed {
        Typed {
            ty: SqlType::Unknown,
            datum: None,
        }
    }

    /// An unknown-typed literal (`'...'`).
    pub fn unknown(text: impl Into<String>) -> Typed {
        Typed {
            ty: SqlType::Unknown,
            datum: Some(Datum::Unknown(text.into())),
        }
    }

    /// A value of a key type.
    pub fn key(ty: SqlType, v: KeyValue) -> Typed {
        Typed {
            ty,
            datum: Some(Datum::Key(v)),
        }
    }

    /// A numeric literal as the parser types it: an integer that fits in
    /// int4 is int4, one that fits in int8 is int8, anything else (a
    /// decimal point, an exponent, or more digits) numeric.
    pub fn number(text: &str) -> Option<Typed> {
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(v) = text.parse::<i64>() {
                let ty = if i32::try_from(v).is_ok() {
                    SqlType::Int4
                } else {
                    SqlType::Int8
                };
                return Some(Typed::key(ty, KeyValue::Int(v)));
            }
        }
        match parse_numeric(text)? {
            n @ Num::Finite(_) => Some(Typed::key(SqlType::Numeric, KeyValue::Numeric(n))),
            _ => None,
        }
    }

    /// Unary minus, as it applies to a number.
    pub fn negate(self) -> Option<Typed> {
        let datum = match self.datum? {
            Datum::Key(KeyValue::Int(v)) => {
                let n = v.checked_neg()?;
                let (lo, hi) = self.ty.as_key()?.int_range();
                if !(lo..=hi).contains(&n) {
                    return None;
                }
                Datum::Key(KeyValue::Int(n))
            }
            Datum::Key(KeyValue::Numeric(n)) => Datum::Key(KeyValue::Numeric(match n {
                Num::Finite(d) => Num::finite(-d),
                Num::PosInf => Num::NegInf,
                Num::NegInf => Num::PosInf,
                Num::NaN => Num::NaN,
            })),
            Datum::Float(f) => Datum::Float(-f),
            _ => return None,
        };
        Some(Typed {
            ty: self.ty,
            datum: Some(datum),
        })
    }
}

/// A float as `float8in`/`float4in` read it (`NaN`, `Infinity`, `inf`,
/// decimal and exponent forms); out-of-range input is refused, as
/// PostgreSQL refuses it.
fn parse_float(text: &str, single: bool) -> Option<f64> {
    let t = text.trim_matches(|c: char| matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c'));
    let body = t.strip_prefix(['+', '-']).unwrap_or(t);
    let lower = body.to_ascii_lowercase();
    let special = matches!(lower.as_str(), "nan" | "inf" | "infinity");
    if !special
        && !body
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    let v = if single {
        f64::from(t.parse::<f32>().ok()?)
    } else {
        t.parse::<f64>().ok()?
    };
    if lower == "nan" && t.starts_with(['+', '-']) {
        return None;
    }
    let nonzero_digit = body
        .split(['e', 'E'])
        .next()
        .is_some_and(|m| m.bytes().any(|b| matches!(b, b'1'..=b'9')));
    if (v.is_infinite() && !special) || (v == 0.0 && nonzero_digit) {
        return None;
    }
    Some(v)
}

/// Reads the text form of a value of type `ty` (its input function).
pub fn from_text(ty: SqlType, text: &str, tz: TimeZoneRule) -> Option<Typed> {
    let datum = match ty {
        SqlType::Unknown => Datum::Unknown(text.to_owned()),
        SqlType::Float4 => Datum::Float(parse_float(text, true)?),
        SqlType::Float8 => Datum::Float(parse_float(text, false)?),
        SqlType::Bpchar => Datum::Key(KeyValue::Text(text.to_owned())),
        SqlType::Name => Datum::Key(KeyValue::Text(truncate_name(text))),
        other => Datum::Key(parse_text(other.as_key()?, text, tz)?),
    };
    Some(Typed { ty, datum: Some(datum) })
}

/// A name is cut to 63 bytes (at a character boundary), as `namein` does.
fn truncate_name(text: &str) -> String {
    let mut end = text.len().min(63);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// Decodes a value of type `ty` in PostgreSQL's binary send format.
pub fn from_binary(ty: SqlType, b: &[u8]) -> Option<Typed> {
    let datum = match ty {
        SqlType::Int2 => Datum::Key(KeyValue::Int(i16::from_be_bytes(b.try_into().ok()?).into())),
        SqlType::Int4 => Datum::Key(KeyValue::Int(i32::from_be_bytes(b.try_into().ok()?).into())),
        SqlType::Int8 => Datum::Key(KeyValue::Int(i64::from_be_bytes(b.try_into().ok()?))),
        SqlType::Float4 => Datum::Float(f64::from(f32::from_be_bytes(b.try_into().ok()?))),
        SqlType::Float8 => Datum::Float(f64::from_be_bytes(b.try_into().ok()?)),
        SqlType::Date => Datum::Key(KeyValue::Date(i32::from_be_bytes(b.try_into().ok()?))),
        SqlType::Timestamp => Datum::Key(KeyValue::Timestamp(i64::from_be_bytes(b.try_into().ok()?))),
        SqlType::TimestampTz => Datum::Key(KeyValue::TimestampTz(i64::from_be_bytes(b.try_into().ok()?))),
        SqlType::Text | SqlType::Bpchar => Datum::Key(KeyValue::Text(std::str::from_utf8(b).ok()?.to_owned())),
        SqlType::Name => Datum::Key(KeyValue::Text(truncate_name(std::str::from_utf8(b).ok()?))),
        SqlType::Uuid => Datum::Key(KeyValue::Uuid(b.try_into().ok()?)),
        SqlType::Numeric => Datum::Key(KeyValue::Numeric(decode_numeric(b)?)),
        SqlType::Unknown => return None,
    };
    Some(Typed { ty, datum: Some(datum) })
}

/// numeric's binary format: ndigits, weight, sign, dscale (int16 each), then
/// ndigits base-10000 digits, the first worth 10000^weight. The sign word
/// also spells NaN and the infinities.
fn decode_numeric(b: &[u8]) -> Option<Num> {
    let word = |i: usize| -> Option<i16> { Some(i16::from_be_bytes([*b.get(2 * i)?, *b.get(2 * i + 1)?])) };
    let ndigits = usize::try_from(word(0)?).ok()?;
    let weight = i64::from(word(1)?);
    let sign = word(2)? as u16;
    if b.len() != 8 + 2 * ndigits {
        return None;
    }
    match sign {
        0xC000 => return Some(Num::NaN),
        0xD000 => return Some(Num::PosInf),
        0xF000 => return Some(Num::NegInf),
        0x0000 | 0x4000 => {}
        _ => return None,
    }
    let mut digits = BigInt::from(0);
    for i in 0..ndigits {
        let d = word(4 + i)?;
        if !(0..10_000).contains(&d) {
            return None;
        }
        digits = digits * 10_000 + d;
    }
    if sign == 0x4000 {
        digits = -digits;
    }
    // value = digits * 10000^(weight - ndigits + 1)
    let exp = (weight - ndigits as i64 + 1) * 4;
    Some(Num::finite(BigDecimal::new(digits, -exp)))
}

/// A double's exact value as a decimal (every finite double is one).
pub fn exact_decimal(f: f64) -> Option<BigDecimal> {
    if !f.is_finite() {
        return None;
    }
    if f == 0.0 {
        return Some(BigDecimal::from(0));
    }
    let bits = f.to_bits();
    let negative = bits >> 63 == 1;
    let exponent = ((bits >> 52) & 0x7ff) as i64;
    let fraction = bits & ((1u64 << 52) - 1);
    let (mantissa, exp2) = if exponent == 0 {
        (fraction, -1074)
    } else {
        (fraction | (1u64 << 52), exponent - 1075)
    };
    let m = BigInt::from(mantissa);
    let value = if exp2 >= 0 {
        BigDecimal::from(m * BigInt::from(2).pow(exp2 as u32))
    } else {
        // m / 2^k = m * 5^k / 10^k
        let k = (-exp2) as u32;
        BigDecimal::new(m * BigInt::from(5).pow(k), i64::from(k))
    };
    Some(if negative { -value } else { value })
}

/// Rounds half away from zero to `scale` decimal digits, as numeric does.
pub fn round_numeric(d: &BigDecimal, scale: i64) -> BigDecimal {
    d.with_scale_round(scale, bigdecimal::RoundingMode::HalfUp)
}

/// A numeric rounded to an integer (half away from zero), as `numeric::int` does.
fn numeric_to_int(n: &Num) -> Option<i64> {
    let Num::Finite(d) = n else {
        return None;
    };
    let r = round_numeric(d, 0);
    let (digits, _) = r.as_bigint_and_exponent();
    i64::try_from(digits).ok()
}

/// A float rounded to an integer half to even, as `float8::int` does (`rint`).
fn float_to_int(f: f64) -> Option<i64> {
    let r = f.round_ties_even();
    // i64::MAX as f64 rounds up to 2^63, which does not fit.
    (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0)
        .contains(&r)
        .then_some(r as i64)
}

/// Applies a column's type modifier to a value assigned to it: numeric
/// scale and precision, timestamp precision, varchar length. `None` where
/// PostgreSQL would raise an error (or behave in a way not modelled).
pub fn apply_typmod(v: KeyValue, typmod: TypMod) -> Option<KeyValue> {
    match (typmod, v) {
        (TypMod::None, v) => Some(v),
        (TypMod::Numeric { precision, scale }, KeyValue::Numeric(n)) => match n {
            Num::NaN => Some(KeyValue::Numeric(Num::NaN)),
            Num::Finite(d) => {
                let r = round_numeric(&d, i64::from(scale));
                // Digits before the point may not exceed precision - scale.
                let limit = i64::from(precision) - i64::from(scale);
                let abs = r.abs();
                let bound = BigDecimal::new(BigInt::from(1), -limit);
                (abs < bound).then(|| KeyValue::Numeric(Num::finite(r)))
            }
            _ => None,
        },
        (TypMod::Precision(p), KeyValue::Timestamp(t)) => round_timestamp(t, p).map(KeyValue::Timestamp),
        (TypMod::Precision(p), KeyValue::TimestampTz(t)) => round_timestamp(t, p).map(KeyValue::TimestampTz),
        (TypMod::Length(n), KeyValue::Text(s)) => (s.chars().count() <= n as usize).then_some(KeyValue::Text(s)),
        _ => None,
    }
}

/// Rounds microseconds to `p` fractional digits, half away from zero, as
/// `AdjustTimestampForTypmod` does.
fn round_timestamp(t: i64, p: u32) -> Option<i64> {
    if t == TS_INFINITY || t == TS_NEG_INFINITY || p >= 6 {
        return Some(t);
    }
    let scale = 10i64.pow(6 - p);
    let offset = scale / 2;
    Some(if t >= 0 {
        t.checked_add(offset)? / scale * scale
    } else {
        -((-t).checked_add(offset)? / scale * scale)
    })
}

/// Converts a typed constant to `to`, as PostgreSQL's assignment and
/// explicit casts between these types do (rounding numbers into integers,
/// truncating timestamps into dates, using the session's TimeZone between
/// timestamp and timestamptz). `None` where the cast fails or is not
/// modelled; NULL stays NULL.
pub fn cast(v: Typed, to: CastTarget, tz: TimeZoneRule) -> Option<Typed> {
    let Some(datum) = v.datum else {
        return Some(Typed { ty: to.ty, datum: None });
    };
    let out = match (datum, to.ty) {
        (Datum::Unknown(text), ty) => from_text(ty, &text, tz)?.datum?,
        (Datum::Float(f), SqlType::Float4) => Datum::Float(f64::from(f as f32)).checked_float()?,
        (Datum::Float(f), SqlType::Float8) => Datum::Float(f),
        (Datum::Float(f), ty) if ty.is_integer() => Datum::Key(KeyValue::Int(in_range(float_to_int(f)?, ty)?)),
        (Datum::Float(_), _) => return None,
        (Datum::Key(KeyValue::Int(i)), ty) if ty.is_integer() => Datum::Key(KeyValue::Int(in_range(i, ty)?)),
        (Datum::Key(KeyValue::Int(i)), SqlType::Numeric) => Datum::Key(KeyValue::Numeric(Num::finite(i.into()))),
        // An integer's double is exact below 2^53; float4 rounds like a C cast.
        (Datum::Key(KeyValue::Int(i)), SqlType::Float8) if i.unsigned_abs() < (1 << 53) => Datum::Float(i as f64),
        (Datum::Key(KeyValue::Int(i)), SqlType::Float4) if i.unsigned_abs() < (1 << 24) => Datum::Float(i as f64),
        (Datum::Key(KeyValue::Numeric(n)), ty) if ty.is_integer() => {
            Datum::Key(KeyValue::Int(in_range(numeric_to_int(&n)?, ty)?))
        }
        (Datum::Key(KeyValue::Numeric(n)), SqlType::Numeric) => Datum::Key(KeyValue::Numeric(n)),
        // numeric to a float reads the number's text with the float's input
        // function: correctly rounded.
        (Datum::Key(KeyValue::Numeric(n)), SqlType::Float4 | SqlType::Float8) => Datum::Float(match n {
            Num::NaN => f64::NAN,
            Num::PosInf => f64::INFINITY,
            Num::NegInf => f64::NEG_INFINITY,
            Num::Finite(d) => parse_float(&d.to_string(), to.ty == SqlType::Float4)?,
        }),
        (Datum::Key(KeyValue::Date(d)), SqlType::Date) => Datum::Key(KeyValue::Date(d)),
        (Datum::Key(KeyValue::Date(d)), SqlType::Timestamp) => Datum::Key(KeyValue::Timestamp(date_to_timestamp(d))),
        (Datum::Key(KeyValue::Date(d)), SqlType::TimestampTz) => {
            Datum::Key(KeyValue::TimestampTz(tz.to_utc(date_to_timestamp(d))?))
        }
        (Datum::Key(KeyValue::Timestamp(t)), SqlType::Date) => Datum::Key(KeyValue::Date(timestamp_to_date(t)?)),
        (Datum::Key(KeyValue::Timestamp(t)), SqlType::Timestamp) => Datum::Key(KeyValue::Timestamp(t)),
        (Datum::Key(KeyValue::Timestamp(t)), SqlType::TimestampTz) => Datum::Key(KeyValue::TimestampTz(tz.to_utc(t)?)),
        (Datum::Key(KeyValue::TimestampTz(t)), SqlType::Date) => {
            Datum::Key(KeyValue::Date(timestamp_to_date(tz.to_local(t)?)?))
        }
        (Datum::Key(KeyValue::TimestampTz(t)), SqlType::Timestamp) => Datum::Key(KeyValue::Timestamp(tz.to_local(t)?)),
        (Datum::Key(KeyValue::TimestampTz(t)), SqlType::TimestampTz) => Datum::Key(KeyValue::TimestampTz(t)),
        (Datum::Key(KeyValue::Text(s)), SqlType::Text) => match v.ty {
            // bpchar to text drops the trailing spaces.
            SqlType::Bpchar => Datum::Key(KeyValue::Text(s.trim_end_matches(' ').to_owned())),
            _ => Datum::Key(KeyValue::Text(s)),
        },
        (Datum::Key(KeyValue::Text(s)), SqlType::Name) if v.ty != SqlType::Bpchar => {
            Datum::Key(KeyValue::Text(truncate_name(&s)))
        }
        // Text to a number or date type runs the type's input function.
        (Datum::Key(KeyValue::Text(s)), ty) if v.ty != SqlType::Bpchar && ty != SqlType::Bpchar => {
            from_text(ty, &s, tz)?.datum?
        }
        (Datum::Key(KeyValue::Uuid(u)), SqlType::Uuid) => Datum::Key(KeyValue::Uuid(u)),
        _ => return None,
    };
    let out = match (out, to.typmod) {
        (d, TypMod::None) => d,
        (Datum::Key(k), typmod) => Datum::Key(apply_typmod(k, typmod)?),
        _ => return None,
    };
    Some(Typed {
        ty: to.ty,
        datum: Some(out),
    })
}

impl Datum {
    /// A float4 cast that overflowed is an error in PostgreSQL.
    fn checked_float(self) -> Option<Datum> {
        match self {
            Datum::Float(f) if f.is_infinite() => None,
            d => Some(d),
        }
    }
}

fn in_range(i: i64, ty: SqlType) -> Option<i64> {
    let (lo, hi) = ty.as_key()?.int_range();
    (lo..=hi).contains(&i).then_some(i)
}

/// A date's midnight in microseconds, for tests and conversions.
pub fn midnight(days: i32) -> i64 {
    i64::from(days) * DAY_MICROS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(s: &str) -> Typed {
        Typed::key(SqlType::Numeric, KeyValue::Numeric(parse_numeric(s).unwrap()))
    }

    fn to(ty: SqlType) -> CastTarget {
        CastTarget {
            ty,
            typmod: TypMod::None,
        }
    }

    fn int_of(t: Option<Typed>) -> Option<i64> {
        match t?.datum? {
            Datum::Key(KeyValue::Int(i)) => Some(i),
            _ => None,
        }
    }

    #[test]
    fn literals_are_typed_by_spelling() {
        assert_eq!(Typed::number("5").unwrap().ty, SqlType::Int4);
        assert_eq!(Typed::number("2147483648").unwrap().ty, SqlType::Int8);
        assert_eq!(Typed::number("9223372036854775808").unwrap().ty, SqlType::Numeric);
        assert_eq!(Typed::number("5.0").unwrap().ty, SqlType::Numeric);
        assert_eq!(Typed::number("1e3").unwrap().ty, SqlType::Numeric);
        assert_eq!(Typed::number("1_000"), None);
    }

    #[test]
    fn numbers_round_into_integers_as_postgres_does() {
        let tz = TimeZoneRule::Utc;
        // numeric rounds half away from zero, float half to even.
        assert_eq!(int_of(cast(num("2.5"), to(SqlType::Int4), tz)), Some(3));
        assert_eq!(int_of(cast(num("-2.5"), to(SqlType::Int4), tz)), Some(-3));
        let f = |v: f64| Typed {
            ty: SqlType::Float8,
            datum: Some(Datum::Float(v)),
        };
        assert_eq!(int_of(cast(f(2.5), to(SqlType::Int4), tz)), Some(2));
        assert_eq!(int_of(cast(f(3.5), to(SqlType::Int4), tz)), Some(4));
        assert_eq!(int_of(cast(f(-2.5), to(SqlType::Int4), tz)), Some(-2));
        assert_eq!(cast(num("40000"), to(SqlType::Int2), tz), None);
        assert_eq!(cast(f(f64::NAN), to(SqlType::Int8), tz), None);
        let scaled = cast(
            num("1.005"),
            CastTarget {
                ty: SqlType::Numeric,
                typmod: TypMod::Numeric {
                    precision: 10,
                    scale: 2,
                },
            },
            tz,
        );
        assert_eq!(scaled, Some(num("1.01")));
        let overflow = CastTarget {
            ty: SqlType::Numeric,
            typmod: TypMod::Numeric { precision: 3, scale: 2 },
        };
        assert_eq!(cast(num("10.0"), overflow, tz), None);
        assert_eq!(cast(num("9.994"), overflow, tz), Some(num("9.99")));
    }

    #[test]
    fn exact_decimal_of_doubles() {
        assert_eq!(exact_decimal(1.5), Some("1.5".parse().unwrap()));
        assert_eq!(
            exact_decimal(0.1),
            Some(
                "0.1000000000000000055511151231257827021181583404541015625"
                    .parse()
                    .unwrap()
            )
        );
        assert_eq!(exact_decimal(-8.0), Some((-8).into()));
        assert_eq!(exact_decimal(f64::INFINITY), None);
    }

    #[test]
    fn floats_as_float8in_reads_them() {
        assert_eq!(parse_float("1.5", false), Some(1.5));
        assert!(parse_float("NaN", false).unwrap().is_nan());
        assert_eq!(parse_float("-Infinity", false), Some(f64::NEG_INFINITY));
        assert_eq!(parse_float("1e400", false), None);
        assert_eq!(parse_float("1e-400", false), None);
        assert_eq!(parse_float("0x10", false), None);
        assert_eq!(parse_float("0.0", false), Some(0.0));
    }

    #[test]
    fn timestamps_cast_through_the_session_zone() {
        let ny = TimeZoneRule::from_setting("America/New_York").unwrap();
        let local = from_text(SqlType::Timestamp, "2024-07-01 12:00", ny).unwrap();
        let tstz = cast(local.clone(), to(SqlType::TimestampTz), ny).unwrap();
        assert_eq!(
            tstz,
            from_text(SqlType::TimestampTz, "2024-07-01 16:00+00", ny).unwrap()
        );
        assert_eq!(cast(tstz, to(SqlType::Timestamp), ny), Some(local));
        let late = from_text(SqlType::TimestampTz, "2024-07-02 02:00+00", ny).unwrap();
        assert_eq!(
            cast(late, to(SqlType::Date), ny),
            from_text(SqlType::Date, "2024-07-01", ny)
        );
        let rounded = cast(
            from_text(SqlType::Timestamp, "2024-01-01 10:00:00.5", ny).unwrap(),
            CastTarget {
                ty: SqlType::Timestamp,
                typmod: TypMod::Precision(0),
            },
            ny,
        );
        assert_eq!(rounded, from_text(SqlType::Timestamp, "2024-01-01 10:00:01", ny));
        let before_2000 = from_text(SqlType::Timestamp, "1999-12-31 23:00", ny).unwrap();
        assert_eq!(
            cast(before_2000, to(SqlType::Date), ny),
            from_text(SqlType::Date, "1999-12-31", ny)
        );
    }

    #[test]
    fn binary_values() {
        assert_eq!(int_of(from_binary(SqlType::Int4, &7i32.to_be_bytes())), Some(7));
        assert_eq!(from_binary(SqlType::Int4, &7i64.to_be_bytes()), None);
        // 12345.678 = digits [1, 2345, 6780], weight 1, positive, dscale 3
        let mut n = Vec::new();
        for w in [3i16, 1, 0, 3, 1, 2345, 6780] {
            n.extend_from_slice(&w.to_be_bytes());
        }
        assert_eq!(from_binary(SqlType::Numeric, &n), Some(num("12345.678")));
        let mut nan = Vec::new();
        for w in [0i16, 0, 0xC000u16 as i16, 0] {
            nan.extend_from_slice(&w.to_be_bytes());
        }
        assert_eq!(from_binary(SqlType::Numeric, &nan), Some(num("NaN")));
        let f = from_binary(SqlType::Float4, &1.5f32.to_be_bytes()).unwrap();
        assert_eq!(f.datum, Some(Datum::Float(1.5)));
    }
}
