//! The server a session holds, if any: checking one out of the pool and
//! bringing its settings in line with the client's; reading back settings
//! the client changed (the role and session authorization included, which
//! `pg_settings` does not show); resetting it and returning it, never while
//! a cancel for it is in flight; and the prepared statements it holds.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::backend::{BackendError, Checkout, Pool, PoolError, ServerConn};
use crate::cancel::{CancelKey, CancelTarget};
use crate::protocol;

/// The settings `pg_settings` does not show, which `RESET ALL` leaves alone,
/// in the order they must be applied (a session authorization resets the role).
pub(super) const ROLE_SETTINGS: [&str; 2] = ["session_authorization", "role"];

/// What undoes every setting a client may have changed: `RESET ALL` leaves
/// the role and the session authorization alone.
const RESET_SETTINGS: &str = "RESET SESSION AUTHORIZATION; RESET ALL";

/// Why no server could be had: the FATAL error the client gets.
#[derive(Debug)]
pub(super) struct Refusal {
    pub(super) code: String,
    pub(super) message: String,
}

/// A server just taken: what the session reports about it.
pub(super) struct Held {
    pub(super) pid: u32,
    pub(super) age: std::time::Duration,
}

/// The session's server slot.
pub(super) struct ServerSlot {
    pool: Arc<Pool>,
    /// Routes the client's cancels to the server it holds.
    pub(super) cancel: CancelKey,
    conn: Option<Checkout>,
    /// Session settings the client's server must have.
    pub(super) desired: BTreeMap<String, String>,
    /// The client changed settings: read them back before releasing the server.
    pub(super) capture_settings: bool,
    /// The client created state that cannot follow it: DISCARD ALL on release.
    pub(super) discard_on_release: bool,
}

/// How a server left the session.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Released {
    /// None was held.
    Nothing,
    /// Back in the pool, its state kept.
    Returned,
    /// Back in the pool after DISCARD ALL: the statements the client
    /// prepared with SQL PREPARE are gone.
    Discarded,
    /// Closed: it could not be cleaned.
    Closed,
}

impl ServerSlot {
    pub(super) fn new(pool: Arc<Pool>, cancel: CancelKey, desired: BTreeMap<String, String>) -> ServerSlot {
        ServerSlot {
            pool,
            cancel,
            conn: None,
            desired,
            capture_settings: false,
            discard_on_release: false,
        }
    }

    /// The pool servers come from.
    pub(super) fn pool(&self) -> &Arc<Pool> {
        &self.pool
    }

    /// Whether a server is held.
    pub(super) fn is_held(&self) -> bool {
        self.conn.is_some()
    }

    /// The held server.
    pub(super) fn conn(&mut self) -> Option<&mut ServerConn> {
        self.conn.as_mut().map(|co| &mut co.conn)
    }

    /// Checks out a server, brings its settings in line with the client's
    /// and points the client's cancel key at it.
    pub(super) async fn acquire(&mut self) -> Result<Held, Refusal> {
        let mut co = self.pool.checkout().await.map_err(|e| refusal(e, &self.pool.name))?;
        if let Err(e) = apply_settings(&mut co.conn, &self.desired).await {
            return Err(match e {
                BackendError::Server(f) => Refusal {
                    code: f.code,
                    message: f.message,
                },
                other => Refusal {
                    code: "08006".into(),
                    message: format!("partproxy: {other}"),
                },
            });
        }
        self.cancel.slot.set(Some(CancelTarget {
            addr: co.conn.addr,
            pid: co.conn.key.0,
            secret: co.conn.key.1,
        }));
        let held = Held {
            pid: co.conn.key.0,
            age: co.conn.created.elapsed(),
        };
        self.conn = Some(co);
        Ok(held)
    }

    /// The server failed: drop it without returning it to the pool.
    pub(super) fn drop_lost(&mut self) -> bool {
        self.cancel.slot.set(None);
        self.conn.take().is_some()
    }

    /// Whether the held server has the statement named `name` prepared
    /// (marking it used).
    pub(super) fn has_prepared(&mut self, name: &str) -> bool {
        self.conn().is_some_and(|c| c.prepared.touch(name))
    }

