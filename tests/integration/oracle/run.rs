//! Running cases: each worker owns some hierarchies and holds four
//! connections — straight to the direct twin, through the proxy to the
//! proxy twin, a helper on the direct twin (to learn inferred parameter
//! types and binary encodings), and the proxy's admin console (to learn
//! whether the proxy routed the case). A case runs on
//! both sides at once; writes run inside a transaction rolled back after
//! the table's contents are read.

use std::collections::HashMap;
use std::io;
use std::sync::Arc;

use super::cases::{Case, Form, ParamSpec, Settings, Stmt};
use super::wire::{Cell, Param, PgError, Reply, Wire, BINARY, TEXT};
use crate::support::PASSWORD;

/// Where the two sides live.
#[derive(Clone)]
pub struct Endpoints {
    pub direct_port: u16,
    pub direct_db: String,
    pub proxy_port: u16,
    pub proxy_db: String,
    /// Pool mode of the proxy, for the report.
    pub mode: &'static str,
}

/// One side's answer to a case, as compared.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Answer {
    pub error: Option<PgError>,
    /// Rows in text, sorted (no case asks for an order).
    pub rows: Vec<Vec<Option<String>>>,
    pub tag: Option<String>,
    /// For writes: every row of the hierarchy with the table holding it.
    pub contents: Option<String>,
}

/// What the comparison found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Same,
    Mismatch,
    /// The case could not be sent as generated (a binary parameter whose
    /// type cannot carry the value).
    Skipped(String),
}

/// A case's result.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub case: usize,
    pub mode: &'static str,
    pub verdict: Verdict,
    /// Whether the proxy routed the statement: `EXPLAIN ROUTE` says so (a
    /// literal case), `SHOW PARTITIONS` counted it on a child, the proxy
    /// refused it itself, or (a mismatch) `SHOW ROUTES` counted a rerun.
    pub routed: bool,
    pub direct: Answer,
    pub proxy: Answer,
    /// Parameters as sent: (declared OID, format, text).
    pub sent: Vec<(u32, i16, Option<String>)>,
    /// The proxy's `EXPLAIN ROUTE` of a mismatching literal case.
    pub explain: Option<String>,
}

/// Session settings every oracle connection starts with: the reference
/// is PostgreSQL's semantics, not its planner's pruning (PostgreSQL 15
/// prunes a DEFAULT partition it must read for some OR predicates).
const BASE_SETTINGS: &str = "SET enable_partition_pruning = off; SET constraint_exclusion = off; \
                             SET escape_string_warning = off; SET statement_timeout = '20s'";

/// A worker's connections.
struct Conns {
    direct: Wire,
    proxy: Wire,
    helper: Wire,
    admin: Wire,
    settings: Option<Settings>,
}

async fn login(port: u16, db: &str) -> io::Result<Wire> {
    let mut w = Wire::connect(port, "postgres", PASSWORD, db).await?;
    if db != "partproxy" {
        let r = w.simple(BASE_SETTINGS).await?;
        if let Some(e) = r.error {
            return Err(io::Error::other(format!("{BASE_SETTINGS}: {}", e.message)));
        }
    }
    Ok(w)
}

impl Conns {
    async fn open(ep: &Endpoints) -> io::Result<Conns> {
        Ok(Conns {
            direct: login(ep.direct_port, &ep.direct_db).await?,
            proxy: login(ep.proxy_port, &ep.proxy_db).await?,
            helper: login(ep.direct_port, &ep.direct_db).await?,
            admin: login(ep.proxy_port, "partproxy").await?,
            settings: None,
        })
    }

    /// Puts all three data connections into `s`.
    async fn apply(&mut self, s: Settings) -> io::Result<()> {
        if self.settings == Some(s) {
            return Ok(());
        }
        let sql = s.sql();
        let (a, b, c) = tokio::join!(
            self.direct.simple(&sql),
            self.proxy.simple(&sql),
            self.helper.simple(&sql)
        );
        for r in [a?, b?, c?] {
            if let Some(e) = r.error {
                return Err(io::Error::other(format!("{sql}: {}", e.message)));
            }
        }
        self.settings = Some(s);
        Ok(())
    }
}

