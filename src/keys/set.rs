//! Sets of key values: unions of intervals, optionally filtered by a modulo
//! bucket (`key % N IN (r, ...)`), with the operations the analysis needs.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use super::value::KeyValue;

/// One end of an interval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bound {
    /// No limit on this side.
    Unbounded,
    /// The value itself belongs to the interval.
    Included(KeyValue),
    /// The interval stops just short of the value.
    Excluded(KeyValue),
}

/// A non-empty interval of key values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interval {
    /// Lower end.
    pub lo: Bound,
    /// Upper end.
    pub hi: Bound,
}

fn cmp_lo(a: &Bound, b: &Bound) -> Ordering {
    match (a, b) {
        (Bound::Unbounded, Bound::Unbounded) => Ordering::Equal,
        (Bound::Unbounded, _) => Ordering::Less,
        (_, Bound::Unbounded) => Ordering::Greater,
        (Bound::Included(x), Bound::Included(y)) | (Bound::Excluded(x), Bound::Excluded(y)) => x.cmp(y),
        (Bound::Included(x), Bound::Excluded(y)) => x.cmp(y).then(Ordering::Less),
        (Bound::Excluded(x), Bound::Included(y)) => x.cmp(y).then(Ordering::Greater),
    }
}

fn cmp_hi(a: &Bound, b: &Bound) -> Ordering {
    match (a, b) {
        (Bound::Unbounded, Bound::Unbounded) => Ordering::Equal,
        (Bound::Unbounded, _) => Ordering::Greater,
        (_, Bound::Unbounded) => Ordering::Less,
        (Bound::Included(x), Bound::Included(y)) | (Bound::Excluded(x), Bound::Excluded(y)) => x.cmp(y),
        (Bound::Included(x), Bound::Excluded(y)) => x.cmp(y).then(Ordering::Greater),
        (Bound::Excluded(x), Bound::Included(y)) => x.cmp(y).then(Ordering::Less),
    }
}

/// True when some value lies at or above `lo` and at or below `hi`.
fn non_empty(lo: &Bound, hi: &Bound) -> bool {
    match (lo, hi) {
        (Bound::Unbounded, _) | (_, Bound::Unbounded) => true,
        (Bound::Included(a), Bound::Included(b)) => a <= b,
        (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b) | Bound::Excluded(b)) => a < b,
    }
}

/// True when an interval ending at `hi` and one starting at `lo` leave no gap.
fn touches(hi: &Bound, lo: &Bound) -> bool {
    match (hi, lo) {
        (Bound::Unbounded, _) | (_, Bound::Unbounded) => true,
        (Bound::Included(a), Bound::Included(b)) => b <= a || a.successor().as_ref() == Some(b),
        (Bound::Excluded(a), Bound::Excluded(b)) => b < a,
        (Bound::Included(a), Bound::Excluded(b)) | (Bound::Excluded(a), Bound::Included(b)) => b <= a,
    }
}

fn flip(b: &Bound) -> Bound {
    match b {
        Bound::Unbounded => Bound::Unbounded,
        Bound::Included(v) => Bound::Excluded(v.clone()),
        Bound::Excluded(v) => Bound::Included(v.clone()),
    }
}

impl Interval {
    /// Builds an interval, turning exclusive ends of discrete types into
    /// inclusive ones; `None` when it holds no value.
    pub fn new(lo: Bound, hi: Bound) -> Option<Interval> {
        let lo = match lo {
            Bound::Excluded(v) => match v.successor() {
                Some(s) => Bound::Included(s),
                None if v.predecessor().is_some() => return None, // above the top of the type
                None => Bound::Excluded(v),
            },
            other => other,
        };
        let hi = match hi {
            Bound::Excluded(v) => match v.predecessor() {
                Some(p) => Bound::Included(p),
                None if v.successor().is_some() => return None,
                None => Bound::Excluded(v),
            },
            other => other,
        };
        non_empty(&lo, &hi).then_some(Interval { lo, hi })
    }

