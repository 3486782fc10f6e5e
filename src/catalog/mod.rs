//! The catalog snapshot: every partitioned hierarchy of a database with each
//! child's key domain, and the child selection the router asks for. Built by
//! [`load`] and then immutable; lookups are pure.

pub mod bounds;
pub mod hook;
pub mod live;
pub mod load;
pub mod rules;

use std::collections::HashMap;
use std::sync::Arc;

use crate::keys::{Assigning, Interval, KeyColumn, KeyPredicate, KeyType, KeyValue, Reading, TimeZoneRule, TypMod};
pub use bounds::{Boxes, KeyBox};
pub use rules::{TableRule, Unmatched};

/// A schema-qualified table name, as stored in the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TableName {
    /// Schema.
    pub schema: String,
    /// Table.
    pub name: String,
}

fn quote_ident(s: &str) -> String {
    let plain = s.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        s.to_owned()
    } else {
        format!("\"{}\"", s.replace('"', "\"\""))
    }
}

/// A table name looked up by borrowed parts, so a lookup allocates nothing.
trait NameKey {
    fn parts(&self) -> (&str, &str);
}

impl NameKey for TableName {
    fn parts(&self) -> (&str, &str) {
        (&self.schema, &self.name)
    }
}

impl NameKey for (&str, &str) {
    fn parts(&self) -> (&str, &str) {
        (self.0, self.1)
    }
}

impl<'a> std::borrow::Borrow<dyn NameKey + 'a> for TableName {
    fn borrow(&self) -> &(dyn NameKey + 'a) {
        self
    }
}

// Hashes as the derived `Hash` of `TableName` does: schema, then name.
impl std::hash::Hash for dyn NameKey + '_ {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let (schema, name) = self.parts();
        schema.hash(state);
        name.hash(state);
    }
}

impl PartialEq for dyn NameKey + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.parts() == other.parts()
    }
}

impl Eq for dyn NameKey + '_ {}

impl TableName {
    /// `schema.table`, quoted where needed.
    pub fn quoted(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.name))
    }
}

impl std::fmt::Display for TableName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.quoted())
    }
}

/// How the hierarchy was built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HierarchyKind {
    /// Table inheritance with CHECK constraints (the legacy scheme).
    Inheritance,
    /// Declarative partitioning.
    Declarative,
}

impl HierarchyKind {
    /// `inheritance` or `declarative`.
    pub fn as_str(self) -> &'static str {
        match self {
            HierarchyKind::Inheritance => "inheritance",
            HierarchyKind::Declarative => "declarative",
        }
    }
}

/// The partition key column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySpec {
    /// Column name as stored.
    pub column: String,
    /// Column type.
    pub ty: KeyType,
    /// Whether text ranges can be compared (the column uses the C collation).
    pub text_ranges: bool,
    /// What the column's type modifier does to an assigned value.
    pub typmod: TypMod,
}

impl KeySpec {
    /// The key as the predicate analysis sees it.
    pub fn column<'a>(&'a self, qualifiers: &'a [String], reading: Reading<'a>) -> KeyColumn<'a> {
        KeyColumn {
            name: &self.column,
            qualifiers,
            ty: self.ty,
            text_ranges: self.text_ranges,
            reading,
        }
    }

    /// The key as an INSERT assigns to it.
    pub fn assigning(&self, tz: TimeZoneRule) -> Assigning {
        Assigning {
            ty: self.ty,
            typmod: self.typmod,
            tz,
        }
    }
}

/// One child table.
#[derive(Debug, Clone)]
pub struct Child {
    /// Its name.
    pub table: TableName,
    /// Key values (and NULL) it may hold; `None` when its bound or
    /// constraints could not be read, so it is never skipped.
    pub domain: Option<KeyPredicate>,
    /// True when it is itself a parent (multi-level hierarchies).
    pub has_children: bool,
    /// True when its columns are exactly the parent's, in the same order, so
    /// `child AS parent` keeps `*` and RETURNING `*` unchanged.
    pub same_columns: bool,
    /// True when every parent column has the same DEFAULT (and identity,
    /// sequence and generation) on the child, so an INSERT that leaves
    /// columns out fills them as the parent would.
    pub same_defaults: bool,
    /// For a key of several parts: the rows it may hold, as a union of
    /// boxes (one set per key part); `None` when its bound was not read.
    /// `domain` then holds the first part's projection.
    pub boxes: Option<Boxes>,
}

