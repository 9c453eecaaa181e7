//! `ctl_mboxlist`: dump, undump and push to the MUPDATE master a host's `mailboxes.db`, with
//! Cyrus's options (reference §2.10, §2.11).
//!
//! ```text
//! ctl_mboxlist [-C imapd.conf] -d [-x] [-y] [-p partition] [-f dbdir]    dump as 3.6 JSON
//! ctl_mboxlist [-C imapd.conf] -u [-f dbdir]                              undump JSON from stdin
//! ctl_mboxlist [-C imapd.conf] -m [-a] [-w] [-i] [--delete-local] [-f dbdir]
//! ```
//!
//! `-m` never deletes a local mailbox just because the master places it elsewhere: such
//! mailboxes are reported and kept unless `--delete-local` is given, or `-i` is given and the
//! question is answered `y`. `-m -w` prints the plan (Cyrus's four kinds of line) and changes
//! nothing. See [`daemons::ctl_mboxlist`] for how the plan is made.

use std::error::Error as _;
use std::io::{BufRead, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use daemons::ctl_mboxlist::{self as ctl, CtlError, DumpFilter, PlanOptions};
use daemons::mboxdb::MailboxDb;
use protocol::config::imapd::{ImapdConf, MupdateConfig};

const USAGE: &str = "\
usage:
  dump:    ctl_mboxlist [-C <imapd.conf>] -d [-x] [-y] [-p partition] [-f dbdir]
  undump:  ctl_mboxlist [-C <imapd.conf>] -u [-f dbdir]    < dump.json
  mupdate: ctl_mboxlist [-C <imapd.conf>] -m [-a] [-w] [-i] [--delete-local] [-f dbdir]
";

#[derive(Parser)]
#[command(
    name = "ctl_mboxlist",
    about = "Dump, undump, or push to the MUPDATE master, this host's mailbox list",
    after_help = "-m keeps local mailboxes that the master assigns to another server and \
                  reports them; --delete-local (or -i answered y) removes them locally."
)]
struct Args {
    /// imapd.conf to read (default /etc/imapd.conf).
    #[arg(short = 'C', value_name = "FILE")]
    config: Option<PathBuf>,
    /// Dump the database as JSON on stdout.
    #[arg(short = 'd')]
    dump: bool,
    /// With -d: remove each entry after dumping it.
    #[arg(short = 'x')]
    remove_dumped: bool,
    /// With -d: include intermediate entries.
    #[arg(short = 'y')]
    intermediates: bool,
    /// With -d: only this partition.
    #[arg(short = 'p', value_name = "PARTITION")]
    partition: Option<String>,
    /// Undump JSON (as -d prints it) from stdin into the local database (no MUPDATE push).
    #[arg(short = 'u')]
    undump: bool,
    /// With -u: the pre-3.6 line format (not supported).
    #[arg(short = 'L')]
    legacy: bool,
    /// Push the local list to the MUPDATE master.
    #[arg(short = 'm')]
    mupdate: bool,
    /// With -m: the local list is authoritative (no FIND; activate everything).
    #[arg(short = 'a')]
    authoritative: bool,
    /// With -m: dry run; print what would be done.
    #[arg(short = 'w')]
    warn_only: bool,
    /// With -m: ask before deleting local mailboxes held elsewhere.
    #[arg(short = 'i')]
    interactive: bool,
    /// With -m: delete local mailboxes the master assigns to another server (our own flag;
    /// Cyrus does this without asking).
    #[arg(long)]
    delete_local: bool,
    /// Verify the database against the spool (not supported).
    #[arg(short = 'v')]
    verify: bool,
    /// The database directory (default <configdirectory>/mailboxes.db).
    #[arg(short = 'f', value_name = "DBDIR")]
    file: Option<PathBuf>,
}

enum Mode {
    Dump,
    Undump,
    Mupdate,
}

