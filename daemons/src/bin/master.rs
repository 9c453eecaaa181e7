//! `master`: start and watch the murder's daemons as cyrus.conf says (Cyrus's `master`,
//! Debian's `cyrmaster`). See [`daemons::master`] for what it runs and how.
//!
//! ```text
//! master [-C imapd.conf] [-M cyrus.conf] [-p pidfile] [-d] [-D] [-l backlog]
//! ```
//!
//! SIGTERM or SIGINT stops every child and exits 0; SIGHUP rereads both files.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use daemons::master::{run, Options};
use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(
    name = "master",
    about = "Start and watch the murder's daemons as cyrus.conf says"
)]
struct Args {
    /// imapd.conf, passed to every daemon.
    #[arg(short = 'C', default_value = daemons::conf::DEFAULT_IMAPD_CONF)]
    config: PathBuf,
    /// cyrus.conf.
    #[arg(short = 'M', default_value = "/etc/cyrus.conf")]
    cyrus_conf: PathBuf,
    /// Write the master's process id here (removed at exit).
    #[arg(short = 'p')]
    pid_file: Option<PathBuf>,
    /// Debug logging, and CYRUS_VERBOSE for the children. (Cyrus's -d puts the master in
    /// the background; ours always stays in the foreground.)
    #[arg(short = 'd')]
    debug: bool,
    /// Accepted for compatibility: the master never detaches from its stderr.
    #[arg(short = 'D')]
    keep_stderr: bool,
    /// Accepted for compatibility: the listen backlog (our daemons own their sockets).
    #[arg(short = 'l')]
    backlog: Option<u32>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let default = if args.debug { "debug" } else { "info" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("master: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("master: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: Args) -> Result<(), String> {
    let shutdown = CancellationToken::new();
    // Installed before anything starts, so a SIGTERM during START is not lost.
    for kind in [SignalKind::terminate(), SignalKind::interrupt()] {
        let mut sig = signal(kind).map_err(|e| format!("installing a signal handler: {e}"))?;
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            if sig.recv().await.is_some() {
                tracing::info!("signal received: shutting down");
                shutdown.cancel();
            }
        });
    }
    let mut options = Options::new(args.config, args.cyrus_conf);
    options.pid_file = args.pid_file;
    options.verbose = args.debug;
    let _ = (args.keep_stderr, args.backlog);
    run(options, shutdown).await.map_err(|e| e.to_string())
}
