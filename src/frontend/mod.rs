//! The client side: startup, authentication, and the session loop.

mod session;
mod startup;

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::app::Proxy;
use crate::protocol::{self, cut_frame, cut_startup, Frame, FrameError, Severity};

pub use session::Session;

/// Serves one client connection from its first byte to its last.
pub async fn handle_client(proxy: Arc<Proxy>, mut stream: TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let config = proxy.config();
    // Connections still logging in have a limit of their own, so they can
    // never crowd out clients that have logged in.
    let Some(login) = proxy.begin_login(config.max_login_connections) else {
        let mut out = BytesMut::new();
        protocol::put_error(
            &mut out,
            Severity::Fatal,
            "53300",
            "sorry, too many connections are logging in already",
        );
        let _ = stream.write_all(&out).await;
        return;
    };
    let io = ClientIo::new(stream, config.max_message_size);
    let connected = tokio::time::timeout(config.client_login_timeout, startup::handshake(&proxy, io, peer)).await;
    drop(login);
    match connected {
        Ok(Ok(Some(startup::Connected::Session(session)))) => session.run().await,
        Ok(Ok(Some(startup::Connected::Admin(console)))) => console.run().await,
        Ok(Ok(None)) => {}
        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "client left during startup"),
        // Dropping the handshake closes the socket.
        Err(_) => tracing::debug!(%peer, "client did not log in within client_login_timeout_secs; closed"),
    }
}

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

/// The client socket with its buffers, used during startup.
#[derive(Debug)]
pub struct ClientIo {
    /// Socket.
    pub stream: TcpStream,
    /// Received, not yet framed.
    pub rbuf: BytesMut,
    /// To send.
    pub wbuf: BytesMut,
    /// Largest message accepted.
    pub max_message: usize,
}

impl ClientIo {
    fn new(stream: TcpStream, max_message: usize) -> Self {
        Self {
            stream,
            rbuf: BytesMut::with_capacity(8 * 1024),
            wbuf: BytesMut::with_capacity(8 * 1024),
            max_message,
        }
    }

    async fn fill(&mut self) -> Result<(), ClientError> {
        if self.rbuf.capacity() - self.rbuf.len() < 4096 {
            self.rbuf.reserve(8 * 1024);
        }
        if self.stream.read_buf(&mut self.rbuf).await? == 0 {
            return Err(ClientError::Io(std::io::ErrorKind::UnexpectedEof.into()));
        }
        Ok(())
    }

    /// Reads one untagged startup-phase packet.
    async fn read_startup(&mut self) -> Result<Bytes, ClientError> {
        loop {
            match cut_startup(&mut self.rbuf, protocol::MAX_STARTUP_PACKET) {
                Ok(Some(body)) => return Ok(body),
                Ok(None) => self.fill().await?,
                Err(e) => {
                    return Err(self
                        .protocol_violation("08P01", &format!("invalid startup packet: {e}"))
                        .await)
                }
            }
        }
    }

    /// Reads one tagged message during authentication.
    async fn read_frame(&mut self) -> Result<Frame, ClientError> {
        loop {
            match cut_frame(&mut self.rbuf, protocol::MAX_STARTUP_PACKET) {
                Ok(Some(f)) => return Ok(f),
                Ok(None) => self.fill().await?,
                Err(e) => return Err(self.protocol_violation("08P01", &frame_error_text(&e)).await),
            }
        }
    }

    async fn flush(&mut self) -> Result<(), ClientError> {
        if !self.wbuf.is_empty() {
            self.stream.write_all(&self.wbuf).await?;
            self.wbuf.clear();
        }
        Ok(())
    }

    /// Sends a FATAL error and returns the matching error value.
    async fn fatal(&mut self, code: &str, message: &str) -> ClientError {
        protocol::put_error(&mut self.wbuf, Severity::Fatal, code, message);
        let _ = self.flush().await;
        ClientError::Protocol(message.to_owned())
    }

    async fn protocol_violation(&mut self, code: &str, message: &str) -> ClientError {
        self.fatal(code, message).await
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
