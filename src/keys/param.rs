//! Bind parameters as the router reads them: a `$n` in a statement stands for
//! the n-th value of the Bind being routed (text or binary format, with the
//! type the Parse declared), or the n-th argument of an SQL `EXECUTE`.

use super::typed::{cast, from_binary, from_text, CastTarget, SqlType, Typed};
use super::value::{TimeZoneRule, TypMod};

/// One parameter's value.
#[derive(Debug, Clone, Copy)]
pub enum ParamValue<'a> {
    /// SQL NULL.
    Null,
    /// Text format.
    Text(&'a [u8]),
    /// Binary format.
    Binary(&'a [u8]),
    /// An `EXECUTE` argument, already typed as its expression is.
    Constant(&'a Typed),
}

/// One parameter.
#[derive(Debug, Clone, Copy)]
pub struct Param<'a> {
    /// Its value.
    pub value: ParamValue<'a>,
    /// The type the statement declared for it (0: inferred by the server;
    /// `u32::MAX`: declared as a type the router does not read).
    pub type_oid: u32,
}

impl<'a> Param<'a> {
    /// A Bind parameter: its bytes (`None` for NULL) and format.
    pub fn bound(value: Option<&'a [u8]>, binary: bool, type_oid: u32) -> Param<'a> {
        let value = match (value, binary) {
            (None, _) => ParamValue::Null,
            (Some(b), true) => ParamValue::Binary(b),
            (Some(b), false) => ParamValue::Text(b),
        };
        Param { value, type_oid }
    }
}

/// How constants are read: the session's TimeZone (for timestamp literals
/// without an offset) and the parameters of the Bind being routed.
#[derive(Debug, Clone, Copy)]
pub struct Reading<'a> {
    /// The session's TimeZone.
    pub tz: TimeZoneRule,
    /// The Bind's parameters (empty for a simple query).
    pub params: &'a [Param<'a>],
    /// For each `$n` (index n-1): true when the statement uses it exactly
    /// once, so a type the server infers for it is the type of the one
    /// place it appears.
    pub single_use: &'a [bool],
    /// Whether comparisons that convert through the TimeZone are modelled
    /// (false when reading CHECK constraints).
    pub zone_conversions: bool,
}

impl From<TimeZoneRule> for Reading<'static> {
    fn from(tz: TimeZoneRule) -> Self {
        Reading {
            tz,
            params: &[],
            single_use: &[],
            zone_conversions: true,
        }
    }
}

impl Reading<'static> {
    /// How catalog text (constraints, bounds, defaults) is read: in UTC,
    /// with no conversion through a session's zone.
    pub fn catalog() -> Reading<'static> {
        Reading {
            tz: TimeZoneRule::Utc,
            params: &[],
            single_use: &[],
            zone_conversions: false,
        }
    }
}

/// The parameter `$n` (1-based) as a typed constant, where it stands in a
/// place whose type is `context` (the key's, when compared with or assigned
/// to the key). `None` when it is absent or its type can't be known.
pub fn read_param(reading: &Reading, placeholder: &str, context: SqlType) -> Option<Typed> {
    let n: usize = placeholder.strip_prefix('$')?.parse().ok()?;
    let index = n.checked_sub(1)?;
    let p = reading.params.get(index)?;
    let declared = match p.type_oid {
        // The server infers the type from the one place the parameter is used.
        0 if reading.single_use.get(index) == Some(&true) => None,
        0 => return None,
        oid => Some(SqlType::from_oid(oid)?),
    };
    match (p.value, declared) {
        (ParamValue::Null, ty) => Some(Typed {
            ty: ty.unwrap_or(context),
            datum: None,
        }),
        (ParamValue::Text(b), Some(ty)) => from_text(ty, std::str::from_utf8(b).ok()?, reading.tz),
        // Inferred from its place: read as that place's type would be.
        (ParamValue::Text(b), None) => Some(Typed::unknown(std::str::from_utf8(b).ok()?)),
        (ParamValue::Binary(b), ty) => from_binary(ty.unwrap_or(context), b),
        (ParamValue::Constant(t), ty) => cast(
            t.clone(),
            CastTarget {
                ty: ty.unwrap_or(context),
                typmod: TypMod::None,
            },
            reading.tz,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::typed::Datum;
    use crate::keys::value::KeyValue;

    #[test]
    fn parameters_by_number_format_and_declared_type() {
        let seven = 7i32.to_be_bytes();
        let params = [
            Param::bound(Some(b"42"), false, 0),
            Param::bound(Some(&seven), true, 23),
            Param::bound(None, false, 0),
            Param::bound(Some(b"99999"), false, 1700),
            Param::bound(Some(b"1"), false, 0),
        ];
        let r = Reading {
            tz: TimeZoneRule::Utc,
            params: &params,
            single_use: &[true, true, true, true, false],
            zone_conversions: true,
        };
        assert_eq!(read_param(&r, "$1", SqlType::Int8), Some(Typed::unknown("42")));
        let two = read_param(&r, "$2", SqlType::Int8).unwrap();
        assert_eq!((two.ty, two.datum), (SqlType::Int4, Some(Datum::Key(KeyValue::Int(7)))));
        assert_eq!(read_param(&r, "$3", SqlType::Int8).map(|t| t.datum), Some(None));
        assert_eq!(
            read_param(&r, "$4", SqlType::Int8).map(|t| t.ty),
            Some(SqlType::Numeric)
        );
        // Used twice with an inferred type: its type may come from elsewhere.
        assert_eq!(read_param(&r, "$5", SqlType::Int8), None);
        assert_eq!(read_param(&r, "$6", SqlType::Int8), None);
        assert_eq!(read_param(&r, "$0", SqlType::Int8), None);
    }
}
