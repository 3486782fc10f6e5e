//! The admin console: a virtual database (`admin_database`, default
//! `partproxy`) that admin users reach with psql. It answers simple queries
//! itself — `SHOW POOLS`, `SHOW ROUTES`, `RELOAD`, `PAUSE`, ... — with
//! PgBouncer's column names where the concept is the same.

mod commands;
mod show;

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::AsyncReadExt;

use crate::client_conn::{frame_error_text, ClientConn, ClientStream};
use crate::clients::Registered;
use crate::protocol::{self, cut_frame, ClientTag, Severity};
use crate::proxy::{ClientGuard, Proxy};

pub use commands::{parse_command, Command};
pub use show::ResultSet;

/// One admin connection.
pub struct Console<S> {
    proxy: Arc<Proxy>,
    io: ClientConn<S>,
    _guard: ClientGuard,
    _registered: Registered,
}

impl<S: ClientStream> Console<S> {
    /// A console for an authenticated admin user.
    pub fn new(proxy: Arc<Proxy>, io: ClientConn<S>, guard: ClientGuard, registered: Registered) -> Console<S> {
        Console {
            proxy,
            io,
            _guard: guard,
            _registered: registered,
        }
    }

    /// Greets the client and answers its queries until it leaves.
    pub async fn run(mut self) {
        let out = &mut self.io.wbuf;
        for (k, v) in [
            ("server_version", "15.0 (partproxy admin)"),
            ("server_encoding", "UTF8"),
            ("client_encoding", "UTF8"),
            ("DateStyle", "ISO, MDY"),
            ("integer_datetimes", "on"),
            ("standard_conforming_strings", "on"),
            ("application_name", ""),
        ] {
            protocol::put_parameter_status(out, k, v);
        }
        protocol::put_backend_key_data(out, 0, 0);
        protocol::put_ready_for_query(out, protocol::TransactionStatus::Idle);
        if let Err(e) = self.serve().await {
            tracing::debug!(error = %e, "admin console connection ended");
        }
    }

    async fn serve(&mut self) -> std::io::Result<()> {
        let mut shutdown = self.proxy.shutdown_signal();
        let mut skip_to_sync = false;
        loop {
            self.flush().await?;
            let frame = loop {
                match cut_frame(&mut self.io.rbuf, self.io.max_message) {
                    Ok(Some(f)) => break f,
                    Ok(None) => {}
                    Err(e) => {
                        let msg = frame_error_text(&e);
                        return self.fatal("08P01", &msg).await;
                    }
                }
                if self.io.rbuf.capacity() - self.io.rbuf.len() < 1024 {
                    self.io.rbuf.reserve(8 * 1024);
                }
                let read = tokio::select! {
                    n = self.io.stream.read_buf(&mut self.io.rbuf) => Some(n),
                    // The guard wait_for returns is dropped inside, keeping this future Send.
                    () = async { let _ = shutdown.wait_for(|s| *s).await; } => None,
                };
                match read {
                    Some(n) => {
                        if n? == 0 {
                            return Ok(());
                        }
                    }
                    None => {
                        return self
                            .fatal("57P01", "terminating connection due to administrator command")
                            .await
                    }
                }
            };
            match frame.client_tag() {
                ClientTag::Query => {
                    let sql = protocol::decode_query(frame.body()).unwrap_or_default().to_owned();
                    let stop = self.answer(&sql).await;
                    protocol::put_ready_for_query(&mut self.io.wbuf, protocol::TransactionStatus::Idle);
                    if stop {
                        return self.flush().await;
                    }
                }
                ClientTag::Sync => {
                    skip_to_sync = false;
                    protocol::put_ready_for_query(&mut self.io.wbuf, protocol::TransactionStatus::Idle);
                }
                ClientTag::Terminate => return Ok(()),
                ClientTag::Parse
                | ClientTag::Bind
                | ClientTag::Execute
                | ClientTag::Describe
                | ClientTag::Close
                | ClientTag::Flush
                | ClientTag::FunctionCall => {
                    if !skip_to_sync {
                        skip_to_sync = true;
                        protocol::put_error(
                            &mut self.io.wbuf,
                            Severity::Error,
                            "0A000",
                            "the admin console answers only simple queries (psql, or simple query mode)",
                        );
                    }
                }
                _ => {
                    let msg = format!("invalid frontend message type {}", frame.tag);
                    return self.fatal("08P01", &msg).await;
                }
            }
        }
    }

    async fn fatal(&mut self, code: &str, message: &str) -> std::io::Result<()> {
        protocol::put_error(&mut self.io.wbuf, Severity::Fatal, code, message);
        self.flush().await
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        self.io.flush().await
    }

    /// Answers one query string; true when the connection should close.
    async fn answer(&mut self, sql: &str) -> bool {
        let out = &mut self.io.wbuf;
        let command = match parse_command(sql) {
            Ok(c) => c,
            Err(message) => {
                protocol::put_error(out, Severity::Error, "42601", &message);
                return false;
            }
        };
        match command {
            Command::Empty => {
                protocol::put_empty(out, b'I');
            }
            Command::Show(what) => match show::show(&self.proxy, &what) {
                Ok(rs) => rs.write(out),
                Err(message) => protocol::put_error(out, Severity::Error, "42704", &message),
            },
            Command::Set => protocol::put_command_complete(out, "SET"),
            Command::Reload => match self.proxy.reload() {
                Ok(summary) => {
                    tracing::info!(?summary, "RELOAD");
                    protocol::put_command_complete(out, "RELOAD");
                }
                Err(message) => protocol::put_error(out, Severity::Error, "F0000", &message),
            },
            Command::Pause => {
                self.proxy.set_paused(true);
                let drained = drain(&self.proxy, self.proxy.config().shutdown_timeout).await;
                let out = &mut self.io.wbuf;
                if drained {
                    protocol::put_command_complete(out, "PAUSE");
                } else {
                    let msg = format!(
                        "PAUSE timed out with {} server connection(s) still in use; the proxy stays paused (RESUME undoes it)",
                        self.proxy.active_servers()
                    );
                    protocol::put_error(out, Severity::Error, "57014", &msg);
                }
            }
            Command::Resume => {
                self.proxy.set_paused(false);
                protocol::put_command_complete(out, "RESUME");
            }
            Command::Shutdown => {
                tracing::info!("SHUTDOWN from the admin console");
                protocol::put_command_complete(out, "SHUTDOWN");
                self.proxy.begin_shutdown();
                return true;
            }
        }
        false
    }
}

/// Waits until no server connection is lent out, up to `limit`.
async fn drain(proxy: &Proxy, limit: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while proxy.active_servers() > 0 {
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    true
}

impl ResultSet {
    /// Writes RowDescription, DataRows and CommandComplete.
    pub fn write(&self, out: &mut BytesMut) {
        protocol::put_row_description(out, &self.columns);
        for row in &self.rows {
            let values: Vec<Option<&str>> = row.iter().map(|v| v.as_deref()).collect();
            protocol::put_data_row(out, &values);
        }
        protocol::put_command_complete(out, &format!("SHOW {}", self.rows.len()));
    }
}