/// Where one key value goes on INSERT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueRoute {
    /// Exactly this child.
    Child(usize),
    /// No child admits it (or the key is NULL).
    NoChild,
    /// More than one child admits it: overlapping constraints.
    Ambiguous(Vec<usize>),
    /// Some child's domain is unknown, so the value can't be placed with proof.
    Unknown,
}

/// A parent and its direct children.
#[derive(Debug, Clone)]
pub struct Hierarchy {
    /// The parent table.
    pub parent: TableName,
    /// Inheritance or declarative.
    pub kind: HierarchyKind,
    /// The key, if one was found (for a key of several parts, the first).
    pub key: Option<KeySpec>,
    /// The key's further parts, for a RANGE key of several (`None`: an
    /// expression the router does not evaluate). Empty for one-part keys.
    pub more_key: Vec<Option<KeySpec>>,
    /// Their DEFAULTs as constants, like `key_default`.
    pub more_defaults: Vec<Option<Option<KeyValue>>>,
    /// Columns an INSERT may not set (GENERATED ALWAYS, identity or
    /// stored): naming one is PostgreSQL's error to raise.
    pub generated_always: Vec<String>,
    /// The parent's columns in order.
    pub columns: Vec<String>,
    /// Direct children.
    pub children: Vec<Child>,
    /// False only when the parent is proven empty (declarative, or a
    /// `CHECK (false) NO INHERIT` constraint).
    pub parent_may_hold_rows: bool,
    /// Pairs of children whose domains overlap.
    pub overlaps: Vec<(usize, usize)>,
    /// The key column's DEFAULT when it is a constant (`Some(None)`: NULL, or
    /// no default); `None` when it is not a constant (e.g. `now()`).
    pub key_default: Option<Option<KeyValue>>,
    /// What an INSERT does with a row no child accepts.
    pub on_unmatched: Unmatched,
    /// Children with one interval and no modulo filter, sorted and disjoint.
    sorted: Vec<(Interval, usize)>,
    /// Everything else, checked one by one.
    irregular: Vec<usize>,
    /// Children that admit NULL keys.
    null_children: Vec<usize>,
}

impl Hierarchy {
    /// Builds the hierarchy and its lookup index.
    pub fn new(
        parent: TableName,
        kind: HierarchyKind,
        key: Option<KeySpec>,
        columns: Vec<String>,
        children: Vec<Child>,
        parent_may_hold_rows: bool,
    ) -> Hierarchy {
        let mut single: Vec<(Interval, usize)> = Vec::new();
        let mut irregular = Vec::new();
        let mut null_children = Vec::new();
        for (i, c) in children.iter().enumerate() {
            match &c.domain {
                Some(d) => {
                    if d.null.may_pass() {
                        null_children.push(i);
                    }
                    match d.values.ranges.intervals() {
                        [iv] if d.values.modulo.is_none() => single.push((iv.clone(), i)),
                        _ => irregular.push(i),
                    }
                }
                None => {
                    irregular.push(i);
                    null_children.push(i);
                }
            }
        }
        single.sort_by(|a, b| a.0.cmp_start(&b.0));
        let mut sorted: Vec<(Interval, usize)> = Vec::with_capacity(single.len());
        for (iv, i) in single {
            match sorted.last() {
                Some((prev, _)) if iv.intersect(prev).is_some() => irregular.push(i),
                _ => sorted.push((iv, i)),
            }
        }
        irregular.sort_unstable();
        let mut h = Hierarchy {
            parent,
            kind,
            key,
            columns,
            children,
            parent_may_hold_rows,
            overlaps: Vec::new(),
            more_key: Vec::new(),
            more_defaults: Vec::new(),
            generated_always: Vec::new(),
            key_default: Some(None),
            on_unmatched: Unmatched::Forward,
            sorted,
            irregular,
            null_children,
        };
        h.overlaps = h.find_overlaps();
        for (a, b) in &h.overlaps {
            tracing::warn!(parent = %h.parent, a = %h.children[*a].table, b = %h.children[*b].table, "children have overlapping constraints");
        }
        h
    }