/// Statements the proxy has sent to the children of `parent`, summed from
/// `SHOW PARTITIONS` (the proxy's own per-child counters, cheap to read).
async fn child_statements(admin: &mut Wire, db: &str, parent: &str) -> io::Result<u64> {
    let reply = admin.simple(&format!("SHOW PARTITIONS {parent}")).await?;
    if let Some(e) = reply.error {
        return Err(io::Error::other(format!("SHOW PARTITIONS {parent}: {}", e.message)));
    }
    let text = |row: &Vec<Cell>, i: usize| row.get(i).and_then(cell_text).unwrap_or_default();
    Ok(reply
        .rows
        .iter()
        .filter(|row| text(row, 0) == db)
        .map(|row| text(row, 7).parse::<u64>().unwrap_or(0))
        .sum())
}

/// Whether the proxy itself refused a write (its refusal names the parent's
/// children, which PostgreSQL's own errors never do).
fn refused_by_proxy(a: &Answer) -> bool {
    a.error.as_ref().is_some_and(|e| {
        e.code == "23514"
            && (e.message.starts_with("no child table of ") || e.message.contains("matches several children"))
    })
}

fn parent_label(case: &Case) -> String {
    format!("public.{}", case.hier.name)
}

fn cell_text(c: &Cell) -> Option<String> {
    c.as_ref().map(|b| String::from_utf8_lossy(b).into_owned())
}

/// The parameters to Bind, with the types to declare in Parse: text as
/// generated, binary as PostgreSQL encodes the value in the type the
/// statement gives the parameter.
async fn bind_values(helper: &mut Wire, case: &Case) -> io::Result<Result<(Vec<u32>, Vec<Param>), String>> {
    let declared: Vec<u32> = case.params.iter().map(ParamSpec::declared_oid).collect();
    let texts: Vec<Option<String>> = case.params.iter().map(|p| p.text.clone()).collect();
    let as_text = |format: fn(&ParamSpec) -> i16| -> Vec<Param> {
        case.params
            .iter()
            .map(|p| Param {
                format: format(p),
                value: p.text.as_ref().map(|t| t.as_bytes().to_vec()),
            })
            .collect()
    };
    if !case.params.iter().any(|p| p.binary) {
        return Ok(Ok((declared, as_text(|_| TEXT))));
    }
    let described = helper.describe(&case.sql, &declared).await?;
    if described.error.is_some() {
        // Parse fails on both sides before any value is read.
        return Ok(Ok((declared, as_text(|_| BINARY))));
    }
    match helper.binary_forms(&described.param_types, &texts).await? {
        Err(e) => Ok(Err(format!("binary value not representable: {}", e.message))),
        Ok(cells) => {
            let params = cells.into_iter().map(|value| Param { format: BINARY, value }).collect();
            Ok(Ok((declared, params)))
        }
    }
}

/// Runs `case` on one side.
async fn run_side(w: &mut Wire, case: &Case, types: &[u32], params: &[Param]) -> io::Result<Answer> {
    let in_transaction = case.writes() || matches!(case.form, Form::Prepare(_));
    if case.writes() {
        if let Some(seq) = &case.hier.sequence {
            w.simple(&format!("SELECT setval({seq}, 999998)")).await?;
        }
    }
    if in_transaction {
        w.simple("BEGIN").await?;
    }
    let main = match case.form {
        Form::Param { .. } => {
            let name = if case.n % 3 == 0 { "oracle_s" } else { "" };
            w.extended(name, &case.sql, types, params).await?
        }
        Form::Prepare(_) => {
            let (prepare, execute) = case.prepare_sql();
            let r = w.simple(&prepare).await?;
            if r.error.is_some() {
                r
            } else {
                w.simple(&execute).await?
            }
        }
        _ => w.simple(&case.sql).await?,
    };
    let mut answer = answer_of(main);
    if answer.error.is_none() && case.writes() {
        let r = w
            .simple(&format!("SELECT oracle_contents('{}')", case.hier.name))
            .await?;
        answer.contents = Some(match r.error {
            Some(e) => format!("error {}: {}", e.code, e.message),
            None => r
                .rows
                .first()
                .and_then(|row| row.first())
                .and_then(cell_text)
                .unwrap_or_default(),
        });
    }
    if in_transaction {
        w.simple("ROLLBACK").await?;
    }
    if matches!(case.form, Form::Prepare(_)) {
        // In transaction mode the proxy already dropped it with its server.
        w.simple(&format!("DEALLOCATE {}", case.prepare_name())).await?;
    }
    Ok(answer)
}