    /// Notes `name` as prepared on the held server.
    pub(super) fn note_prepared(&mut self, name: &Arc<str>) {
        if let Some(c) = self.conn() {
            c.prepared.insert(name.clone());
        }
    }

    /// The server does not have `name` prepared after all (its Parse failed or was skipped).
    pub(super) fn forget_prepared(&mut self, name: &str) {
        if let Some(c) = self.conn() {
            c.prepared.remove(name);
        }
    }

    /// The client ran DEALLOCATE ALL or DISCARD ALL on the held server.
    pub(super) fn server_dropped_statements(&mut self, discarded: bool) {
        if let Some(c) = self.conn() {
            c.prepared.clear();
            if discarded {
                c.applied.clear();
                self.capture_settings = true;
            }
        }
    }

    /// Session mode, between transactions: reads the client's settings back
    /// when it changed some (the router needs its search_path), and
    /// deallocates statements evicted while it kept the server busy.
    pub(super) async fn settle_session(&mut self, routing: bool) -> Result<(), BackendError> {
        let capture = std::mem::take(&mut self.capture_settings) && routing;
        let Some(conn) = self.conn() else {
            return Ok(());
        };
        if capture {
            let settings = read_settings(conn).await?;
            self.desired = settings;
            return Ok(());
        }
        if let Some(sql) = conn.prepared.take_deallocation() {
            conn.internal_query(&sql).await?;
        }
        Ok(())
    }

    /// Returns the server to the pool between transactions, first carrying
    /// the client's changed settings over and cleaning state that must not
    /// reach the next client. A server with a cancel still in flight is
    /// closed instead once the wait for it ends.
    pub(super) async fn release(&mut self, resets: &prometheus::IntCounter) -> Released {
        let Some(mut co) = self.conn.take() else {
            return Released::Nothing;
        };
        if !self.cancel.release(co.conn.key.0).await {
            tracing::warn!(pool = %self.pool.name, "a cancel for this server is still pending; closing it");
            return Released::Closed;
        }
        if std::mem::take(&mut self.capture_settings) {
            match read_settings(&mut co.conn).await {
                Ok(settings) => {
                    co.conn.applied = settings.clone();
                    self.desired = settings;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not read session settings; closing server connection");
                    return Released::Closed;
                }
            }
        }
        let mut released = Released::Returned;
        if std::mem::take(&mut self.discard_on_release) {
            resets.inc();
            if let Err(e) = co.conn.internal_query("DISCARD ALL").await {
                tracing::warn!(error = %e, "reset failed; closing server connection");
                return Released::Closed;
            }
            co.conn.applied.clear();
            co.conn.prepared.clear();
            released = Released::Discarded;
        }
        if let Some(sql) = co.conn.prepared.take_deallocation() {
            if let Err(e) = co.conn.internal_query(&sql).await {
                tracing::warn!(error = %e, "deallocating statements failed; closing server connection");
                return Released::Closed;
            }
        }
        self.pool.checkin(co);
        released
    }

    /// The client is gone. A quiet server is rolled back, reset and
    /// returned; one that may still be running a statement is closed, which
    /// makes PostgreSQL abort it and roll back.
    pub(super) async fn finish(
        &mut self,
        quiet: bool,
        in_transaction: bool,
        session_mode: bool,
        resets: &prometheus::IntCounter,
    ) {
        let Some(mut co) = self.conn.take() else {
            return;
        };
        if !self.cancel.release(co.conn.key.0).await {
            return;
        }
        if !quiet || !co.conn.rbuf.is_empty() {
            return;
        }
        if in_transaction && co.conn.internal_query("ROLLBACK").await.is_err() {
            return;
        }
        let discard = session_mode || self.discard_on_release;
        resets.inc();
        let reset = if discard { "DISCARD ALL" } else { RESET_SETTINGS };
        if co.conn.internal_query(reset).await.is_err() {
            return;
        }
        co.conn.applied.clear();
        if discard {
            co.conn.prepared.clear();
        }
        self.pool.checkin(co);
    }

    /// The role `$user` stands for: a role or session authorization the
    /// client switched to, else `login`.
    pub(super) fn current_role<'a>(&'a self, login: &'a str) -> &'a str {
        ROLE_SETTINGS
            .iter()
            .rev()
            .find_map(|k| self.desired.get(*k))
            .map_or(login, String::as_str)
    }
}

