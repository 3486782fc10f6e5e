//! Key types and values, compared the way PostgreSQL compares them, and the
//! input functions of the key types (the subset of spellings the router reads
//! exactly; anything else is "not understood" and never narrows).

use std::cmp::Ordering;
use std::str::FromStr;

use bigdecimal::BigDecimal;
use chrono::{Datelike, NaiveDate, NaiveDateTime};

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
        // `timestamp(3) with time zone`: the precision sits mid-name.
        if name.starts_with("timestamp(") {
            return Some(if name.ends_with("without time zone") {
                KeyType::Timestamp
            } else {
                KeyType::TimestampTz
            });
        }
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

    /// The smallest and largest value of an integer type.
    pub fn int_range(self) -> (i64, i64) {
        match self {
            KeyType::Int2 => (i16::MIN as i64, i16::MAX as i64),
            KeyType::Int4 => (i32::MIN as i64, i32::MAX as i64),
            _ => (i64::MIN, i64::MAX),
        }
    }
}

/// What a column's type modifier does to a value assigned to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TypMod {
    /// No modifier.
    #[default]
    None,
    /// `numeric(precision, scale)`: rounded to `scale` digits, at most
    /// `precision - scale` digits before the point.
    Numeric {
        /// Total digits.
        precision: u32,
        /// Digits after the point (may be negative or exceed the precision).
        scale: i32,
    },
    /// `timestamp(p)`: rounded to `p` fractional digits.
    Precision(u32),
    /// `varchar(n)`: at most `n` characters.
    Length(u32),
}

impl TypMod {
    /// Reads the modifier from `format_type()` output.
    pub fn from_pg_name(name: &str) -> TypMod {
        let Some((base, rest)) = name.split_once('(') else {
            return TypMod::None;
        };
        let Some((args, _)) = rest.split_once(')') else {
            return TypMod::None;
        };
        let nums: Vec<i64> = args.split(',').filter_map(|a| a.trim().parse().ok()).collect();
        match (base.trim(), nums.as_slice()) {
            ("numeric", [p]) => TypMod::Numeric {
                precision: *p as u32,
                scale: 0,
            },
            ("numeric", [p, s]) => TypMod::Numeric {
                precision: *p as u32,
                scale: *s as i32,
            },
            ("timestamp", [p]) => TypMod::Precision(*p as u32),
            ("character varying", [n]) => TypMod::Length(*n as u32),
            _ => TypMod::None,
        }
    }
}

/// A numeric value with PostgreSQL's special values, ordered as PostgreSQL
/// orders them: `-Infinity` < every number < `Infinity` < `NaN`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Num {
    /// `-Infinity`
    NegInf,
    /// A number (normalized, so equal values are equal).
    Finite(BigDecimal),
    /// `Infinity`
    PosInf,
    /// `NaN` (equal to itself, above everything)
    NaN,
}

impl Num {
    /// A finite number, normalized.
    pub fn finite(d: BigDecimal) -> Num {
        Num::Finite(d.normalized())
    }
}

impl std::fmt::Display for Num {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Num::NegInf => f.write_str("-Infinity"),
            Num::Finite(d) => write!(f, "{d}"),
            Num::PosInf => f.write_str("Infinity"),
            Num::NaN => f.write_str("NaN"),
        }
    }
}

/// A non-null key value. Values of one key column are always of one variant.
/// Dates and timestamps use PostgreSQL's own representation, where the
/// smallest and largest value stand for `-infinity` and `infinity`, so they
/// order as PostgreSQL orders them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KeyValue {
    /// smallint, integer, bigint
    Int(i64),
    /// numeric
    Numeric(Num),
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

/// Microseconds in a day.
pub const DAY_MICROS: i64 = 86_400_000_000;

/// `date 'infinity'` and `date '-infinity'` as PostgreSQL stores them.
pub const DATE_INFINITY: i32 = i32::MAX;
/// See [`DATE_INFINITY`].
pub const DATE_NEG_INFINITY: i32 = i32::MIN;
/// `timestamp 'infinity'` and `timestamp '-infinity'` as PostgreSQL stores them.
pub const TS_INFINITY: i64 = i64::MAX;
/// See [`TS_INFINITY`].
pub const TS_NEG_INFINITY: i64 = i64::MIN;

