//! Turning catalog text into key domains: CHECK constraints from
//! `pg_get_constraintdef` (read in a UTC session) and declarative partition
//! bounds from `pg_get_expr(relpartbound, oid)`, for keys of one column and
//! RANGE keys of several (compared as row values, lexicographically).

use sqlparser::ast::Expr;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use crate::keys::predicate::typed_constant;
use crate::keys::typed::{cast, CastTarget, Datum};
use crate::keys::{
    analyze, Bound, Interval, KeyColumn, KeyPredicate, KeySet, KeyValue, RangeSet, SqlType, Truth, TypMod,
};

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

/// One item of a partition bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// `MINVALUE`
    Min,
    /// `MAXVALUE`
    Max,
    /// `NULL` (list bounds)
    Null,
    /// A value of the key part's type.
    Value(KeyValue),
    /// A value the router can't read (an expression key part, or a literal
    /// it does not model): nothing may be concluded from it.
    Unread,
}

/// A declarative partition bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartitionBound {
    /// `FOR VALUES IN (..)`: the values listed (a one-column key), and
    /// whether NULL is listed.
    List {
        /// The values.
        set: KeySet,
        /// `IN (NULL, ...)`.
        null: bool,
    },
    /// `FOR VALUES FROM (lo) TO (hi)`: one item per key part.
    Range {
        /// Inclusive lower bound.
        lo: Vec<Item>,
        /// Exclusive upper bound.
        hi: Vec<Item>,
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

/// One bound item in the type of its key part (`None`: an expression part).
fn bound_item(text: &str, part: Option<&KeyColumn>) -> Item {
    match text.to_ascii_uppercase().as_str() {
        "MINVALUE" => return Item::Min,
        "MAXVALUE" => return Item::Max,
        "NULL" => return Item::Null,
        _ => {}
    }
    let Some(key) = part else {
        return Item::Unread;
    };
    // Bound values are stored in the key's type and printed as literals
    // (`'2024-01-01'`, `100`, `'-5'::integer`).
    let target = CastTarget {
        ty: SqlType::of_key(key.ty),
        typmod: TypMod::None,
    };
    let value = parse_expr(text)
        .and_then(|e| typed_constant(&e, key.reading, target.ty))
        .and_then(|t| cast(t, target, key.reading.tz))
        .and_then(|t| t.datum);
    match value {
        Some(Datum::Key(v)) => Item::Value(v),
        _ => Item::Unread,
    }
}

/// Parses `pg_get_expr(relpartbound, oid)` output; `parts` holds one entry
/// per key part (`None` for an expression). `None` when it can't be read
/// (such a partition is never pruned).
pub fn partition_bound(text: &str, parts: &[Option<KeyColumn>]) -> Option<PartitionBound> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("DEFAULT") {
        return Some(PartitionBound::Default);
    }
    let rest = t.strip_prefix("FOR VALUES")?.trim();
    if rest.starts_with("WITH") {
        return Some(PartitionBound::Hash);
    }
    if let Some(list) = rest.strip_prefix("IN") {
        let [Some(key)] = parts else {
            return None;
        };
        let mut values = Vec::new();
        let mut null = false;
        for item in split_items(list)? {
            match bound_item(item, Some(key)) {
                Item::Value(v) => values.push(Interval::point(v)),
                Item::Null => null = true,
                _ => return None,
            }
        }
        return Some(PartitionBound::List {
            set: KeySet::from(RangeSet::from_intervals(values)),
            null,
        });
    }
    let rest = rest.strip_prefix("FROM")?.trim();
    let to = rest.find(") TO (")?;
    let items = |list: &str| -> Option<Vec<Item>> {
        let texts = split_items(list)?;
        (texts.len() == parts.len()).then(|| {
            texts
                .iter()
                .zip(parts)
                .map(|(t, p)| bound_item(t, p.as_ref()))
                .collect()
        })
    };
    Some(PartitionBound::Range {
        lo: items(&rest[..=to])?,
        hi: items(&rest[to + 5..])?,
    })
}

/// A box: one set of values per key part (a row matches when every part
/// is in its set).
pub type KeyBox = Vec<KeyPredicate>;

/// The rows a child of a key of several parts holds, as boxes.
#[derive(Debug, Clone, PartialEq)]
pub struct Boxes {
    /// The boxes.
    pub list: Vec<KeyBox>,
    /// True when they are exactly the child's rows; false when a part the
    /// router can't read (an expression) widened them, so a row that fits
    /// may still belong elsewhere.
    pub exact: bool,
}

