//! Key types and values, compared the way PostgreSQL compares them.

use std::cmp::Ordering;
use std::str::FromStr;

use bigdecimal::BigDecimal;
use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime};

/// The key column types the router understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// smallint
    Int2,
    /// integer
    Int4,
    /// bigint
    Int8,
    /// numeric (any precision)
    Numeric,
    /// date
    Date,
    /// timestamp without time zone
    Timestamp,
    /// timestamp with time zone
    TimestampTz,
    /// text, varchar, char-free string types
    Text,
    /// uuid
    Uuid,
}

impl KeyType {
    /// Maps `format_type()` output (e.g. `character varying(20)`) to a key type.
    pub fn from_pg_name(name: &str) -> Option<KeyType> {
        let base = name.split('(').next().unwrap_or(name).trim();
        Some(match base {
            "smallint" | "int2" => KeyType::Int2,
            "integer" | "int" | "int4" => KeyType::Int4,
            "bigint" | "int8" => KeyType::Int8,
            "numeric" | "decimal" => KeyType::Numeric,
            "date" => KeyType::Date,
            "timestamp without time zone" | "timestamp" => KeyType::Timestamp,
            "timestamp with time zone" | "timestamptz" => KeyType::TimestampTz,
            "text" | "character varying" | "varchar" => KeyType::Text,
            "uuid" => KeyType::Uuid,
            _ => return None,
        })
    }

    /// True for types whose values are discrete steps (so `x > 5` is `x >= 6`).
    pub fn is_discrete(self) -> bool {
        matches!(
            self,
            KeyType::Int2 | KeyType::Int4 | KeyType::Int8 | KeyType::Date | KeyType::Timestamp | KeyType::TimestampTz
        )
    }

    /// True for the integer types (where `%` and `mod()` apply).
    pub fn is_integer(self) -> bool {
        matches!(self, KeyType::Int2 | KeyType::Int4 | KeyType::Int8)
    }

    fn int_range(self) -> (i64, i64) {
        match self {
            KeyType::Int2 => (i16::MIN as i64, i16::MAX as i64),
            KeyType::Int4 => (i32::MIN as i64, i32::MAX as i64),
            _ => (i64::MIN, i64::MAX),
        }
    }
}

/// A non-null key value. Values of one key column are always of one variant.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KeyValue {
    /// smallint, integer, bigint
    Int(i64),
    /// numeric
    Numeric(BigDecimal),
    /// date, as days since 2000-01-01 (PostgreSQL's epoch)
    Date(i32),
    /// timestamp, microseconds since 2000-01-01 00:00:00
    Timestamp(i64),
    /// timestamptz, microseconds since 2000-01-01 00:00:00 UTC
    TimestampTz(i64),
    /// text, compared bytewise (the C collation)
    Text(String),
    /// uuid, compared bytewise
    Uuid([u8; 16]),
}