fn fmt_micros(f: &mut std::fmt::Formatter<'_>, micros: i64, suffix: &str) -> std::fmt::Result {
    match micros {
        TS_INFINITY => return f.write_str("infinity"),
        TS_NEG_INFINITY => return f.write_str("-infinity"),
        _ => {}
    }
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
            KeyValue::Date(DATE_INFINITY) => f.write_str("infinity"),
            KeyValue::Date(DATE_NEG_INFINITY) => f.write_str("-infinity"),
            KeyValue::Date(d) => match date_of(*d) {
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
        // PostgreSQL matches zone names case-insensitively; chrono-tz's
        // exact-case parser covers the canonical spelling drivers send.
        n.parse::<chrono_tz::Tz>().ok().map(TimeZoneRule::Named)
    }

    /// Microseconds to subtract from a local wall-clock time to get UTC, as
    /// PostgreSQL decides it: a time repeated by a clock change is read in
    /// the offset after the change (the later instant); a time skipped by
    /// one is not modelled (`None`).
    pub fn offset_micros_at(self, local: NaiveDateTime) -> Option<i64> {
        use chrono::{Offset, TimeZone};
        match self {
            TimeZoneRule::Utc => Some(0),
            TimeZoneRule::Fixed(s) => Some(s as i64 * 1_000_000),
            TimeZoneRule::Named(tz) => match tz.offset_from_local_datetime(&local) {
                chrono::LocalResult::Single(off) => Some(off.fix().local_minus_utc() as i64 * 1_000_000),
                chrono::LocalResult::Ambiguous(_, later) => Some(later.fix().local_minus_utc() as i64 * 1_000_000),
                chrono::LocalResult::None => None,
            },
            TimeZoneRule::Unknown => None,
        }
    }

    /// The offset (microseconds east of UTC) in force at an instant.
    fn offset_at_instant(self, utc: NaiveDateTime) -> Option<i64> {
        use chrono::{Offset, TimeZone};
        match self {
            TimeZoneRule::Utc => Some(0),
            TimeZoneRule::Fixed(s) => Some(s as i64 * 1_000_000),
            TimeZoneRule::Named(tz) => {
                Some(tz.offset_from_utc_datetime(&utc).fix().local_minus_utc() as i64 * 1_000_000)
            }
            TimeZoneRule::Unknown => None,
        }
    }

    /// A timestamptz (microseconds since 2000-01-01 UTC) as local wall-clock
    /// time, as `timestamptz::timestamp` gives it. Infinities stay.
    pub fn to_local(self, utc: i64) -> Option<i64> {
        if utc == TS_INFINITY || utc == TS_NEG_INFINITY {
            return Some(utc);
        }
        let at = micros_to_naive(utc)?;
        utc.checked_add(self.offset_at_instant(at)?)
    }

    /// A local wall-clock time as a timestamptz, as `timestamp::timestamptz`
    /// gives it (see [`TimeZoneRule::offset_micros_at`]). Infinities stay.
    pub fn to_utc(self, local: i64) -> Option<i64> {
        if local == TS_INFINITY || local == TS_NEG_INFINITY {
            return Some(local);
        }
        local.checked_sub(self.offset_micros_at(micros_to_naive(local)?)?)
    }

    /// True when the offset is the same for a day and more on either side
    /// of the instant, so local time and UTC move together around it and a
    /// comparison that converts one to the other is monotonic there.
    pub fn steady_around(self, utc: i64) -> bool {
        let Some(here) = micros_to_naive(utc).and_then(|t| self.offset_at_instant(t)) else {
            return false;
        };
        const HOUR: i64 = 3_600_000_000;
        (-26..=26).all(|h| {
            utc.checked_add(h * HOUR)
                .and_then(micros_to_naive)
                .and_then(|t| self.offset_at_instant(t))
                == Some(here)
        })
    }
}

const PG_EPOCH_DAYS_FROM_CE: i32 = 730_120; // 2000-01-01 as days from 0001-01-01 (proleptic)

fn pg_epoch() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2000, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or_default()
}

/// Microseconds since 2000-01-01 as a calendar time.
pub fn micros_to_naive(micros: i64) -> Option<NaiveDateTime> {
    pg_epoch().checked_add_signed(chrono::Duration::microseconds(micros))
}

fn date_of(days: i32) -> Option<NaiveDate> {
    pg_epoch()
        .date()
        .checked_add_signed(chrono::Duration::days(i64::from(days)))
}

/// Days since 2000-01-01 of a calendar date.
fn days_of(d: NaiveDate) -> i32 {
    d.num_days_from_ce() - PG_EPOCH_DAYS_FROM_CE
}