fn values(set: RangeSet) -> KeyPredicate {
    KeyPredicate {
        values: KeySet::from(set),
        null: Truth::FALSE,
        exact: true,
    }
}

fn interval(lo: Bound, hi: Bound) -> KeyPredicate {
    values(RangeSet::from_intervals(Interval::new(lo, hi).into_iter().collect()))
}

fn any_non_null() -> KeyPredicate {
    values(RangeSet::all())
}

/// The rows `lo <= row < hi` (lexicographic, with PostgreSQL's MINVALUE and
/// MAXVALUE) as a union of boxes over the key parts from `lo.len()` on.
/// `None` on a side means no limit there. Unread items widen what follows
/// them to every value.
pub fn range_boxes(lo: Option<&[Item]>, hi: Option<&[Item]>, width: usize) -> Vec<KeyBox> {
    let rest_all = |n: usize| vec![(0..n).map(|_| any_non_null()).collect::<KeyBox>()];
    if width == 0 {
        // Every part matched the bound exactly: inside only if the lower
        // bound is inclusive (it is) and the upper exclusive (it is).
        return match (lo, hi) {
            (_, Some(_)) => Vec::new(),
            _ => vec![Vec::new()],
        };
    }
    // A MINVALUE lower item (or MAXVALUE upper) lifts that side's limit;
    // MAXVALUE lower (or MINVALUE upper) leaves nothing.
    let lo = match lo.and_then(|l| l.first()) {
        Some(Item::Min) => None,
        Some(Item::Max | Item::Null) => return Vec::new(),
        _ => lo,
    };
    let hi = match hi.and_then(|h| h.first()) {
        Some(Item::Max) => None,
        Some(Item::Min | Item::Null) => return Vec::new(),
        _ => hi,
    };
    let prefixed = |first: KeyPredicate, rest: Vec<KeyBox>| -> Vec<KeyBox> {
        rest.into_iter()
            .map(|r| std::iter::once(first.clone()).chain(r).collect())
            .collect()
    };
    match (lo, hi) {
        (None, None) => rest_all(width),
        (Some(l), _) if l[0] == Item::Unread => rest_all(width),
        (_, Some(h)) if h[0] == Item::Unread => rest_all(width),
        (Some(l), None) => {
            let Item::Value(a) = &l[0] else {
                return rest_all(width);
            };
            let mut out = prefixed(
                interval(Bound::Included(a.clone()), Bound::Included(a.clone())),
                range_boxes(Some(&l[1..]), None, width - 1),
            );
            out.extend(prefixed(
                interval(Bound::Excluded(a.clone()), Bound::Unbounded),
                rest_all(width - 1),
            ));
            out
        }
        (None, Some(h)) => {
            let Item::Value(b) = &h[0] else {
                return rest_all(width);
            };
            let mut out = prefixed(
                interval(Bound::Unbounded, Bound::Excluded(b.clone())),
                rest_all(width - 1),
            );
            out.extend(prefixed(
                interval(Bound::Included(b.clone()), Bound::Included(b.clone())),
                range_boxes(None, Some(&h[1..]), width - 1),
            ));
            out
        }
        (Some(l), Some(h)) => {
            let (Item::Value(a), Item::Value(b)) = (&l[0], &h[0]) else {
                return rest_all(width);
            };
            match a.cmp(b) {
                std::cmp::Ordering::Greater => Vec::new(),
                std::cmp::Ordering::Equal => prefixed(
                    interval(Bound::Included(a.clone()), Bound::Included(a.clone())),
                    range_boxes(Some(&l[1..]), Some(&h[1..]), width - 1),
                ),
                std::cmp::Ordering::Less => {
                    let mut out = prefixed(
                        interval(Bound::Included(a.clone()), Bound::Included(a.clone())),
                        range_boxes(Some(&l[1..]), None, width - 1),
                    );
                    out.extend(prefixed(
                        interval(Bound::Excluded(a.clone()), Bound::Excluded(b.clone())),
                        rest_all(width - 1),
                    ));
                    out.extend(prefixed(
                        interval(Bound::Included(b.clone()), Bound::Included(b.clone())),
                        range_boxes(None, Some(&h[1..]), width - 1),
                    ));
                    out
                }
            }
        }
    }
    .into_iter()
    .filter(|b| b.iter().all(|p| !p.values.is_empty() || p.null.may_pass()))
    .collect()
}

