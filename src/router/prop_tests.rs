//! Property tests for the router: random WHERE clauses over an integer key
//! (numbers of several types, lists, ranges, NULL, three-valued logic)
//! are routed and checked against brute force: every child that holds a
//! row for which the clause can be true must be kept. And random, hostile
//! text must never make the router panic.

use proptest::prelude::*;

use super::test_catalog::legacy;
use super::*;

/// Children `[0,5)`, `[5,10)`, `[10,20)` and `k % 2 = 0 AND k >= 20`.
const CHILDREN: [&str; 4] = [
    "CHECK ((k >= 0) AND (k < 5))",
    "CHECK ((k >= 5) AND (k < 10))",
    "CHECK ((k >= 10) AND (k < 20))",
    "CHECK (((k % 2) = 0) AND (k >= 20))",
];

fn catalog() -> Catalog {
    let names: Vec<String> = (0..CHILDREN.len()).map(|i| format!("c{i}")).collect();
    let children: Vec<(&str, &str)> = names.iter().map(String::as_str).zip(CHILDREN).collect();
    legacy("p", "k", &["k", "j"], &children)
}

/// The child a key value lives in (by the CHECK constraints above).
fn home(k: i64) -> Option<usize> {
    match k {
        0..=4 => Some(0),
        5..=9 => Some(1),
        10..=19 => Some(2),
        k if k >= 20 && k % 2 == 0 => Some(3),
        _ => None,
    }
}

/// A constant: its SQL and its exact value (in halves, so 2.5 is 5).
#[derive(Debug, Clone)]
enum Lit {
    Int(i64),
    Numeric(i64),
    Float(i64),
    Text(i64),
    Null,
}

impl Lit {
    fn sql(&self) -> String {
        match self {
            Lit::Int(v) => format!("{}", v / 2),
            Lit::Numeric(v) => format!("{}::numeric", half_text(*v)),
            Lit::Float(v) => format!("{}::float8", half_text(*v)),
            Lit::Text(v) => format!("'{}'", v / 2),
            Lit::Null => "NULL".into(),
        }
    }

    /// The value in halves (`None`: NULL).
    fn halves(&self) -> Option<i64> {
        match self {
            Lit::Int(v) | Lit::Text(v) => Some(v / 2 * 2),
            Lit::Numeric(v) | Lit::Float(v) => Some(*v),
            Lit::Null => None,
        }
    }
}

/// `h / 2` written as a decimal (`-5` halves is `-2.5`).
fn half_text(h: i64) -> String {
    let sign = if h < 0 { "-" } else { "" };
    let a = h.abs();
    if a % 2 == 0 {
        format!("{sign}{}", a / 2)
    } else {
        format!("{sign}{}.5", a / 2)
    }
}

#[derive(Debug, Clone)]
enum Pred {
    Cmp(&'static str, Lit, bool),
    Between(Lit, Lit, bool),
    In(Vec<Lit>, bool),
    IsNull(bool),
    Distinct(Lit, bool),
    Other(i64),
    Not(Box<Pred>),
    And(Box<Pred>, Box<Pred>),
    Or(Box<Pred>, Box<Pred>),
}

/// Three-valued truth: Some(true), Some(false), None (NULL).
type T3 = Option<bool>;

fn cmp(op: &str, k: i64, v: i64) -> bool {
    let k = k * 2;
    match op {
        "=" => k == v,
        "<>" => k != v,
        "<" => k < v,
        "<=" => k <= v,
        ">" => k > v,
        _ => k >= v,
    }
}

impl Pred {
    fn sql(&self) -> String {
        match self {
            Pred::Cmp(op, l, false) => format!("k {op} {}", l.sql()),
            Pred::Cmp(op, l, true) => {
                let flipped = match *op {
                    "<" => ">",
                    "<=" => ">=",
                    ">" => "<",
                    ">=" => "<=",
                    o => o,
                };
                format!("{} {flipped} k", l.sql())
            }
            Pred::Between(a, b, neg) => format!(
                "k {}BETWEEN {} AND {}",
                if *neg { "NOT " } else { "" },
                a.sql(),
                b.sql()
            ),
            Pred::In(items, neg) => format!(
                "k {}IN ({})",
                if *neg { "NOT " } else { "" },
                items.iter().map(Lit::sql).collect::<Vec<_>>().join(", ")
            ),
            Pred::IsNull(neg) => format!("k IS {}NULL", if *neg { "NOT " } else { "" }),
            Pred::Distinct(l, neg) => format!("k IS {}DISTINCT FROM {}", if *neg { "NOT " } else { "" }, l.sql()),
            Pred::Other(v) => format!("j = {v}"),
            Pred::Not(p) => format!("NOT ({})", p.sql()),
            Pred::And(a, b) => format!("({}) AND ({})", a.sql(), b.sql()),
            Pred::Or(a, b) => format!("({}) OR ({})", a.sql(), b.sql()),
        }
    }

