//! The `murder` program: command line → settings → connection → REPL or script.
//!
//! # The local murder
//!
//! With no server given, the shell opens the local murder: it reads `murder.json` in
//! `$MURDER_HOME`, or else in `~/.local/state/murder`, which the murder's own tooling
//! writes when it starts one:
//!
//! ```json
//! {
//!   "frontend": { "host": "127.0.0.1", "port": 10143 },
//!   "admin": { "user": "admin", "password_file": "admin.pw" },
//!   "tls": "none",
//!   "cafile": "ca.pem"
//! }
//! ```
//!
//! `admin.password` may hold the password itself; relative paths are relative to the
//! state directory; `tls` is `auto` (the default), `none`, `starttls` or `implicit`. When
//! there is no such file the shell says so in one line and opens its prompt unconnected,
//! where `connect HOST` works.

use std::io::{BufRead, IsTerminal, Read};
use std::path::{Path, PathBuf};

use clap::{CommandFactory, Parser};
use serde::Deserialize;

use crate::cli::{Cli, OnError, Sub};
use crate::client::TlsMode;
use crate::lex::{self, tokenize};
use crate::session::{default_user, PasswordSource, Session, Settings, Status, IMAP_PORT};

/// What `murder.json` holds.
#[derive(Debug, Default, Deserialize)]
pub struct LocalMurder {
    /// The frontend's IMAP address.
    pub frontend: Endpoint,
    /// The administrator's credentials.
    #[serde(default)]
    pub admin: Admin,
    /// `auto`, `none`, `starttls` or `implicit`.
    #[serde(default)]
    pub tls: Option<String>,
    /// CA certificate file for the murder's own certificates.
    #[serde(default)]
    pub cafile: Option<PathBuf>,
    /// The frontend's ManageSieve address, the default of the `sieve` command.
    #[serde(default)]
    pub sieve: Option<Endpoint>,
}

/// A host and port.
#[derive(Debug, Default, Deserialize)]
pub struct Endpoint {
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
}

/// Credentials in `murder.json`.
#[derive(Debug, Default, Deserialize)]
pub struct Admin {
    /// User name.
    pub user: Option<String>,
    /// Password.
    pub password: Option<String>,
    /// File holding the password.
    pub password_file: Option<PathBuf>,
}

