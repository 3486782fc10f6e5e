//! Parsed statements by text, shared by all sessions, so a prepared
//! statement is parsed once however often (and by whomever) it is bound.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use dashmap::DashMap;
use prometheus::IntCounter;

use super::Parsed;

/// Rough bytes an AST takes per byte of SQL text.
const AST_BYTES_PER_TEXT_BYTE: usize = 8;

/// A parse cache bounded in (estimated) bytes. When full it is emptied:
/// simple, and a working set that fits is re-parsed once.
#[derive(Debug)]
pub struct ParseCache {
    map: DashMap<Arc<str>, Arc<Parsed>>,
    bytes: AtomicUsize,
    budget: usize,
    hits: IntCounter,
    misses: IntCounter,
}

impl ParseCache {
    /// A cache holding about `budget` bytes, counting into `hits` and `misses`.
    pub fn new(budget: usize, hits: IntCounter, misses: IntCounter) -> ParseCache {
        ParseCache {
            map: DashMap::new(),
            bytes: AtomicUsize::new(0),
            budget,
            hits,
            misses,
        }
    }

    /// The parsed form of `sql`, parsing it on a miss.
    pub fn get(&self, sql: &str) -> Arc<Parsed> {
        if let Some(p) = self.map.get(sql) {
            self.hits.inc();
            return p.clone();
        }
        self.misses.inc();
        let parsed = Arc::new(Parsed::new(sql));
        let cost = sql.len() * (1 + AST_BYTES_PER_TEXT_BYTE);
        if cost > self.budget {
            return parsed;
        }
        if self.bytes.fetch_add(cost, Ordering::Relaxed) + cost > self.budget {
            self.map.clear();
            self.bytes.store(cost, Ordering::Relaxed);
        }
        self.map.insert(sql.into(), parsed.clone());
        parsed
    }

    /// (hits, misses) so far.
    pub fn counts(&self) -> (u64, u64) {
        (self.hits.get(), self.misses.get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_misses_and_budget() {
        let counter = |n: &str| IntCounter::new(n, n).unwrap();
        let c = ParseCache::new(1000, counter("h"), counter("m"));
        let a = c.get("SELECT 1");
        let b = c.get("SELECT 1");
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(c.counts(), (1, 1));
        // Filling past the budget empties the cache rather than growing it.
        for i in 0..100 {
            c.get(&format!("SELECT {i}"));
        }
        assert!(c.map.len() < 20);
        assert!(c.bytes.load(Ordering::Relaxed) <= 1000);
    }
}