    /// The value for key `k` (`None`: NULL) and other column `j`.
    fn eval(&self, k: Option<i64>, j: Option<i64>) -> T3 {
        match self {
            Pred::Cmp(op, l, _) => Some(cmp(op, k?, l.halves()?)),
            Pred::Between(a, b, neg) => {
                let (k, a, b) = (k? * 2, a.halves(), b.halves());
                let ge = a.map(|a| k >= a);
                let le = b.map(|b| k <= b);
                let both = and3(ge, le);
                if *neg {
                    not3(both)
                } else {
                    both
                }
            }
            Pred::In(items, neg) => {
                let mut out = Some(false);
                for l in items {
                    let equal = match (k, l.halves()) {
                        (Some(k), Some(v)) => Some(k * 2 == v),
                        _ => None,
                    };
                    out = or3(out, equal);
                }
                if *neg {
                    not3(out)
                } else {
                    out
                }
            }
            Pred::IsNull(neg) => Some(k.is_none() != *neg),
            Pred::Distinct(l, neg) => {
                let same = match (k, l.halves()) {
                    (None, None) => true,
                    (Some(k), Some(v)) => k * 2 == v,
                    _ => false,
                };
                Some(same == *neg)
            }
            Pred::Other(v) => Some(j? == *v),
            Pred::Not(p) => not3(p.eval(k, j)),
            Pred::And(a, b) => and3(a.eval(k, j), b.eval(k, j)),
            Pred::Or(a, b) => or3(a.eval(k, j), b.eval(k, j)),
        }
    }
}

fn not3(a: T3) -> T3 {
    a.map(|v| !v)
}

fn and3(a: T3, b: T3) -> T3 {
    match (a, b) {
        (Some(false), _) | (_, Some(false)) => Some(false),
        (Some(true), Some(true)) => Some(true),
        _ => None,
    }
}

fn or3(a: T3, b: T3) -> T3 {
    match (a, b) {
        (Some(true), _) | (_, Some(true)) => Some(true),
        (Some(false), Some(false)) => Some(false),
        _ => None,
    }
}

fn lit() -> impl Strategy<Value = Lit> {
    // Halves from -4 to 46: around every bound, integers and x.5.
    prop_oneof![
        (-4i64..46).prop_map(|h| Lit::Int(h / 2 * 2)),
        (-4i64..46).prop_map(Lit::Numeric),
        (-4i64..46).prop_map(Lit::Float),
        (-4i64..46).prop_map(|h| Lit::Text(h / 2 * 2)),
        Just(Lit::Null),
    ]
}

fn op() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just("="), Just("<>"), Just("<"), Just("<="), Just(">"), Just(">=")]
}

fn pred() -> impl Strategy<Value = Pred> {
    let leaf = prop_oneof![
        (op(), lit(), any::<bool>()).prop_map(|(o, l, f)| Pred::Cmp(o, l, f)),
        (lit(), lit(), any::<bool>()).prop_map(|(a, b, n)| Pred::Between(a, b, n)),
        (proptest::collection::vec(lit(), 1..4), any::<bool>()).prop_map(|(l, n)| Pred::In(l, n)),
        any::<bool>().prop_map(Pred::IsNull),
        (lit(), any::<bool>()).prop_map(|(l, n)| Pred::Distinct(l, n)),
        (0i64..2).prop_map(Pred::Other),
    ];
    leaf.prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|p| Pred::Not(Box::new(p))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Pred::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner).prop_map(|(a, b)| Pred::Or(Box::new(a), Box::new(b))),
        ]
    })
}

/// The children the router keeps for `where_` (all of them when it does
/// not narrow).
fn kept(c: &Catalog, where_: &str) -> Vec<usize> {
    let path = vec!["public".to_owned()];
    let view = SessionView::new(&path, "app", TimeZoneRule::Utc);
    match route(&format!("SELECT * FROM p WHERE {where_}"), c, &view) {
        Route::Rewrite { targets, .. } => targets[0]
            .children
            .iter()
            .filter_map(|t| t.name.strip_prefix('c').and_then(|n| n.parse().ok()))
            .collect(),
        Route::Passthrough(_) => (0..CHILDREN.len()).collect(),
        other => panic!("{other:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn every_child_holding_a_matching_row_is_kept(p in pred()) {
        let c = catalog();
        let kept = kept(&c, &p.sql());
        for k in -3i64..30 {
            for j in [Some(0), Some(1), None] {
                if p.eval(Some(k), j) == Some(true) {
                    if let Some(h) = home(k) {
                        prop_assert!(kept.contains(&h), "k = {k}, j = {j:?}: child {h} dropped for {}", p.sql());
                    }
                }
            }
        }
        // A NULL key passes every CHECK: any child may hold it.
        if [Some(0), Some(1), None].iter().any(|j| p.eval(None, *j) == Some(true)) {
            prop_assert_eq!(kept.len(), CHILDREN.len(), "NULL keys dropped for {}", p.sql());
        }
    }

    #[test]
    fn hostile_text_never_panics(s in "\\PC{0,200}", deep in 0usize..3000) {
        let c = catalog();
        let path = vec!["public".to_owned()];
        let view = SessionView::new(&path, "app", TimeZoneRule::Utc);
        let _ = route(&format!("SELECT * FROM p WHERE {s}"), &c, &view);
        let _ = route(&format!("INSERT INTO p VALUES ({s})"), &c, &view);
        let _ = route(&format!("SELECT * FROM p WHERE {}k = 1{}", "(".repeat(deep), ")".repeat(deep)), &c, &view);
        let _ = route(&format!("SELECT * FROM p WHERE k = 1{}", " OR k = 2".repeat(deep)), &c, &view);
        let _ = route(&format!("SELECT * FROM p WHERE k = 1{}", "::int".repeat(deep)), &c, &view);
    }
}
