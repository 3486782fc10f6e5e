//! Merging the replies to a split INSERT into what one INSERT gives: one
//! command tag with the total, RETURNING rows in the original VALUES order,
//! and nothing but the error when any part fails.

use bytes::{Bytes, BytesMut};

use crate::protocol::{self, Frame};

/// The replies to a split INSERT being merged.
#[derive(Debug)]
pub(super) struct MergedInsert {
    /// Per statement, the original VALUES positions of its rows.
    order: Vec<Vec<usize>>,
    /// Statements completed so far.
    done: usize,
    /// RETURNING rows of the current statement so far.
    row_in_part: usize,
    /// RETURNING rows put back at their original positions.
    rows: Vec<Option<Bytes>>,
    /// RETURNING rows that could not be placed (a trigger skipped rows), in arrival order.
    unplaced: Vec<Bytes>,
    described: bool,
    total: u64,
    /// Extended protocol: parts whose portal was closed (the last reply of each).
    closed: usize,
    /// A part failed (simple protocol): only the error reaches the client.
    pub(super) failed: bool,
}

impl MergedInsert {
    /// A merge for parts whose rows had the VALUES positions in `order`.
    pub(super) fn new(order: Vec<Vec<usize>>) -> MergedInsert {
        MergedInsert {
            order,
            done: 0,
            row_in_part: 0,
            rows: Vec::new(),
            unplaced: Vec::new(),
            described: false,
            total: 0,
            closed: 0,
            failed: false,
        }
    }

    /// Simple protocol (one multi-statement query): consumes one server
    /// frame; returns true when it must be forwarded. At ReadyForQuery,
    /// writes the merged result first (unless a statement failed: then the
    /// client sees only the error, as with one failing INSERT).
    pub(super) fn take(&mut self, frame: &Frame, to_client: &mut BytesMut) -> bool {
        match frame.tag {
            b'T' => !std::mem::replace(&mut self.described, true),
            b'D' | b'C' => {
                self.collect(frame);
                false
            }
            b'Z' => {
                if !self.failed {
                    self.finish(to_client);
                }
                true
            }
            _ => true,
        }
    }

    /// Extended protocol (Bind, Execute, Close per part, all before the
    /// client's Sync): consumes one server frame, none of which is forwarded;
    /// returns true once the last part is done and the merged result written.
    /// A failing part never gets here: its error ends the whole pipeline.
    pub(super) fn take_extended(&mut self, frame: &Frame, to_client: &mut BytesMut) -> bool {
        match frame.tag {
            b'D' | b'C' => self.collect(frame),
            b'3' => {
                self.closed += 1;
                if self.closed == self.order.len() {
                    self.finish(to_client);
                    return true;
                }
            }
            _ => {}
        }
        false
    }

    /// A DataRow (put at its VALUES position) or a part's CommandComplete.
    fn collect(&mut self, frame: &Frame) {
        if frame.tag == b'C' {
            let n = protocol::decode_command_tag(frame.body())
                .and_then(|t| t.rsplit(' ').next())
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0);
            self.total += n;
            self.done += 1;
            self.row_in_part = 0;
            return;
        }
        let at = self.order.get(self.done).and_then(|o| o.get(self.row_in_part)).copied();
        self.row_in_part += 1;
        match at {
            Some(at) => {
                if self.rows.len() <= at {
                    self.rows.resize(at + 1, None);
                }
                self.rows[at] = Some(frame.bytes.clone());
            }
            None => self.unplaced.push(frame.bytes.clone()),
        }
    }

    /// The RETURNING rows in VALUES order, then one tag with the total.
    fn finish(&mut self, to_client: &mut BytesMut) {
        for row in self.rows.drain(..).flatten().chain(self.unplaced.drain(..)) {
            to_client.extend_from_slice(&row);
        }
        protocol::put_command_complete(to_client, &format!("INSERT 0 {}", self.total));
    }
}
