//! The interactive shell: rustyline with history, Emacs or vi keys, completion from the
//! command table and the name cache, hints from history, and the `user@server> ` prompt.
//!
//! Completion never waits for the network: mailbox, server and partition names come from
//! [`crate::cache::Cache`], read with `try_lock`, which a background task fills after each
//! connect. Ctrl-C at the prompt clears the line; during a command it cancels the command
//! and the shell goes on. Ctrl-D (end of input) leaves.

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::{Hinter, HistoryHinter};
use rustyline::history::{DefaultHistory, History};
use rustyline::validate::Validator;
use rustyline::{Config, Context, EditMode, Editor, Helper};

use crate::cache::Cache;
use crate::commands::{completion_candidates, completion_context, ArgKind, CompletionContext};
use crate::lex::tokenize;
use crate::session::{Session, Status};

/// Most completion candidates offered at once.
pub const MAX_CANDIDATES: usize = 500;

/// Whether `~/.inputrc` (or `$INPUTRC`) selects vi mode.
pub fn inputrc_says_vi() -> bool {
    let path = std::env::var_os("INPUTRC")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".inputrc")));
    let Some(text) = path.and_then(|p| std::fs::read_to_string(p).ok()) else {
        return false;
    };
    text.lines().any(|l| {
        let w: Vec<&str> = l.split_whitespace().collect();
        matches!(w.as_slice(), ["set", "editing-mode", "vi"])
    })
}

/// Where the word under the cursor starts: after the last unquoted blank or `;`.
fn word_start(line: &str) -> usize {
    let mut start = 0;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match (quote, c) {
            (_, '\\') if quote != Some('\'') => escaped = true,
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, c) if c.is_whitespace() || c == ';' || c == '>' || c == '<' => {
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    start
}

/// The words of the current command before the word under the cursor.
fn prefix_words(before: &str) -> Vec<String> {
    let no_env = |_: &str| None;
    if before.trim_end().ends_with(';') {
        return Vec::new();
    }
    match tokenize(before, &no_env) {
        Ok(cmds) => cmds.last().map(|c| c.words.clone()).unwrap_or_default(),
        Err(_) => before
            .rsplit(';')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .map(str::to_string)
            .collect(),
    }
}

/// Mailbox names for `partial`, shortened to the next hierarchy level so that a murder
/// with many users offers `user.alice.` rather than every folder below it.
fn mailbox_candidates(cache: &Cache, partial: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in cache
        .mailboxes
        .range(partial.to_string()..)
        .take_while(|m| m.starts_with(partial))
    {
        let rest = name.get(partial.len()..).unwrap_or("");
        let cand = match rest.char_indices().find(|&(i, c)| i > 0 && c == '.') {
            Some((i, _)) => name.get(..partial.len() + i + 1).unwrap_or(name),
            None => name.as_str(),
        };
        if out.last().map(String::as_str) != Some(cand) {
            out.push(cand.to_string());
            if out.len() >= MAX_CANDIDATES {
                break;
            }
        }
    }
    out
}

/// Everything the completer offers for the word `partial` after `words`.
pub fn candidates(cache: Option<&Cache>, words: &[String], partial: &str) -> Vec<String> {
    let mut out = completion_candidates(words, partial);
    let Some(cache) = cache else {
        return out;
    };
    let (command, kind) = match completion_context(words) {
        CompletionContext::OptionOrArg { command, index } if !partial.starts_with('-') => {
            (command, command.spec().arg_kind(index))
        }
        CompletionContext::Arg { command, index } => (command, command.spec().arg_kind(index)),
        CompletionContext::OptionValue { command, option } => (
            command,
            match option {
                "partition" => Some(ArgKind::Location),
                "cafile" | "capath" | "tlskey" => Some(ArgKind::Path),
                _ => None,
            },
        ),
        _ => return out,
    };
    let _ = command;
    let starts = |s: &&String| s.starts_with(partial);
    match kind {
        Some(ArgKind::Mailbox | ArgKind::Pattern) => out.extend(mailbox_candidates(cache, partial)),
        Some(ArgKind::Server) => out.extend(cache.servers.iter().filter(starts).cloned()),
        Some(ArgKind::Partition) => {
            out.extend(cache.partitions.iter().filter(starts).cloned());
            if "default".starts_with(partial) {
                out.push("default".into());
            }
        }
        Some(ArgKind::Location) => {
            let mut parts: Vec<String> = cache.partitions.iter().cloned().collect();
            if !parts.iter().any(|p| p == "default") {
                parts.push("default".into());
            }
            for s in &cache.servers {
                for p in &parts {
                    let c = format!("{s}!{p}");
                    if c.starts_with(partial) {
                        out.push(c);
                    }
                }
            }
            out.extend(parts.into_iter().filter(|p| p.starts_with(partial)));
        }
        Some(ArgKind::Identifier | ArgKind::User) => {
            for fixed in ["anyone", "anonymous"] {
                if fixed.starts_with(partial) {
                    out.push(fixed.into());
                }
            }
            for m in cache.mailboxes.range("user.".to_string()..) {
                let Some(rest) = m.strip_prefix("user.") else {
                    break;
                };
                if !rest.contains('.') && rest.starts_with(partial) {
                    out.push(rest.to_string());
                    if out.len() >= MAX_CANDIDATES {
                        break;
                    }
                }
            }
        }
        _ => {}
    }
    out.sort();
    out.dedup();
    out.truncate(MAX_CANDIDATES);
    out
}

/// The rustyline helper.
pub struct ShellHelper {
    cache: Arc<Mutex<Cache>>,
    hinter: HistoryHinter,
    color: bool,
}

impl ShellHelper {
    /// A helper reading names from `cache`.
    pub fn new(cache: Arc<Mutex<Cache>>) -> Self {
        ShellHelper {
            cache,
            hinter: HistoryHinter::new(),
            color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        }
    }
}

impl Completer for ShellHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = line.get(..pos).unwrap_or(line);
        let start = word_start(before);
        let partial = before.get(start..).unwrap_or("");
        let words = prefix_words(before.get(..start).unwrap_or(""));
        // try_lock: while the background filler holds the lock, offer what needs no cache.
        let guard = self.cache.try_lock().ok();
        let cands = candidates(guard.as_deref(), &words, partial);
        let pairs = cands
            .into_iter()
            .map(|c| {
                let keep_open = c.ends_with('.') || c.ends_with('!');
                Pair {
                    display: c.clone(),
                    replacement: if keep_open {
                        crate::lex::quote(&c)
                    } else {
                        format!("{} ", crate::lex::quote(&c))
                    },
                }
            })
            .collect();
        Ok((start, pairs))
    }
}

