//! A small PostgreSQL wire-protocol client for the oracle. Unlike
//! tokio-postgres it lets a case choose each parameter's declared type
//! (including unspecified, OID 0) and its format (text or binary), and it
//! returns every answer as plain data (rows as bytes, command tags, the first
//! error) so the two sides of a case can be compared field by field.

use std::io;
use std::time::Duration;

use bytes::BytesMut;
use fallible_iterator::FallibleIterator;
use postgres_protocol::authentication::md5_hash;
use postgres_protocol::authentication::sasl::{ChannelBinding, ScramSha256};
use postgres_protocol::message::backend::{ErrorResponseBody, Message};
use postgres_protocol::message::frontend;
use postgres_protocol::IsNull;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Format code of a text value.
pub const TEXT: i16 = 0;
/// Format code of a binary value.
pub const BINARY: i16 = 1;

/// A server hanging longer than this is reported as a failure, not waited for.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// An ErrorResponse: its SQLSTATE and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PgError {
    pub code: String,
    pub message: String,
}

/// One cell of a DataRow, as the server sent it.
pub type Cell = Option<Vec<u8>>;

/// Everything the server answered up to its ReadyForQuery.
#[derive(Clone, Debug, Default)]
pub struct Reply {
    pub rows: Vec<Vec<Cell>>,
    pub tags: Vec<String>,
    /// The first error (a pipeline stops at it).
    pub error: Option<PgError>,
    /// The types a Describe of the statement reported.
    pub param_types: Vec<u32>,
}

/// One Bind parameter: its format code and its bytes (`None` is NULL).
#[derive(Clone, Debug)]
pub struct Param {
    pub format: i16,
    pub value: Cell,
}

/// An open, authenticated connection, idle between calls.
pub struct Wire {
    stream: TcpStream,
    input: BytesMut,
    output: BytesMut,
}

