//! The proxy's own cancel keys: each client gets a (pid, secret) pair; a
//! CancelRequest for it is forwarded to whichever server is serving it now.
//!
//! A cancel must hit only the query it was meant for: a server with a
//! cancel in flight is not lent to another client until PostgreSQL has
//! taken the request (it closes the cancel connection once it has signalled
//! the backend), as PgBouncer does.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use dashmap::DashMap;
use parking_lot::Mutex;
use rand::Rng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The server a client is using at the moment: its address and key data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CancelTarget {
    /// Server address.
    pub addr: SocketAddr,
    /// Server process id.
    pub pid: u32,
    /// Server secret key.
    pub secret: u32,
}

/// One client's cancel slot.
#[derive(Debug)]
pub struct CancelSlot {
    secret: u32,
    target: Mutex<Option<CancelTarget>>,
}

impl CancelSlot {
    /// Records which server the client is using (or `None` between transactions).
    pub fn set(&self, target: Option<CancelTarget>) {
        *self.target.lock() = target;
    }
}

/// All live clients' cancel keys.
#[derive(Debug, Default)]
pub struct CancelRegistry {
    slots: DashMap<u32, Arc<CancelSlot>>,
    /// Cancels forwarded and not yet taken, by server process id.
    in_flight: DashMap<u32, usize>,
    /// Woken whenever a forwarded cancel is done.
    done: tokio::sync::Notify,
}

/// How long a forwarded cancel may take before the proxy stops waiting.
const CANCEL_WAIT: Duration = Duration::from_secs(5);

/// Removes the client's key when its session ends.
#[derive(Debug)]
pub struct CancelKey {
    /// The pid the client was told.
    pub pid: u32,
    /// The secret the client was told.
    pub secret: u32,
    /// Shared slot.
    pub slot: Arc<CancelSlot>,
    registry: Arc<CancelRegistry>,
}

impl Drop for CancelKey {
    fn drop(&mut self) {
        self.registry.slots.remove(&self.pid);
    }
}

impl CancelRegistry {
    /// Issues a fresh key for a new client.
    pub fn register(self: &Arc<Self>) -> CancelKey {
        let mut rng = rand::thread_rng();
        loop {
            let pid = rng.gen_range(1..i32::MAX as u32);
            let secret = rng.gen::<u32>();
            let slot = Arc::new(CancelSlot {
                secret,
                target: Mutex::new(None),
            });
            if let dashmap::Entry::Vacant(v) = self.slots.entry(pid) {
                v.insert(slot.clone());
                return CancelKey {
                    pid,
                    secret,
                    slot,
                    registry: self.clone(),
                };
            }
        }
    }

    /// Forwards a client's CancelRequest to the server serving it, if any.
    /// Unknown keys and wrong secrets are ignored, as PostgreSQL does.
    pub async fn cancel(&self, pid: u32, secret: u32) {
        let target = match self.slots.get(&pid) {
            Some(slot) if slot.secret == secret => {
                // Counted under the slot's lock: a session that clears the
                // slot afterwards sees this cancel and waits for it.
                let target = slot.target.lock();
                if let Some(t) = *target {
                    *self.in_flight.entry(t.pid).or_insert(0) += 1;
                }
                *target
            }
            _ => None,
        };
        let Some(t) = target else {
            return;
        };
        let mut buf = BytesMut::new();
        postgres_protocol::message::frontend::cancel_request(t.pid as i32, t.secret as i32, &mut buf);
        let forwarded = tokio::time::timeout(CANCEL_WAIT, async {
            let mut s = TcpStream::connect(t.addr).await?;
            s.write_all(&buf).await?;
            // PostgreSQL closes the connection once it has signalled the backend.
            let mut sink = [0u8; 64];
            while s.read(&mut sink).await? > 0 {}
            Ok::<(), std::io::Error>(())
        })
        .await;
        match forwarded {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "could not forward cancel request"),
            Err(_) => tracing::warn!("cancel request not taken in time"),
        }
        if let dashmap::Entry::Occupied(mut e) = self.in_flight.entry(t.pid) {
            *e.get_mut() -= 1;
            if *e.get() == 0 {
                e.remove();
            }
        }
        self.done.notify_waiters();
    }

    /// Waits until no cancel is in flight for server `pid`; false when one
    /// still is after the wait limit (the server must then not be reused).
    pub async fn settled(&self, pid: u32) -> bool {
        let deadline = tokio::time::Instant::now() + CANCEL_WAIT;
        loop {
            let done = self.done.notified();
            if !self.in_flight.contains_key(&pid) {
                return true;
            }
            if tokio::time::timeout_at(deadline, done).await.is_err() {
                return !self.in_flight.contains_key(&pid);
            }
        }
    }
}

impl CancelKey {
    /// The client no longer uses a server: later cancels go nowhere. Waits
    /// for cancels already forwarded to `server_pid`; false when one is
    /// still pending (do not lend that server to anyone).
    pub async fn release(&self, server_pid: u32) -> bool {
        self.slot.set(None);
        self.registry.settled(server_pid).await
    }
}