    fn find_overlaps(&self) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        for &i in &self.irregular {
            let Some(di) = &self.children[i].domain else {
                continue;
            };
            for (j, c) in self.children.iter().enumerate() {
                if j == i || (self.irregular.contains(&j) && j < i) {
                    continue;
                }
                if let Some(dj) = &c.domain {
                    if di.values.overlaps(&dj.values) {
                        out.push((i.min(j), i.max(j)));
                    }
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// True when the key has more than one part.
    pub fn multi_part(&self) -> bool {
        !self.more_key.is_empty()
    }

    /// Children that may hold rows for which a WHERE clause is true, given
    /// what it allows for each key part (one predicate per part; a missing
    /// part allows anything), in child order.
    pub fn select(&self, query: &[KeyPredicate]) -> Vec<usize> {
        let Some(first) = query.first() else {
            return (0..self.children.len()).collect();
        };
        let mut out = self.select_first(first);
        if self.multi_part() {
            out.retain(|&i| match &self.children[i].boxes {
                Some(boxes) => boxes.list.iter().any(|b| {
                    b.iter()
                        .zip(query.iter().map(Some).chain(std::iter::repeat(None)))
                        .all(|(part, q)| q.is_none_or(|q| may_meet(part, q)))
                }),
                None => true,
            });
        }
        out
    }

    /// The children whose first key part may meet the predicate.
    fn select_first(&self, query: &KeyPredicate) -> Vec<usize> {
        if self.key.is_none() || query.values.is_all() {
            return (0..self.children.len()).collect();
        }
        let mut out = Vec::new();
        for qiv in query.values.ranges.intervals() {
            let start = self.sorted.partition_point(|(civ, _)| civ.is_before(qiv));
            for (civ, i) in &self.sorted[start..] {
                if qiv.is_before(civ) {
                    break;
                }
                let child = self.children[*i].domain.as_ref().map(|d| &d.values);
                if child.is_none_or(|c| c.overlaps(&query.values)) {
                    out.push(*i);
                }
            }
        }
        for &i in &self.irregular {
            match &self.children[i].domain {
                Some(d) if !d.values.overlaps(&query.values) => {}
                _ => out.push(i),
            }
        }
        if query.null.may_be_true() {
            out.extend(self.null_children.iter().copied());
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The child an inserted row with this key value belongs to.
    pub fn route_value(&self, value: Option<&KeyValue>) -> ValueRoute {
        let Some(v) = value else {
            return self.route_null();
        };
        let mut hits = Vec::new();
        let at = self.sorted.partition_point(|(civ, _)| match &civ.hi {
            crate::keys::Bound::Unbounded => false,
            crate::keys::Bound::Included(h) => h < v,
            crate::keys::Bound::Excluded(h) => h <= v,
        });
        if let Some((civ, i)) = self.sorted.get(at) {
            if civ.contains(v) {
                hits.push(*i);
            }
        }
        for &i in &self.irregular {
            match &self.children[i].domain {
                Some(d) if d.values.contains(v) => hits.push(i),
                Some(_) => {}
                None => return ValueRoute::Unknown,
            }
        }
        hits.sort_unstable();
        match hits.len() {
            0 => ValueRoute::NoChild,
            1 => ValueRoute::Child(hits[0]),
            _ => ValueRoute::Ambiguous(hits),
        }
    }

    /// The child an inserted row belongs to, for a key of several parts:
    /// each part's value (`Some(None)`: NULL; `None`: not known, e.g. an
    /// expression part). Known only when exactly one child can take it.
    pub fn route_row(&self, parts: &[Option<Option<KeyValue>>]) -> ValueRoute {
        // Proof needs every part known and every child's boxes exact.
        let proven = parts.iter().all(Option::is_some);
        let mut hits = Vec::new();
        for (i, c) in self.children.iter().enumerate() {
            let Some(boxes) = &c.boxes else {
                return ValueRoute::Unknown;
            };
            if !boxes.exact && proven {
                return ValueRoute::Unknown;
            }
            let takes = boxes.list.iter().any(|b| {
                b.iter().zip(parts).all(|(p, v)| match v {
                    None => true,
                    Some(None) => p.null.may_pass(),
                    Some(Some(v)) => p.values.contains(v),
                })
            });
            if takes {
                hits.push(i);
            }
        }
        match hits.as_slice() {
            [] => ValueRoute::NoChild,
            [one] if proven => ValueRoute::Child(*one),
            _ => ValueRoute::Unknown,
        }
    }

    /// A NULL key passes every CHECK constraint, so on a legacy hierarchy it
    /// proves nothing and matches no child (rule 4); a declarative hierarchy
    /// sends it to the partition that lists NULL, or the default one.
    fn route_null(&self) -> ValueRoute {
        if self.kind == HierarchyKind::Inheritance {
            return ValueRoute::NoChild;
        }
        let mut hits = Vec::new();
        for &i in &self.null_children {
            match &self.children[i].domain {
                Some(d) if d.null.may_pass() => hits.push(i),
                Some(_) => {}
                None => return ValueRoute::Unknown,
            }
        }
        match hits.as_slice() {
            [] => ValueRoute::NoChild,
            [one] => ValueRoute::Child(*one),
            _ => ValueRoute::Ambiguous(hits),
        }
    }
}

/// True when a child's part and a query's part share a value (or NULL).
fn may_meet(part: &KeyPredicate, query: &KeyPredicate) -> bool {
    (part.null.may_pass() && query.null.may_be_true()) || part.values.overlaps(&query.values)
}

/// Where relations named like a parent live, so an unqualified name is
/// resolved as PostgreSQL resolves it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameUse {
    /// Schemas holding a relation of that name (of any kind: table, view,
    /// materialized view, foreign table, sequence, index, type).
    pub schemas: Vec<String>,
    /// Some session has a temporary relation of that name (the proxy can't
    /// tell whose, so the name is never resolved by guesswork where
    /// `pg_temp` is searched first).
    pub temporary: bool,
}

/// What an unqualified name resolves to.
#[derive(Debug, Clone)]
pub enum Resolved<'c> {
    /// This parent.
    Parent(&'c Arc<Hierarchy>),
    /// Another relation, or one that may be a session's temporary table:
    /// not to be routed.
    Other,
    /// No relation of that name on the path.
    Nothing,
}

/// Every hierarchy of one database.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// Hierarchies by parent.
    pub hierarchies: HashMap<TableName, Arc<Hierarchy>>,
    /// For each parent's name, every schema holding a relation of that name.
    pub names: HashMap<String, NameUse>,
    /// The DDL hook (event triggers that notify the proxy) is installed.
    pub hook_installed: bool,
    /// The search_path a session of the catalog's login starts with.
    pub default_search_path: Option<String>,
}

impl Catalog {
    /// The hierarchy whose parent is `table`.
    pub fn get(&self, table: &TableName) -> Option<&Arc<Hierarchy>> {
        self.hierarchies.get(table)
    }

    /// Resolves an unqualified name along a search path as PostgreSQL does:
    /// `pg_temp` first and `pg_catalog` next unless the path places them,
    /// then the path in order; the first schema holding a relation of that
    /// name (of any kind) decides.
    pub fn resolve<'p>(&self, name: &str, search_path: impl IntoIterator<Item = &'p str> + Clone) -> Resolved<'_> {
        let Some(usage) = self.names.get(name) else {
            // No relation of that name in any schema the load saw: only a
            // parent could be one (a catalog built without names, in tests).
            return match search_path.into_iter().find_map(|schema| self.lookup(schema, name)) {
                Some(h) => Resolved::Parent(h),
                None => Resolved::Nothing,
            };
        };
        let places = |s: &str| search_path.clone().into_iter().any(|p| p == s);
        let implicit = [
            (!places("pg_temp")).then_some("pg_temp"),
            (!places("pg_catalog")).then_some("pg_catalog"),
        ];
        for schema in implicit.into_iter().flatten().chain(search_path.clone()) {
            if schema == "pg_temp" || schema.starts_with("pg_temp_") {
                if usage.temporary {
                    return Resolved::Other;
                }
                continue;
            }
            if usage.schemas.iter().any(|s| s == schema) {
                return match self.lookup(schema, name) {
                    Some(h) => Resolved::Parent(h),
                    None => Resolved::Other,
                };
            }
        }
        Resolved::Nothing
    }

    /// The hierarchy of `schema.name`, without building a `TableName`.
    pub fn lookup(&self, schema: &str, name: &str) -> Option<&Arc<Hierarchy>> {
        self.hierarchies.get(&(schema, name) as &dyn NameKey)
    }

    /// Number of children over all hierarchies.
    pub fn child_count(&self) -> usize {
        self.hierarchies.values().map(|h| h.children.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{Bound, KeySet, Modulo, RangeSet, Truth};

    fn domain(lo: i64, hi: i64) -> Option<KeyPredicate> {
        Some(KeyPredicate {
            values: KeySet::from(RangeSet::from_intervals(
                Interval::new(Bound::Included(KeyValue::Int(lo)), Bound::Excluded(KeyValue::Int(hi)))
                    .into_iter()
                    .collect(),
            )),
            null: Truth::NULL,
            exact: true,
        })
    }

    fn name(n: &str) -> TableName {
        TableName {
            schema: "public".into(),
            name: n.into(),
        }
    }

    fn hierarchy(children: Vec<Option<KeyPredicate>>) -> Hierarchy {
        let children = children
            .into_iter()
            .enumerate()
            .map(|(i, domain)| Child {
                table: name(&format!("c{i}")),
                domain,
                has_children: false,
                same_columns: true,
                same_defaults: true,
                boxes: None,
            })
            .collect();
        let key = KeySpec {
            column: "k".into(),
            ty: KeyType::Int8,
            text_ranges: false,
            typmod: TypMod::None,
        };
        Hierarchy::new(
            name("p"),
            HierarchyKind::Inheritance,
            Some(key),
            vec!["k".into()],
            children,
            true,
        )
    }

    fn query(lo: i64, hi: i64) -> KeyPredicate {
        let mut q = domain(lo, hi).unwrap_or_else(KeyPredicate::any);
        q.null = Truth::NULL;
        q
    }

    #[test]
    fn selects_by_binary_search() {
        let h = hierarchy((0..1000).map(|i| domain(i * 10, i * 10 + 10)).collect());
        assert_eq!(h.select(&[query(25, 26)]), vec![2]);
        assert_eq!(h.select(&[query(19, 31)]), vec![1, 2, 3]);
        assert_eq!(h.select(&[query(-50, -1)]), Vec::<usize>::new());
        assert_eq!(h.select(&[KeyPredicate::any()]).len(), 1000);
        assert_eq!(h.route_value(Some(&KeyValue::Int(9999))), ValueRoute::Child(999));
        assert_eq!(h.route_value(Some(&KeyValue::Int(10_000))), ValueRoute::NoChild);
        assert_eq!(h.route_value(None), ValueRoute::NoChild);
        // IS NULL: children whose CHECK lets NULL through.
        let is_null = KeyPredicate {
            values: KeySet::empty(),
            null: Truth::TRUE,
            exact: true,
        };
        assert_eq!(h.select(&[is_null]).len(), 1000);
    }

    #[test]
    fn overlaps_unknowns_and_buckets() {
        let bucket = |r| {
            Some(KeyPredicate {
                values: KeySet {
                    ranges: RangeSet::all(),
                    modulo: Some(Modulo {
                        modulus: 2,
                        residues: [r].into_iter().collect(),
                    }),
                },
                null: Truth::NULL,
                exact: true,
            })
        };
        let h = hierarchy(vec![domain(0, 10), domain(5, 15), None, bucket(0)]);
        assert_eq!(h.overlaps.iter().filter(|(a, b)| (*a, *b) == (0, 1)).count(), 1);
        assert_eq!(h.select(&[query(13, 14)]), vec![1, 2]);
        assert_eq!(h.select(&[query(12, 13)]), vec![1, 2, 3]);
        assert_eq!(h.select(&[query(7, 8)]), vec![0, 1, 2]);
        assert_eq!(h.select(&[query(8, 9)]), vec![0, 1, 2, 3]);
        assert_eq!(h.route_value(Some(&KeyValue::Int(3))), ValueRoute::Unknown);
        let h = hierarchy(vec![domain(0, 10), domain(5, 15)]);
        assert_eq!(
            h.route_value(Some(&KeyValue::Int(7))),
            ValueRoute::Ambiguous(vec![0, 1])
        );
        assert_eq!(h.route_value(Some(&KeyValue::Int(12))), ValueRoute::Child(1));
    }

    #[test]
    fn names_are_quoted_when_needed() {
        let t = TableName {
            schema: "Sales".into(),
            name: "logs-2024".into(),
        };
        assert_eq!(t.quoted(), "\"Sales\".\"logs-2024\"");
        assert_eq!(name("logs_y2024m01").quoted(), "public.logs_y2024m01");
    }
}
