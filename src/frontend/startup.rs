//! Startup packet handling and client authentication.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::BytesMut;
use rand::RngCore;

use super::session::{ClientInfo, Observed, Session};
use crate::auth::{self, Secret};
use crate::client_conn::{ClientConn, ClientError, ClientStream};
use crate::config::{AuthMethod, User};
use crate::protocol::{self, StartupPacket};
use crate::proxy::Proxy;

/// Startup parameters that are not session settings.
const NOT_SETTINGS: &[&str] = &["user", "database", "options", "replication"];

/// A client past startup.
pub(crate) enum Connected<S> {
    /// A session on a configured database.
    Session(Box<Session<S>>),
    /// The admin console.
    Admin(crate::admin::Console<S>),
}

/// Runs the startup phase. Returns the ready session, or `None` when the
/// connection was a cancel request or was refused with a FATAL error.
pub(crate) async fn handshake<S: ClientStream>(
    proxy: &Arc<Proxy>,
    mut io: ClientConn<S>,
    peer: std::net::SocketAddr,
) -> Result<Option<Connected<S>>, ClientError> {
    let (minor, params) = loop {
        let body = io.read_startup().await?;
        match StartupPacket::decode(&body) {
            Ok(StartupPacket::SslRequest | StartupPacket::GssEncRequest) => {
                io.wbuf.extend_from_slice(b"N");
                io.flush().await?;
            }
            Ok(StartupPacket::Cancel { pid, secret }) => {
                proxy.cancels.cancel(pid, secret).await;
                return Ok(None);
            }
            Ok(StartupPacket::Startup { minor, params }) => break (minor, params),
            Err(e) => return Err(io.fatal(e.code(), &e.to_string()).await),
        }
    };
    if minor != 0 {
        // Newer minor version requested: tell the client we speak 3.0.
        let mut msg = BytesMut::new();
        msg.extend_from_slice(b"v");
        msg.extend_from_slice(&12i32.to_be_bytes());
        msg.extend_from_slice(&(protocol::PROTOCOL_3_0 as i32).to_be_bytes());
        msg.extend_from_slice(&0i32.to_be_bytes());
        io.wbuf.extend_from_slice(&msg);
    }
    let get = |k: &str| params.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    let Some(user_name) = get("user").filter(|u| !u.is_empty()).map(str::to_owned) else {
        return Err(io
            .fatal("28000", "no PostgreSQL user name specified in startup packet")
            .await);
    };
    let database = get("database")
        .filter(|d| !d.is_empty())
        .unwrap_or(&user_name)
        .to_owned();
    if get("replication").is_some_and(|r| !matches!(r, "false" | "off" | "no" | "0")) {
        return Err(io
            .fatal("0A000", "partproxy does not support replication connections")
            .await);
    }
    let Some(client_guard) = proxy.admit_client() else {
        return Err(io.fatal("53300", "sorry, too many clients already").await);
    };

    let config = proxy.config();
    let user = config.users.get(&user_name);
    let authenticated = authenticate(&mut io, &user_name, user, proxy, &config).await?;
    let auth_failed = format!("password authentication failed for user \"{user_name}\"");
    let Some(user) = user.filter(|_| authenticated) else {
        return Err(io.fatal("28P01", &auth_failed).await);
    };
    let application_name = get("application_name").unwrap_or_default().to_owned();
    if database == config.admin_database {
        if !config.admin_users.contains(&user.name) {
            let msg = format!("user \"{}\" is not allowed to use the admin console", user.name);
            return Err(io.fatal("28000", &msg).await);
        }
        protocol::put_auth(&mut io.wbuf, 0, &[]);
        let registered = proxy.registry.register(&user.name, &database, peer, &application_name);
        return Ok(Some(Connected::Admin(crate::admin::Console::new(
            proxy.clone(),
            io,
            client_guard,
            registered,
        ))));
    }
    let Some(db) = config.databases.get(&database) else {
        return Err(io
            .fatal("3D000", &format!("database \"{database}\" does not exist"))
            .await);
    };
    if db.user.is_none() && user.plain_password.is_none() && user.auth != AuthMethod::Trust {
        tracing::warn!(user = %user.name, db = %db.name, "no plain-text password to log in to the server with");
    }
    protocol::put_auth(&mut io.wbuf, 0, &[]);

    let mut desired = BTreeMap::new();
    for (k, v) in &params {
        if !NOT_SETTINGS.contains(&k.as_str()) {
            desired.insert(k.clone(), v.clone());
        }
    }
    if let Some(options) = get("options") {
        match parse_options(options) {
            Some(pairs) => desired.extend(pairs),
            None => {
                return Err(io
                    .fatal("08P01", &format!("invalid command-line argument: {options}"))
                    .await)
            }
        }
    }

    let pool = proxy.pool_for(db, user);
    let cancel = proxy.cancels.register();
    let catalog = proxy.catalog(&db.name);
    let observed = Observed::new(
        proxy.registry.register(&user.name, &db.name, peer, &application_name),
        pool.client(),
        pool.metrics.clone(),
        catalog
            .is_some()
            .then(|| crate::metrics::RouteRecorder::new(proxy.metrics.clone(), &db.name)),
    );
    let client = ClientInfo {
        user: user.name.clone(),
        desired,
        catalog,
        observed,
    };
    let mut session = Session::new(proxy.clone(), pool, io, client, cancel, client_guard);
    match session.start().await {
        Ok(()) => Ok(Some(Connected::Session(Box::new(session)))),
        Err(e) => {
            tracing::debug!(error = %e, "session could not start");
            Ok(None)
        }
    }
}

