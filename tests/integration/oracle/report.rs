//! The oracle's report: how many cases ran along each dimension, how many
//! the proxy routed, mismatches per category (key type × form × operator),
//! and the first mismatching cases in full, so the router's author sees
//! what to fix without rerunning anything.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::cases::Case;
use super::run::{Answer, Outcome, Verdict};

/// Cases, routed cases and mismatches under one label.
#[derive(Default, Clone, Copy)]
struct Tally {
    cases: usize,
    routed: usize,
    skipped: usize,
    mismatches: usize,
}

impl Tally {
    fn add(&mut self, o: &Outcome) {
        self.cases += 1;
        self.routed += usize::from(o.routed);
        match o.verdict {
            Verdict::Same => {}
            Verdict::Mismatch => self.mismatches += 1,
            Verdict::Skipped(_) => self.skipped += 1,
        }
    }
}

fn tally_by(cases: &[Case], outcomes: &[Outcome], key: impl Fn(&Case, &Outcome) -> String) -> BTreeMap<String, Tally> {
    let mut out: BTreeMap<String, Tally> = BTreeMap::new();
    for o in outcomes {
        out.entry(key(&cases[o.case], o)).or_default().add(o);
    }
    out
}

fn table(title: &str, rows: &BTreeMap<String, Tally>) -> String {
    let mut s = format!(
        "\n{title}\n  {:<44} {:>7} {:>7} {:>7} {:>9}\n",
        "", "cases", "routed", "skipped", "mismatch"
    );
    for (label, t) in rows {
        let _ = writeln!(
            s,
            "  {:<44} {:>7} {:>7} {:>7} {:>9}",
            label, t.cases, t.routed, t.skipped, t.mismatches
        );
    }
    s
}

/// The counts along every dimension.
pub fn dimensions(cases: &[Case], outcomes: &[Outcome]) -> String {
    let mut s = String::from(
        "routed: for a literal case EXPLAIN ROUTE reports a rewrite or a refusal; for a parameter or \
         PREPARE case the proxy counted the statement on a child table (SHOW PARTITIONS) or refused it \
         (one routed to no child at all is only found when it mismatches)\n",
    );
    s.push_str(&table(
        "per pool mode",
        &tally_by(cases, outcomes, |_, o| o.mode.to_owned()),
    ));
    s.push_str(&table(
        "per hierarchy kind",
        &tally_by(cases, outcomes, |c, _| c.hier.kind.to_owned()),
    ));
    s.push_str(&table(
        "per key type",
        &tally_by(cases, outcomes, |c, _| c.hier.targets[0].key.label.to_owned()),
    ));
    s.push_str(&table(
        "per hierarchy",
        &tally_by(cases, outcomes, |c, _| c.hier.name.clone()),
    ));
    s.push_str(&table(
        "per value form",
        &tally_by(cases, outcomes, |c, _| c.form.label()),
    ));
    s.push_str(&table(
        "per operator / statement",
        &tally_by(cases, outcomes, |c, _| format!("{} {}", c.stmt.label(), c.op)),
    ));
    s.push_str(&table(
        "per session settings",
        &tally_by(cases, outcomes, |c, _| c.settings.label()),
    ));
    s
}

fn count_sorted(counts: BTreeMap<String, usize>, title: &str, limit: usize) -> String {
    let mut sorted: Vec<(String, usize)> = counts.into_iter().collect();
    sorted.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut s = format!("\n{title} ({} with mismatches):\n", sorted.len());
    for (label, n) in sorted.iter().take(limit) {
        let _ = writeln!(s, "  {n:>5}  {label}");
    }
    if sorted.len() > limit {
        let _ = writeln!(s, "  ... and {} more", sorted.len() - limit);
    }
    s
}

/// Mismatches per key type × form, then per category (hierarchy × form ×
/// operator), most first.
pub fn mismatch_categories(cases: &[Case], outcomes: &[Outcome], limit: usize) -> String {
    let mut coarse: BTreeMap<String, usize> = BTreeMap::new();
    let mut fine: BTreeMap<String, usize> = BTreeMap::new();
    for o in outcomes.iter().filter(|o| o.verdict == Verdict::Mismatch) {
        let c = &cases[o.case];
        *coarse
            .entry(format!("{} × {}", c.hier.targets[0].key.label, c.form.label()))
            .or_default() += 1;
        *fine.entry(c.category()).or_default() += 1;
    }
    let mut s = count_sorted(coarse, "mismatches per key type × form", limit);
    s.push_str(&count_sorted(
        fine,
        "mismatches per category (hierarchy × form × operator; the hierarchy's name says its kind and key type)",
        limit,
    ));
    s
}

