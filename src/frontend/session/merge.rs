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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::cut_frame;

    fn frame(build: impl FnOnce(&mut BytesMut)) -> Frame {
        let mut b = BytesMut::new();
        build(&mut b);
        cut_frame(&mut b, 1 << 20).unwrap().unwrap()
    }

    fn row(v: &str) -> Frame {
        frame(|b| protocol::put_data_row(b, &[Some(v)]))
    }

    fn tag(t: &str) -> Frame {
        frame(|b| protocol::put_command_complete(b, t))
    }

    /// What the client sees: rows' values and command tags, in order.
    fn seen(mut out: BytesMut) -> Vec<String> {
        let mut v = Vec::new();
        while let Some(f) = cut_frame(&mut out, 1 << 20).unwrap() {
            v.push(match f.tag {
                b'D' => String::from_utf8_lossy(&f.body()[6..]).into_owned(),
                b'C' => protocol::decode_command_tag(f.body()).unwrap_or("").to_owned(),
                t => (t as char).to_string(),
            });
        }
        v
    }

    #[test]
    fn returning_rows_come_back_in_values_order_under_one_tag() {
        // VALUES (a), (b), (c): a and c went to the first child, b to the second.
        let mut m = MergedInsert::new(vec![vec![0, 2], vec![1]]);
        let mut out = BytesMut::new();
        let describe = frame(|b| protocol::put_row_description(b, &["v"]));
        assert!(m.take(&describe, &mut out), "the first description is forwarded");
        for f in [row("a"), row("c"), tag("INSERT 0 2")] {
            assert!(!m.take(&f, &mut out));
        }
        assert!(!m.take(&describe, &mut out), "the second part's description is not");
        for f in [row("b"), tag("INSERT 0 1")] {
            assert!(!m.take(&f, &mut out));
        }
        let ready = frame(|b| protocol::put_ready_for_query(b, protocol::TransactionStatus::Idle));
        assert!(m.take(&ready, &mut out));
        assert_eq!(seen(out), ["a", "b", "c", "INSERT 0 3"]);
    }

    #[test]
    fn a_failed_part_leaves_only_the_error() {
        let mut m = MergedInsert::new(vec![vec![0], vec![1]]);
        let mut out = BytesMut::new();
        assert!(!m.take(&tag("INSERT 0 1"), &mut out));
        m.failed = true;
        let ready = frame(|b| protocol::put_ready_for_query(b, protocol::TransactionStatus::Idle));
        assert!(m.take(&ready, &mut out));
        assert!(out.is_empty(), "no tag for an INSERT that failed");
    }

    #[test]
    fn extended_parts_end_with_their_last_close() {
        let mut m = MergedInsert::new(vec![vec![1], vec![0]]);
        let mut out = BytesMut::new();
        let close = frame(|b| protocol::put_empty(b, b'3'));
        let bind = frame(|b| protocol::put_empty(b, b'2'));
        for f in [
            bind.clone(),
            row("second"),
            tag("INSERT 0 1"),
            close.clone(),
            bind,
            row("first"),
            tag("INSERT 0 1"),
        ] {
            assert!(!m.take_extended(&f, &mut out));
        }
        assert!(out.is_empty(), "nothing before the last part is done");
        assert!(m.take_extended(&close, &mut out));
        assert_eq!(seen(out), ["first", "second", "INSERT 0 2"]);
    }
}
