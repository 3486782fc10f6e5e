//! One client's session after startup: the event loop that moves messages
//! between the client and the server it currently holds.
//!
//! The session is glue between parts that each do one job and are tested
//! without sockets: the client connection (`ClientConn`, any byte stream),
//! the reply queue (`replies`), the transaction state and its lost-server
//! rules (`transaction`), the statement map (`statements`), the server slot
//! (`server_slot`), the planner from routing decision to wire messages
//! (`planner`), and DDL watching (`ddl_watch`). Client messages are handled
//! in `client_messages`, server messages in `server_messages`, routing in
//! `routing`, metrics in `observe`.

use std::collections::BTreeMap;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use tokio::sync::watch;

use crate::backend::Pool;
use crate::cancel::CancelKey;
use crate::catalog::live::LiveCatalog;
use crate::client_conn::{ClientConn, ClientStream};
use crate::config::PoolMode;
use crate::protocol::{self, Severity, TransactionStatus};
use crate::proxy::{BufferReservation, ClientGuard, Proxy};

mod client_messages;
mod ddl_watch;
mod merge;
mod observe;
mod planner;
mod replies;
mod routing;
mod server_messages;
mod server_slot;
mod statements;
#[cfg(test)]
mod tests;
mod transaction;

use ddl_watch::DdlWatch;
pub(crate) use observe::Observed;
use replies::{Expect, ReplyQueue};
use server_slot::ServerSlot;
use statements::StatementMap;
use transaction::Transaction;

/// Stop reading from one side while this much is queued for the other.
const HIGH_WATER: usize = 1 << 20;

/// How long a client told FATAL may go on sending before it is cut off.
const FATAL_LINGER: Duration = Duration::from_secs(1);

/// Why the session loop stopped.
enum End {
    /// Client closed or sent Terminate.
    ClientGone,
    /// The proxy told the client FATAL and closes.
    Fatal,
}

enum Event {
    /// The client stayed idle past a timeout.
    IdleTimeout,
    ClientRead(std::io::Result<usize>),
    ServerRead(std::io::Result<usize>),
    ClientWrote(std::io::Result<usize>),
    ServerWrote(std::io::Result<usize>),
    Shutdown,
}

/// What the session knows of the client it serves, beyond its connection.
pub(crate) struct ClientInfo {
    /// Role name.
    pub(crate) user: String,
    /// Settings from the startup packet.
    pub(crate) desired: BTreeMap<String, String>,
    /// The database's catalog, when routing is on.
    pub(crate) catalog: Option<Arc<LiveCatalog>>,
    /// Metrics and the client registry entry.
    pub(crate) observed: Observed,
}

/// The settings routing reads, as the server last reported them.
struct Reported {
    /// The session's TimeZone.
    time_zone: String,
    /// `standard_conforming_strings`.
    standard_strings: bool,
}

/// A large client message relayed or held.
#[derive(Default)]
struct Intake {
    /// Bytes of a large message still to relay as they arrive.
    streaming: usize,
    /// The budget held for a large message being read whole.
    held: Option<BufferReservation>,
}

/// A client session.
pub struct Session<S> {
    proxy: Arc<Proxy>,
    mode: PoolMode,
    client: ClientConn<S>,
    to_server: BytesMut,
    server: ServerSlot,
    replies: ReplyQueue,
    names: StatementMap,
    tx: Transaction,
    /// The server is in copy-in mode, where it ignores Sync and Flush.
    in_copy_in: bool,
    /// Close a client idle outside a transaction this long.
    client_idle_timeout: Option<Duration>,
    /// Close a client idle inside a transaction this long.
    idle_transaction_timeout: Option<Duration>,
    /// When the client last sent something.
    last_heard: Instant,
    shutdown: watch::Receiver<bool>,
    closing: bool,
    _guard: ClientGuard,
    /// The database's catalog, when routing is on.
    catalog: Option<Arc<LiveCatalog>>,
    /// The client's role (for `$user` in search_path).
    user: String,
    reported: Reported,
    intake: Intake,
    ddl: DdlWatch,
    /// Metrics and the client registry entry.
    observed: Observed,
}