/// A date as the timestamp of its midnight (infinities stay infinite).
pub fn date_to_timestamp(days: i32) -> i64 {
    match days {
        DATE_INFINITY => TS_INFINITY,
        DATE_NEG_INFINITY => TS_NEG_INFINITY,
        d => i64::from(d) * DAY_MICROS,
    }
}

/// The date a timestamp falls on (infinities stay infinite).
pub fn timestamp_to_date(micros: i64) -> Option<i32> {
    match micros {
        TS_INFINITY => Some(DATE_INFINITY),
        TS_NEG_INFINITY => Some(DATE_NEG_INFINITY),
        t => i32::try_from(t.div_euclid(DAY_MICROS)).ok(),
    }
}

/// PostgreSQL's `isspace`: the ASCII white space its input functions skip.
fn trim_pg(s: &str) -> &str {
    s.trim_matches(|c: char| matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c'))
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

/// `YYYY-MM-DD` (a year from 1 to 9999) at the start of `b`, and the rest.
fn iso_date(b: &[u8]) -> Option<(NaiveDate, &[u8])> {
    let (y, rest) = fixed_digits(b, 4)?;
    let (m, rest) = fixed_digits(rest.strip_prefix(b"-")?, 2)?;
    let (d, rest) = fixed_digits(rest.strip_prefix(b"-")?, 2)?;
    if y == 0 {
        return None;
    }
    Some((NaiveDate::from_ymd_opt(y as i32, m, d)?, rest))
}

/// `infinity` / `-infinity` (any case), as the date and timestamp inputs read them.
fn infinity_word(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("infinity") || s.eq_ignore_ascii_case("+infinity") {
        Some(true)
    } else if s.eq_ignore_ascii_case("-infinity") {
        Some(false)
    } else {
        None
    }
}

fn parse_date(s: &str) -> Option<i32> {
    let s = trim_pg(s);
    if let Some(up) = infinity_word(s) {
        return Some(if up { DATE_INFINITY } else { DATE_NEG_INFINITY });
    }
    match iso_date(s.as_bytes())? {
        (date, []) => Some(days_of(date)),
        _ => None,
    }
}

/// Fractional seconds as PostgreSQL reads them: `strtod` of the fraction,
/// times a million, rounded half to even (`rint`). May give 1,000,000.
fn fraction_micros(digits: &[u8]) -> Option<i64> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) || digits.len() > 40 {
        return None;
    }
    let text = format!("0.{}", std::str::from_utf8(digits).ok()?);
    let frac: f64 = text.parse().ok()?;
    Some((frac * 1_000_000.0).round_ties_even() as i64)
}

/// A time of day `HH:MM[:SS[.fraction]]` at the start of `b`, in
/// microseconds (24:00:00 and a leap second 60 allowed, as PostgreSQL
/// allows them), and the rest.
fn iso_time(b: &[u8]) -> Option<(i64, &[u8])> {
    let (h, rest) = fixed_digits(b, 2)?;
    let (mi, mut rest) = fixed_digits(rest.strip_prefix(b":")?, 2)?;
    let (mut sec, mut micros) = (0, 0);
    if let Some(after) = rest.strip_prefix(b":") {
        let (s, after) = fixed_digits(after, 2)?;
        sec = s;
        rest = after;
        if let Some(after) = rest.strip_prefix(b".") {
            let end = after.iter().position(|c| !c.is_ascii_digit()).unwrap_or(after.len());
            micros = fraction_micros(&after[..end])?;
            rest = &after[end..];
        }
    }
    if h > 24 || mi > 59 || sec > 60 || (h == 24 && (mi > 0 || sec > 0 || micros > 0)) {
        return None;
    }
    let total = ((i64::from(h) * 60 + i64::from(mi)) * 60 + i64::from(sec)) * 1_000_000 + micros;
    Some((total, rest))
}

/// A UTC offset `Z`, `+HH`, `+HH:MM`, `+HHMM`, `+HH:MM:SS` (optionally
/// after a space), in seconds east; `None` when `b` is not exactly one.
fn iso_offset(b: &[u8]) -> Option<i64> {
    let b = b.strip_prefix(b" ").unwrap_or(b);
    if b == b"Z" || b == b"z" {
        return Some(0);
    }
    let (sign, rest) = match b.first()? {
        b'+' => (1, &b[1..]),
        b'-' => (-1, &b[1..]),
        _ => return None,
    };
    let (h, rest) = fixed_digits(rest, 2)?;
    let (m, s) = match rest {
        [] => (0, 0),
        [b':', ..] => {
            let (m, rest) = fixed_digits(&rest[1..], 2)?;
            match rest {
                [] => (m, 0),
                [b':', ..] => {
                    let (s, rest) = fixed_digits(&rest[1..], 2)?;
                    if !rest.is_empty() {
                        return None;
                    }
                    (m, s)
                }
                _ => return None,
            }
        }
        _ => {
            let (m, rest) = fixed_digits(rest, 2)?;
            if !rest.is_empty() {
                return None;
            }
            (m, 0)
        }
    };
    // PostgreSQL refuses offsets beyond 15:59:59.
    if h > 15 || m > 59 || s > 59 {
        return None;
    }
    Some(sign * i64::from((h * 60 + m) * 60 + s))
}

