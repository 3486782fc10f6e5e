//! Differential test: the same seeded stream of random statements runs
//! straight against PostgreSQL (database `diff_direct`, where legacy parents
//! route rows with their triggers) and through the proxy (database
//! `diff_proxy`, an identical copy). Results, command tags, SQLSTATEs and,
//! every so often, the full contents of every table with the child each row
//! sits in must be identical. Set DIFF_SEED to replay a run and
//! DIFF_STATEMENTS to change its length.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use tokio_postgres::{Client, SimpleQueryMessage};

use crate::support::{self, Cluster, ProxySettings, TestProxy};

/// Children of `user_events`, as in the seed schema.
const UUID_CHILDREN: u32 = 2048;

fn schema() -> String {
    let raise = "RAISE EXCEPTION 'no child for %', NEW USING ERRCODE = 'check_violation'";
    format!(
        r#"
-- Monthly timestamptz children, routed by a dynamic trigger.
CREATE TABLE logs (id bigint, created_at timestamptz, note text);
DO $$ BEGIN FOR m IN 1..12 LOOP
  EXECUTE format('CREATE TABLE logs_2024_%s (CHECK (created_at >= %L AND created_at < %L)) INHERITS (logs)',
    lpad(m::text, 2, '0'), make_timestamptz(2024, m, 1, 0, 0, 0, 'UTC'),
    make_timestamptz(2024, 1, 1, 0, 0, 0, 'UTC') + make_interval(months => m));
END LOOP; END $$;
CREATE FUNCTION logs_route() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
  IF NEW.created_at IS NULL OR NEW.created_at < '2024-01-01 00:00:00+00' OR NEW.created_at >= '2025-01-01 00:00:00+00' THEN {raise}; END IF;
  EXECUTE format('INSERT INTO %I SELECT ($1).*', 'logs_' || to_char(NEW.created_at AT TIME ZONE 'UTC', 'YYYY_MM')) USING NEW;
  RETURN NULL; END $$;
CREATE TRIGGER logs_route BEFORE INSERT ON logs FOR EACH ROW EXECUTE FUNCTION logs_route();

-- 2048 uuid-range children (the seed's user_events).
CREATE TABLE user_events (id bigint, user_id uuid, note text);
DO $$ DECLARE lo uuid; hi uuid; BEGIN FOR i IN 0..{last} LOOP
  lo := (lpad(to_hex(i * 2), 3, '0') || '00000-0000-0000-0000-000000000000')::uuid;
  hi := (lpad(to_hex(i * 2 + 2), 3, '0') || '00000-0000-0000-0000-000000000000')::uuid;
  IF i = {last} THEN
    EXECUTE format('CREATE TABLE user_events_%s (CHECK (user_id >= %L)) INHERITS (user_events)', i, lo);
  ELSE
    EXECUTE format('CREATE TABLE user_events_%s (CHECK (user_id >= %L AND user_id < %L)) INHERITS (user_events)', i, lo, hi);
  END IF;
END LOOP; END $$;
CREATE FUNCTION user_events_route() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
  IF NEW.user_id IS NULL THEN {raise}; END IF;
  EXECUTE format('INSERT INTO %I SELECT ($1).*',
    'user_events_' || (('x' || substr(NEW.user_id::text, 1, 3))::bit(12)::int >> 1)) USING NEW;
  RETURN NULL; END $$;
CREATE TRIGGER user_events_route BEFORE INSERT ON user_events FOR EACH ROW EXECUTE FUNCTION user_events_route();

-- Integer ranges; the parent holds rows of its own; one child has an extra column.
CREATE TABLE ranges (id bigint, k int, note text);
INSERT INTO ranges SELECT g, g - 60, 'parent' FROM generate_series(1, 50) g;
INSERT INTO ranges SELECT g, 10000 + g, 'parent' FROM generate_series(51, 80) g;
DO $$ BEGIN FOR i IN 0..8 LOOP
  EXECUTE format('CREATE TABLE ranges_%s (CHECK (k >= %s AND k < %s)) INHERITS (ranges)', i, i * 1000, i * 1000 + 1000);
END LOOP; END $$;
CREATE TABLE ranges_9 (extra text DEFAULT 'x', CHECK (9000 <= k AND 10000 > k)) INHERITS (ranges);
CREATE FUNCTION ranges_route() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
  IF NEW.k IS NULL OR NEW.k < 0 OR NEW.k >= 10000 THEN {raise}; END IF;
  EXECUTE format('INSERT INTO %I SELECT ($1).*', 'ranges_' || (NEW.k / 1000)) USING NEW;
  RETURN NULL; END $$;
CREATE TRIGGER ranges_route BEFORE INSERT ON ranges FOR EACH ROW EXECUTE FUNCTION ranges_route();

-- A list on text, with IN, = ANY and a (C-collation) range child.
CREATE TABLE regions (id bigint, region text, note text);
CREATE TABLE regions_eu (CHECK (region = 'eu')) INHERITS (regions);
CREATE TABLE regions_na (CHECK (region IN ('us', 'ca'))) INHERITS (regions);
CREATE TABLE regions_apac (CHECK (region = ANY (ARRAY['jp', 'au', 'sg']))) INHERITS (regions);
CREATE TABLE regions_n (CHECK (region >= 'n' AND region < 'p')) INHERITS (regions);
CREATE FUNCTION regions_route() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
  IF NEW.region = 'eu' THEN INSERT INTO regions_eu VALUES (NEW.*);
  ELSIF NEW.region IN ('us', 'ca') THEN INSERT INTO regions_na VALUES (NEW.*);
  ELSIF NEW.region IN ('jp', 'au', 'sg') THEN INSERT INTO regions_apac VALUES (NEW.*);
  ELSIF NEW.region >= 'n' AND NEW.region < 'p' THEN INSERT INTO regions_n VALUES (NEW.*);
  ELSE {raise}; END IF;
  RETURN NULL; END $$;
CREATE TRIGGER regions_route BEFORE INSERT ON regions FOR EACH ROW EXECUTE FUNCTION regions_route();

-- Modulo buckets (a legacy hash scheme), both spellings.
CREATE TABLE buckets (id bigint, note text);
CREATE TABLE buckets_0 (CHECK ((id % 4) = 0)) INHERITS (buckets);
CREATE TABLE buckets_1 (CHECK ((id % 4) = 1)) INHERITS (buckets);
CREATE TABLE buckets_2 (CHECK (mod(id, 4) = 2)) INHERITS (buckets);
CREATE TABLE buckets_3 (CHECK (mod(id, 4) = 3)) INHERITS (buckets);
CREATE FUNCTION buckets_route() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
  IF NEW.id IS NULL OR NEW.id % 4 < 0 THEN {raise}; END IF;
  EXECUTE format('INSERT INTO %I SELECT ($1).*', 'buckets_' || (NEW.id % 4)) USING NEW;
  RETURN NULL; END $$;
CREATE TRIGGER buckets_route BEFORE INSERT ON buckets FOR EACH ROW EXECUTE FUNCTION buckets_route();

-- Two levels: years, then half-years.
CREATE TABLE measures (id bigint, day date, note text);
CREATE TABLE measures_2023 (CHECK (day >= '2023-01-01' AND day < '2024-01-01')) INHERITS (measures);
CREATE TABLE measures_2024 (CHECK (day >= '2024-01-01' AND day < '2025-01-01')) INHERITS (measures);
CREATE TABLE measures_2023_h1 (CHECK (day >= '2023-01-01' AND day < '2023-07-01')) INHERITS (measures_2023);
CREATE TABLE measures_2023_h2 (CHECK (day >= '2023-07-01' AND day < '2024-01-01')) INHERITS (measures_2023);
CREATE TABLE measures_2024_h1 (CHECK (day >= '2024-01-01' AND day < '2024-07-01')) INHERITS (measures_2024);
CREATE TABLE measures_2024_h2 (CHECK (day >= '2024-07-01' AND day < '2025-01-01')) INHERITS (measures_2024);
CREATE FUNCTION measures_route() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
  IF NEW.day IS NULL OR NEW.day < '2023-01-01' OR NEW.day >= '2025-01-01' THEN {raise}; END IF;
  EXECUTE format('INSERT INTO %I SELECT ($1).*', 'measures_' || extract(year FROM NEW.day) || '_h'
    || CASE WHEN extract(month FROM NEW.day) <= 6 THEN 1 ELSE 2 END) USING NEW;
  RETURN NULL; END $$;
CREATE TRIGGER measures_route BEFORE INSERT ON measures FOR EACH ROW EXECUTE FUNCTION measures_route();

-- Declarative twins.
CREATE TABLE logs_decl (id bigint, created_at timestamptz, note text) PARTITION BY RANGE (created_at);
DO $$ BEGIN FOR m IN 1..12 LOOP
  EXECUTE format('CREATE TABLE logs_decl_%s PARTITION OF logs_decl FOR VALUES FROM (%L) TO (%L)',
    m, make_timestamptz(2024, m, 1, 0, 0, 0, 'UTC'),
    make_timestamptz(2024, 1, 1, 0, 0, 0, 'UTC') + make_interval(months => m));
END LOOP; END $$;
CREATE TABLE logs_decl_other PARTITION OF logs_decl DEFAULT;
CREATE TABLE regions_decl (id bigint, region text, note text) PARTITION BY LIST (region);
CREATE TABLE regions_decl_eu PARTITION OF regions_decl FOR VALUES IN ('eu');
CREATE TABLE regions_decl_na PARTITION OF regions_decl FOR VALUES IN ('us', 'ca');
CREATE TABLE regions_decl_null PARTITION OF regions_decl FOR VALUES IN (NULL);
"#,
        last = UUID_CHILDREN - 1
    )
}

/// A random key value as SQL text (`None` is NULL).
type KeyGen = fn(&mut StdRng) -> Option<String>;

struct Table {
    name: &'static str,
    key: &'static str,
    legacy: bool,
    /// Columns an INSERT lists, the key among them.
    insert_columns: &'static [&'static str],
    value: KeyGen,
    /// Relative frequency: direct statements on the 2048-child parent are slow.
    weight: u32,
    /// Self-joins take PostgreSQL minutes to plan over 2048 × 2048 children: skip them.
    self_joins: bool,
}

