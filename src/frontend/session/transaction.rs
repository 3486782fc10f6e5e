//! The client's transaction state as PostgreSQL would report it, and what
//! the session answers when the server under it dies.
//!
//! The status follows each ReadyForQuery. When the server is lost, the
//! client's waiting statements get an error each; outside a transaction the
//! client just goes on (on the next server). Inside one its work is gone,
//! so the session behaves as PostgreSQL does in a failed transaction: every
//! statement fails with 25P02 until the client ends the block, and COMMIT
//! fails too. Otherwise the statements it sends next would run (and commit)
//! outside the transaction it believes it is in, and a COMMIT would report
//! success for writes that were lost. No socket here: replies go to a buffer.

use std::collections::HashMap;

use bytes::BytesMut;

use super::replies::{Expect, ReplyQueue};
use super::statements::StatementMap;
use crate::prepared::StatementRegistry;
use crate::protocol::{self, ClientTag, Frame, Severity, TransactionStatus};
use crate::text::{transaction_end, TransactionEnd};

/// 25P02, what every statement of a failed transaction gets.
const ABORTED: (&str, &str) = (
    "25P02",
    "current transaction is aborted, commands ignored until end of transaction block",
);

/// A pipelined statement that never reached a server.
const NOT_RUN: (&str, &str) = (
    "08006",
    "partproxy: lost the server connection before this statement ran",
);

/// An error to report: SQLSTATE and message.
pub(super) type Failure = (String, String);

/// The transaction state of one client.
#[derive(Debug, Default)]
pub(super) struct Transaction {
    status: TransactionStatus,
    /// A simple-query COMMIT/ROLLBACK of the client's transaction is in flight.
    ending: Option<TransactionEnd>,
    /// A failure to report at the client's next statement: its server died
    /// while it was idle inside a transaction (or session).
    pending_error: Option<Failure>,
    /// Dropping extended-protocol messages up to Sync after reporting an error.
    skip_to_sync: bool,
    /// Why the server was lost inside the block: what its COMMIT reports.
    lost_reason: Option<Failure>,
    /// Statements and portals created while the transaction was lost that
    /// end the block (`COMMIT`, `ROLLBACK`, ...): drivers that send those
    /// through the extended protocol must be able to run them.
    lost_statements: HashMap<String, TransactionEnd>,
    lost_portals: HashMap<String, TransactionEnd>,
}

impl Transaction {
    /// The status the client was last told.
    pub(super) fn status(&self) -> TransactionStatus {
        self.status
    }

    /// Outside a transaction block.
    pub(super) fn is_idle(&self) -> bool {
        self.status.is_idle()
    }

    /// A simple query goes to the server: inside a block, note whether it ends it.
    pub(super) fn query_sent(&mut self, sql: Option<&str>) {
        self.ending = match self.status.is_idle() {
            true => None,
            false => sql.and_then(transaction_end),
        };
    }

    /// The server answered ReadyForQuery with `status`.
    pub(super) fn ready(&mut self, status: TransactionStatus) {
        self.status = status;
        self.ending = None;
    }

    /// The client's transaction died with its server (none is held now).
    pub(super) fn is_lost(&self, server_held: bool) -> bool {
        !server_held && !self.status.is_idle()
    }

    /// Whether the next client message is answered by [`Self::answer_without_server`].
    pub(super) fn answers_alone(&self, server_held: bool) -> bool {
        self.is_lost(server_held) || self.skip_to_sync || self.pending_error.is_some()
    }

    /// The server died. Answers every reply `queue` still waited for,
    /// and notes what the client's next messages get.
    pub(super) fn server_lost(&mut self, queue: &ReplyQueue, session_mode: bool, failure: Failure, out: &mut BytesMut) {
        let (code, msg) = failure;
        let mut status = match self.status.is_idle() {
            true => TransactionStatus::Idle,
            false => TransactionStatus::Failed,
        };
        let ending = self.ending.take();
        let units = queue.units();
        if units == 1 && ending.is_some() && queue.back().is_some_and(Expect::ends_unit) {
            // The client was ending its transaction, so it is over either way:
            // a ROLLBACK has its wish; a COMMIT gets the error (its outcome
            // is unknown to the proxy, exactly as on a direct connection).
            status = TransactionStatus::Idle;
            if ending == Some(TransactionEnd::Rollback) {
                protocol::put_command_complete(out, "ROLLBACK");
            } else {
                protocol::put_error(out, Severity::Error, &code, &msg);
            }
            protocol::put_ready_for_query(out, status);
        } else if !queue.is_empty() {
            protocol::put_error(out, Severity::Error, &code, &msg);
            // Every pipelined query or Sync still waits for its ReadyForQuery;
            // those after the first never ran.
            let not_run = if status == TransactionStatus::Failed {
                ABORTED
            } else {
                NOT_RUN
            };
            for unit in 0..units {
                if unit > 0 {
                    protocol::put_error(out, Severity::Error, not_run.0, not_run.1);
                }
                protocol::put_ready_for_query(out, status);
            }
            // Messages sent since the last Sync: the client's Sync is still to
            // come, and nothing before it may run on the next server.
            if !queue.back().is_some_and(Expect::ends_unit) {
                if units > 0 {
                    protocol::put_error(out, Severity::Error, not_run.0, not_run.1);
                }
                self.skip_to_sync = true;
            }
        } else if !status.is_idle() || session_mode {
            self.pending_error = Some((code.clone(), msg.clone()));
        }
        if status == TransactionStatus::Failed {
            self.lost_reason = Some((code, msg));
            self.lost_statements.clear();
            self.lost_portals.clear();
        }
        self.status = status;
    }