fn rows_text(rows: &[Vec<Option<String>>]) -> String {
    let shown: Vec<String> = rows
        .iter()
        .take(12)
        .map(|r| {
            let cells: Vec<String> = r.iter().map(|c| c.clone().unwrap_or_else(|| "NULL".into())).collect();
            format!("({})", cells.join(", "))
        })
        .collect();
    let more = if rows.len() > 12 {
        format!(" ... {} more", rows.len() - 12)
    } else {
        String::new()
    };
    format!("{} row(s) {}{more}", rows.len(), shown.join(" "))
}

fn answer_text(a: &Answer) -> String {
    match &a.error {
        Some(e) => format!("ERROR {} {}", e.code, e.message),
        None => format!("{} | {}", a.tag.clone().unwrap_or_default(), rows_text(&a.rows)),
    }
}

/// Lines of `a` missing from `b`.
fn missing(a: &str, b: &str) -> Vec<String> {
    let theirs: std::collections::HashSet<&str> = b.lines().collect();
    a.lines().filter(|l| !theirs.contains(l)).map(str::to_owned).collect()
}

/// One mismatching case in full.
pub fn case_text(case: &Case, o: &Outcome) -> String {
    let mut s = format!(
        "#{} [{} pool] {}\n    settings: {}\n    sql:      {}\n",
        case.n,
        o.mode,
        case.category(),
        case.settings.label(),
        case.sql
    );
    if matches!(case.form, super::cases::Form::Prepare(_)) {
        let (p, e) = case.prepare_sql();
        let _ = writeln!(s, "    as:       {p}; {e}");
    }
    for (i, (oid, format, text)) in o.sent.iter().enumerate() {
        let spec = &case.params[i];
        let value = text
            .as_deref()
            .map(|t| format!("'{t}'"))
            .unwrap_or_else(|| "NULL".into());
        let declared = if spec.ty.is_some() {
            spec.declared_name()
        } else {
            "unspecified".into()
        };
        let sent = if *format == 1 {
            format!("binary: PostgreSQL's encoding of {value} read as the parameter's type")
        } else {
            format!("text: {value}")
        };
        let _ = writeln!(s, "    ${}: declared {declared} (OID {oid}), {sent}", i + 1);
    }
    let _ = writeln!(
        s,
        "    routed:   {}",
        if o.routed { "yes" } else { "no (passed through)" }
    );
    if let Some(x) = &o.explain {
        let _ = writeln!(s, "    explain:  {x}");
    }
    let _ = writeln!(s, "    direct:   {}", answer_text(&o.direct));
    let _ = writeln!(s, "    proxy:    {}", answer_text(&o.proxy));
    if let (Some(d), Some(p)) = (&o.direct.contents, &o.proxy.contents) {
        for l in missing(d, p) {
            let _ = writeln!(s, "    only direct: {l}");
        }
        for l in missing(p, d) {
            let _ = writeln!(s, "    only proxy:  {l}");
        }
    }
    s
}

/// Mismatching cases in full, chosen to show as many different bugs as
/// possible: the first case of each (key type, hierarchy kind, form family,
/// statement) group,
/// taken round-robin over key types (most mismatches first), each key
/// type's groups most frequent first; `n` in all.
pub fn first_mismatches(cases: &[Case], outcomes: &[Outcome], n: usize) -> String {
    let mut groups: BTreeMap<(String, String), (usize, &Outcome)> = BTreeMap::new();
    for o in outcomes.iter().filter(|o| o.verdict == Verdict::Mismatch) {
        let c = &cases[o.case];
        let key = c.hier.targets[0].key.label.to_owned();
        let group = format!("{} {} {}", c.hier.kind, c.form.family(), c.stmt.label());
        groups.entry((key, group)).or_insert((0, o)).0 += 1;
    }
    let mut per_key: BTreeMap<String, Vec<(usize, &Outcome)>> = BTreeMap::new();
    for ((key, _), first) in groups {
        per_key.entry(key).or_default().push(first);
    }
    let mut keys: Vec<(usize, Vec<(usize, &Outcome)>)> = per_key
        .into_values()
        .map(|mut g| {
            g.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.case.cmp(&b.1.case)));
            (g.iter().map(|x| x.0).sum(), g)
        })
        .collect();
    keys.sort_by_key(|k| std::cmp::Reverse(k.0));
    let mut s = String::new();
    let mut shown = 0;
    for round in 0.. {
        let before = shown;
        for (_, g) in &keys {
            if let Some((_, o)) = g.get(round) {
                if shown < n {
                    s.push_str(&case_text(&cases[o.case], o));
                    shown += 1;
                }
            }
        }
        if shown == before || shown >= n {
            break;
        }
    }
    s
}
