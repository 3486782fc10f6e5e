//! One client's session after startup: the event loop that moves frames
//! between the client and the server it currently holds, keeps the queue of
//! responses it expects, and lends and returns server connections.

use crate::protocol::TransactionStatus;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::{frame_error_text, ClientIo};
use crate::app::{ClientGuard, Proxy};
use crate::backend::conn::SERVER_MAX_MESSAGE;
use crate::backend::{BackendError, Checkout, Pool, PoolError, ServerConn};
use crate::cancel::{CancelKey, CancelTarget};
use crate::catalog::live::LiveCatalog;
use crate::catalog::Catalog;
use crate::config::PoolMode;
use crate::keys::TimeZoneRule;
use crate::prepared::Statement;
use crate::protocol::{self, cut_frame, Frame, Severity};
use crate::router::{self, PassReason, Route, SessionView};

/// The session settings a routing decision depends on.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RoutingContext {
    /// search_path as schema names.
    pub(crate) path: Vec<String>,
    /// The TimeZone rule.
    pub(crate) tz: TimeZoneRule,
    /// `standard_conforming_strings`.
    pub(crate) standard_strings: bool,
}

impl RoutingContext {
    /// The router's view of the session, with a Bind's parameters.
    pub(crate) fn view<'a>(&'a self, user: &'a str, params: &'a [crate::keys::Param<'a>]) -> SessionView<'a> {
        SessionView {
            search_path: &self.path,
            user,
            tz: self.tz,
            params,
            standard_strings: self.standard_strings,
        }
    }
}
use crate::text::{contains_ci, transaction_end, TransactionEnd};

mod lost;
mod merge;
mod observe;
mod plans;
mod replies;
mod sql_prepare;
use lost::LostTransaction;
use merge::MergedInsert;
pub(super) use observe::Observed;
use plans::{BindRoute, PortalPlan};
use replies::{Expect, ReplyQueue};
use sql_prepare::SqlPrepared;

/// How long a session's statement after its own DDL waits for the reload.
const RELOAD_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Client messages larger than this are relayed as they arrive where the
/// protocol allows, and otherwise held within the buffer budget.
const LARGE_MESSAGE: usize = 8 << 20;

/// Stop reading from one side while this much is queued for the other.
const HIGH_WATER: usize = 1 << 20;
/// The settings `pg_settings` does not show, which `RESET ALL` leaves alone,
/// in the order they must be applied (a session authorization resets the role).
const ROLE_SETTINGS: [&str; 2] = ["session_authorization", "role"];

/// What undoes every setting a client may have changed: `RESET ALL` leaves
/// the role and the session authorization alone.
const RESET_SETTINGS: &str = "RESET SESSION AUTHORIZATION; RESET ALL";

/// Reads every setting the client's session changed, to carry it to the
/// next server: what `pg_settings` shows, and the role and session
/// authorization, which it does not.
fn capture_settings_sql(login: &str) -> String {
    format!(
        "SELECT name, setting FROM pg_catalog.pg_settings WHERE source = 'session' \
         UNION ALL SELECT 'session_authorization', session_user::text WHERE session_user <> {login} \
         UNION ALL SELECT 'role', pg_catalog.current_setting('role') WHERE pg_catalog.current_setting('role') <> 'none'",
        login = protocol::quote_literal(login)
    )
}

/// A prepared statement that names a parent: what routing a Bind needs.
#[derive(Debug)]
struct RoutableStatement {
    sql: Arc<str>,
    /// The Parse's parameter-type section, reused for the rewritten variants.
    rest: Bytes,
    types: Vec<u32>,
    /// For a Bind without parameters: the last decision, reused while the
    /// catalog and the session's search_path and TimeZone are unchanged.
    fixed: std::sync::Mutex<Option<Arc<plans::FixedRoute>>>,
}

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

/// A client session.
pub struct Session {
    proxy: Arc<Proxy>,
    pool: Arc<Pool>,
    mode: PoolMode,
    client: TcpStream,
    client_in: BytesMut,
    to_client: BytesMut,
    to_server: BytesMut,
    max_message: usize,
    /// Close a client idle outside a transaction this long.
    client_idle_timeout: Option<std::time::Duration>,
    /// Close a client idle inside a transaction this long.
    idle_transaction_timeout: Option<std::time::Duration>,
    /// When the client last sent something.
    last_heard: Instant,
    server: Option<Checkout>,
    expect: ReplyQueue,
    /// Client statement name → shared statement (transaction mode only).
    statements: HashMap<String, Arc<Statement>>,
    /// Client statement name ("" for the unnamed one) → its text, for
    /// statements that name a partitioned parent: each Bind is routed.
    routable: HashMap<String, Arc<RoutableStatement>>,
    /// Session settings the client's backend must have.
    desired: BTreeMap<String, String>,
    /// Transaction status from the last ReadyForQuery.
    status: TransactionStatus,
    /// The client changed settings: read them back before releasing the server.
    capture_settings: bool,
    /// The client created state that cannot follow it: DISCARD ALL on release.
    discard_on_release: bool,
    /// The server sent FATAL (code, message) and is about to close.
    server_dying: Option<(String, String)>,
    /// A simple-query COMMIT/ROLLBACK of the client's transaction is in flight.
    ending: Option<TransactionEnd>,
    /// A failure to report at the client's next statement: its server died
    /// while it was idle inside a transaction (or session).
    pending_error: Option<(String, String)>,
    /// Dropping extended-protocol messages up to Sync after reporting an error.
    skip_to_sync: bool,
    /// Transaction-ending statements prepared while the transaction was lost.
    lost: LostTransaction,
    /// Portals whose Execute runs something else than what was bound.
    portal_plans: HashMap<String, PortalPlan>,
    /// Statements prepared with SQL PREPARE that name a parent, by name.
    sql_prepared: HashMap<String, SqlPrepared>,
    /// A PREPARE sent, to note once the server confirms it (`None`: it names no parent).
    sql_prepare_pending: Option<(String, Option<SqlPrepared>)>,
    /// The server is in copy-in mode, where it ignores Sync and Flush.
    in_copy_in: bool,
    shutdown: watch::Receiver<bool>,
    closing: bool,
    cancel: CancelKey,
    _guard: ClientGuard,
    /// The database's catalog, when routing is on.
    catalog: Option<Arc<LiveCatalog>>,
    /// The client's role (for `$user` in search_path).
    user: String,
    /// The session's TimeZone as last reported by the server.
    time_zone: String,
    /// `standard_conforming_strings` as the server reports it.
    standard_strings: bool,
    /// Bytes of a large message still to relay as they arrive.
    streaming: usize,
    /// The budget held for a large message being read whole.
    held: Option<crate::app::BufferReservation>,
    /// Held from DDL this session ran until its transaction ends.
    ddl_hold: Option<crate::catalog::live::DdlHold>,
    /// This session's DDL ended: its next statement waits for the reload.
    awaits_reload: bool,
    /// The transaction's SQL may create relations with a SELECT tag
    /// (CREATE TABLE AS, SELECT INTO).
    may_create: bool,
    /// Metrics and the client registry entry.
    observed: Observed,
}

/// What the session knows of the client it serves, beyond its socket.
pub(super) struct ClientInfo {
    /// Role name.
    pub user: String,
    /// Settings from the startup packet.
    pub desired: BTreeMap<String, String>,
    /// The database's catalog, when routing is on.
    pub catalog: Option<Arc<LiveCatalog>>,
    /// Metrics and the client registry entry.
    pub observed: Observed,
}

impl Session {
    pub(super) fn new(
        proxy: Arc<Proxy>,
        pool: Arc<Pool>,
        io: ClientIo,
        client: ClientInfo,
        cancel: CancelKey,
        guard: ClientGuard,
    ) -> Session {
        let ClientInfo {
            user,
            desired,
            catalog,
            observed,
        } = client;
        let config = proxy.config();
        Session {
            client_idle_timeout: config.client_idle_timeout,
            idle_transaction_timeout: config.idle_transaction_timeout,
            last_heard: Instant::now(),
            mode: pool.settings().mode,
            proxy: proxy.clone(),
            pool,
            client: io.stream,
            client_in: io.rbuf,
            to_client: io.wbuf,
            to_server: BytesMut::with_capacity(8 * 1024),
            max_message: io.max_message,
            server: None,
            expect: ReplyQueue::default(),
            statements: HashMap::new(),
            routable: HashMap::new(),
            desired,
            status: TransactionStatus::Idle,
            capture_settings: false,
            discard_on_release: false,
            server_dying: None,
            ending: None,
            pending_error: None,
            skip_to_sync: false,
            lost: LostTransaction::default(),
            portal_plans: HashMap::new(),
            sql_prepared: HashMap::new(),
            sql_prepare_pending: None,
            in_copy_in: false,
            shutdown: proxy.shutdown_signal(),
            closing: false,
            cancel,
            _guard: guard,
            catalog,
            user,
            time_zone: String::new(),
            standard_strings: true,
            streaming: 0,
            held: None,
            ddl_hold: None,
            awaits_reload: false,
            may_create: false,
            observed,
        }
    }