    /// Answers `frame` when a lost server's error is still to be reported,
    /// the rest of a failed pipeline is being skipped, or the client's
    /// transaction is lost. Returns false when the frame should be handled
    /// normally.
    pub(super) fn answer_without_server(
        &mut self,
        frame: &Frame,
        server_held: bool,
        names: &mut StatementMap,
        registry: &StatementRegistry,
        out: &mut BytesMut,
    ) -> bool {
        let lost = self.is_lost(server_held);
        if !self.answers_alone(server_held) {
            return false;
        }
        let tag = frame.client_tag();
        match tag {
            ClientTag::Terminate => return false,
            ClientTag::Flush | ClientTag::CopyData | ClientTag::CopyDone | ClientTag::CopyFail => {}
            ClientTag::Sync if self.skip_to_sync || lost => {
                self.skip_to_sync = false;
                protocol::put_ready_for_query(out, self.status);
            }
            _ if self.skip_to_sync => {}
            _ if !lost => {
                // Outside a transaction: report once, then go on.
                let Some((code, msg)) = self.pending_error.take() else {
                    return false;
                };
                protocol::put_error(out, Severity::Error, &code, &msg);
                self.after_error(tag, out);
            }
            ClientTag::Query => {
                match protocol::decode_query(frame.body()).and_then(transaction_end) {
                    Some(end) => {
                        self.end_lost(end, out);
                    }
                    None => self.fail_statement(out),
                }
                protocol::put_ready_for_query(out, self.status);
            }
            ClientTag::Parse => self.lost_parse(frame, names, registry, out),
            ClientTag::Bind => {
                let end = protocol::decode_bind(frame.body())
                    .and_then(|b| Some((b.portal.to_owned(), *self.lost_statements.get(b.statement)?)));
                match end {
                    Some((portal, end)) => {
                        self.lost_portals.insert(portal, end);
                        protocol::put_empty(out, b'2');
                    }
                    None => self.fail_message(tag, out),
                }
            }
            ClientTag::Describe => match protocol::decode_target(frame.body()) {
                Some((b'S', name)) if self.lost_statements.contains_key(name) => {
                    // No parameters, no result columns.
                    out.extend_from_slice(&[b't', 0, 0, 0, 6, 0, 0]);
                    protocol::put_empty(out, b'n');
                }
                Some((b'P', name)) if self.lost_portals.contains_key(name) => {
                    protocol::put_empty(out, b'n');
                }
                _ => self.fail_message(tag, out),
            },
            ClientTag::Execute => {
                let portal = protocol::decode_execute(frame.body());
                match portal.and_then(|p| self.lost_portals.remove(p)) {
                    Some(end) => {
                        if !self.end_lost(end, out) {
                            self.skip_to_sync = true;
                        }
                    }
                    None => self.fail_message(tag, out),
                }
            }
            ClientTag::Close => {
                if let Some((kind, name)) = protocol::decode_target(frame.body()) {
                    if kind == b'S' {
                        self.lost_statements.remove(name);
                        names.close_statement(name);
                    } else {
                        self.lost_portals.remove(name);
                    }
                }
                protocol::put_empty(out, b'3');
            }
            _ => self.fail_message(tag, out),
        }
        true
    }

