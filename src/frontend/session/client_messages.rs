//! What the session does with each message from the client: frames cut
//! within the message-size limit and the proxy's buffer budget (a large
//! simple query or COPY data relayed as it arrives), then each kind handed
//! to the part that deals with it before it goes to the server.

use bytes::BytesMut;

use super::planner::{Plan, Planner};
use super::statements::RoutableStatement;
use super::{End, Expect, Session};
use crate::client_conn::{frame_error_text, ClientStream};
use crate::config::PoolMode;
use crate::prepared::Statement;
use crate::protocol::{self, cut_frame, ClientTag, Frame, TransactionStatus};
use crate::router::{self, PassReason, Route};
use crate::text::contains_ci;

/// Client messages larger than this are relayed as they arrive where the
/// protocol allows, and otherwise held within the buffer budget.
const LARGE_MESSAGE: usize = 8 << 20;

/// How long a session's statement after its own DDL waits for the reload.
const RELOAD_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

impl<S: ClientStream> Session<S> {
    pub(super) async fn on_client_data(&mut self) -> Result<(), End> {
        loop {
            if self.intake.streaming > 0 {
                // The rest of a message relayed as it arrives.
                let n = self.intake.streaming.min(self.client.rbuf.len());
                let part = self.client.rbuf.split_to(n);
                // A server lost meanwhile takes nothing more.
                if self.server.is_held() {
                    self.to_server.extend_from_slice(&part);
                }
                self.intake.streaming -= n;
                if self.intake.streaming > 0 {
                    return Ok(());
                }
                continue;
            }
            if let Some((tag, len)) = protocol::peek_header(&self.client.rbuf) {
                let whole = self.client.rbuf.len() > len;
                if len > LARGE_MESSAGE && len <= self.client.max_message && !whole && self.intake.held.is_none() {
                    if self.can_stream(ClientTag::of(tag)) {
                        self.start_streaming(ClientTag::of(tag), len).await?;
                        continue;
                    }
                    // Held whole to be read: within the proxy's buffer budget.
                    match self.proxy.reserve_buffer(len) {
                        Some(r) => self.intake.held = Some(r),
                        None => {
                            let msg = format!(
                                "out of memory: a message of {len} bytes would pass the proxy's buffer budget (max_buffered_bytes)"
                            );
                            return Err(self.fatal("53200", &msg));
                        }
                    }
                }
            }
            let frame = match cut_frame(&mut self.client.rbuf, self.client.max_message) {
                Ok(Some(f)) => f,
                Ok(None) => return Ok(()),
                Err(e) => return Err(self.fatal("08P01", &frame_error_text(&e))),
            };
            if self.intake.held.take().is_some() && self.client.rbuf.capacity() > LARGE_MESSAGE {
                // Give the large allocation back once the message is handled.
                self.client.rbuf = BytesMut::from(&self.client.rbuf[..]);
            }
            self.on_client_frame(frame).await?;
        }
    }

    /// Whether a large message of this kind may be relayed as it arrives
    /// (the proxy need not read it whole): a simple query, which then passes
    /// through unread, or COPY data.
    fn can_stream(&self, tag: ClientTag) -> bool {
        let plain = !self.tx.answers_alone(self.server.is_held());
        plain && (tag == ClientTag::Query || (tag == ClientTag::CopyData && self.in_copy_in && self.server.is_held()))
    }

    /// Starts relaying a large message: its header and what has arrived go
    /// now, the rest as it comes.
    async fn start_streaming(&mut self, tag: ClientTag, len: usize) -> Result<(), End> {
        let head = self.client.rbuf.split_to(self.client.rbuf.len());
        self.intake.streaming = len + 1 - head.len();
        if tag == ClientTag::CopyData {
            self.to_server.extend_from_slice(&head);
            return Ok(());
        }
        self.ensure_server().await?;
        // Unread, it may do anything a statement can: assume the most.
        if self.mode == PoolMode::Transaction {
            self.server.discard_on_release = true;
            self.server.capture_settings = true;
        }
        self.ddl.note_unread_sql();
        self.tx.query_sent(None);
        self.names.forget_pending_prepare();
        if let Some(live) = &self.catalog {
            let catalog = live.snapshot();
            let route = Route::Passthrough(PassReason::TooLarge);
            self.observe_route(&route, "", &catalog, std::time::Duration::ZERO);
        }
        self.send(Expect::Query, &head);
        Ok(())
    }

