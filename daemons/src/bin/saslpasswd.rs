//! `saslpasswd`: manage the murder's users, with saslpasswd2's options.
//!
//! ```text
//! saslpasswd [-C imapd.conf] [-f sasldb] [-u realm] [-c] [-p] [-d] [-n] user
//! saslpasswd -l   # list users (sasldblistusers2)
//! ```

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use daemons::sasl::{user_key, CredStore};

#[derive(Parser)]
#[command(
    name = "saslpasswd",
    about = "Set, create or delete a user's password in the murder's sasldb"
)]
struct Args {
    /// imapd.conf to read sasl_sasldb_path from.
    #[arg(short = 'C')]
    config: Option<PathBuf>,
    /// The sasldb file (overrides imapd.conf).
    #[arg(short = 'f')]
    file: Option<PathBuf>,
    /// Realm (the user is stored as user@realm).
    #[arg(short = 'u')]
    realm: Option<String>,
    /// Create the entry (replacing an existing one).
    #[arg(short = 'c')]
    create: bool,
    /// Pipe mode: read the password from stdin without prompting.
    #[arg(short = 'p')]
    pipe: bool,
    /// Delete the entry.
    #[arg(short = 'd')]
    delete: bool,
    /// Accepted for compatibility: no plaintext is ever stored.
    #[arg(short = 'n')]
    no_plaintext: bool,
    /// Accepted for compatibility (the application name).
    #[arg(short = 'a')]
    appname: Option<String>,
    /// List the users instead.
    #[arg(short = 'l')]
    list: bool,
    /// The user.
    user: Option<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("saslpasswd: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<(), String> {
    let path = match (&args.file, &args.config) {
        (Some(f), _) => f.clone(),
        (None, c) => {
            let conf_path = daemons::conf::conf_path(c.as_deref());
            let conf = daemons::conf::load(&conf_path, None).map_err(|e| e.to_string())?;
            daemons::conf::sasldb_path(&conf)
        }
    };
    let store = CredStore::new(path);
    if args.list {
        for u in store.users().map_err(|e| e.to_string())? {
            println!("{u}");
        }
        return Ok(());
    }
    let user = args.user.ok_or("a user name is required")?;
    let key = user_key(&user, args.realm.as_deref()).map_err(|e| e.to_string())?;
    if args.delete {
        return match store.delete(&key).map_err(|e| e.to_string())? {
            true => Ok(()),
            false => Err(format!("user {key} not found")),
        };
    }
    if !args.create && store.lookup(&key).map_err(|e| e.to_string())?.is_none() {
        return Err(format!("user {key} not found (use -c to create it)"));
    }
    let password = read_password(args.pipe)?;
    if password.is_empty() {
        return Err("empty password".into());
    }
    store
        .set_password(&key, &password)
        .map_err(|e| e.to_string())
}

fn read_password(pipe: bool) -> Result<String, String> {
    let stdin = std::io::stdin();
    if pipe || !stdin.is_terminal() {
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .map_err(|e| format!("reading the password: {e}"))?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_owned());
    }
    let first = rpassword::prompt_password("Password: ").map_err(|e| e.to_string())?;
    let again =
        rpassword::prompt_password("Again (for verification): ").map_err(|e| e.to_string())?;
    if first != again {
        return Err("passwords don't match".into());
    }
    Ok(first)
}
