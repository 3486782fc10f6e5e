//! Reading hierarchies from a live database over a control connection.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use tokio_postgres::{Client, NoTls};

use super::bounds::{check_domain, child_domains, partition_bound, PartitionBound};
use super::{Catalog, Child, Hierarchy, HierarchyKind, KeySpec, TableName, TableRule};
use crate::backend::BackendTarget;
use crate::keys::predicate::assigned_value;
use crate::keys::{KeyColumn, KeyPredicate, KeyType, KeyValue, Reading, TimeZoneRule, TypMod};

/// Why loading the catalog failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The control connection or a query failed.
    #[error("catalog query failed: {0}")]
    Postgres(#[from] tokio_postgres::Error),
}

/// Opens a control connection whose session reads timestamps in UTC, as
/// constraint text must be read.
pub async fn connect(target: &BackendTarget) -> Result<Client, LoadError> {
    let (client, conn) = connect_raw(target).await?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "catalog connection ended");
        }
    });
    Ok(client)
}

/// A control connection and the connection task the caller must drive.
pub async fn connect_raw(
    target: &BackendTarget,
) -> Result<
    (
        Client,
        tokio_postgres::Connection<tokio_postgres::Socket, tokio_postgres::tls::NoTlsStream>,
    ),
    LoadError,
> {
    let mut cfg = tokio_postgres::Config::new();
    cfg.host(&target.host)
        .port(target.port)
        .dbname(&target.dbname)
        .user(&target.user)
        .options("-c TimeZone=UTC")
        .application_name("partproxy-catalog");
    if let Some(pw) = &target.password {
        cfg.password(pw);
    }
    Ok(cfg.connect(NoTls).await?)
}

struct Relation {
    name: TableName,
    bound: Option<String>,
}

struct Column {
    name: String,
    ty: Option<KeyType>,
    typmod: TypMod,
    c_collation: bool,
    /// False for a nondeterministic collation, whose `=` is not byte equality.
    deterministic: bool,
    default: Option<String>,
    /// `attidentity`: "" (none), "a" (ALWAYS) or "d" (BY DEFAULT).
    identity: String,
    /// `attgenerated`: "" or "s" (stored).
    generated: String,
    /// The identity's sequence: a child with its own fills the column otherwise.
    sequence: Option<String>,
}

impl Column {
    /// How an INSERT that leaves the column out fills it, for comparing a
    /// child with its parent.
    fn filling(&self) -> (&Option<String>, &str, &str, &Option<String>) {
        (&self.default, &self.identity, &self.generated, &self.sequence)
    }

    /// True when PostgreSQL computes the value itself (identity, generated).
    fn computed(&self) -> bool {
        !self.identity.is_empty() || !self.generated.is_empty()
    }
}

/// Loads every hierarchy (legacy inheritance and declarative) of the
/// database, then applies the configured table rules.
pub async fn load(client: &Client, rules: &[TableRule]) -> Result<Catalog, LoadError> {
    let mut catalog = load_hierarchies(client, rules).await?;
    catalog.default_search_path = Some(client.query_one("SHOW search_path", &[]).await?.get(0));
    Ok(catalog)
}

