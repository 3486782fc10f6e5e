//! Router unit tests over a hand-built catalog: no sockets.

use super::*;
use crate::catalog::{Child, HierarchyKind, KeySpec};
use crate::keys::value::parse_text;
use crate::keys::{Bound, Interval, KeySet, KeyType, RangeSet, Truth};

fn ts(s: &str) -> crate::keys::KeyValue {
    parse_text(KeyType::TimestampTz, s, TimeZoneRule::Utc).unwrap()
}

fn month(m: u32) -> Option<KeyPredicate> {
    let lo = ts(&format!("2024-{m:02}-01 00:00:00+00"));
    let hi = ts(&format!("2024-{:02}-01 00:00:00+00", m + 1));
    Some(KeyPredicate {
        values: KeySet::from(RangeSet::from_intervals(
            Interval::new(Bound::Included(lo), Bound::Excluded(hi))
                .into_iter()
                .collect(),
        )),
        null: Truth::NULL,
        exact: true,
    })
}

fn table(schema: &str, name: &str) -> TableName {
    TableName {
        schema: schema.into(),
        name: name.into(),
    }
}

fn catalog(parent_may_hold_rows: bool) -> Catalog {
    catalog_with(parent_may_hold_rows, |_| {})
}

fn catalog_with(parent_may_hold_rows: bool, adjust: impl FnOnce(&mut Hierarchy)) -> Catalog {
    let children = (1..=3)
        .map(|m| Child {
            table: table("public", &format!("logs_2024_{m:02}")),
            domain: month(m),
            has_children: false,
            same_columns: m != 3,
            same_defaults: true,
            boxes: None,
        })
        .collect();
    let key = KeySpec {
        column: "created_at".into(),
        ty: KeyType::TimestampTz,
        text_ranges: false,
        typmod: crate::keys::TypMod::None,
    };
    let mut h = Hierarchy::new(
        table("public", "logs"),
        HierarchyKind::Inheritance,
        Some(key),
        vec!["id".into(), "created_at".into(), "message".into()],
        children,
        parent_may_hold_rows,
    );
    // The refusal policy, so tests see the proxy's own decisions.
    h.on_unmatched = crate::catalog::Unmatched::Error;
    adjust(&mut h);
    let mut c = Catalog::default();
    c.hierarchies.insert(h.parent.clone(), Arc::new(h));
    c
}

fn run(sql: &str, parent_rows: bool) -> Route {
    let path = vec!["$user".to_owned(), "public".to_owned()];
    let session = SessionView::new(&path, "app", TimeZoneRule::Utc);
    let route = route(sql, &catalog(parent_rows), &session);
    if let Route::Rewrite { sql: out, .. } = &route {
        // sqlparser misreads ONLY (see the design notes); PostgreSQL accepts it.
        let checkable = out.replace("ONLY ", "");
        assert!(
            Parser::parse_sql(&PostgreSqlDialect {}, &checkable).is_ok(),
            "rewrite does not parse: {out}"
        );
    }
    route
}

fn rewritten(sql: &str) -> String {
    match run(sql, false) {
        Route::Rewrite { sql, .. } => sql,
        other => panic!("{sql}: expected a rewrite, got {other:?}"),
    }
}

fn passed(sql: &str) -> PassReason {
    match run(sql, false) {
        Route::Passthrough(r) => r,
        other => panic!("{sql}: expected passthrough, got {other:?}"),
    }
}

const JAN15: &str = "'2024-01-15 10:00:00+00'";

#[test]
fn point_select_goes_to_one_child() {
    assert_eq!(
        rewritten(&format!("SELECT * FROM logs WHERE created_at = {JAN15}")),
        format!("SELECT * FROM public.logs_2024_01 AS logs WHERE created_at = {JAN15}")
    );
    // The user's alias, qualification and reversed operands.
    assert_eq!(
        rewritten(&format!("select l.id from public.logs l where {JAN15} = l.created_at")),
        format!("select l.id from public.logs_2024_01 l where {JAN15} = l.created_at")
    );
}

