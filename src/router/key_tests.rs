//! Router unit tests for keys of several parts, expression parts, DEFAULT
//! partitions, generated columns, parameters whose type is not the key's,
//! and input the router must refuse to walk: no sockets.

use super::*;
use crate::catalog::bounds::{child_domains, partition_bound};
use crate::catalog::{Child, HierarchyKind, KeySpec};
use crate::keys::{KeyColumn, KeyType, KeyValue, Param, TypMod};

fn table(name: &str) -> TableName {
    TableName {
        schema: "public".into(),
        name: name.into(),
    }
}

fn spec(column: &str, ty: KeyType) -> KeySpec {
    KeySpec {
        column: column.into(),
        ty,
        text_ranges: true,
        typmod: TypMod::None,
    }
}

/// A declarative RANGE hierarchy over `parts` (`None`: an expression),
/// children named with their bound text as PostgreSQL prints it.
fn declarative(parent: &str, columns: &[&str], parts: Vec<Option<KeySpec>>, children: &[(&str, &str)]) -> Hierarchy {
    let readers: Vec<Option<KeyColumn>> = parts
        .iter()
        .map(|p| p.as_ref().map(|k| k.column(&[], Reading::catalog())))
        .collect();
    let bounds: Vec<_> = children.iter().map(|(_, b)| partition_bound(b, &readers)).collect();
    let kids = children
        .iter()
        .zip(child_domains(&bounds, parts.len()))
        .map(|((name, _), (domain, boxes))| Child {
            table: table(name),
            domain,
            has_children: false,
            same_columns: true,
            same_defaults: true,
            boxes,
        })
        .collect();
    let mut h = Hierarchy::new(
        table(parent),
        HierarchyKind::Declarative,
        parts.first().cloned().flatten(),
        columns.iter().map(|c| c.to_string()).collect(),
        kids,
        false,
    );
    h.more_key = parts.get(1..).unwrap_or_default().to_vec();
    h.more_defaults = vec![Some(None); h.more_key.len()];
    h
}

fn catalog(hierarchies: Vec<Hierarchy>) -> Catalog {
    let mut c = Catalog::default();
    for h in hierarchies {
        c.hierarchies.insert(h.parent.clone(), Arc::new(h));
    }
    c
}

fn route_with(sql: &str, c: &Catalog, params: &[Param]) -> Route {
    let path = vec!["public".to_owned()];
    let mut view = SessionView::new(&path, "app", TimeZoneRule::Utc);
    view.params = params;
    match params.is_empty() {
        true => route(sql, c, &view),
        false => route_parsed(sql, &Parsed::new(sql), c, &view),
    }
}

/// The tables a statement is sent to (children in order), or the reason it
/// passes through.
fn targets(sql: &str, c: &Catalog) -> Result<Vec<String>, PassReason> {
    match route_with(sql, c, &[]) {
        Route::Rewrite { targets, .. } | Route::SplitInsert { targets, .. } => Ok(targets
            .iter()
            .flat_map(|t| t.children.iter().map(|c| c.name.clone()))
            .collect()),
        Route::Passthrough(r) => Err(r),
        Route::Reject { message, .. } => panic!("{sql}: refused: {message}"),
    }
}

/// `mlparted` of PostgreSQL's insert tests: RANGE (a, b).
fn mlparted() -> Catalog {
    catalog(vec![declarative(
        "mlparted",
        &["a", "b", "c", "d"],
        vec![Some(spec("a", KeyType::Int4)), Some(spec("b", KeyType::Int4))],
        &[
            ("mlparted11", "FOR VALUES FROM (1, 2) TO (1, 10)"),
            ("mlparted12", "FOR VALUES FROM (1, 10) TO (1, 20)"),
            ("mlparted2", "FOR VALUES FROM (1, 20) TO (2, 0)"),
            ("mlparted3", "FOR VALUES FROM (2, 0) TO (MAXVALUE, MAXVALUE)"),
            ("mlparted_def", "DEFAULT"),
        ],
    )])
}

