//! A client's connection: its byte stream and the buffers on either side of
//! it. Generic over the stream (`AsyncRead + AsyncWrite`), so the same type
//! carries a TCP socket, a TLS stream wrapped around one, or an in-memory
//! duplex in tests — through startup, a session or the admin console.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use crate::protocol::{self, cut_frame, cut_startup, Frame, FrameError, Severity};

/// What a client connection can run over.
pub trait ClientStream: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> ClientStream for T {}

/// Why a client connection ended early.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Network error or EOF.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The client broke the protocol; it was told so.
    #[error("protocol violation: {0}")]
    Protocol(String),
}

/// A client's stream with what was read from it and what waits to be sent.
#[derive(Debug)]
pub struct ClientConn<S> {
    /// The stream.
    pub stream: S,
    /// Received, not yet framed.
    pub rbuf: BytesMut,
    /// To send.
    pub wbuf: BytesMut,
    /// Largest message accepted.
    pub max_message: usize,
    /// Written since the last flush (a TLS stream holds bytes until flushed).
    unflushed: bool,
}

impl<S: ClientStream> ClientConn<S> {
    /// A connection over `stream` accepting messages up to `max_message` bytes.
    pub fn new(stream: S, max_message: usize) -> Self {
        Self {
            stream,
            rbuf: BytesMut::with_capacity(8 * 1024),
            wbuf: BytesMut::with_capacity(8 * 1024),
            max_message,
            unflushed: false,
        }
    }

    /// Reads more from the stream; EOF is an error.
    pub async fn fill(&mut self) -> Result<(), ClientError> {
        if self.rbuf.capacity() - self.rbuf.len() < 4096 {
            self.rbuf.reserve(8 * 1024);
        }
        if tokio::io::AsyncReadExt::read_buf(&mut self.stream, &mut self.rbuf).await? == 0 {
            return Err(ClientError::Io(std::io::ErrorKind::UnexpectedEof.into()));
        }
        Ok(())
    }

    /// Reads one untagged startup-phase packet.
    pub async fn read_startup(&mut self) -> Result<Bytes, ClientError> {
        loop {
            match cut_startup(&mut self.rbuf, protocol::MAX_STARTUP_PACKET) {
                Ok(Some(body)) => return Ok(body),
                Ok(None) => self.fill().await?,
                Err(e) => return Err(self.fatal("08P01", &format!("invalid startup packet: {e}")).await),
            }
        }
    }

    /// Reads one tagged message during authentication.
    pub async fn read_frame(&mut self) -> Result<Frame, ClientError> {
        loop {
            match cut_frame(&mut self.rbuf, protocol::MAX_STARTUP_PACKET) {
                Ok(Some(f)) => return Ok(f),
                Ok(None) => self.fill().await?,
                Err(e) => return Err(self.fatal("08P01", &frame_error_text(&e)).await),
            }
        }
    }

    /// Sends everything queued.
    pub async fn flush(&mut self) -> std::io::Result<()> {
        if !self.wbuf.is_empty() {
            self.stream.write_all(&self.wbuf).await?;
            self.wbuf.clear();
        }
        self.stream.flush().await?;
        Ok(())
    }

    /// Sends what is queued and closes gently: the write side first, then
    /// whatever the client still sends is read and dropped for up to
    /// `linger`, so a FATAL error reaches a client that was still writing
    /// (closing with unread input would reset the connection, and the
    /// client's kernel could drop the error before the client reads it).
    pub async fn close(&mut self, linger: std::time::Duration) {
        if self.flush().await.is_err() || self.stream.shutdown().await.is_err() {
            return;
        }
        let drain = async {
            let mut scratch = vec![0u8; 64 * 1024];
            while let Ok(n) = tokio::io::AsyncReadExt::read(&mut self.stream, &mut scratch).await {
                if n == 0 {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(linger, drain).await;
    }

    /// Sends a FATAL error and returns the matching error value.
    pub async fn fatal(&mut self, code: &str, message: &str) -> ClientError {
        protocol::put_error(&mut self.wbuf, Severity::Fatal, code, message);
        let _ = self.flush().await;
        ClientError::Protocol(message.to_owned())
    }

    /// Reads what the stream has into the receive buffer (`Ok(0)`: EOF).
    pub fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<usize>> {
        if self.rbuf.capacity() - self.rbuf.len() < 4096 {
            self.rbuf.reserve(16 * 1024);
        }
        tokio_util::io::poll_read_buf(Pin::new(&mut self.stream), cx, &mut self.rbuf)
    }

    /// Whether there is something to write or flush.
    pub fn wants_write(&self) -> bool {
        !self.wbuf.is_empty() || self.unflushed
    }

    /// Writes what it can of the send buffer, then flushes once it is empty.
    /// Ready with the bytes written (0 once only the flush was left).
    pub fn poll_write(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<usize>> {
        if !self.wbuf.is_empty() {
            let n = std::task::ready!(tokio_util::io::poll_write_buf(
                Pin::new(&mut self.stream),
                cx,
                &mut self.wbuf
            ))?;
            if n == 0 {
                return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
            }
            self.unflushed = true;
            return Poll::Ready(Ok(n));
        }
        std::task::ready!(Pin::new(&mut self.stream).poll_flush(cx))?;
        self.unflushed = false;
        Poll::Ready(Ok(0))
    }
}

/// Client-facing wording for a framing error.
pub fn frame_error_text(e: &FrameError) -> String {
    match e {
        FrameError::BadLength(n) => format!("invalid message length {n}"),
        FrameError::TooLarge { len, limit } => {
            format!("message of {len} bytes exceeds the limit of {limit} bytes")
        }
    }
}
