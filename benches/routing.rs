//! Micro-benchmarks of routing: parse + route + rewrite per statement kind on
//! a legacy monthly `logs` parent (36 children), routing a Bind of a cached
//! prepared statement, building a catalog of 10,000 children (time and
//! memory), and child lookup for 10, 1,000 and 10,000 children.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Arc;

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion};
use partproxy::catalog::bounds::check_domain;
use partproxy::catalog::{Catalog, Child, Hierarchy, HierarchyKind, KeySpec, TableName};
use partproxy::keys::{
    Interval, KeyPredicate, KeySet, KeyType, KeyValue, Param, RangeSet, Reading, TimeZoneRule, Truth, TypMod,
};
use partproxy::router::{self, Parsed, Route, SessionView};

/// Counts live heap bytes, for the catalog's memory.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn table(name: String) -> TableName {
    TableName {
        schema: "public".into(),
        name,
    }
}

/// A parent with `checks` (child name, CHECK text) read as the catalog
/// loader reads them.
fn hierarchy(parent: &str, key: KeySpec, columns: &[&str], checks: Vec<(String, String)>) -> Hierarchy {
    let qualifiers: Vec<String> = Vec::new();
    let column = key.column(&qualifiers, Reading::catalog());
    let children = checks
        .into_iter()
        .map(|(name, check)| Child {
            table: table(name),
            domain: check_domain(&[check], &column),
            has_children: false,
            same_columns: true,
            same_defaults: true,
            boxes: None,
        })
        .collect();
    Hierarchy::new(
        table(parent.into()),
        HierarchyKind::Inheritance,
        Some(key),
        columns.iter().map(|c| (*c).to_owned()).collect(),
        children,
        false,
    )
}

fn catalog_of(h: Hierarchy) -> Catalog {
    let mut c = Catalog::default();
    c.hierarchies.insert(h.parent.clone(), Arc::new(h));
    c
}

/// The demo's `logs`: 36 monthly children of a timestamptz key.
fn monthly_logs() -> Catalog {
    let checks = (0..36)
        .map(|i| {
            let (y, m) = (2024 + i / 12, i % 12 + 1);
            let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            (
                format!("logs_{y}_{m:02}"),
                format!(
                    "CHECK (created_at >= '{y}-{m:02}-01 00:00:00+00'::timestamptz AND created_at < '{ny}-{nm:02}-01 00:00:00+00'::timestamptz)"
                ),
            )
        })
        .collect();
    let key = KeySpec {
        column: "created_at".into(),
        ty: KeyType::TimestampTz,
        text_ranges: false,
        typmod: TypMod::None,
    };
    catalog_of(hierarchy(
        "logs",
        key,
        &["id", "created_at", "level", "message"],
        checks,
    ))
}

/// `children` integer-range children of 1,000 keys each.
fn integer_ranges(children: usize) -> Hierarchy {
    let checks = (0..children)
        .map(|i| {
            (
                format!("ue_{i}"),
                format!("CHECK (k >= {} AND k < {})", i * 1000, (i + 1) * 1000),
            )
        })
        .collect();
    let key = KeySpec {
        column: "k".into(),
        ty: KeyType::Int4,
        text_ranges: false,
        typmod: TypMod::None,
    };
    hierarchy("ue", key, &["k", "v"], checks)
}

fn route_text(sql: &str, catalog: &Catalog) -> Route {
    let path = vec!["public".to_owned()];
    let view = SessionView::new(&path, "app", TimeZoneRule::Utc);
    router::route(sql, catalog, &view)
}

