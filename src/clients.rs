//! Who is connected: one entry per client session, updated by the session
//! with plain atomics and read by `SHOW CLIENTS` / `SHOW SERVERS`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicI32, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use dashmap::DashMap;

/// What a client is doing, as `SHOW CLIENTS` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ClientState {
    /// Connected, holding no server.
    Idle = 0,
    /// Holding a server.
    Active = 1,
    /// Waiting for a server.
    Waiting = 2,
}

impl ClientState {
    /// PgBouncer's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientState::Idle => "idle",
            ClientState::Active => "active",
            ClientState::Waiting => "waiting",
        }
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// One connected client.
#[derive(Debug)]
pub struct ClientEntry {
    /// A number unique for the proxy's life (`ptr` in SHOW output).
    pub id: u64,
    /// Login role.
    pub user: String,
    /// Client-facing database name.
    pub database: String,
    /// The client's address.
    pub addr: SocketAddr,
    /// `application_name` from the startup packet.
    pub application_name: String,
    /// When it connected (Unix ms).
    pub connect_time: u64,
    state: AtomicU8,
    /// When its last query started (Unix ms).
    request_time: AtomicU64,
    /// Backend pid of the server it holds (0 when none).
    server_pid: AtomicI32,
    /// When that server connection was opened (Unix ms).
    server_connect_time: AtomicU64,
    /// When it started waiting (Unix ms), while waiting.
    wait_since: AtomicU64,
}

impl ClientEntry {
    /// Its state now.
    pub fn state(&self) -> ClientState {
        match self.state.load(Ordering::Relaxed) {
            1 => ClientState::Active,
            2 => ClientState::Waiting,
            _ => ClientState::Idle,
        }
    }

    /// Marks it waiting for a server.
    pub fn waiting(&self) {
        self.wait_since.store(now_ms(), Ordering::Relaxed);
        self.state.store(ClientState::Waiting as u8, Ordering::Relaxed);
    }

    /// Marks it holding server `pid` (opened at `since`, Unix ms).
    pub fn holds(&self, pid: i32, since: u64) {
        self.server_pid.store(pid, Ordering::Relaxed);
        self.server_connect_time.store(since, Ordering::Relaxed);
        self.state.store(ClientState::Active as u8, Ordering::Relaxed);
    }

    /// Marks it holding no server.
    pub fn released(&self) {
        self.server_pid.store(0, Ordering::Relaxed);
        self.state.store(ClientState::Idle as u8, Ordering::Relaxed);
    }

    /// Notes that a query started now.
    pub fn request(&self, at_ms: u64) {
        self.request_time.store(at_ms, Ordering::Relaxed);
    }

    /// When the last query started (Unix ms, 0 if none).
    pub fn request_time(&self) -> u64 {
        self.request_time.load(Ordering::Relaxed)
    }

    /// The server it holds: (pid, opened at Unix ms).
    pub fn server(&self) -> Option<(i32, u64)> {
        let pid = self.server_pid.load(Ordering::Relaxed);
        (pid != 0).then(|| (pid, self.server_connect_time.load(Ordering::Relaxed)))
    }

    /// Since when it waits (Unix ms), while waiting.
    pub fn wait_since(&self) -> Option<u64> {
        (self.state() == ClientState::Waiting).then(|| self.wait_since.load(Ordering::Relaxed))
    }
}

/// Every connected client.
#[derive(Debug, Default)]
pub struct ClientRegistry {
    entries: DashMap<u64, Arc<ClientEntry>>,
    next: AtomicU64,
}

/// Removes its entry when the session ends.
#[derive(Debug)]
pub struct Registered {
    registry: Arc<ClientRegistry>,
    /// The entry.
    pub entry: Arc<ClientEntry>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.registry.entries.remove(&self.entry.id);
    }
}

impl ClientRegistry {
    /// Adds a client.
    pub fn register(
        self: &Arc<Self>,
        user: &str,
        database: &str,
        addr: SocketAddr,
        application_name: &str,
    ) -> Registered {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let entry = Arc::new(ClientEntry {
            id,
            user: user.to_owned(),
            database: database.to_owned(),
            addr,
            application_name: application_name.to_owned(),
            connect_time: now_ms(),
            state: AtomicU8::new(ClientState::Idle as u8),
            request_time: AtomicU64::new(0),
            server_pid: AtomicI32::new(0),
            server_connect_time: AtomicU64::new(0),
            wait_since: AtomicU64::new(0),
        });
        self.entries.insert(id, entry.clone());
        Registered {
            registry: self.clone(),
            entry,
        }
    }

    /// Every client, oldest first.
    pub fn all(&self) -> Vec<Arc<ClientEntry>> {
        let mut all: Vec<_> = self.entries.iter().map(|e| e.value().clone()).collect();
        all.sort_by_key(|e| e.id);
        all
    }
}