/// Compares two bounds as PostgreSQL orders partition bounds.
fn cmp_bounds(a: &[Item], b: &[Item]) -> std::cmp::Ordering {
    use std::cmp::Ordering::*;
    for (x, y) in a.iter().zip(b) {
        let o = match (x, y) {
            (Item::Min, Item::Min) | (Item::Max, Item::Max) => return Equal,
            (Item::Min, _) | (_, Item::Max) => Less,
            (_, Item::Min) | (Item::Max, _) => Greater,
            (Item::Value(p), Item::Value(q)) => p.cmp(q),
            _ => Equal,
        };
        if o != Equal {
            return o;
        }
    }
    Equal
}

/// The rows a DEFAULT partition of a RANGE key of several parts takes:
/// every gap between its siblings' ranges, and every row with a NULL part.
/// `None` unless every sibling's bound was read in full.
pub fn default_boxes(siblings: &[PartitionBound], width: usize) -> Option<Vec<KeyBox>> {
    let mut ranges: Vec<(&[Item], &[Item])> = Vec::new();
    for s in siblings {
        match s {
            PartitionBound::Range { lo, hi } => {
                if lo.iter().chain(hi).any(|i| matches!(i, Item::Unread | Item::Null)) {
                    return None;
                }
                ranges.push((lo, hi));
            }
            PartitionBound::Default => {}
            _ => return None,
        }
    }
    ranges.sort_by(|a, b| cmp_bounds(a.0, b.0));
    let mut out = Vec::new();
    let mut from: Option<&[Item]> = None;
    for (lo, hi) in &ranges {
        if from.is_none_or(|f| cmp_bounds(f, lo) == std::cmp::Ordering::Less) {
            out.extend(range_boxes(from, Some(lo), width));
        }
        if from.is_none_or(|f| cmp_bounds(f, hi) == std::cmp::Ordering::Less) {
            from = Some(hi);
        }
    }
    out.extend(range_boxes(from, None, width));
    for i in 0..width {
        out.push(
            (0..width)
                .map(|j| match i == j {
                    true => KeyPredicate {
                        values: KeySet::empty(),
                        null: Truth::TRUE,
                        exact: true,
                    },
                    false => KeyPredicate::any(),
                })
                .collect(),
        );
    }
    Some(out)
}

/// The first key part's values of a RANGE bound (an over-approximation when
/// there are more parts), for the lookup index and `SHOW PARTITIONS`.
pub fn first_part(lo: &[Item], hi: &[Item]) -> Option<KeySet> {
    let lower = match lo.first()? {
        Item::Min => Bound::Unbounded,
        Item::Value(v) => Bound::Included(v.clone()),
        _ => return None,
    };
    let more = |items: &[Item]| items.len() > 1 && !matches!(items.get(1), Some(Item::Min));
    let upper = match hi.first()? {
        Item::Max => Bound::Unbounded,
        // With more parts, values equal to the upper first item can still
        // fall inside, unless the rest is MINVALUE.
        Item::Value(v) if more(hi) => Bound::Included(v.clone()),
        Item::Value(v) => Bound::Excluded(v.clone()),
        _ => return None,
    };
    Some(KeySet::from(RangeSet::from_intervals(
        Interval::new(lower, upper).into_iter().collect(),
    )))
}