async fn load_hierarchies(client: &Client, rules: &[TableRule]) -> Result<Catalog, LoadError> {
    let edges: Vec<(u32, u32)> = client
        .query(
            // Tables, partitioned tables and foreign tables only: partitioned
            // indexes are in pg_inherits too.
            "SELECT i.inhparent, i.inhrelid FROM pg_catalog.pg_inherits i \
             JOIN pg_catalog.pg_class p ON p.oid = i.inhparent JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid \
             WHERE p.relkind IN ('r', 'p', 'f') AND c.relkind IN ('r', 'p', 'f') \
             ORDER BY i.inhparent, i.inhseqno, i.inhrelid",
            &[],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    if edges.is_empty() {
        return Ok(Catalog {
            hook_installed: hook_installed(client).await?,
            ..Catalog::default()
        });
    }
    let oids: Vec<u32> = edges
        .iter()
        .flat_map(|(p, c)| [*p, *c])
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();

    let mut relations = HashMap::new();
    for r in client
        .query(
            "SELECT c.oid, n.nspname::text, c.relname::text, pg_catalog.pg_get_expr(c.relpartbound, c.oid) \
             FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.oid = ANY($1)",
            &[&oids],
        )
        .await?
    {
        let oid: u32 = r.get(0);
        relations.insert(
            oid,
            Relation {
                name: TableName {
                    schema: r.get(1),
                    name: r.get(2),
                },
                bound: r.get(3),
            },
        );
    }

    let mut columns: HashMap<u32, Vec<Column>> = HashMap::new();
    for r in client
        .query(
            "SELECT a.attrelid, a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod), \
                    coalesce(co.collname::text, '') IN ('C', 'POSIX'), pg_catalog.pg_get_expr(d.adbin, d.adrelid), \
                    coalesce(co.collisdeterministic, true), a.attidentity::text, a.attgenerated::text, \
                    CASE WHEN a.attidentity <> '' THEN \
                      pg_catalog.pg_get_serial_sequence(a.attrelid::regclass::text, a.attname::text) END \
             FROM pg_catalog.pg_attribute a LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation \
             LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
             WHERE a.attrelid = ANY($1) AND a.attnum > 0 AND NOT a.attisdropped \
             ORDER BY a.attrelid, a.attnum",
            &[&oids],
        )
        .await?
    {
        let ty: String = r.get(2);
        columns.entry(r.get(0)).or_default().push(Column {
            name: r.get(1),
            ty: KeyType::from_pg_name(&ty),
            typmod: TypMod::from_pg_name(&ty),
            c_collation: r.get(3),
            default: r.get(4),
            deterministic: r.get(5),
            identity: r.get(6),
            generated: r.get(7),
            sequence: r.get(8),
        });
    }

    let mut checks: HashMap<u32, Vec<String>> = HashMap::new();
    let mut proven_empty: HashSet<u32> = HashSet::new();
    for r in client
        .query(
            "SELECT conrelid, pg_catalog.pg_get_constraintdef(oid), connoinherit FROM pg_catalog.pg_constraint \
             WHERE contype = 'c' AND convalidated AND conrelid = ANY($1)",
            &[&oids],
        )
        .await?
    {
        let rel: u32 = r.get(0);
        let def: String = r.get(1);
        let no_inherit: bool = r.get(2);
        if no_inherit
            && def
                .replace(['(', ')', ' '], "")
                .eq_ignore_ascii_case("CHECKfalseNOINHERIT")
        {
            proven_empty.insert(rel);
        }
        checks.entry(rel).or_default().push(def);
    }

    let mut declarative_keys: HashMap<u32, Vec<i16>> = HashMap::new();
    for r in client
        .query(
            "SELECT partrelid, partattrs::int2[] FROM pg_catalog.pg_partitioned_table",
            &[],
        )
        .await?
    {
        declarative_keys.insert(r.get(0), r.get(1));
    }

    let mut children_of: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for (p, c) in &edges {
        children_of.entry(*p).or_default().push(*c);
    }
    let parents: HashSet<u32> = children_of.keys().copied().collect();

    let mut catalog = Catalog::default();
    for (parent, kids) in &children_of {
        let Some(prel) = relations.get(parent) else {
            continue;
        };
        let pcols = columns.get(parent).map(Vec::as_slice).unwrap_or_default();
        let column_names: Vec<String> = pcols.iter().map(|c| c.name.clone()).collect();
        let rule = rules.iter().find(|r| r.parent == prel.name);
        let mut hierarchy = match declarative_keys.get(parent) {
            Some(attrs) => {
                // One entry per key part; 0 marks an expression.
                let parts: Vec<Option<KeySpec>> = attrs
                    .iter()
                    .map(|n| {
                        usize::try_from(*n)
                            .ok()
                            .and_then(|n| n.checked_sub(1))
                            .and_then(|i| pcols.get(i))
                            .and_then(key_spec)
                    })
                    .collect();
                let kids = declarative_children(kids, pcols, &columns, &relations, &parents, &parts);
                let mut h = Hierarchy::new(
                    prel.name.clone(),
                    HierarchyKind::Declarative,
                    parts.first().cloned().flatten(),
                    column_names,
                    kids,
                    false,
                );
                h.more_key = parts.get(1..).unwrap_or_default().to_vec();
                h
            }
            None => {
                let wanted = rule.and_then(|r| r.key.as_deref());
                let (key, kids) = inheritance_children(kids, pcols, &columns, &relations, &parents, &checks, wanted);
                let may_hold = match rule.and_then(|r| r.parent_empty) {
                    Some(empty) => !empty,
                    None => !proven_empty.contains(parent),
                };
                Hierarchy::new(
                    prel.name.clone(),
                    HierarchyKind::Inheritance,
                    key,
                    column_names,
                    kids,
                    may_hold,
                )
            }
        };
        let default_of = |key: &KeySpec| {
            let column = pcols.iter().find(|c| c.name == key.column);
            match column {
                // Identity and generated values are computed per row.
                Some(c) if c.computed() => None,
                Some(Column {
                    default: Some(text), ..
                }) => constant_default(text, key),
                _ => Some(None),
            }
        };
        hierarchy.key_default = hierarchy.key.as_ref().map_or(Some(None), default_of);
        hierarchy.more_defaults = hierarchy
            .more_key
            .iter()
            .map(|k| k.as_ref().and_then(default_of))
            .collect();
        hierarchy.generated_always = pcols
            .iter()
            .filter(|c| c.identity == "a" || c.generated == "s")
            .map(|c| c.name.clone())
            .collect();
        if let Some(rule) = rule {
            hierarchy.on_unmatched = rule.on_unmatched;
            if rule
                .key
                .as_ref()
                .is_some_and(|k| hierarchy.key.as_ref().is_none_or(|h| h.column != *k))
            {
                tracing::warn!(parent = %prel.name, key = ?rule.key, "configured key not usable (declarative parent, unknown column or unsupported type)");
            }
        }
        catalog.hierarchies.insert(prel.name.clone(), Arc::new(hierarchy));
    }
    catalog.names = relation_names(client, &catalog).await?;
    catalog.hook_installed = hook_installed(client).await?;
    for rule in rules {
        if !catalog.hierarchies.contains_key(&rule.parent) {
            tracing::warn!(parent = %rule.parent, "configured routing table is not a parent with children");
        }
    }
    Ok(catalog)
}

/// Every relation (of any kind, in any schema, temporary ones included)
/// named like a parent: what an unqualified name may resolve to instead.
async fn relation_names(client: &Client, catalog: &Catalog) -> Result<HashMap<String, super::NameUse>, LoadError> {
    let wanted: Vec<String> = catalog
        .hierarchies
        .keys()
        .map(|t| t.name.clone())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut names: HashMap<String, super::NameUse> = HashMap::new();
    if wanted.is_empty() {
        return Ok(names);
    }
    for r in client
        .query(
            "SELECT c.relname::text, n.nspname::text, c.relpersistence = 't' \
             FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relname = ANY($1::text[])",
            &[&wanted],
        )
        .await?
    {
        let usage = names.entry(r.get(0)).or_default();
        let schema: String = r.get(1);
        if r.get::<_, bool>(2) || schema.starts_with("pg_temp_") {
            usage.temporary = true;
        } else {
            usage.schemas.push(schema);
        }
    }
    Ok(names)
}

/// The event triggers of the DDL hook, by name.
pub const HOOK_TRIGGERS: [&str; 2] = ["partproxy_ddl_command_end", "partproxy_sql_drop"];

/// True when both event triggers of the DDL hook are present and enabled.
async fn hook_installed(client: &Client) -> Result<bool, LoadError> {
    let names: Vec<String> = HOOK_TRIGGERS.iter().map(|s| s.to_string()).collect();
    let n: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_catalog.pg_event_trigger WHERE evtname = ANY($1::text[]) AND evtenabled <> 'D'",
            &[&names],
        )
        .await?
        .get(0);
    Ok(n == HOOK_TRIGGERS.len() as i64)
}