#[test]
fn parent_rows_are_kept_unless_proven_empty() {
    let Route::Rewrite { sql, targets } = run(&format!("SELECT id FROM logs WHERE created_at = {JAN15}"), true) else {
        panic!("rewrite expected")
    };
    assert_eq!(
        sql,
        format!(
            "SELECT id FROM (SELECT \"id\", \"created_at\", \"message\" FROM ONLY public.logs UNION ALL \
             SELECT \"id\", \"created_at\", \"message\" FROM ONLY public.logs_2024_01) AS logs WHERE created_at = {JAN15}"
        )
    );
    assert!(targets[0].parent_included);
}

#[test]
fn ranges_union_several_children() {
    let sql =
        rewritten("SELECT count(*) FROM logs x WHERE x.created_at >= '2024-01-20' AND x.created_at < '2024-02-10'");
    assert!(sql.contains("FROM ONLY public.logs_2024_01 UNION ALL SELECT"), "{sql}");
    assert!(sql.contains("FROM ONLY public.logs_2024_02) x WHERE"), "{sql}");
    assert!(!sql.contains("logs_2024_03"));
    // BETWEEN, IN and NOT BETWEEN.
    assert!(
        rewritten("SELECT 1 FROM logs WHERE created_at BETWEEN '2024-03-01' AND '2024-03-02'").contains("logs_2024_03")
    );
    let sql = rewritten("SELECT 1 FROM logs WHERE created_at IN ('2024-01-02', '2024-03-02')");
    assert!(sql.contains("logs_2024_01") && sql.contains("logs_2024_03") && !sql.contains("logs_2024_02"));
    let sql =
        rewritten("SELECT 1 FROM logs WHERE created_at NOT BETWEEN '2024-01-01' AND '2024-02-29 23:59:59.999999'");
    assert!(sql.contains("logs_2024_03") && !sql.contains("logs_2024_01"), "{sql}");
}

#[test]
fn a_child_with_other_columns_is_read_through_the_parent_columns() {
    let sql = rewritten("SELECT * FROM logs WHERE created_at = '2024-03-05'");
    assert_eq!(
        sql,
        "SELECT * FROM (SELECT \"id\", \"created_at\", \"message\" FROM ONLY public.logs_2024_03) AS logs WHERE created_at = '2024-03-05'"
    );
    assert_eq!(
        passed("UPDATE logs SET message = 'x' WHERE created_at = '2024-03-05'"),
        PassReason::ChildColumns
    );
}

#[test]
fn no_match_reads_the_empty_parent() {
    assert_eq!(
        rewritten("SELECT id FROM logs WHERE created_at < '2000-01-01'"),
        "SELECT id FROM ONLY public.logs AS logs WHERE created_at < '2000-01-01'"
    );
}

#[test]
fn what_passes_through() {
    assert_eq!(passed("SELECT 1"), PassReason::NoParent);
    assert_eq!(passed("SELECT * FROM logs"), PassReason::NotNarrowed);
    assert_eq!(
        passed("SELECT * FROM logs WHERE created_at = now()"),
        PassReason::NotNarrowed
    );
    assert_eq!(
        passed(&format!("SELECT * FROM logs WHERE created_at = {JAN15} OR id = 1")),
        PassReason::NotNarrowed
    );
    assert_eq!(
        passed(&format!("SELECT * FROM ONLY logs WHERE created_at = {JAN15}")),
        PassReason::Only
    );
    assert_eq!(passed("SELEC * FROM logs"), PassReason::ParseError);
    assert_eq!(passed("SELECT 1 FROM logs; SELECT 2"), PassReason::MultipleStatements);
    assert_eq!(
        passed("CREATE TABLE logs_x () INHERITS (logs)"),
        PassReason::UnsupportedStatement
    );
    assert_eq!(
        passed("SELECT row_to_json(l) FROM logs l WHERE l.created_at > '2024-03-02'"),
        PassReason::WholeRow
    );
    assert_eq!(
        passed("SELECT tableoid::regclass FROM logs WHERE created_at > '2024-02-15'"),
        PassReason::SystemColumn
    );
    assert_eq!(
        passed("SELECT * FROM logs WHERE created_at > '2024-02-15' FOR UPDATE"),
        PassReason::LockingMultiChild
    );
    assert_eq!(
        passed("SELECT public.logs.id FROM public.logs WHERE created_at = '2024-01-02'"),
        PassReason::QualifiedReference
    );
    // Renamed columns: the key can't be recognised, so nothing is narrowed.
    assert_eq!(
        passed("SELECT * FROM logs AS l(a, created_at) WHERE created_at = '2024-01-02'"),
        PassReason::NotNarrowed
    );
    // Not on the search path.
    assert_eq!(
        passed("SELECT * FROM other.logs WHERE created_at = '2024-01-02'"),
        PassReason::NoParent
    );
}

