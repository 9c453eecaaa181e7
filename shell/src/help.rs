//! The `help` command's output, rendered from the command table
//! ([`crate::commands`]).
//!
//! `help` alone lists every command as cyradm does: one line per command, its canonical name
//! and aliases joined by `, ` and padded to the widest such list, two spaces, then a short
//! summary, sorted by name. Commands of our own ([`Origin::Murder`]) follow under a heading
//! of their own. `help COMMAND…` describes each command: cyradm's two lines (the usage, then
//! the summary after a TAB; an alias is introduced with `NAME, alias for`), then the aliases,
//! the options, a paragraph and examples.
//!
//! ```
//! use murder_shell::help::{command_help, help, DEFAULT_WIDTH};
//!
//! let list = help::<&str>(&[], DEFAULT_WIDTH);
//! assert!(list.ok);
//! assert!(list.text.lines().any(|l| l.starts_with("createmailbox, create, cm  ")));
//!
//! let cm = command_help("cm", DEFAULT_WIDTH).unwrap();
//! assert!(cm.starts_with("cm, alias for createmailbox [--partition partition]"));
//! assert!(cm.contains("\nexamples:\n  cm user.alice\n"));
//! ```

use std::fmt::Write as _;

use crate::commands::{all_commands, lookup, CommandSpec, Origin};

/// cyradm's default line width (`$COLUMNS` unset).
pub const DEFAULT_WIDTH: usize = 79;

/// What `help` prints, and whether it succeeded (an unknown topic makes it fail, as in
/// cyradm, while the other topics are still shown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelpOutput {
    /// The text for standard output, ending in a newline.
    pub text: String,
    /// False if some topic named no command.
    pub ok: bool,
}

/// Runs `help` with the given topics (the command's positional arguments). Topics are
/// shown in sorted order, as cyradm does; `width` bounds the wrapped paragraphs.
pub fn help<S: AsRef<str>>(topics: &[S], width: usize) -> HelpOutput {
    if topics.is_empty() {
        return HelpOutput {
            text: command_list(),
            ok: true,
        };
    }
    let mut sorted: Vec<&str> = topics.iter().map(AsRef::as_ref).collect();
    sorted.sort_unstable();
    let mut text = String::new();
    let mut ok = true;
    for (i, topic) in sorted.iter().enumerate() {
        if i > 0 {
            text.push('\n');
        }
        match command_help(topic, width) {
            Some(h) => text.push_str(&h),
            None => {
                ok = false;
                let _ = writeln!(text, "unknown command: {topic}");
            }
        }
    }
    HelpOutput { text, ok }
}