/// A timestamp text in the ISO form: local microseconds since 2000-01-01
/// and the offset it carries, if any. Infinities have no offset.
fn parse_timestamp_parts(s: &str) -> Option<(i64, Option<i64>)> {
    let s = trim_pg(s);
    if let Some(up) = infinity_word(s) {
        return Some((if up { TS_INFINITY } else { TS_NEG_INFINITY }, None));
    }
    let (date, rest) = iso_date(s.as_bytes())?;
    let day = i64::from(days_of(date)) * DAY_MICROS;
    if rest.is_empty() {
        return Some((day, None));
    }
    let rest = rest.strip_prefix(b" ").or_else(|| rest.strip_prefix(b"T"))?;
    let (time, rest) = iso_time(rest)?;
    let offset = match rest {
        [] => None,
        r => Some(iso_offset(r)?),
    };
    Some((day.checked_add(time)?, offset))
}

/// Reads a uuid as `uuid_in` does: 32 hex digits, a hyphen allowed after
/// any group of four, optional braces around the whole.
fn parse_uuid(s: &str) -> Option<[u8; 16]> {
    let b = s.as_bytes();
    let (b, braced) = match b.strip_prefix(b"{") {
        Some(rest) => (rest, true),
        None => (b, false),
    };
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = [0u8; 16];
    let mut i = 0;
    for (n, byte) in out.iter_mut().enumerate() {
        *byte = (hex(*b.get(i)?)? << 4) | hex(*b.get(i + 1)?)?;
        i += 2;
        if n % 2 == 1 && n < 15 && b.get(i) == Some(&b'-') {
            i += 1;
        }
    }
    let rest = &b[i..];
    match (braced, rest) {
        (true, b"}") | (false, []) => Some(out),
        _ => None,
    }
}

/// An integer as `int2in`/`int4in`/`int8in` read it (surrounding white
/// space, an optional sign, decimal digits only).
fn parse_int(s: &str, ty: KeyType) -> Option<i64> {
    let t = trim_pg(s);
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let v: i64 = t.parse().ok()?;
    let (lo, hi) = ty.int_range();
    (lo..=hi).contains(&v).then_some(v)
}