impl PartialOrd for KeyValue {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for KeyValue {
    fn cmp(&self, other: &Self) -> Ordering {
        use KeyValue::*;
        match (self, other) {
            (Int(a), Int(b)) => a.cmp(b),
            (Numeric(a), Numeric(b)) => a.cmp(b),
            (Date(a), Date(b)) => a.cmp(b),
            (Timestamp(a), Timestamp(b)) | (TimestampTz(a), TimestampTz(b)) => a.cmp(b),
            (Text(a), Text(b)) => a.as_bytes().cmp(b.as_bytes()),
            (Uuid(a), Uuid(b)) => a.cmp(b),
            // Mixed variants never meet for one column; order them stably anyway.
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

fn fmt_micros(f: &mut std::fmt::Formatter<'_>, micros: i64, suffix: &str) -> std::fmt::Result {
    match pg_epoch().checked_add_signed(chrono::Duration::microseconds(micros)) {
        Some(t) if t.and_utc().timestamp_subsec_micros() == 0 => write!(f, "{}{suffix}", t.format("%Y-%m-%d %H:%M:%S")),
        Some(t) => write!(f, "{}{suffix}", t.format("%Y-%m-%d %H:%M:%S%.6f")),
        None => write!(f, "{micros}us"),
    }
}

/// The value as PostgreSQL prints it (timestamptz in UTC).
impl std::fmt::Display for KeyValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyValue::Int(v) => write!(f, "{v}"),
            KeyValue::Numeric(v) => write!(f, "{v}"),
            KeyValue::Date(d) => match pg_epoch()
                .date()
                .checked_add_signed(chrono::Duration::days(i64::from(*d)))
            {
                Some(date) => write!(f, "{}", date.format("%Y-%m-%d")),
                None => write!(f, "{d}d"),
            },
            KeyValue::Timestamp(t) => fmt_micros(f, *t, ""),
            KeyValue::TimestampTz(t) => fmt_micros(f, *t, "+00"),
            KeyValue::Text(s) => f.write_str(s),
            KeyValue::Uuid(b) => {
                for (i, byte) in b.iter().enumerate() {
                    if matches!(i, 4 | 6 | 8 | 10) {
                        f.write_str("-")?;
                    }
                    write!(f, "{byte:02x}")?;
                }
                Ok(())
            }
        }
    }
}

impl KeyValue {
    fn rank(&self) -> u8 {
        match self {
            KeyValue::Int(_) => 0,
            KeyValue::Numeric(_) => 1,
            KeyValue::Date(_) => 2,
            KeyValue::Timestamp(_) => 3,
            KeyValue::TimestampTz(_) => 4,
            KeyValue::Text(_) => 5,
            KeyValue::Uuid(_) => 6,
        }
    }

    /// The next value up, for discrete types (`None` at the top or for dense types).
    pub fn successor(&self) -> Option<KeyValue> {
        Some(match self {
            KeyValue::Int(v) => KeyValue::Int(v.checked_add(1)?),
            KeyValue::Date(v) => KeyValue::Date(v.checked_add(1)?),
            KeyValue::Timestamp(v) => KeyValue::Timestamp(v.checked_add(1)?),
            KeyValue::TimestampTz(v) => KeyValue::TimestampTz(v.checked_add(1)?),
            _ => return None,
        })
    }

    /// The next value down, for discrete types.
    pub fn predecessor(&self) -> Option<KeyValue> {
        Some(match self {
            KeyValue::Int(v) => KeyValue::Int(v.checked_sub(1)?),
            KeyValue::Date(v) => KeyValue::Date(v.checked_sub(1)?),
            KeyValue::Timestamp(v) => KeyValue::Timestamp(v.checked_sub(1)?),
            KeyValue::TimestampTz(v) => KeyValue::TimestampTz(v.checked_sub(1)?),
            _ => return None,
        })
    }
}

/// How a timestamp literal without an offset becomes an instant, for
/// timestamptz keys: the session's TimeZone. Constraints are read in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeZoneRule {
    /// UTC (how the catalog reads constraint text).
    Utc,
    /// A fixed offset east of UTC, in seconds.
    Fixed(i32),
    /// A named zone with its daylight-saving rules.
    Named(chrono_tz::Tz),
    /// A setting the proxy can't model: literals without an offset are not
    /// read at all (no pruning on them).
    Unknown,
}

impl TimeZoneRule {
    /// The rule for a PostgreSQL TimeZone setting (`UTC`, `Europe/Paris`, ...);
    /// `None` for forms not modelled (POSIX strings, abbreviations).
    pub fn from_setting(name: &str) -> Option<TimeZoneRule> {
        let n = name.trim();
        if [
            "utc",
            "etc/utc",
            "gmt",
            "etc/gmt",
            "z",
            "zulu",
            "universal",
            "etc/universal",
        ]
        .contains(&n.to_ascii_lowercase().as_str())
        {
            return Some(TimeZoneRule::Utc);
        }
        n.parse::<chrono_tz::Tz>().ok().map(TimeZoneRule::Named)
    }

