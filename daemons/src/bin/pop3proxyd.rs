//! `pop3proxyd`: the POP3 frontend proxy. As in Cyrus 3 (where it is a link to `pop3d`), it is the same code
//! as `pop3d`, which proxies when `mupdate_server` is set and `proxyservers` is not.

use std::process::ExitCode;

use clap::Parser;
use daemons::cli::{bind, init_logging, shutdown_on_signals, DaemonArgs};

#[derive(Parser)]
#[command(name = "pop3proxyd", about = "POP3 frontend proxy")]
struct Args {
    /// Implicit TLS from the first byte (pop3s).
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
    let service = std::env::var("CYRUS_SERVICE").unwrap_or_else(|_| "pop3".into());
    let conf = match daemons::conf::load(&path, Some(&service)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("pop3proxyd: {e}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match bind(&args.daemon, if args.ssl { 995 } else { 110 }).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("pop3proxyd: {e}");
            return ExitCode::FAILURE;
        }
    };
    match daemons::pop3d::run(conf, args.ssl, listener, shutdown_on_signals()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pop3proxyd: {e}");
            ExitCode::FAILURE
        }
    }
}