fn protocol_error(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

impl Wire {
    /// Connects to 127.0.0.1:`port` and logs in (trust, cleartext, md5 or SCRAM-SHA-256).
    pub async fn connect(port: u16, user: &str, password: &str, database: &str) -> io::Result<Wire> {
        let stream = TcpStream::connect(("127.0.0.1", port)).await?;
        stream.set_nodelay(true)?;
        let mut wire = Wire {
            stream,
            input: BytesMut::with_capacity(16 * 1024),
            output: BytesMut::with_capacity(4 * 1024),
        };
        frontend::startup_message([("user", user), ("database", database)], &mut wire.output)?;
        wire.flush().await?;
        wire.authenticate(user, password).await?;
        Ok(wire)
    }

    /// Answers the server's authentication requests until ReadyForQuery.
    async fn authenticate(&mut self, user: &str, password: &str) -> io::Result<()> {
        let mut scram: Option<ScramSha256> = None;
        loop {
            match self.next().await? {
                Message::AuthenticationOk => {}
                Message::AuthenticationCleartextPassword => {
                    frontend::password_message(password.as_bytes(), &mut self.output)?;
                    self.flush().await?;
                }
                Message::AuthenticationMd5Password(body) => {
                    let hash = md5_hash(user.as_bytes(), password.as_bytes(), body.salt());
                    frontend::password_message(hash.as_bytes(), &mut self.output)?;
                    self.flush().await?;
                }
                Message::AuthenticationSasl(_) => {
                    let s = ScramSha256::new(password.as_bytes(), ChannelBinding::unsupported());
                    frontend::sasl_initial_response("SCRAM-SHA-256", s.message(), &mut self.output)?;
                    self.flush().await?;
                    scram = Some(s);
                }
                Message::AuthenticationSaslContinue(body) => {
                    let s = scram
                        .as_mut()
                        .ok_or_else(|| protocol_error("SASL continue before start"))?;
                    s.update(body.data())?;
                    frontend::sasl_response(s.message(), &mut self.output)?;
                    self.flush().await?;
                }
                Message::AuthenticationSaslFinal(body) => {
                    let s = scram
                        .as_mut()
                        .ok_or_else(|| protocol_error("SASL final before start"))?;
                    s.finish(body.data())?;
                }
                Message::ErrorResponse(body) => {
                    let e = error_of(&body)?;
                    return Err(protocol_error(format!("login refused: {} {}", e.code, e.message)));
                }
                Message::ReadyForQuery(_) => return Ok(()),
                _ => {}
            }
        }
    }

    /// Sends a simple Query and collects its answer.
    pub async fn simple(&mut self, sql: &str) -> io::Result<Reply> {
        frontend::query(sql, &mut self.output)?;
        self.flush().await?;
        self.collect().await
    }

    /// Parse (under `name`, "" for the unnamed statement) with the declared
    /// `types`, Bind `params` into the unnamed portal asking for text
    /// results, Describe the portal, Execute, Close a named statement, Sync.
    /// A named statement is also closed first: an error skips the last Close.
    pub async fn extended(&mut self, name: &str, sql: &str, types: &[u32], params: &[Param]) -> io::Result<Reply> {
        if !name.is_empty() {
            frontend::close(b'S', name, &mut self.output)?;
        }
        frontend::parse(name, sql, types.iter().copied(), &mut self.output)?;
        self.bind(name, params, TEXT)?;
        frontend::describe(b'P', "", &mut self.output)?;
        frontend::execute("", 0, &mut self.output)?;
        if !name.is_empty() {
            frontend::close(b'S', name, &mut self.output)?;
        }
        frontend::sync(&mut self.output);
        self.flush().await?;
        self.collect().await
    }

    /// The parameter types the server infers for `sql` with the declared `types`.
    pub async fn describe(&mut self, sql: &str, types: &[u32]) -> io::Result<Reply> {
        frontend::parse("", sql, types.iter().copied(), &mut self.output)?;
        frontend::describe(b'S', "", &mut self.output)?;
        frontend::sync(&mut self.output);
        self.flush().await?;
        self.collect().await
    }

    /// The binary send form of each text value read as its type, computed
    /// by the server itself (`SELECT $1, $2, ...` with binary results), so
    /// numeric, NaN, infinities and time zones are encoded exactly as
    /// PostgreSQL would encode them.
    pub async fn binary_forms(
        &mut self,
        types: &[u32],
        texts: &[Option<String>],
    ) -> io::Result<Result<Vec<Cell>, PgError>> {
        let list: Vec<String> = (1..=types.len()).map(|i| format!("${i}")).collect();
        let sql = format!("SELECT {}", list.join(", "));
        frontend::parse("", &sql, types.iter().copied(), &mut self.output)?;
        let params: Vec<Param> = texts
            .iter()
            .map(|t| Param {
                format: TEXT,
                value: t.as_ref().map(|s| s.as_bytes().to_vec()),
            })
            .collect();
        self.bind("", &params, BINARY)?;
        frontend::execute("", 0, &mut self.output)?;
        frontend::sync(&mut self.output);
        self.flush().await?;
        let reply = self.collect().await?;
        Ok(match reply.error {
            Some(e) => Err(e),
            None => Ok(reply.rows.into_iter().next().unwrap_or_default()),
        })
    }

    fn bind(&mut self, statement: &str, params: &[Param], result_format: i16) -> io::Result<()> {
        frontend::bind(
            "",
            statement,
            params.iter().map(|p| p.format),
            params.iter(),
            |p, buf| match &p.value {
                Some(v) => {
                    buf.extend_from_slice(v);
                    Ok(IsNull::No)
                }
                None => Ok(IsNull::Yes),
            },
            [result_format],
            &mut self.output,
        )
        .map_err(|e| match e {
            frontend::BindError::Conversion(e) => protocol_error(e.to_string()),
            frontend::BindError::Serialization(e) => e,
        })
    }

    async fn flush(&mut self) -> io::Result<()> {
        let out = self.output.split();
        self.stream.write_all(&out).await
    }

    /// The next backend message, waiting at most [`ANSWER_TIMEOUT`].
    async fn next(&mut self) -> io::Result<Message> {
        loop {
            if let Some(m) = Message::parse(&mut self.input)? {
                return Ok(m);
            }
            let read = tokio::time::timeout(ANSWER_TIMEOUT, self.stream.read_buf(&mut self.input))
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no answer within 30 s"))??;
            if read == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed"));
            }
        }
    }

    /// Reads up to ReadyForQuery, keeping rows, tags, the first error and a
    /// ParameterDescription.
    async fn collect(&mut self) -> io::Result<Reply> {
        let mut reply = Reply::default();
        loop {
            match self.next().await? {
                Message::DataRow(body) => {
                    let buf = body.buffer();
                    let row: Vec<Cell> = body.ranges().map(|r| Ok(r.map(|r| buf[r].to_vec()))).collect()?;
                    reply.rows.push(row);
                }
                Message::CommandComplete(body) => reply.tags.push(body.tag()?.to_owned()),
                Message::ErrorResponse(body) => {
                    let e = error_of(&body)?;
                    reply.error.get_or_insert(e);
                }
                Message::ParameterDescription(body) => reply.param_types = body.parameters().collect()?,
                Message::CopyInResponse(_) => {
                    frontend::copy_fail("the oracle sends no COPY data", &mut self.output)?;
                    self.flush().await?;
                }
                Message::ReadyForQuery(_) => return Ok(reply),
                _ => {}
            }
        }
    }
}

/// The SQLSTATE and message of an ErrorResponse.
fn error_of(body: &ErrorResponseBody) -> io::Result<PgError> {
    let mut e = PgError {
        code: String::new(),
        message: String::new(),
    };
    let mut fields = body.fields();
    while let Some(f) = fields.next()? {
        match f.type_() {
            b'C' => e.code = String::from_utf8_lossy(f.value_bytes()).into_owned(),
            b'M' => e.message = String::from_utf8_lossy(f.value_bytes()).into_owned(),
            _ => {}
        }
    }
    Ok(e)
}