    /// Finishes startup: takes a server, applies the client's startup settings,
    /// relays the server's ParameterStatus, and sends our key and ReadyForQuery.
    pub(super) async fn start(&mut self) -> Result<(), std::io::Error> {
        // In transaction mode a client whose settings were seen before gets the
        // parameters a server reported then, so connecting needs no server.
        let cached = match self.mode {
            PoolMode::Transaction => self.pool.startup_params(&self.desired),
            PoolMode::Session => None,
        };
        let params = match cached {
            Some(p) => p,
            None => {
                if self.acquire_server().await.is_err() {
                    self.client.write_all(&self.to_client).await?;
                    return Err(std::io::ErrorKind::ConnectionAborted.into());
                }
                let params = self
                    .server
                    .as_ref()
                    .map(|co| co.conn.params.clone())
                    .unwrap_or_default();
                self.pool.remember_startup_params(&self.desired, &params);
                params
            }
        };
        for (k, v) in &params {
            protocol::put_parameter_status(&mut self.to_client, k, v);
        }
        if let Some(tz) = params.get("TimeZone") {
            self.time_zone = tz.clone();
        }
        if let Some(v) = params.get("standard_conforming_strings") {
            self.standard_strings = v != "off";
        }
        protocol::put_backend_key_data(&mut self.to_client, self.cancel.pid, self.cancel.secret);
        protocol::put_ready_for_query(&mut self.to_client, TransactionStatus::Idle);
        if self.mode == PoolMode::Transaction {
            self.release_server().await;
        }
        self.client.write_all(&self.to_client).await?;
        self.to_client.clear();
        Ok(())
    }

    /// The event loop; returns when the client is gone.
    pub async fn run(mut self) {
        let end = self.event_loop().await;
        if matches!(end, End::Fatal) {
            let _ = self.client.write_all(&self.to_client).await;
        }
        self.finish_server().await;
    }

