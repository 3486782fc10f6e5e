//! The proxy-named prepared statements that exist on one server connection,
//! least recently used first out: a hot statement stays prepared, and the
//! connection holds a bounded number. Evicted statements are deallocated
//! when the connection is idle (a Close inside a client's pipeline would be
//! skipped if an earlier message failed), in batches so that the round trip
//! is paid once per batch, not once per eviction; until then they are still
//! there and can be used again.

use std::num::NonZeroUsize;
use std::sync::Arc;

use lru::LruCache;

/// Statements kept prepared per server connection.
pub const PREPARED_PER_SERVER: usize = 1000;
/// Evicted statements deallocated together.
pub const DEALLOCATE_BATCH: usize = 64;

/// An LRU set of statement names prepared on a server connection.
#[derive(Debug)]
pub struct PreparedOnServer {
    live: LruCache<Arc<str>, ()>,
    /// Evicted, still to be deallocated on the server.
    evicted: Vec<Arc<str>>,
    /// Deallocate once this many are evicted.
    batch: usize,
}

impl Default for PreparedOnServer {
    fn default() -> Self {
        Self::with_capacity(PREPARED_PER_SERVER, DEALLOCATE_BATCH)
    }
}

impl PreparedOnServer {
    /// A set that keeps at most `capacity` names (at least one) live, and
    /// asks for deallocation once `batch` (at least one) were evicted.
    pub fn with_capacity(capacity: usize, batch: usize) -> Self {
        PreparedOnServer {
            live: LruCache::new(NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN)),
            evicted: Vec::new(),
            batch: batch.max(1),
        }
    }

    /// Whether `name` is prepared on the server; marks it used (an evicted
    /// name not yet deallocated comes back).
    pub fn touch(&mut self, name: &str) -> bool {
        if self.live.get(name).is_some() {
            return true;
        }
        match self.evicted.iter().position(|e| &**e == name) {
            Some(at) => {
                let back = self.evicted.swap_remove(at);
                self.insert(back);
                true
            }
            None => false,
        }
    }

    /// Notes `name` as prepared; when the set is full, the least recently
    /// used name moves to the list to deallocate.
    pub fn insert(&mut self, name: Arc<str>) {
        if let Some((evicted, ())) = self.live.push(name.clone(), ()) {
            if evicted != name {
                self.evicted.push(evicted);
            }
        }
    }

    /// Forgets `name` (its Parse failed).
    pub fn remove(&mut self, name: &str) {
        self.live.pop(name);
    }

    /// Forgets everything (DISCARD ALL / DEALLOCATE ALL ran).
    pub fn clear(&mut self) {
        self.live.clear();
        self.evicted.clear();
    }

    /// The SQL deallocating the evicted statements once a batch of them
    /// is waiting; they are forgotten (run it on the idle connection).
    pub fn take_deallocation(&mut self) -> Option<String> {
        if self.evicted.len() < self.batch {
            return None;
        }
        let sql = self
            .evicted
            .drain(..)
            .map(|n| format!("DEALLOCATE {}", crate::text::quote_ident(&n)))
            .collect::<Vec<_>>()
            .join("; ");
        Some(sql)
    }

    /// How many names are prepared and not evicted.
    pub fn len(&self) -> usize {
        self.live.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_the_least_recently_used() {
        let mut set = PreparedOnServer::with_capacity(2, 1);
        set.insert("a".into());
        set.insert("b".into());
        assert!(set.touch("a"));
        set.insert("c".into());
        assert_eq!(set.len(), 2);
        // "b" was evicted but is still on the server until deallocated:
        // using it again brings it back and evicts the next one ("a").
        assert!(set.touch("b"));
        assert_eq!(set.take_deallocation().as_deref(), Some("DEALLOCATE \"a\""));
        assert_eq!(set.take_deallocation(), None);
        assert!(!set.touch("a"));
        assert!(set.touch("b") && set.touch("c"));
        // Re-noting a present name evicts nothing.
        set.insert("c".into());
        assert_eq!(set.take_deallocation(), None);
        set.remove("c");
        assert_eq!(set.len(), 1);
    }

    #[test]
    fn deallocates_in_batches() {
        let mut set = PreparedOnServer::with_capacity(1, 3);
        for name in ["a", "b", "c"] {
            set.insert(name.into());
            assert_eq!(set.take_deallocation(), None);
        }
        set.insert("d".into());
        assert_eq!(
            set.take_deallocation().as_deref(),
            Some("DEALLOCATE \"a\"; DEALLOCATE \"b\"; DEALLOCATE \"c\"")
        );
        assert_eq!(set.take_deallocation(), None);
        assert!(set.touch("d") && !set.touch("a"));
    }
}