/// The local murder's state directory: `$MURDER_HOME`, else `~/.local/state/murder`.
pub fn state_dir() -> Option<PathBuf> {
    if let Some(h) = std::env::var_os("MURDER_HOME").filter(|h| !h.is_empty()) {
        return Some(PathBuf::from(h));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state/murder"))
}

/// Reads `murder.json` from `dir`.
pub fn read_local_murder(dir: &Path) -> Result<LocalMurder, String> {
    let path = dir.join("murder.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn env_lookup(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Builds the settings from the command line and the environment.
fn settings_from(cli: &Cli) -> Settings {
    let password = if let Some(p) = &cli.password {
        PasswordSource::Given(p.clone())
    } else if let Some(f) = &cli.password_file {
        PasswordSource::File(f.clone())
    } else if let Some(p) = std::env::var(&cli.password_env)
        .ok()
        .filter(|p| !p.is_empty())
    {
        PasswordSource::Given(p)
    } else {
        PasswordSource::Prompt
    };
    let port = cli.port.or(cli.port_arg);
    let mode = if cli.ssl || port == Some(993) {
        TlsMode::Implicit
    } else if cli.notls {
        TlsMode::Never
    } else if cli.tls || cli.tlskey.is_some() {
        TlsMode::Require
    } else {
        TlsMode::Auto
    };
    let columns = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .filter(|&c| c > 0)
        .unwrap_or(79);
    let table_width = if std::io::stdout().is_terminal() {
        std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.parse().ok())
            .or(Some(0))
    } else {
        None
    };
    Settings {
        user: cli.user.clone().unwrap_or_else(default_user),
        authz: cli.authz.clone(),
        mechanism: cli.auth.clone(),
        password,
        tls: crate::client::TlsSettings {
            mode,
            cafile: cli.cafile.clone(),
            capath: cli.capath.clone(),
            insecure: cli.insecure,
            client_cert: cli
                .tlskey
                .as_ref()
                .filter(|k| !k.as_os_str().is_empty())
                .map(|key| daemons::tls::ClientCert {
                    cert: cli.tlscert.clone().unwrap_or_else(|| key.clone()),
                    key: key.clone(),
                }),
        },
        format: cli.output,
        columns,
        table_width,
        sieve: None,
    }
}

/// The rc files to run, in order, that exist as regular files (a missing one is skipped
/// silently, as cyradm does).
fn rc_files(cli: &Cli) -> Vec<PathBuf> {
    let user = cli.userrc.clone().or_else(|| {
        std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(|h| PathBuf::from(h).join(crate::cli::USER_RC))
    });
    [Some(cli.systemrc.clone()), user]
        .into_iter()
        .flatten()
        .filter(|p| !p.as_os_str().is_empty() && p.is_file())
        .collect()
}

/// Where history is kept.
fn history_path(cli: &Cli) -> Option<PathBuf> {
    if cli.no_history {
        return None;
    }
    if let Some(h) = &cli.history {
        return Some(h.clone());
    }
    if let Some(h) = std::env::var_os("MURDER_HOME").filter(|h| !h.is_empty()) {
        return Some(PathBuf::from(h).join("history"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".murder_history"))
}

/// Runs input text (a script) command by command, one line at a time as cyradm does: a
/// quote left open at the end of a line is an error for that line only, so one typo
/// cannot swallow the rest of a script. Returns the overall status.
pub fn run_script<R: BufRead>(
    rt: &tokio::runtime::Runtime,
    session: &mut Session,
    input: R,
    on_error: OnError,
    origin: &str,
) -> Status {
    let stop = on_error == OnError::Stop;
    let mut status = Status::Ok;
    for (n, line) in input.lines().enumerate() {
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                eprintln!("murder: {origin}: {e}");
                return Status::Failed;
            }
        };
        let cmds = match tokenize(&line, &env_lookup) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("murder: {origin}:{}: {e}", n + 1);
                status = Status::Failed;
                if stop {
                    return status;
                }
                continue;
            }
        };
        match run_interruptible(rt, session, &cmds, stop) {
            None => {
                eprintln!("murder: interrupted");
                return Status::Exit(130);
            }
            Some(Status::Exit(n)) => return Status::Exit(n),
            Some(Status::Failed) => {
                status = Status::Failed;
                if stop {
                    return status;
                }
            }
            Some(Status::Ok) => {}
        }
    }
    status
}

/// Runs commands, or returns `None` when Ctrl-C interrupted them. The command's future
/// is dropped (the connection copes, see [`crate::client`]), except for a command that
/// handles Ctrl-C itself ([`crate::murder::bulkmove::handles_interrupt`]), which is let
/// finish first.
pub fn run_interruptible(
    rt: &tokio::runtime::Runtime,
    session: &mut Session,
    cmds: &[lex::CommandLine],
    stop: bool,
) -> Option<Status> {
    rt.block_on(async {
        let run = session.run_commands(cmds, stop);
        tokio::pin!(run);
        let mut interrupted = false;
        loop {
            tokio::select! {
                s = &mut run => return if interrupted { None } else { Some(s) },
                _ = tokio::signal::ctrl_c() => {
                    // A bulk move stops itself cleanly and prints its report: let it finish,
                    // then stop the script as for any Ctrl-C.
                    if !crate::murder::bulkmove::handles_interrupt() {
                        return None;
                    }
                    interrupted = true;
                }
            }
        }
    })
}