/// The FATAL error for a failed checkout.
fn refusal(e: PoolError, pool: &str) -> Refusal {
    match e {
        PoolError::Connect(BackendError::Server(f)) => Refusal {
            code: f.code.clone(),
            message: format!("partproxy: could not connect to the server: {}", f.message),
        },
        PoolError::WaitTimeout(_) => Refusal {
            code: "53300".into(),
            message: format!("partproxy: {e} (pool {pool})"),
        },
        PoolError::Connect(_) => Refusal {
            code: "08006".into(),
            message: format!("partproxy: {e} (pool {pool})"),
        },
    }
}

/// The SQL that sets a server's session settings to `desired`, resetting
/// first if it carries another client's; `None` when they match.
pub(super) fn settings_sql(applied: &BTreeMap<String, String>, desired: &BTreeMap<String, String>) -> Option<String> {
    if applied == desired {
        return None;
    }
    let mut sql = String::new();
    if !applied.is_empty() {
        sql.push_str(RESET_SETTINGS);
        sql.push(';');
    }
    if !desired.is_empty() {
        sql.push_str("SELECT ");
        // The session authorization first (it resets the role), then the role.
        let roles = ROLE_SETTINGS.iter().filter_map(|k| desired.get_key_value(*k));
        let others = desired.iter().filter(|(k, _)| !ROLE_SETTINGS.contains(&k.as_str()));
        for (i, (k, v)) in roles.chain(others).enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str("pg_catalog.set_config(");
            sql.push_str(&protocol::quote_literal(k));
            sql.push_str(", ");
            sql.push_str(&protocol::quote_literal(v));
            sql.push_str(", false)");
        }
    }
    Some(sql)
}

/// Sets the server's session settings to `desired`.
async fn apply_settings(conn: &mut ServerConn, desired: &BTreeMap<String, String>) -> Result<(), BackendError> {
    let Some(sql) = settings_sql(&conn.applied, desired) else {
        return Ok(());
    };
    conn.applied.clear();
    conn.internal_query(&sql).await?;
    conn.applied = desired.clone();
    Ok(())
}

/// Reads every setting the client's session changed, to carry it to the
/// next server: what `pg_settings` shows, and the role and session
/// authorization, which it does not.
pub(super) fn capture_settings_sql(login: &str) -> String {
    format!(
        "SELECT name, setting FROM pg_catalog.pg_settings WHERE source = 'session' \
         UNION ALL SELECT 'session_authorization', session_user::text WHERE session_user <> {login} \
         UNION ALL SELECT 'role', pg_catalog.current_setting('role') WHERE pg_catalog.current_setting('role') <> 'none'",
        login = protocol::quote_literal(login)
    )
}

/// Every setting the session changed, by name.
async fn read_settings(conn: &mut ServerConn) -> Result<BTreeMap<String, String>, BackendError> {
    let sql = capture_settings_sql(&conn.login);
    let rows = conn.internal_query(&sql).await?;
    Ok(rows
        .into_iter()
        .filter_map(|mut r| {
            let v = r.pop()??;
            let k = r.pop()??;
            Some((k, v))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn settings_apply_the_session_authorization_before_the_role() {
        let desired = settings(&[("application_name", "a"), ("role", "r"), ("session_authorization", "s")]);
        let sql = settings_sql(&BTreeMap::new(), &desired).unwrap();
        let auth = sql.find("'session_authorization'").unwrap();
        let role = sql.find("'role'").unwrap();
        let app = sql.find("'application_name'").unwrap();
        assert!(auth < role && role < app, "{sql}");
        assert!(!sql.contains("RESET"), "a clean server needs no reset: {sql}");
    }

    #[test]
    fn another_clients_settings_are_reset_first_including_the_role() {
        let sql = settings_sql(&settings(&[("role", "other")]), &BTreeMap::new()).unwrap();
        assert_eq!(sql, "RESET SESSION AUTHORIZATION; RESET ALL;");
        assert_eq!(settings_sql(&settings(&[("a", "1")]), &settings(&[("a", "1")])), None);
    }

    #[test]
    fn the_capture_quotes_the_login() {
        let sql = capture_settings_sql("o'brien");
        assert!(sql.contains("session_user <> 'o''brien'"), "{sql}");
    }
}
