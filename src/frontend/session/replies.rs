//! The reply queue: what the server will answer, in order, to the messages
//! already sent, and which replies are forwarded, dropped or made up by the
//! proxy. It owns no socket: the session feeds it what it sends and what the
//! server says, and it answers where each reply belongs.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use super::merge::MergedInsert;
use crate::protocol::ServerTag;

/// What the server will answer next, for one message already sent.
#[derive(Debug)]
pub(super) enum Expect {
    /// Parse; `server_name` is set when the proxy named the statement.
    Parse {
        forward: bool,
        server_name: Option<Arc<str>>,
    },
    Bind,
    Describe,
    Execute,
    Close,
    Sync,
    /// Simple Query or FunctionCall: everything up to ReadyForQuery.
    Query,
    /// A routed INSERT split into one statement per child: their command
    /// tags are summed into one, or dropped if any statement fails.
    MergedInsert(Box<MergedInsert>),
    /// The client's Execute of a split INSERT's portal, run as one
    /// Bind/Execute/Close per part; replies merged as for `MergedInsert`.
    SplitExecute(Box<MergedInsert>),
    /// A reply to a message of the proxy's own that the client must not see.
    Hidden(ServerTag),
    /// The proxy's own SQL PREPARE of a routed variant under this name: its
    /// whole reply is dropped.
    HiddenPrepare(Arc<str>),
    /// A reply the proxy produces itself once everything before it was answered.
    Synthetic(Bytes),
    /// Marks where the client ended a COPY (CopyDone/CopyFail) before the
    /// server confirmed entering copy-in mode; it gets no reply.
    CopyEnd,
}

impl Expect {
    /// Whether the server's replies to this reach the client.
    pub(super) fn forwards(&self) -> bool {
        !matches!(
            self,
            Expect::Parse { forward: false, .. } | Expect::Hidden(_) | Expect::HiddenPrepare(_)
        )
    }

    /// Whether a server message with `tag` completes this expectation.
    pub(super) fn ends_with(&self, tag: ServerTag) -> bool {
        use ServerTag as T;
        match self {
            Expect::Parse { .. } => tag == T::ParseComplete,
            Expect::Bind => tag == T::BindComplete,
            Expect::Close => tag == T::CloseComplete,
            Expect::Describe => matches!(tag, T::RowDescription | T::NoData),
            Expect::Execute => matches!(tag, T::CommandComplete | T::EmptyQueryResponse | T::PortalSuspended),
            Expect::Sync | Expect::Query | Expect::MergedInsert(_) | Expect::HiddenPrepare(_) => {
                tag == T::ReadyForQuery
            }
            Expect::Hidden(t) => tag == *t,
            Expect::SplitExecute(_) | Expect::Synthetic(_) | Expect::CopyEnd => false,
        }
    }

    /// Whether the server's answer to this ends with ReadyForQuery.
    pub(super) fn ends_unit(&self) -> bool {
        matches!(self, Expect::Sync | Expect::Query | Expect::MergedInsert(_))
    }

    /// Whether this opens (or continues) an extended-protocol batch.
    fn extended(&self) -> bool {
        matches!(
            self,
            Expect::Parse { .. }
                | Expect::Bind
                | Expect::Describe
                | Expect::Execute
                | Expect::Close
                | Expect::SplitExecute(_)
                | Expect::Hidden(_)
        )
    }
}

/// The queue of replies still to come from the server.
#[derive(Debug, Default)]
pub(super) struct ReplyQueue {
    entries: VecDeque<Expect>,
    /// The server reported an error before the client's Sync was sent: it
    /// ignores the client's messages until that Sync and answers only it.
    skipping: bool,
    /// Extended-protocol messages went to the server since the last Sync:
    /// until it, the server is inside the client's implicit transaction.
    unsynced: bool,
}

impl ReplyQueue {
    /// Notes what the server will answer to a message just sent.
    pub(super) fn push(&mut self, expect: Expect) {
        if matches!(expect, Expect::Sync) {
            self.unsynced = false;
        } else if expect.extended() {
            self.unsynced = true;
        }
        if self.skipping {
            if !matches!(expect, Expect::Sync) {
                return;
            }
            self.skipping = false;
        }
        self.entries.push_back(expect);
    }

