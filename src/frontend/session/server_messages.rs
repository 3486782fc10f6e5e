//! What the session does with each message from its server: replies
//! matched against the reply queue (forwarded, dropped, merged or followed
//! by the proxy's own), the transaction status, settings the client changed,
//! DDL; and the server's life in the session — taken when needed, returned
//! between transactions in transaction pooling, dropped when it fails.

use super::server_slot::Released;
use super::{End, Expect, Session};
use crate::backend::conn::SERVER_MAX_MESSAGE;
use crate::client_conn::ClientStream;
use crate::config::PoolMode;
use crate::protocol::{self, cut_frame, Frame, ServerTag, Severity, TransactionStatus};

impl<S: ClientStream> Session<S> {
    pub(super) async fn on_server_data(&mut self) -> Result<(), End> {
        loop {
            let Some(conn) = self.server.conn() else {
                return Ok(());
            };
            let frame = match cut_frame(&mut conn.rbuf, SERVER_MAX_MESSAGE) {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => {
                    self.server_lost(&format!("invalid message from server: {e}"));
                    return Ok(());
                }
            };
            self.on_server_frame(frame);
        }
        if self.server.is_held() && self.is_idle() {
            match self.mode {
                PoolMode::Transaction => self.release_server().await,
                PoolMode::Session => {
                    if let Err(e) = self.server.settle_session(self.catalog.is_some()).await {
                        self.server_lost(&format!("settling the session failed: {e}"));
                    }
                }
            }
        }
        Ok(())
    }

    fn on_server_frame(&mut self, frame: Frame) {
        let tag = frame.server_tag();
        match tag {
            _ if tag.is_asynchronous() => self.client.wbuf.extend_from_slice(&frame.bytes),
            ServerTag::ParameterStatus => self.on_parameter_status(&frame),
            ServerTag::ErrorResponse => self.on_server_error(frame),
            _ => self.on_reply(tag, frame),
        }
        self.replies.emit_synthetic(&mut self.client.wbuf);
    }

    fn on_parameter_status(&mut self, frame: &Frame) {
        if let Some((k, v)) = protocol::decode_parameter_status(frame.body()) {
            if k == "TimeZone" {
                // Literals without an offset are read in this zone.
                self.reported.time_zone = v.to_owned();
            }
            if k == "standard_conforming_strings" {
                // Off, `\\` escapes in '...' strings.
                self.reported.standard_strings = v != "off";
            }
            if let Some(conn) = self.server.conn() {
                conn.params.insert(k.to_owned(), v.to_owned());
            }
        }
        self.server.capture_settings = true;
        self.client.wbuf.extend_from_slice(&frame.bytes);
    }

    /// A reply to something sent: forwarded, merged or dropped as the queue says.
    fn on_reply(&mut self, tag: ServerTag, frame: Frame) {
        if let Some(Expect::SplitExecute(merge)) = self.replies.front_mut() {
            // None of the parts' replies reach the client as they are.
            if merge.take_extended(&frame, &mut self.client.wbuf) {
                self.replies.pop_front();
            }
            return;
        }
        if let Some(Expect::MergedInsert(merge)) = self.replies.front_mut() {
            if !merge.take(&frame, &mut self.client.wbuf) {
                return;
            }
        }
        let forward = self.replies.front().is_none_or(Expect::forwards);
        if forward {
            self.client.wbuf.extend_from_slice(&frame.bytes);
        }
        match tag {
            // The server ignores every Sync the client sends before it ends the copy.
            ServerTag::CopyInResponse if self.replies.enter_copy_in() => self.in_copy_in = true,
            ServerTag::ReadyForQuery => {
                self.on_ready(TransactionStatus::from_byte(frame.body().first().copied()), forward)
            }
            ServerTag::CommandComplete => {
                if let Some(tag) = protocol::decode_command_tag(frame.body()) {
                    // Session mode needs SETs noted too: the router reads search_path.
                    self.note_command_tag(tag);
                    if let Some(live) = &self.catalog {
                        self.ddl.note_tag(tag, live);
                    }
                }
            }
            _ => {}
        }
        self.replies.complete(tag);
    }

