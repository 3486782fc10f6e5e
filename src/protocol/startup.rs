//! The packets a client may open a connection with, decoded into one typed
//! value: a StartupMessage, an SSLRequest or GSSENCRequest, or a
//! CancelRequest. Everything here came from an unauthenticated peer.

use super::codec::startup_params;
use super::{CANCEL_REQUEST_CODE, GSSENC_REQUEST_CODE, SSL_REQUEST_CODE};

/// A startup-phase packet (the body after the length word).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartupPacket {
    /// The client asks for TLS.
    SslRequest,
    /// The client asks for GSSAPI encryption.
    GssEncRequest,
    /// Cancel the query running for this key.
    Cancel {
        /// Process id the client was given.
        pid: u32,
        /// Secret the client was given.
        secret: u32,
    },
    /// A protocol 3.x StartupMessage.
    Startup {
        /// The minor version asked for (the proxy speaks 3.0).
        minor: u16,
        /// Its parameters, in the order sent.
        params: Vec<(String, String)>,
    },
}

/// Why a startup-phase packet was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StartupError {
    /// Too short to hold a code, or a CancelRequest of the wrong length.
    #[error("invalid startup packet layout")]
    Layout,
    /// The parameter list does not end with its terminator.
    #[error("invalid startup packet layout: expected terminator as last byte")]
    Terminator,
    /// A protocol the proxy does not speak.
    #[error("unsupported frontend protocol {major}.{minor}: server supports 3.0 to 3.0")]
    Unsupported {
        /// Major version asked for.
        major: u16,
        /// Minor version asked for.
        minor: u16,
    },
}

impl StartupError {
    /// The SQLSTATE PostgreSQL answers with.
    pub fn code(&self) -> &'static str {
        match self {
            StartupError::Unsupported { .. } => "0A000",
            _ => "08P01",
        }
    }
}

impl StartupPacket {
    /// Decodes a startup-phase packet body.
    pub fn decode(body: &[u8]) -> Result<StartupPacket, StartupError> {
        let code = body
            .get(0..4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or(StartupError::Layout)?;
        match code {
            SSL_REQUEST_CODE => Ok(StartupPacket::SslRequest),
            GSSENC_REQUEST_CODE => Ok(StartupPacket::GssEncRequest),
            CANCEL_REQUEST_CODE => match body.get(4..) {
                Some(key) if key.len() == 8 => Ok(StartupPacket::Cancel {
                    pid: u32::from_be_bytes([key[0], key[1], key[2], key[3]]),
                    secret: u32::from_be_bytes([key[4], key[5], key[6], key[7]]),
                }),
                _ => Err(StartupError::Layout),
            },
            c => {
                let (major, minor) = ((c >> 16) as u16, (c & 0xffff) as u16);
                if major != 3 {
                    return Err(StartupError::Unsupported { major, minor });
                }
                let params = startup_params(body).ok_or(StartupError::Terminator)?;
                Ok(StartupPacket::Startup { minor, params })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(code: u32, rest: &[u8]) -> Vec<u8> {
        let mut v = code.to_be_bytes().to_vec();
        v.extend_from_slice(rest);
        v
    }

    #[test]
    fn decodes_each_kind() {
        assert_eq!(
            StartupPacket::decode(&packet(SSL_REQUEST_CODE, &[])),
            Ok(StartupPacket::SslRequest)
        );
        assert_eq!(
            StartupPacket::decode(&packet(GSSENC_REQUEST_CODE, &[])),
            Ok(StartupPacket::GssEncRequest)
        );
        assert_eq!(
            StartupPacket::decode(&packet(CANCEL_REQUEST_CODE, &[0, 0, 0, 7, 0, 0, 1, 0])),
            Ok(StartupPacket::Cancel { pid: 7, secret: 256 })
        );
        assert_eq!(
            StartupPacket::decode(&packet(0x0003_0002, b"user\0bob\0\0")),
            Ok(StartupPacket::Startup {
                minor: 2,
                params: vec![("user".into(), "bob".into())]
            })
        );
    }

    #[test]
    fn refuses_bad_packets_with_postgres_codes() {
        assert_eq!(StartupPacket::decode(&[0, 3]), Err(StartupError::Layout));
        assert_eq!(
            StartupPacket::decode(&packet(CANCEL_REQUEST_CODE, &[0, 0, 0, 7])),
            Err(StartupError::Layout)
        );
        let missing_terminator = StartupPacket::decode(&packet(0x0003_0000, b"user\0bob\0"));
        assert_eq!(missing_terminator, Err(StartupError::Terminator));
        let two = StartupPacket::decode(&packet(0x0002_0000, &[])).unwrap_err();
        assert_eq!(two.code(), "0A000");
        assert_eq!(
            two.to_string(),
            "unsupported frontend protocol 2.0: server supports 3.0 to 3.0"
        );
    }
}
