//! Connections to PostgreSQL: logging in as a client, internal queries, and the pool.

pub mod conn;
pub mod pool;
pub mod prepared;

pub use conn::{BackendError, BackendTarget, ServerConn};
pub use pool::{Checkout, Pool, PoolError};