    /// Microseconds to subtract from a local wall-clock time to get UTC, or
    /// `None` when the local time is skipped or repeated by a clock change.
    pub fn offset_micros_at(self, local: NaiveDateTime) -> Option<i64> {
        use chrono::{Offset, TimeZone};
        match self {
            TimeZoneRule::Utc => Some(0),
            TimeZoneRule::Fixed(s) => Some(s as i64 * 1_000_000),
            TimeZoneRule::Named(tz) => match tz.offset_from_local_datetime(&local) {
                chrono::LocalResult::Single(off) => Some(off.fix().local_minus_utc() as i64 * 1_000_000),
                _ => None,
            },
            TimeZoneRule::Unknown => None,
        }
    }
}

const PG_EPOCH_DAYS_FROM_CE: i32 = 730_120; // 2000-01-01 as days from 0001-01-01 (proleptic)

fn pg_epoch() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2000, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or_default()
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    if let Some((date, "")) = iso_date(s.as_bytes()) {
        return Some(date);
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

/// `YYYY-MM-DD` at the start of `b`, and what follows it.
fn iso_date(b: &[u8]) -> Option<(NaiveDate, &str)> {
    let (y, rest) = fixed_digits(b, 4)?;
    let (m, rest) = fixed_digits(rest.strip_prefix(b"-")?, 2)?;
    let (d, rest) = fixed_digits(rest.strip_prefix(b"-")?, 2)?;
    let date = NaiveDate::from_ymd_opt(y as i32, m, d)?;
    Some((date, std::str::from_utf8(rest).ok()?))
}

/// Exactly `n` ASCII digits at the start of `b` as a number, and the rest.
fn fixed_digits(b: &[u8], n: usize) -> Option<(u32, &[u8])> {
    let digits = b.get(..n)?;
    let mut v = 0u32;
    for d in digits {
        v = v * 10 + u32::from(d.checked_sub(b'0').filter(|d| *d <= 9)?);
    }
    Some((v, b.get(n..)?))
}

/// The common spelling `YYYY-MM-DD[ T]HH:MM[:SS[.fraction]]` read by hand:
/// the general formats below cost microseconds a value, and a bulk INSERT
/// reads one per row. `None` leaves the text to them.
fn iso_timestamp(s: &str) -> Option<NaiveDateTime> {
    let (date, rest) = iso_date(s.as_bytes())?;
    let rest = rest.as_bytes();
    let rest = rest.strip_prefix(b" ").or_else(|| rest.strip_prefix(b"T"))?;
    let (h, rest) = fixed_digits(rest, 2)?;
    let (mi, rest) = fixed_digits(rest.strip_prefix(b":")?, 2)?;
    let (sec, nanos) = match rest.strip_prefix(b":") {
        None if rest.is_empty() => (0, 0),
        None => return None,
        Some(rest) => {
            let (sec, rest) = fixed_digits(rest, 2)?;
            let nanos = match rest.strip_prefix(b".") {
                None if rest.is_empty() => 0,
                None => return None,
                Some(frac) if (1..=9).contains(&frac.len()) => {
                    let (f, _) = fixed_digits(frac, frac.len())?;
                    f * 10u32.pow(9 - frac.len() as u32)
                }
                Some(_) => return None,
            };
            (sec, nanos)
        }
    };
    // A leap second (:60) is left to the general reader.
    if sec > 59 {
        return None;
    }
    date.and_hms_nano_opt(h, mi, sec, nanos)
}

fn parse_naive_timestamp(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    if let Some(t) = iso_timestamp(s) {
        return Some(t);
    }
    for fmt in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t);
        }
    }
    parse_date(s).map(|d| d.and_time(NaiveTime::MIN))
}

