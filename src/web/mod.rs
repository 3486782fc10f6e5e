//! The HTTP endpoint on `metrics_listen`: `/metrics` for Prometheus, the
//! status page at `/` (and the JSON it polls), `/healthz` and `/readyz`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::proxy::Proxy;

mod status;

/// How long `/readyz` waits for each database.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Serves until the task is dropped.
pub async fn serve(proxy: Arc<Proxy>, listener: TcpListener) {
    let app = Router::new()
        .route("/", get(page))
        .route("/status.json", get(status_json))
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(proxy);
    if let Err(e) = axum::serve(listener, app).await {
        tracing::warn!(error = %e, "metrics endpoint stopped");
    }
}

async fn page() -> Html<&'static str> {
    Html(include_str!("status.html"))
}

async fn status_json(State(proxy): State<Arc<Proxy>>) -> Response {
    let body = status::status(&proxy).to_string();
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

async fn metrics(State(proxy): State<Arc<Proxy>>) -> Response {
    proxy.sample_metrics();
    let body = proxy.metrics.render();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        body,
    )
        .into_response()
}

async fn healthz(State(proxy): State<Arc<Proxy>>) -> Response {
    if proxy.shutting_down() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response();
    }
    (StatusCode::OK, "ok\n").into_response()
}

/// Ready when every configured database's server answers a protocol probe.
async fn readyz(State(proxy): State<Arc<Proxy>>) -> Response {
    if proxy.shutting_down() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response();
    }
    let config = proxy.config();
    let mut dbs: Vec<_> = config.databases.values().collect();
    dbs.sort_by(|a, b| a.name.cmp(&b.name));
    let mut set = tokio::task::JoinSet::new();
    for (i, d) in dbs.iter().enumerate() {
        let (host, port) = (d.host.clone(), d.port);
        set.spawn(async move { (i, probe(&host, port).await) });
    }
    let mut results: Vec<Result<(), String>> = dbs.iter().map(|_| Err("not probed".to_owned())).collect();
    while let Some(joined) = set.join_next().await {
        if let Ok((i, r)) = joined {
            results[i] = r;
        }
    }
    let mut body = String::new();
    let mut ready = true;
    for (d, r) in dbs.iter().zip(results) {
        match r {
            Ok(()) => body.push_str(&format!("{}: ok\n", d.name)),
            Err(e) => {
                ready = false;
                body.push_str(&format!("{}: {}:{} unreachable: {e}\n", d.name, d.host, d.port));
            }
        }
    }
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, body).into_response()
}

/// Asks the server whether it speaks SSL: any PostgreSQL answers `S` or `N`
/// at once, without a login, so this proves it is up and accepting
/// connections without opening a backend.
async fn probe(host: &str, port: u16) -> Result<(), String> {
    let attempt = async {
        let mut s = tokio::net::TcpStream::connect((host, port))
            .await
            .map_err(|e| e.to_string())?;
        let mut req = Vec::with_capacity(8);
        req.extend_from_slice(&8u32.to_be_bytes());
        req.extend_from_slice(&crate::protocol::SSL_REQUEST_CODE.to_be_bytes());
        s.write_all(&req).await.map_err(|e| e.to_string())?;
        let mut answer = [0u8; 1];
        s.read_exact(&mut answer).await.map_err(|e| e.to_string())?;
        match answer[0] {
            b'S' | b'N' => Ok(()),
            other => Err(format!("unexpected answer {other} to an SSL request")),
        }
    };
    match tokio::time::timeout(PROBE_TIMEOUT, attempt).await {
        Ok(r) => r,
        Err(_) => Err(format!("no answer within {PROBE_TIMEOUT:?}")),
    }
}
