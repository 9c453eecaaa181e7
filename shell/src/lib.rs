//! The `murder` admin shell: a cyradm-compatible command language for a Cyrus murder.
//!
//! This library holds the parts of the shell that need no network: [`lex`] splits input
//! into commands, words and redirections the way cyradm does; [`commands`] is the one table
//! of every command (names, aliases, options, arguments, usage, help) with the resolver that
//! turns words into a typed [`commands::Invocation`] and the typed argument helpers; [`help`]
//! renders `help` output from that table. [`client`] is the async IMAP client (TLS, SASL,
//! referrals); [`session`] implements every command on it; [`output`] prints cyradm's
//! formats, tables and JSON lines; [`repl`] is the interactive shell and [`app`] the program.
//!
//! ```
//! use murder_shell::commands::{parse_invocation, CommandId};
//! use murder_shell::lex::tokenize;
//!
//! let no_env = |_: &str| None;
//! let line = &tokenize("cm -p default user.bob", &no_env).unwrap()[0];
//! let inv = parse_invocation(&line.words).unwrap();
//! assert_eq!(inv.command, CommandId::CreateMailbox);
//! assert_eq!(inv.value("partition"), Some("default"));
//! assert_eq!(inv.args, ["user.bob"]);
//! ```
#![forbid(unsafe_code)]

pub mod app;
pub mod cache;
pub mod cli;
pub mod client;
pub mod commands;
pub mod help;
pub mod lex;
pub mod local;
pub mod murder;
pub mod output;
pub mod repl;
pub mod session;
pub mod sieve;
