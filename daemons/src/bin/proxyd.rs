//! `proxyd`: the frontend IMAP proxy. As in Cyrus 3 (where it is a link to `imapd`), it is the
//! same code as `imapd`, which proxies when `mupdate_server` is set and `proxyservers` is not.
//! `-s` serves implicit TLS (imaps).

use std::process::ExitCode;

use clap::Parser;
use daemons::cli::{bind, init_logging, shutdown_on_signals, DaemonArgs};

#[derive(Parser)]
#[command(name = "proxyd", about = "IMAP frontend proxy")]
struct Args {
    /// Implicit TLS from the first byte (imaps).
    #[arg(short = 's')]
    ssl: bool,
    #[command(flatten)]
    daemon: DaemonArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    init_logging(args.daemon.debug);
    let path = daemons::conf::conf_path(args.daemon.config.as_deref());
    let conf = match daemons::conf::load(&path, Some("imap")) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("proxyd: {e}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match bind(&args.daemon, if args.ssl { 993 } else { 143 }).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("proxyd: {e}");
            return ExitCode::FAILURE;
        }
    };
    match daemons::imapd::run(conf, args.ssl, listener, shutdown_on_signals()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("proxyd: {e}");
            ExitCode::FAILURE
        }
    }
}
