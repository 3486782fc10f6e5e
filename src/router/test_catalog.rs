//! Catalogs built by hand for the router's unit tests: a legacy parent in
//! schema `public` whose children's CHECK constraints are read as the
//! catalog loader reads them.

use std::sync::Arc;

use crate::catalog::bounds::check_domain;
use crate::catalog::{Catalog, Child, Hierarchy, HierarchyKind, KeySpec, TableName};
use crate::keys::{KeyType, Reading, TypMod};

/// `public.name`.
pub(super) fn public(name: &str) -> TableName {
    TableName {
        schema: "public".into(),
        name: name.into(),
    }
}

/// A catalog holding one legacy parent with an integer key and `children`
/// (name, CHECK text); the parent is proven empty.
pub(super) fn legacy(parent: &str, key: &str, columns: &[&str], children: &[(&str, &str)]) -> Catalog {
    let key = KeySpec {
        column: key.into(),
        ty: KeyType::Int4,
        text_ranges: false,
        typmod: TypMod::None,
    };
    let reader = key.column(&[], Reading::catalog());
    let children = children
        .iter()
        .map(|(name, check)| Child {
            table: public(name),
            domain: check_domain(&[check.to_string()], &reader),
            has_children: false,
            same_columns: true,
            same_defaults: true,
            boxes: None,
        })
        .collect();
    let h = Hierarchy::new(
        public(parent),
        HierarchyKind::Inheritance,
        Some(key),
        columns.iter().map(|c| c.to_string()).collect(),
        children,
        false,
    );
    let mut c = Catalog::default();
    c.hierarchies.insert(h.parent.clone(), Arc::new(h));
    c
}