    /// The single value `v`.
    pub fn point(v: KeyValue) -> Interval {
        Interval {
            lo: Bound::Included(v.clone()),
            hi: Bound::Included(v),
        }
    }

    /// Every value.
    pub fn all() -> Interval {
        Interval {
            lo: Bound::Unbounded,
            hi: Bound::Unbounded,
        }
    }

    /// The values both intervals hold.
    pub fn intersect(&self, other: &Interval) -> Option<Interval> {
        let lo = if cmp_lo(&self.lo, &other.lo) == Ordering::Less {
            &other.lo
        } else {
            &self.lo
        };
        let hi = if cmp_hi(&self.hi, &other.hi) == Ordering::Greater {
            &other.hi
        } else {
            &self.hi
        };
        non_empty(lo, hi).then(|| Interval {
            lo: lo.clone(),
            hi: hi.clone(),
        })
    }

    /// True when `v` lies in the interval.
    pub fn contains(&self, v: &KeyValue) -> bool {
        let above = match &self.lo {
            Bound::Unbounded => true,
            Bound::Included(l) => v >= l,
            Bound::Excluded(l) => v > l,
        };
        let below = match &self.hi {
            Bound::Unbounded => true,
            Bound::Included(h) => v <= h,
            Bound::Excluded(h) => v < h,
        };
        above && below
    }

    /// Compares by lower end (for sorting and binary search).
    pub fn cmp_start(&self, other: &Interval) -> Ordering {
        cmp_lo(&self.lo, &other.lo)
    }

    /// True when this interval lies entirely below `other`.
    pub fn is_before(&self, other: &Interval) -> bool {
        !non_empty(&other.lo, &self.hi)
    }
}

/// A union of disjoint intervals, sorted by lower end.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RangeSet {
    intervals: Vec<Interval>,
}

impl RangeSet {
    /// No values.
    pub fn empty() -> RangeSet {
        RangeSet::default()
    }

    /// Every value.
    pub fn all() -> RangeSet {
        RangeSet {
            intervals: vec![Interval::all()],
        }
    }

    /// The union of any intervals.
    pub fn from_intervals(mut intervals: Vec<Interval>) -> RangeSet {
        intervals.sort_by(|a, b| a.cmp_start(b));
        let mut merged: Vec<Interval> = Vec::with_capacity(intervals.len());
        for iv in intervals {
            match merged.last_mut() {
                Some(last) if touches(&last.hi, &iv.lo) => {
                    if cmp_hi(&iv.hi, &last.hi) == Ordering::Greater {
                        last.hi = iv.hi;
                    }
                }
                _ => merged.push(iv),
            }
        }
        RangeSet { intervals: merged }
    }

    /// The intervals, sorted and disjoint.
    pub fn intervals(&self) -> &[Interval] {
        &self.intervals
    }

    /// True when the set holds no value.
    pub fn is_empty(&self) -> bool {
        self.intervals.is_empty()
    }

    /// True when the set is every value.
    pub fn is_all(&self) -> bool {
        self.intervals.len() == 1 && self.intervals[0] == Interval::all()
    }

    /// Values in either set.
    pub fn union(&self, other: &RangeSet) -> RangeSet {
        let mut all = self.intervals.clone();
        all.extend(other.intervals.iter().cloned());
        RangeSet::from_intervals(all)
    }

    /// Values in both sets.
    pub fn intersect(&self, other: &RangeSet) -> RangeSet {
        let (mut i, mut j) = (0, 0);
        let mut out = Vec::new();
        while i < self.intervals.len() && j < other.intervals.len() {
            let (a, b) = (&self.intervals[i], &other.intervals[j]);
            if let Some(x) = a.intersect(b) {
                out.push(x);
            }
            if cmp_hi(&a.hi, &b.hi) == Ordering::Less {
                i += 1;
            } else {
                j += 1;
            }
        }
        RangeSet { intervals: out }
    }

