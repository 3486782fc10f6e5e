//! Router unit tests for name resolution: WITH queries that hide a parent,
//! relations in earlier schemas, temporary relations, `pg_catalog`: no
//! sockets.

use super::test_catalog::legacy;
use super::*;
use crate::catalog::NameUse;

/// `public.orders` keyed by `id` with children below and above 100, and
/// `names` as the load would find them.
fn catalog(names: &[(&str, NameUse)]) -> Catalog {
    let mut c = legacy(
        "orders",
        "id",
        &["id", "note"],
        &[
            ("orders_lo", "CHECK ((id < 100))"),
            ("orders_hi", "CHECK ((id >= 100))"),
        ],
    );
    c.names = names.iter().map(|(n, u)| (n.to_string(), u.clone())).collect();
    c
}

fn public_only() -> Vec<(&'static str, NameUse)> {
    vec![(
        "orders",
        NameUse {
            schemas: vec!["public".into()],
            temporary: false,
        },
    )]
}

fn decide(sql: &str, c: &Catalog, path: &[&str]) -> Route {
    let path: Vec<String> = path.iter().map(|s| s.to_string()).collect();
    route(sql, c, &SessionView::new(&path, "app", TimeZoneRule::Utc))
}

fn routed(sql: &str, c: &Catalog, path: &[&str]) -> bool {
    matches!(decide(sql, c, path), Route::Rewrite { .. } | Route::SplitInsert { .. })
}

#[test]
fn a_with_query_hides_the_parent_in_its_scope() {
    let c = catalog(&public_only());
    let path = ["public"];
    assert!(routed("SELECT * FROM orders WHERE id = 5", &c, &path));
    assert!(!routed(
        "WITH orders AS (SELECT 1 AS id) SELECT * FROM orders WHERE id = 5",
        &c,
        &path
    ));
    // In a nested query, and in a sibling WITH query that follows it.
    assert!(!routed(
        "WITH orders AS (SELECT 1 AS id), b AS (SELECT * FROM orders WHERE id = 5) SELECT * FROM b",
        &c,
        &path
    ));
    assert!(!routed(
        "SELECT * FROM (WITH orders AS (SELECT 1 AS id) SELECT * FROM orders WHERE id = 5) s",
        &c,
        &path
    ));
    assert!(!routed(
        "WITH RECURSIVE orders(id) AS (SELECT 1 UNION ALL SELECT id + 1 FROM orders WHERE id < 5) SELECT * FROM orders WHERE id = 5",
        &c,
        &path
    ));
    // Outside the WITH's scope the name is the table again.
    let mixed = "SELECT * FROM (WITH orders AS (SELECT 1 AS id) SELECT * FROM orders) s, orders o WHERE o.id = 5";
    match decide(mixed, &c, &path) {
        Route::Rewrite { targets, .. } => assert_eq!(targets.len(), 1),
        other => panic!("{other:?}"),
    }
    // A qualified name is never a WITH query.
    assert!(routed(
        "WITH orders AS (SELECT 1 AS id) SELECT * FROM public.orders WHERE id = 5",
        &c,
        &path
    ));
}

#[test]
fn a_relation_earlier_on_the_path_hides_the_parent() {
    let mut names = public_only();
    names[0].1.schemas.push("s2".into());
    let c = catalog(&names);
    assert!(!routed("INSERT INTO orders VALUES (5, 'x')", &c, &["s2", "public"]));
    assert!(!routed("DELETE FROM orders WHERE id = 5", &c, &["s2", "public"]));
    assert!(routed("DELETE FROM orders WHERE id = 5", &c, &["public", "s2"]));
    assert!(routed("DELETE FROM public.orders WHERE id = 5", &c, &["s2", "public"]));
    // `$user` stands for the session's role.
    names[0].1.schemas.push("app".into());
    let c = catalog(&names);
    assert!(!routed("SELECT * FROM orders WHERE id = 5", &c, &["$user", "public"]));
    // pg_catalog is searched first unless the path places it.
    let mut names = public_only();
    names[0].1.schemas.push("pg_catalog".into());
    let c = catalog(&names);
    assert!(!routed("SELECT * FROM orders WHERE id = 5", &c, &["public"]));
    assert!(routed(
        "SELECT * FROM orders WHERE id = 5",
        &c,
        &["public", "pg_catalog"]
    ));
}

#[test]
fn a_temporary_relation_of_that_name_stops_routing_where_pg_temp_comes_first() {
    let mut names = public_only();
    names[0].1.temporary = true;
    let c = catalog(&names);
    assert!(!routed("INSERT INTO orders VALUES (5, 'x')", &c, &["public"]));
    assert!(!routed("SELECT * FROM orders WHERE id = 5", &c, &["pg_temp", "public"]));
    // Placed after the parent's schema, pg_temp no longer hides it.
    assert!(routed("SELECT * FROM orders WHERE id = 5", &c, &["public", "pg_temp"]));
    assert!(routed("SELECT * FROM public.orders WHERE id = 5", &c, &["public"]));
}

#[test]
fn identifiers_fold_as_postgres_folds_them() {
    let c = catalog(&public_only());
    assert!(routed("SELECT * FROM ORDERS WHERE ID = 5", &c, &["public"]));
    assert!(!routed("SELECT * FROM \"ORDERS\" WHERE id = 5", &c, &["public"]));
    // Names past 63 bytes are cut: this one is not `orders`.
    let long = format!("SELECT * FROM orders{} WHERE id = 5", "x".repeat(70));
    assert!(!routed(&long, &c, &["public"]));
}