/// A column DEFAULT as a key value, when it is a constant. Defaults are read
/// in the control connection's UTC session, so literals carry their offset;
/// one that converts through the TimeZone depends on each writer's zone and
/// is not a constant.
fn constant_default(text: &str, key: &KeySpec) -> Option<Option<KeyValue>> {
    let dialect = sqlparser::dialect::PostgreSqlDialect {};
    let expr = sqlparser::parser::Parser::new(&dialect)
        .try_with_sql(text)
        .ok()?
        .parse_expr()
        .ok()?;
    assigned_value(&expr, &key.assigning(TimeZoneRule::Unknown), Reading::catalog())
}

fn key_spec(c: &Column) -> Option<KeySpec> {
    let ty = c.ty?;
    // Under a nondeterministic collation `=` is not byte equality.
    if ty == KeyType::Text && !c.deterministic {
        return None;
    }
    Some(KeySpec {
        column: c.name.clone(),
        ty,
        text_ranges: c.c_collation,
        typmod: c.typmod,
    })
}

fn same_columns(child: Option<&Vec<Column>>, parent: &[Column]) -> bool {
    child.is_some_and(|c| c.len() == parent.len() && c.iter().zip(parent).all(|(a, b)| a.name == b.name))
}

fn same_defaults(child: Option<&Vec<Column>>, parent: &[Column]) -> bool {
    child.is_some_and(|c| {
        parent.iter().all(|p| {
            c.iter()
                .find(|k| k.name == p.name)
                .is_some_and(|k| k.filling() == p.filling())
        })
    })
}

