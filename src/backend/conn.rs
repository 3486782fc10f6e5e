//! One server connection: startup and authentication as a client, the state
//! the proxy tracks about it, and the proxy's own internal queries.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use fallible_iterator::FallibleIterator;
use postgres_protocol::authentication::sasl::{ChannelBinding, ScramSha256};
use postgres_protocol::message::backend::Message;
use postgres_protocol::message::frontend;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::protocol::{self, cut_frame, ErrorFields};

/// Largest message accepted from PostgreSQL (its own limit is 1 GB per field).
pub const SERVER_MAX_MESSAGE: usize = 1 << 30;

/// Where and as whom to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendTarget {
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Database on the server.
    pub dbname: String,
    /// Login role.
    pub user: String,
    /// Password, if the server asks for one.
    pub password: Option<String>,
}

/// Why talking to PostgreSQL failed.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// Network failure or the connection closed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// PostgreSQL answered with an ErrorResponse.
    #[error("{}: {}", .0.code, .0.message)]
    Server(ErrorFields),
    /// PostgreSQL sent something the proxy did not expect.
    #[error("protocol violation from server: {0}")]
    Protocol(String),
    /// Connecting took longer than the connect timeout.
    #[error("timed out connecting to the server")]
    Timeout,
}

/// A logged-in server connection and what the proxy knows about its state.
#[derive(Debug)]
pub struct ServerConn {
    /// The socket.
    pub stream: TcpStream,
    /// Bytes read from the server but not yet cut into frames.
    pub rbuf: BytesMut,
    /// Server address, for cancel requests.
    pub addr: SocketAddr,
    /// The server's BackendKeyData (process id, secret).
    pub key: (u32, u32),
    /// Latest value of every ParameterStatus the server reported.
    pub params: BTreeMap<String, String>,
    /// Session settings the proxy applied for the client it serves.
    pub applied: BTreeMap<String, String>,
    /// Proxy-named prepared statements that exist on this connection.
    pub prepared: super::prepared::PreparedOnServer,
    /// When the connection was opened.
    pub created: Instant,
    /// When it was last returned to the pool.
    pub last_used: Instant,
    /// The role it logged in as.
    pub login: String,
    /// The search_path the server session starts with (the role's and the
    /// database's defaults): unqualified names resolve along it until the
    /// client sets another. PostgreSQL 15 does not report it.
    pub default_search_path: String,
}

impl ServerConn {
    /// Connects and logs in, within `timeout`.
    pub async fn connect(target: &BackendTarget, timeout: Duration) -> Result<ServerConn, BackendError> {
        tokio::time::timeout(timeout, Self::connect_inner(target))
            .await
            .map_err(|_| BackendError::Timeout)?
    }