    async fn on_client_frame(&mut self, frame: Frame) -> Result<(), End> {
        let held = self.server.is_held();
        if self.tx.answers_alone(held) {
            let registry = &self.proxy.statements;
            let out = &mut self.client.wbuf;
            if self
                .tx
                .answer_without_server(&frame, held, &mut self.names, registry, out)
            {
                return Ok(());
            }
        }
        let tag = frame.client_tag();
        if matches!(tag, ClientTag::Query | ClientTag::Parse | ClientTag::Bind) && self.ddl.take_awaits_reload() {
            if let Some(live) = &self.catalog {
                // Past the limit the statement fails open instead.
                live.wait_fresh(RELOAD_WAIT).await;
            }
        }
        match tag {
            ClientTag::Query => self.client_query(frame).await?,
            ClientTag::Parse => self.client_parse(frame).await?,
            ClientTag::Bind => self.client_bind(frame).await?,
            ClientTag::Describe => self.client_describe(frame).await?,
            ClientTag::Execute => self.client_execute(frame).await?,
            ClientTag::Close => self.client_close(frame).await?,
            ClientTag::Sync if self.in_copy_in => self.to_server.extend_from_slice(&frame.bytes),
            ClientTag::Sync => {
                if !self.server.is_held() && self.replies.is_empty() && self.tx.is_idle() {
                    // Nothing outstanding and no transaction: answer without a server.
                    protocol::put_ready_for_query(&mut self.client.wbuf, TransactionStatus::Idle);
                } else {
                    self.ensure_server().await?;
                    self.send(Expect::Sync, &frame.bytes);
                }
            }
            ClientTag::Flush => {
                if self.server.is_held() {
                    self.to_server.extend_from_slice(&frame.bytes);
                }
            }
            ClientTag::FunctionCall => {
                self.ensure_server().await?;
                self.send(Expect::Query, &frame.bytes);
            }
            ClientTag::CopyData | ClientTag::CopyDone | ClientTag::CopyFail => {
                // Copy data for a server that died mid-COPY is dropped.
                if self.server.is_held() {
                    self.to_server.extend_from_slice(&frame.bytes);
                    if tag != ClientTag::CopyData {
                        if self.in_copy_in {
                            self.in_copy_in = false;
                        } else {
                            self.replies.copy_end();
                        }
                    }
                }
            }
            ClientTag::Terminate => return Err(End::ClientGone),
            ClientTag::Password | ClientTag::Other(_) => {
                let msg = format!("invalid frontend message type {}", frame.tag);
                return Err(self.fatal("08P01", &msg));
            }
        }
        Ok(())
    }

    fn malformed(&mut self, what: &str) -> End {
        self.fatal("08P01", &format!("invalid {what} message"))
    }

    async fn client_query(&mut self, frame: Frame) -> Result<(), End> {
        if let Some(reply) = self.explain_route(frame.body()) {
            self.replies.synthetic(reply, &mut self.client.wbuf);
            return Ok(());
        }
        self.ensure_server().await?;
        if self.mode == PoolMode::Transaction {
            self.scan_sql(frame.body());
        }
        self.ddl.note_sql(frame.body());
        self.tx.query_sent(protocol::decode_query(frame.body()));
        self.names.forget_pending_prepare();
        match self.route_query(&frame) {
            Plan::Replace(wire) => self.send_wire(wire),
            Plan::AsIs | Plan::BindThen(..) => self.send(Expect::Query, &frame.bytes),
        }
        Ok(())
    }

    async fn client_parse(&mut self, frame: Frame) -> Result<(), End> {
        let Some(parse) = protocol::decode_parse(frame.body()) else {
            return Err(self.malformed("Parse"));
        };
        if self.mode == PoolMode::Transaction {
            self.scan_sql(parse.query.as_bytes());
        }
        self.ddl.note_sql(parse.query.as_bytes());
        let names_parent = self
            .catalog
            .as_ref()
            .is_some_and(|live| !router::names_no_parent(parse.query, &live.snapshot()));
        let routable = names_parent
            .then(|| protocol::decode_param_types(parse.rest))
            .flatten()
            .map(|types| RoutableStatement::new(parse.query, parse.rest, types));
        self.names.set_routable(parse.name, routable);
        if !self.names.renames(parse.name) {
            self.ensure_server().await?;
            let expect = Expect::Parse {
                forward: true,
                server_name: None,
            };
            self.send(expect, &frame.bytes);
            return Ok(());
        }
        let stmt = self.proxy.statements.intern(parse.query, parse.rest);
        self.names.define(parse.name, stmt.clone());
        if !self.server.is_held() || self.server.has_prepared(&stmt.server_name) {
            // Between transactions: acknowledge now and prepare on the server at
            // first Bind/Describe, which reports any error. Waiting for a server
            // here would deadlock clients that prepare synchronously while their
            // other connections hold servers mid-transaction (pgbench -M prepared).
            self.synthetic(b'1');
        } else {
            self.prepare_on_server(&stmt, true);
        }
        Ok(())
    }