#[test]
fn rows_of_a_two_column_range_key_go_where_postgres_puts_them() {
    let c = mlparted();
    let one = |sql: &str| targets(sql, &c).unwrap_or_else(|r| panic!("{sql}: {r:?}"));
    assert_eq!(one("insert into mlparted values (1, 2, 'a', 1)"), ["mlparted11"]);
    assert_eq!(one("insert into mlparted values (1, 9, 'a', 1)"), ["mlparted11"]);
    assert_eq!(one("insert into mlparted values (1, 10, 'a', 1)"), ["mlparted12"]);
    assert_eq!(one("insert into mlparted values (1, 45, 'a', 1)"), ["mlparted2"]);
    assert_eq!(one("insert into mlparted values (2, -5, 'a', 1)"), ["mlparted2"]);
    assert_eq!(one("insert into mlparted values (2, 0, 'a', 1)"), ["mlparted3"]);
    assert_eq!(one("insert into mlparted values (0, 5, 'a', 1)"), ["mlparted_def"]);
    assert_eq!(one("insert into mlparted values (1, 1, 'a', 1)"), ["mlparted_def"]);
    assert_eq!(
        one("insert into mlparted (a) values (1)"),
        ["mlparted_def"],
        "b is NULL"
    );
    assert_eq!(
        one("insert into mlparted values (1, 2), (1, 15), (3, 3)"),
        ["mlparted11", "mlparted12", "mlparted3"]
    );
    // Reads: the first column alone keeps every child that may hold a = 1.
    assert_eq!(
        one("select * from mlparted where a = 1"),
        ["mlparted11", "mlparted12", "mlparted2", "mlparted_def"]
    );
    assert_eq!(one("select * from mlparted where a = 1 and b = 15"), ["mlparted12"]);
    assert_eq!(one("select * from mlparted where a = 1 and b < 2"), ["mlparted_def"]);
    assert_eq!(
        one("select * from mlparted where a = 2"),
        ["mlparted2", "mlparted3", "mlparted_def"]
    );
    assert_eq!(one("select * from mlparted where a = 2 and b >= 0"), ["mlparted3"]);
    assert_eq!(
        one("select * from mlparted where a = 5 and b is null"),
        ["mlparted_def"]
    );
    // An UPDATE of any key column moves rows: PostgreSQL's to do.
    assert_eq!(
        targets("update mlparted set b = 3 where a = 1 and b = 15", &c),
        Err(PassReason::UpdateKey)
    );
}

/// `rpe`-like: RANGE (a, (b + 0)) with a DEFAULT partition.
fn expression_key() -> Catalog {
    catalog(vec![declarative(
        "rpe",
        &["a", "b"],
        vec![Some(spec("a", KeyType::Text)), None],
        &[
            ("rpe1", "FOR VALUES FROM ('a', 0) TO ('b', 10)"),
            ("rpe2", "FOR VALUES FROM ('c', 0) TO ('d', 10)"),
            ("rpe_def", "DEFAULT"),
        ],
    )])
}

#[test]
fn an_expression_part_is_never_assumed() {
    let c = expression_key();
    // ('b', 20) lies in the default; ('b', 5) in rpe1: both may hold a = 'b'.
    assert_eq!(
        targets("select * from rpe where a = 'b'", &c).unwrap(),
        ["rpe1", "rpe_def"]
    );
    assert_eq!(
        targets("delete from rpe where a = 'b'", &c),
        Err(PassReason::ModifyMultiChild)
    );
    // The default can't be computed without the expression: always kept.
    assert_eq!(
        targets("select * from rpe where a = 'c0'", &c).unwrap(),
        ["rpe2", "rpe_def"]
    );
    assert_eq!(targets("select * from rpe where a = 'e'", &c).unwrap(), ["rpe_def"]);
    // An INSERT the first part can't decide passes through.
    assert_eq!(
        targets("insert into rpe values ('b', 5)", &c),
        Err(PassReason::InsertKeyUnknown)
    );
}

/// `mcrparted` of PostgreSQL's insert tests: RANGE (a, abs(b), c).
#[test]
fn a_row_is_never_placed_by_a_part_the_router_can_not_read() {
    let c = catalog(vec![declarative(
        "mcrparted",
        &["a", "b", "c"],
        vec![Some(spec("a", KeyType::Int4)), None, Some(spec("c", KeyType::Int4))],
        &[
            (
                "mcrparted0",
                "FOR VALUES FROM (MINVALUE, MINVALUE, MINVALUE) TO (1, MAXVALUE, MAXVALUE)",
            ),
            ("mcrparted1", "FOR VALUES FROM (2, 1, MINVALUE) TO (10, 5, 10)"),
            (
                "mcrparted2",
                "FOR VALUES FROM (10, 6, MINVALUE) TO (10, MAXVALUE, MAXVALUE)",
            ),
            ("mcrparted3", "FOR VALUES FROM (11, 1, 1) TO (20, 10, 10)"),
            (
                "mcrparted4",
                "FOR VALUES FROM (21, MINVALUE, MINVALUE) TO (30, 20, MAXVALUE)",
            ),
            (
                "mcrparted5",
                "FOR VALUES FROM (30, 21, 20) TO (MAXVALUE, MAXVALUE, MAXVALUE)",
            ),
        ],
    )]);
    // (11, 1, -1) fits no partition in PostgreSQL; only abs(b) tells.
    assert_eq!(
        targets("insert into mcrparted values (11, 1, -1)", &c),
        Err(PassReason::InsertKeyUnknown)
    );
    assert_eq!(
        targets("insert into mcrparted values (0, 1, 1)", &c),
        Err(PassReason::InsertKeyUnknown)
    );
    // Reads still narrow by the parts that are read.
    assert_eq!(
        targets("select * from mcrparted where a = 15", &c).unwrap(),
        ["mcrparted3"]
    );
}