    /// A reply of the proxy's own: straight to `out` when nothing is
    /// outstanding, else queued behind what comes first. Dropped while the
    /// server skips a failed batch (PostgreSQL would answer nothing).
    pub(super) fn synthetic(&mut self, bytes: Bytes, out: &mut BytesMut) {
        if self.skipping {
            return;
        }
        if self.entries.is_empty() {
            out.extend_from_slice(&bytes);
        } else {
            self.entries.push_back(Expect::Synthetic(bytes));
        }
    }

    /// Moves synthetic replies now at the head of the queue to `out`.
    pub(super) fn emit_synthetic(&mut self, out: &mut BytesMut) {
        while let Some(Expect::Synthetic(_) | Expect::CopyEnd) = self.entries.front() {
            if let Some(Expect::Synthetic(bytes)) = self.entries.pop_front() {
                out.extend_from_slice(&bytes);
            }
        }
    }

    /// Nothing outstanding.
    pub(super) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// An extended-protocol batch is open on the server (no Sync yet).
    pub(super) fn unsynced(&self) -> bool {
        self.unsynced
    }

    /// The next expectation.
    pub(super) fn front(&self) -> Option<&Expect> {
        self.entries.front()
    }

    /// The next expectation, to update in place.
    pub(super) fn front_mut(&mut self) -> Option<&mut Expect> {
        self.entries.front_mut()
    }

    /// The last expectation.
    pub(super) fn back(&self) -> Option<&Expect> {
        self.entries.back()
    }

    /// Drops the next expectation.
    pub(super) fn pop_front(&mut self) -> Option<Expect> {
        self.entries.pop_front()
    }

    /// Pops the head when a server message with `tag` completes it.
    pub(super) fn complete(&mut self, tag: ServerTag) {
        if self.entries.front().is_some_and(|e| e.ends_with(tag)) {
            self.entries.pop_front();
        }
    }

    /// How many queued expectations end with ReadyForQuery.
    pub(super) fn units(&self) -> usize {
        self.entries.iter().filter(|e| e.ends_unit()).count()
    }

    /// Everything is forgotten (the server is gone).
    pub(super) fn clear(&mut self) {
        self.entries.clear();
        self.skipping = false;
        self.unsynced = false;
    }

    /// An ErrorResponse arrived for an extended-protocol message at the
    /// head: the server skips everything up to the next Sync, the client's
    /// messages not sent yet included. Returns the proxy-named statements
    /// whose Parse was skipped (they do not exist on the server).
    pub(super) fn skip_to_sync(&mut self) -> Vec<Arc<str>> {
        let mut unprepared = Vec::new();
        self.skipping = true;
        while let Some(e) = self.entries.front() {
            if matches!(e, Expect::Sync) {
                self.skipping = false;
                break;
            }
            if let Some(Expect::Parse {
                server_name: Some(name),
                ..
            }) = self.entries.pop_front()
            {
                unprepared.push(name);
            }
        }
        unprepared
    }

    /// The server entered copy-in mode for the statement at the head: it
    /// ignores every Sync the client sends before ending the copy. Returns
    /// false when the client already ended the copy (its CopyEnd mark is
    /// consumed), true when copy-in mode starts now.
    pub(super) fn enter_copy_in(&mut self) -> bool {
        let mut i = 1;
        while i < self.entries.len() {
            match self.entries[i] {
                Expect::CopyEnd => {
                    self.entries.remove(i);
                    return false;
                }
                Expect::Sync => {
                    self.entries.remove(i);
                }
                _ => i += 1,
            }
        }
        true
    }

