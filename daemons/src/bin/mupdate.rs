//! `mupdate`: the MUPDATE master (`-m`) or a slave following `mupdate_server`.

use std::process::ExitCode;

use clap::Parser;
use daemons::cli::{bind, init_logging, shutdown_on_signals, DaemonArgs};

#[derive(Parser)]
#[command(name = "mupdate", about = "MUPDATE master (-m) or slave")]
struct Args {
    /// Run as the murder's master.
    #[arg(short = 'm')]
    master: bool,
    #[command(flatten)]
    daemon: DaemonArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    init_logging(args.daemon.debug);
    let path = daemons::conf::conf_path(args.daemon.config.as_deref());
    let conf = match daemons::conf::load(&path, Some("mupdate")) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mupdate: {e}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match bind(&args.daemon, protocol::mupdate::PORT).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("mupdate: {e}");
            return ExitCode::FAILURE;
        }
    };
    let shutdown = shutdown_on_signals();
    match daemons::mupdate::run(
        &conf,
        args.master,
        listener,
        args.daemon.max_connections,
        shutdown,
    )
    .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mupdate: {e}");
            ExitCode::FAILURE
        }
    }
}