/// Picks the key of an inheritance parent — the configured column, or else
/// the supported column that the most children's constraints restrict —
/// and each child's domain on it.
fn inheritance_children(
    kids: &[u32],
    pcols: &[Column],
    columns: &HashMap<u32, Vec<Column>>,
    relations: &HashMap<u32, Relation>,
    parents: &HashSet<u32>,
    checks: &HashMap<u32, Vec<String>>,
    wanted: Option<&str>,
) -> (Option<KeySpec>, Vec<Child>) {
    let none: Vec<String> = Vec::new();
    let mut best: Option<(usize, KeySpec, Vec<Option<KeyPredicate>>)> = None;
    let candidates = pcols
        .iter()
        .filter(|c| wanted.is_none_or(|w| w == c.name))
        .filter_map(key_spec);
    for spec in candidates {
        let key = spec.column(&[], Reading::catalog());
        let domains: Vec<Option<KeyPredicate>> = kids
            .iter()
            .map(|k| check_domain(checks.get(k).unwrap_or(&none), &key))
            .collect();
        let restricted = domains.iter().filter(|d| d.is_some()).count();
        if (restricted > 0 || wanted.is_some()) && best.as_ref().is_none_or(|(n, _, _)| restricted > *n) {
            best = Some((restricted, spec.clone(), domains));
        }
    }
    let (key, domains) = match best {
        Some((_, spec, domains)) => (Some(spec), domains),
        None => (None, vec![None; kids.len()]),
    };
    let children = kids
        .iter()
        .zip(domains)
        .filter_map(|(oid, domain)| {
            let rel = relations.get(oid)?;
            if key.is_some() && domain.is_none() {
                tracing::info!(child = %rel.name, "no constraint on the key: this child is never skipped");
            }
            Some(make_child(*oid, rel, domain, pcols, columns, parents))
        })
        .collect();
    (key, children)
}

fn declarative_children(
    kids: &[u32],
    pcols: &[Column],
    columns: &HashMap<u32, Vec<Column>>,
    relations: &HashMap<u32, Relation>,
    parents: &HashSet<u32>,
    parts: &[Option<KeySpec>],
) -> Vec<Child> {
    let readers: Vec<Option<KeyColumn>> = parts
        .iter()
        .map(|p| p.as_ref().map(|k| k.column(&[], Reading::catalog())))
        .collect();
    let bounds: Vec<Option<PartitionBound>> = kids
        .iter()
        .map(|k| {
            let rel = relations.get(k)?;
            readers.first()?.as_ref()?;
            partition_bound(rel.bound.as_deref()?, &readers)
        })
        .collect();
    let domains = child_domains(&bounds, parts.len());
    kids.iter()
        .zip(domains)
        .filter_map(|(oid, (domain, boxes))| {
            let rel = relations.get(oid)?;
            let mut child = make_child(*oid, rel, domain, pcols, columns, parents);
            child.boxes = boxes;
            Some(child)
        })
        .collect()
}

/// A child with its domain and how its columns compare with the parent's.
fn make_child(
    oid: u32,
    rel: &Relation,
    domain: Option<KeyPredicate>,
    pcols: &[Column],
    columns: &HashMap<u32, Vec<Column>>,
    parents: &HashSet<u32>,
) -> Child {
    let own = columns.get(&oid);
    Child {
        table: rel.name.clone(),
        domain,
        has_children: parents.contains(&oid),
        same_columns: same_columns(own, pcols),
        same_defaults: same_defaults(own, pcols),
        boxes: None,
    }
}
