//! The client side: startup and authentication, then the session loop.

mod session;
mod startup;

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::BytesMut;
use tokio::io::AsyncWriteExt;

use crate::client_conn::{ClientConn, ClientStream};
use crate::protocol::{self, Severity};
use crate::proxy::Proxy;

pub use session::Session;

/// Serves one client connection from its first byte to its last.
pub async fn handle_client<S: ClientStream>(proxy: Arc<Proxy>, mut stream: S, peer: SocketAddr) {
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
    let conn = ClientConn::new(stream, config.max_message_size);
    let connected = tokio::time::timeout(config.client_login_timeout, startup::handshake(&proxy, conn, peer)).await;
    drop(login);
    match connected {
        Ok(Ok(Some(startup::Connected::Session(session)))) => session.run().await,
        Ok(Ok(Some(startup::Connected::Admin(console)))) => console.run().await,
        Ok(Ok(None)) => {}
        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "client left during startup"),
        // Dropping the handshake closes the connection.
        Err(_) => tracing::debug!(%peer, "client did not log in within client_login_timeout_secs; closed"),
    }
}