    fn lost_parse(
        &mut self,
        frame: &Frame,
        names: &mut StatementMap,
        registry: &StatementRegistry,
        out: &mut BytesMut,
    ) {
        let Some(parse) = protocol::decode_parse(frame.body()) else {
            return self.fail_message(ClientTag::Parse, out);
        };
        let Some(end) = transaction_end(parse.query) else {
            return self.fail_message(ClientTag::Parse, out);
        };
        if names.renames(parse.name) {
            // Usable later on any server, like every named statement here.
            names.define(parse.name, registry.intern(parse.query, parse.rest));
        }
        names.set_routable(parse.name, None);
        self.lost_statements.insert(parse.name.to_owned(), end);
        protocol::put_empty(out, b'1');
    }

    /// The client ended its lost transaction. ROLLBACK succeeds. COMMIT fails
    /// with the reason the server was lost, even if the client was told
    /// before (a driver may have swallowed that error on a message of its
    /// own), so no client ever believes lost writes were committed.
    /// Returns whether it succeeded.
    fn end_lost(&mut self, end: TransactionEnd, out: &mut BytesMut) -> bool {
        let reason = self.pending_error.take().or_else(|| self.lost_reason.take());
        self.status = TransactionStatus::Idle;
        self.lost_reason = None;
        self.lost_statements.clear();
        self.lost_portals.clear();
        match (end, reason) {
            (TransactionEnd::Commit, Some((code, msg))) => {
                protocol::put_error(out, Severity::Error, &code, &msg);
                false
            }
            _ => {
                protocol::put_command_complete(out, "ROLLBACK");
                true
            }
        }
    }

    /// A statement in the lost transaction fails: with the server's error
    /// the first time, 25P02 after that.
    fn fail_statement(&mut self, out: &mut BytesMut) {
        let (code, msg) = self
            .pending_error
            .take()
            .unwrap_or_else(|| (ABORTED.0.to_owned(), ABORTED.1.to_owned()));
        protocol::put_error(out, Severity::Error, &code, &msg);
    }

    fn fail_message(&mut self, tag: ClientTag, out: &mut BytesMut) {
        self.fail_statement(out);
        self.after_error(tag, out);
    }

