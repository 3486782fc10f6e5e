//! Turning catalog text into key domains: CHECK constraints from
//! `pg_get_constraintdef` (read in a UTC session) and declarative partition
//! bounds from `pg_get_expr(relpartbound, oid)`.

use sqlparser::ast::Expr;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use crate::keys::{analyze, Bound, Interval, KeyColumn, KeyPredicate, KeySet, RangeSet, Truth};

fn parse_expr(text: &str) -> Option<Expr> {
    Parser::new(&PostgreSqlDialect {})
        .try_with_sql(text)
        .ok()?
        .parse_expr()
        .ok()
}

/// The body of a `CHECK (...)` definition, without `NOT VALID`/`NO INHERIT`.
fn check_body(def: &str) -> Option<&str> {
    let mut body = def.trim().strip_prefix("CHECK")?.trim();
    for suffix in ["NOT VALID", "NO INHERIT"] {
        body = body.strip_suffix(suffix).unwrap_or(body).trim();
    }
    Some(body)
}

/// What a set of validated CHECK constraints allows for the key: the values
/// and whether NULL keys pass. `None` when none of them says anything about it.
pub fn check_domain(defs: &[String], key: &KeyColumn) -> Option<KeyPredicate> {
    let mut out: Option<KeyPredicate> = None;
    for def in defs {
        let Some(expr) = check_body(def).and_then(parse_expr) else {
            tracing::info!(constraint = %def, "constraint not understood; it does not narrow routing");
            continue;
        };
        let p = analyze(&expr, key);
        if p.values.is_all() && p.null == Truth::ANY {
            continue;
        }
        out = Some(match out {
            None => p,
            Some(prev) => intersect(prev, p),
        });
    }
    out
}

fn intersect(a: KeyPredicate, b: KeyPredicate) -> KeyPredicate {
    let (values, exact) = a.values.intersect(&b.values);
    // Both constraints must pass: NULL passes only if it passes both.
    let null = if a.null.may_pass() && b.null.may_pass() {
        Truth::NULL
    } else {
        Truth::FALSE
    };
    KeyPredicate {
        values,
        null,
        exact: exact && a.exact && b.exact,
    }
}

/// A declarative partition bound as the set of first-key values it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartitionBound {
    /// `FOR VALUES FROM (..) TO (..)` or `IN (..)`: the values of the first
    /// key column (multi-column ranges widen to the first column), and
    /// whether NULL is listed.
    Values {
        /// Values of the first key column.
        set: KeySet,
        /// `IN (NULL, ...)`.
        null: bool,
    },
    /// `FOR VALUES WITH (modulus m, remainder r)`: hashed, never pruned.
    Hash,
    /// `DEFAULT`: whatever no sibling takes.
    Default,
}

