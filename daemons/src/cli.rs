//! What every daemon's `main` shares: the common flags, logging, signals and the listener.
//!
//! Every daemon starts two ways: from `master` (which passes `-C`, `--listen` and sets
//! `CYRUS_SERVICE`), or standalone as `DAEMON -C imapd.conf --listen HOST:PORT`.

use std::net::SocketAddr;
use std::path::PathBuf;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Flags common to every daemon.
#[derive(Debug, Clone, clap::Args)]
pub struct DaemonArgs {
    /// imapd.conf to read (default /etc/imapd.conf).
    #[arg(short = 'C', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on: HOST:PORT or PORT.
    #[arg(long, value_name = "HOST:PORT")]
    pub listen: Option<String>,
    /// UNIX socket to listen on instead (LMTP's local socket).
    #[arg(long, value_name = "PATH")]
    pub listen_unix: Option<PathBuf>,
    /// Most connections served at once (cyrus.conf's maxchild).
    #[arg(long, value_name = "N")]
    pub max_connections: Option<usize>,
    /// Print the bound address on stdout once listening (for tests and scripts using port 0).
    #[arg(long)]
    pub print_address: bool,
    /// Debug logging (also CYRUS_VERBOSE).
    #[arg(short = 'D')]
    pub debug: bool,
}

/// The name this program was started as (`proxyd` and `imapd` are one program, as in Cyrus 3
/// where the proxy names are links), for messages and usage; `default` when unknown.
pub fn program_name(default: &str) -> String {
    std::env::args_os()
        .next()
        .and_then(|a| {
            std::path::Path::new(&a)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| default.to_owned())
}

/// Parses a daemon's arguments, with usage naming the program as it was started.
pub fn parse_args<A: clap::Parser>(default: &str) -> (A, String) {
    let prog = program_name(default);
    let matches = <A as clap::CommandFactory>::command()
        .bin_name(prog.clone())
        .get_matches();
    match <A as clap::FromArgMatches>::from_arg_matches(&matches) {
        Ok(a) => (a, prog),
        Err(e) => e.exit(),
    }
}

/// Sets up logging to stderr (`RUST_LOG` overrides the level).
pub fn init_logging(debug: bool) {
    let default = if debug || std::env::var_os("CYRUS_VERBOSE").is_some() {
        "debug"
    } else {
        "info"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}

/// Binds the listener (`default_port` when `--listen` is absent).
pub async fn bind(args: &DaemonArgs, default_port: u16) -> Result<TcpListener, String> {
    let addr: SocketAddr = match &args.listen {
        Some(l) => crate::net::parse_listen(l)?,
        None => SocketAddr::from(([0, 0, 0, 0], default_port)),
    };
    let l = TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    if args.print_address {
        if let Ok(a) = l.local_addr() {
            println!("{a}");
            use std::io::Write;
            let _ = std::io::stdout().flush();
        }
    }
    Ok(l)
}

/// A token cancelled on SIGTERM or SIGINT.
pub fn shutdown_on_signals() -> CancellationToken {
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let (Ok(mut term), Ok(mut int)) = (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            ) else {
                return;
            };
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        t.cancel();
    });
    token
}