    async fn connect_inner(t: &BackendTarget) -> Result<ServerConn, BackendError> {
        let stream = TcpStream::connect((t.host.as_str(), t.port)).await?;
        stream.set_nodelay(true)?;
        let addr = stream.peer_addr()?;
        let mut conn = ServerConn {
            stream,
            rbuf: BytesMut::with_capacity(16 * 1024),
            addr,
            key: (0, 0),
            params: BTreeMap::new(),
            applied: BTreeMap::new(),
            prepared: Default::default(),
            created: Instant::now(),
            last_used: Instant::now(),
            default_search_path: String::new(),
            login: t.user.clone(),
        };
        let mut out = BytesMut::new();
        frontend::startup_message([("user", t.user.as_str()), ("database", t.dbname.as_str())], &mut out)?;
        conn.stream.write_all(&out).await?;
        conn.authenticate(t).await?;
        let rows = conn.internal_query("SHOW search_path").await?;
        conn.default_search_path = rows
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next().flatten())
            .unwrap_or_default();
        Ok(conn)
    }

    async fn next_message(&mut self) -> Result<Message, BackendError> {
        loop {
            if let Some(msg) = Message::parse(&mut self.rbuf)? {
                return Ok(msg);
            }
            if self.stream.read_buf(&mut self.rbuf).await? == 0 {
                return Err(BackendError::Io(std::io::ErrorKind::UnexpectedEof.into()));
            }
        }
    }

    async fn send(&mut self, out: &mut BytesMut) -> Result<(), BackendError> {
        self.stream.write_all(out).await?;
        out.clear();
        Ok(())
    }

    async fn authenticate(&mut self, t: &BackendTarget) -> Result<(), BackendError> {
        let mut out = BytesMut::new();
        let mut scram: Option<ScramSha256> = None;
        let password = || {
            t.password
                .as_deref()
                .ok_or_else(|| BackendError::Protocol(format!("server requires a password for user \"{}\"", t.user)))
        };
        loop {
            match self.next_message().await? {
                Message::AuthenticationOk => {}
                Message::AuthenticationCleartextPassword => {
                    frontend::password_message(password()?.as_bytes(), &mut out)?;
                    self.send(&mut out).await?;
                }
                Message::AuthenticationMd5Password(body) => {
                    let hash = postgres_protocol::authentication::md5_hash(
                        t.user.as_bytes(),
                        password()?.as_bytes(),
                        body.salt(),
                    );
                    frontend::password_message(hash.as_bytes(), &mut out)?;
                    self.send(&mut out).await?;
                }
                Message::AuthenticationSasl(body) => {
                    let mut mechanisms = body.mechanisms();
                    let mut found = false;
                    while let Some(m) = mechanisms.next()? {
                        found |= m == "SCRAM-SHA-256";
                    }
                    if !found {
                        return Err(BackendError::Protocol(
                            "server offers no supported SASL mechanism".into(),
                        ));
                    }
                    let s = ScramSha256::new(password()?.as_bytes(), ChannelBinding::unsupported());
                    frontend::sasl_initial_response("SCRAM-SHA-256", s.message(), &mut out)?;
                    self.send(&mut out).await?;
                    scram = Some(s);
                }
                Message::AuthenticationSaslContinue(body) => {
                    let s = scram
                        .as_mut()
                        .ok_or_else(|| BackendError::Protocol("unexpected SASL continue".into()))?;
                    s.update(body.data())?;
                    frontend::sasl_response(s.message(), &mut out)?;
                    self.send(&mut out).await?;
                }
                Message::AuthenticationSaslFinal(body) => {
                    let mut s = scram
                        .take()
                        .ok_or_else(|| BackendError::Protocol("unexpected SASL final".into()))?;
                    s.finish(body.data())?;
                }
                Message::ParameterStatus(body) => {
                    self.params.insert(body.name()?.to_owned(), body.value()?.to_owned());
                }
                Message::BackendKeyData(body) => self.key = (body.process_id() as u32, body.secret_key() as u32),
                Message::NoticeResponse(_) => {}
                Message::ReadyForQuery(_) => return Ok(()),
                Message::ErrorResponse(body) => {
                    let mut fields = ErrorFields::default();
                    let mut it = body.fields();
                    while let Some(f) = it.next()? {
                        let value = String::from_utf8_lossy(f.value_bytes()).into_owned();
                        match f.type_() {
                            b'V' => fields.severity = value,
                            b'C' => fields.code = value,
                            b'M' => fields.message = value,
                            _ => {}
                        }
                    }
                    return Err(BackendError::Server(fields));
                }
                _ => return Err(BackendError::Protocol("unexpected message during startup".into())),
            }
        }
    }

    /// True when the socket shows no sign of having been closed or sent an
    /// unsolicited message (PostgreSQL sends FATAL before closing idle sessions).
    pub fn looks_alive(&self) -> bool {
        let mut probe = [0u8; 1];
        matches!(self.stream.try_read(&mut probe), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
    }

    /// Runs the proxy's own simple query to completion and returns the text of
    /// every row. Used only between client transactions.
    pub async fn internal_query(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>, BackendError> {
        let mut out = BytesMut::new();
        protocol::put_query(&mut out, sql);
        self.stream.write_all(&out).await?;
        let mut rows = Vec::new();
        let mut error = None;
        loop {
            let frame = match cut_frame(&mut self.rbuf, SERVER_MAX_MESSAGE) {
                Ok(Some(f)) => f,
                Ok(None) => {
                    if self.stream.read_buf(&mut self.rbuf).await? == 0 {
                        return Err(BackendError::Io(std::io::ErrorKind::UnexpectedEof.into()));
                    }
                    continue;
                }
                Err(e) => return Err(BackendError::Protocol(e.to_string())),
            };
            match frame.tag {
                b'D' => rows
                    .push(decode_text_row(frame.body()).ok_or_else(|| BackendError::Protocol("bad DataRow".into()))?),
                b'E' => error = Some(protocol::decode_error(frame.body())),
                b'S' => {
                    if let Some((k, v)) = protocol::decode_parameter_status(frame.body()) {
                        self.params.insert(k.to_owned(), v.to_owned());
                    }
                }
                b'Z' => {
                    return match error {
                        Some(e) => Err(BackendError::Server(e)),
                        None => Ok(rows),
                    }
                }
                _ => {}
            }
        }
    }
}

fn decode_text_row(body: &[u8]) -> Option<Vec<Option<String>>> {
    let count = u16::from_be_bytes(body.get(0..2)?.try_into().ok()?) as usize;
    let mut pos = 2;
    let mut row = Vec::with_capacity(count);
    for _ in 0..count {
        let len = i32::from_be_bytes(body.get(pos..pos + 4)?.try_into().ok()?);
        pos += 4;
        if len < 0 {
            row.push(None);
        } else {
            let end = pos + len as usize;
            row.push(Some(String::from_utf8_lossy(body.get(pos..end)?).into_owned()));
            pos = end;
        }
    }
    Some(row)
}
