//! What a session reports about itself: routing decisions, queries and
//! transactions, bytes, and its state for `SHOW CLIENTS`.

use crate::protocol::TransactionStatus;
use std::time::{Duration, Instant};

use super::Session;
use crate::backend::pool::PoolClient;
use crate::backend::pool::PoolMetrics;
use crate::catalog::Catalog;
use crate::client_conn::ClientStream;
use crate::clients::{now_ms, Registered};
use crate::metrics::RouteRecorder;
use crate::router::Route;

/// A session's handles into the proxy's metrics and client registry.
pub(crate) struct Observed {
    pub(super) registered: Registered,
    _pool_client: PoolClient,
    pub(super) pool: PoolMetrics,
    /// Present when routing is on for the database.
    recorder: Option<RouteRecorder>,
    /// When the oldest unanswered query reached the server.
    query_started: Option<Instant>,
}

impl Observed {
    pub(crate) fn new(
        registered: Registered,
        pool_client: PoolClient,
        pool: PoolMetrics,
        recorder: Option<RouteRecorder>,
    ) -> Observed {
        Observed {
            registered,
            _pool_client: pool_client,
            pool,
            recorder,
            query_started: None,
        }
    }
}

impl<S: ClientStream> Session<S> {
    /// Records a routing decision that took `took`.
    pub(super) fn observe_route(&mut self, route: &Route, sql: &str, catalog: &Catalog, took: Duration) {
        if let Some(r) = self.observed.recorder.as_mut() {
            r.record(route, sql, catalog, took);
        }
    }

    /// Records a statement that named no parent without being routed.
    pub(super) fn observe_unrouted(&self) {
        if let Some(r) = &self.observed.recorder {
            r.unrouted();
        }
    }

    /// A query (or pipeline unit) is about to go to the server with nothing
    /// outstanding: its clock starts.
    pub(super) fn observe_unit_sent(&mut self) {
        if self.observed.query_started.is_none() {
            self.observed.query_started = Some(Instant::now());
            self.observed.registered.entry.request(now_ms());
        }
    }

    /// A ReadyForQuery reached the client: one query answered, and a
    /// transaction finished when the status is idle.
    pub(super) fn observe_ready(&mut self, status: TransactionStatus, more_pending: bool) {
        let m = &self.observed.pool;
        m.queries.inc();
        if status.is_idle() {
            m.transactions.inc();
        }
        if let Some(started) = self.observed.query_started.take() {
            m.query_duration.observe(started.elapsed().as_secs_f64());
        }
        if more_pending {
            // The next pipelined unit is already at the server.
            self.observed.query_started = Some(Instant::now());
        }
    }

    /// Bytes read from the client.
    pub(super) fn observe_received(&self, n: usize) {
        self.observed.pool.bytes_received.inc_by(n as u64);
    }

    /// Bytes written to the client.
    pub(super) fn observe_sent(&self, n: usize) {
        self.observed.pool.bytes_sent.inc_by(n as u64);
    }

    /// The session now holds server `pid`, opened `age` ago.
    pub(super) fn observe_server_held(&self, pid: u32, age: Duration) {
        let opened = now_ms().saturating_sub(age.as_millis() as u64);
        self.observed
            .registered
            .entry
            .holds(i32::try_from(pid).unwrap_or(i32::MAX), opened);
    }

    /// The session holds no server any more.
    pub(super) fn observe_server_gone(&self) {
        self.observed.registered.entry.released();
    }

    /// The session waits for a server.
    pub(super) fn observe_waiting(&self) {
        self.observed.registered.entry.waiting();
    }
}