/// Runs the configured authentication exchange. Unknown users go through
/// the same exchange as known ones against a mock secret, as PostgreSQL
/// does: a SCRAM salt stable per name, derived from the proxy's own secret,
/// or (as often as known password users are md5 users) an md5 challenge.
async fn authenticate(
    io: &mut ClientConn<impl ClientStream>,
    user_name: &str,
    user: Option<&User>,
    proxy: &Proxy,
    config: &crate::config::Config,
) -> Result<bool, ClientError> {
    match user {
        Some(u) if u.auth == AuthMethod::Trust => Ok(true),
        Some(User {
            secret: Some(Secret::Md5(stored)),
            ..
        }) => md5(io, Some(stored)).await,
        Some(User {
            secret: Some(Secret::Scram(secret)),
            ..
        }) => scram(io, secret).await,
        _ => {
            tracing::debug!(user = user_name, "login attempt for an unknown user");
            let password_users = config.users.values().filter(|u| u.secret.is_some()).count();
            let md5_users = config
                .users
                .values()
                .filter(|u| matches!(u.secret, Some(Secret::Md5(_))))
                .count();
            if auth::mock_uses_md5(&proxy.mock_key, user_name, md5_users, password_users) {
                md5(io, None).await?;
                return Ok(false);
            }
            scram(io, &auth::mock_scram_secret(&proxy.mock_key, user_name)).await?;
            Ok(false)
        }
    }
}

/// An md5 challenge (a fresh salt each time, as PostgreSQL sends); with no
/// stored hash it matches nothing.
async fn md5(io: &mut ClientConn<impl ClientStream>, stored: Option<&str>) -> Result<bool, ClientError> {
    let mut salt = [0u8; 4];
    rand::thread_rng().fill_bytes(&mut salt);
    protocol::put_auth(&mut io.wbuf, 5, &salt);
    io.flush().await?;
    let frame = expect_password(io).await?;
    let mut pos = 0;
    let response = protocol::read_cstr(frame.body(), &mut pos).unwrap_or_default();
    Ok(stored.is_some_and(|s| auth::md5_matches(s, salt, response)))
}

async fn expect_password(io: &mut ClientConn<impl ClientStream>) -> Result<crate::protocol::Frame, ClientError> {
    let frame = io.read_frame().await?;
    if frame.tag != b'p' {
        let msg = format!("expected password response, got message type {}", frame.tag);
        return Err(io.fatal("08P01", &msg).await);
    }
    Ok(frame)
}

async fn scram(io: &mut ClientConn<impl ClientStream>, secret: &auth::ScramSecret) -> Result<bool, ClientError> {
    protocol::put_auth_sasl(&mut io.wbuf);
    io.flush().await?;
    let frame = expect_password(io).await?;
    let body = frame.body();
    let mut pos = 0;
    let mechanism = protocol::read_cstr(body, &mut pos).unwrap_or_default();
    if mechanism != "SCRAM-SHA-256" {
        return Err(io
            .fatal("28000", "client selected an invalid SASL authentication mechanism")
            .await);
    }
    let data = body.get(pos + 4..).unwrap_or_default();
    let (exchange, server_first) = match auth::scram_server_first(secret, data) {
        Ok(v) => v,
        Err(e) => return Err(io.fatal("08P01", &e.to_string()).await),
    };
    protocol::put_auth(&mut io.wbuf, 11, server_first.as_bytes());
    io.flush().await?;
    let frame = expect_password(io).await?;
    match auth::scram_server_final(&exchange, secret, frame.body()) {
        Ok(server_final) => {
            protocol::put_auth(&mut io.wbuf, 12, server_final.as_bytes());
            Ok(true)
        }
        Err(auth::AuthError::Mismatch) => Ok(false),
        Err(e) => Err(io.fatal("08P01", &e.to_string()).await),
    }
}

/// Parses the `options` startup parameter: `-c name=value` and `--name=value`
/// switches separated by spaces (a backslash escapes the next character).
fn parse_options(options: &str) -> Option<Vec<(String, String)>> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut chars = options.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => cur.push(chars.next()?),
            c if c.is_whitespace() => {
                if !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    let mut out = Vec::new();
    let mut it = words.into_iter();
    while let Some(w) = it.next() {
        let setting = if w == "-c" {
            it.next()?
        } else if let Some(s) = w.strip_prefix("-c").or_else(|| w.strip_prefix("--")) {
            s.to_owned()
        } else {
            return None;
        };
        let (k, v) = setting.split_once('=')?;
        out.push((k.replace('-', "_"), v.to_owned()));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::parse_options;

    #[test]
    fn parses_options() {
        let got = parse_options("-c search_path=a,b --statement-timeout=5s -cwork_mem=64MB").unwrap();
        assert_eq!(
            got,
            vec![
                ("search_path".into(), "a,b".into()),
                ("statement_timeout".into(), "5s".into()),
                ("work_mem".into(), "64MB".into())
            ]
        );
        assert_eq!(parse_options(r"-c application_name=a\ b").unwrap()[0].1, "a b");
        assert!(parse_options("bogus").is_none());
    }
}
