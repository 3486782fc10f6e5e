//! Key sets written out for people: the bounds `SHOW PARTITIONS` and the
//! status page show for each child.

use std::fmt;

use super::{Bound, Interval, KeyPredicate, KeySet};

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let (Bound::Included(a), Bound::Included(b)) = (&self.lo, &self.hi) {
            if a == b {
                return write!(f, "{a}");
            }
        }
        match &self.lo {
            Bound::Unbounded => f.write_str("(-inf")?,
            Bound::Included(v) => write!(f, "[{v}")?,
            Bound::Excluded(v) => write!(f, "({v}")?,
        }
        match &self.hi {
            Bound::Unbounded => f.write_str(", +inf)"),
            Bound::Included(v) => write!(f, ", {v}]"),
            Bound::Excluded(v) => write!(f, ", {v})"),
        }
    }
}

impl fmt::Display for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let intervals = self.ranges.intervals();
        if self.ranges.is_all() {
            if self.modulo.is_none() {
                f.write_str("any value")?;
            }
        } else if intervals.is_empty() {
            f.write_str("no value")?;
        } else {
            for (i, iv) in intervals.iter().enumerate() {
                if i > 0 {
                    f.write_str(" or ")?;
                }
                write!(f, "{iv}")?;
            }
        }
        if let Some(m) = &self.modulo {
            if !self.ranges.is_all() {
                f.write_str(" and ")?;
            }
            let residues: Vec<String> = m.residues.iter().map(i64::to_string).collect();
            write!(f, "modulus {} remainder {}", m.modulus, residues.join("|"))?;
        }
        Ok(())
    }
}

impl fmt::Display for KeyPredicate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let values = !self.values.is_empty();
        if values {
            write!(f, "{}", self.values)?;
        }
        if self.null.may_pass() {
            f.write_str(if values { " or NULL" } else { "NULL" })?;
        } else if !values {
            f.write_str("no value")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{KeyValue, RangeSet};
    use super::*;

    #[test]
    fn bounds_read_like_ranges() {
        let iv = Interval::new(Bound::Included(KeyValue::Int(1)), Bound::Excluded(KeyValue::Int(10)));
        let set = KeySet {
            ranges: RangeSet::from_intervals(iv.into_iter().collect()),
            modulo: None,
        };
        // Integer bounds are kept closed: [1, 10) reads as [1, 9].
        assert_eq!(set.to_string(), "[1, 9]");
        assert_eq!(Interval::point(KeyValue::Int(7)).to_string(), "7");
        assert_eq!(KeySet::all().to_string(), "any value");
        let lo = Interval::new(Bound::Unbounded, Bound::Excluded(KeyValue::Text("m".into())));
        assert_eq!(lo.map(|i| i.to_string()).as_deref(), Some("(-inf, m)"));
    }
}
