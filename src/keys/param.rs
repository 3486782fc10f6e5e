//! Bind parameters as the router reads them: a `$n` in a statement stands for
//! the n-th value of the Bind being routed, in text or binary format.

use bigdecimal::BigDecimal;

use super::value::{parse_text, KeyType, KeyValue, TimeZoneRule};

/// One Bind parameter.
#[derive(Debug, Clone, Copy)]
pub struct Param<'a> {
    /// The value's bytes; `None` is SQL NULL.
    pub value: Option<&'a [u8]>,
    /// Binary format (else text).
    pub binary: bool,
    /// The type the Parse declared for it (0: inferred by the server).
    pub type_oid: u32,
}

/// How constants are read: the session's TimeZone (for timestamp literals
/// without an offset) and the parameters of the Bind being routed.
#[derive(Debug, Clone, Copy)]
pub struct Reading<'a> {
    /// The session's TimeZone.
    pub tz: TimeZoneRule,
    /// The Bind's parameters (empty for a simple query).
    pub params: &'a [Param<'a>],
}

impl From<TimeZoneRule> for Reading<'static> {
    fn from(tz: TimeZoneRule) -> Self {
        Reading { tz, params: &[] }
    }
}

/// The key type a declared parameter type stands for (`None`: not a key type).
pub fn key_type_of_oid(oid: u32) -> Option<KeyType> {
    Some(match oid {
        21 => KeyType::Int2,
        23 => KeyType::Int4,
        20 => KeyType::Int8,
        1700 => KeyType::Numeric,
        1082 => KeyType::Date,
        1114 => KeyType::Timestamp,
        1184 => KeyType::TimestampTz,
        25 | 1043 | 1042 | 19 => KeyType::Text,
        2950 => KeyType::Uuid,
        _ => return None,
    })
}

/// The parameter `$n` (1-based) as a value of type `ty`: `Some(None)` for NULL,
/// `None` when it is absent or can't be read.
pub fn read_param(reading: &Reading, placeholder: &str, ty: KeyType) -> Option<Option<KeyValue>> {
    let n: usize = placeholder.strip_prefix('$')?.parse().ok()?;
    let p = reading.params.get(n.checked_sub(1)?)?;
    let Some(bytes) = p.value else {
        return Some(None);
    };
    // A declared type decides the encoding; an inferred one is the column's.
    let declared = match p.type_oid {
        0 => ty,
        oid => key_type_of_oid(oid)?,
    };
    let value = if p.binary {
        decode_binary(declared, bytes)?
    } else {
        parse_text(declared, std::str::from_utf8(bytes).ok()?, reading.tz)?
    };
    Some(Some(value))
}

/// Decodes PostgreSQL's binary send format of a key type.
pub fn decode_binary(ty: KeyType, b: &[u8]) -> Option<KeyValue> {
    Some(match ty {
        KeyType::Int2 => KeyValue::Int(i16::from_be_bytes(b.try_into().ok()?).into()),
        KeyType::Int4 => KeyValue::Int(i32::from_be_bytes(b.try_into().ok()?).into()),
        KeyType::Int8 => KeyValue::Int(i64::from_be_bytes(b.try_into().ok()?)),
        KeyType::Date => KeyValue::Date(i32::from_be_bytes(b.try_into().ok()?)),
        KeyType::Timestamp => KeyValue::Timestamp(i64::from_be_bytes(b.try_into().ok()?)),
        KeyType::TimestampTz => KeyValue::TimestampTz(i64::from_be_bytes(b.try_into().ok()?)),
        KeyType::Text => KeyValue::Text(std::str::from_utf8(b).ok()?.to_owned()),
        KeyType::Uuid => KeyValue::Uuid(b.try_into().ok()?),
        KeyType::Numeric => KeyValue::Numeric(decode_numeric(b)?),
    })
}

/// numeric's binary format: ndigits, weight, sign, dscale (int16 each), then
/// ndigits base-10000 digits, the first worth 10000^weight.
fn decode_numeric(b: &[u8]) -> Option<BigDecimal> {
    let word = |i: usize| -> Option<i16> { Some(i16::from_be_bytes([*b.get(2 * i)?, *b.get(2 * i + 1)?])) };
    let ndigits = usize::try_from(word(0)?).ok()?;
    let weight = i64::from(word(1)?);
    let sign = word(2)? as u16;
    if sign == 0xC000 || b.len() != 8 + 2 * ndigits {
        return None; // NaN, or malformed
    }
    let mut digits = bigdecimal::num_bigint::BigInt::from(0);
    for i in 0..ndigits {
        digits = digits * 10_000 + word(4 + i)?;
    }
    if sign == 0x4000 {
        digits = -digits;
    }
    // value = digits * 10000^(weight - ndigits + 1)
    let exp = (weight - ndigits as i64 + 1) * 4;
    Some(BigDecimal::new(digits, -exp).normalized())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_values() {
        assert_eq!(
            decode_binary(KeyType::Int4, &7i32.to_be_bytes()),
            Some(KeyValue::Int(7))
        );
        assert_eq!(
            decode_binary(KeyType::Int8, &(-3i64).to_be_bytes()),
            Some(KeyValue::Int(-3))
        );
        assert_eq!(decode_binary(KeyType::Int4, &7i64.to_be_bytes()), None);
        assert_eq!(
            decode_binary(KeyType::Date, &1i32.to_be_bytes()),
            Some(KeyValue::Date(1))
        );
        let u = [7u8; 16];
        assert_eq!(decode_binary(KeyType::Uuid, &u), Some(KeyValue::Uuid(u)));
        // 12345.678 = digits [1, 2345, 6780], weight 1, positive, dscale 3
        let mut n = Vec::new();
        for w in [3i16, 1, 0, 3, 1, 2345, 6780] {
            n.extend_from_slice(&w.to_be_bytes());
        }
        let v = decode_binary(KeyType::Numeric, &n).unwrap();
        assert_eq!(v, KeyValue::Numeric("12345.678".parse().unwrap()));
        // -0.5 = digits [5000], weight -1, negative
        let mut n = Vec::new();
        for w in [1i16, -1, 0x4000, 1, 5000] {
            n.extend_from_slice(&w.to_be_bytes());
        }
        assert_eq!(
            decode_binary(KeyType::Numeric, &n),
            Some(KeyValue::Numeric("-0.5".parse().unwrap()))
        );
    }

    #[test]
    fn parameters_by_number_and_format() {
        let seven = 7i32.to_be_bytes();
        let params = [
            Param {
                value: Some(b"42"),
                binary: false,
                type_oid: 0,
            },
            Param {
                value: Some(&seven),
                binary: true,
                type_oid: 23,
            },
            Param {
                value: None,
                binary: false,
                type_oid: 0,
            },
        ];
        let r = Reading {
            tz: TimeZoneRule::Utc,
            params: &params,
        };
        assert_eq!(read_param(&r, "$1", KeyType::Int8), Some(Some(KeyValue::Int(42))));
        // Declared int4, key int8: read as int4.
        assert_eq!(read_param(&r, "$2", KeyType::Int8), Some(Some(KeyValue::Int(7))));
        assert_eq!(read_param(&r, "$3", KeyType::Int8), Some(None));
        assert_eq!(read_param(&r, "$4", KeyType::Int8), None);
        assert_eq!(read_param(&r, "$0", KeyType::Int8), None);
    }
}