#[test]
fn subqueries_ctes_and_joins() {
    let sql = rewritten(&format!(
        "WITH r AS (SELECT * FROM logs WHERE created_at = {JAN15}) SELECT * FROM r"
    ));
    assert!(sql.contains("FROM public.logs_2024_01 AS logs WHERE"), "{sql}");
    let sql = rewritten(&format!(
        "SELECT * FROM (SELECT id FROM logs WHERE created_at = {JAN15}) s"
    ));
    assert!(sql.contains("public.logs_2024_01 AS logs"), "{sql}");
    // Inner join ON narrows; the WHERE of the outer scope narrows too.
    let sql = rewritten(&format!(
        "SELECT * FROM users u JOIN logs l ON l.created_at = {JAN15} AND l.id = u.id"
    ));
    assert!(sql.contains("JOIN public.logs_2024_01 l ON"), "{sql}");
    // The NULL-extended side of a LEFT JOIN: ON narrows, but a WHERE that
    // NULL rows can pass does not.
    let sql = rewritten(&format!(
        "SELECT * FROM users u LEFT JOIN logs l ON l.id = u.id AND l.created_at = {JAN15}"
    ));
    assert!(sql.contains("LEFT JOIN public.logs_2024_01 l"), "{sql}");
    assert_eq!(
        passed(&format!(
            "SELECT * FROM users u LEFT JOIN logs l ON l.id = u.id WHERE l.created_at = {JAN15} OR l.created_at IS NULL"
        )),
        PassReason::NotNarrowed
    );
    let sql = rewritten(&format!(
        "SELECT * FROM users u LEFT JOIN logs l ON l.id = u.id WHERE l.created_at = {JAN15}"
    ));
    assert!(sql.contains("LEFT JOIN public.logs_2024_01 l"), "{sql}");
    // The preserved side is not narrowed by its ON condition.
    assert_eq!(
        passed(&format!(
            "SELECT * FROM logs l LEFT JOIN users u ON l.created_at = {JAN15}"
        )),
        PassReason::NotNarrowed
    );
}

#[test]
fn update_and_delete_targets() {
    assert_eq!(
        rewritten(&format!(
            "UPDATE logs SET message = 'm' WHERE created_at = {JAN15} RETURNING id"
        )),
        format!("UPDATE public.logs_2024_01 AS logs SET message = 'm' WHERE created_at = {JAN15} RETURNING id")
    );
    assert_eq!(
        rewritten(&format!(
            "DELETE FROM logs l USING users u WHERE l.id = u.id AND l.created_at = {JAN15}"
        )),
        format!("DELETE FROM public.logs_2024_01 l USING users u WHERE l.id = u.id AND l.created_at = {JAN15}")
    );
    assert_eq!(
        passed("DELETE FROM logs WHERE created_at > '2024-02-15'"),
        PassReason::ModifyMultiChild
    );
    assert_eq!(
        passed(&format!(
            "UPDATE logs SET created_at = '2024-02-02' WHERE created_at = {JAN15}"
        )),
        PassReason::UpdateKey
    );
}

