//! Answering a client whose server died, without a server, until it can go on.
//!
//! Outside a transaction the client just gets the error at its next statement.
//! Inside one its work is gone, so the session behaves as PostgreSQL does in a
//! failed transaction: every statement fails with 25P02 until the client ends
//! the block, and COMMIT fails too. Otherwise the statements it sends next
//! would run (and commit) outside the transaction it believes it is in, and a
//! COMMIT would report success for writes that were lost.

use crate::protocol::TransactionStatus;
use std::collections::HashMap;

use super::{End, Session};
use crate::config::PoolMode;
use crate::protocol::{self, Frame, Severity};
use crate::text::{transaction_end, TransactionEnd};

/// Statements and portals a client created while its transaction was lost
/// that end the block (`COMMIT`, `ROLLBACK`, ...): drivers that send those
/// through the extended protocol must be able to run them.
#[derive(Debug, Default)]
pub(super) struct LostTransaction {
    /// Why the server was lost: what a COMMIT of the block reports.
    reason: Option<(String, String)>,
    statements: HashMap<String, TransactionEnd>,
    portals: HashMap<String, TransactionEnd>,
}

pub(super) const ABORTED: (&str, &str) = (
    "25P02",
    "current transaction is aborted, commands ignored until end of transaction block",
);

impl Session {
    /// The client's transaction died with its server: the server is gone
    /// while the client was inside a transaction block.
    pub(super) fn transaction_lost(&self) -> bool {
        self.server.is_none() && !self.status.is_idle()
    }

    /// Notes that the client's transaction died with its server for `reason`.
    pub(super) fn lose_transaction(&mut self, reason: (String, String)) {
        self.lost = LostTransaction {
            reason: Some(reason),
            ..LostTransaction::default()
        };
    }

    /// Answers `frame` when a lost server's error is still to be reported,
    /// the rest of a failed pipeline is being skipped, or the client's
    /// transaction is lost. `None` when the frame should be handled normally.
    pub(super) fn answer_without_server(&mut self, frame: &Frame) -> Option<Result<(), End>> {
        let lost = self.transaction_lost();
        if !(lost || self.skip_to_sync || self.pending_error.is_some()) {
            return None;
        }
        match frame.tag {
            b'X' => return None,
            b'H' | b'd' | b'c' | b'f' => {}
            b'S' if self.skip_to_sync || lost => {
                self.skip_to_sync = false;
                protocol::put_ready_for_query(&mut self.to_client, self.status);
            }
            _ if self.skip_to_sync => {}
            _ if !lost => {
                // Outside a transaction (session mode): report once, then go on.
                let (code, msg) = self.pending_error.take()?;
                protocol::put_error(&mut self.to_client, Severity::Error, &code, &msg);
                self.after_error(frame.tag);
            }
            b'Q' => {
                match protocol::decode_query(frame.body()).and_then(transaction_end) {
                    Some(end) => {
                        self.end_lost_transaction(end);
                    }
                    None => self.fail_statement(),
                }
                protocol::put_ready_for_query(&mut self.to_client, self.status);
            }
            b'P' => self.lost_parse(frame),
            b'B' => {
                let end = protocol::decode_bind(frame.body())
                    .and_then(|b| Some((b.portal.to_owned(), *self.lost.statements.get(b.statement)?)));
                match end {
                    Some((portal, end)) => {
                        self.lost.portals.insert(portal, end);
                        protocol::put_empty(&mut self.to_client, b'2');
                    }
                    None => self.fail_message(frame.tag),
                }
            }
            b'D' => match protocol::decode_target(frame.body()) {
                Some((b'S', name)) if self.lost.statements.contains_key(name) => {
                    // No parameters, no result columns.
                    self.to_client.extend_from_slice(&[b't', 0, 0, 0, 6, 0, 0]);
                    protocol::put_empty(&mut self.to_client, b'n');
                }
                Some((b'P', name)) if self.lost.portals.contains_key(name) => {
                    protocol::put_empty(&mut self.to_client, b'n');
                }
                _ => self.fail_message(frame.tag),
            },
            b'E' => {
                let portal = protocol::decode_execute(frame.body());
                match portal.and_then(|p| self.lost.portals.remove(p)) {
                    Some(end) => {
                        if !self.end_lost_transaction(end) {
                            self.skip_to_sync = true;
                        }
                    }
                    None => self.fail_message(frame.tag),
                }
            }
            b'C' => {
                if let Some((kind, name)) = protocol::decode_target(frame.body()) {
                    if kind == b'S' {
                        self.lost.statements.remove(name);
                        self.routable.remove(name);
                        if self.renames_statements() {
                            self.statements.remove(name);
                        }
                    } else {
                        self.lost.portals.remove(name);
                    }
                }
                protocol::put_empty(&mut self.to_client, b'3');
            }
            _ => self.fail_message(frame.tag),
        }
        Some(Ok(()))
    }

    fn lost_parse(&mut self, frame: &Frame) {
        let Some(parse) = protocol::decode_parse(frame.body()) else {
            return self.fail_message(frame.tag);
        };
        let Some(end) = transaction_end(parse.query) else {
            return self.fail_message(frame.tag);
        };
        if self.mode == PoolMode::Transaction && !parse.name.is_empty() {
            // Usable later on any server, like every named statement here.
            let stmt = self.proxy.statements.intern(parse.query, parse.rest);
            self.statements.insert(parse.name.to_owned(), stmt);
        }
        self.routable.remove(parse.name);
        self.lost.statements.insert(parse.name.to_owned(), end);
        protocol::put_empty(&mut self.to_client, b'1');
    }

    /// The client ended its lost transaction. ROLLBACK succeeds. COMMIT fails
    /// with the reason the server was lost, even if the client was told
    /// before (a driver may have swallowed that error on a message of its
    /// own), so no client ever believes lost writes were committed.
    /// Returns whether it succeeded.
    fn end_lost_transaction(&mut self, end: TransactionEnd) -> bool {
        let reason = self.pending_error.take().or_else(|| self.lost.reason.take());
        self.status = TransactionStatus::Idle;
        self.lost = LostTransaction::default();
        match (end, reason) {
            (TransactionEnd::Commit, Some((code, msg))) => {
                protocol::put_error(&mut self.to_client, Severity::Error, &code, &msg);
                false
            }
            _ => {
                protocol::put_command_complete(&mut self.to_client, "ROLLBACK");
                true
            }
        }
    }

    /// A statement in the lost transaction fails: with the server's error
    /// the first time, 25P02 after that.
    fn fail_statement(&mut self) {
        let (code, msg) = self
            .pending_error
            .take()
            .unwrap_or_else(|| (ABORTED.0.to_owned(), ABORTED.1.to_owned()));
        protocol::put_error(&mut self.to_client, Severity::Error, &code, &msg);
    }

    fn fail_message(&mut self, tag: u8) {
        self.fail_statement();
        self.after_error(tag);
    }

    /// After an error, a simple query or function call ends with
    /// ReadyForQuery; extended-protocol messages are skipped up to Sync.
    fn after_error(&mut self, tag: u8) {
        if matches!(tag, b'Q' | b'F' | b'S') {
            protocol::put_ready_for_query(&mut self.to_client, self.status);
        } else {
            self.skip_to_sync = true;
        }
    }
}