fn answer_of(r: Reply) -> Answer {
    let mut rows: Vec<Vec<Option<String>>> = r.rows.iter().map(|row| row.iter().map(cell_text).collect()).collect();
    rows.sort();
    Answer {
        error: r.error,
        rows,
        tag: r.tags.last().cloned(),
        contents: None,
    }
}

/// Whether the two answers agree. A legacy parent's trigger stores rows
/// itself, so PostgreSQL reports `INSERT 0 0` where a routed INSERT reports
/// its rows: that tag alone is not compared (the contents are).
pub fn same(case: &Case, direct: &Answer, proxy: &Answer) -> bool {
    match (&direct.error, &proxy.error) {
        (Some(a), Some(b)) => a.code == b.code,
        (None, None) => {
            let tags_agree = direct.tag == proxy.tag || (case.hier.legacy && case.stmt == Stmt::Insert);
            direct.rows == proxy.rows && direct.contents == proxy.contents && tags_agree
        }
        _ => false,
    }
}

/// The proxy's routing decision for a literal statement, in one line.
async fn explain(proxy: &mut Wire, case: &Case) -> Option<String> {
    if matches!(case.form, Form::Param { .. } | Form::Prepare(_)) {
        return None;
    }
    let r = proxy.simple(&format!("EXPLAIN ROUTE {}", case.sql)).await.ok()?;
    if let Some(e) = r.error {
        return Some(format!("error {}: {}", e.code, e.message));
    }
    let lines: Vec<String> = r
        .rows
        .iter()
        .map(|row| {
            let t = |i: usize| row.get(i).and_then(cell_text).unwrap_or_default();
            if t(2) == "rewrite" {
                format!("rewrite to {} | {}", t(1), t(3))
            } else {
                format!("{} | {}", t(2), t(3))
            }
        })
        .collect();
    Some(lines.join("; "))
}

/// A worker: runs its cases in order, reconnecting after a lost connection.
pub async fn worker(ep: Endpoints, cases: Arc<Vec<Case>>, mine: Vec<usize>) -> Vec<Outcome> {
    let mut conns = Conns::open(&ep).await.expect("oracle connections");
    let mut counts: HashMap<String, u64> = HashMap::new();
    let mut out = Vec::with_capacity(mine.len());
    for i in mine {
        let case = &cases[i];
        match run_case(&mut conns, &ep, case, &mut counts).await {
            Ok(o) => out.push(o),
            Err(e) => {
                out.push(lost(case, ep.mode, &e));
                conns = Conns::open(&ep).await.expect("oracle reconnection");
            }
        }
    }
    out
}

/// A case during which a connection failed or timed out: a mismatch.
fn lost(case: &Case, mode: &'static str, e: &io::Error) -> Outcome {
    let broken = Answer {
        error: Some(PgError {
            code: "io".into(),
            message: e.to_string(),
        }),
        ..Answer::default()
    };
    Outcome {
        case: case.n,
        mode,
        verdict: Verdict::Mismatch,
        routed: false,
        direct: Answer::default(),
        proxy: broken,
        sent: Vec::new(),
        explain: None,
    }
}

