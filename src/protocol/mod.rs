//! PostgreSQL protocol 3.0: cutting frames out of a byte stream, decoding the few
//! messages the proxy must inspect, and encoding the replies it synthesises.
//!
//! Everything else (DataRow above all) travels as the original bytes.

pub mod codec;
pub mod frame;
pub mod startup;
pub mod tags;

pub use codec::*;
pub use frame::{cut_frame, cut_startup, peek_header, Frame, FrameError};
pub use startup::{StartupError, StartupPacket};
pub use tags::{ClientTag, ServerTag};

/// Protocol version 3.0 as sent in a StartupMessage.
pub const PROTOCOL_3_0: u32 = 196_608;
/// Request code of an SSLRequest.
pub const SSL_REQUEST_CODE: u32 = 80_877_103;
/// Request code of a GSSENCRequest.
pub const GSSENC_REQUEST_CODE: u32 = 80_877_104;
/// Request code of a CancelRequest.
pub const CANCEL_REQUEST_CODE: u32 = 80_877_102;
/// Largest startup packet accepted (PostgreSQL uses the same limit).
pub const MAX_STARTUP_PACKET: usize = 10_000;