impl Hinter for ShellHelper {
    type Hint = String;

    fn hint(&self, line: &str, pos: usize, ctx: &Context<'_>) -> Option<String> {
        self.hinter.hint(line, pos, ctx)
    }
}

impl Highlighter for ShellHelper {
    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        if self.color {
            Cow::Owned(format!("\x1b[2m{hint}\x1b[0m"))
        } else {
            Cow::Borrowed(hint)
        }
    }
}

impl Validator for ShellHelper {}
impl Helper for ShellHelper {}

/// Runs the interactive loop until `exit` or end of input; returns the status to exit with.
pub fn run(
    rt: &tokio::runtime::Runtime,
    session: &mut Session,
    history: Option<PathBuf>,
    vi: bool,
) -> Status {
    let config = Config::builder()
        .edit_mode(if vi { EditMode::Vi } else { EditMode::Emacs })
        .auto_add_history(false)
        .history_ignore_dups(true)
        .and_then(|b| b.history_ignore_space(true).max_history_size(10_000))
        .map(|b| b.completion_type(rustyline::CompletionType::List).build());
    let config = match config {
        Ok(c) => c,
        Err(e) => {
            eprintln!("murder: {e}");
            return Status::Failed;
        }
    };
    let mut rl: Editor<ShellHelper, DefaultHistory> = match Editor::with_config(config) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("murder: cannot start the line editor: {e}");
            return Status::Failed;
        }
    };
    rl.set_helper(Some(ShellHelper::new(session.cache.clone())));
    if let Some(h) = &history {
        let _ = rl.load_history(h);
    }
    let env = |name: &str| std::env::var(name).ok();
    let mut status = Status::Ok;
    let mut pending = String::new();
    loop {
        let prompt = if pending.is_empty() {
            session.prompt()
        } else {
            "> ".to_string()
        };
        match rl.readline(&prompt) {
            Ok(line) => {
                if !pending.is_empty() {
                    pending.push('\n');
                }
                pending.push_str(&line);
                let cmds = match tokenize(&pending, &env) {
                    Ok(c) => c,
                    Err(e) if e.is_incomplete() => continue,
                    Err(e) => {
                        eprintln!("murder: {e}");
                        let _ = rl.history_mut().add(&pending);
                        pending.clear();
                        status = Status::Failed;
                        continue;
                    }
                };
                if !pending.trim().is_empty() {
                    let _ = rl.history_mut().add(&pending);
                    if let Some(h) = &history {
                        // Saved after every command, so a crash or kill loses nothing.
                        let _ = rl.append_history(h);
                    }
                }
                pending.clear();
                let was_connected = session.is_connected();
                match crate::app::run_interruptible(rt, session, &cmds, false) {
                    None => {
                        eprintln!("interrupted");
                        if let Some(msg) = rt.block_on(session.recover_after_interrupt()) {
                            eprintln!("{msg}");
                        }
                        status = Status::Failed;
                    }
                    Some(Status::Exit(n)) => {
                        status = Status::Exit(n);
                        break;
                    }
                    Some(Status::Failed) => status = Status::Failed,
                    Some(Status::Ok) => {}
                }
                if was_connected && !session.is_connected() && !is_disconnect(&cmds) {
                    eprintln!("Connection to server lost. Use `connect SERVER` to connect again.");
                }
            }
            Err(ReadlineError::Interrupted) => {
                pending.clear();
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                eprintln!("murder: {e}");
                status = Status::Failed;
                break;
            }
        }
    }
    // The last status of an interactive session matters only for `exit N`.
    match status {
        Status::Exit(n) => Status::Exit(n),
        _ => Status::Ok,
    }
}