#[test]
fn inserts() {
    assert_eq!(
        rewritten(&format!("INSERT INTO logs (id, created_at) VALUES (1, {JAN15}), (2, '2024-01-16') RETURNING *")),
        format!("INSERT INTO public.logs_2024_01 AS logs (id, created_at) VALUES (1, {JAN15}), (2, '2024-01-16') RETURNING *")
    );
    assert_eq!(
        rewritten(&format!("insert into logs values (1, {JAN15}, 'hi')")),
        format!(
            "insert into public.logs_2024_01 AS logs (\"id\", \"created_at\", \"message\") values (1, {JAN15}, 'hi')"
        )
    );
    assert_eq!(
        rewritten(&format!("INSERT INTO logs AS x VALUES (1, {JAN15}, 'hi') ON CONFLICT DO NOTHING")),
        format!(
            "INSERT INTO public.logs_2024_01 AS x (\"id\", \"created_at\", \"message\") VALUES (1, {JAN15}, 'hi') ON CONFLICT DO NOTHING"
        )
    );
    match run("INSERT INTO logs (id, created_at) VALUES (1, '2030-01-01')", false) {
        Route::Reject { code, message, .. } => {
            assert_eq!(code, "23514");
            assert!(
                message.contains("public.logs") && message.contains("created_at = 2030-01-01 00:00:00+00"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        run("INSERT INTO logs (id, created_at) VALUES (1, NULL)", false),
        Route::Reject { .. }
    ));
    match run(
        "INSERT INTO logs (id, created_at) VALUES (1, '2024-01-02'), (2, '2024-02-02'), (3, '2024-01-03')",
        false,
    ) {
        Route::SplitInsert {
            statements,
            rows,
            targets,
        } => {
            let sql = super::join_statements(&statements);
            assert_eq!(rows, vec![vec![0, 2], vec![1]]);
            assert_eq!(
                sql,
                "INSERT INTO public.logs_2024_01 AS logs (id, created_at) VALUES (1, '2024-01-02'), (3, '2024-01-03');\n\
                 INSERT INTO public.logs_2024_02 AS logs (id, created_at) VALUES (2, '2024-02-02')"
            );
            assert_eq!(targets[0].children.len(), 2);
        }
        other => panic!("{other:?}"),
    }
    // RETURNING over several children is split too; the session puts the
    // rows back in VALUES order.
    assert!(matches!(
        run(
            "INSERT INTO logs (id, created_at) VALUES (1, '2024-01-02'), (2, '2024-02-02') RETURNING id",
            false
        ),
        Route::SplitInsert { .. }
    ));
    assert_eq!(
        passed("INSERT INTO logs (id, created_at) VALUES (1, now())"),
        PassReason::InsertNonConstant
    );
    assert_eq!(
        passed("INSERT INTO logs SELECT * FROM staging"),
        PassReason::InsertNotValues
    );
    assert_eq!(
        passed("INSERT INTO logs (id, created_at) VALUES (1, '2024-03-02') RETURNING *"),
        PassReason::ChildColumns
    );
    // INSERT into another table reading a parent: the read is narrowed.
    let sql = rewritten(&format!(
        "INSERT INTO archive SELECT * FROM logs WHERE created_at = {JAN15}"
    ));
    assert!(sql.contains("FROM public.logs_2024_01 AS logs"), "{sql}");
}

#[test]
fn session_time_zone_reads_local_literals() {
    let path = vec!["public".to_owned()];
    let tokyo = TimeZoneRule::from_setting("Asia/Tokyo").unwrap();
    let session = SessionView::new(&path, "app", tokyo);
    // 2024-02-01 08:00 in Tokyo is still January in UTC.
    let Route::Rewrite { sql, .. } = route(
        "SELECT * FROM logs WHERE created_at = '2024-02-01 08:00:00'",
        &catalog(false),
        &session,
    ) else {
        panic!("rewrite expected")
    };
    assert!(sql.contains("logs_2024_01"), "{sql}");
}

fn run_on(sql: &str, catalog: &Catalog) -> Route {
    let path = vec!["public".to_owned()];
    let session = SessionView::new(&path, "app", TimeZoneRule::Utc);
    route(sql, catalog, &session)
}

#[test]
fn omitted_or_default_key_uses_a_constant_default() {
    let feb = catalog_with(false, |h| h.key_default = Some(Some(ts("2024-02-10 00:00:00+00"))));
    for sql in [
        "INSERT INTO logs (id, message) VALUES (1, 'a')",
        "INSERT INTO logs (id, created_at, message) VALUES (1, DEFAULT, 'a'), (2, default, 'b')",
    ] {
        match run_on(sql, &feb) {
            Route::Rewrite { sql, .. } => assert!(sql.starts_with("INSERT INTO public.logs_2024_02 AS logs"), "{sql}"),
            other => panic!("{sql}: {other:?}"),
        }
    }
    // No default: the key is NULL, which no legacy child accepts.
    assert!(matches!(
        run_on("INSERT INTO logs (id) VALUES (1)", &catalog(false)),
        Route::Reject { code: "23514", .. }
    ));
    // A default that is not a constant (now()): the trigger decides.
    let volatile = catalog_with(false, |h| h.key_default = None);
    assert_eq!(
        run_on("INSERT INTO logs (id) VALUES (1)", &volatile),
        Route::Passthrough(PassReason::InsertKeyOmitted)
    );
    // A child whose defaults differ would fill omitted columns differently.
    let differing = catalog_with(false, |h| {
        h.key_default = Some(Some(ts("2024-02-10 00:00:00+00")));
        h.children[1].same_defaults = false;
    });
    assert_eq!(
        run_on("INSERT INTO logs (id, message) VALUES (1, 'a')", &differing),
        Route::Passthrough(PassReason::ChildDefaults)
    );
    // ... but a statement that names every column is unaffected.
    assert!(matches!(
        run_on(
            "INSERT INTO logs (id, created_at, message) VALUES (1, '2024-02-02', 'a')",
            &differing
        ),
        Route::Rewrite { .. }
    ));
}

#[test]
fn unmatched_rows_follow_the_policy() {
    let to_parent = catalog_with(true, |h| h.on_unmatched = crate::catalog::Unmatched::Parent);
    match run_on(
        "INSERT INTO logs (id, created_at) VALUES (1, '2024-01-02'), (2, '2031-01-01'), (3, NULL)",
        &to_parent,
    ) {
        Route::SplitInsert {
            statements,
            rows,
            targets,
        } => {
            let sql = super::join_statements(&statements);
            assert_eq!(
                sql,
                "INSERT INTO public.logs_2024_01 AS logs (id, created_at) VALUES (1, '2024-01-02');\n\
                 INSERT INTO logs (id, created_at) VALUES (2, '2031-01-01'), (3, NULL)"
            );
            assert_eq!(rows, vec![vec![0], vec![1, 2]]);
            assert!(targets[0].parent_included);
        }
        other => panic!("{other:?}"),
    }
    match run_on(
        "INSERT INTO logs (id, created_at) VALUES (9, '2031-01-01')",
        &catalog(true),
    ) {
        Route::Reject { code, message, .. } => {
            assert_eq!(code, "23514");
            assert!(message.contains("2031-01-01 00:00:00+00"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    // The default leaves it to PostgreSQL (the trigger, or the parent).
    let forward = catalog_with(true, |h| h.on_unmatched = crate::catalog::Unmatched::Forward);
    assert_eq!(
        run_on(
            "INSERT INTO logs (id, created_at) VALUES (1, '2024-01-02'), (9, '2031-01-01')",
            &forward
        ),
        Route::Passthrough(PassReason::NoChild)
    );
}

/// Routes `sql` both ways: through the full parser, and through `route`,
/// which reads bulk INSERTs of constants without it.
fn both_readers(sql: &str, catalog: &Catalog, tz: TimeZoneRule) -> (Route, Route, bool) {
    let path = vec!["public".to_owned()];
    let session = SessionView::new(&path, "app", tz);
    let scanned = insert::route_values_insert(sql, &Walker::new(catalog, &session, &[])).is_some();
    let parsed = route_parsed(sql, &Parsed::new(sql), catalog, &session);
    (route(sql, catalog, &session), parsed, scanned)
}

#[test]
fn the_values_scanner_and_the_parser_agree() {
    let plain = catalog(false);
    let to_parent = catalog_with(true, |h| h.on_unmatched = crate::catalog::Unmatched::Parent);
    let defaulted = catalog_with(false, |h| {
        h.key_default = Some(Some(ts("2024-02-10 00:00:00+00")));
        h.children[0].same_defaults = false;
    });
    let tokyo = TimeZoneRule::from_setting("Asia/Tokyo").unwrap();
    // (statement, read by the scanner?)
    let cases = [
        ("INSERT INTO logs (id, created_at, message) VALUES (1, '2024-01-02', 'a'), (2, '2024-02-02', 'b''c'), (3, '2024-01-03', NULL);", true),
        ("insert into public.logs values (1, '2024-01-15 10:00:00+00', 'hi')", true),
        ("INSERT INTO \"logs\" (\"id\", created_at) VALUES (7, '2024-02-01 08:00:00')", true),
        ("INSERT INTO logs VALUES (1, '2024-01-15')", true),
        ("INSERT INTO logs VALUES (1)", true),
        ("INSERT INTO logs (id, message) VALUES (1, 'x'), (2, DEFAULT)", true),
        ("INSERT INTO logs (id, created_at) VALUES (1, DEFAULT)", true),
        ("INSERT INTO logs (id, created_at, message) VALUES (1, '2024-01-02', DEFAULT)", true),
        ("INSERT INTO logs (id, created_at) VALUES (1, '2030-01-01')", true),
        ("INSERT INTO logs (id, created_at) VALUES (1, NULL), (2, '2024-01-01')", true),
        ("INSERT INTO logs (id, created_at) VALUES (1, 'not a time')", true),
        ("INSERT INTO logs (id, created_at) VALUES (1, 20240101)", true),
        ("INSERT INTO logs (id, created_at) VALUES (1, '2024-01-05'::date), (2, '2024-03-01 00:00:00+00'::timestamptz)", true),
        ("INSERT INTO logs (id, created_at) VALUES (1, '2024-01-05'::text)", true),
        ("INSERT INTO logs (id, created_at) VALUES (1, '2024-01-05 10:00'::TIMESTAMP), (2, '2024-02-05'::varchar)", true),
        ("INSERT INTO logs (id, created_at) VALUES (1, NULL::timestamptz), (2, NULL::float8)", true),
        ("INSERT INTO logs (id, created_at) VALUES (1, 20240105::int8), (2, '2024-03-01'::date::timestamptz)", true),
        ("INSERT INTO logs (id, created_at) VALUES (1, '2024-01-05'::float8), (2, -5::int)", true),
        ("INSERT INTO logs (id, created_at) VALUES (1, '2024-02-05' :: timestamptz)", true),
        ("INSERT INTO logs (id, created_at, message) VALUES (-1, '2024-01-05', 'ünïcødé ☃'), (2.5e1, '2024-02-05', '日本')", true),
        ("INSERT INTO logs\n  (id, created_at)\nVALUES\n  (1, '2024-01-05'),\n  (2, '2024-03-05')\n;\n", true),
        ("INSERT INTO logs (id, created_at) VALUES (1, '2024-01-05'), (2)", false),
        ("INSERT INTO logs (id, created_at) VALUES (1)", false),
        ("INSERT INTO logs (id, created_at, message) VALUES (1, '2024-01-05')", false),
        ("INSERT INTO logs (id, created_at) VALUES (1, '2024-01-05') RETURNING *", false),
        ("INSERT INTO logs AS l (id, created_at) VALUES (1, '2024-01-05')", false),
        ("INSERT INTO logs (id, created_at) VALUES (1, now())", false),
        ("INSERT INTO logs (id, created_at) VALUES (1, '2024-01-05') -- note", false),
        ("INSERT INTO logs (id, created_at) VALUES (1, E'2024-01-05')", false),
        ("INSERT INTO archive (id, created_at) VALUES (1, 'logs')", false),
    ];
    for (sql, scanned) in cases {
        for (catalog, tz) in [
            (&plain, TimeZoneRule::Utc),
            (&to_parent, tokyo),
            (&defaulted, TimeZoneRule::Utc),
        ] {
            let (fast, slow, was_scanned) = both_readers(sql, catalog, tz);
            assert_eq!(fast, slow, "{sql}");
            assert_eq!(was_scanned, scanned, "{sql}");
        }
    }
}

#[test]
fn rows_shorter_than_the_columns_spell_only_the_columns_they_fill() {
    assert_eq!(
        rewritten("INSERT INTO logs VALUES (1, '2024-01-15')"),
        "INSERT INTO public.logs_2024_01 AS logs (\"id\", \"created_at\") VALUES (1, '2024-01-15')"
    );
    // The omitted message column takes the child's default.
    let differing = catalog_with(false, |h| h.children[0].same_defaults = false);
    assert_eq!(
        run_on("INSERT INTO logs VALUES (1, '2024-01-15')", &differing),
        Route::Passthrough(PassReason::ChildDefaults)
    );
    // Rows of different lengths, or narrower than the columns listed, are
    // PostgreSQL's to refuse.
    for sql in [
        "INSERT INTO logs VALUES (1, '2024-01-15'), (2, '2024-01-16', 'x')",
        "INSERT INTO logs (id, created_at, message) VALUES (1, '2024-01-15')",
    ] {
        assert_eq!(passed(sql), PassReason::InsertNotValues, "{sql}");
    }
}