/// Splits a trailing UTC offset (`+00`, `-05:30`, `+0530`, `Z`) off a timestamp text.
fn split_offset(s: &str) -> (&str, Option<i64>) {
    let s = s.trim();
    if let Some(rest) = s.strip_suffix('Z').or_else(|| s.strip_suffix('z')) {
        return (rest, Some(0));
    }
    // The offset sign comes after the time part (a date's dashes come first).
    let Some(time_start) = s.find([' ', 'T']) else {
        return (s, None);
    };
    let Some(pos) = s[time_start..].rfind(['+', '-']).map(|p| p + time_start) else {
        return (s, None);
    };
    let (head, off) = s.split_at(pos);
    let sign = if off.starts_with('-') { -1 } else { 1 };
    let digits: String = off[1..].chars().filter(|c| *c != ':').collect();
    if digits.is_empty() || digits.len() > 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return (s, None);
    }
    let num = |r: std::ops::Range<usize>| digits.get(r).and_then(|d| d.parse::<i64>().ok()).unwrap_or(0);
    let secs = match digits.len() {
        1 | 2 => num(0..digits.len()) * 3600,
        3 | 4 => num(0..digits.len() - 2) * 3600 + num(digits.len() - 2..digits.len()) * 60,
        _ => num(0..2) * 3600 + num(2..4) * 60 + num(4..digits.len()),
    };
    (head.trim_end(), Some(sign * secs))
}

fn micros_since_epoch(t: NaiveDateTime) -> Option<i64> {
    (t - pg_epoch()).num_microseconds()
}

