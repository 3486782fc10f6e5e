//! Message types by name. The same byte means different messages in each
//! direction (`D` is Describe from a client and DataRow from a server), so
//! each direction has its own enum; bytes no message uses stay `Other`.

/// A message a client sends after startup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientTag {
    /// `Q`
    Query,
    /// `P`
    Parse,
    /// `B`
    Bind,
    /// `D`
    Describe,
    /// `E`
    Execute,
    /// `C`
    Close,
    /// `S`
    Sync,
    /// `H`
    Flush,
    /// `F`
    FunctionCall,
    /// `d`
    CopyData,
    /// `c`
    CopyDone,
    /// `f`
    CopyFail,
    /// `X`
    Terminate,
    /// `p`: a password, SASL or GSS response (startup only).
    Password,
    /// Any other byte.
    Other(u8),
}

impl ClientTag {
    /// The message type of a tag byte.
    pub fn of(byte: u8) -> ClientTag {
        match byte {
            b'Q' => ClientTag::Query,
            b'P' => ClientTag::Parse,
            b'B' => ClientTag::Bind,
            b'D' => ClientTag::Describe,
            b'E' => ClientTag::Execute,
            b'C' => ClientTag::Close,
            b'S' => ClientTag::Sync,
            b'H' => ClientTag::Flush,
            b'F' => ClientTag::FunctionCall,
            b'd' => ClientTag::CopyData,
            b'c' => ClientTag::CopyDone,
            b'f' => ClientTag::CopyFail,
            b'X' => ClientTag::Terminate,
            b'p' => ClientTag::Password,
            other => ClientTag::Other(other),
        }
    }

    /// Whether the server answers this with ReadyForQuery when it fails
    /// (the extended-protocol messages are skipped up to Sync instead).
    pub fn ends_on_error(self) -> bool {
        matches!(self, ClientTag::Query | ClientTag::FunctionCall | ClientTag::Sync)
    }

    /// COPY data or its end, which have no reply of their own.
    pub fn is_copy(self) -> bool {
        matches!(self, ClientTag::CopyData | ClientTag::CopyDone | ClientTag::CopyFail)
    }
}

/// A message a server sends after startup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerTag {
    /// `1`
    ParseComplete,
    /// `2`
    BindComplete,
    /// `3`
    CloseComplete,
    /// `T`
    RowDescription,
    /// `t`
    ParameterDescription,
    /// `n`
    NoData,
    /// `D`
    DataRow,
    /// `C`
    CommandComplete,
    /// `I`
    EmptyQueryResponse,
    /// `s`
    PortalSuspended,
    /// `Z`
    ReadyForQuery,
    /// `E`
    ErrorResponse,
    /// `N`
    NoticeResponse,
    /// `A`
    NotificationResponse,
    /// `S`
    ParameterStatus,
    /// `G`
    CopyInResponse,
    /// `H`
    CopyOutResponse,
    /// `W`
    CopyBothResponse,
    /// `d`
    CopyData,
    /// `c`
    CopyDone,
    /// `V`
    FunctionCallResponse,
    /// `K`
    BackendKeyData,
    /// `R`
    Authentication,
    /// Any other byte.
    Other(u8),
}

impl ServerTag {
    /// The message type of a tag byte.
    pub fn of(byte: u8) -> ServerTag {
        match byte {
            b'1' => ServerTag::ParseComplete,
            b'2' => ServerTag::BindComplete,
            b'3' => ServerTag::CloseComplete,
            b'T' => ServerTag::RowDescription,
            b't' => ServerTag::ParameterDescription,
            b'n' => ServerTag::NoData,
            b'D' => ServerTag::DataRow,
            b'C' => ServerTag::CommandComplete,
            b'I' => ServerTag::EmptyQueryResponse,
            b's' => ServerTag::PortalSuspended,
            b'Z' => ServerTag::ReadyForQuery,
            b'E' => ServerTag::ErrorResponse,
            b'N' => ServerTag::NoticeResponse,
            b'A' => ServerTag::NotificationResponse,
            b'S' => ServerTag::ParameterStatus,
            b'G' => ServerTag::CopyInResponse,
            b'H' => ServerTag::CopyOutResponse,
            b'W' => ServerTag::CopyBothResponse,
            b'd' => ServerTag::CopyData,
            b'c' => ServerTag::CopyDone,
            b'V' => ServerTag::FunctionCallResponse,
            b'K' => ServerTag::BackendKeyData,
            b'R' => ServerTag::Authentication,
            other => ServerTag::Other(other),
        }
    }

    /// The tag byte.
    pub fn byte(self) -> u8 {
        match self {
            ServerTag::ParseComplete => b'1',
            ServerTag::BindComplete => b'2',
            ServerTag::CloseComplete => b'3',
            ServerTag::RowDescription => b'T',
            ServerTag::ParameterDescription => b't',
            ServerTag::NoData => b'n',
            ServerTag::DataRow => b'D',
            ServerTag::CommandComplete => b'C',
            ServerTag::EmptyQueryResponse => b'I',
            ServerTag::PortalSuspended => b's',
            ServerTag::ReadyForQuery => b'Z',
            ServerTag::ErrorResponse => b'E',
            ServerTag::NoticeResponse => b'N',
            ServerTag::NotificationResponse => b'A',
            ServerTag::ParameterStatus => b'S',
            ServerTag::CopyInResponse => b'G',
            ServerTag::CopyOutResponse => b'H',
            ServerTag::CopyBothResponse => b'W',
            ServerTag::CopyData => b'd',
            ServerTag::CopyDone => b'c',
            ServerTag::FunctionCallResponse => b'V',
            ServerTag::BackendKeyData => b'K',
            ServerTag::Authentication => b'R',
            ServerTag::Other(b) => b,
        }
    }

    /// Messages the server may send at any time, not as a reply to anything.
    pub fn is_asynchronous(self) -> bool {
        matches!(self, ServerTag::NoticeResponse | ServerTag::NotificationResponse)
    }
}

impl super::Frame {
    /// The message type, read as a client's message.
    pub fn client_tag(&self) -> ClientTag {
        ClientTag::of(self.tag)
    }

    /// The message type, read as a server's message.
    pub fn server_tag(&self) -> ServerTag {
        ServerTag::of(self.tag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_tags_round_trip_every_byte() {
        for b in 0..=255u8 {
            assert_eq!(ServerTag::of(b).byte(), b);
        }
    }

    #[test]
    fn directions_read_the_same_byte_differently() {
        assert_eq!(ClientTag::of(b'D'), ClientTag::Describe);
        assert_eq!(ServerTag::of(b'D'), ServerTag::DataRow);
        assert_eq!(ClientTag::of(b'S'), ClientTag::Sync);
        assert_eq!(ServerTag::of(b'S'), ServerTag::ParameterStatus);
        assert_eq!(ClientTag::of(b'z'), ClientTag::Other(b'z'));
        assert!(ClientTag::Sync.ends_on_error() && !ClientTag::Bind.ends_on_error());
    }
}