fn is_disconnect(cmds: &[crate::lex::CommandLine]) -> bool {
    cmds.iter().any(|c| {
        c.words.first().is_some_and(|w| {
            matches!(
                w.as_str(),
                "disconnect" | "disc" | "server" | "servername" | "connect"
            )
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache() -> Cache {
        let mut c = Cache::default();
        for m in [
            "user.alice",
            "user.alice.Sent",
            "user.alice.Trash",
            "user.bob",
            "shared.news",
        ] {
            c.add_mailbox(m);
        }
        c.servers.insert("backend1".into());
        c.servers.insert("backend2".into());
        c
    }

    fn words(s: &[&str]) -> Vec<String> {
        s.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn word_boundaries() {
        assert_eq!(word_start("lm user.a"), 3);
        assert_eq!(word_start("lm 'user x"), 3);
        assert_eq!(word_start("lm; cm us"), 7);
        assert_eq!(word_start(""), 0);
        assert_eq!(prefix_words("lm; cm "), words(&["cm"]));
        assert!(prefix_words("lm;").is_empty());
    }

    #[test]
    fn mailbox_names_by_level() {
        let c = cache();
        assert_eq!(
            candidates(Some(&c), &words(&["lam"]), "user."),
            ["user.alice", "user.alice.", "user.bob"]
        );
        assert_eq!(
            candidates(Some(&c), &words(&["lam"]), "user.alice."),
            ["user.alice.Sent", "user.alice.Trash"]
        );
    }

    #[test]
    fn servers_locations_rights_identifiers() {
        let c = cache();
        assert_eq!(
            candidates(Some(&c), &words(&["xfer", "user.bob"]), "back"),
            ["backend1", "backend2"]
        );
        assert!(candidates(
            Some(&c),
            &words(&["rename", "user.bob", "user.bob"]),
            "backend2"
        )
        .contains(&"backend2!default".to_string()));
        assert_eq!(
            candidates(Some(&c), &words(&["sam", "user.bob", "alice"]), "re"),
            ["read"]
        );
        assert_eq!(
            candidates(Some(&c), &words(&["sam", "user.bob"]), "a"),
            ["alice", "anonymous", "anyone"]
        );
        assert_eq!(
            candidates(Some(&c), &[], "lis"),
            [
                "listacl",
                "listaclmailbox",
                "listmailbox",
                "listquota",
                "listquotaroot"
            ]
        );
        assert_eq!(candidates(None, &words(&["cm"]), "--p"), ["--partition"]);
    }
}