fn usage() -> ExitCode {
    eprint!("{USAGE}");
    ExitCode::FAILURE
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) if e.use_stderr() => {
            eprintln!("{}", e.render().to_string().trim_end());
            return usage();
        }
        Err(e) => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
    };
    let modes = [args.dump, args.undump, args.mupdate, args.verify];
    if modes.iter().filter(|m| **m).count() != 1 {
        return usage();
    }
    // Options belong to one mode each (reference §2.11).
    let misplaced = (!args.mupdate
        && (args.authoritative || args.warn_only || args.interactive || args.delete_local))
        || (!args.dump && (args.remove_dumped || args.intermediates || args.partition.is_some()))
        || (!args.undump && args.legacy);
    if misplaced {
        return usage();
    }
    if args.verify {
        eprintln!("ctl_mboxlist: -v (verify against the spool) is not supported");
        return ExitCode::FAILURE;
    }
    if args.legacy {
        eprintln!("ctl_mboxlist: -L (the pre-3.6 line format) is not supported; use the JSON form");
        return ExitCode::FAILURE;
    }
    let mode = if args.dump {
        Mode::Dump
    } else if args.undump {
        Mode::Undump
    } else {
        Mode::Mupdate
    };

    let conf_path = daemons::conf::conf_path(args.config.as_deref());
    let conf = match daemons::conf::load(&conf_path, None) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ctl_mboxlist: {e}");
            return ExitCode::FAILURE;
        }
    };
    let db_dir = match &args.file {
        Some(f) => f.clone(),
        None => match daemons::conf::configdirectory(&conf, &conf_path) {
            Ok(d) => d.join(daemons::mboxdb::DB_DIR),
            Err(e) => {
                eprintln!("ctl_mboxlist: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    let db = match MailboxDb::open(&db_dir) {
        Ok(db) => db,
        Err(e) => {
            eprintln!("ctl_mboxlist: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match mode {
        Mode::Dump => dump(&db, &args),
        Mode::Undump => undump(&db),
        Mode::Mupdate => {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("ctl_mboxlist: {e}");
                    return ExitCode::FAILURE;
                }
            };
            rt.block_on(mupdate(&db, &conf, &args))
        }
    };
    match result {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("{msg}");
            ExitCode::FAILURE
        }
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn dump(db: &MailboxDb, args: &Args) -> Result<ExitCode, String> {
    let filter = DumpFilter {
        intermediates: args.intermediates,
        partition: args.partition.clone(),
    };
    let entries: Vec<_> = db
        .all()
        .map_err(|e| format!("ctl_mboxlist: {e}"))?
        .into_iter()
        .filter(|e| filter.accepts(e))
        .collect();
    let mut out = std::io::stdout().lock();
    out.write_all(ctl::dump_text(&entries).as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| format!("ctl_mboxlist: writing the dump: {e}"))?;
    // Removal comes only after the whole dump is safely written out.
    if args.remove_dumped {
        db.write(|tx| {
            for e in &entries {
                tx.delete(&e.name);
            }
            Ok(())
        })
        .map_err(|e| format!("ctl_mboxlist: {e}"))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn undump(db: &MailboxDb) -> Result<ExitCode, String> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| format!("ctl_mboxlist: reading stdin: {e}"))?;
    let u = ctl::parse_dump(&text, now()).map_err(|e| format!("ctl_mboxlist: {e}"))?;
    for w in &u.warnings {
        eprintln!("{w}");
    }
    ctl::undump(db, &u.entries).map_err(|e| format!("ctl_mboxlist: {e}"))?;
    Ok(ExitCode::SUCCESS)
}

/// Cyrus's line, then the cause on its own line.
fn explain(e: &CtlError) -> String {
    match e.source() {
        Some(cause) if !matches!(e, CtlError::Db(_) | CtlError::Parse(_)) => {
            format!("{e}\nctl_mboxlist: {cause}")
        }
        _ => format!("ctl_mboxlist: {e}"),
    }
}

async fn mupdate(db: &MailboxDb, conf: &ImapdConf, args: &Args) -> Result<ExitCode, String> {
    let Some((host, port)) = conf.mupdate_endpoint() else {
        eprintln!("fatal error: couldn't get mupdate server name");
        return Ok(ExitCode::from(69));
    };
    let servername = conf.servername().unwrap_or_else(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| "localhost".into())
    });
    let not_connected =
        |cause: String| format!("couldn't connect to mupdate server\nctl_mboxlist: {cause}");
    let creds = daemons::mupdate::credentials(conf).map_err(not_connected)?;
    let tls = daemons::mupdate::client_tls(conf).map_err(not_connected)?;
    let mut client = daemons::mupdate::client::connect_authenticated(
        &host,
        port,
        &creds,
        tls,
        conf.client_timeout(),
    )
    .await
    .map_err(|e| not_connected(e.to_string()))?;

    let local = db.all().map_err(|e| format!("ctl_mboxlist: {e}"))?;
    let opts = PlanOptions {
        servername,
        authoritative: args.authoritative,
        unified: conf.mupdate_config() == MupdateConfig::Unified,
    };
    let view = ctl::gather(&mut client, &local, &opts)
        .await
        .map_err(|e| explain(&e))?;
    let plan = ctl::plan(&local, &view, &opts);
    for n in &plan.notes {
        eprintln!("ctl_mboxlist: {n}");
    }
    if args.warn_only {
        let mut out = std::io::stdout().lock();
        for a in &plan.actions {
            let _ = writeln!(out, "{}", a.warn_line());
        }
        let _ = out.flush();
        client.logout().await;
        return Ok(ExitCode::SUCCESS);
    }

    let mut log = |line: String| eprintln!("{line}");
    let pushed = ctl::push(&plan, &mut client, db, &mut log).await;
    client.logout().await;
    pushed.map_err(|e| explain(&e))?;

    let removals: Vec<_> = plan.local_removals().cloned().collect();
    if removals.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    let consent = if args.interactive {
        eprint!("OK to delete {} local mailboxes? ", removals.len());
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if !matches!(answer.as_str(), "y\n" | "Y\n" | "y\r\n" | "Y\r\n") {
            eprintln!("Cancelled!");
            return Ok(ExitCode::FAILURE);
        }
        true
    } else {
        args.delete_local
    };
    if consent {
        ctl::remove_local(&plan, db, now()).map_err(|e| explain(&e))?;
    } else {
        for a in &removals {
            if let ctl::Action::RemoveLocal {
                name,
                master_location,
            } = a
            {
                eprintln!(
                    "ctl_mboxlist: kept local mailbox {name}: the master has it at \
                     {master_location} (--delete-local or -i removes the local copy)"
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
