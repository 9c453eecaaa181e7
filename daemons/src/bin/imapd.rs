//! `imapd`: the IMAP server (a backend, or a frontend's proxy when `mupdate_server` is set and
//! `proxyservers` is not). `-s` serves implicit TLS (imaps).

use std::process::ExitCode;

use daemons::cli::{bind, init_logging, shutdown_on_signals, DaemonArgs};

#[derive(clap::Parser)]
#[command(
    about = "IMAP server; a frontend proxy when mupdate_server is set and proxyservers is not"
)]
struct Args {
    /// Implicit TLS from the first byte (imaps).
    #[arg(short = 's')]
    ssl: bool,
    #[command(flatten)]
    daemon: DaemonArgs,
}

#[tokio::main]
pub async fn main() -> ExitCode {
    let (args, prog) = daemons::cli::parse_args::<Args>("imapd");
    init_logging(args.daemon.debug);
    let path = daemons::conf::conf_path(args.daemon.config.as_deref());
    let conf = match daemons::conf::load(&path, Some("imap")) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{prog}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match bind(&args.daemon, if args.ssl { 993 } else { 143 }).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{prog}: {e}");
            return ExitCode::FAILURE;
        }
    };
    match daemons::imapd::run(conf, args.ssl, listener, shutdown_on_signals()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{prog}: {e}");
            ExitCode::FAILURE
        }
    }
}
