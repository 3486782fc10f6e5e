//! Typed decoding of the messages the proxy inspects and encoding of the
//! messages it writes itself. Decoders return `None` on malformed input rather
//! than panicking: every byte here came from a peer.

use bytes::{BufMut, BytesMut};

/// Reads a NUL-terminated string starting at `*pos` and advances past the NUL.
pub fn read_cstr<'a>(data: &'a [u8], pos: &mut usize) -> Option<&'a str> {
    let rest = data.get(*pos..)?;
    let end = rest.iter().position(|&b| b == 0)?;
    let s = std::str::from_utf8(&rest[..end]).ok()?;
    *pos += end + 1;
    Some(s)
}

/// Key/value pairs of a StartupMessage body (after the protocol version).
pub fn startup_params(body: &[u8]) -> Option<Vec<(String, String)>> {
    let mut pos = 4;
    let mut out = Vec::new();
    loop {
        let key = read_cstr(body, &mut pos)?;
        if key.is_empty() {
            return Some(out);
        }
        let value = read_cstr(body, &mut pos)?;
        out.push((key.to_owned(), value.to_owned()));
    }
}

/// A decoded Parse message; `rest` is the parameter-type section, kept raw.
#[derive(Debug, PartialEq, Eq)]
pub struct ParseMsg<'a> {
    /// Statement name (empty for the unnamed statement).
    pub name: &'a str,
    /// SQL text.
    pub query: &'a str,
    /// Parameter count and type OIDs as sent.
    pub rest: &'a [u8],
}

/// Decodes a Parse body.
pub fn decode_parse(body: &[u8]) -> Option<ParseMsg<'_>> {
    let mut pos = 0;
    let name = read_cstr(body, &mut pos)?;
    let query = read_cstr(body, &mut pos)?;
    Some(ParseMsg {
        name,
        query,
        rest: body.get(pos..)?,
    })
}

/// A decoded Bind message head; `rest` (formats, values, result formats) is raw.
#[derive(Debug, PartialEq, Eq)]
pub struct BindMsg<'a> {
    /// Destination portal.
    pub portal: &'a str,
    /// Source prepared statement.
    pub statement: &'a str,
    /// Everything after the statement name.
    pub rest: &'a [u8],
}

/// Decodes the names at the head of a Bind body.
pub fn decode_bind(body: &[u8]) -> Option<BindMsg<'_>> {
    let mut pos = 0;
    let portal = read_cstr(body, &mut pos)?;
    let statement = read_cstr(body, &mut pos)?;
    Some(BindMsg {
        portal,
        statement,
        rest: body.get(pos..)?,
    })
}

/// One parameter value of a Bind: its bytes (`None` is NULL) and whether it
/// is in binary format.
pub type BindValue<'a> = (Option<&'a [u8]>, bool);

/// Decodes the parameter section of a Bind (`BindMsg::rest`): format codes
/// and values. `None` when malformed.
pub fn decode_bind_values(rest: &[u8]) -> Option<Vec<BindValue<'_>>> {
    let mut pos = 0;
    let i16_at = |pos: &mut usize| -> Option<i16> {
        let v = i16::from_be_bytes(rest.get(*pos..*pos + 2)?.try_into().ok()?);
        *pos += 2;
        Some(v)
    };
    let nformats = usize::try_from(i16_at(&mut pos)?).ok()?;
    let mut formats = Vec::with_capacity(nformats);
    for _ in 0..nformats {
        formats.push(i16_at(&mut pos)? == 1);
    }
    let nvalues = usize::try_from(i16_at(&mut pos)?).ok()?;
    if nformats > 1 && nformats != nvalues {
        return None;
    }
    let mut values = Vec::with_capacity(nvalues);
    for i in 0..nvalues {
        let len = i32::from_be_bytes(rest.get(pos..pos + 4)?.try_into().ok()?);
        pos += 4;
        let value = if len < 0 {
            None
        } else {
            let len = usize::try_from(len).ok()?;
            let v = rest.get(pos..pos + len)?;
            pos += len;
            Some(v)
        };
        let binary = match nformats {
            0 => false,
            1 => formats[0],
            _ => formats[i],
        };
        values.push((value, binary));
    }
    Some(values)
}

