//! Parsed statements by text, shared by all sessions, so a prepared
//! statement is parsed once however often (and by whomever) it is bound.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use dashmap::DashMap;

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
    hits: AtomicU64,
    misses: AtomicU64,
}

impl ParseCache {
    /// A cache holding about `budget` bytes.
    pub fn new(budget: usize) -> ParseCache {
        ParseCache {
            map: DashMap::new(),
            bytes: AtomicUsize::new(0),
            budget,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The parsed form of `sql`, parsing it on a miss.
    pub fn get(&self, sql: &str) -> Arc<Parsed> {
        if let Some(p) = self.map.get(sql) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return p.clone();
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
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
        (self.hits.load(Ordering::Relaxed), self.misses.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_misses_and_budget() {
        let c = ParseCache::new(1000);
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