/// A numeric as `numeric_in` reads it: `[+-]digits[.digits][e[+-]digits]`,
/// `NaN`, `[+-]Infinity`/`inf`.
pub fn parse_numeric(s: &str) -> Option<Num> {
    let t = trim_pg(s);
    let (sign, body) = match t.as_bytes().first() {
        Some(b'-') => (-1, &t[1..]),
        Some(b'+') => (1, &t[1..]),
        _ => (1, t),
    };
    if body.eq_ignore_ascii_case("nan") && sign == 1 && !t.starts_with('+') {
        return Some(Num::NaN);
    }
    if body.eq_ignore_ascii_case("infinity") || body.eq_ignore_ascii_case("inf") {
        return Some(if sign < 0 { Num::NegInf } else { Num::PosInf });
    }
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(at) => (&body[..at], Some(&body[at + 1..])),
        None => (body, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |x: &str| x.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !all_digits(int) || !all_digits(frac) {
        return None;
    }
    if let Some(e) = exponent {
        let e_digits = e.strip_prefix(['+', '-']).unwrap_or(e);
        // PostgreSQL refuses exponents beyond about ±1000 digits.
        if e_digits.is_empty() || e_digits.len() > 4 || !all_digits(e_digits) || e_digits.parse::<u32>().ok()? > 1000 {
            return None;
        }
    }
    BigDecimal::from_str(t).ok().map(Num::finite)
}

/// Parses the text of a literal as a value of `ty`, as the type's input
/// function reads it. `None` when the text is not a valid value or its
/// meaning can't be modelled exactly (a spelling outside the ISO forms,
/// `now`, an abbreviation, a local time a clock change skips).
pub fn parse_text(ty: KeyType, text: &str, tz: TimeZoneRule) -> Option<KeyValue> {
    match ty {
        KeyType::Int2 | KeyType::Int4 | KeyType::Int8 => parse_int(text, ty).map(KeyValue::Int),
        KeyType::Numeric => parse_numeric(text).map(KeyValue::Numeric),
        KeyType::Date => parse_date(text).map(KeyValue::Date),
        // PostgreSQL ignores an offset when reading a timestamp without time zone.
        KeyType::Timestamp => parse_timestamp_parts(text).map(|(local, _)| KeyValue::Timestamp(local)),
        KeyType::TimestampTz => {
            let (local, offset) = parse_timestamp_parts(text)?;
            let utc = match offset {
                Some(secs) => local.checked_sub(secs.checked_mul(1_000_000)?)?,
                None => tz.to_utc(local)?,
            };
            // The largest finite local times must not become infinite.
            (utc != TS_INFINITY && utc != TS_NEG_INFINITY || offset.is_none()).then_some(KeyValue::TimestampTz(utc))
        }
        KeyType::Text => Some(KeyValue::Text(text.to_owned())),
        KeyType::Uuid => parse_uuid(text).map(KeyValue::Uuid),
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
        assert_eq!(
            KeyType::from_pg_name("timestamp(0) with time zone"),
            Some(KeyType::TimestampTz)
        );
        assert_eq!(
            KeyType::from_pg_name("timestamp(3) without time zone"),
            Some(KeyType::Timestamp)
        );
        assert_eq!(KeyType::from_pg_name("numeric(10,2)"), Some(KeyType::Numeric));
        assert_eq!(KeyType::from_pg_name("double precision"), None);
        assert_eq!(
            TypMod::from_pg_name("numeric(10,2)"),
            TypMod::Numeric {
                precision: 10,
                scale: 2
            }
        );
        assert_eq!(
            TypMod::from_pg_name("timestamp(0) with time zone"),
            TypMod::Precision(0)
        );
        assert_eq!(TypMod::from_pg_name("character varying(20)"), TypMod::Length(20));
        assert_eq!(TypMod::from_pg_name("integer"), TypMod::None);
    }

    #[test]
    fn integers_respect_their_width_and_spelling() {
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
        assert_eq!(
            parse_text(KeyType::Int8, "+7", TimeZoneRule::Utc),
            Some(KeyValue::Int(7))
        );
        for bad in ["1_000", "0x10", "", "-", "1 2", "1e3"] {
            assert_eq!(parse_text(KeyType::Int8, bad, TimeZoneRule::Utc), None, "{bad}");
        }
    }

    #[test]
    fn numerics_compare_by_value_with_special_values_on_top() {
        let n = |s: &str| parse_numeric(s).unwrap();
        assert_eq!(n("10.50"), n("10.5"));
        assert!(n("9.999") < n("10.5"));
        assert!(n("1e100") < n("Infinity") && n("Infinity") < n("NaN") && n("-inf") < n("-1e100"));
        assert_eq!(n(" .5 "), n("0.5"));
        assert_eq!(n("5."), n("5"));
        assert_eq!(n("1.5E3"), n("1500"));
        for bad in ["", ".", "e5", "1e", "1_0", "0x1", "--1", "+NaN", "1e99999"] {
            assert_eq!(parse_numeric(bad), None, "{bad}");
        }
    }

    #[test]
    fn timestamps_round_like_postgres() {
        let ts = |s: &str| match parse_text(KeyType::Timestamp, s, TimeZoneRule::Utc) {
            Some(KeyValue::Timestamp(t)) => t,
            other => panic!("{s}: {other:?}"),
        };
        // 7 digits round half to even on the double PostgreSQL computes.
        assert_eq!(ts("2026-01-31 23:59:59.9999995"), ts("2026-02-01 00:00:00"));
        assert_eq!(ts("2026-01-31 23:59:59.99999949999"), ts("2026-01-31 23:59:59.999999"));
        assert_eq!(ts("2024-01-01 00:00:00.0000005"), ts("2024-01-01 00:00:00"));
        assert_eq!(ts("2024-01-01 00:00:00.0000015"), ts("2024-01-01 00:00:00.000002"));
        assert_eq!(ts("2024-01-01 00:00:00.0000025"), ts("2024-01-01 00:00:00.000002"));
        // A leap second and 24:00 are the next day's first instants.
        assert_eq!(ts("2024-01-01 23:59:60"), ts("2024-01-02 00:00:00"));
        assert_eq!(ts("2024-01-01 24:00:00"), ts("2024-01-02"));
        assert_eq!(ts("2024-01-05T10:00"), ts("2024-01-05 10:00:00"));
        assert_eq!(ts(" 2024-01-05 10:00+05 "), ts("2024-01-05 10:00"));
        assert_eq!(ts("infinity"), TS_INFINITY);
        assert_eq!(ts("-Infinity"), TS_NEG_INFINITY);
        for bad in [
            "2024-01-05 24:00:01",
            "2024-1-05",
            "2024-01-05 9:00",
            "0000-01-01",
            "now",
            "today",
            "epoch",
            "2024-01-05 10:00:00.",
            "2024-01-05 10:00 EST",
            "2024-01-05 10:00+16",
            "2024-02-30",
            "10000-01-01",
        ] {
            assert_eq!(parse_text(KeyType::Timestamp, bad, TimeZoneRule::Utc), None, "{bad}");
        }
    }

    #[test]
    fn dates() {
        assert_eq!(
            parse_text(KeyType::Date, "2000-01-02", TimeZoneRule::Utc),
            Some(KeyValue::Date(1))
        );
        assert_eq!(
            parse_text(KeyType::Date, "infinity", TimeZoneRule::Utc),
            Some(KeyValue::Date(DATE_INFINITY))
        );
        assert_eq!(parse_text(KeyType::Date, "2024-01-05 10:00", TimeZoneRule::Utc), None);
        assert_eq!(timestamp_to_date(-1), Some(-1));
        assert_eq!(date_to_timestamp(DATE_INFINITY), TS_INFINITY);
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
        let summer_utc = parse_text(KeyType::TimestampTz, "2024-07-01 00:00:00+00", TimeZoneRule::Utc).unwrap();
        assert_eq!(summer, summer_utc);
        // 02:30 does not exist in Paris on the spring-forward night: not modelled.
        assert_eq!(parse_text(KeyType::TimestampTz, "2024-03-31 02:30:00", paris), None);
        // A repeated local time is read as the later instant, as PostgreSQL does.
        let ny = TimeZoneRule::from_setting("America/New_York").unwrap();
        let repeated = parse_text(KeyType::TimestampTz, "2024-11-03 01:30:00", ny).unwrap();
        let est = parse_text(KeyType::TimestampTz, "2024-11-03 01:30:00-05", TimeZoneRule::Utc).unwrap();
        assert_eq!(repeated, est);
        assert!(!ny.steady_around(match est {
            KeyValue::TimestampTz(t) => t,
            _ => unreachable!(),
        }));
        assert!(ny.steady_around(0));
        assert_eq!(TimeZoneRule::from_setting("Etc/UTC"), Some(TimeZoneRule::Utc));
        let half = parse_text(KeyType::TimestampTz, "2024-01-01 05:30:00+05:30", TimeZoneRule::Utc).unwrap();
        assert_eq!(half, utc);
        let date_only = parse_text(KeyType::TimestampTz, "2024-01-01", TimeZoneRule::Utc).unwrap();
        assert_eq!(date_only, utc);
        assert_eq!(
            parse_text(KeyType::TimestampTz, "infinity", ny),
            Some(KeyValue::TimestampTz(TS_INFINITY))
        );
    }

    #[test]
    fn uuids_as_uuid_in_reads_them() {
        let a = parse_text(KeyType::Uuid, "00000000-0000-0000-0000-00000000000a", TimeZoneRule::Utc).unwrap();
        let b = parse_text(KeyType::Uuid, "{00000000000000000000000000000010}", TimeZoneRule::Utc).unwrap();
        assert!(a < b);
        let groups = parse_text(
            KeyType::Uuid,
            "0000-0000-0000-0000-0000-0000-0000-000a",
            TimeZoneRule::Utc,
        );
        assert_eq!(groups, Some(a));
        for bad in [
            "not-a-uuid",
            "0000000-00000-0000-0000-00000000000a",
            "-00000000-0000-0000-0000-00000000000a",
            "{00000000000000000000000000000010",
            "00000000-0000-0000-0000-00000000000a-",
        ] {
            assert_eq!(parse_text(KeyType::Uuid, bad, TimeZoneRule::Utc), None, "{bad}");
        }
    }

    #[test]
    fn text_compares_bytewise() {
        assert!(KeyValue::Text("B".into()) < KeyValue::Text("a".into()));
    }
}