    /// Values not in the set.
    pub fn complement(&self) -> RangeSet {
        let mut out = Vec::new();
        let mut lo = Bound::Unbounded;
        let mut open_start = true;
        for iv in &self.intervals {
            if !(open_start && iv.lo == Bound::Unbounded) {
                if let Some(gap) = Interval::new(lo.clone(), flip(&iv.lo)) {
                    out.push(gap);
                }
            }
            open_start = false;
            if iv.hi == Bound::Unbounded {
                return RangeSet { intervals: out };
            }
            lo = flip(&iv.hi);
        }
        if let Some(gap) = Interval::new(lo, Bound::Unbounded) {
            out.push(gap);
        }
        RangeSet { intervals: out }
    }

    /// True when the two sets share a value.
    pub fn overlaps(&self, other: &RangeSet) -> bool {
        let (mut i, mut j) = (0, 0);
        while i < self.intervals.len() && j < other.intervals.len() {
            let (a, b) = (&self.intervals[i], &other.intervals[j]);
            if a.intersect(b).is_some() {
                return true;
            }
            if cmp_hi(&a.hi, &b.hi) == Ordering::Less {
                i += 1;
            } else {
                j += 1;
            }
        }
        false
    }

    /// True when `v` is in the set.
    pub fn contains(&self, v: &KeyValue) -> bool {
        self.intervals.iter().any(|iv| iv.contains(v))
    }
}

/// `key % modulus` is one of `residues` (PostgreSQL's `%` truncates toward
/// zero, so negative keys give negative residues, as Rust's `%` does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Modulo {
    /// The divisor, never zero.
    pub modulus: i64,
    /// Allowed remainders.
    pub residues: BTreeSet<i64>,
}

fn gcd(a: i64, b: i64) -> i64 {
    let (mut a, mut b) = (a.unsigned_abs(), b.unsigned_abs());
    while b != 0 {
        (a, b) = (b, a % b);
    }
    i64::try_from(a).unwrap_or(i64::MAX)
}

impl Modulo {
    /// False when no integer can fall in a bucket of both (the usual case:
    /// sibling children of one modulo scheme). By the Chinese remainder
    /// theorem `v % m1 = r1` and `v % m2 = r2` have a common solution when
    /// `r1 ≡ r2 (mod gcd(m1, m2))`; residues of negative values are negative,
    /// so only residues of compatible signs can meet.
    pub fn may_share_a_value(&self, other: &Modulo) -> bool {
        let g = gcd(self.modulus, other.modulus).max(1);
        self.residues.iter().any(|&r1| {
            other.residues.iter().any(|&r2| {
                let signs_meet = (r1 >= 0 && r2 >= 0) || (r1 <= 0 && r2 <= 0);
                signs_meet && (r1 - r2).rem_euclid(g) == 0
            })
        })
    }

    /// True when the integer value falls in one of the buckets.
    pub fn admits(&self, v: &KeyValue) -> bool {
        match v {
            KeyValue::Int(i) => self.residues.contains(&(i % self.modulus)),
            _ => true,
        }
    }
}

/// A set of key values: a range set, optionally narrowed by modulo buckets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySet {
    /// Values within these ranges...
    pub ranges: RangeSet,
    /// ...that also fall in these buckets, when set.
    pub modulo: Option<Modulo>,
}

/// Values enumerated at most when checking modulo buckets against a range.
const ENUMERATION_LIMIT: i64 = 4096;

impl KeySet {
    /// Every value.
    pub fn all() -> KeySet {
        KeySet::from(RangeSet::all())
    }

    /// No value.
    pub fn empty() -> KeySet {
        KeySet::from(RangeSet::empty())
    }