    fn prepare_on_server(&mut self, stmt: &Statement, forward: bool) {
        self.server.note_prepared(&stmt.server_name);
        let expect = Expect::Parse {
            forward,
            server_name: Some(stmt.server_name.clone()),
        };
        self.send(expect, &stmt.parse);
    }

    /// The shared statement for a client's statement name, prepared on the
    /// current server first if needed. `None` for names the proxy does not map.
    fn map_statement(&mut self, name: &str) -> Option<std::sync::Arc<Statement>> {
        let stmt = self.names.shared(name)?;
        if !self.server.has_prepared(&stmt.server_name) {
            self.prepare_on_server(&stmt, false);
        }
        Some(stmt)
    }

    /// Sends a message naming the client's statement `name` under the name
    /// the server knows it by.
    fn send_mapped(&mut self, frame: &Frame, name: &str, expect: Expect, rename: impl FnOnce(&mut BytesMut, &str)) {
        match self.map_statement(name) {
            Some(stmt) => {
                let mut out = BytesMut::with_capacity(frame.bytes.len() + 16);
                rename(&mut out, &stmt.server_name);
                self.send(expect, &out);
            }
            None => self.send(expect, &frame.bytes),
        }
    }

    async fn client_bind(&mut self, frame: Frame) -> Result<(), End> {
        let Some(bind) = protocol::decode_bind(frame.body()) else {
            return Err(self.malformed("Bind"));
        };
        self.ensure_server().await?;
        self.names.close_portal(bind.portal);
        match self.route_bind(&bind) {
            Plan::Replace(wire) => self.send_wire(wire),
            plan => {
                if let Plan::BindThen(wire, portal_plan) = plan {
                    self.send_wire(wire);
                    self.names.plan_portal(bind.portal, portal_plan);
                }
                let (portal, rest) = (bind.portal, bind.rest);
                self.send_mapped(&frame, bind.statement, Expect::Bind, |out, name| {
                    protocol::put_bind(out, portal, name, rest)
                });
            }
        }
        Ok(())
    }

    async fn client_describe(&mut self, frame: Frame) -> Result<(), End> {
        let Some((kind, name)) = protocol::decode_target(frame.body()) else {
            return Err(self.malformed("Describe"));
        };
        self.ensure_server().await?;
        if kind == b'S' {
            self.send_mapped(&frame, name, Expect::Describe, |out, name| {
                protocol::put_target(out, b'D', b'S', name)
            });
        } else {
            self.send(Expect::Describe, &frame.bytes);
        }
        Ok(())
    }

    async fn client_execute(&mut self, frame: Frame) -> Result<(), End> {
        self.ensure_server().await?;
        let plan = protocol::decode_execute(frame.body()).and_then(|portal| self.names.take_portal_plan(portal));
        let Some(plan) = plan else {
            self.send(Expect::Execute, &frame.bytes);
            return Ok(());
        };
        let registry = &self.proxy.statements;
        let server = &mut self.server;
        let mut on_server = |name: &str| server.has_prepared(name);
        let wire = Planner::new(registry, &mut on_server).execute(plan);
        self.send_wire(wire);
        Ok(())
    }

    async fn client_close(&mut self, frame: Frame) -> Result<(), End> {
        let Some((kind, name)) = protocol::decode_target(frame.body()) else {
            return Err(self.malformed("Close"));
        };
        if kind == b'S' {
            if self.names.close_statement(name) {
                // The server keeps the shared statement for other clients.
                self.synthetic(b'3');
                return Ok(());
            }
        } else {
            self.names.close_portal(name);
        }
        self.ensure_server().await?;
        self.send(Expect::Close, &frame.bytes);
        Ok(())
    }

    /// Notes SQL that creates session state a later transaction's server won't have.
    fn scan_sql(&mut self, sql: &[u8]) {
        // A role can be switched without a SET tag (set_config, a DO block).
        if contains_ci(sql, b"set_config") || contains_ci(sql, b"role") || contains_ci(sql, b"authorization") {
            self.server.capture_settings = true;
        }
        // `advisory_lock` also covers the `_shared` and `try_` session variants
        // (the transaction-scoped ones are `advisory_xact_lock`).
        if contains_ci(sql, b"advisory_lock") || (contains_ci(sql, b"temp") && contains_ci(sql, b"create")) {
            self.server.discard_on_release = true;
        }
    }
}
