//! The running proxy: the accept loop, pool maintenance and graceful
//! shutdown, and the one-shot commands that work on the configuration
//! (installing the DDL hook, explaining a route offline).

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::config::Config;
use crate::proxy::{catalog_target, Proxy};

/// Accepts clients until shutdown, then waits for sessions to finish their
/// transactions (up to the shutdown timeout). Serves metrics, the status
/// page and health checks on `metrics_listener` when given.
pub async fn serve(proxy: Arc<Proxy>, listener: TcpListener, metrics_listener: Option<TcpListener>) {
    // First catalog load before serving, so routing starts with the first
    // statement; a failure only delays it (statements pass through).
    for live in proxy.catalogs() {
        match tokio::time::timeout(Duration::from_secs(10), live.refresh()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(database = %live.database, error = %e, "catalog not loaded yet"),
            Err(_) => tracing::warn!(database = %live.database, "catalog load timed out"),
        }
    }
    proxy.start_refreshers();
    let http = metrics_listener.map(|l| tokio::spawn(crate::web::serve(proxy.clone(), l)));
    let maintenance = tokio::spawn({
        let proxy = proxy.clone();
        async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                proxy.maintain_pools().await;
            }
        }
    });
    let mut stop = proxy.shutdown_signal();
    loop {
        tokio::select! {
            // The guard wait_for returns is dropped inside, keeping this future Send.
            () = async { let _ = stop.wait_for(|s| *s).await; } => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    // Replies go out as soon as they are written.
                    let _ = stream.set_nodelay(true);
                    let proxy = proxy.clone();
                    tokio::spawn(async move {
                        crate::frontend::handle_client(proxy, stream, peer).await;
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
    drop(listener);
    // A paused proxy would keep sessions waiting through the whole timeout.
    proxy.set_paused(false);
    maintenance.abort();
    proxy.stop_refreshers();
    tracing::info!(
        clients = proxy.client_count(),
        "shutting down: waiting for running transactions"
    );
    let deadline = tokio::time::Instant::now() + proxy.config().shutdown_timeout;
    while proxy.client_count() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if let Some(h) = http {
        h.abort();
    }
    tracing::info!(remaining = proxy.client_count(), "shutdown complete");
}

/// Installs (or removes) the DDL hook in `database`, or in every configured
/// database with a fixed login; what `partproxy install-ddl-hook` does.
/// Returns one line per database.
pub async fn install_ddl_hook(config: &Config, database: Option<&str>, uninstall: bool) -> Result<Vec<String>, String> {
    let mut dbs: Vec<_> = match database {
        Some(name) => vec![config
            .databases
            .get(name)
            .ok_or_else(|| format!("no database \"{name}\" in the configuration"))?],
        None => config.databases.values().filter(|d| d.user.is_some()).collect(),
    };
    dbs.sort_by(|a, b| a.name.cmp(&b.name));
    if dbs.is_empty() {
        return Err("no database has a fixed `user` to install the hook with".into());
    }
    let sql = match uninstall {
        true => crate::catalog::hook::uninstall_sql(),
        false => crate::catalog::hook::install_sql(),
    };
    let mut done = Vec::new();
    for db in dbs {
        let target = catalog_target(db).ok_or_else(|| format!("database \"{}\" has no fixed `user`", db.name))?;
        crate::catalog::hook::apply(&target, &sql).await.map_err(|e| {
            format!(
                "database \"{}\" ({}:{} as {}): {e}",
                db.name, target.host, target.port, target.user
            )
        })?;
        done.push(format!(
            "{} the DDL hook in database \"{}\" ({}:{}/{})",
            if uninstall { "removed" } else { "installed" },
            db.name,
            target.host,
            target.port,
            target.dbname
        ));
    }
    Ok(done)
}

/// Routes one statement against a freshly loaded catalog, without a running
/// proxy: what `partproxy explain` prints.
pub async fn explain_offline(
    config: &Config,
    database: Option<&str>,
    sql: &str,
    search_path: &str,
    time_zone: &str,
) -> Result<Vec<crate::router::explain::ExplainRow>, String> {
    let db = match database {
        Some(name) => config
            .databases
            .get(name)
            .ok_or_else(|| format!("no database \"{name}\" in the configuration"))?,
        None => {
            let mut with_user: Vec<_> = config.databases.values().filter(|d| d.user.is_some()).collect();
            with_user.sort_by(|a, b| a.name.cmp(&b.name));
            match with_user.as_slice() {
                [one] => *one,
                [] => return Err("no database has a fixed `user` to read its catalog with".into()),
                many => {
                    let names: Vec<&str> = many.iter().map(|d| d.name.as_str()).collect();
                    return Err(format!(
                        "several databases ({}): choose one with --database",
                        names.join(", ")
                    ));
                }
            }
        }
    };
    let target = catalog_target(db).ok_or_else(|| format!("database \"{}\" has no fixed `user`", db.name))?;
    let client = crate::catalog::load::connect(&target)
        .await
        .map_err(|e| e.to_string())?;
    let catalog = crate::catalog::load::load(&client, &config.routing.rules_for(&db.name))
        .await
        .map_err(|e| e.to_string())?;
    let tz =
        crate::keys::TimeZoneRule::from_setting(time_zone).ok_or_else(|| format!("unknown time zone {time_zone}"))?;
    let path = crate::router::parse_search_path(search_path);
    let view = crate::router::SessionView::new(&path, &target.user, tz);
    let sql = sql.trim().trim_end_matches(';');
    Ok(crate::router::explain::explain(
        &crate::router::route(sql, &catalog, &view),
        sql,
    ))
}

/// Raises the soft open-file limit to the hard one: every client and server
/// connection is a file, and the usual soft default (1,024) is far below
/// what a pooler needs.
pub fn raise_open_file_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            tracing::warn!("could not read the open-file limit");
            return;
        }
        if lim.rlim_cur >= lim.rlim_max {
            tracing::info!(limit = lim.rlim_cur, "open-file limit");
            return;
        }
        let before = lim.rlim_cur;
        lim.rlim_cur = lim.rlim_max;
        if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) == 0 {
            tracing::info!(from = before, to = lim.rlim_cur, "raised the open-file limit");
        } else {
            tracing::warn!(limit = before, "could not raise the open-file limit");
        }
    }
}