impl<S: ClientStream> Session<S> {
    pub(crate) fn new(
        proxy: Arc<Proxy>,
        pool: Arc<Pool>,
        client: ClientConn<S>,
        info: ClientInfo,
        cancel: CancelKey,
        guard: ClientGuard,
    ) -> Session<S> {
        let ClientInfo {
            user,
            desired,
            catalog,
            observed,
        } = info;
        let config = proxy.config();
        let mode = pool.settings().mode;
        Session {
            mode,
            client,
            to_server: BytesMut::with_capacity(8 * 1024),
            server: ServerSlot::new(pool, cancel, desired),
            replies: ReplyQueue::default(),
            names: StatementMap::new(mode == PoolMode::Transaction),
            tx: Transaction::default(),
            in_copy_in: false,
            client_idle_timeout: config.client_idle_timeout,
            idle_transaction_timeout: config.idle_transaction_timeout,
            last_heard: Instant::now(),
            shutdown: proxy.shutdown_signal(),
            closing: false,
            _guard: guard,
            catalog,
            user,
            reported: Reported {
                time_zone: String::new(),
                standard_strings: true,
            },
            intake: Intake::default(),
            ddl: DdlWatch::default(),
            observed,
            proxy,
        }
    }

    /// Finishes startup: takes a server, applies the client's startup settings,
    /// relays the server's ParameterStatus, and sends our key and ReadyForQuery.
    pub(crate) async fn start(&mut self) -> Result<(), std::io::Error> {
        // In transaction mode a client whose settings were seen before gets the
        // parameters a server reported then, so connecting needs no server.
        let cached = match self.mode {
            PoolMode::Transaction => self.server.pool().startup_params(&self.server.desired),
            PoolMode::Session => None,
        };
        let params = match cached {
            Some(p) => p,
            None => {
                if self.acquire_server().await.is_err() {
                    let _ = self.client.flush().await;
                    return Err(std::io::ErrorKind::ConnectionAborted.into());
                }
                let params = self.server.conn().map(|c| c.params.clone()).unwrap_or_default();
                self.server
                    .pool()
                    .remember_startup_params(&self.server.desired, &params);
                params
            }
        };
        for (k, v) in &params {
            protocol::put_parameter_status(&mut self.client.wbuf, k, v);
        }
        if let Some(tz) = params.get("TimeZone") {
            self.reported.time_zone = tz.clone();
        }
        if let Some(v) = params.get("standard_conforming_strings") {
            self.reported.standard_strings = v != "off";
        }
        let (pid, secret) = (self.server.cancel.pid, self.server.cancel.secret);
        protocol::put_backend_key_data(&mut self.client.wbuf, pid, secret);
        protocol::put_ready_for_query(&mut self.client.wbuf, TransactionStatus::Idle);
        if self.mode == PoolMode::Transaction {
            self.release_server().await;
        }
        self.client.flush().await
    }

    /// The event loop; returns when the client is gone.
    pub async fn run(mut self) {
        let end = self.event_loop().await;
        let fatal = matches!(end, End::Fatal);
        if fatal {
            let _ = self.client.flush().await;
        }
        let quiet = self.replies.is_empty() && self.to_server.is_empty();
        let in_transaction = !self.tx.is_idle();
        let session_mode = self.mode == PoolMode::Session;
        let resets = self.observed.pool.resets.clone();
        self.server.finish(quiet, in_transaction, session_mode, &resets).await;
        if fatal {
            self.client.close(FATAL_LINGER).await;
        }
    }

    async fn event_loop(&mut self) -> End {
        loop {
            let event = self.next_event().await;
            let outcome = match event {
                Event::ClientRead(Ok(0)) | Event::ClientRead(Err(_)) | Event::ClientWrote(Err(_)) => {
                    Err(End::ClientGone)
                }
                Event::ClientRead(Ok(n)) => {
                    self.last_heard = Instant::now();
                    self.observe_received(n);
                    self.on_client_data().await
                }
                Event::IdleTimeout => {
                    let (code, msg) = match self.tx.status() {
                        TransactionStatus::Idle => ("57P05", "terminating connection due to idle-session timeout"),
                        _ => ("25P03", "terminating connection due to idle-in-transaction timeout"),
                    };
                    Err(self.fatal(code, msg))
                }
                Event::ServerRead(Ok(0)) => {
                    self.server_lost("server closed the connection unexpectedly");
                    Ok(())
                }
                Event::ServerRead(Err(e)) | Event::ServerWrote(Err(e)) => {
                    self.server_lost(&e.to_string());
                    Ok(())
                }
                Event::ServerRead(Ok(_)) => self.on_server_data().await,
                Event::ClientWrote(Ok(n)) => {
                    self.observe_sent(n);
                    Ok(())
                }
                Event::ServerWrote(Ok(_)) => Ok(()),
                Event::Shutdown => {
                    self.closing = true;
                    Ok(())
                }
            };
            if let Err(end) = outcome {
                return end;
            }
            if self.closing && self.is_idle() {
                return self.fatal("57P01", "terminating connection due to administrator command");
            }
        }
    }

