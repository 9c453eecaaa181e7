//! The command line of `murder`: cyradm's options (reference §6.1) plus scripting, output
//! and TLS options of our own.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::output::Format;

/// cyradm's system rc file as Debian installs it. The files hold shell commands, not Perl,
/// despite the suffix (reference §6.2).
pub const SYSTEM_RC: &str = "/etc/cyradmrc.pl";

/// cyradm's user rc file, under `$HOME`.
pub const USER_RC: &str = ".cyradmrc.pl";

/// What to do when a command of a script fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum OnError {
    /// Go on with the next command (cyradm's behaviour); the exit status is still 1.
    #[default]
    Continue,
    /// Stop at the first failure.
    Stop,
}

/// `murder [OPTIONS] [SERVER [PORT]]`: the admin shell of a Cyrus murder.
#[derive(Debug, Parser)]
#[command(
    name = "murder",
    version,
    about = "cyradm-compatible admin shell for a Cyrus IMAP murder",
    long_about = "cyradm-compatible admin shell for a Cyrus IMAP murder.\n\n\
        Connects to SERVER (a frontend or a backend; with no server, the local murder \
        described by $MURDER_HOME/murder.json or ~/.local/state/murder/murder.json), logs \
        in, and reads commands: interactively with completion and history, or from -e, -f \
        or standard input. Type `help` at the prompt for the commands.",
    args_conflicts_with_subcommands = true,
    after_help = "Password: --password-file, $MURDER_PASSWORD, or a prompt on the terminal.\n\
        Exit status: the argument of `exit`, else 1 if any command failed, else 0."
)]
pub struct Cli {
    /// Extra commands.
    #[command(subcommand)]
    pub command: Option<Sub>,

    /// Server to connect to (host, host:port or [v6]:port).
    #[arg(value_name = "SERVER")]
    pub server_arg: Option<String>,

    /// Port (default 143, or 993 with --ssl).
    #[arg(value_name = "PORT")]
    pub port_arg: Option<u16>,

    /// Server to connect to (instead of the SERVER argument).
    #[arg(short = 's', long = "server", value_name = "HOST")]
    pub server: Option<String>,

    /// Port.
    #[arg(short = 'p', long, value_name = "PORT")]
    pub port: Option<u16>,

    /// Authentication id (default $USER).
    #[arg(short = 'u', long, value_name = "USER")]
    pub user: Option<String>,

    /// Authorisation id: act as this user.
    #[arg(short = 'z', long, value_name = "USER")]
    pub authz: Option<String>,

    /// SASL mechanism(s) to use; `login` forces the IMAP LOGIN command.
    #[arg(short = 'a', long = "auth", value_name = "MECH")]
    pub auth: Option<String>,

    /// Password (visible to other users in the process list: prefer --password-file or
    /// the environment variable).
    #[arg(short = 'w', long, value_name = "PASSWORD")]
    pub password: Option<String>,

    /// Read the password from the first line of this file.
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,

    /// Environment variable holding the password.
    #[arg(long, value_name = "VAR", default_value = "MURDER_PASSWORD")]
    pub password_env: String,

    /// Require STARTTLS.
    #[arg(long, conflicts_with_all = ["notls", "ssl"])]
    pub tls: bool,

    /// Never use TLS (even when the server offers STARTTLS).
    #[arg(long, conflicts_with = "ssl")]
    pub notls: bool,

    /// TLS from the start (implicit TLS, as on port 993).
    #[arg(long)]
    pub ssl: bool,

    /// CA certificates (PEM) that verify the server.
    #[arg(long, value_name = "FILE")]
    pub cafile: Option<PathBuf>,

    /// Directory of CA certificates that verify the server.
    #[arg(long, alias = "cadir", value_name = "DIR")]
    pub capath: Option<PathBuf>,

    /// Accept any server certificate (test murders with self-signed certificates only).
    #[arg(long)]
    pub insecure: bool,

    /// Client key (PEM) presented when the server asks for a certificate; the file may hold
    /// the certificate too, as cyradm's. Implies --tls (STARTTLS required) unless --ssl.
    #[arg(short = 't', long = "tlskey", alias = "key", value_name = "KEYFILE")]
    pub tlskey: Option<PathBuf>,

    /// Client certificate chain (PEM) when it is not in the --tlskey file.
    #[arg(
        long = "tlscert",
        alias = "cert",
        value_name = "CERTFILE",
        requires = "tlskey"
    )]
    pub tlscert: Option<PathBuf>,

    /// Read the rc files (the default).
    #[arg(short = 'r', long = "rc", overrides_with = "norc")]
    pub rc: bool,

    /// Do not read the rc files.
    #[arg(long = "norc", overrides_with = "rc")]
    pub norc: bool,

    /// System rc file: shell commands run after connecting, before any other input.
    #[arg(short = 'S', long = "systemrc", value_name = "FILE", default_value = SYSTEM_RC)]
    pub systemrc: PathBuf,

    /// User rc file, run after the system one (default ~/.cyradmrc.pl).
    #[arg(long = "userrc", value_name = "FILE")]
    pub userrc: Option<PathBuf>,

    /// Run these commands (`;` separates several) and exit.
    #[arg(short = 'e', long = "execute", value_name = "COMMANDS")]
    pub execute: Vec<String>,

    /// Run the commands in this file and exit.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,

    /// In -e, -f and piped input: what to do after a failed command.
    #[arg(long, value_enum, default_value_t = OnError::Continue)]
    pub on_error: OnError,

    /// Output format of listings.
    #[arg(short = 'o', long, value_enum, default_value_t = Format::Cyradm)]
    pub output: Format,

    /// vi editing mode (also when ~/.inputrc says `set editing-mode vi`).
    #[arg(long)]
    pub vi: bool,

    /// History file (default $MURDER_HOME/history, or ~/.murder_history).
    #[arg(long, value_name = "FILE")]
    pub history: Option<PathBuf>,

    /// Keep no history file.
    #[arg(long)]
    pub no_history: bool,

    /// Do not connect at start, even to the local murder.
    #[arg(long)]
    pub no_connect: bool,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Sub {
    /// Print a completion script for a shell (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// The local murder on loopback: up (start or reuse), down, status, and each daemon's
    /// start, stop, restart, show and log; state in $MURDER_HOME (default
    /// ~/.local/state/murder).
    Local {
        /// What to do.
        #[command(subcommand)]
        action: LocalAction,
    },
}

/// `murder local` actions.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum LocalAction {
    /// Create the murder if needed, start every daemon in the background, print how to
    /// connect.
    Up,
    /// Stop every daemon.
    Down,
    /// Say whether it runs, and show its daemons.
    Status,
    /// Start daemons (all when none is named): master, backend1, backend2, slave, frontend.
    Start {
        /// Daemons to start.
        names: Vec<String>,
    },
    /// Stop daemons (all when none is named), leaving the others running.
    Stop {
        /// Daemons to stop.
        names: Vec<String>,
    },
    /// Stop then start daemons (all when none is named).
    Restart {
        /// Daemons to restart.
        names: Vec<String>,
    },
    /// Show each daemon: up or down, pid, ports, uptime.
    Show,
    /// Print the last lines of a daemon's log.
    Log {
        /// The daemon.
        name: String,
        /// How many lines.
        #[arg(short = 'n', long = "lines", default_value_t = 50)]
        lines: usize,
    },
    /// Run daemons in the foreground: every one, or only --only NAME (what `up` and
    /// `start` run in the background, one process per daemon).
    Serve {
        /// Run only this daemon.
        #[arg(long, value_name = "NAME")]
        only: Option<String>,
    },
}