/// A Bind's parameter section (`BindMsg::rest`) for a statement whose
/// parameters are the original ones at `picks`: format codes and values
/// taken from those positions, result formats kept. `None` when malformed
/// or a pick is out of range.
pub fn slice_bind_rest(rest: &[u8], picks: &[usize]) -> Option<Vec<u8>> {
    let mut pos = 0;
    let u16_at = |pos: &mut usize| -> Option<usize> {
        let v = u16::from_be_bytes(rest.get(*pos..*pos + 2)?.try_into().ok()?);
        *pos += 2;
        Some(usize::from(v))
    };
    let nformats = u16_at(&mut pos)?;
    let formats = rest.get(pos..pos + 2 * nformats)?;
    pos += 2 * nformats;
    let nvalues = u16_at(&mut pos)?;
    let mut values: Vec<&[u8]> = Vec::with_capacity(nvalues);
    for _ in 0..nvalues {
        let len = i32::from_be_bytes(rest.get(pos..pos + 4)?.try_into().ok()?);
        let end = pos + 4 + usize::try_from(len).unwrap_or(0);
        values.push(rest.get(pos..end)?);
        pos = end;
    }
    let result_formats = rest.get(pos..)?;
    let count = u16::try_from(picks.len()).ok()?;
    let mut out = Vec::with_capacity(rest.len());
    match nformats {
        0 | 1 => {
            out.extend_from_slice(&rest[..2 + 2 * nformats]);
        }
        _ => {
            out.extend_from_slice(&count.to_be_bytes());
            for &p in picks {
                out.extend_from_slice(formats.get(2 * p..2 * p + 2)?);
            }
        }
    }
    out.extend_from_slice(&count.to_be_bytes());
    for &p in picks {
        out.extend_from_slice(values.get(p)?);
    }
    out.extend_from_slice(result_formats);
    Some(out)
}

/// A Parse's parameter-type section declaring `types`.
pub fn param_types_section(types: &[u32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + 4 * types.len());
    out.extend_from_slice(&u16::try_from(types.len()).unwrap_or(u16::MAX).to_be_bytes());
    for t in types.iter().take(usize::from(u16::MAX)) {
        out.extend_from_slice(&t.to_be_bytes());
    }
    out
}

/// The parameter type OIDs of a Parse (`ParseMsg::rest`).
pub fn decode_param_types(rest: &[u8]) -> Option<Vec<u32>> {
    let n = usize::try_from(i16::from_be_bytes(rest.get(0..2)?.try_into().ok()?)).ok()?;
    (0..n)
        .map(|i| Some(u32::from_be_bytes(rest.get(2 + 4 * i..6 + 4 * i)?.try_into().ok()?)))
        .collect()
}

/// Decodes a Describe or Close body: the kind (`S` or `P`) and the name.
pub fn decode_target(body: &[u8]) -> Option<(u8, &str)> {
    let kind = *body.first()?;
    let mut pos = 1;
    let name = read_cstr(body, &mut pos)?;
    Some((kind, name))
}

/// The SQL text of a Query body.
pub fn decode_query(body: &[u8]) -> Option<&str> {
    let mut pos = 0;
    read_cstr(body, &mut pos)
}

/// The portal name of an Execute body (the row limit follows it).
pub fn decode_execute(body: &[u8]) -> Option<&str> {
    let mut pos = 0;
    read_cstr(body, &mut pos)
}

/// Name and value of a ParameterStatus body.
pub fn decode_parameter_status(body: &[u8]) -> Option<(&str, &str)> {
    let mut pos = 0;
    let name = read_cstr(body, &mut pos)?;
    let value = read_cstr(body, &mut pos)?;
    Some((name, value))
}

/// The command tag of a CommandComplete body.
pub fn decode_command_tag(body: &[u8]) -> Option<&str> {
    let mut pos = 0;
    read_cstr(body, &mut pos)
}

