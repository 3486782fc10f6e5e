//! Reading gathered metric families back: the admin console and the status
//! page show the same figures `/metrics` exports, taken from one gather.

use prometheus::proto::{MetricFamily, MetricType};

/// One sample: its labels and value (a histogram's value is its count).
#[derive(Debug, Clone)]
pub struct Sample<'a> {
    metric: &'a prometheus::proto::Metric,
    kind: MetricType,
}

impl Sample<'_> {
    /// A label's value ("" when absent).
    pub fn label(&self, name: &str) -> &str {
        self.metric
            .get_label()
            .iter()
            .find(|l| l.name() == name)
            .map_or("", |l| l.value())
    }

    /// The counter or gauge value, or the histogram's count.
    pub fn value(&self) -> f64 {
        match self.kind {
            MetricType::COUNTER => self.metric.get_counter().get_value(),
            MetricType::GAUGE => self.metric.get_gauge().get_value(),
            MetricType::HISTOGRAM => self.metric.get_histogram().get_sample_count() as f64,
            _ => 0.0,
        }
    }

    /// A histogram's sum.
    pub fn sum(&self) -> f64 {
        self.metric.get_histogram().get_sample_sum()
    }

    /// A histogram's (upper bound, cumulative count) pairs, ending with +Inf.
    pub fn buckets(&self) -> Vec<(f64, u64)> {
        let h = self.metric.get_histogram();
        let mut out: Vec<(f64, u64)> = h
            .get_bucket()
            .iter()
            .map(|b| (b.upper_bound(), b.cumulative_count()))
            .collect();
        out.push((f64::INFINITY, h.get_sample_count()));
        out
    }
}

/// The samples of the family `name`.
pub fn samples<'a>(families: &'a [MetricFamily], name: &str) -> Vec<Sample<'a>> {
    families
        .iter()
        .filter(|f| f.name() == name)
        .flat_map(|f| {
            let kind = f.get_field_type();
            f.get_metric().iter().map(move |metric| Sample { metric, kind })
        })
        .collect()
}

/// The sum of the values of `name` whose labels match every `(label, value)`.
pub fn total(families: &[MetricFamily], name: &str, matching: &[(&str, &str)]) -> f64 {
    samples(families, name)
        .iter()
        .filter(|s| matching.iter().all(|(k, v)| s.label(k) == *v))
        .map(Sample::value)
        .sum()
}

/// The `q` quantile of merged histogram buckets, interpolated inside the
/// bucket as Prometheus's `histogram_quantile` does.
pub fn quantile(buckets: &[(f64, u64)], q: f64) -> Option<f64> {
    let count = buckets.last().map(|b| b.1)?;
    if count == 0 {
        return None;
    }
    let rank = q * count as f64;
    let mut below = (0.0, 0u64);
    for &(bound, cumulative) in buckets {
        if cumulative as f64 >= rank {
            if bound.is_infinite() {
                // Beyond the last finite bucket: its bound, as Prometheus says.
                return Some(below.0);
            }
            let inside = (cumulative - below.1) as f64;
            let frac = if inside > 0.0 {
                (rank - below.1 as f64) / inside
            } else {
                0.0
            };
            return Some(below.0 + (bound - below.0) * frac);
        }
        below = (bound, cumulative);
    }
    Some(below.0)
}

/// Buckets of several histograms added up (same bounds).
pub fn merge_buckets<'a>(samples: impl Iterator<Item = &'a Sample<'a>>) -> Vec<(f64, u64)> {
    let mut merged: Vec<(f64, u64)> = Vec::new();
    for s in samples {
        let b = s.buckets();
        if merged.is_empty() {
            merged = b;
        } else {
            for (m, (_, c)) in merged.iter_mut().zip(b) {
                m.1 += c;
            }
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_inside_buckets() {
        let b = [(1.0, 0), (2.0, 10), (4.0, 20), (f64::INFINITY, 20)];
        assert_eq!(quantile(&b, 0.5), Some(2.0));
        assert_eq!(quantile(&b, 0.25), Some(1.5));
        assert_eq!(quantile(&b, 0.75), Some(3.0));
        assert_eq!(quantile(&[(1.0, 0), (f64::INFINITY, 0)], 0.5), None);
        assert_eq!(quantile(&[(1.0, 0), (f64::INFINITY, 5)], 0.5), Some(1.0));
    }
}
