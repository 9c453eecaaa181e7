//! `lmtpd`: local delivery over LMTP into this host's mail store. `--listen` serves TCP (AUTH
//! required unless `-a`), `--listen-unix` the pre-authenticated local socket; both may be given.

use std::process::ExitCode;

use daemons::cli::{bind, init_logging, shutdown_on_signals, DaemonArgs};

#[derive(clap::Parser)]
#[command(
    about = "LMTP delivery server; a frontend proxy when mupdate_server is set and proxyservers is not"
)]
struct Args {
    /// Pre-authorise TCP connections too (Cyrus's `lmtpd -a`): no AUTH needed.
    #[arg(short = 'a')]
    preauth: bool,
    #[command(flatten)]
    daemon: DaemonArgs,
}

#[tokio::main]
pub async fn main() -> ExitCode {
    let (args, prog) = daemons::cli::parse_args::<Args>("lmtpd");
    init_logging(args.daemon.debug);
    let fail = |e: String| {
        eprintln!("{prog}: {e}");
        ExitCode::FAILURE
    };
    let path = daemons::conf::conf_path(args.daemon.config.as_deref());
    // `<service>_` overrides: the cyrus.conf entry master exports, else `lmtp`.
    let service = std::env::var("CYRUS_SERVICE").unwrap_or_else(|_| "lmtp".into());
    let conf = match daemons::conf::load(&path, Some(&service)) {
        Ok(c) => c,
        Err(e) => return fail(e.to_string()),
    };
    let unix = match &args.daemon.listen_unix {
        Some(p) => match daemons::service::bind_unix(p) {
            Ok(l) => Some(l),
            Err(e) => return fail(e),
        },
        None => None,
    };
    let tcp = if args.daemon.listen.is_some() || unix.is_none() {
        match bind(&args.daemon, 24).await {
            Ok(l) => Some(l),
            Err(e) => return fail(e),
        }
    } else {
        None
    };
    match daemons::lmtpd::run(conf, args.preauth, tcp, unix, shutdown_on_signals()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}