/// Fields of an ErrorResponse/NoticeResponse that the proxy cares about.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ErrorFields {
    /// Non-localised severity (`V`), falling back to `S`.
    pub severity: String,
    /// SQLSTATE.
    pub code: String,
    /// Primary message.
    pub message: String,
}

/// Decodes an ErrorResponse or NoticeResponse body.
pub fn decode_error(body: &[u8]) -> ErrorFields {
    let mut out = ErrorFields::default();
    let mut pos = 0;
    while let Some(&field) = body.get(pos) {
        if field == 0 {
            break;
        }
        pos += 1;
        let Some(value) = read_cstr(body, &mut pos) else {
            break;
        };
        match field {
            b'S' if out.severity.is_empty() => out.severity = value.to_owned(),
            b'V' => out.severity = value.to_owned(),
            b'C' => out.code = value.to_owned(),
            b'M' => out.message = value.to_owned(),
            _ => {}
        }
    }
    out
}

/// Starts a tagged message and returns the offset of its length word.
fn begin(buf: &mut BytesMut, tag: u8) -> usize {
    buf.put_u8(tag);
    let at = buf.len();
    buf.put_i32(0);
    at
}

/// Fills in the length word written by [`begin`].
fn finish(buf: &mut BytesMut, at: usize) {
    let len = (buf.len() - at) as i32;
    buf[at..at + 4].copy_from_slice(&len.to_be_bytes());
}

fn put_cstr(buf: &mut BytesMut, s: &str) {
    buf.put_slice(s.as_bytes());
    buf.put_u8(0);
}

/// Severity of a synthesised error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The statement failed; the session goes on.
    Error,
    /// The connection is about to be closed.
    Fatal,
}

impl Severity {
    fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "ERROR",
            Severity::Fatal => "FATAL",
        }
    }
}

/// Appends an ErrorResponse with severity, SQLSTATE and message.
pub fn put_error(buf: &mut BytesMut, severity: Severity, code: &str, message: &str) {
    let at = begin(buf, b'E');
    for (field, value) in [
        (b'S', severity.as_str()),
        (b'V', severity.as_str()),
        (b'C', code),
        (b'M', message),
    ] {
        buf.put_u8(field);
        put_cstr(buf, value);
    }
    buf.put_u8(0);
    finish(buf, at);
}

/// Appends an Authentication message with the given sub-code and payload.
pub fn put_auth(buf: &mut BytesMut, code: i32, payload: &[u8]) {
    let at = begin(buf, b'R');
    buf.put_i32(code);
    buf.put_slice(payload);
    finish(buf, at);
}

/// Appends AuthenticationSASL advertising SCRAM-SHA-256.
pub fn put_auth_sasl(buf: &mut BytesMut) {
    put_auth(buf, 10, b"SCRAM-SHA-256\0\0");
}

/// Appends a ParameterStatus.
pub fn put_parameter_status(buf: &mut BytesMut, name: &str, value: &str) {
    let at = begin(buf, b'S');
    put_cstr(buf, name);
    put_cstr(buf, value);
    finish(buf, at);
}

/// Appends BackendKeyData.
pub fn put_backend_key_data(buf: &mut BytesMut, pid: u32, secret: u32) {
    let at = begin(buf, b'K');
    buf.put_u32(pid);
    buf.put_u32(secret);
    finish(buf, at);
}

/// Appends ReadyForQuery with the transaction status byte.
pub fn put_ready_for_query(buf: &mut BytesMut, status: TransactionStatus) {
    let at = begin(buf, b'Z');
    buf.put_u8(status.byte());
    finish(buf, at);
}

/// Where a session stands, as ReadyForQuery reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TransactionStatus {
    /// `I`: outside a transaction block.
    #[default]
    Idle,
    /// `T`: inside one.
    InBlock,
    /// `E`: inside a failed one (statements fail until it ends).
    Failed,
}

impl TransactionStatus {
    /// The status a ReadyForQuery body reports (an unknown byte reads as idle).
    pub fn from_byte(b: Option<u8>) -> TransactionStatus {
        match b {
            Some(b'T') => TransactionStatus::InBlock,
            Some(b'E') => TransactionStatus::Failed,
            _ => TransactionStatus::Idle,
        }
    }