#[test]
fn a_default_partition_of_one_column_takes_the_rest() {
    let c = catalog(vec![declarative(
        "d1",
        &["k"],
        vec![Some(spec("k", KeyType::Int4))],
        &[
            ("d1_a", "FOR VALUES FROM (0) TO (10)"),
            ("d1_b", "FOR VALUES FROM (10) TO (20)"),
            ("d1_def", "DEFAULT"),
        ],
    )]);
    assert_eq!(targets("select * from d1 where k = 5", &c).unwrap(), ["d1_a"]);
    assert_eq!(targets("select * from d1 where k = 25", &c).unwrap(), ["d1_def"]);
    assert_eq!(
        targets("select * from d1 where k = 5.5", &c).unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(
        targets("select * from d1 where k < 9.5", &c).unwrap(),
        ["d1_a", "d1_def"]
    );
    assert_eq!(
        targets("insert into d1 values (9.5)", &c).unwrap(),
        ["d1_b"],
        "9.5 rounds to 10"
    );
    assert_eq!(targets("insert into d1 values ('9')", &c).unwrap(), ["d1_a"]);
    assert_eq!(
        targets("insert into d1 values ('9.5')", &c),
        Err(PassReason::InsertNonConstant),
        "'9.5' is not an integer: PostgreSQL's error"
    );
    assert_eq!(targets("insert into d1 values (9.4::float8)", &c).unwrap(), ["d1_a"]);
    assert_eq!(targets("insert into d1 values (NULL)", &c).unwrap(), ["d1_def"]);
}

#[test]
fn parameters_of_another_type_than_the_key() {
    let c = catalog(vec![declarative(
        "orders",
        &["id", "note"],
        vec![Some(spec("id", KeyType::Int8))],
        &[
            ("orders_lo", "FOR VALUES FROM (0) TO (100000)"),
            ("orders_hi", "FOR VALUES FROM (100000) TO (200000)"),
        ],
    )]);
    let sql = "SELECT count(*) FROM orders WHERE id = $1";
    let chosen = |params: &[Param]| match route_with(sql, &c, params) {
        Route::Rewrite { targets, .. } => targets[0].children.iter().map(|t| t.name.clone()).collect::<Vec<_>>(),
        other => panic!("{other:?}"),
    };
    // numeric 99999 (pgjdbc's BigDecimal), text with a declared type.
    assert_eq!(chosen(&[Param::bound(Some(b"99999"), false, 1700)]), ["orders_lo"]);
    assert_eq!(
        chosen(&[Param::bound(Some(b"99999.5"), false, 1700)]),
        Vec::<String>::new()
    );
    assert_eq!(chosen(&[Param::bound(Some(b"100000"), false, 0)]), ["orders_hi"]);
    assert_eq!(
        chosen(&[Param::bound(Some(&100_000i32.to_be_bytes()), true, 23)]),
        ["orders_hi"]
    );
    assert_eq!(
        chosen(&[Param::bound(Some(&99_999.0f64.to_be_bytes()), true, 701)]),
        ["orders_lo"]
    );
    // Declared as a type the router does not read: not narrowed.
    assert!(matches!(
        route_with(sql, &c, &[Param::bound(Some(b"t"), false, 16)]),
        Route::Passthrough(PassReason::NotNarrowed)
    ));
    // An inferred parameter used twice may take its type elsewhere.
    let twice = "SELECT * FROM orders WHERE id = $1 OR note = $1::text";
    assert!(matches!(
        route_with(twice, &c, &[Param::bound(Some(b"5"), false, 0)]),
        Route::Passthrough(PassReason::NotNarrowed)
    ));
}

#[test]
fn generated_columns_are_postgres_to_fill() {
    let mut h = declarative(
        "ident",
        &["id", "k"],
        vec![Some(spec("k", KeyType::Int4))],
        &[("ident_a", "FOR VALUES FROM (0) TO (10)")],
    );
    h.generated_always = vec!["id".into()];
    let c = catalog(vec![h]);
    assert_eq!(
        targets("insert into ident (id, k) values (1, 5)", &c),
        Err(PassReason::GeneratedColumn)
    );
    assert_eq!(
        targets("insert into ident (id, k) values (DEFAULT, 5)", &c).unwrap(),
        ["ident_a"]
    );
    assert_eq!(targets("insert into ident (k) values (5)", &c).unwrap(), ["ident_a"]);
    // A key PostgreSQL computes (identity, serial) is not a constant.
    let mut h = declarative(
        "ident2",
        &["k"],
        vec![Some(spec("k", KeyType::Int4))],
        &[("ident2_a", "FOR VALUES FROM (0) TO (10)")],
    );
    h.key_default = None;
    let c = catalog(vec![h]);
    assert_eq!(
        targets("insert into ident2 default values", &c),
        Err(PassReason::InsertNotValues)
    );
    assert_eq!(
        targets("insert into ident2 values (default)", &c),
        Err(PassReason::InsertNonConstant)
    );
}

#[test]
fn deep_or_long_statements_pass_through_without_walking() {
    let c = mlparted();
    let ors: Vec<String> = (0..10_000).map(|i| format!("a = {i}")).collect();
    let sql = format!("select * from mlparted where {}", ors.join(" or "));
    assert_eq!(targets(&sql, &c), Err(PassReason::TooComplex));
    let nested = format!(
        "select * from mlparted where {}a = 1{}",
        "(".repeat(5000),
        ")".repeat(5000)
    );
    assert_eq!(targets(&nested, &c), Err(PassReason::TooComplex));
    let unions = vec!["select * from mlparted where a = 1"; 2000].join(" union all ");
    assert_eq!(targets(&unions, &c), Err(PassReason::TooComplex));
    // Within the limit a long chain is still read.
    let ors: Vec<String> = (0..200).map(|i| format!("a = {}", i + 3)).collect();
    let sql = format!("select * from mlparted where b = 1 and ({})", ors.join(" or "));
    assert_eq!(targets(&sql, &c).unwrap(), ["mlparted3"]);
}

#[test]
fn backslashes_are_not_read_when_strings_are_not_standard() {
    let c = catalog(vec![declarative(
        "t",
        &["k"],
        vec![Some(spec("k", KeyType::Text))],
        &[
            ("t_a", "FOR VALUES FROM ('a') TO ('m')"),
            ("t_m", "FOR VALUES FROM ('m') TO (MAXVALUE)"),
        ],
    )]);
    let path = vec!["public".to_owned()];
    let mut view = SessionView::new(&path, "app", TimeZoneRule::Utc);
    let sql = r"select * from t where k = 'a\' or k = 'b'";
    assert!(matches!(route(sql, &c, &view), Route::Rewrite { .. }));
    view.standard_strings = false;
    assert_eq!(
        route(sql, &c, &view),
        Route::Passthrough(PassReason::NonstandardStrings)
    );
    assert!(matches!(
        route("select * from t where k = 'b'", &c, &view),
        Route::Rewrite { .. }
    ));
}

#[test]
fn values_at_the_edges_of_time() {
    let c = catalog(vec![declarative(
        "ev",
        &["at"],
        vec![Some(spec("at", KeyType::Timestamp))],
        &[
            (
                "ev_jan",
                "FOR VALUES FROM ('2026-01-01 00:00:00') TO ('2026-02-01 00:00:00')",
            ),
            (
                "ev_feb",
                "FOR VALUES FROM ('2026-02-01 00:00:00') TO ('2026-03-01 00:00:00')",
            ),
            ("ev_inf", "FOR VALUES FROM ('2026-03-01 00:00:00') TO (MAXVALUE)"),
        ],
    )]);
    let one = |sql: &str| targets(sql, &c).unwrap_or_else(|r| panic!("{sql}: {r:?}"));
    // Seven fractional digits round, as PostgreSQL rounds them.
    assert_eq!(one("insert into ev values ('2026-01-31 23:59:59.9999995')"), ["ev_feb"]);
    assert_eq!(one("insert into ev values ('2026-01-31 23:59:59.9999994')"), ["ev_jan"]);
    assert_eq!(
        one("select * from ev where at = '2026-01-31 23:59:59.9999995'"),
        ["ev_feb"]
    );
    assert_eq!(one("insert into ev values ('infinity')"), ["ev_inf"]);
    assert_eq!(
        one("select * from ev where at > date '2026-02-28'"),
        ["ev_feb", "ev_inf"]
    );
    assert_eq!(
        one("insert into ev values ('2026-01-31 10:00'::timestamp::date)"),
        ["ev_jan"]
    );
    assert_eq!(
        targets("select * from ev where at < 'now'", &c),
        Err(PassReason::NotNarrowed),
        "'now' is not a constant"
    );
    let _ = KeyValue::Int(0);
}
