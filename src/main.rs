//! Command-line entry point.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use partproxy::config::{Config, Overrides, PoolMode};
use partproxy::proxy::{ConfigSource, Proxy};
use tracing_subscriber::EnvFilter;

/// A PostgreSQL wire-protocol proxy with connection pooling.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    /// TOML configuration file (see config/partproxy.example.toml).
    #[arg(long, short = 'c', env = "PARTPROXY_CONFIG")]
    config: Option<PathBuf>,
    /// Address to accept clients on, e.g. 127.0.0.1:6432 (overrides `listen`).
    #[arg(long)]
    listen: Option<String>,
    /// Serve one database without a config file:
    /// postgres://USER:PASSWORD@HOST:PORT/DB. Clients log in as USER with PASSWORD.
    #[arg(long)]
    upstream: Option<String>,
    /// Pool mode for every database (overrides the file).
    #[arg(long, value_enum)]
    pool_mode: Option<PoolMode>,
    /// Server connections per pool (overrides the file).
    #[arg(long)]
    pool_size: Option<usize>,
    /// Log filter, e.g. info or partproxy=debug (RUST_LOG wins when set).
    #[arg(long)]
    log_level: Option<String>,
    /// Address of /metrics, the status page and health checks, e.g.
    /// 127.0.0.1:9930 (overrides `metrics_listen`; "" turns it off).
    #[arg(long)]
    metrics_listen: Option<String>,
    /// Seconds a connection may take to log in before it is closed
    /// (overrides `client_login_timeout_secs`).
    #[arg(long)]
    client_login_timeout: Option<u64>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the proxy (the default).
    Serve,
    /// Validate the configuration and exit.
    Check,
    /// Print the routing decision for one statement against the live catalog
    /// of a configured database, without executing it.
    Explain {
        /// The statement.
        sql: String,
        /// The database (client-facing name); needed when several are configured.
        #[arg(long, short = 'd')]
        database: Option<String>,
        /// The session's search_path for unqualified names.
        #[arg(long, default_value = "\"$user\", public")]
        search_path: String,
        /// The session's TimeZone for timestamp literals without an offset.
        #[arg(long, default_value = "UTC")]
        timezone: String,
    },
    /// Install the DDL hook (event triggers that notify the proxy of DDL, so
    /// its catalog is reloaded within milliseconds) in the configured
    /// databases; needs a superuser login.
    InstallDdlHook {
        /// Only this database (client-facing name); default: every database
        /// with a fixed `user`.
        #[arg(long, short = 'd')]
        database: Option<String>,
        /// Print the SQL instead of running it.
        #[arg(long)]
        print: bool,
        /// Remove the hook instead.
        #[arg(long)]
        uninstall: bool,
    },
    /// Start a throwaway PostgreSQL with a legacy partitioned schema, put the
    /// proxy in front of it, run a short workload both ways and print what was
    /// routed where and how fast; then keep serving until Ctrl-C.
    Demo(partproxy::demo::DemoOptions),
}

fn overrides(cli: &Cli) -> Overrides {
    Overrides {
        listen: cli.listen.clone(),
        upstream: cli.upstream.clone(),
        pool_mode: cli.pool_mode,
        pool_size: cli.pool_size,
        log_level: cli.log_level.clone(),
        metrics_listen: cli.metrics_listen.clone(),
        client_login_timeout_secs: cli.client_login_timeout,
    }
}

fn load(cli: &Cli) -> Result<Config, String> {
    let overrides = overrides(cli);
    match &cli.config {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            Config::from_toml(&text, &overrides).map_err(|e| format!("{}: {e}", path.display()))
        }
        None => Config::from_overrides(&overrides).map_err(|e| e.to_string()),
    }
}

fn runtime() -> Option<tokio::runtime::Runtime> {
    // Routing walks statement trees recursively; their depth is bounded
    // (see the router's complexity limit), and a roomier stack than
    // tokio's 2 MiB default keeps the bound far from the edge in every build.
    match tokio::runtime::Builder::new_multi_thread()
        .thread_stack_size(8 << 20)
        .enable_all()
        .build()
    {
        Ok(r) => Some(r),
        Err(e) => {
            eprintln!("partproxy: cannot start runtime: {e}");
            None
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Demo(opts)) = &cli.command {
        let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
        tracing_subscriber::fmt().with_env_filter(filter).init();
        let Some(rt) = runtime() else {
            return ExitCode::FAILURE;
        };
        return match rt.block_on(partproxy::demo::run(opts.clone())) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("partproxy demo: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let config = match load(&cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("partproxy: {e}");
            return ExitCode::from(2);
        }
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&config.log_level));
    tracing_subscriber::fmt().with_env_filter(filter).init();
    if matches!(cli.command, Some(Command::Check)) {
        println!(
            "configuration OK: {} database(s), {} user(s)",
            config.databases.len(),
            config.users.len()
        );
        return ExitCode::SUCCESS;
    }
    let Some(rt) = runtime() else {
        return ExitCode::FAILURE;
    };
    if let Some(Command::Explain {
        sql,
        database,
        search_path,
        timezone,
    }) = &cli.command
    {
        let explained = rt.block_on(partproxy::app::explain_offline(
            &config,
            database.as_deref(),
            sql,
            search_path,
            timezone,
        ));
        return match explained {
            Ok(rows) => {
                for r in rows {
                    if let Some(parent) = &r.parent {
                        println!("parent:   {parent}");
                    }
                    if let Some(children) = &r.children {
                        println!("tables:   {children}");
                    }
                    println!("decision: {}", r.decision);
                    println!("sql:      {}\n", r.sql);
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("partproxy explain: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if let Some(Command::InstallDdlHook {
        database,
        print,
        uninstall,
    }) = &cli.command
    {
        if *print {
            let sql = match uninstall {
                true => partproxy::catalog::hook::uninstall_sql(),
                false => partproxy::catalog::hook::install_sql(),
            };
            print!("{sql}");
            return ExitCode::SUCCESS;
        }
        return match rt.block_on(partproxy::app::install_ddl_hook(
            &config,
            database.as_deref(),
            *uninstall,
        )) {
            Ok(lines) => {
                for l in lines {
                    println!("{l}");
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("partproxy install-ddl-hook: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let source = cli.config.clone().map(|path| ConfigSource {
        path,
        overrides: overrides(&cli),
    });
    rt.block_on(serve(config, source))
}

async fn serve(config: Config, source: Option<ConfigSource>) -> ExitCode {
    partproxy::app::raise_open_file_limit();
    // Metrics first: once clients can connect, the metrics answer too.
    let metrics_listener = match &config.metrics_listen {
        Some(addr) => match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => Some(l),
            Err(e) => {
                eprintln!("partproxy: cannot listen on {addr} (metrics_listen): {e}");
                return ExitCode::FAILURE;
            }
        },
        None => None,
    };
    let listener = match tokio::net::TcpListener::bind(&config.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("partproxy: cannot listen on {}: {e}", config.listen);
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(
        listen = %config.listen,
        metrics = config.metrics_listen.as_deref().unwrap_or("off"),
        databases = config.databases.len(),
        "partproxy ready"
    );
    let proxy = Proxy::new(config, source);
    let signals = {
        let proxy = proxy.clone();
        async move {
            let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(error = %e, "cannot install SIGTERM handler");
                    return;
                }
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            tracing::info!("signal received: graceful shutdown");
            proxy.begin_shutdown();
        }
    };
    tokio::spawn(signals);
    partproxy::app::serve(proxy, listener, metrics_listener).await;
    ExitCode::SUCCESS
}