    /// True when no value can be in the set.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty() || self.modulo.as_ref().is_some_and(|m| m.residues.is_empty())
    }

    /// True when the set does not restrict anything.
    pub fn is_all(&self) -> bool {
        self.modulo.is_none() && self.ranges.is_all()
    }

    /// Values in both; the flag says whether the result is exact (it is a
    /// superset when two different moduli meet).
    pub fn intersect(&self, other: &KeySet) -> (KeySet, bool) {
        let ranges = self.ranges.intersect(&other.ranges);
        let (modulo, exact) = match (&self.modulo, &other.modulo) {
            (None, None) => (None, true),
            (Some(m), None) | (None, Some(m)) => (Some(m.clone()), true),
            (Some(a), Some(b)) if a.modulus == b.modulus => (
                Some(Modulo {
                    modulus: a.modulus,
                    residues: a.residues.intersection(&b.residues).copied().collect(),
                }),
                true,
            ),
            (Some(a), Some(_)) => (Some(a.clone()), false),
        };
        (KeySet { ranges, modulo }, exact)
    }

    /// Values in either; the flag says whether the result is exact.
    pub fn union(&self, other: &KeySet) -> (KeySet, bool) {
        let ranges = self.ranges.union(&other.ranges);
        match (&self.modulo, &other.modulo) {
            (None, None) => (KeySet { ranges, modulo: None }, true),
            (Some(a), Some(b))
                if a.modulus == b.modulus && (a.residues == b.residues || self.ranges == other.ranges) =>
            {
                let residues = a.residues.union(&b.residues).copied().collect();
                let modulo = Some(Modulo {
                    modulus: a.modulus,
                    residues,
                });
                (KeySet { ranges, modulo }, true)
            }
            // Over-approximate: drop the bucket filter.
            _ => (KeySet { ranges, modulo: None }, false),
        }
    }

    /// Values not in the set, when that can be stated exactly.
    pub fn complement(&self) -> Option<KeySet> {
        match &self.modulo {
            None => Some(KeySet::from(self.ranges.complement())),
            Some(_) => None,
        }
    }

    /// True when `v` is in the set.
    pub fn contains(&self, v: &KeyValue) -> bool {
        self.ranges.contains(v) && self.modulo.as_ref().is_none_or(|m| m.admits(v))
    }

    /// True when the two sets may share a value. Exact for ranges; with
    /// modulo buckets, exact for small integer ranges and `true` otherwise.
    pub fn overlaps(&self, other: &KeySet) -> bool {
        if self.modulo.is_none() && other.modulo.is_none() {
            return self.ranges.overlaps(&other.ranges);
        }
        if let (Some(a), Some(b)) = (&self.modulo, &other.modulo) {
            if !a.may_share_a_value(b) {
                return false;
            }
        }
        let common = self.ranges.intersect(&other.ranges);
        let mut budget = ENUMERATION_LIMIT;
        for iv in common.intervals() {
            let (Bound::Included(KeyValue::Int(lo)), Bound::Included(KeyValue::Int(hi))) = (&iv.lo, &iv.hi) else {
                return true;
            };
            let span = hi.saturating_sub(*lo).saturating_add(1);
            if span > budget {
                return true;
            }
            budget -= span;
            for i in *lo..=*hi {
                let v = KeyValue::Int(i);
                if self.modulo.as_ref().is_none_or(|m| m.admits(&v))
                    && other.modulo.as_ref().is_none_or(|m| m.admits(&v))
                {
                    return true;
                }
            }
        }
        false
    }
}