    /// After an error, a simple query or function call ends with
    /// ReadyForQuery; extended-protocol messages are skipped up to Sync.
    fn after_error(&mut self, tag: ClientTag, out: &mut BytesMut) {
        if tag.ends_on_error() {
            protocol::put_ready_for_query(out, self.status);
        } else {
            self.skip_to_sync = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::cut_frame;

    fn failure() -> Failure {
        ("08006".into(), "server gone".into())
    }

    /// The client-visible replies as tags, with SQLSTATEs, command tags and statuses.
    fn seen(out: &mut BytesMut) -> Vec<String> {
        let mut v = Vec::new();
        while let Some(f) = cut_frame(out, 1 << 20).unwrap() {
            v.push(match f.tag {
                b'E' => format!("E{}", protocol::decode_error(f.body()).code),
                b'C' => format!("C{}", protocol::decode_command_tag(f.body()).unwrap_or("")),
                b'Z' => format!("Z{}", f.body()[0] as char),
                t => (t as char).to_string(),
            });
        }
        v
    }

    fn msg(build: impl FnOnce(&mut BytesMut)) -> Frame {
        let mut b = BytesMut::new();
        build(&mut b);
        cut_frame(&mut b, 1 << 20).unwrap().unwrap()
    }

    fn query(sql: &str) -> Frame {
        msg(|b| protocol::put_query(b, sql))
    }

    fn sync() -> Frame {
        msg(|b| protocol::put_empty(b, b'S'))
    }

    fn queue(expects: Vec<Expect>) -> ReplyQueue {
        let mut q = ReplyQueue::default();
        for e in expects {
            q.push(e);
        }
        q
    }

    /// Feeds a client message to a session without a server.
    fn answer(tx: &mut Transaction, names: &mut StatementMap, frame: &Frame) -> Vec<String> {
        let registry = StatementRegistry::default();
        let mut out = BytesMut::new();
        assert!(tx.answer_without_server(frame, false, names, &registry, &mut out));
        seen(&mut out)
    }

    #[test]
    fn idle_and_quiet_a_lost_server_goes_unnoticed_in_transaction_pooling() {
        let mut tx = Transaction::default();
        let mut out = BytesMut::new();
        tx.server_lost(&ReplyQueue::default(), false, failure(), &mut out);
        assert!(out.is_empty());
        assert!(!tx.answers_alone(false), "the next statement takes a new server");
        // In session pooling the client had that server: it hears of it once.
        tx.server_lost(&ReplyQueue::default(), true, failure(), &mut out);
        let mut names = StatementMap::new(false);
        assert_eq!(answer(&mut tx, &mut names, &query("SELECT 1")), ["E08006", "ZI"]);
        assert!(!tx.answers_alone(false));
    }

    #[test]
    fn each_pipelined_query_gets_its_error_and_ready_for_query() {
        let mut tx = Transaction::default();
        let mut out = BytesMut::new();
        tx.server_lost(&queue(vec![Expect::Query, Expect::Query]), false, failure(), &mut out);
        assert_eq!(seen(&mut out), ["E08006", "ZI", "E08006", "ZI"]);
        assert!(tx.is_idle());
    }

    #[test]
    fn a_lost_transaction_fails_every_statement_until_rollback() {
        let mut tx = Transaction::default();
        tx.ready(TransactionStatus::InBlock);
        tx.query_sent(Some("INSERT INTO t VALUES (1)"));
        let mut out = BytesMut::new();
        tx.server_lost(&queue(vec![Expect::Query]), false, failure(), &mut out);
        assert_eq!(seen(&mut out), ["E08006", "ZE"]);
        let mut names = StatementMap::new(true);
        assert_eq!(answer(&mut tx, &mut names, &query("SELECT 1")), ["E25P02", "ZE"]);
        assert_eq!(answer(&mut tx, &mut names, &query("ROLLBACK")), ["CROLLBACK", "ZI"]);
        assert!(!tx.answers_alone(false));
    }

    #[test]
    fn commit_of_a_lost_transaction_fails_with_the_reason() {
        let mut tx = Transaction::default();
        tx.ready(TransactionStatus::InBlock);
        let mut out = BytesMut::new();
        // Lost while the client was idle inside its block.
        tx.server_lost(&ReplyQueue::default(), false, failure(), &mut out);
        assert!(out.is_empty());
        let mut names = StatementMap::new(true);
        assert_eq!(answer(&mut tx, &mut names, &query("SELECT 1")), ["E08006", "ZE"]);
        assert_eq!(answer(&mut tx, &mut names, &query("COMMIT")), ["E08006", "ZI"]);
        assert!(tx.is_idle());
    }

    #[test]
    fn a_commit_or_rollback_in_flight_ends_the_transaction_either_way() {
        for (sql, first) in [("COMMIT", "E08006"), ("ROLLBACK", "CROLLBACK")] {
            let mut tx = Transaction::default();
            tx.ready(TransactionStatus::InBlock);
            tx.query_sent(Some(sql));
            let mut out = BytesMut::new();
            tx.server_lost(&queue(vec![Expect::Query]), false, failure(), &mut out);
            assert_eq!(seen(&mut out), [first, "ZI"], "{sql}");
            assert!(tx.is_idle() && !tx.answers_alone(false));
        }
    }

    #[test]
    fn an_open_extended_batch_is_skipped_to_the_clients_sync() {
        let mut tx = Transaction::default();
        let parse = Expect::Parse {
            forward: true,
            server_name: None,
        };
        let mut out = BytesMut::new();
        tx.server_lost(&queue(vec![parse, Expect::Bind]), false, failure(), &mut out);
        assert_eq!(seen(&mut out), ["E08006"]);
        let mut names = StatementMap::new(true);
        let execute = msg(|b| protocol::put_execute(b, ""));
        assert_eq!(answer(&mut tx, &mut names, &execute), Vec::<String>::new());
        assert_eq!(answer(&mut tx, &mut names, &sync()), ["ZI"]);
        assert!(!tx.answers_alone(false));
    }

    #[test]
    fn a_driver_can_commit_through_the_extended_protocol_and_hear_the_failure() {
        let mut tx = Transaction::default();
        tx.ready(TransactionStatus::InBlock);
        let mut out = BytesMut::new();
        tx.server_lost(&ReplyQueue::default(), false, failure(), &mut out);
        let mut names = StatementMap::new(true);
        let parse = msg(|b| protocol::put_parse(b, "c", "COMMIT", &[0, 0]));
        let bind = msg(|b| protocol::put_bind(b, "", "c", &[0, 0, 0, 0, 0, 0]));
        let execute = msg(|b| protocol::put_execute(b, ""));
        assert_eq!(answer(&mut tx, &mut names, &parse), ["1"]);
        assert!(names.shared("c").is_some(), "usable on the next server");
        assert_eq!(answer(&mut tx, &mut names, &bind), ["2"]);
        assert_eq!(answer(&mut tx, &mut names, &execute), ["E08006"]);
        assert_eq!(answer(&mut tx, &mut names, &sync()), ["ZI"]);
        let other = msg(|b| protocol::put_parse(b, "", "SELECT 1", &[0, 0]));
        let registry = StatementRegistry::default();
        let mut out = BytesMut::new();
        assert!(!tx.answer_without_server(&other, false, &mut names, &registry, &mut out));
    }
}