fn local_command(action: crate::cli::LocalAction) -> i32 {
    use crate::cli::LocalAction;
    use crate::local;
    let Some(dir) = state_dir() else {
        eprintln!("murder local: set MURDER_HOME or HOME");
        return 2;
    };
    let print = |lines: Vec<String>| {
        for l in lines {
            println!("{l}");
        }
    };
    let show = |dir: &Path| -> Result<bool, local::LocalError> {
        let states = local::show(dir);
        let ctx = crate::murder::Ctx {
            format: crate::output::Format::Cyradm,
            width: None,
            user: String::new(),
            password: None,
        };
        local::print_show(&states, &ctx, &mut std::io::stdout())
            .map_err(|e| local::LocalError::Other(e.to_string()))?;
        Ok(states.iter().all(|s| s.state() == "up"))
    };
    let result = match action {
        LocalAction::Up => local::up(&dir, true).map(|_| ()),
        LocalAction::Down => local::down(&dir).map(|stopped| {
            if stopped {
                println!("local murder stopped");
            } else {
                println!("no local murder running in {}", dir.display());
            }
        }),
        LocalAction::Status => match local::running_pid(&dir) {
            Some(_) => {
                println!("local murder running from {}", dir.display());
                show(&dir).map(|_| ())
            }
            None => {
                println!("no local murder running in {}", dir.display());
                Ok(())
            }
        },
        LocalAction::Start { names } => local::start(&dir, &names).map(print),
        LocalAction::Stop { names } => local::stop(&dir, &names).map(print),
        LocalAction::Restart { names } => local::restart(&dir, &names).map(print),
        LocalAction::Show => match show(&dir) {
            Ok(true) => Ok(()),
            Ok(false) => return 1,
            Err(e) => Err(e),
        },
        LocalAction::Log { name, lines } => local::log_tail(&dir, &name, lines).map(print),
        LocalAction::Serve { only } => match tokio::runtime::Runtime::new() {
            Ok(rt) => rt.block_on(local::serve(&dir, only.as_deref())),
            Err(e) => Err(local::LocalError::Other(e.to_string())),
        },
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("murder local: {e}");
            1
        }
    }
}