    fn on_ready(&mut self, status: TransactionStatus, forwarded: bool) {
        self.tx.ready(status);
        if forwarded {
            let more = self.replies.units() > 1;
            self.observe_ready(status, more);
        }
        if status.is_idle() {
            // The DDL is committed or rolled back: reload, and route the
            // next statement by the new catalog. Every portal ends too.
            self.ddl.transaction_ended();
            self.names.transaction_ended();
        }
        tracing::trace!(?status, expect = ?self.replies, "ready for query");
    }

    fn note_command_tag(&mut self, tag: &str) {
        match tag {
            "SET" | "RESET" => self.server.capture_settings = true,
            "PREPARE" if matches!(self.replies.front(), Some(Expect::Query)) => {
                self.server.discard_on_release = true;
                self.names.sql_prepare_done();
            }
            "LISTEN" | "PREPARE" | "DECLARE CURSOR" | "LOAD" => self.server.discard_on_release = true,
            "DEALLOCATE ALL" | "DISCARD ALL" => {
                // The server dropped every prepared statement, the proxy's
                // shared ones included; the client's are gone as they would be.
                self.names.server_dropped_statements();
                self.server.server_dropped_statements(tag == "DISCARD ALL");
            }
            _ => {}
        }
    }

    fn on_server_error(&mut self, frame: Frame) {
        let fields = protocol::decode_error(frame.body());
        if matches!(fields.severity.as_str(), "FATAL" | "PANIC") {
            // The server is about to close: drop it now. The client keeps its
            // connection to the proxy, so this is reported as a statement error.
            self.drop_server("server sent FATAL", (fields.code, fields.message));
            return;
        }
        if let Some(Expect::HiddenPrepare(name)) = self.replies.front() {
            // The EXECUTE that follows reports the failure to the client.
            tracing::warn!(code = %fields.code, message = %fields.message, "preparing a routed variant failed");
            let name = name.clone();
            self.server.forget_prepared(&name);
            return;
        }
        self.client.wbuf.extend_from_slice(&frame.bytes);
        if let Some(Expect::MergedInsert(merge)) = self.replies.front_mut() {
            merge.failed = true;
            return;
        }
        if !matches!(self.replies.front(), Some(Expect::Query) | None) {
            // Extended protocol: the server skips everything up to Sync,
            // messages the client has not sent yet included.
            for name in self.replies.skip_to_sync() {
                self.server.forget_prepared(&name);
            }
        }
    }

    /// The server connection failed: tell a client that was waiting on it,
    /// and carry on without it; the next statement takes a new one.
    pub(super) fn server_lost(&mut self, why: &str) {
        let failure = (
            "08006".to_owned(),
            format!("partproxy: lost the server connection: {why}"),
        );
        self.drop_server(why, failure);
    }

    fn drop_server(&mut self, why: &str, failure: (String, String)) {
        tracing::warn!(pool = %self.server.pool().name, reason = why, "lost server connection");
        if !self.server.drop_lost() {
            return;
        }
        self.observe_server_gone();
        let session_mode = self.mode == PoolMode::Session;
        self.tx
            .server_lost(&self.replies, session_mode, failure, &mut self.client.wbuf);
        self.replies.clear();
        self.to_server.clear();
        self.names.transaction_ended();
        self.in_copy_in = false;
    }

    pub(super) async fn ensure_server(&mut self) -> Result<(), End> {
        if self.server.is_held() {
            return Ok(());
        }
        self.acquire_server().await.map_err(|()| End::Fatal)
    }

    /// Checks out a server and brings its settings in line with the client's.
    /// On failure a FATAL error is queued for the client.
    pub(super) async fn acquire_server(&mut self) -> Result<(), ()> {
        self.observe_waiting();
        if self.proxy.is_paused() {
            // PAUSE: new work waits for RESUME (or for shutdown to lift it).
            self.proxy.wait_resumed().await;
        }
        let acquired = self.server.acquire().await;
        self.observe_server_gone();
        match acquired {
            Ok(held) => {
                self.observe_server_held(held.pid, held.age);
                Ok(())
            }
            Err(refusal) => {
                protocol::put_error(&mut self.client.wbuf, Severity::Fatal, &refusal.code, &refusal.message);
                Err(())
            }
        }
    }

    /// Returns the server to the pool between transactions.
    pub(super) async fn release_server(&mut self) {
        if !self.server.is_held() {
            return;
        }
        self.observe_server_gone();
        let resets = self.observed.pool.resets.clone();
        if self.server.release(&resets).await == Released::Discarded {
            self.names.sql_statements_discarded();
        }
    }
}