/// Reads a uuid in any of PostgreSQL's input forms: optional braces, hyphens
/// between groups of four hex digits.
fn parse_uuid(s: &str) -> Option<[u8; 16]> {
    let s = s.trim();
    let s = s.strip_prefix('{').map_or(Some(s), |rest| rest.strip_suffix('}'))?;
    let hex: String = s.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32
        || !hex.bytes().all(|b| b.is_ascii_hexdigit())
        || s.starts_with('-')
        || s.ends_with('-')
        || s.contains("--")
    {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// Parses the text of a literal as a value of `ty`, the way an untyped
/// literal compared with a column of that type is read. `None` when the text
/// is not a valid value or its meaning can't be modelled exactly (special
/// values like 'infinity', or a fraction for an integer key).
pub fn parse_text(ty: KeyType, text: &str, tz: TimeZoneRule) -> Option<KeyValue> {
    match ty {
        KeyType::Int2 | KeyType::Int4 | KeyType::Int8 => {
            let v: i64 = text.trim().parse().ok()?;
            let (lo, hi) = ty.int_range();
            (lo..=hi).contains(&v).then_some(KeyValue::Int(v))
        }
        KeyType::Numeric => {
            let t = text.trim();
            if t.eq_ignore_ascii_case("nan") || t.to_ascii_lowercase().contains("inf") {
                return None;
            }
            BigDecimal::from_str(t).ok().map(|d| KeyValue::Numeric(d.normalized()))
        }
        KeyType::Date => {
            let d = parse_date(text)?;
            Some(KeyValue::Date(d.num_days_from_ce() - PG_EPOCH_DAYS_FROM_CE))
        }
        KeyType::Timestamp => {
            let (head, _offset) = split_offset(text);
            // PostgreSQL ignores an offset when reading a timestamp without time zone.
            micros_since_epoch(parse_naive_timestamp(head)?).map(KeyValue::Timestamp)
        }
        KeyType::TimestampTz => {
            let (head, offset) = split_offset(text);
            let naive = parse_naive_timestamp(head)?;
            let local = micros_since_epoch(naive)?;
            let offset = match offset {
                Some(secs) => secs.checked_mul(1_000_000)?,
                None => tz.offset_micros_at(naive)?,
            };
            local.checked_sub(offset).map(KeyValue::TimestampTz)
        }
        KeyType::Text => Some(KeyValue::Text(text.to_owned())),
        KeyType::Uuid => parse_uuid(text).map(KeyValue::Uuid),
    }
}

/// An integral number literal as a value of `ty` (numbers are never read as
/// dates, text or uuids).
pub fn parse_number(ty: KeyType, digits: &str) -> Option<KeyValue> {
    match ty {
        KeyType::Int2 | KeyType::Int4 | KeyType::Int8 | KeyType::Numeric => parse_text(ty, digits, TimeZoneRule::Utc),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names() {
        assert_eq!(KeyType::from_pg_name("character varying(20)"), Some(KeyType::Text));
        assert_eq!(
            KeyType::from_pg_name("timestamp with time zone"),
            Some(KeyType::TimestampTz)
        );
        assert_eq!(KeyType::from_pg_name("numeric(10,2)"), Some(KeyType::Numeric));
        assert_eq!(KeyType::from_pg_name("double precision"), None);
    }

    #[test]
    fn integers_respect_their_width() {
        assert_eq!(
            parse_text(KeyType::Int2, "32767", TimeZoneRule::Utc),
            Some(KeyValue::Int(32767))
        );
        assert_eq!(parse_text(KeyType::Int2, "32768", TimeZoneRule::Utc), None);
        assert_eq!(parse_text(KeyType::Int4, "1.5", TimeZoneRule::Utc), None);
        assert_eq!(
            parse_text(KeyType::Int8, " -7 ", TimeZoneRule::Utc),
            Some(KeyValue::Int(-7))
        );
    }

    #[test]
    fn numerics_compare_by_value() {
        let a = parse_text(KeyType::Numeric, "10.50", TimeZoneRule::Utc).unwrap();
        let b = parse_text(KeyType::Numeric, "10.5", TimeZoneRule::Utc).unwrap();
        let c = parse_text(KeyType::Numeric, "9.999", TimeZoneRule::Utc).unwrap();
        assert_eq!(a, b);
        assert!(c < a);
        assert_eq!(parse_text(KeyType::Numeric, "NaN", TimeZoneRule::Utc), None);
    }

    #[test]
    fn the_hand_reader_agrees_with_the_general_formats() {
        let general = |s: &str| {
            [
                "%Y-%m-%d %H:%M:%S%.f",
                "%Y-%m-%dT%H:%M:%S%.f",
                "%Y-%m-%d %H:%M",
                "%Y-%m-%dT%H:%M",
            ]
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        };
        for s in [
            "2024-01-15 10:20:30",
            "2024-01-15T10:20:30",
            "2024-01-15 10:20:30.5",
            "2024-01-15 10:20:30.123456",
            "2024-01-15 10:20:30.123456789",
            "2024-01-15 10:20",
            "2024-01-15T00:00",
            "2024-02-29 23:59:59.999999",
            "2000-01-01 00:00:00",
            "9999-12-31 23:59:59",
        ] {
            assert_eq!(iso_timestamp(s), general(s), "{s}");
            assert!(iso_timestamp(s).is_some(), "{s}");
        }
        // Not read by hand: invalid, or spelled otherwise (the general formats decide).
        for s in [
            "2023-02-29 10:00:00",
            "2024-13-01 10:00:00",
            "2024-01-15 24:00:00",
            "2024-01-15 10:60:00",
            "2024-01-15 10:20:60",
            "2024-1-15 10:20:30",
            "2024-01-15 10:20:30.",
            "2024-01-15 10:20:30.1234567890",
            "2024-01-15  10:20:30",
            "2024-01-15 10:20:30 ",
            "24-01-15 10:20:30",
        ] {
            assert_eq!(iso_timestamp(s), None, "{s}");
        }
        assert_eq!(parse_date("2024-02-29"), NaiveDate::from_ymd_opt(2024, 2, 29));
        assert_eq!(parse_date("2023-02-29"), None);
    }

    #[test]
    fn dates_and_timestamps() {
        assert_eq!(
            parse_text(KeyType::Date, "2000-01-02", TimeZoneRule::Utc),
            Some(KeyValue::Date(1))
        );
        assert_eq!(parse_text(KeyType::Date, "infinity", TimeZoneRule::Utc), None);
        let ts = parse_text(KeyType::Timestamp, "2000-01-01 00:00:01.5", TimeZoneRule::Utc);
        assert_eq!(ts, Some(KeyValue::Timestamp(1_500_000)));
        // An offset is ignored for timestamp without time zone, as PostgreSQL does.
        let ts = parse_text(KeyType::Timestamp, "2000-01-01 00:00:00+05", TimeZoneRule::Utc);
        assert_eq!(ts, Some(KeyValue::Timestamp(0)));
    }

    #[test]
    fn timestamptz_uses_the_offset_or_the_session_zone() {
        let utc = parse_text(KeyType::TimestampTz, "2024-01-01 00:00:00+00", TimeZoneRule::Utc).unwrap();
        let tokyo = parse_text(KeyType::TimestampTz, "2024-01-01 09:00:00+09", TimeZoneRule::Utc).unwrap();
        assert_eq!(utc, tokyo);
        let local = parse_text(
            KeyType::TimestampTz,
            "2024-01-01 09:00:00",
            TimeZoneRule::Fixed(9 * 3600),
        )
        .unwrap();
        assert_eq!(local, utc);
        let paris = TimeZoneRule::from_setting("Europe/Paris").unwrap();
        let winter = parse_text(KeyType::TimestampTz, "2024-01-01 01:00:00", paris).unwrap();
        assert_eq!(winter, utc);
        let summer = parse_text(KeyType::TimestampTz, "2024-07-01 02:00:00", paris).unwrap();
        assert_eq!(
            summer,
            parse_text(KeyType::TimestampTz, "2024-07-01 00:00:00+00", TimeZoneRule::Utc).unwrap()
        );
        // 02:30 does not exist in Paris on the spring-forward night: not modelled.
        assert_eq!(parse_text(KeyType::TimestampTz, "2024-03-31 02:30:00", paris), None);
        let paris = TimeZoneRule::from_setting("Europe/Paris").unwrap();
        let winter = parse_text(KeyType::TimestampTz, "2024-01-01 01:00:00", paris).unwrap();
        assert_eq!(winter, utc);
        let summer = parse_text(KeyType::TimestampTz, "2024-07-01 02:00:00", paris).unwrap();
        let summer_utc = parse_text(KeyType::TimestampTz, "2024-07-01 00:00:00+00", TimeZoneRule::Utc).unwrap();
        assert_eq!(summer, summer_utc);
        // 02:30 does not exist in Paris on the spring-forward night: not modelled.
        assert_eq!(parse_text(KeyType::TimestampTz, "2024-03-31 02:30:00", paris), None);
        assert_eq!(TimeZoneRule::from_setting("Etc/UTC"), Some(TimeZoneRule::Utc));
        let half = parse_text(KeyType::TimestampTz, "2024-01-01 05:30:00+05:30", TimeZoneRule::Utc).unwrap();
        assert_eq!(half, utc);
        let date_only = parse_text(KeyType::TimestampTz, "2024-01-01", TimeZoneRule::Utc).unwrap();
        assert_eq!(date_only, utc);
    }

    #[test]
    fn uuids_compare_bytewise() {
        let a = parse_text(KeyType::Uuid, "00000000-0000-0000-0000-00000000000a", TimeZoneRule::Utc).unwrap();
        let b = parse_text(KeyType::Uuid, "{00000000000000000000000000000010}", TimeZoneRule::Utc).unwrap();
        assert!(a < b);
        assert_eq!(parse_text(KeyType::Uuid, "not-a-uuid", TimeZoneRule::Utc), None);
    }

    #[test]
    fn text_compares_bytewise() {
        assert!(KeyValue::Text("B".into()) < KeyValue::Text("a".into()));
    }
}
