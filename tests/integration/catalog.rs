//! Catalog discovery against real schemas, legacy and declarative.

use partproxy::backend::BackendTarget;
use partproxy::catalog::{load, HierarchyKind, TableName, ValueRoute};
use partproxy::keys::value::parse_text;
use partproxy::keys::{KeyPredicate, KeyType, KeyValue, TimeZoneRule};

use crate::support::{self, Cluster};

const SCHEMA: &str = r#"
SET TimeZone = 'Asia/Tokyo';
-- Legacy monthly logs: constraints written in a Tokyo session.
CREATE TABLE logs (id bigserial, created_at timestamptz NOT NULL, level text, message text);
CREATE TABLE logs_2024_01 (CHECK (created_at >= '2024-01-01' AND created_at < '2024-02-01')) INHERITS (logs);
CREATE TABLE logs_2024_02 (CHECK (created_at >= '2024-02-01' AND created_at < '2024-03-01')) INHERITS (logs);
CREATE TABLE logs_2024_03 (CHECK (created_at >= '2024-03-01' AND created_at < '2024-04-01')) INHERITS (logs);
RESET TimeZone;
-- Quoted names in another schema, integer ranges with BETWEEN and a reversed operand.
CREATE SCHEMA "Sales";
CREATE TABLE "Sales"."Orders" (order_id int NOT NULL, amount numeric);
CREATE TABLE "Sales"."Orders-low" (CHECK (order_id BETWEEN 0 AND 999)) INHERITS ("Sales"."Orders");
CREATE TABLE "Sales"."Orders-high" (CHECK (1000 <= order_id AND order_id < 2000)) INHERITS ("Sales"."Orders");
-- Modulo buckets, one written with mod().
CREATE TABLE buckets (id bigint, v text);
CREATE TABLE buckets_0 (CHECK ((id % 4) = 0)) INHERITS (buckets);
CREATE TABLE buckets_1 (CHECK ((id % 4) = 1)) INHERITS (buckets);
CREATE TABLE buckets_2 (CHECK (mod(id, 4) = 2)) INHERITS (buckets);
CREATE TABLE buckets_3 (CHECK ((id % 4) = 3)) INHERITS (buckets);
-- A list on varchar, a child with an extra column, overlapping children.
CREATE TABLE regions (region varchar(10), n int);
CREATE TABLE regions_eu (CHECK (region IN ('de', 'fr'))) INHERITS (regions);
CREATE TABLE regions_us (CHECK (region = 'us'), extra text) INHERITS (regions);
CREATE TABLE regions_fr_too (CHECK (region = 'fr')) INHERITS (regions);
-- Two levels, and a parent proven empty.
CREATE TABLE events (id int, at date);
ALTER TABLE events ADD CONSTRAINT events_empty CHECK (false) NO INHERIT;
CREATE TABLE events_2024 (CHECK (at >= '2024-01-01' AND at < '2025-01-01')) INHERITS (events);
CREATE TABLE events_2024_h1 (CHECK (at < '2024-07-01')) INHERITS (events_2024);
CREATE TABLE events_2024_h2 (CHECK (at >= '2024-07-01')) INHERITS (events_2024);
-- uuid ranges.
CREATE TABLE users (user_id uuid, name text);
CREATE TABLE users_a (CHECK (user_id < '80000000-0000-0000-0000-000000000000')) INHERITS (users);
CREATE TABLE users_b (CHECK (user_id >= '80000000-0000-0000-0000-000000000000')) INHERITS (users);
-- Declarative twins: range with a default, list, hash.
CREATE TABLE dlogs (id bigint, day date) PARTITION BY RANGE (day);
CREATE TABLE dlogs_2024_01 PARTITION OF dlogs FOR VALUES FROM ('2024-01-01') TO ('2024-02-01');
CREATE TABLE dlogs_2024_02 PARTITION OF dlogs FOR VALUES FROM ('2024-02-01') TO ('2024-03-01');
CREATE TABLE dlogs_default PARTITION OF dlogs DEFAULT;
CREATE TABLE dregions (region text, n int) PARTITION BY LIST (region);
CREATE TABLE dregions_eu PARTITION OF dregions FOR VALUES IN ('de', 'fr', NULL);
CREATE TABLE dregions_us PARTITION OF dregions FOR VALUES IN ('us');
CREATE TABLE dhash (id int) PARTITION BY HASH (id);
CREATE TABLE dhash_0 PARTITION OF dhash FOR VALUES WITH (modulus 2, remainder 0);
CREATE TABLE dhash_1 PARTITION OF dhash FOR VALUES WITH (modulus 2, remainder 1);
"#;

fn public(name: &str) -> TableName {
    TableName {
        schema: "public".into(),
        name: name.into(),
    }
}

fn child_name(h: &partproxy::catalog::Hierarchy, route: ValueRoute) -> String {
    match route {
        ValueRoute::Child(i) => h.children[i].table.name.clone(),
        other => format!("{other:?}"),
    }
}