/// Splits a parenthesised, comma-separated bound list at top level.
fn split_items(list: &str) -> Option<Vec<&str>> {
    let inner = list.trim().strip_prefix('(')?.strip_suffix(')')?;
    let mut out = Vec::new();
    let (mut depth, mut quoted, mut start) = (0i32, false, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '\'' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                out.push(inner[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(inner[start..].trim());
    Some(out)
}

enum Item {
    Min,
    Max,
    Null,
    Value(crate::keys::KeyValue),
}

fn bound_item(text: &str, key: &KeyColumn) -> Option<Item> {
    match text.to_ascii_uppercase().as_str() {
        "MINVALUE" => return Some(Item::Min),
        "MAXVALUE" => return Some(Item::Max),
        "NULL" => return Some(Item::Null),
        _ => {}
    }
    // Reuse the predicate analysis to read the literal in the key's type.
    let expr = parse_expr(&format!("{} = {text}", quote_ident(key.name)))?;
    let p = analyze(&expr, key);
    let iv = p.values.ranges.intervals().first()?.clone();
    match (iv.lo, iv.hi) {
        (Bound::Included(a), Bound::Included(b)) if a == b && p.exact => Some(Item::Value(a)),
        _ => None,
    }
}

use crate::text::quote_ident;

/// Parses `pg_get_expr(relpartbound, oid)` output for the first key column.
/// `None` when it can't be read (such a partition is never pruned).
pub fn partition_bound(text: &str, key: &KeyColumn) -> Option<PartitionBound> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("DEFAULT") {
        return Some(PartitionBound::Default);
    }
    let rest = t.strip_prefix("FOR VALUES")?.trim();
    if rest.starts_with("WITH") {
        return Some(PartitionBound::Hash);
    }
    if let Some(list) = rest.strip_prefix("IN") {
        let mut values = Vec::new();
        let mut null = false;
        for item in split_items(list)? {
            match bound_item(item, key)? {
                Item::Value(v) => values.push(Interval::point(v)),
                Item::Null => null = true,
                _ => return None,
            }
        }
        return Some(PartitionBound::Values {
            set: KeySet::from(RangeSet::from_intervals(values)),
            null,
        });
    }
    let rest = rest.strip_prefix("FROM")?.trim();
    let to = rest.find(") TO (")?;
    let from_items = split_items(&rest[..=to])?;
    let to_items = split_items(&rest[to + 5..])?;
    let lo = match bound_item(from_items.first()?, key)? {
        Item::Min => Bound::Unbounded,
        Item::Value(v) => Bound::Included(v),
        _ => return None,
    };
    // With more columns, values equal to the upper first-column bound can still
    // fall inside: keep the end inclusive unless the bound has one column.
    let hi = match bound_item(to_items.first()?, key)? {
        Item::Max => Bound::Unbounded,
        Item::Value(v) if to_items.len() == 1 => Bound::Excluded(v),
        Item::Value(v) => Bound::Included(v),
        _ => return None,
    };
    Some(PartitionBound::Values {
        set: KeySet::from(RangeSet::from_intervals(Interval::new(lo, hi).into_iter().collect())),
        null: false,
    })
}

/// The domain of a DEFAULT partition: everything its siblings don't take
/// (exact only when every sibling's bound was read).
pub fn default_domain(siblings: &[PartitionBound], all_read: bool) -> KeyPredicate {
    if !all_read {
        return KeyPredicate::any();
    }
    let mut taken = RangeSet::empty();
    let mut null_taken = false;
    for s in siblings {
        match s {
            PartitionBound::Values { set, null } => {
                if set.modulo.is_some() {
                    return KeyPredicate::any();
                }
                taken = taken.union(&set.ranges);
                null_taken |= null;
            }
            PartitionBound::Hash => return KeyPredicate::any(),
            PartitionBound::Default => {}
        }
    }
    KeyPredicate {
        values: KeySet::from(taken.complement()),
        null: if null_taken { Truth::FALSE } else { Truth::TRUE },
        exact: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::value::parse_text;
    use crate::keys::{KeyType, KeyValue, TimeZoneRule};

    fn key(ty: KeyType) -> KeyColumn<'static> {
        KeyColumn {
            name: "k",
            qualifiers: &[],
            ty,
            text_ranges: true,
            reading: TimeZoneRule::Utc.into(),
        }
    }

    fn ts(s: &str) -> KeyValue {
        parse_text(KeyType::TimestampTz, s, TimeZoneRule::Utc).unwrap()
    }

    #[test]
    fn check_constraints_as_postgres_prints_them() {
        let defs = vec![
            "CHECK (((k >= '2024-01-01 00:00:00+00'::timestamp with time zone) AND (k < '2024-02-01 00:00:00+00'::timestamp with time zone)))".to_owned(),
            "CHECK ((other > 0))".to_owned(),
        ];
        let d = check_domain(&defs, &key(KeyType::TimestampTz)).unwrap();
        assert!(d.values.contains(&ts("2024-01-31 23:59:59.999999+00")));
        assert!(!d.values.contains(&ts("2024-02-01 00:00:00+00")));
        assert!(d.null.never_false(), "a CHECK passes for NULL keys");
        let with_not_null = vec![
            "CHECK ((k IS NOT NULL))".to_owned(),
            "CHECK ((k > 5)) NO INHERIT".to_owned(),
        ];
        let d = check_domain(&with_not_null, &key(KeyType::Int4)).unwrap();
        assert!(!d.null.never_false());
        assert!(check_domain(&["CHECK ((other > 0))".to_owned()], &key(KeyType::Int4)).is_none());
        assert!(check_domain(&["garbage".to_owned()], &key(KeyType::Int4)).is_none());
    }

    #[test]
    fn range_list_hash_and_default_bounds() {
        let k = key(KeyType::Date);
        let PartitionBound::Values { set, null } =
            partition_bound("FOR VALUES FROM ('2024-01-01') TO ('2024-02-01')", &k).unwrap()
        else {
            panic!("range")
        };
        let d = |s: &str| parse_text(KeyType::Date, s, TimeZoneRule::Utc).unwrap();
        assert!(set.contains(&d("2024-01-31")) && !set.contains(&d("2024-02-01")) && !null);
        let PartitionBound::Values { set, .. } =
            partition_bound("FOR VALUES FROM (MINVALUE) TO ('2000-01-01')", &k).unwrap()
        else {
            panic!("range")
        };
        assert!(set.contains(&d("1999-12-31")));
        let t = key(KeyType::Text);
        let PartitionBound::Values { set, null } = partition_bound("FOR VALUES IN ('eu', 'it''s', NULL)", &t).unwrap()
        else {
            panic!("list")
        };
        assert!(set.contains(&KeyValue::Text("it's".into())) && null);
        assert_eq!(
            partition_bound("FOR VALUES WITH (modulus 4, remainder 1)", &k),
            Some(PartitionBound::Hash)
        );
        assert_eq!(partition_bound("DEFAULT", &k), Some(PartitionBound::Default));
        // Multi-column: the first column's upper value stays possible.
        let i = key(KeyType::Int4);
        let PartitionBound::Values { set, .. } = partition_bound("FOR VALUES FROM (1, 'a') TO (3, 'b')", &i).unwrap()
        else {
            panic!("range")
        };
        assert!(set.contains(&KeyValue::Int(3)) && !set.contains(&KeyValue::Int(4)));
    }

    #[test]
    fn default_partition_takes_the_rest() {
        let i = key(KeyType::Int4);
        let a = partition_bound("FOR VALUES FROM (0) TO (10)", &i).unwrap();
        let b = partition_bound("FOR VALUES FROM (20) TO (30)", &i).unwrap();
        let d = default_domain(&[a, b, PartitionBound::Default], true);
        assert!(d.values.contains(&KeyValue::Int(15)) && !d.values.contains(&KeyValue::Int(5)));
        assert!(d.null.may_be_true());
        assert_eq!(default_domain(&[PartitionBound::Hash], true), KeyPredicate::any());
    }
}
