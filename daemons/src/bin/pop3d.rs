//! `pop3d`: POP3 on the users' INBOXes in this host's mail store. `-s` serves implicit TLS
//! (pop3s).

use std::process::ExitCode;

use daemons::cli::{bind, init_logging, shutdown_on_signals, DaemonArgs};

#[derive(clap::Parser)]
#[command(
    about = "POP3 server; a frontend proxy when mupdate_server is set and proxyservers is not"
)]
struct Args {
    /// Implicit TLS from the first byte (pop3s).
    #[arg(short = 's')]
    ssl: bool,
    #[command(flatten)]
    daemon: DaemonArgs,
}

#[tokio::main]
pub async fn main() -> ExitCode {
    let (args, prog) = daemons::cli::parse_args::<Args>("pop3d");
    init_logging(args.daemon.debug);
    let path = daemons::conf::conf_path(args.daemon.config.as_deref());
    let service = std::env::var("CYRUS_SERVICE").unwrap_or_else(|_| "pop3".into());
    let conf = match daemons::conf::load(&path, Some(&service)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{prog}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match bind(&args.daemon, if args.ssl { 995 } else { 110 }).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{prog}: {e}");
            return ExitCode::FAILURE;
        }
    };
    match daemons::pop3d::run(conf, args.ssl, listener, shutdown_on_signals()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{prog}: {e}");
            ExitCode::FAILURE
        }
    }
}
