//! Named prepared statements in transaction pooling: every distinct
//! (SQL, parameter types) gets one proxy-chosen name, shared by all clients, so a
//! server connection prepares it once whoever asks.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use dashmap::DashMap;

use crate::protocol;

/// A statement as prepared on servers.
#[derive(Debug)]
pub struct Statement {
    /// The proxy-chosen name used on every server connection.
    pub server_name: Arc<str>,
    /// A ready-to-send Parse message under `server_name`.
    pub parse: Bytes,
}

/// All statements seen, keyed by their Parse body after the client's name.
#[derive(Debug, Default)]
pub struct StatementRegistry {
    by_text: DashMap<Box<[u8]>, Arc<Statement>>,
    next: AtomicU64,
}

impl StatementRegistry {
    /// The shared statement for this SQL text and parameter-type section.
    pub fn intern(&self, query: &str, rest: &[u8]) -> Arc<Statement> {
        let mut key = Vec::with_capacity(query.len() + 1 + rest.len());
        key.extend_from_slice(query.as_bytes());
        key.push(0);
        key.extend_from_slice(rest);
        if let Some(s) = self.by_text.get(key.as_slice()) {
            return s.clone();
        }
        self.by_text
            .entry(key.into_boxed_slice())
            .or_insert_with(|| {
                let id = self.next.fetch_add(1, Ordering::Relaxed);
                let server_name: Arc<str> = format!("partproxy_s{id}").into();
                let mut parse = BytesMut::new();
                protocol::put_parse(&mut parse, &server_name, query, rest);
                Arc::new(Statement {
                    server_name,
                    parse: parse.freeze(),
                })
            })
            .clone()
    }

    /// Number of distinct statements.
    pub fn len(&self) -> usize {
        self.by_text.len()
    }

    /// True when no statement was prepared yet.
    pub fn is_empty(&self) -> bool {
        self.by_text.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_text_shares_a_name_and_types_matter() {
        let r = StatementRegistry::default();
        let a = r.intern("select $1", &[0, 0]);
        let b = r.intern("select $1", &[0, 0]);
        let c = r.intern("select $1", &[0, 1, 0, 0, 0, 23]);
        assert_eq!(a.server_name, b.server_name);
        assert_ne!(a.server_name, c.server_name);
        assert_eq!(r.len(), 2);
    }
}