    /// Marks where the client ended a COPY whose start the server has not
    /// confirmed yet.
    pub(super) fn copy_end(&mut self) {
        self.entries.push_back(Expect::CopyEnd);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse() -> Expect {
        Expect::Parse {
            forward: true,
            server_name: None,
        }
    }

    /// Feeds server tags, collecting what the client sees: forwarded tags
    /// and synthetic replies, in order.
    fn replay(q: &mut ReplyQueue, tags: &[u8]) -> Vec<u8> {
        let mut seen = Vec::new();
        for &tag in tags {
            if tag == b'E' {
                seen.push(tag);
                if q.front().is_some_and(|e| !matches!(e, Expect::Query)) {
                    q.skip_to_sync();
                }
                continue;
            }
            if q.front().is_none_or(Expect::forwards) {
                seen.push(tag);
            }
            q.complete(ServerTag::of(tag));
            let mut out = BytesMut::new();
            q.emit_synthetic(&mut out);
            seen.extend_from_slice(&out);
        }
        seen
    }

    #[test]
    fn a_pipeline_with_an_error_in_the_middle_skips_to_its_sync() {
        let mut q = ReplyQueue::default();
        for e in [
            parse(),
            Expect::Bind,
            Expect::Execute,
            Expect::Sync,
            parse(),
            Expect::Sync,
        ] {
            q.push(e);
        }
        // The Bind fails: Execute is skipped, the Sync answered; the next batch runs.
        assert_eq!(replay(&mut q, b"1EZ1Z"), b"1EZ1Z");
        assert!(q.is_empty());
    }

    #[test]
    fn an_error_before_the_clients_sync_expects_only_that_sync() {
        let mut q = ReplyQueue::default();
        q.push(parse());
        q.push(Expect::Bind);
        assert!(q.unsynced());
        assert_eq!(replay(&mut q, b"1E"), b"1E");
        // The rest of the batch arrives after the error: the server skips it.
        q.push(Expect::Describe);
        q.push(Expect::Execute);
        let mut out = BytesMut::new();
        q.synthetic(Bytes::from_static(b"3"), &mut out);
        assert!(out.is_empty(), "nothing is made up while the server skips");
        q.push(Expect::Sync);
        assert!(!q.unsynced());
        assert_eq!(replay(&mut q, b"Z"), b"Z");
        assert!(q.is_empty());
    }

    #[test]
    fn synthetic_replies_keep_their_place() {
        let mut q = ReplyQueue::default();
        let mut out = BytesMut::new();
        q.synthetic(Bytes::from_static(b"1"), &mut out);
        assert_eq!(&out[..], b"1", "nothing outstanding: straight out");
        q.push(Expect::Bind);
        q.synthetic(Bytes::from_static(b"3"), &mut out);
        q.push(Expect::Sync);
        assert_eq!(replay(&mut q, b"2Z"), b"23Z");
    }

    #[test]
    fn hidden_replies_are_dropped() {
        let mut q = ReplyQueue::default();
        q.push(Expect::Parse {
            forward: false,
            server_name: Some("s1".into()),
        });
        q.push(Expect::Hidden(ServerTag::BindComplete));
        q.push(Expect::Execute);
        q.push(Expect::Sync);
        assert_eq!(replay(&mut q, b"12CZ"), b"CZ");
    }

    #[test]
    fn copy_in_swallows_the_syncs_the_server_ignores() {
        let mut q = ReplyQueue::default();
        q.push(Expect::Query);
        q.push(Expect::Sync);
        assert!(q.enter_copy_in());
        assert_eq!(q.units(), 1, "the Sync sent during COPY gets no reply");
        let mut q = ReplyQueue::default();
        q.push(Expect::Query);
        q.copy_end();
        assert!(!q.enter_copy_in(), "the client already ended the copy");
    }

    #[test]
    fn copy_out_replies_all_reach_the_client() {
        let mut q = ReplyQueue::default();
        q.push(Expect::Query);
        let mut out = BytesMut::new();
        q.synthetic(Bytes::from_static(b"1"), &mut out);
        assert!(out.is_empty(), "behind the COPY");
        // CopyOutResponse, two rows, CopyDone, the tag, ReadyForQuery.
        assert_eq!(replay(&mut q, b"HddcCZ"), b"HddcCZ1");
        assert!(q.is_empty());
    }

    #[test]
    fn skipped_parses_name_the_statements_that_do_not_exist() {
        let mut q = ReplyQueue::default();
        q.push(Expect::Bind);
        q.push(Expect::Parse {
            forward: false,
            server_name: Some("v1".into()),
        });
        q.push(Expect::Sync);
        q.pop_front();
        assert_eq!(q.skip_to_sync(), vec![Arc::<str>::from("v1")]);
        assert!(matches!(q.front(), Some(Expect::Sync)));
    }
}