    /// The byte on the wire.
    pub fn byte(self) -> u8 {
        match self {
            TransactionStatus::Idle => b'I',
            TransactionStatus::InBlock => b'T',
            TransactionStatus::Failed => b'E',
        }
    }

    /// True outside a transaction block.
    pub fn is_idle(self) -> bool {
        self == TransactionStatus::Idle
    }
}

/// Appends a body-less message such as ParseComplete (`1`) or CloseComplete (`3`).
pub fn put_empty(buf: &mut BytesMut, tag: u8) {
    let at = begin(buf, tag);
    finish(buf, at);
}

/// Appends a Parse message.
pub fn put_parse(buf: &mut BytesMut, name: &str, query: &str, rest: &[u8]) {
    let at = begin(buf, b'P');
    put_cstr(buf, name);
    put_cstr(buf, query);
    buf.put_slice(rest);
    finish(buf, at);
}

/// Appends a Bind message built from names and the raw remainder of another Bind.
pub fn put_bind(buf: &mut BytesMut, portal: &str, statement: &str, rest: &[u8]) {
    let at = begin(buf, b'B');
    put_cstr(buf, portal);
    put_cstr(buf, statement);
    buf.put_slice(rest);
    finish(buf, at);
}

/// Appends an Execute of `portal` with no row limit.
pub fn put_execute(buf: &mut BytesMut, portal: &str) {
    let at = begin(buf, b'E');
    put_cstr(buf, portal);
    buf.put_i32(0);
    finish(buf, at);
}

/// Appends a Describe (`D`) or Close (`C`) message.
pub fn put_target(buf: &mut BytesMut, tag: u8, kind: u8, name: &str) {
    let at = begin(buf, tag);
    buf.put_u8(kind);
    put_cstr(buf, name);
    finish(buf, at);
}

/// Appends a simple Query.
pub fn put_query(buf: &mut BytesMut, sql: &str) {
    let at = begin(buf, b'Q');
    put_cstr(buf, sql);
    finish(buf, at);
}

/// Appends a RowDescription of text columns.
pub fn put_row_description(buf: &mut BytesMut, names: &[&str]) {
    let at = begin(buf, b'T');
    buf.put_i16(names.len() as i16);
    for name in names {
        put_cstr(buf, name);
        buf.put_i32(0); // table oid
        buf.put_i16(0); // column number
        buf.put_u32(25); // text
        buf.put_i16(-1); // variable length
        buf.put_i32(-1); // no modifier
        buf.put_i16(0); // text format
    }
    finish(buf, at);
}

/// Appends a DataRow of text values (`None` is NULL).
pub fn put_data_row(buf: &mut BytesMut, values: &[Option<&str>]) {
    let at = begin(buf, b'D');
    buf.put_i16(values.len() as i16);
    for v in values {
        match v {
            Some(text) => {
                buf.put_i32(text.len() as i32);
                buf.put_slice(text.as_bytes());
            }
            None => buf.put_i32(-1),
        }
    }
    finish(buf, at);
}

/// Appends a CommandComplete with `tag`.
pub fn put_command_complete(buf: &mut BytesMut, tag: &str) {
    let at = begin(buf, b'C');
    put_cstr(buf, tag);
    finish(buf, at);
}