fn statements(c: &mut Criterion) {
    let catalog = monthly_logs();
    let rows: Vec<String> = (0..100)
        .map(|i| {
            format!(
                "({i}, '2026-0{}-0{} 12:00:00+00', 'info', 'message {i}')",
                1 + i % 3,
                1 + i % 9
            )
        })
        .collect();
    let insert_100 = format!(
        "INSERT INTO logs (id, created_at, level, message) VALUES {}",
        rows.join(", ")
    );
    let cases = [
        (
            "point_select",
            "SELECT * FROM logs WHERE created_at = '2025-07-14 10:20:00+00'".to_owned(),
        ),
        (
            "range_select_1_day",
            "SELECT count(*) FROM logs WHERE created_at >= '2026-09-03' AND created_at < '2026-09-04'".to_owned(),
        ),
        (
            "insert_1_row",
            "INSERT INTO logs (id, created_at, level, message) VALUES (1, '2026-06-01 08:00:00+00', 'info', 'hello')"
                .to_owned(),
        ),
        ("insert_100_rows", insert_100),
        (
            "update_by_key",
            "UPDATE logs SET message = 'seen' WHERE created_at = '2025-07-14 10:20:00+00' AND id = 7".to_owned(),
        ),
        (
            "no_partitioned_table",
            "SELECT abalance FROM pgbench_accounts WHERE aid = 42".to_owned(),
        ),
    ];
    let mut group = c.benchmark_group("route");
    for (name, sql) in &cases {
        let decision = route_text(sql, &catalog);
        // Benchmark what really routes, not a silent pass-through.
        let expected_pass = *name == "no_partitioned_table";
        assert_eq!(
            matches!(decision, Route::Passthrough(_)),
            expected_pass,
            "{name}: {decision:?}"
        );
        group.bench_function(*name, |b| b.iter(|| black_box(route_text(black_box(sql), &catalog))));
    }
    // A Bind of a prepared statement: parsed once (as the parse cache holds
    // it), routed by its parameter, here a binary timestamptz.
    let sql = "SELECT * FROM logs WHERE created_at = $1";
    let parsed = Parsed::new(sql);
    let micros: i64 = 804_000_000_000_000; // 2025-06-24, microseconds since 2000-01-01
    let value = micros.to_be_bytes();
    let params = [Param::bound(Some(&value), true, 1184)];
    let path = vec!["public".to_owned()];
    let mut view = SessionView::new(&path, "app", TimeZoneRule::Utc);
    view.params = &params;
    assert!(matches!(
        router::route_parsed(sql, &parsed, &catalog, &view),
        Route::Rewrite { .. }
    ));
    group.bench_function("bind_of_cached_statement", |b| {
        b.iter(|| black_box(router::route_parsed(sql, &parsed, &catalog, &view)))
    });
    group.finish();
}

fn catalog_build(c: &mut Criterion) {
    let before = LIVE.load(Ordering::Relaxed);
    let h = integer_ranges(10_000);
    let bytes = LIVE.load(Ordering::Relaxed) - before;
    println!(
        "catalog/memory: 10000 children take {:.1} MiB ({} bytes per child)",
        bytes as f64 / (1 << 20) as f64,
        bytes / 10_000
    );
    assert_eq!(h.children.len(), 10_000);
    drop(h);
    let mut group = c.benchmark_group("catalog");
    group.sample_size(10);
    group.bench_function("build_10000_children", |b| b.iter(|| black_box(integer_ranges(10_000))));
    group.finish();
}

fn point(k: i64) -> KeyPredicate {
    KeyPredicate {
        values: KeySet::from(RangeSet::from_intervals(vec![Interval::point(KeyValue::Int(k))])),
        null: Truth::FALSE,
        exact: true,
    }
}

fn lookup(c: &mut Criterion) {
    let mut group = c.benchmark_group("child_lookup");
    for n in [10usize, 1_000, 10_000] {
        let h = integer_ranges(n);
        let k = (n as i64 * 1000) * 2 / 3 + 7;
        assert_eq!(h.select(&[point(k)]).len(), 1);
        let query = point(k);
        group.bench_with_input(BenchmarkId::new("select_point", n), &n, |b, _| {
            b.iter(|| black_box(h.select(black_box(std::slice::from_ref(&query)))))
        });
        let value = KeyValue::Int(k);
        group.bench_with_input(BenchmarkId::new("route_insert_value", n), &n, |b, _| {
            b.iter(|| black_box(h.route_value(black_box(Some(&value)))))
        });
    }
    group.finish();
}

criterion_group!(benches, statements, catalog_build, lookup);
criterion_main!(benches);