fn maybe_null(rng: &mut StdRng) -> bool {
    rng.gen_ratio(1, 25)
}

fn timestamp(rng: &mut StdRng) -> Option<String> {
    if maybe_null(rng) {
        return None;
    }
    let month = rng.gen_range(0..=13);
    let (year, month) = match month {
        0 => (2023, 12),
        13 => (2025, 1),
        m => (2024, m),
    };
    Some(match rng.gen_range(0..4) {
        // Exactly on a bound.
        0 => format!("'{year}-{month:02}-01 00:00:00+00'"),
        // Without an offset: read in the session's TimeZone (America/New_York).
        1 => format!(
            "'{year}-{month:02}-{:02} {:02}:{:02}:00'",
            rng.gen_range(1..=28),
            rng.gen_range(0..24),
            rng.gen_range(0..60)
        ),
        // Just past a bound.
        2 => format!("'{year}-{month:02}-01 00:00:00.000001+00'"),
        _ => format!(
            "'{year}-{month:02}-{:02} {:02}:00:00+{:02}'::timestamptz",
            rng.gen_range(1..=28),
            rng.gen_range(0..24),
            rng.gen_range(0..12)
        ),
    })
}

fn uuid(rng: &mut StdRng) -> Option<String> {
    if maybe_null(rng) {
        return None;
    }
    let child = u128::from(rng.gen_range(0..UUID_CHILDREN));
    let bound = child << 117;
    let v: u128 = match rng.gen_range(0..4) {
        0 => bound,
        1 => bound.wrapping_sub(1),
        2 => bound + 1,
        _ => bound | (rng.gen::<u128>() >> 11),
    };
    let h = format!("{v:032x}");
    Some(format!(
        "'{}-{}-{}-{}-{}'",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

fn int_range(rng: &mut StdRng) -> Option<String> {
    if maybe_null(rng) {
        return None;
    }
    let bound = rng.gen_range(-1..=11) * 1000;
    Some((bound + rng.gen_range(-2..=2) + if rng.gen_ratio(1, 3) { rng.gen_range(0..1000) } else { 0 }).to_string())
}

fn region(rng: &mut StdRng) -> Option<String> {
    if maybe_null(rng) {
        return None;
    }
    let all = [
        "eu", "us", "ca", "jp", "au", "sg", "n", "nz", "no", "oz", "p", "xx", "EU",
    ];
    all.choose(rng).map(|r| format!("'{r}'"))
}

fn bucket(rng: &mut StdRng) -> Option<String> {
    if maybe_null(rng) {
        return None;
    }
    Some(rng.gen_range(-9..200).to_string())
}

fn day(rng: &mut StdRng) -> Option<String> {
    if maybe_null(rng) {
        return None;
    }
    let year = rng.gen_range(2022..=2025);
    Some(match rng.gen_range(0..3) {
        0 => format!("'{year}-01-01'"),
        1 => format!("'{year}-07-01'"),
        _ => format!("'{year}-{:02}-{:02}'", rng.gen_range(1..=12), rng.gen_range(1..=28)),
    })
}

fn tables() -> Vec<Table> {
    vec![
        Table {
            name: "logs",
            key: "created_at",
            legacy: true,
            insert_columns: &["id", "created_at", "note"],
            value: timestamp,
            weight: 6,
            self_joins: true,
        },
        Table {
            name: "user_events",
            key: "user_id",
            legacy: true,
            insert_columns: &["id", "user_id", "note"],
            value: uuid,
            weight: 1,
            self_joins: false,
        },
        Table {
            name: "ranges",
            key: "k",
            legacy: true,
            insert_columns: &["id", "k", "note"],
            value: int_range,
            weight: 5,
            self_joins: true,
        },
        Table {
            name: "regions",
            key: "region",
            legacy: true,
            insert_columns: &["id", "region", "note"],
            value: region,
            weight: 4,
            self_joins: true,
        },
        Table {
            name: "buckets",
            key: "id",
            legacy: true,
            insert_columns: &["id", "note"],
            value: bucket,
            weight: 4,
            self_joins: true,
        },
        Table {
            name: "measures",
            key: "day",
            legacy: true,
            insert_columns: &["id", "day", "note"],
            value: day,
            weight: 4,
            self_joins: true,
        },
        Table {
            name: "logs_decl",
            key: "created_at",
            legacy: false,
            insert_columns: &["id", "created_at", "note"],
            value: timestamp,
            weight: 4,
            self_joins: true,
        },
        Table {
            name: "regions_decl",
            key: "region",
            legacy: false,
            insert_columns: &["id", "region", "note"],
            value: |rng| {
                let v = region(rng)?;
                Some(if v.contains("xx") || rng.gen_ratio(1, 2) {
                    v
                } else {
                    ["'eu'", "'us'", "'ca'"]
                        .choose(rng)
                        .map(|s| (*s).to_owned())
                        .unwrap_or(v)
                })
            },
            weight: 3,
            self_joins: true,
        },
    ]
}

fn sql_value(v: Option<String>) -> String {
    v.unwrap_or_else(|| "NULL".into())
}

/// A random predicate on the table's key (and sometimes other columns).
fn predicate(rng: &mut StdRng, t: &Table, col: &str, depth: u32) -> String {
    if depth < 2 && rng.gen_ratio(1, 3) {
        let a = predicate(rng, t, col, depth + 1);
        let b = predicate(rng, t, col, depth + 1);
        return match rng.gen_range(0..5) {
            0 | 1 => format!("({a} AND {b})"),
            2 | 3 => format!("({a} OR {b})"),
            _ => format!("NOT ({a})"),
        };
    }
    let v = |rng: &mut StdRng| sql_value((t.value)(rng));
    match rng.gen_range(0..12) {
        0..=3 => {
            let op = ["=", "=", "<>", "<", "<=", ">", ">="]
                .choose(rng)
                .copied()
                .unwrap_or("=");
            if rng.gen_ratio(1, 3) {
                let flipped = match op {
                    "<" => ">",
                    "<=" => ">=",
                    ">" => "<",
                    ">=" => "<=",
                    o => o,
                };
                format!("{} {flipped} {col}", v(rng))
            } else {
                format!("{col} {op} {}", v(rng))
            }
        }
        4 => format!("{col} BETWEEN {} AND {}", v(rng), v(rng)),
        5 => format!("{col} NOT BETWEEN {} AND {}", v(rng), v(rng)),
        6 => {
            let n = rng.gen_range(1..=4);
            let items: Vec<String> = (0..n).map(|_| v(rng)).collect();
            format!("{col} IN ({})", items.join(", "))
        }
        7 => {
            // = ANY('{...}') with the literals' text as array elements.
            let n = rng.gen_range(1..=3);
            let items: Vec<String> = (0..n)
                .filter_map(|_| (t.value)(rng))
                .filter(|s| s.starts_with('\'') && s.ends_with('\'') || !s.contains('\''))
                .map(|s| format!("\"{}\"", s.trim_matches('\'')))
                .collect();
            if items.is_empty() {
                format!("{col} IS NOT NULL")
            } else {
                format!("{col} = ANY ('{{{}}}')", items.join(","))
            }
        }
        8 => format!("{col} IS NULL"),
        9 => format!("{col} IS NOT NULL"),
        10 => format!(
            "{}id % 5 = {}",
            col.split('.')
                .next()
                .filter(|_| col.contains('.'))
                .map(|q| format!("{q}."))
                .unwrap_or_default(),
            rng.gen_range(0..5)
        ),
        _ => format!("{col} = {}", v(rng)),
    }
}

/// One random statement, and whether its rows come back in a defined order.
fn statement(rng: &mut StdRng, t: &Table, next_id: &mut i64) -> (String, bool) {
    let name = t.name;
    let key = t.key;
    let p = |rng: &mut StdRng| predicate(rng, t, key, 0);
    let kind = match rng.gen_range(0..24) {
        8..=10 | 20..=23 if !t.self_joins => 0,
        k => k,
    };
    match kind {
        // A WITH query named like the parent hides it in the outer query.
        20 => (
            format!(
                "WITH {name} AS (SELECT * FROM {name} WHERE {}) SELECT * FROM {name} WHERE {}",
                p(rng),
                p(rng)
            ),
            false,
        ),
        // A predicate on the preserved side, in a LEFT JOIN's ON, keeps
        // every row of that side.
        21 => {
            let q = predicate(rng, t, &format!("a.{key}"), 0);
            (
                format!("SELECT a.id, b.id FROM {name} a LEFT JOIN {name} b ON b.id = a.id AND {q}"),
                false,
            )
        }
        // The same column name inside a subquery belongs to the subquery's table.
        22 => {
            let q = predicate(rng, t, key, 0);
            (
                format!(
                    "SELECT count(*) FROM {name} WHERE EXISTS (SELECT 1 FROM {name} i WHERE i.id = {name}.id AND {q})"
                ),
                false,
            )
        }
        23 => (
            format!(
                "WITH RECURSIVE {name}(id) AS (SELECT 1 UNION ALL SELECT id + 1 FROM {name} WHERE id < 3) \
                 SELECT count(*) FROM {name} WHERE {}",
                predicate(rng, t, "id", 0)
            ),
            false,
        ),
        0..=4 => (format!("SELECT * FROM {name} WHERE {}", p(rng)), false),
        5..=6 => (
            format!(
                "SELECT count(*), count({key}), min(id), max(id) FROM {name} WHERE {}",
                p(rng)
            ),
            false,
        ),
        7 => (
            format!("SELECT * FROM {name} WHERE {} ORDER BY id, {key}, note LIMIT 7", p(rng)),
            true,
        ),
        8 => {
            let q = predicate(rng, t, &format!("a.{key}"), 0);
            (
                format!("SELECT a.id, b.note FROM {name} a JOIN {name} b ON b.id = a.id WHERE {q}"),
                false,
            )
        }
        9 => (
            format!(
                "SELECT count(*) FROM {name} WHERE id IN (SELECT id FROM {name} WHERE {})",
                p(rng)
            ),
            false,
        ),
        10 => (
            format!(
                "WITH x AS (SELECT * FROM {name} WHERE {}) SELECT count(*), max(note) FROM x",
                p(rng)
            ),
            false,
        ),
        11..=12 => (
            format!(
                "UPDATE {name} SET note = 'u{}' WHERE {}",
                rng.gen_range(0..1000),
                p(rng)
            ),
            false,
        ),
        13 => (format!("DELETE FROM {name} WHERE ({}) AND id % 7 = 3", p(rng)), false),
        _ => {
            let rows = rng.gen_range(1..=6);
            let mut values = Vec::new();
            for _ in 0..rows {
                *next_id += 1;
                let cells: Vec<String> = t
                    .insert_columns
                    .iter()
                    .map(|c| match *c {
                        "id" if key == "id" => sql_value((t.value)(rng)),
                        "id" => next_id.to_string(),
                        "note" => format!("'n{next_id}'"),
                        _ => sql_value((t.value)(rng)),
                    })
                    .collect();
                values.push(format!("({})", cells.join(", ")));
            }
            let listed = rng.gen_ratio(3, 4) || t.insert_columns.len() < 3;
            let columns = if listed {
                format!(" ({})", t.insert_columns.join(", "))
            } else {
                String::new()
            };
            let returning = !t.legacy && rng.gen_ratio(1, 2);
            let tail = if returning { " RETURNING id, note" } else { "" };
            (
                format!("INSERT INTO {name}{columns} VALUES {}{tail}", values.join(", ")),
                returning,
            )
        }
    }
}

#[derive(Debug, PartialEq)]
enum Outcome {
    Rows(Vec<Vec<Option<String>>>, Option<u64>),
    Error(String),
}

async fn outcome(c: &Client, sql: &str, ordered: bool) -> Outcome {
    match c.simple_query(sql).await {
        Ok(messages) => {
            let mut rows = Vec::new();
            let mut tag = None;
            for m in messages {
                match m {
                    SimpleQueryMessage::Row(r) => {
                        rows.push((0..r.len()).map(|i| r.get(i).map(str::to_owned)).collect())
                    }
                    SimpleQueryMessage::CommandComplete(n) => tag = Some(n),
                    _ => {}
                }
            }
            if !ordered {
                rows.sort();
            }
            Outcome::Rows(rows, tag)
        }
        Err(e) => Outcome::Error(support::sqlstate(&e)),
    }
}

async fn contents(c: &Client, t: &Table) -> Outcome {
    outcome(c, &format!("SELECT tableoid::regclass::text, * FROM {}", t.name), false).await
}

#[tokio::test]
async fn random_statements_match_postgres() {
    let seed: u64 = std::env::var("DIFF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::thread_rng().gen());
    let total: usize = std::env::var("DIFF_STATEMENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3000);
    // DIFF_CHECK_EVERY=1 compares the statement's table after every statement
    // (to find the first one that makes the databases differ).
    let check_every: usize = std::env::var("DIFF_CHECK_EVERY")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    eprintln!("differential test: seed {seed} (replay with DIFF_SEED={seed}), {total} statements");

    let cluster = Cluster::shared();
    drop(support::database_with(cluster, "diff_direct", &schema()).await);
    cluster.psql_admin("DROP DATABASE IF EXISTS diff_proxy");
    // The schema connection may still be closing.
    cluster.psql_admin(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'diff_direct'; SELECT pg_sleep(0.2)",
    );
    cluster.psql_admin("CREATE DATABASE diff_proxy TEMPLATE diff_direct");
    let direct = support::connect(cluster.port, "postgres", support::PASSWORD, "diff_direct")
        .await
        .unwrap();
    let p = TestProxy::start(
        cluster,
        ProxySettings {
            mode: "transaction",
            extra: support::database_config(cluster, "diff_proxy"),
            ..Default::default()
        },
    );
    let proxied = support::connect(p.port, "postgres", support::PASSWORD, "diff_proxy")
        .await
        .unwrap();
    for c in [&direct, &proxied] {
        c.batch_execute("SET TimeZone = 'America/New_York'").await.unwrap();
    }
    // Answers must come from scanning every partition: PostgreSQL 15's own
    // pruning drops a DEFAULT partition it must read for
    // `(k = a OR k <= b) AND k IS NOT NULL` (found by this test on 15.18),
    // while the proxy keeps it. Off on both sides, so statements the proxy
    // passes through are answered correctly too.
    for c in [&direct, &proxied] {
        c.batch_execute("SET enable_partition_pruning = off").await.unwrap();
    }

    let tables = tables();
    let weights: Vec<u32> = tables.iter().map(|t| t.weight).collect();
    let dist = rand::distributions::WeightedIndex::new(&weights).unwrap();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut next_id = 1_000_000i64;
    let mut rewritten = vec![0usize; tables.len()];
    let mut errors = 0usize;
    let mut passed_through = std::collections::BTreeMap::new();
    for n in 0..total {
        let ti = rng.sample(&dist);
        let t = &tables[ti];
        let (sql, ordered) = statement(&mut rng, t, &mut next_id);
        let want = outcome(&direct, &sql, ordered).await;
        let got = outcome(&proxied, &sql, ordered).await;
        let explained = outcome(&proxied, &format!("EXPLAIN ROUTE {sql}"), true).await;
        let decision = match &explained {
            Outcome::Rows(r, _) => r.first().and_then(|r| r.get(2).cloned().flatten()).unwrap_or_default(),
            Outcome::Error(e) => e.clone(),
        };
        if decision == "rewrite" || decision.starts_with("reject") {
            rewritten[ti] += 1;
        } else {
            *passed_through.entry(decision.clone()).or_insert(0usize) += 1;
            if std::env::var_os("DIFF_SHOW_PASSTHROUGH").is_some() {
                eprintln!("{decision}: {sql}");
            }
        }
        let same = match (&want, &got) {
            // A legacy trigger stores rows itself and reports INSERT 0 0; the
            // proxy reports the rows it stored. Contents are compared below.
            (Outcome::Rows(w, Some(0)), Outcome::Rows(g, Some(_))) if t.legacy && sql.starts_with("INSERT") => w == g,
            _ => want == got,
        };
        if matches!(want, Outcome::Error(_)) {
            errors += 1;
        }
        if !same {
            // What the rewrite gives when run straight on the direct copy.
            let rewritten = match &explained {
                Outcome::Rows(r, _) => r.first().and_then(|r| r.get(3).cloned().flatten()).unwrap_or_default(),
                Outcome::Error(_) => String::new(),
            };
            let replay = outcome(&direct, &rewritten, ordered).await;
            panic!(
                "seed {seed}, statement {n}: {sql}\nrouting: {explained:?}\ndirect: {want:?}\nproxy:  {got:?}\nrewrite run directly: {replay:?}"
            );
        }
        if check_every > 0 && n % check_every == check_every - 1 {
            let (w, g) = (contents(&direct, t).await, contents(&proxied, t).await);
            assert!(
                w == g,
                "seed {seed}, after statement {n} ({sql}): contents of {} differ:\ndirect {w:?}\nproxy  {g:?}",
                t.name
            );
        }
        if n % 500 == 499 || n + 1 == total {
            for t in &tables {
                let (w, g) = (contents(&direct, t).await, contents(&proxied, t).await);
                assert!(
                    w == g,
                    "seed {seed}, after statement {n}: contents of {} differ (direct {:?} rows, proxy {:?})",
                    t.name,
                    match &w {
                        Outcome::Rows(r, _) => r.len(),
                        Outcome::Error(_) => 0,
                    },
                    match &g {
                        Outcome::Rows(r, _) => r.len(),
                        Outcome::Error(_) => 0,
                    }
                );
            }
        }
    }
    let routed: usize = rewritten.iter().sum();
    eprintln!(
        "differential test: {total} statements, {routed} routed by the proxy, {errors} errors (same SQLSTATE both ways); per table {:?}",
        tables.iter().map(|t| t.name).zip(&rewritten).collect::<Vec<_>>()
    );
    eprintln!("not routed, by reason: {passed_through:?}");
    // The comparison means something only if the proxy did route. About a
    // third of generated statements is routable (32-34% over seeds): the rest
    // name no key, compare text keys by range under a non-C collation, match
    // every child, or fail on both sides. A quarter leaves room for seed
    // variance while still catching a router that stopped narrowing.
    assert!(routed * 4 >= total, "only {routed} of {total} statements were routed");
    for (t, n) in tables.iter().zip(&rewritten) {
        assert!(*n > 0, "nothing on {} was routed", t.name);
    }
}
