//! How PostgreSQL reads a name written in SQL: unquoted identifiers folded
//! to lower case, every identifier cut to 63 bytes, dotted names split into
//! parts. Shared by the router and the catalog's routing rules.

use sqlparser::ast::{Ident, ObjectName, ObjectNamePart};

/// An unquoted identifier as PostgreSQL stores it: ASCII letters folded to
/// lower case (others kept), cut to 63 bytes.
pub(crate) fn fold_identifier(s: &str) -> String {
    truncate_identifier(&s.to_ascii_lowercase())
}

/// Identifiers longer than 63 bytes are cut, at a character boundary.
fn truncate_identifier(s: &str) -> String {
    let mut end = s.len().min(63);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// The parts of a dotted name as PostgreSQL reads them (unquoted ones folded
/// to lower case).
pub fn name_parts(name: &ObjectName) -> Option<Vec<String>> {
    Some(parts(name)?.into_iter().map(normalize).collect())
}

/// An identifier as PostgreSQL stores it: quoted as written, else lower case.
pub(crate) fn normalize(id: &Ident) -> String {
    normalized(id).into_owned()
}

/// [`normalize`], borrowing when the name needs no folding.
pub(crate) fn normalized(id: &Ident) -> std::borrow::Cow<'_, str> {
    let long = id.value.len() > 63;
    match id.quote_style {
        Some(_) if !long => std::borrow::Cow::Borrowed(&id.value),
        Some(_) => std::borrow::Cow::Owned(truncate_identifier(&id.value)),
        None if !long && !id.value.bytes().any(|b| b.is_ascii_uppercase()) => std::borrow::Cow::Borrowed(&id.value),
        None => std::borrow::Cow::Owned(fold_identifier(&id.value)),
    }
}

/// The identifiers of a dotted name; `None` if a part is not one.
pub(crate) fn parts(name: &ObjectName) -> Option<Vec<&Ident>> {
    name.0
        .iter()
        .map(|p| match p {
            ObjectNamePart::Identifier(id) => Some(id),
            _ => None,
        })
        .collect()
}
