//! Configuration: a TOML file, command-line overrides, and validation that
//! names the offending key and line.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

pub use crate::backend::pool::{PoolMode, PoolSettings};
use crate::catalog::{TableRule, Unmatched};

use crate::auth::Secret;

/// How a client proves who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
pub enum AuthMethod {
    /// SCRAM-SHA-256 (PostgreSQL's default since 14).
    #[default]
    #[serde(rename = "scram-sha-256")]
    ScramSha256,
    /// MD5 challenge/response (needs a plain-text or md5-hashed password).
    #[serde(rename = "md5")]
    Md5,
    /// No password.
    #[serde(rename = "trust")]
    Trust,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    log_level: Option<String>,
    max_client_connections: Option<usize>,
    max_message_size: Option<usize>,
    max_buffered_bytes: Option<usize>,
    shutdown_timeout_secs: Option<u64>,
    client_login_timeout_secs: Option<u64>,
    max_login_connections: Option<usize>,
    client_idle_timeout_secs: Option<u64>,
    idle_transaction_timeout_secs: Option<u64>,
    metrics_listen: Option<String>,
    metrics_child_labels: Option<bool>,
    admin_database: Option<String>,
    admin_users: Option<Vec<String>>,
    #[serde(default)]
    pool: PoolFile,
    #[serde(default)]
    routing: RoutingFile,
    #[serde(default)]
    databases: Vec<Spanned<DatabaseFile>>,
    #[serde(default)]
    users: Vec<Spanned<UserFile>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct PoolFile {
    mode: Option<PoolMode>,
    pool_size: Option<usize>,
    min_pool_size: Option<usize>,
    connect_timeout_ms: Option<u64>,
    idle_timeout_secs: Option<u64>,
    max_lifetime_secs: Option<u64>,
    wait_timeout_ms: Option<u64>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RoutingFile {
    enabled: Option<bool>,
    refresh_interval_secs: Option<u64>,
    #[serde(default)]
    tables: Vec<Spanned<TableFile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TableFile {
    parent: String,
    database: Option<String>,
    key: Option<String>,
    #[serde(default)]
    on_unmatched: Unmatched,
    parent_empty: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DatabaseFile {
    name: String,
    #[serde(default = "default_host")]
    host: String,
    #[serde(default = "default_port")]
    port: u16,
    dbname: Option<String>,
    user: Option<String>,
    password: Option<String>,
    pool_mode: Option<PoolMode>,
    pool_size: Option<usize>,
    min_pool_size: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserFile {
    name: String,
    password: Option<String>,
    #[serde(default)]
    auth: AuthMethod,
}

fn default_host() -> String {
    "127.0.0.1".into()
}

fn default_port() -> u16 {
    5432
}

/// A database clients may connect to.
#[derive(Debug, Clone)]
pub struct Database {
    /// Name clients use in their connection string.
    pub name: String,
    /// PostgreSQL host.
    pub host: String,
    /// PostgreSQL port.
    pub port: u16,
    /// Database name on the server.
    pub dbname: String,
    /// User the proxy logs in as; `None` means the client's own user.
    pub user: Option<String>,
    /// Password for `user`.
    pub password: Option<String>,
    /// Pool settings after defaults and overrides.
    pub pool: PoolSettings,
}

/// A user that may log in to the proxy.
#[derive(Debug, Clone)]
pub struct User {
    /// Role name.
    pub name: String,
    /// How the user authenticates.
    pub auth: AuthMethod,
    /// Stored secret (absent only for `trust`).
    pub secret: Option<Secret>,
    /// The plain-text password when given, used for backend logins.
    pub plain_password: Option<String>,
}

/// Partition routing settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routing {
    /// Route statements on partitioned parents (needs a database `user` for the
    /// catalog connection).
    pub enabled: bool,
    /// How often the catalog is re-read (it is also re-read after DDL).
    pub refresh_interval: Duration,
    /// Explicit rules per parent, with the database they are limited to.
    pub tables: Vec<(Option<String>, TableRule)>,
}

impl Routing {
    /// The rules that apply to the database with this client-facing name.
    pub fn rules_for(&self, database: &str) -> Vec<TableRule> {
        self.tables
            .iter()
            .filter(|(db, _)| db.as_deref().is_none_or(|d| d == database))
            .map(|(_, r)| r.clone())
            .collect()
    }
}

/// The validated, resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listen address for clients.
    pub listen: String,
    /// Log filter when `RUST_LOG` is unset.
    pub log_level: String,
    /// Most client connections at once.
    pub max_client_connections: usize,
    /// Largest protocol message accepted from a peer.
    pub max_message_size: usize,
    /// Bytes of client messages held whole at once, over all clients.
    pub max_buffered_bytes: usize,
    /// How long running transactions may take to finish on shutdown.
    pub shutdown_timeout: Duration,
    /// A connection that has not logged in by then is closed.
    pub client_login_timeout: Duration,
    /// Connections still logging in, at most (apart from logged-in clients).
    pub max_login_connections: usize,
    /// A logged-in client idle outside a transaction this long is closed
    /// (`None`: never).
    pub client_idle_timeout: Option<Duration>,
    /// A client idle inside a transaction this long (holding a server) is
    /// closed (`None`: never).
    pub idle_transaction_timeout: Option<Duration>,
    /// Databases by client-facing name.
    pub databases: HashMap<String, Database>,
    /// Users by name.
    pub users: HashMap<String, User>,
    /// Partition routing.
    pub routing: Routing,
    /// Address of the HTTP endpoint for /metrics, the status page and health
    /// checks; `None` turns it off.
    pub metrics_listen: Option<String>,
    /// Export child tables as metric labels.
    pub metrics_child_labels: bool,
    /// Name of the admin console's virtual database.
    pub admin_database: String,
    /// Users allowed into the admin console.
    pub admin_users: Vec<String>,
}

/// The default address of the metrics endpoint.
pub const DEFAULT_METRICS_LISTEN: &str = "127.0.0.1:9930";

/// Command-line settings that override the file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--listen`.
    pub listen: Option<String>,
    /// `--upstream postgres://user:pass@host:port/db`.
    pub upstream: Option<String>,
    /// `--pool-mode`.
    pub pool_mode: Option<PoolMode>,
    /// `--pool-size`.
    pub pool_size: Option<usize>,
    /// `--log-level`.
    pub log_level: Option<String>,
    /// `--metrics-listen` (empty turns the endpoint off).
    pub metrics_listen: Option<String>,
    /// `--client-login-timeout` in seconds.
    pub client_login_timeout_secs: Option<u64>,
}

/// A configuration problem, located where possible.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

fn located(text: &str, span: std::ops::Range<usize>, key: &str, msg: impl std::fmt::Display) -> ConfigError {
    ConfigError(format!(
        "configuration error at line {}: key `{key}`: {msg}",
        line_of(text, span.start)
    ))
}

impl Config {
    /// Parses and validates a configuration file's text, then applies overrides.
    pub fn from_toml(text: &str, overrides: &Overrides) -> Result<Config, ConfigError> {
        let file: FileConfig = toml::from_str(text).map_err(|e| ConfigError(format!("configuration error: {e}")))?;
        Self::build(text, file, overrides)
    }

    /// Builds a configuration from overrides alone (the `--upstream` quick start).
    pub fn from_overrides(overrides: &Overrides) -> Result<Config, ConfigError> {
        Self::build("", FileConfig::default(), overrides)
    }

    fn build(text: &str, file: FileConfig, ov: &Overrides) -> Result<Config, ConfigError> {
        let defaults = PoolSettings::default();
        let p = &file.pool;
        let mut pool = PoolSettings {
            mode: p.mode.unwrap_or(defaults.mode),
            pool_size: p.pool_size.unwrap_or(defaults.pool_size),
            min_pool_size: p.min_pool_size.unwrap_or(defaults.min_pool_size),
            connect_timeout: p
                .connect_timeout_ms
                .map(Duration::from_millis)
                .unwrap_or(defaults.connect_timeout),
            idle_timeout: p
                .idle_timeout_secs
                .map(Duration::from_secs)
                .unwrap_or(defaults.idle_timeout),
            max_lifetime: p
                .max_lifetime_secs
                .map(Duration::from_secs)
                .unwrap_or(defaults.max_lifetime),
            wait_timeout: p
                .wait_timeout_ms
                .map(Duration::from_millis)
                .unwrap_or(defaults.wait_timeout),
        };
        if let Some(mode) = ov.pool_mode {
            pool.mode = mode;
        }
        if let Some(size) = ov.pool_size {
            pool.pool_size = size;
        }

        let mut databases = HashMap::new();
        for db in &file.databases {
            let span = db.span();
            let d = db.get_ref();
            let mut settings = pool.clone();
            if ov.pool_mode.is_none() {
                if let Some(mode) = d.pool_mode {
                    settings.mode = mode;
                }
            }
            if ov.pool_size.is_none() {
                if let Some(size) = d.pool_size {
                    settings.pool_size = size;
                }
            }
            if let Some(min) = d.min_pool_size {
                settings.min_pool_size = min;
            }
            if d.name.is_empty() {
                return Err(located(text, span, "databases.name", "must not be empty"));
            }
            validate_pool(&settings)
                .map_err(|(key, msg)| located(text, span.clone(), &format!("databases.{key}"), msg))?;
            if d.password.is_some() && d.user.is_none() {
                return Err(located(text, span, "databases.password", "is set but `user` is not"));
            }
            let database = Database {
                name: d.name.clone(),
                host: d.host.clone(),
                port: d.port,
                dbname: d.dbname.clone().unwrap_or_else(|| d.name.clone()),
                user: d.user.clone(),
                password: d.password.clone(),
                pool: settings,
            };
            if databases.insert(d.name.clone(), database).is_some() {
                return Err(located(
                    text,
                    db.span(),
                    "databases.name",
                    format!("database \"{}\" is declared twice", d.name),
                ));
            }
        }

        let mut users = HashMap::new();
        for u in &file.users {
            let span = u.span();
            let uf = u.get_ref();
            let user = make_user(&uf.name, uf.auth, uf.password.as_deref())
                .map_err(|(key, msg)| located(text, span.clone(), &format!("users.{key}"), msg))?;
            if users.insert(uf.name.clone(), user).is_some() {
                return Err(located(
                    text,
                    span,
                    "users.name",
                    format!("user \"{}\" is declared twice", uf.name),
                ));
            }
        }

        if let Some(url) = &ov.upstream {
            let (db, user) = upstream(url, &pool)?;
            users.insert(user.name.clone(), user);
            databases.insert(db.name.clone(), db);
        }
        if databases.is_empty() {
            return Err(ConfigError(
                "configuration error: no databases: declare [[databases]] in the file or pass --upstream".into(),
            ));
        }
        for db in databases.values() {
            if db.user.is_none() && db.pool.min_pool_size > 0 {
                return Err(ConfigError(format!(
                    "configuration error: database \"{}\": min_pool_size needs a fixed `user` to log in with",
                    db.name
                )));
            }
        }

        let mut tables = Vec::new();
        for t in &file.routing.tables {
            let span = t.span();
            let tf = t.get_ref();
            let Some(parent) = TableRule::parse_parent(&tf.parent) else {
                return Err(located(
                    text,
                    span,
                    "routing.tables.parent",
                    "expected `table` or `schema.table`",
                ));
            };
            if let Some(db) = &tf.database {
                if !databases.contains_key(db) {
                    return Err(located(
                        text,
                        span,
                        "routing.tables.database",
                        format!("no database \"{db}\" is declared"),
                    ));
                }
            }
            tables.push((
                tf.database.clone(),
                TableRule {
                    parent,
                    key: tf.key.clone(),
                    on_unmatched: tf.on_unmatched,
                    parent_empty: tf.parent_empty,
                },
            ));
        }

        let admin_database = file.admin_database.unwrap_or_else(|| "partproxy".into());
        if databases.contains_key(&admin_database) {
            return Err(ConfigError(format!(
                "configuration error: key `admin_database`: \"{admin_database}\" is also a configured database"
            )));
        }
        let mut admin_users = file.admin_users.unwrap_or_default();
        if let Some(url) = &ov.upstream {
            // The quick start's one user owns the proxy.
            if let Some(u) = tokio_postgres::Config::from_str(url)
                .ok()
                .and_then(|c| c.get_user().map(str::to_owned))
            {
                if !admin_users.contains(&u) {
                    admin_users.push(u);
                }
            }
        }
        for name in &admin_users {
            if !users.contains_key(name) {
                return Err(ConfigError(format!(
                    "configuration error: key `admin_users`: no user \"{name}\" is declared"
                )));
            }
        }
        let metrics_listen = ov
            .metrics_listen
            .clone()
            .or(file.metrics_listen)
            .unwrap_or_else(|| DEFAULT_METRICS_LISTEN.into());
        let listen = ov
            .listen
            .clone()
            .or(file.listen)
            .unwrap_or_else(|| "127.0.0.1:6432".into());
        Ok(Config {
            listen,
            log_level: ov.log_level.clone().or(file.log_level).unwrap_or_else(|| "info".into()),
            max_client_connections: file.max_client_connections.unwrap_or(10_000),
            max_message_size: file.max_message_size.unwrap_or(256 << 20),
            max_buffered_bytes: file.max_buffered_bytes.unwrap_or(512 << 20),
            shutdown_timeout: Duration::from_secs(file.shutdown_timeout_secs.unwrap_or(30)),
            client_login_timeout: Duration::from_secs(
                ov.client_login_timeout_secs
                    .or(file.client_login_timeout_secs)
                    .unwrap_or(60)
                    .max(1),
            ),
            max_login_connections: file.max_login_connections.unwrap_or(5_000).max(1),
            client_idle_timeout: file
                .client_idle_timeout_secs
                .filter(|s| *s > 0)
                .map(Duration::from_secs),
            idle_transaction_timeout: file
                .idle_transaction_timeout_secs
                .filter(|s| *s > 0)
                .map(Duration::from_secs),
            databases,
            users,
            routing: Routing {
                enabled: file.routing.enabled.unwrap_or(true),
                refresh_interval: Duration::from_secs(file.routing.refresh_interval_secs.unwrap_or(60).max(1)),
                tables,
            },
            metrics_listen: (!metrics_listen.is_empty()).then_some(metrics_listen),
            metrics_child_labels: file.metrics_child_labels.unwrap_or(false),
            admin_database,
            admin_users,
        })
    }
}

fn validate_pool(p: &PoolSettings) -> Result<(), (&'static str, String)> {
    if p.pool_size == 0 {
        return Err(("pool_size", "must be at least 1".into()));
    }
    if p.min_pool_size > p.pool_size {
        return Err((
            "min_pool_size",
            format!("({}) exceeds pool_size ({})", p.min_pool_size, p.pool_size),
        ));
    }
    Ok(())
}

fn make_user(name: &str, auth: AuthMethod, password: Option<&str>) -> Result<User, (&'static str, String)> {
    if name.is_empty() {
        return Err(("name", "must not be empty".into()));
    }
    let secret = match (auth, password) {
        (AuthMethod::Trust, _) => None,
        (_, None) => {
            return Err((
                "password",
                format!("is required for user \"{name}\" unless auth = \"trust\""),
            ))
        }
        (AuthMethod::ScramSha256, Some(pw)) => Some(Secret::for_scram(pw).map_err(|e| ("password", e))?),
        (AuthMethod::Md5, Some(pw)) => Some(Secret::for_md5(name, pw).map_err(|e| ("password", e))?),
    };
    let plain_password = password.filter(|p| !crate::auth::is_hashed(p)).map(str::to_owned);
    Ok(User {
        name: name.to_owned(),
        auth,
        secret,
        plain_password,
    })
}

fn upstream(url: &str, pool: &PoolSettings) -> Result<(Database, User), ConfigError> {
    let bad = |msg: &str| {
        ConfigError(format!(
            "--upstream: {msg} (expected postgres://USER:PASSWORD@HOST:PORT/DB)"
        ))
    };
    let pg = tokio_postgres::Config::from_str(url).map_err(|e| bad(&e.to_string()))?;
    let user = pg.get_user().ok_or_else(|| bad("no user"))?.to_owned();
    let password = pg
        .get_password()
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .ok_or_else(|| bad("no password"))?;
    let host = match pg.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        Some(_) => return Err(bad("only TCP hosts are supported")),
        None => "127.0.0.1".into(),
    };
    let port = pg.get_ports().first().copied().unwrap_or(5432);
    let dbname = pg.get_dbname().unwrap_or(&user).to_owned();
    validate_pool(pool).map_err(|(k, m)| bad(&format!("{k} {m}")))?;
    let db = Database {
        name: dbname.clone(),
        host,
        port,
        dbname,
        user: Some(user.clone()),
        password: Some(password.clone()),
        pool: pool.clone(),
    };
    let u = make_user(&user, AuthMethod::ScramSha256, Some(&password)).map_err(|(_, m)| bad(&m))?;
    Ok((db, u))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_full_file() {
        let text = r#"
listen = "0.0.0.0:7000"
[pool]
mode = "transaction"
pool_size = 5
[[databases]]
name = "app"
port = 5433
user = "u"
password = "p"
[[users]]
name = "alice"
password = "secret"
auth = "md5"
"#;
        let c = Config::from_toml(text, &Overrides::default()).unwrap();
        assert_eq!(c.listen, "0.0.0.0:7000");
        let db = &c.databases["app"];
        assert_eq!((db.port, db.dbname.as_str(), db.pool.pool_size), (5433, "app", 5));
        assert_eq!(db.pool.mode, PoolMode::Transaction);
        assert_eq!(c.users["alice"].auth, AuthMethod::Md5);
    }

    #[test]
    fn errors_name_key_and_line() {
        let text = "[pool]\npool_size = 2\n\n[[databases]]\nname = \"x\"\nmin_pool_size = 5\nuser = \"u\"\n";
        let e = Config::from_toml(text, &Overrides::default()).unwrap_err().to_string();
        assert!(e.contains("line 4") && e.contains("databases.min_pool_size"), "{e}");
        let e = Config::from_toml("[pool]\nmode = \"weird\"\n", &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2") && e.contains("mode"), "{e}");
        let e = Config::from_toml("[[databases]]\nname = \"a\"\nprot = 1\n", &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 3") && e.contains("prot"), "{e}");
    }

    #[test]
    fn routing_table_rules() {
        let text = "[[databases]]\nname = \"a\"\n\n[[databases]]\nname = \"b\"\n\n\
                    [[routing.tables]]\nparent = \"Sales.\\\"Odd\\\"\"\ndatabase = \"a\"\nkey = \"day\"\n\
                    on_unmatched = \"parent\"\nparent_empty = true\n\n[[routing.tables]]\nparent = \"logs\"\n";
        let c = Config::from_toml(text, &Overrides::default()).unwrap();
        let a = c.routing.rules_for("a");
        assert_eq!(a.len(), 2);
        assert_eq!(
            (a[0].parent.schema.as_str(), a[0].parent.name.as_str()),
            ("sales", "Odd")
        );
        assert_eq!(a[0].key.as_deref(), Some("day"));
        assert_eq!(a[0].on_unmatched, Unmatched::Parent);
        assert_eq!(a[0].parent_empty, Some(true));
        assert_eq!(a[1].on_unmatched, Unmatched::Forward);
        assert_eq!(c.routing.rules_for("b").len(), 1);
        let bad = "[[databases]]\nname = \"a\"\n[[routing.tables]]\nparent = \"logs\"\ndatabase = \"zz\"\n";
        let e = Config::from_toml(bad, &Overrides::default()).unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("routing.tables.database"), "{e}");
        let bad = "[[databases]]\nname = \"a\"\n[[routing.tables]]\nparent = \"logs\"\non_unmatched = \"create\"\n";
        assert!(Config::from_toml(bad, &Overrides::default()).is_err());
        // The example file parses.
        let example = include_str!("../config/partproxy.example.toml");
        assert!(Config::from_toml(example, &Overrides::default()).is_ok());
    }

    #[test]
    fn flags_win_over_the_file() {
        let text = "[pool]\nmode = \"session\"\n[[databases]]\nname = \"a\"\n";
        let ov = Overrides {
            pool_mode: Some(PoolMode::Transaction),
            upstream: Some("postgres://bob:pw@db.example:6543/shop".into()),
            ..Default::default()
        };
        let c = Config::from_toml(text, &ov).unwrap();
        assert_eq!(c.databases["a"].pool.mode, PoolMode::Transaction);
        let shop = &c.databases["shop"];
        assert_eq!(
            (shop.host.as_str(), shop.port, shop.user.as_deref()),
            ("db.example", 6543, Some("bob"))
        );
        assert_eq!(c.users["bob"].auth, AuthMethod::ScramSha256);
    }
}