/// The command list of `help` without arguments.
pub fn command_list() -> String {
    let entries = |origin: Origin| {
        let mut v: Vec<(String, &'static str)> = all_commands()
            .filter(|c| c.origin == origin)
            .map(|c| (c.names().collect::<Vec<_>>().join(", "), c.summary))
            .collect();
        v.sort();
        v
    };
    let cyradm = entries(Origin::Cyradm);
    let murder = entries(Origin::Murder);
    let width = cyradm
        .iter()
        .chain(murder.iter())
        .map(|(n, _)| n.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    push_rows(&mut out, &cyradm, width);
    if !murder.is_empty() {
        out.push_str("\nmurder commands:\n");
        push_rows(&mut out, &murder, width);
    }
    out
}

fn push_rows(out: &mut String, rows: &[(String, &str)], width: usize) {
    for (names, summary) in rows {
        let _ = writeln!(out, "{names:<width$}  {summary}");
    }
}

/// The description of one command, found by canonical name or alias; `None` if there is no
/// such command.
pub fn command_help(name: &str, width: usize) -> Option<String> {
    let spec = lookup(name)?;
    let mut out = String::new();
    if name != spec.name {
        let _ = write!(out, "{name}, alias for ");
    }
    let _ = writeln!(out, "{}", spec.usage);
    let _ = writeln!(out, "\t{}", spec.summary);
    out.push('\n');
    if !spec.aliases.is_empty() {
        let _ = writeln!(out, "aliases: {}", spec.aliases.join(", "));
    }
    options_section(spec, &mut out);
    out.push('\n');
    out.push_str(&wrap(spec.help, width, ""));
    out.push_str("\nexamples:\n");
    for ex in spec.examples {
        let _ = writeln!(out, "  {ex}");
    }
    Some(out)
}

fn options_section(spec: &CommandSpec, out: &mut String) {
    if spec.options.is_empty() {
        return;
    }
    let heads: Vec<String> = spec
        .options
        .iter()
        .map(|o| match o.value {
            Some(v) => format!("-{} {v}", o.name),
            None => format!("-{}", o.name),
        })
        .collect();
    let width = heads.iter().map(|h| h.chars().count()).max().unwrap_or(0);
    out.push_str("options (-opt may be shortened to a unique prefix; --opt is spelled out):\n");
    for (o, head) in spec.options.iter().zip(&heads) {
        let _ = write!(out, "  {head:<width$}  {}", o.help);
        if !o.also.is_empty() {
            let also: Vec<String> = o.also.iter().map(|a| format!("-{a}")).collect();
            let _ = write!(out, " (also {})", also.join(", "));
        }
        out.push('\n');
    }
}

/// Greedy word wrap of `text` to `width` columns, each line starting with `indent`; a word
/// longer than the width gets a line of its own.
fn wrap(text: &str, width: usize, indent: &str) -> String {
    let mut out = String::new();
    let mut line = String::from(indent);
    let mut empty = true;
    for word in text.split_whitespace() {
        let len = line.chars().count();
        if !empty && len.saturating_add(1).saturating_add(word.chars().count()) > width {
            out.push_str(&line);
            out.push('\n');
            line = String::from(indent);
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    if !empty {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::lookup;

    #[test]
    fn list_has_one_sorted_aligned_line_per_command() {
        let list = command_list();
        // cyradm's commands come first, up to the blank line before our own.
        let lines: Vec<&str> = list.lines().take_while(|l| !l.is_empty()).collect();
        let cyradm = all_commands()
            .filter(|c| c.origin == Origin::Cyradm)
            .count();
        assert_eq!(lines.len(), cyradm);
        let names: Vec<&str> = lines
            .iter()
            .map(|l| {
                l.split(',')
                    .next()
                    .unwrap()
                    .split_whitespace()
                    .next()
                    .unwrap()
            })
            .collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        // Every summary starts in the same column.
        let widest = all_commands()
            .map(|c| c.names().collect::<Vec<_>>().join(", ").len())
            .max()
            .unwrap();
        for (line, name) in lines.iter().zip(&names) {
            let spec = lookup(name).unwrap();
            assert_eq!(&line[widest + 2..], spec.summary, "{line}");
        }
        assert!(list.contains("\nlistacl, lam, listaclmailbox"));
        assert!(list.contains("\nhelp, ?  "));
        assert!(list.starts_with("authenticate, auth, login  "));
    }

    #[test]
    fn command_help_shows_usage_summary_options_text_examples() {
        let h = command_help("createmailbox", DEFAULT_WIDTH).unwrap();
        let mut lines = h.lines();
        assert_eq!(
            lines.next(),
            Some("createmailbox [--partition partition] [--specialuse specialuse] mailbox [partition]")
        );
        assert_eq!(lines.next(), Some("\tcreate a mailbox"));
        assert!(h.contains("\naliases: create, cm\n"));
        assert!(h.contains("\n  -partition partition    the partition"));
        assert!(h.contains("\n  -specialuse specialuse  special use"));
        assert!(h.contains("\nCreates a mailbox."));
        assert!(h.ends_with("examples:\n  cm user.alice\n  cm user.bob backend2!default\n  create --specialuse '\\Sent' user.alice.Sent\n"));
        for line in h
            .lines()
            .filter(|l| !l.starts_with("createmailbox") && !l.starts_with("  "))
        {
            assert!(line.chars().count() <= DEFAULT_WIDTH, "{line}");
        }
        let auth = command_help("login", DEFAULT_WIDTH).unwrap();
        assert!(auth.starts_with("login, alias for authenticate [-minssf N]"));
        assert!(auth.contains("(also -cadir)"));
        assert!(!command_help("info", DEFAULT_WIDTH)
            .unwrap()
            .contains("aliases:"));
        assert!(!command_help("lq", DEFAULT_WIDTH)
            .unwrap()
            .contains("options"));
        assert_eq!(command_help("nope", DEFAULT_WIDTH), None);
    }

    #[test]
    fn every_command_and_alias_has_help() {
        for spec in all_commands() {
            for name in spec.names() {
                let h = command_help(name, 60).unwrap();
                assert!(h.contains(spec.summary));
                assert!(h.contains(spec.examples[0]));
            }
        }
    }

    #[test]
    fn help_with_topics_sorts_and_reports_unknown() {
        let out = help(&["sq", "cm"], DEFAULT_WIDTH);
        assert!(out.ok);
        let cm = out.text.find("cm, alias for").unwrap();
        let sq = out.text.find("sq, alias for").unwrap();
        assert!(cm < sq);
        let out = help(&["bogus", "lm"], DEFAULT_WIDTH);
        assert!(!out.ok);
        assert!(out
            .text
            .starts_with("unknown command: bogus\n\nlm, alias for listmailbox"));
        let none: [&str; 0] = [];
        assert_eq!(help(&none, DEFAULT_WIDTH).text, command_list());
    }

    #[test]
    fn wrap_breaks_at_width() {
        assert_eq!(wrap("a b c d", 3, ""), "a b\nc d\n");
        assert_eq!(wrap("abcdef g", 3, ""), "abcdef\ng\n");
        assert_eq!(wrap("  ", 10, ""), "");
        assert_eq!(wrap("a b", 10, "  "), "  a b\n");
        assert_eq!(wrap("x y", 0, ""), "x\ny\n");
    }
}
