//! `timsieved`: ManageSieve (RFC 5804) on this host's sieve scripts; on a frontend it refers
//! clients to (or relays them to) the backend holding the user's INBOX.

use std::process::ExitCode;

use daemons::cli::{bind, init_logging, shutdown_on_signals, DaemonArgs};

#[derive(clap::Parser)]
#[command(about = "ManageSieve server; refers or proxies to the backends on a murder frontend")]
struct Args {
    #[command(flatten)]
    daemon: DaemonArgs,
}

#[tokio::main]
pub async fn main() -> ExitCode {
    let (args, prog) = daemons::cli::parse_args::<Args>("timsieved");
    init_logging(args.daemon.debug);
    let path = daemons::conf::conf_path(args.daemon.config.as_deref());
    let service = std::env::var("CYRUS_SERVICE").unwrap_or_else(|_| "sieve".into());
    let conf = match daemons::conf::load(&path, Some(&service)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{prog}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match bind(&args.daemon, 4190).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{prog}: {e}");
            return ExitCode::FAILURE;
        }
    };
    match daemons::timsieved::run(conf, listener, shutdown_on_signals()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{prog}: {e}");
            ExitCode::FAILURE
        }
    }
}