    async fn event_loop(&mut self) -> End {
        loop {
            let event = {
                let (mut cr, mut cw) = self.client.split();
                let client_in = &mut self.client_in;
                let to_client = &mut self.to_client;
                let to_server = &mut self.to_server;
                let read_client = to_server.len() < HIGH_WATER;
                let read_server = to_client.len() < HIGH_WATER;
                let write_server = !to_server.is_empty();
                let write_client = !to_client.is_empty();
                let (mut server_r, mut server_w) = match self.server.as_mut() {
                    Some(co) => {
                        let ServerConn { stream, rbuf, .. } = &mut co.conn;
                        if rbuf.capacity() - rbuf.len() < 4096 {
                            rbuf.reserve(64 * 1024);
                        }
                        let (r, w) = stream.split();
                        (Some((r, rbuf)), Some(w))
                    }
                    None => (None, None),
                };
                let has_server = server_w.is_some();
                let shutdown = &mut self.shutdown;
                let closing = self.closing;
                // Idle: nothing outstanding, waiting for the client.
                let idle_limit = match self.expect.is_empty() && !self.in_copy_in {
                    false => None,
                    true if self.status.is_idle() => self.client_idle_timeout,
                    true => self.idle_transaction_timeout,
                };
                let idle_deadline = idle_limit.map(|d| tokio::time::Instant::from_std(self.last_heard + d));
                let idle = async {
                    match idle_deadline {
                        Some(at) => tokio::time::sleep_until(at).await,
                        None => std::future::pending().await,
                    }
                };
                if client_in.capacity() - client_in.len() < 4096 {
                    client_in.reserve(16 * 1024);
                }
                let server_read = async {
                    match server_r.as_mut() {
                        Some((r, rbuf)) => r.read_buf(*rbuf).await,
                        None => std::future::pending().await,
                    }
                };
                let server_write = async {
                    match server_w.as_mut() {
                        Some(w) => w.write_buf(to_server).await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    biased;
                    r = server_write, if has_server && write_server => Event::ServerWrote(r),
                    r = cw.write_buf(to_client), if write_client => Event::ClientWrote(r),
                    r = server_read, if has_server && read_server => Event::ServerRead(r),
                    r = cr.read_buf(client_in), if read_client => Event::ClientRead(r),
                    _ = shutdown.wait_for(|s| *s), if !closing => Event::Shutdown,
                    () = idle => Event::IdleTimeout,
                }
            };
            let outcome = match event {
                Event::ClientRead(Ok(0)) | Event::ClientRead(Err(_)) => Err(End::ClientGone),
                Event::ClientWrote(Ok(0)) | Event::ClientWrote(Err(_)) => Err(End::ClientGone),
                Event::ClientRead(Ok(n)) => {
                    self.last_heard = Instant::now();
                    self.observe_received(n);
                    self.on_client_data().await
                }
                Event::IdleTimeout => {
                    let (code, msg) = match self.status {
                        TransactionStatus::Idle => ("57P05", "terminating connection due to idle-session timeout"),
                        _ => ("25P03", "terminating connection due to idle-in-transaction timeout"),
                    };
                    protocol::put_error(&mut self.to_client, Severity::Fatal, code, msg);
                    Err(End::Fatal)
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
                protocol::put_error(
                    &mut self.to_client,
                    Severity::Fatal,
                    "57P01",
                    "terminating connection due to administrator command",
                );
                return End::Fatal;
            }
        }
    }

    /// Between transactions with nothing outstanding.
    fn is_idle(&self) -> bool {
        // A lost transaction holds nothing: shutdown need not wait for its end.
        self.expect.is_empty()
            && (self.status.is_idle() || self.server.is_none())
            && self.to_server.is_empty()
            && !self.in_copy_in
            && !(self.expect.unsynced() && self.server.is_some())
    }

    fn renames_statements(&self) -> bool {
        self.mode == PoolMode::Transaction
    }

    async fn on_client_data(&mut self) -> Result<(), End> {
        loop {
            if self.streaming > 0 {
                // The rest of a message relayed as it arrives.
                let n = self.streaming.min(self.client_in.len());
                let part = self.client_in.split_to(n);
                // A server lost meanwhile takes nothing more.
                if self.server.is_some() {
                    self.to_server.extend_from_slice(&part);
                }
                self.streaming -= n;
                if self.streaming > 0 {
                    return Ok(());
                }
                continue;
            }
            if let Some((tag, len)) = protocol::peek_header(&self.client_in) {
                let whole = self.client_in.len() > len;
                if len > LARGE_MESSAGE && len <= self.max_message && !whole && self.held.is_none() {
                    if self.can_stream(tag) {
                        self.start_streaming(tag, len).await?;
                        continue;
                    }
                    // Held whole to be read: within the proxy's buffer budget.
                    match self.proxy.reserve_buffer(len) {
                        Some(r) => self.held = Some(r),
                        None => {
                            let msg = format!(
                                "out of memory: a message of {len} bytes would pass the proxy's buffer budget (max_buffered_bytes)"
                            );
                            return Err(self.fatal("53200", &msg));
                        }
                    }
                }
            }
            let frame = match cut_frame(&mut self.client_in, self.max_message) {
                Ok(Some(f)) => f,
                Ok(None) => return Ok(()),
                Err(e) => return Err(self.fatal("08P01", &frame_error_text(&e))),
            };
            if self.held.take().is_some() && self.client_in.capacity() > LARGE_MESSAGE {
                // Give the large allocation back once the message is handled.
                self.client_in = BytesMut::from(&self.client_in[..]);
            }
            self.on_client_frame(frame).await?;
        }
    }

    /// Whether a large message of this kind may be relayed as it arrives
    /// (the proxy need not read it whole): a simple query, which then passes
    /// through unread, or COPY data.
    fn can_stream(&self, tag: u8) -> bool {
        let plain = !self.transaction_lost() && !self.skip_to_sync && self.pending_error.is_none();
        plain && (tag == b'Q' || (tag == b'd' && self.in_copy_in && self.server.is_some()))
    }

    /// Starts relaying a large message: its header and what has arrived go
    /// now, the rest as it comes.
    async fn start_streaming(&mut self, tag: u8, len: usize) -> Result<(), End> {
        let head = self.client_in.split_to(self.client_in.len());
        self.streaming = len + 1 - head.len();
        if tag == b'd' {
            self.to_server.extend_from_slice(&head);
            return Ok(());
        }
        self.ensure_server().await?;
        // Unread, it may do anything a statement can: assume the most.
        if self.mode == PoolMode::Transaction {
            self.discard_on_release = true;
            self.capture_settings = true;
        }
        self.may_create = true;
        self.ending = None;
        self.sql_prepare_pending = None;
        if let Some(live) = &self.catalog {
            let catalog = live.snapshot();
            self.observe_route(
                &Route::Passthrough(PassReason::TooLarge),
                "",
                &catalog,
                std::time::Duration::ZERO,
            );
        }
        self.send(Expect::Query, &head);
        Ok(())
    }

    fn fatal(&mut self, code: &str, message: &str) -> End {
        protocol::put_error(&mut self.to_client, Severity::Fatal, code, message);
        End::Fatal
    }

    async fn on_client_frame(&mut self, frame: Frame) -> Result<(), End> {
        if let Some(done) = self.answer_without_server(&frame) {
            return done;
        }
        if self.awaits_reload && matches!(frame.tag, b'Q' | b'P' | b'B') {
            self.awaits_reload = false;
            if let Some(live) = &self.catalog {
                // Past the limit the statement fails open instead.
                live.wait_fresh(RELOAD_WAIT).await;
            }
        }
        match frame.tag {
            b'Q' => {
                if let Some(reply) = self.explain_route(frame.body()) {
                    self.synthetic_bytes(reply);
                    return Ok(());
                }
                self.ensure_server().await?;
                if self.mode == PoolMode::Transaction {
                    self.scan_sql(frame.body());
                }
                self.note_creating_sql(frame.body());
                if !self.status.is_idle() {
                    self.ending = protocol::decode_query(frame.body()).and_then(transaction_end);
                }
                self.sql_prepare_pending = None;
                let (routed, expect) = self.route_simple(&frame);
                self.send(expect, &routed);
            }
            b'P' => self.client_parse(frame).await?,
            b'B' => self.client_bind(frame).await?,
            b'D' => self.client_describe(frame).await?,
            b'E' => self.client_execute(frame).await?,
            b'C' => self.client_close(frame).await?,
            b'S' if self.in_copy_in => self.to_server.extend_from_slice(&frame.bytes),
            b'S' => {
                if self.server.is_none() && self.expect.is_empty() && self.status.is_idle() {
                    // Nothing outstanding and no transaction: answer without a server.
                    protocol::put_ready_for_query(&mut self.to_client, TransactionStatus::Idle);
                } else {
                    self.ensure_server().await?;
                    self.send(Expect::Sync, &frame.bytes);
                }
            }
            b'H' => {
                if self.server.is_some() {
                    self.to_server.extend_from_slice(&frame.bytes);
                }
            }
            b'F' => {
                self.ensure_server().await?;
                self.send(Expect::Query, &frame.bytes);
            }
            b'd' | b'c' | b'f' => {
                // Copy data for a server that died mid-COPY is dropped.
                if self.server.is_some() {
                    self.to_server.extend_from_slice(&frame.bytes);
                    if frame.tag != b'd' {
                        if self.in_copy_in {
                            self.in_copy_in = false;
                        } else {
                            self.expect.copy_end();
                        }
                    }
                }
            }
            b'X' => return Err(End::ClientGone),
            tag => {
                let msg = format!("invalid frontend message type {tag}");
                return Err(self.fatal("08P01", &msg));
            }
        }
        Ok(())
    }

    fn send(&mut self, expect: Expect, bytes: &[u8]) {
        if self.expect.is_empty() {
            self.observe_unit_sent();
        }
        self.to_server.extend_from_slice(bytes);
        self.expect.push(expect);
    }

    /// Queues a reply of the proxy's own, delivered in order after earlier replies.
    fn synthetic(&mut self, tag: u8) {
        let mut buf = BytesMut::new();
        protocol::put_empty(&mut buf, tag);
        self.synthetic_bytes(buf.freeze());
    }

    fn synthetic_bytes(&mut self, bytes: Bytes) {
        self.expect.synthetic(bytes, &mut self.to_client);
    }

    /// The role `$user` stands for: a role or session authorization the
    /// client switched to, else the role its servers log in as (the
    /// database's fixed login, which routing requires).
    fn current_role(&self) -> &str {
        let login = self
            .catalog
            .as_ref()
            .map_or(self.user.as_str(), |c| c.target().user.as_str());
        ROLE_SETTINGS
            .iter()
            .rev()
            .find_map(|k| self.desired.get(*k))
            .map_or(login, String::as_str)
    }

    /// The session's settings routing depends on.
    fn routing_context(&self) -> RoutingContext {
        // The client's own setting, else the one its servers start with.
        let server_default = self.pool.default_search_path().or_else(|| {
            self.catalog
                .as_ref()
                .and_then(|live| live.snapshot().default_search_path.clone())
        });
        let path = router::parse_search_path(
            self.desired
                .get("search_path")
                .or(server_default.as_ref())
                .map_or("\"$user\", public", String::as_str),
        );
        let tz = TimeZoneRule::from_setting(&self.time_zone).unwrap_or(TimeZoneRule::Unknown);
        RoutingContext {
            path,
            tz,
            standard_strings: self.standard_strings,
        }
    }

    /// Routes `sql` with the session's search_path and TimeZone.
    fn route_sql(&self, sql: &str, catalog: &Catalog) -> Route {
        let context = self.routing_context();
        router::route(sql, catalog, &context.view(self.current_role(), &[]))
    }

    /// Notes (or forgets) a statement the client prepares, for routing its Binds.
    fn note_parse(&mut self, parse: &protocol::ParseMsg) {
        let names_parent = self
            .catalog
            .as_ref()
            .is_some_and(|live| !router::names_no_parent(parse.query, &live.snapshot()));
        let types = names_parent.then(|| protocol::decode_param_types(parse.rest)).flatten();
        match types {
            Some(types) => {
                let stmt = RoutableStatement {
                    sql: parse.query.into(),
                    rest: Bytes::copy_from_slice(parse.rest),
                    types,
                    fixed: Default::default(),
                };
                self.routable.insert(parse.name.to_owned(), Arc::new(stmt));
            }
            _ => {
                self.routable.remove(parse.name);
            }
        }
    }

    /// The Query message to send for a client's simple query: the original,
    /// a rewrite naming only the children that can hold the rows, or a
    /// statement that makes the server raise the refusal (so the transaction
    /// state stays the server's own).
    fn route_simple(&mut self, frame: &Frame) -> (Bytes, Expect) {
        let unchanged = || (frame.bytes.clone(), Expect::Query);
        let Some(live) = &self.catalog else {
            return unchanged();
        };
        let Some(catalog) = live.routable() else {
            // DDL the catalog may not reflect yet: PostgreSQL resolves it.
            let stale = live.snapshot();
            if let Some(sql) = protocol::decode_query(frame.body()) {
                self.observe_route(
                    &Route::Passthrough(PassReason::CatalogStale),
                    sql,
                    &stale,
                    std::time::Duration::ZERO,
                );
            }
            return unchanged();
        };
        if catalog.hierarchies.is_empty() {
            self.observe_unrouted();
            return unchanged();
        }
        let Some(sql) = protocol::decode_query(frame.body()) else {
            return unchanged();
        };
        if let Some((text, expect)) = self.route_sql_command(sql, &catalog) {
            let mut out = BytesMut::with_capacity(text.len() + 6);
            protocol::put_query(&mut out, &text);
            return (out.freeze(), expect);
        }
        let started = Instant::now();
        let route = self.route_sql(sql, &catalog);
        self.observe_route(&route, sql, &catalog, started.elapsed());
        let (text, expect) = match route {
            Route::Passthrough(reason) => {
                tracing::trace!(reason = reason.as_str(), "passed through");
                return unchanged();
            }
            Route::Rewrite { sql, .. } => (sql, Expect::Query),
            // One query string runs as one implicit transaction (or inside
            // the client's): the per-child INSERTs commit or fail together.
            Route::SplitInsert { statements, rows, .. } => (
                router::join_statements(&statements),
                Expect::MergedInsert(Box::new(MergedInsert::new(rows))),
            ),
            Route::Reject {
                server_refuses: true, ..
            } => return unchanged(),
            Route::Reject { code, message, .. } => (raise_sql(code, &message), Expect::Query),
        };
        let mut out = BytesMut::with_capacity(text.len() + 6);
        protocol::put_query(&mut out, &text);
        (out.freeze(), expect)
    }

    /// Answers `EXPLAIN ROUTE <sql>` without executing anything.
    fn explain_route(&self, body: &[u8]) -> Option<Bytes> {
        let sql = protocol::decode_query(body)?;
        let rest = strip_word(sql.trim_start(), "explain")?;
        let inner = strip_word(rest, "route")?.trim().trim_end_matches(';').trim();
        let (catalog, fresh) = match &self.catalog {
            Some(live) => (live.snapshot(), !live.is_stale()),
            None => Default::default(),
        };
        let mut out = BytesMut::new();
        protocol::put_row_description(&mut out, &["parent", "children", "decision", "sql"]);
        let route = match fresh || catalog.hierarchies.is_empty() {
            true => self.route_sql(inner, &catalog),
            false => Route::Passthrough(PassReason::CatalogStale),
        };
        let rows = router::explain::explain(&route, inner);
        for r in &rows {
            protocol::put_data_row(
                &mut out,
                &[
                    r.parent.as_deref(),
                    r.children.as_deref(),
                    Some(&r.decision),
                    Some(&r.sql),
                ],
            );
        }
        let rows = rows.len();
        protocol::put_command_complete(&mut out, &format!("SELECT {rows}"));
        protocol::put_ready_for_query(&mut out, self.status);
        Some(out.freeze())
    }

    fn malformed(&mut self, what: &str) -> End {
        self.fatal("08P01", &format!("invalid {what} message"))
    }

    async fn client_parse(&mut self, frame: Frame) -> Result<(), End> {
        let Some(parse) = protocol::decode_parse(frame.body()) else {
            return Err(self.malformed("Parse"));
        };
        if self.mode == PoolMode::Transaction {
            self.scan_sql(parse.query.as_bytes());
        }
        self.note_creating_sql(parse.query.as_bytes());
        self.note_parse(&parse);
        if !self.renames_statements() || parse.name.is_empty() {
            self.ensure_server().await?;
            self.send(
                Expect::Parse {
                    forward: true,
                    server_name: None,
                },
                &frame.bytes,
            );
            return Ok(());
        }
        let stmt = self.proxy.statements.intern(parse.query, parse.rest);
        let name = parse.name.to_owned();
        self.statements.insert(name, stmt.clone());
        if self.server.is_none() {
            // Between transactions: acknowledge now and prepare on the server at
            // first Bind/Describe, which reports any error. Waiting for a server
            // here would deadlock clients that prepare synchronously while their
            // other connections hold servers mid-transaction (pgbench -M prepared).
            self.synthetic(b'1');
            return Ok(());
        }
        if self.server_has(&stmt) {
            self.synthetic(b'1');
        } else {
            self.prepare_on_server(&stmt, true);
        }
        Ok(())
    }

    /// Whether the current server has `stmt` prepared (marking it used).
    fn server_has(&mut self, stmt: &Statement) -> bool {
        self.server
            .as_mut()
            .is_some_and(|co| co.conn.prepared.touch(&stmt.server_name))
    }

    /// Notes `name` as prepared on the current server.
    fn note_prepared(&mut self, name: &Arc<str>) {
        if let Some(co) = self.server.as_mut() {
            co.conn.prepared.insert(name.clone());
        }
    }

    fn prepare_on_server(&mut self, stmt: &Statement, forward: bool) {
        self.note_prepared(&stmt.server_name);
        let expect = Expect::Parse {
            forward,
            server_name: Some(stmt.server_name.clone()),
        };
        self.send(expect, &stmt.parse);
    }

    /// The shared statement for a client's statement name, prepared on the
    /// current server first if needed. `None` for names the proxy does not map.
    fn map_statement(&mut self, name: &str) -> Option<Arc<Statement>> {
        if !self.renames_statements() || name.is_empty() {
            return None;
        }
        let stmt = self.statements.get(name)?.clone();
        if !self.server_has(&stmt) {
            self.prepare_on_server(&stmt, false);
        }
        Some(stmt)
    }

    async fn client_bind(&mut self, frame: Frame) -> Result<(), End> {
        let Some(bind) = protocol::decode_bind(frame.body()) else {
            return Err(self.malformed("Bind"));
        };
        self.ensure_server().await?;
        if !self.portal_plans.is_empty() {
            self.portal_plans.remove(bind.portal);
        }
        let target = match self.route_bind(&bind) {
            BindRoute::Statement(stmt) => Some(stmt),
            BindRoute::Plan(plan) => {
                self.portal_plans.insert(bind.portal.to_owned(), plan);
                self.map_statement(bind.statement)
            }
            BindRoute::AsIs => self.map_statement(bind.statement),
        };
        match target {
            Some(stmt) => {
                let mut out = BytesMut::with_capacity(frame.bytes.len() + 16);
                protocol::put_bind(&mut out, bind.portal, &stmt.server_name, bind.rest);
                self.send(Expect::Bind, &out);
            }
            None => self.send(Expect::Bind, &frame.bytes),
        }
        Ok(())
    }

    async fn client_describe(&mut self, frame: Frame) -> Result<(), End> {
        let Some((kind, name)) = protocol::decode_target(frame.body()) else {
            return Err(self.malformed("Describe"));
        };
        self.ensure_server().await?;
        let mapped = if kind == b'S' { self.map_statement(name) } else { None };
        match mapped {
            Some(stmt) => {
                let mut out = BytesMut::new();
                protocol::put_target(&mut out, b'D', b'S', &stmt.server_name);
                self.send(Expect::Describe, &out);
            }
            None => self.send(Expect::Describe, &frame.bytes),
        }
        Ok(())
    }

    async fn client_close(&mut self, frame: Frame) -> Result<(), End> {
        let Some((kind, name)) = protocol::decode_target(frame.body()) else {
            return Err(self.malformed("Close"));
        };
        if kind == b'S' {
            self.routable.remove(name);
        } else {
            self.portal_plans.remove(name);
        }
        if kind == b'S' && self.renames_statements() && !name.is_empty() {
            // The server keeps the shared statement for other clients.
            self.statements.remove(name);
            self.synthetic(b'3');
            return Ok(());
        }
        self.ensure_server().await?;
        self.send(Expect::Close, &frame.bytes);
        Ok(())
    }

    /// Notes SQL that may create relations although its command tag says
    /// SELECT: `CREATE TABLE ... AS`, `CREATE MATERIALIZED VIEW`, `SELECT
    /// ... INTO` (a cheap look at the first word).
    fn note_creating_sql(&mut self, sql: &[u8]) {
        let text = std::str::from_utf8(sql).unwrap_or("").trim_start();
        let first = text.split(|c: char| !c.is_ascii_alphabetic()).next().unwrap_or("");
        let creates = first.eq_ignore_ascii_case("create")
            || ((first.eq_ignore_ascii_case("select") || first.eq_ignore_ascii_case("with"))
                && contains_ci(sql, b"into"));
        self.may_create |= creates;
    }

    /// Notes SQL that creates session state a later transaction's server won't have.
    fn scan_sql(&mut self, sql: &[u8]) {
        // A role can be switched without a SET tag (set_config, a DO block).
        if contains_ci(sql, b"set_config") || contains_ci(sql, b"role") || contains_ci(sql, b"authorization") {
            self.capture_settings = true;
        }
        // `advisory_lock` also covers the `_shared` and `try_` session variants
        // (the transaction-scoped ones are `advisory_xact_lock`).
        if contains_ci(sql, b"advisory_lock") || (contains_ci(sql, b"temp") && contains_ci(sql, b"create")) {
            self.discard_on_release = true;
        }
    }

    fn note_command_tag(&mut self, body: &[u8]) {
        let Some(tag) = protocol::decode_command_tag(body) else {
            return;
        };
        match tag {
            "SET" | "RESET" => self.capture_settings = true,
            "PREPARE" if matches!(self.expect.front(), Some(Expect::Query)) => {
                self.discard_on_release = true;
                self.sql_prepare_done();
            }
            "LISTEN" | "PREPARE" | "DECLARE CURSOR" | "LOAD" => self.discard_on_release = true,
            "DEALLOCATE ALL" | "DISCARD ALL" => {
                // The server dropped every prepared statement, the proxy's
                // shared ones included; the client's are gone as they would be.
                self.statements.clear();
                self.sql_prepared.clear();
                if let Some(co) = self.server.as_mut() {
                    co.conn.prepared.clear();
                    if tag == "DISCARD ALL" {
                        co.conn.applied.clear();
                        self.capture_settings = true;
                    }
                }
            }
            _ => {}
        }
    }

    /// Relations, schemas or constraints may have changed: the catalog is
    /// stale (routing fails open for everyone) until this transaction ends
    /// and a reload after it lands.
    fn note_ddl(&mut self, body: &[u8]) {
        let Some(live) = &self.catalog else {
            return;
        };
        let Some(tag) = protocol::decode_command_tag(body) else {
            return;
        };
        let ddl = ["CREATE ", "ALTER ", "DROP ", "IMPORT FOREIGN SCHEMA", "COMMENT"]
            .iter()
            .any(|p| tag.starts_with(p))
            // CREATE TABLE AS and SELECT INTO answer with a SELECT tag.
            || (self.may_create && tag.starts_with("SELECT"));
        if ddl && self.ddl_hold.is_none() {
            self.ddl_hold = Some(live.hold_for_ddl());
        }
    }

    async fn on_server_data(&mut self) -> Result<(), End> {
        loop {
            let Some(co) = self.server.as_mut() else {
                return Ok(());
            };
            let frame = match cut_frame(&mut co.conn.rbuf, SERVER_MAX_MESSAGE) {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => {
                    self.server_lost(&format!("invalid message from server: {e}"));
                    return Ok(());
                }
            };
            self.on_server_frame(frame)?;
        }
        if self.server.is_some() && self.is_idle() {
            match self.mode {
                PoolMode::Transaction => self.release_server().await,
                PoolMode::Session if self.capture_settings && self.catalog.is_some() => {
                    // The router needs the session's search_path.
                    self.capture_settings = false;
                    if let Some(co) = self.server.as_mut() {
                        if let Ok(settings) = read_settings(&mut co.conn).await {
                            self.desired = settings;
                        }
                    }
                }
                PoolMode::Session => {
                    // Statements evicted while the client kept this server busy.
                    let deallocation = self.server.as_mut().and_then(|co| co.conn.prepared.take_deallocation());
                    if let (Some(sql), Some(co)) = (deallocation, self.server.as_mut()) {
                        if let Err(e) = co.conn.internal_query(&sql).await {
                            self.server_lost(&format!("deallocating statements failed: {e}"));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn on_server_frame(&mut self, frame: Frame) -> Result<(), End> {
        match frame.tag {
            b'N' | b'A' => self.to_client.extend_from_slice(&frame.bytes),
            b'S' => {
                if let Some((k, v)) = protocol::decode_parameter_status(frame.body()) {
                    if k == "TimeZone" {
                        // Literals without an offset are read in this zone.
                        self.time_zone = v.to_owned();
                    }
                    if k == "standard_conforming_strings" {
                        // Off, `\\` escapes in '...' strings.
                        self.standard_strings = v != "off";
                    }
                    if let Some(co) = self.server.as_mut() {
                        co.conn.params.insert(k.to_owned(), v.to_owned());
                    }
                }
                self.capture_settings = true;
                self.to_client.extend_from_slice(&frame.bytes);
            }
            b'E' => self.on_server_error(frame)?,
            tag => {
                if let Some(Expect::SplitExecute(merge)) = self.expect.front_mut() {
                    // None of the parts' replies reach the client as they are.
                    if merge.take_extended(&frame, &mut self.to_client) {
                        self.expect.pop_front();
                    }
                    self.emit_synthetic();
                    return Ok(());
                }
                if let Some(Expect::MergedInsert(merge)) = self.expect.front_mut() {
                    if !merge.take(&frame, &mut self.to_client) {
                        return Ok(());
                    }
                }
                let forward = self.expect.front().is_none_or(Expect::forwards);
                if forward {
                    self.to_client.extend_from_slice(&frame.bytes);
                }
                match tag {
                    b'G' => self.enter_copy_in(),
                    b'Z' => {
                        self.status = TransactionStatus::from_byte(frame.body().first().copied());
                        if forward {
                            let more = self.expect.units() > 1;
                            self.observe_ready(self.status, more);
                        }
                        self.ending = None;
                        if self.status.is_idle() {
                            // The DDL is committed or rolled back: reload,
                            // and route the next statement by the new catalog.
                            if self.ddl_hold.take().is_some() {
                                self.awaits_reload = true;
                            }
                            self.may_create = false;
                        }
                        if self.status.is_idle() && !self.portal_plans.is_empty() {
                            // Every portal ends with its transaction.
                            self.portal_plans.clear();
                        }
                        tracing::trace!(status = ?self.status, expect = ?self.expect, "ready for query");
                    }
                    b'C' => {
                        // Session mode needs SETs noted too: the router reads search_path.
                        self.note_command_tag(frame.body());
                        self.note_ddl(frame.body());
                    }
                    _ => {}
                }
                self.expect.complete(tag);
            }
        }
        self.emit_synthetic();
        Ok(())
    }

    fn on_server_error(&mut self, frame: Frame) -> Result<(), End> {
        let fields = protocol::decode_error(frame.body());
        if matches!(fields.severity.as_str(), "FATAL" | "PANIC") {
            // The server is about to close: drop it now. The client keeps its
            // connection to the proxy, so this is reported as a statement error.
            self.server_dying = Some((fields.code, fields.message));
            self.server_lost("server sent FATAL");
            return Ok(());
        }
        if let Some(Expect::HiddenPrepare(name)) = self.expect.front() {
            // The EXECUTE that follows reports the failure to the client.
            tracing::warn!(code = %fields.code, message = %fields.message, "preparing a routed variant failed");
            if let Some(co) = self.server.as_mut() {
                co.conn.prepared.remove(name);
            }
            return Ok(());
        }
        self.to_client.extend_from_slice(&frame.bytes);
        if let Some(Expect::MergedInsert(merge)) = self.expect.front_mut() {
            merge.failed = true;
            return Ok(());
        }
        match self.expect.front() {
            Some(Expect::Query) | None => {}
            Some(_) => {
                // Extended protocol: the server skips everything up to Sync,
                // messages the client has not sent yet included.
                for name in self.expect.skip_to_sync() {
                    if let Some(co) = self.server.as_mut() {
                        co.conn.prepared.remove(&name);
                    }
                }
            }
        }
        Ok(())
    }

    fn emit_synthetic(&mut self) {
        self.expect.emit_synthetic(&mut self.to_client);
    }

    /// The server entered copy-in mode for the statement at the head of the
    /// queue: it will ignore every Sync the client sends before ending the copy.
    fn enter_copy_in(&mut self) {
        if self.expect.enter_copy_in() {
            self.in_copy_in = true;
        }
    }

    /// The server connection failed: tell a client that was waiting on it,
    /// and carry on without it; the next statement takes a new one.
    fn server_lost(&mut self, why: &str) {
        tracing::warn!(pool = %self.pool.name, reason = why, "lost server connection");
        let Some(_dead) = self.server.take() else {
            return;
        };
        self.cancel.slot.set(None);
        self.observe_server_gone();
        let (code, msg) = self.server_dying.take().unwrap_or_else(|| {
            (
                "08006".to_owned(),
                format!("partproxy: lost the server connection: {why}"),
            )
        });
        // Inside a transaction block the client's work is gone with the server:
        // the session answers as a failed transaction until the client ends it.
        let mut status = if self.status.is_idle() {
            TransactionStatus::Idle
        } else {
            TransactionStatus::Failed
        };
        let ending = self.ending.take();
        let units = self.expect.units();
        if units == 1 && ending.is_some() && self.expect.back().is_some_and(Expect::ends_unit) {
            // The client was ending its transaction, so it is over either way:
            // a ROLLBACK has its wish; a COMMIT gets the error (its outcome
            // is unknown to the proxy, exactly as on a direct connection).
            status = TransactionStatus::Idle;
            if ending == Some(TransactionEnd::Rollback) {
                protocol::put_command_complete(&mut self.to_client, "ROLLBACK");
            } else {
                protocol::put_error(&mut self.to_client, Severity::Error, &code, &msg);
            }
            protocol::put_ready_for_query(&mut self.to_client, status);
        } else if !self.expect.is_empty() {
            protocol::put_error(&mut self.to_client, Severity::Error, &code, &msg);
            // Every pipelined query or Sync still waits for its ReadyForQuery;
            // those after the first never ran.
            let not_run = if status == TransactionStatus::Failed {
                lost::ABORTED
            } else {
                (
                    "08006",
                    "partproxy: lost the server connection before this statement ran",
                )
            };
            for unit in 0..units {
                if unit > 0 {
                    protocol::put_error(&mut self.to_client, Severity::Error, not_run.0, not_run.1);
                }
                protocol::put_ready_for_query(&mut self.to_client, status);
            }
            // Messages sent since the last Sync: the client's Sync is still to
            // come, and nothing before it may run on the next server.
            if !self.expect.back().is_some_and(Expect::ends_unit) {
                if units > 0 {
                    protocol::put_error(&mut self.to_client, Severity::Error, not_run.0, not_run.1);
                }
                self.skip_to_sync = true;
            }
        } else if !status.is_idle() || self.mode == PoolMode::Session {
            self.pending_error = Some((code.clone(), msg.clone()));
        }
        if status == TransactionStatus::Failed {
            self.lose_transaction((code, msg));
        }
        self.expect.clear();
        self.to_server.clear();
        self.portal_plans.clear();
        self.status = status;
        self.in_copy_in = false;
    }

    async fn ensure_server(&mut self) -> Result<(), End> {
        if self.server.is_some() {
            return Ok(());
        }
        self.acquire_server().await.map_err(|()| End::Fatal)
    }

    /// Checks out a server and brings its settings in line with the client's.
    /// On failure a FATAL error is queued for the client.
    async fn acquire_server(&mut self) -> Result<(), ()> {
        self.observe_waiting();
        if self.proxy.is_paused() {
            // PAUSE: new work waits for RESUME (or for shutdown to lift it).
            self.proxy.wait_resumed().await;
        }
        let checkout = self.pool.checkout().await;
        self.observe_server_gone();
        let mut co = match checkout {
            Ok(co) => co,
            Err(e) => {
                let code = match e {
                    PoolError::WaitTimeout(_) => "53300",
                    PoolError::Connect(BackendError::Server(ref f)) => {
                        let msg = format!("partproxy: could not connect to the server: {}", f.message);
                        let code = f.code.clone();
                        protocol::put_error(&mut self.to_client, Severity::Fatal, &code, &msg);
                        return Err(());
                    }
                    PoolError::Connect(_) => "08006",
                };
                let msg = format!("partproxy: {e} (pool {})", self.pool.name);
                protocol::put_error(&mut self.to_client, Severity::Fatal, code, &msg);
                return Err(());
            }
        };
        if let Err(e) = apply_settings(&mut co.conn, &self.desired).await {
            let (code, msg) = match e {
                BackendError::Server(f) => (f.code, f.message),
                other => ("08006".to_owned(), format!("partproxy: {other}")),
            };
            protocol::put_error(&mut self.to_client, Severity::Fatal, &code, &msg);
            return Err(());
        }
        self.cancel.slot.set(Some(CancelTarget {
            addr: co.conn.addr,
            pid: co.conn.key.0,
            secret: co.conn.key.1,
        }));
        self.observe_server_held(co.conn.key.0, co.conn.created.elapsed());
        self.server = Some(co);
        Ok(())
    }

    /// Returns the server to the pool between transactions, first carrying the
    /// client's changed settings over and cleaning state that must not leak.
    async fn release_server(&mut self) {
        let Some(mut co) = self.server.take() else {
            return;
        };
        self.observe_server_gone();
        if !self.cancel.release(co.conn.key.0).await {
            tracing::warn!(pool = %self.pool.name, "a cancel for this server is still pending; closing it");
            return;
        }
        if self.capture_settings {
            self.capture_settings = false;
            match read_settings(&mut co.conn).await {
                Ok(settings) => {
                    self.desired = settings;
                    co.conn.applied = self.desired.clone();
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not read session settings; closing server connection");
                    return;
                }
            }
        }
        if self.discard_on_release {
            self.discard_on_release = false;
            self.observed.pool.resets.inc();
            if let Err(e) = co.conn.internal_query("DISCARD ALL").await {
                tracing::warn!(error = %e, "reset failed; closing server connection");
                return;
            }
            co.conn.applied.clear();
            co.conn.prepared.clear();
            self.sql_prepared.clear();
        }
        if let Some(sql) = co.conn.prepared.take_deallocation() {
            if let Err(e) = co.conn.internal_query(&sql).await {
                tracing::warn!(error = %e, "deallocating statements failed; closing server connection");
                return;
            }
        }
        self.pool.checkin(co);
    }

    /// The client is gone: return a clean server, or close one that is busy.
    async fn finish_server(&mut self) {
        let Some(mut co) = self.server.take() else {
            return;
        };
        if !self.cancel.release(co.conn.key.0).await {
            return;
        }
        let quiet = self.expect.is_empty() && self.to_server.is_empty() && co.conn.rbuf.is_empty();
        if !quiet {
            // A statement may still be running: closing the socket makes the
            // server abort it and roll back.
            return;
        }
        if !self.status.is_idle() && co.conn.internal_query("ROLLBACK").await.is_err() {
            return;
        }
        let reset = if self.mode == PoolMode::Session || self.discard_on_release {
            "DISCARD ALL"
        } else {
            RESET_SETTINGS
        };
        self.observed.pool.resets.inc();
        if co.conn.internal_query(reset).await.is_err() {
            return;
        }
        co.conn.applied.clear();
        if reset == "DISCARD ALL" {
            co.conn.prepared.clear();
        }
        self.pool.checkin(co);
    }
}

/// Sets the server's session settings to `desired`, resetting first if the
/// server carries another client's settings. Does nothing when they match.
async fn apply_settings(conn: &mut ServerConn, desired: &BTreeMap<String, String>) -> Result<(), BackendError> {
    if &conn.applied == desired {
        return Ok(());
    }
    let mut sql = String::new();
    if !conn.applied.is_empty() {
        sql.push_str(RESET_SETTINGS);
        sql.push(';');
    }
    if !desired.is_empty() {
        sql.push_str("SELECT ");
        // The session authorization first (it resets the role), then the role.
        let roles = ROLE_SETTINGS.iter().filter_map(|k| desired.get_key_value(*k));
        let others = desired.iter().filter(|(k, _)| !ROLE_SETTINGS.contains(&k.as_str()));
        for (i, (k, v)) in roles.chain(others).enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str("pg_catalog.set_config(");
            sql.push_str(&protocol::quote_literal(k));
            sql.push_str(", ");
            sql.push_str(&protocol::quote_literal(v));
            sql.push_str(", false)");
        }
    }
    conn.applied.clear();
    conn.internal_query(&sql).await?;
    conn.applied = desired.clone();
    Ok(())
}

/// Every setting the session changed, by name.
async fn read_settings(conn: &mut ServerConn) -> Result<BTreeMap<String, String>, BackendError> {
    let rows = conn.internal_query(&capture_settings_sql(&conn.login.clone())).await?;
    Ok(rows
        .into_iter()
        .filter_map(|mut r| {
            let v = r.pop()??;
            let k = r.pop()??;
            Some((k, v))
        })
        .collect())
}

/// Strips a leading keyword (case-insensitive) followed by white space.
fn strip_word<'a>(text: &'a str, word: &str) -> Option<&'a str> {
    let head = text.get(..word.len())?;
    let rest = &text[word.len()..];
    (head.eq_ignore_ascii_case(word) && rest.starts_with(char::is_whitespace)).then(|| rest.trim_start())
}

/// A statement that makes the server raise `code` with `message`, so the
/// refusal affects the transaction exactly as an error from PostgreSQL would.
fn raise_sql(code: &str, message: &str) -> String {
    let mut tag = "$partproxy$".to_owned();
    while message.contains(&tag) {
        tag.insert(tag.len() - 1, '_');
    }
    format!(
        "DO {tag} BEGIN RAISE EXCEPTION USING ERRCODE = '{code}', MESSAGE = {}; END {tag}",
        protocol::quote_literal(message)
    )
}
