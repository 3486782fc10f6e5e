//! The proxy's own cancel keys: each client gets a (pid, secret) pair; a
//! CancelRequest for it is forwarded to whichever server is serving it now.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::BytesMut;
use dashmap::DashMap;
use parking_lot::Mutex;
use rand::Rng;
use tokio::io::AsyncWriteExt;
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
}

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
            Some(slot) if slot.secret == secret => *slot.target.lock(),
            _ => None,
        };
        let Some(t) = target else {
            return;
        };
        let mut buf = BytesMut::new();
        postgres_protocol::message::frontend::cancel_request(t.pid as i32, t.secret as i32, &mut buf);
        match TcpStream::connect(t.addr).await {
            Ok(mut s) => {
                if let Err(e) = s.write_all(&buf).await {
                    tracing::warn!(error = %e, "could not forward cancel request");
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not connect to forward cancel request"),
        }
    }
}