/// The program. Returns the exit status.
pub fn main() -> i32 {
    let cli = Cli::parse();
    if let Some(Sub::Completions { shell }) = cli.command {
        let mut cmd = Cli::command();
        clap_complete::generate(shell, &mut cmd, "murder", &mut std::io::stdout());
        return 0;
    }
    if let Some(Sub::Local { action }) = &cli.command {
        return local_command(action.clone());
    }
    if cli.server.is_some() && cli.server_arg.is_some() {
        eprintln!("murder: may not specify server both with --server and bare arg");
        return 2;
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("murder: cannot start: {e}");
            return 1;
        }
    };
    let mut settings = settings_from(&cli);
    let interactive = cli.execute.is_empty()
        && cli.file.is_none()
        && std::io::stdin().is_terminal()
        && std::io::stdout().is_terminal();
    let mut status = Status::Ok;

    // Where to connect.
    let server = cli.server.clone().or(cli.server_arg.clone());
    let mut target: Option<(String, u16)> = None;
    if let Some(s) = &server {
        let default_port = if settings.tls.mode == TlsMode::Implicit {
            993
        } else {
            IMAP_PORT
        };
        let (h, p) = crate::session::split_host_port(s, default_port);
        target = Some((h, cli.port.or(cli.port_arg).unwrap_or(p)));
    } else if !cli.no_connect {
        // The embedded default: start the local murder if it is not running (unless
        // MURDER_AUTOSTART=0), then connect to its frontend.
        if let Some(dir) = state_dir() {
            let autostart = std::env::var("MURDER_AUTOSTART").map_or(true, |v| v != "0");
            if autostart && crate::local::running_pid(&dir).is_none() {
                eprintln!("murder: starting the local murder in {}", dir.display());
                if let Err(e) = crate::local::up(&dir, false) {
                    eprintln!("murder: local murder: {e}");
                }
            }
        }
        match state_dir().map(|d| (read_local_murder(&d), d)) {
            Some((Ok(m), dir)) => {
                if cli.user.is_none() {
                    if let Some(u) = &m.admin.user {
                        settings.user = u.clone();
                    }
                }
                if matches!(settings.password, PasswordSource::Prompt) {
                    if let Some(p) = &m.admin.password {
                        settings.password = PasswordSource::Given(p.clone());
                    } else if let Some(f) = &m.admin.password_file {
                        settings.password = PasswordSource::File(dir.join(f));
                    }
                }
                if let Some(ca) = &m.cafile {
                    settings.tls.cafile.get_or_insert(dir.join(ca));
                }
                if !(cli.tls || cli.notls || cli.ssl) {
                    settings.tls.mode = match m.tls.as_deref() {
                        Some("none") => TlsMode::Never,
                        Some("starttls") => TlsMode::Require,
                        Some("implicit") => TlsMode::Implicit,
                        _ => TlsMode::Auto,
                    };
                }
                target = Some((m.frontend.host.clone(), m.frontend.port));
                settings.sieve = m.sieve.as_ref().map(|e| (e.host.clone(), e.port));
            }
            Some((Err(_), dir)) => {
                eprintln!(
                    "murder: no server given and no local murder at {} (start one, or give a server: murder HOST [PORT]; `connect HOST` at the prompt)",
                    dir.join("murder.json").display()
                );
            }
            None => eprintln!(
                "murder: no server given and no local murder found (set MURDER_HOME or give a server: murder HOST [PORT])"
            ),
        }
    }

    let mut session = Session::new(settings);
    session.background_cache = interactive;
    if let Some((host, port)) = &target {
        let r = rt.block_on(session.connect_to(host, *port, true));
        if let Err(e) = r {
            eprintln!("murder: {e}");
            status = Status::Failed;
        }
    }

    // cyradm's rc files: the system one, then the user's, before any other input.
    if !cli.norc {
        for rc in rc_files(&cli) {
            let Ok(text) = std::fs::read_to_string(&rc) else {
                continue;
            };
            let s = run_script(
                &rt,
                &mut session,
                std::io::Cursor::new(text),
                cli.on_error,
                &rc.display().to_string(),
            );
            match s {
                Status::Exit(n) => {
                    rt.block_on(session.disconnect());
                    return n;
                }
                Status::Failed => status = Status::Failed,
                Status::Ok => {}
            }
        }
    }

    let script_status = if !cli.execute.is_empty() {
        let text = cli.execute.join("\n");
        run_script(
            &rt,
            &mut session,
            std::io::Cursor::new(text),
            cli.on_error,
            "-e",
        )
    } else if let Some(f) = &cli.file {
        let mut text = String::new();
        match std::fs::File::open(f).and_then(|mut h| h.read_to_string(&mut text)) {
            Ok(_) => run_script(
                &rt,
                &mut session,
                std::io::Cursor::new(text),
                cli.on_error,
                &f.display().to_string(),
            ),
            Err(e) => {
                eprintln!("murder: {}: {e}", f.display());
                Status::Failed
            }
        }
    } else if !std::io::stdin().is_terminal() {
        let stdin = std::io::stdin();
        run_script(&rt, &mut session, stdin.lock(), cli.on_error, "stdin")
    } else {
        let vi = cli.vi || crate::repl::inputrc_says_vi();
        crate::repl::run(&rt, &mut session, history_path(&cli), vi)
    };
    rt.block_on(session.disconnect());
    rt.shutdown_timeout(std::time::Duration::from_millis(200));
    match (script_status, status) {
        (Status::Exit(n), _) => n,
        (Status::Failed, _) | (_, Status::Failed) => 1,
        _ => 0,
    }
}