#[tokio::test]
async fn discovers_legacy_and_declarative_hierarchies() {
    let cluster = Cluster::shared();
    cluster.psql_admin("DROP DATABASE IF EXISTS catalog_test");
    cluster.psql_admin("CREATE DATABASE catalog_test");
    let target = BackendTarget {
        host: "127.0.0.1".into(),
        port: cluster.port,
        dbname: "catalog_test".into(),
        user: "postgres".into(),
        password: Some(support::PASSWORD.into()),
    };
    let client = load::connect(&target).await.unwrap();
    client.batch_execute(SCHEMA).await.unwrap();
    let catalog = load::load(&client, &[]).await.unwrap();

    let logs = catalog.get(&public("logs")).unwrap();
    let key = logs.key.as_ref().unwrap();
    assert_eq!((key.column.as_str(), key.ty), ("created_at", KeyType::TimestampTz));
    assert_eq!(logs.children.len(), 3);
    assert!(logs.parent_may_hold_rows);
    let ts = |s: &str| parse_text(KeyType::TimestampTz, s, TimeZoneRule::Utc).unwrap();
    // February began at 2024-01-31 15:00 UTC in Tokyo, where the constraints were written.
    assert_eq!(
        child_name(logs, logs.route_value(Some(&ts("2024-01-31 16:00:00+00")))),
        "logs_2024_02"
    );
    assert_eq!(
        child_name(logs, logs.route_value(Some(&ts("2024-01-31 14:59:59+00")))),
        "logs_2024_01"
    );
    assert_eq!(
        logs.route_value(Some(&ts("2025-01-01 00:00:00+00"))),
        ValueRoute::NoChild
    );

    let orders = catalog
        .get(&TableName {
            schema: "Sales".into(),
            name: "Orders".into(),
        })
        .unwrap();
    assert_eq!(orders.key.as_ref().unwrap().column, "order_id");
    assert_eq!(
        child_name(orders, orders.route_value(Some(&KeyValue::Int(999)))),
        "Orders-low"
    );
    assert_eq!(
        child_name(orders, orders.route_value(Some(&KeyValue::Int(1000)))),
        "Orders-high"
    );
    assert_eq!(orders.children[0].table.quoted(), "\"Sales\".\"Orders-low\"");
    assert!(matches!(
        catalog.resolve("Orders", ["public", "Sales"]),
        partproxy::catalog::Resolved::Parent(_)
    ));

    let buckets = catalog.get(&public("buckets")).unwrap();
    for (v, want) in [(8, "buckets_0"), (9, "buckets_1"), (10, "buckets_2"), (7, "buckets_3")] {
        assert_eq!(child_name(buckets, buckets.route_value(Some(&KeyValue::Int(v)))), want);
    }
    // -3 % 4 is -3 in PostgreSQL: no bucket takes it.
    assert_eq!(buckets.route_value(Some(&KeyValue::Int(-3))), ValueRoute::NoChild);

    let regions = catalog.get(&public("regions")).unwrap();
    let text = |s: &str| KeyValue::Text(s.into());
    assert_eq!(
        child_name(regions, regions.route_value(Some(&text("de")))),
        "regions_eu"
    );
    assert!(matches!(
        regions.route_value(Some(&text("fr"))),
        ValueRoute::Ambiguous(_)
    ));
    assert!(!regions.overlaps.is_empty(), "overlap reported");
    assert_eq!(regions.columns, ["region", "n"]);

    let events = catalog.get(&public("events")).unwrap();
    assert!(
        !events.parent_may_hold_rows,
        "CHECK (false) NO INHERIT proves the parent empty"
    );
    assert!(events.children[0].has_children);
    let mid = catalog.get(&public("events_2024")).unwrap();
    let date = |s: &str| parse_text(KeyType::Date, s, TimeZoneRule::Utc).unwrap();
    assert_eq!(
        child_name(mid, mid.route_value(Some(&date("2024-07-01")))),
        "events_2024_h2"
    );
    // Inherited constraints narrow the second level too.
    assert_eq!(mid.route_value(Some(&date("2023-12-31"))), ValueRoute::NoChild);

    let users = catalog.get(&public("users")).unwrap();
    let uuid = |s: &str| parse_text(KeyType::Uuid, s, TimeZoneRule::Utc).unwrap();
    assert_eq!(
        child_name(
            users,
            users.route_value(Some(&uuid("7fffffff-ffff-ffff-ffff-ffffffffffff")))
        ),
        "users_a"
    );
    assert_eq!(
        child_name(
            users,
            users.route_value(Some(&uuid("80000000-0000-0000-0000-000000000000")))
        ),
        "users_b"
    );

    let dlogs = catalog.get(&public("dlogs")).unwrap();
    assert_eq!(dlogs.kind, HierarchyKind::Declarative);
    assert!(!dlogs.parent_may_hold_rows);
    assert_eq!(
        child_name(dlogs, dlogs.route_value(Some(&date("2024-02-29")))),
        "dlogs_2024_02"
    );
    assert_eq!(
        child_name(dlogs, dlogs.route_value(Some(&date("2030-01-01")))),
        "dlogs_default"
    );
    let dregions = catalog.get(&public("dregions")).unwrap();
    let is_null = KeyPredicate {
        values: partproxy::keys::KeySet::empty(),
        null: partproxy::keys::Truth::TRUE,
        exact: true,
    };
    let picked: Vec<_> = dregions
        .select(std::slice::from_ref(&is_null))
        .iter()
        .map(|i| dregions.children[*i].table.name.clone())
        .collect();
    assert_eq!(picked, ["dregions_eu"]);
    let dhash = catalog.get(&public("dhash")).unwrap();
    assert!(
        dhash.children.iter().all(|c| c.domain.is_none()),
        "hash partitions are never pruned"
    );
    assert_eq!(catalog.hierarchies.len(), 10);
}