    /// Waits for the next thing to do: bytes to move either way, shutdown,
    /// or an idle timeout. Writes come first, so queued replies drain before
    /// more is read, and neither side is read while the other lags behind.
    async fn next_event(&mut self) -> Event {
        let read_client = self.to_server.len() < HIGH_WATER;
        let read_server = self.client.wbuf.len() < HIGH_WATER;
        // Idle: nothing outstanding, waiting for the client.
        let idle_limit = match self.replies.is_empty() && !self.in_copy_in {
            false => None,
            true if self.tx.is_idle() => self.client_idle_timeout,
            true => self.idle_transaction_timeout,
        };
        let idle_deadline = idle_limit.map(|d| tokio::time::Instant::from_std(self.last_heard + d));
        let idle = async {
            match idle_deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        let closing = self.closing;
        let shutdown = &mut self.shutdown;
        let client = &mut self.client;
        let to_server = &mut self.to_server;
        let mut server = self.server.conn();
        let io = poll_fn(|cx| {
            if let Some(conn) = server.as_mut() {
                if !to_server.is_empty() {
                    if let Poll::Ready(r) = tokio_util::io::poll_write_buf(Pin::new(&mut conn.stream), cx, to_server) {
                        let r = r.and_then(|n| match n {
                            0 => Err(std::io::ErrorKind::WriteZero.into()),
                            n => Ok(n),
                        });
                        return Poll::Ready(Event::ServerWrote(r));
                    }
                }
            }
            if client.wants_write() {
                if let Poll::Ready(r) = client.poll_write(cx) {
                    return Poll::Ready(Event::ClientWrote(r));
                }
            }
            if let Some(conn) = server.as_mut().filter(|_| read_server) {
                if conn.rbuf.capacity() - conn.rbuf.len() < 4096 {
                    conn.rbuf.reserve(64 * 1024);
                }
                if let Poll::Ready(r) = tokio_util::io::poll_read_buf(Pin::new(&mut conn.stream), cx, &mut conn.rbuf) {
                    return Poll::Ready(Event::ServerRead(r));
                }
            }
            if read_client {
                if let Poll::Ready(r) = client.poll_read(cx) {
                    return Poll::Ready(Event::ClientRead(r));
                }
            }
            Poll::Pending
        });
        tokio::select! {
            biased;
            event = io => event,
            _ = shutdown.wait_for(|s| *s), if !closing => Event::Shutdown,
            () = idle => Event::IdleTimeout,
        }
    }

    /// Between transactions with nothing outstanding.
    fn is_idle(&self) -> bool {
        let held = self.server.is_held();
        // A lost transaction holds nothing: shutdown need not wait for its end.
        self.replies.is_empty()
            && (self.tx.is_idle() || !held)
            && self.to_server.is_empty()
            && !self.in_copy_in
            && !(self.replies.unsynced() && held)
    }

    /// Queues a FATAL error for the client; the session ends.
    fn fatal(&mut self, code: &str, message: &str) -> End {
        protocol::put_error(&mut self.client.wbuf, Severity::Fatal, code, message);
        End::Fatal
    }

    /// Sends a message to the server, noting the reply it will get.
    fn send(&mut self, expect: Expect, bytes: &[u8]) {
        if self.replies.is_empty() {
            self.observe_unit_sent();
        }
        self.to_server.extend_from_slice(bytes);
        self.replies.push(expect);
    }

    /// Sends planned messages to the server, noting what they prepare there.
    fn send_wire(&mut self, wire: planner::Wire) {
        for name in &wire.prepared {
            self.server.note_prepared(name);
        }
        if self.replies.is_empty() && !wire.expect.is_empty() {
            self.observe_unit_sent();
        }
        self.to_server.extend_from_slice(&wire.bytes);
        for e in wire.expect {
            self.replies.push(e);
        }
    }

    /// Queues a reply of the proxy's own, delivered in order after earlier replies.
    fn synthetic(&mut self, tag: u8) {
        let mut buf = BytesMut::new();
        protocol::put_empty(&mut buf, tag);
        self.replies.synthetic(buf.freeze(), &mut self.client.wbuf);
    }
}