/// The domain of a DEFAULT partition of a one-column key: everything its
/// siblings don't take (exact only when every sibling's bound was read).
pub fn default_domain(siblings: &[PartitionBound], all_read: bool) -> KeyPredicate {
    if !all_read {
        return KeyPredicate::any();
    }
    let mut taken = RangeSet::empty();
    let mut null_taken = false;
    for s in siblings {
        match s {
            PartitionBound::List { set, null } => {
                if set.modulo.is_some() {
                    return KeyPredicate::any();
                }
                taken = taken.union(&set.ranges);
                null_taken |= null;
            }
            PartitionBound::Range { lo, hi } => match (lo.as_slice(), hi.as_slice()) {
                ([l], [h]) if !matches!(l, Item::Unread) && !matches!(h, Item::Unread) => match first_part(lo, hi) {
                    Some(set) => taken = taken.union(&set.ranges),
                    None => return KeyPredicate::any(),
                },
                _ => return KeyPredicate::any(),
            },
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

/// Each declarative child's domain from its bound (`None`: not read), for
/// a key of `width` parts: the first part's values, and for several parts
/// the boxes of rows it holds (a DEFAULT partition's exactly only when
/// every sibling's bound was read in full).
pub fn child_domains(bounds: &[Option<PartitionBound>], width: usize) -> Vec<(Option<KeyPredicate>, Option<Boxes>)> {
    let all_read = bounds.iter().all(Option::is_some);
    let known: Vec<PartitionBound> = bounds.iter().flatten().cloned().collect();
    bounds
        .iter()
        .map(|bound| {
            let range_first = |lo: &[Item], hi: &[Item], exact: bool| {
                first_part(lo, hi).map(|values| KeyPredicate {
                    values,
                    null: Truth::FALSE,
                    exact,
                })
            };
            let (domain, boxes) = if width > 1 {
                match bound {
                    Some(PartitionBound::Range { lo, hi }) => (
                        range_first(lo, hi, false),
                        Some(Boxes {
                            list: range_boxes(Some(lo), Some(hi), width),
                            exact: !lo.iter().chain(hi).any(|i| *i == Item::Unread),
                        }),
                    ),
                    // A DEFAULT's boxes exist only when every sibling was read in full.
                    Some(PartitionBound::Default) if all_read => (
                        None,
                        default_boxes(&known, width).map(|list| Boxes { list, exact: true }),
                    ),
                    _ => (None, None),
                }
            } else {
                let domain = match bound {
                    Some(PartitionBound::List { set, null }) => Some(KeyPredicate {
                        values: set.clone(),
                        null: if *null { Truth::TRUE } else { Truth::FALSE },
                        exact: true,
                    }),
                    Some(PartitionBound::Range { lo, hi }) => range_first(lo, hi, true),
                    Some(PartitionBound::Default) => Some(default_domain(&known, all_read)),
                    Some(PartitionBound::Hash) | None => None,
                };
                (domain, None)
            };
            // A default partition whose siblings could not all be read holds anything.
            let domain = domain.filter(|d| !(d.values == KeySet::all() && d.null == Truth::ANY));
            (domain, boxes)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::value::parse_text;
    use crate::keys::{KeyType, Reading, TimeZoneRule};

    fn key(ty: KeyType) -> KeyColumn<'static> {
        KeyColumn {
            name: "k",
            qualifiers: &[],
            ty,
            text_ranges: true,
            reading: Reading::catalog(),
        }
    }

    fn ts(s: &str) -> KeyValue {
        parse_text(KeyType::TimestampTz, s, TimeZoneRule::Utc).unwrap()
    }

    fn list(b: Option<PartitionBound>) -> (KeySet, bool) {
        match b {
            Some(PartitionBound::List { set, null }) => (set, null),
            other => panic!("{other:?}"),
        }
    }

    fn range_set(b: Option<PartitionBound>) -> KeySet {
        match b {
            Some(PartitionBound::Range { lo, hi }) => first_part(&lo, &hi).unwrap(),
            other => panic!("{other:?}"),
        }
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
        // A constraint comparing a timestamp column with timestamptz depends
        // on each writer's TimeZone: it proves nothing.
        let zoned = vec!["CHECK ((k >= '2024-01-01 00:00:00+00'::timestamp with time zone))".to_owned()];
        assert!(check_domain(&zoned, &key(KeyType::Timestamp)).is_none());
    }

    #[test]
    fn range_list_hash_and_default_bounds() {
        let k = key(KeyType::Date);
        let set = range_set(partition_bound(
            "FOR VALUES FROM ('2024-01-01') TO ('2024-02-01')",
            &[Some(k.clone())],
        ));
        let d = |s: &str| parse_text(KeyType::Date, s, TimeZoneRule::Utc).unwrap();
        assert!(set.contains(&d("2024-01-31")) && !set.contains(&d("2024-02-01")));
        let set = range_set(partition_bound(
            "FOR VALUES FROM (MINVALUE) TO ('2000-01-01')",
            &[Some(k.clone())],
        ));
        assert!(set.contains(&d("1999-12-31")));
        let t = key(KeyType::Text);
        let (set, null) = list(partition_bound("FOR VALUES IN ('eu', 'it''s', NULL)", &[Some(t)]));
        assert!(set.contains(&KeyValue::Text("it's".into())) && null);
        assert_eq!(
            partition_bound("FOR VALUES WITH (modulus 4, remainder 1)", &[Some(k.clone())]),
            Some(PartitionBound::Hash)
        );
        assert_eq!(partition_bound("DEFAULT", &[Some(k)]), Some(PartitionBound::Default));
        // Multi-column: the first part's upper value stays possible.
        let i = key(KeyType::Int4);
        let set = range_set(partition_bound(
            "FOR VALUES FROM (1, 'a') TO (3, 'b')",
            &[Some(i.clone()), Some(key(KeyType::Text))],
        ));
        assert!(set.contains(&KeyValue::Int(3)) && !set.contains(&KeyValue::Int(4)));
    }

    #[test]
    fn default_partition_takes_the_rest() {
        let i = key(KeyType::Int4);
        let a = partition_bound("FOR VALUES FROM (0) TO (10)", &[Some(i.clone())]).unwrap();
        let b = partition_bound("FOR VALUES FROM (20) TO (30)", &[Some(i)]).unwrap();
        let d = default_domain(&[a, b, PartitionBound::Default], true);
        assert!(d.values.contains(&KeyValue::Int(15)) && !d.values.contains(&KeyValue::Int(5)));
        assert!(d.null.may_be_true());
        assert_eq!(default_domain(&[PartitionBound::Hash], true), KeyPredicate::any());
    }

    /// True when the row lies in one of the boxes.
    fn inside(boxes: &[KeyBox], row: &[Option<i64>]) -> bool {
        boxes.iter().any(|b| {
            b.iter().zip(row).all(|(p, v)| match v {
                Some(v) => p.values.contains(&KeyValue::Int(*v)),
                None => p.null.may_pass(),
            })
        })
    }

    #[test]
    fn row_ranges_compare_lexicographically() {
        let i = || Some(key(KeyType::Int4));
        let parts = [i(), i()];
        let bound = |s: &str| partition_bound(s, &parts).unwrap();
        let boxes_of = |b: &PartitionBound| match b {
            PartitionBound::Range { lo, hi } => range_boxes(Some(lo), Some(hi), 2),
            _ => panic!(),
        };
        let p11 = bound("FOR VALUES FROM (1, 2) TO (1, 10)");
        let b = boxes_of(&p11);
        assert!(inside(&b, &[Some(1), Some(2)]) && inside(&b, &[Some(1), Some(9)]));
        assert!(
            !inside(&b, &[Some(1), Some(10)]) && !inside(&b, &[Some(1), Some(1)]) && !inside(&b, &[Some(2), Some(5)])
        );
        let p2 = bound("FOR VALUES FROM (1, 10) TO (3, MINVALUE)");
        let b2 = boxes_of(&p2);
        assert!(
            inside(&b2, &[Some(1), Some(10)])
                && inside(&b2, &[Some(2), Some(-100)])
                && !inside(&b2, &[Some(3), Some(-100)])
        );
        let p3 = bound("FOR VALUES FROM (5, MINVALUE) TO (MAXVALUE, MAXVALUE)");
        let b3 = boxes_of(&p3);
        assert!(
            inside(&b3, &[Some(5), Some(i64::from(i32::MIN))])
                && inside(&b3, &[Some(100), Some(0)])
                && !inside(&b3, &[Some(4), Some(0)])
        );
        let def = default_boxes(&[p11, p2, p3, PartitionBound::Default], 2).unwrap();
        for row in [
            [Some(1), Some(1)],
            [Some(0), Some(50)],
            [Some(3), Some(0)],
            [Some(4), Some(7)],
            [None, Some(1)],
            [Some(1), None],
        ] {
            assert!(inside(&def, &row), "{row:?} belongs to the default");
        }
        for row in [[Some(1), Some(2)], [Some(2), Some(0)], [Some(6), Some(0)]] {
            assert!(!inside(&def, &row), "{row:?} belongs to a sibling");
        }
        // An expression part's items are unread: the default can't be computed.
        let parts = [i(), None];
        let e = partition_bound("FOR VALUES FROM ('1', 0) TO ('1', 10)", &parts).unwrap();
        assert_eq!(default_boxes(&[e.clone(), PartitionBound::Default], 2), None);
        let PartitionBound::Range { lo, hi } = e else { panic!() };
        let wide = range_boxes(Some(&lo), Some(&hi), 2);
        assert!(inside(&wide, &[Some(1), Some(50)]), "an unread part widens");
    }
}