async fn run_case(
    conns: &mut Conns,
    ep: &Endpoints,
    case: &Case,
    counts: &mut HashMap<String, u64>,
) -> io::Result<Outcome> {
    conns.apply(case.settings).await?;
    let parent = parent_label(case);
    let before = match counts.get(&parent) {
        Some(n) => *n,
        None => child_statements(&mut conns.admin, &ep.proxy_db, &parent).await?,
    };
    let (types, params) = match bind_values(&mut conns.helper, case).await? {
        Ok(bound) => bound,
        Err(why) => return Ok(skipped(case, ep.mode, why)),
    };
    let (direct, proxy) = tokio::join!(
        run_side(&mut conns.direct, case, &types, &params),
        run_side(&mut conns.proxy, case, &types, &params)
    );
    let (direct, proxy) = (direct?, proxy?);
    let explained = explain(&mut conns.proxy, case).await;
    let now = child_statements(&mut conns.admin, &ep.proxy_db, &parent).await?;
    counts.insert(parent.clone(), now);
    let mut routed = now > before || refused_by_proxy(&proxy) || explained.as_deref().is_some_and(decided);
    let agree = same(case, &direct, &proxy);
    if !agree && !routed && explained.is_none() {
        routed = routed_on_rerun(conns, ep, case, &types, &params).await?;
        counts.insert(
            parent.clone(),
            child_statements(&mut conns.admin, &ep.proxy_db, &parent).await?,
        );
    }
    let sent = case
        .params
        .iter()
        .zip(&params)
        .map(|(spec, p)| (spec.declared_oid(), p.format, spec.text.clone()))
        .collect();
    Ok(Outcome {
        case: case.n,
        mode: ep.mode,
        verdict: if agree { Verdict::Same } else { Verdict::Mismatch },
        routed,
        direct,
        proxy,
        sent,
        explain: if agree { None } else { explained },
    })
}

fn skipped(case: &Case, mode: &'static str, why: String) -> Outcome {
    Outcome {
        case: case.n,
        mode,
        verdict: Verdict::Skipped(why),
        routed: false,
        direct: Answer::default(),
        proxy: Answer::default(),
        sent: Vec::new(),
        explain: None,
    }
}

/// Whether an `EXPLAIN ROUTE` line is a decision of the router's own.
fn decided(explanation: &str) -> bool {
    explanation.starts_with("rewrite") || explanation.starts_with("reject")
}

/// Routed (or refused) statements of `parent` per `SHOW ROUTES`.
async fn routes_count(admin: &mut Wire, db: &str, parent: &str) -> io::Result<u64> {
    let reply = admin.simple("SHOW ROUTES").await?;
    let text = |row: &Vec<Cell>, i: usize| row.get(i).and_then(cell_text).unwrap_or_default();
    Ok(reply
        .rows
        .iter()
        .filter(|row| text(row, 0) == db && text(row, 1) == parent)
        .map(|row| {
            [2, 3, 5]
                .iter()
                .map(|&i| text(row, i).parse::<u64>().unwrap_or(0))
                .sum::<u64>()
        })
        .sum())
}

/// Runs the proxy side again between two `SHOW ROUTES` to learn whether it
/// was routed. Only for a mismatching parameter case that reached no child
/// table (it may have been routed to none): `SHOW ROUTES` gathers every
/// metric, which costs more than a whole case.
async fn routed_on_rerun(
    conns: &mut Conns,
    ep: &Endpoints,
    case: &Case,
    types: &[u32],
    params: &[Param],
) -> io::Result<bool> {
    let parent = parent_label(case);
    let before = routes_count(&mut conns.admin, &ep.proxy_db, &parent).await?;
    run_side(&mut conns.proxy, case, types, params).await?;
    Ok(routes_count(&mut conns.admin, &ep.proxy_db, &parent).await? > before)
}

/// Splits cases over `workers` so each hierarchy belongs to one worker
/// (its routing counters then move only with that worker's cases); each
/// worker's list is ordered by settings to keep SETs few.
pub fn assign(cases: &[Case], selected: &[usize], workers: usize) -> Vec<Vec<usize>> {
    let mut per_hier: HashMap<&str, Vec<usize>> = HashMap::new();
    for &i in selected {
        per_hier.entry(cases[i].hier.name.as_str()).or_default().push(i);
    }
    let mut groups: Vec<Vec<usize>> = per_hier.into_values().collect();
    groups.sort_by_key(|g| std::cmp::Reverse((g.len(), g[0])));
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); workers.max(1)];
    for g in groups {
        if let Some(w) = out.iter_mut().min_by_key(|w| w.len()) {
            w.extend(g);
        }
    }
    for w in &mut out {
        w.sort_by_key(|&i| (cases[i].settings, i));
    }
    out
}