impl From<RangeSet> for KeySet {
    fn from(ranges: RangeSet) -> KeySet {
        KeySet { ranges, modulo: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(v: i64) -> KeyValue {
        KeyValue::Int(v)
    }

    fn range(lo: i64, hi_excl: i64) -> RangeSet {
        RangeSet::from_intervals(
            Interval::new(Bound::Included(int(lo)), Bound::Excluded(int(hi_excl)))
                .into_iter()
                .collect(),
        )
    }

    fn text(s: &str) -> KeyValue {
        KeyValue::Text(s.into())
    }

    #[test]
    fn discrete_bounds_normalise() {
        let iv = Interval::new(Bound::Excluded(int(5)), Bound::Excluded(int(7))).unwrap();
        assert_eq!(iv, Interval::point(int(6)));
        assert!(Interval::new(Bound::Excluded(int(5)), Bound::Excluded(int(6))).is_none());
        assert!(Interval::new(Bound::Excluded(int(i64::MAX)), Bound::Unbounded).is_none());
        // Dense types keep open ends.
        let t = Interval::new(Bound::Excluded(text("a")), Bound::Excluded(text("b"))).unwrap();
        assert!(!t.contains(&text("a")) && t.contains(&text("a0")) && !t.contains(&text("b")));
    }

    #[test]
    fn union_merges_adjacent_and_overlapping() {
        let s = range(0, 10)
            .union(&range(10, 20))
            .union(&range(30, 40))
            .union(&range(5, 12));
        assert_eq!(s, range(0, 20).union(&range(30, 40)));
        assert_eq!(s.intervals().len(), 2);
    }

    #[test]
    fn intersect_and_overlap() {
        let a = range(0, 10).union(&range(20, 30));
        let b = range(8, 22);
        assert_eq!(a.intersect(&b), range(8, 10).union(&range(20, 22)));
        assert!(a.overlaps(&b));
        assert!(!range(0, 10).overlaps(&range(10, 20)));
    }

    #[test]
    fn complement_round_trips() {
        let a = range(0, 10).union(&range(20, 30));
        let c = a.complement();
        assert!(c.contains(&int(-1)) && c.contains(&int(10)) && c.contains(&int(19)) && c.contains(&int(30)));
        assert!(!c.contains(&int(0)) && !c.contains(&int(29)));
        assert_eq!(c.complement(), a);
        assert!(RangeSet::all().complement().is_empty());
        assert!(RangeSet::empty().complement().is_all());
        // Not equal to 5 is everything but the point.
        let ne5 = RangeSet::from_intervals(vec![Interval::point(int(5))]).complement();
        assert!(ne5.contains(&int(4)) && !ne5.contains(&int(5)) && ne5.contains(&int(6)));
    }

    #[test]
    fn modulo_buckets() {
        let bucket = |r: i64| KeySet {
            ranges: RangeSet::all(),
            modulo: Some(Modulo {
                modulus: 4,
                residues: [r].into_iter().collect(),
            }),
        };
        let one = bucket(1);
        assert!(one.contains(&int(5)) && !one.contains(&int(6)));
        // -3 % 4 is -3 in PostgreSQL: not in bucket 1.
        assert!(!one.contains(&int(-3)));
        let point = |v| KeySet::from(RangeSet::from_intervals(vec![Interval::point(int(v))]));
        assert!(one.overlaps(&point(9)));
        assert!(!one.overlaps(&point(10)));
        assert!(!one.overlaps(&KeySet::from(range(6, 9))));
        assert!(one.overlaps(&KeySet::all()));
        let (both, exact) = one.intersect(&bucket(2));
        assert!(exact && both.is_empty());
        let (either, exact) = one.union(&bucket(2));
        assert!(exact && either.contains(&int(6)) && !either.contains(&int(7)));
        assert!(one.complement().is_none());
        // Sibling buckets never share a value; 0 is in bucket 0 of every modulus.
        assert!(!one.overlaps(&bucket(2)) && !bucket(0).overlaps(&bucket(3)));
        let mod2 = |r: i64| KeySet {
            ranges: RangeSet::all(),
            modulo: Some(Modulo {
                modulus: 2,
                residues: [r].into_iter().collect(),
            }),
        };
        assert!(one.overlaps(&mod2(1)) && !one.overlaps(&mod2(0)));
        assert!(bucket(0).overlaps(&mod2(0)));
        // -1 % 4 = -1 and -1 % 2 = -1 meet; -1 and 1 never do.
        assert!(bucket(-1).overlaps(&mod2(-1)) && !bucket(-1).overlaps(&mod2(1)));
    }
}