/// Quotes a string as an SQL literal (standard_conforming_strings on).
pub fn quote_literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    if value.contains('\\') {
        out.push('E');
        out.push('\'');
        for c in value.chars() {
            match c {
                '\'' => out.push_str("''"),
                '\\' => out.push_str("\\\\"),
                c => out.push(c),
            }
        }
    } else {
        out.push('\'');
        out.push_str(&value.replace('\'', "''"));
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::frame::cut_frame;

    #[test]
    fn error_round_trip() {
        let mut buf = BytesMut::new();
        put_error(&mut buf, Severity::Fatal, "28P01", "bad");
        let f = cut_frame(&mut buf, 1024).unwrap().unwrap();
        let e = decode_error(f.body());
        assert_eq!(e.code, "28P01");
        assert_eq!(e.severity, "FATAL");
        assert_eq!(e.message, "bad");
    }

    #[test]
    fn bind_values_and_parse_types() {
        // formats: one code (binary) for all; values: 4 bytes, NULL
        let mut rest = vec![0, 1, 0, 1, 0, 2, 0, 0, 0, 4, 0, 0, 0, 7, 0xff, 0xff, 0xff, 0xff, 0, 0];
        let v = decode_bind_values(&rest).unwrap();
        assert_eq!(v, vec![(Some(&[0u8, 0, 0, 7][..]), true), (None, true)]);
        // Per-value formats: text then binary.
        rest = vec![0, 2, 0, 0, 0, 1, 0, 2, 0, 0, 0, 1, b'5', 0, 0, 0, 1, 9, 0, 0];
        let v = decode_bind_values(&rest).unwrap();
        assert_eq!(v, vec![(Some(&b"5"[..]), false), (Some(&[9u8][..]), true)]);
        // A length past the end, or format count mismatching the values: malformed.
        assert!(decode_bind_values(&[0, 0, 0, 1, 0, 0, 0, 9, 1]).is_none());
        assert!(decode_bind_values(&[0, 2, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]).is_none());
        assert_eq!(decode_param_types(&[0, 2, 0, 0, 0, 23, 0, 0, 0, 0]), Some(vec![23, 0]));
        assert_eq!(decode_param_types(&[0, 1, 0]), None);
    }

    #[test]
    fn slices_bind_parameters() {
        // Per-value formats (text, binary, text), values "a", [9], NULL; one result format.
        let rest = vec![
            0, 3, 0, 0, 0, 1, 0, 0, 0, 3, 0, 0, 0, 1, b'a', 0, 0, 0, 1, 9, 0xff, 0xff, 0xff, 0xff, 0, 1, 0, 1,
        ];
        let sliced = slice_bind_rest(&rest, &[2, 1]).unwrap();
        assert_eq!(
            sliced,
            vec![0, 2, 0, 0, 0, 1, 0, 2, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 9, 0, 1, 0, 1]
        );
        let v = decode_bind_values(&sliced).unwrap();
        assert_eq!(v, vec![(None, false), (Some(&[9u8][..]), true)]);
        // One format code for all stays one code.
        let rest = vec![0, 1, 0, 1, 0, 2, 0, 0, 0, 1, 7, 0, 0, 0, 1, 8, 0, 0];
        assert_eq!(
            slice_bind_rest(&rest, &[1]).unwrap(),
            vec![0, 1, 0, 1, 0, 1, 0, 0, 0, 1, 8, 0, 0]
        );
        assert!(slice_bind_rest(&rest, &[2]).is_none());
        assert_eq!(param_types_section(&[23, 0]), vec![0, 2, 0, 0, 0, 23, 0, 0, 0, 0]);
    }

    #[test]
    fn parse_and_bind_round_trip() {
        let mut buf = BytesMut::new();
        put_parse(&mut buf, "s1", "select $1", &[0, 1, 0, 0, 0, 23]);
        let f = cut_frame(&mut buf, 1024).unwrap().unwrap();
        let p = decode_parse(f.body()).unwrap();
        assert_eq!((p.name, p.query, p.rest), ("s1", "select $1", &[0, 1, 0, 0, 0, 23][..]));
        put_bind(&mut buf, "", "s1", &[0, 0]);
        let f = cut_frame(&mut buf, 1024).unwrap().unwrap();
        let b = decode_bind(f.body()).unwrap();
        assert_eq!((b.portal, b.statement, b.rest), ("", "s1", &[0, 0][..]));
    }

    #[test]
    fn malformed_bodies_decode_to_none() {
        assert_eq!(decode_parse(b"no-terminator"), None);
        assert_eq!(decode_target(b""), None);
        assert_eq!(startup_params(&[0, 3, 0, 0, b'u', b's']), None);
    }

    #[test]
    fn quotes_literals() {
        assert_eq!(quote_literal("it's"), "'it''s'");
        assert_eq!(quote_literal(r"a\b"), r"E'a\\b'");
    }
}
