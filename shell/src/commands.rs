//! The command table: every command the shell knows, and how its words are read
//! (reference §6.2, §6.3).
//!
//! One declarative table (the `command_table!` invocation below) gives each command its canonical name,
//! cyradm's aliases, its options, its positional arguments, a usage line, help and examples;
//! the [`CommandId`] enum is generated from the same table, so adding a command (cyradm's or
//! one of the murder's own) is one entry. [`parse_invocation`] resolves the words of a command
//! line against the table the way cyradm does:
//!
//! * options come before the first positional argument; the first word that is not an
//!   option, or a `--`, ends them;
//! * Tcl style `-opt` may be shortened to any prefix that names only one option (`-p` for
//!   `-partition`), and an ambiguous prefix is an error (cyradm silently takes the first
//!   match in its own order);
//! * GNU style `--opt` must be spelled in full;
//! * an option's value is always the next word, whatever it looks like.
//!
//! The second half of the module has the typed argument readers the command
//! implementations use: rights with cyradm's aliases, `setquota` pairs, metadata entry short
//! names, `setinfo` keys, and the locations of `createmailbox`, `renamemailbox` and
//! `xfermailbox`.
//!
//! ```
//! use murder_shell::commands::{parse_invocation, CommandId, UsageError};
//!
//! let inv = parse_invocation(&["rename", "user.bob", "user.bob", "backend2!default"]).unwrap();
//! assert_eq!(inv.command, CommandId::RenameMailbox);
//! let req = murder_shell::commands::rename_request(&inv, false).unwrap();
//! assert_eq!(req.location.unwrap().server(), Some("backend2"));
//!
//! let err = parse_invocation(&["lq"]).unwrap_err();
//! assert_eq!(err.to_string(), "usage: listquota root");
//! assert!(matches!(
//!     parse_invocation(&["pwd"]),
//!     Err(UsageError::UnknownCommand { .. })
//! ));
//! ```

use std::collections::BTreeMap;
use std::fmt;

use protocol::acl::{parse_cyradm_rights, AclError, Identifier, Rights, SetMode};
use protocol::mailbox::{split_rename_target, Location, NameError};
use thiserror::Error;

// ---------------------------------------------------------------------------------------------
// Table types
// ---------------------------------------------------------------------------------------------

/// Who defines a command: cyradm (kept compatible) or this project (murder extensions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A cyradm command; its names, options and output follow cyradm.
    Cyradm,
    /// A command of our own; `help` lists these apart from cyradm's.
    Murder,
}

/// One option of a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionSpec {
    /// Canonical name without dashes; the key in [`Invocation::options`].
    pub name: &'static str,
    /// Other accepted spellings (cyradm's `-cadir` for `-capath`), without dashes.
    pub also: &'static [&'static str],
    /// The value's placeholder in help (`partition`), or `None` for a flag.
    pub value: Option<&'static str>,
    /// One line for `help COMMAND`.
    pub help: &'static str,
}

impl OptionSpec {
    /// Every spelling: the canonical name first.
    pub fn spellings(&self) -> impl Iterator<Item = &'static str> {
        std::iter::once(self.name).chain(self.also.iter().copied())
    }
}

/// How many positional arguments a command takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgRule {
    /// Between `min` and `max` (unbounded when `None`).
    Range {
        /// Fewest arguments.
        min: usize,
        /// Most arguments, if bounded.
        max: Option<usize>,
    },
    /// One argument, then one or more pairs (`setaclmailbox mailbox id rights [id rights…]`).
    OneThenPairs,
    /// `setquota`: `mailbox value`, or `mailbox` then one or more `resource value` pairs.
    Quota,
}

impl ArgRule {
    /// Whether `n` positional arguments are acceptable.
    pub fn accepts(self, n: usize) -> bool {
        match self {
            ArgRule::Range { min, max } => n >= min && max.is_none_or(|m| n <= m),
            ArgRule::OneThenPairs => n >= 3 && n % 2 == 1,
            ArgRule::Quota => n == 2 || (n >= 3 && n % 2 == 1),
        }
    }
}

/// What a positional argument is, so completion can offer the right things.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    /// A mailbox name (wildcards allowed where the command iterates).
    Mailbox,
    /// A LIST pattern.
    Pattern,
    /// A LIST reference (base).
    Reference,
    /// An ACL identifier.
    Identifier,
    /// Rights letters or a cyradm alias ([`RIGHTS_ALIASES`]).
    Rights,
    /// A quota resource name ([`QuotaResource`]) or, in the short form, a value.
    QuotaResource,
    /// A quota value: a number or `none`.
    QuotaValue,
    /// A metadata entry: a short name ([`MAILBOX_ENTRIES`]) or a `/path`.
    Entry,
    /// A `setinfo` key ([`SERVER_ENTRIES`]).
    InfoKey,
    /// Free text (a metadata value).
    Text,
    /// A partition, or `server!partition`.
    Location,
    /// A partition name.
    Partition,
    /// A server host name.
    Server,
    /// A user name.
    User,
    /// A local file or directory.
    Path,
    /// A number.
    Number,
    /// A command name (for `help`).
    Command,
}

/// One command of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandSpec {
    /// The command's identity.
    pub id: CommandId,
    /// Canonical name: used in error messages (`createmailbox: …`) and usage lines.
    pub name: &'static str,
    /// Other names, exactly cyradm's.
    pub aliases: &'static [&'static str],
    /// cyradm's or ours.
    pub origin: Origin,
    /// Options, in the order help shows them.
    pub options: &'static [OptionSpec],
    /// How many positional arguments.
    pub args: ArgRule,
    /// The kinds of the positional arguments, in order.
    pub arg_kinds: &'static [ArgKind],
    /// Where the kinds start to repeat for further arguments (`id rights` pairs), if they do.
    pub repeat_from: Option<usize>,
    /// Whether the command needs a server connection (cyradm then says
    /// `<name>: no connection to server`). `server` handles this itself.
    pub needs_connection: bool,
    /// The usage text after `usage: `; a second form goes on a new line indented to match.
    pub usage: &'static str,
    /// A few words for the `help` command list.
    pub summary: &'static str,
    /// A paragraph for `help COMMAND`.
    pub help: &'static str,
    /// Example command lines, each of which parses.
    pub examples: &'static [&'static str],
}

impl CommandSpec {
    /// The line cyradm prints on a usage error: `usage: …`.
    pub fn usage_line(&self) -> String {
        format!("usage: {}", self.usage)
    }

    /// Every name: the canonical name first, then the aliases.
    pub fn names(&self) -> impl Iterator<Item = &'static str> {
        std::iter::once(self.name).chain(self.aliases.iter().copied())
    }

    /// The kind of the positional argument at `index` (0-based), if the command takes one.
    pub fn arg_kind(&self, index: usize) -> Option<ArgKind> {
        if let Some(k) = self.arg_kinds.get(index) {
            return Some(*k);
        }
        let from = self.repeat_from?;
        let cycle = self.arg_kinds.get(from..).filter(|c| !c.is_empty())?;
        let past = index.checked_sub(from)?;
        cycle.get(past % cycle.len()).copied()
    }

    /// The option called `name` (canonical).
    pub fn option(&self, name: &str) -> Option<&'static OptionSpec> {
        self.options.iter().find(|o| o.name == name)
    }
}

/// Builds [`CommandId`] and the table from one list, so a command is one entry.
macro_rules! command_table {
    ($( $(#[$doc:meta])* $id:ident { $($field:ident : $value:expr),* $(,)? } )*) => {
        /// Every command of the table.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum CommandId {
            $( $(#[$doc])* $id, )*
        }

        impl CommandId {
            /// Every command, in table order.
            pub const ALL: &'static [CommandId] = &[$(CommandId::$id),*];

            /// The command's table entry.
            pub fn spec(self) -> &'static CommandSpec {
                match self {
                    $(CommandId::$id => {
                        static SPEC: CommandSpec = CommandSpec { id: CommandId::$id, $($field: $value),* };
                        &SPEC
                    })*
                }
            }
        }
    };
}

const fn flag(name: &'static str, help: &'static str) -> OptionSpec {
    OptionSpec {
        name,
        also: &[],
        value: None,
        help,
    }
}

const fn valued(name: &'static str, value: &'static str, help: &'static str) -> OptionSpec {
    OptionSpec {
        name,
        also: &[],
        value: Some(value),
        help,
    }
}

const PARTITION_OPT: OptionSpec = valued(
    "partition",
    "partition",
    "the partition (or server!partition), instead of the last argument",
);

const PRIVATE_OPT: OptionSpec = flag(
    "private",
    "set the private (per-user) value instead of the shared one",
);

const MUPDATE_OPT: OptionSpec = OptionSpec {
    name: "mupdate",
    also: &["master"],
    value: Some("host:port"),
    help: "the MUPDATE master (default: the local murder's)",
};

const MUPDATE_USER_OPT: OptionSpec = valued(
    "mupdate-user",
    "user",
    "log in to MUPDATE as this user, with the shell's password",
);

const TOPOLOGY_OPT: OptionSpec = valued(
    "topology",
    "file",
    "the murder described by this JSON file (default: $MURDER_HOME/topology.json if it exists, else the local murder)",
);

const BACKEND_OPT: OptionSpec = valued(
    "backend",
    "list",
    "backends as NAME=HOST:PORT, comma-separated (default: the local murder's)",
);

const FRONTEND_OPT: OptionSpec = valued(
    "frontend",
    "list",
    "frontends as HOST:PORT or NAME=HOST:PORT, comma-separated",
);

const SLAVE_OPT: OptionSpec = valued(
    "slave",
    "list",
    "frontend MUPDATE slaves as NAME=HOST:PORT, comma-separated",
);

const fn range(min: usize, max: usize) -> ArgRule {
    ArgRule::Range {
        min,
        max: Some(max),
    }
}

const fn at_least(min: usize) -> ArgRule {
    ArgRule::Range { min, max: None }
}

// ---------------------------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------------------------

command_table! {
    /// `authenticate`: log in on the current connection.
    Authenticate {
        name: "authenticate",
        aliases: &["auth", "login"],
        origin: Origin::Cyradm,
        options: &[
            valued("minssf", "N", "smallest acceptable security layer strength"),
            valued("maxssf", "N", "largest security layer strength to negotiate"),
            valued("mechanisms", "list", "SASL mechanisms to try (space-separated list)"),
            valued("service", "name", "SASL service name (default imap)"),
            valued("tlskey", "keyfile", "start TLS first, presenting this client key and certificate"),
            flag("notls", "do not present a client key"),
            valued("cafile", "cacertfile", "CA certificates that verify the server"),
            OptionSpec {
                name: "capath",
                also: &["cadir"],
                value: Some("cacertdir"),
                help: "directory of CA certificates that verify the server",
            },
        ],
        args: range(0, 1),
        arg_kinds: &[ArgKind::User],
        repeat_from: None,
        needs_connection: true,
        usage: "authenticate [-minssf N] [-maxssf N] [-mechanisms list] [-service name] \
                [-tlskey keyfile] [-notls] [-cafile cacertfile] [-capath cacertdir] [user]",
        summary: "log in to the server",
        help: "Logs in on the current connection as user (by default the user named on the \
               command line), with SASL, falling back to a plain LOGIN when the server offers \
               PLAIN or LOGIN and SASL fails. The options bound the SASL negotiation and set up \
               STARTTLS. A server refuses a second login on the same connection. When the server \
               advertises MAILBOX-REFERRALS, referrals are switched on right after login, so \
               commands on mailboxes of other backends are followed there.",
        examples: &["auth cyrus", "authenticate -mechanisms PLAIN -minssf 0 admin"],
    }

    /// `chdir`: change the shell's working directory.
    Chdir {
        name: "chdir",
        aliases: &["cd"],
        origin: Origin::Cyradm,
        options: &[],
        args: range(1, 1),
        arg_kinds: &[ArgKind::Path],
        repeat_from: None,
        needs_connection: false,
        usage: "chdir directory",
        summary: "change the local working directory",
        help: "Changes the shell's own working directory, against which relative redirection \
               targets such as >out.txt are opened.",
        examples: &["cd /tmp"],
    }

    /// `createmailbox`: CREATE.
    CreateMailbox {
        name: "createmailbox",
        aliases: &["create", "cm"],
        origin: Origin::Cyradm,
        options: &[
            PARTITION_OPT,
            valued("specialuse", "specialuse", "special use of the new mailbox, such as \\Sent (needs CREATE-SPECIAL-USE)"),
        ],
        args: range(1, 2),
        arg_kinds: &[ArgKind::Mailbox, ArgKind::Location],
        repeat_from: None,
        needs_connection: true,
        usage: "createmailbox [--partition partition] [--specialuse specialuse] mailbox [partition]",
        summary: "create a mailbox",
        help: "Creates a mailbox. The partition, given either as the last argument or with \
               --partition but not both, chooses where it is stored; on a murder frontend it may \
               be server!partition, which also chooses the backend. Without one the server \
               picks. Creating user.NAME creates that user's INBOX.",
        examples: &[
            "cm user.alice",
            "cm user.bob backend2!default",
            "create --specialuse '\\Sent' user.alice.Sent",
        ],
    }

    /// `deleteaclmailbox`: DELETEACL for each identifier.
    DeleteAclMailbox {
        name: "deleteaclmailbox",
        aliases: &["deleteacl", "dam"],
        origin: Origin::Cyradm,
        options: &[],
        args: at_least(2),
        arg_kinds: &[ArgKind::Mailbox, ArgKind::Identifier],
        repeat_from: Some(1),
        needs_connection: true,
        usage: "deleteaclmailbox mailbox id [id ...]",
        summary: "remove ACL entries from a mailbox",
        help: "Removes the ACL entries of the given identifiers from a mailbox; an id of * \
               removes every entry. When the mailbox name holds * or %, the change is made on \
               every selectable mailbox that matches, reporting each one and stopping at the \
               first failure.",
        examples: &["dam user.alice bob", "deleteacl user.alice.* anyone group:staff"],
    }

    /// `deletemailbox`: DELETE.
    DeleteMailbox {
        name: "deletemailbox",
        aliases: &["delete", "dm"],
        origin: Origin::Cyradm,
        options: &[],
        args: range(1, 1),
        arg_kinds: &[ArgKind::Mailbox],
        repeat_from: None,
        needs_connection: true,
        usage: "deletemailbox mailbox",
        summary: "delete a mailbox",
        help: "Deletes a mailbox. Deleting a user's mailboxes needs the x right on them, which \
               an administrator grants itself first (setacl user.bob cyrus x). When the name \
               holds * or %, every selectable mailbox that matches is deleted, one by one, \
               stopping at the first failure.",
        examples: &["dm user.bob.Trash", "sam user.bob cyrus x; dm user.bob"],
    }

    /// `disconnect`: drop the connection.
    Disconnect {
        name: "disconnect",
        aliases: &["disc"],
        origin: Origin::Cyradm,
        options: &[],
        args: range(0, 0),
        arg_kinds: &[],
        repeat_from: None,
        needs_connection: true,
        usage: "disconnect",
        summary: "close the connection to the server",
        help: "Closes the connection to the current server; the shell keeps running and \
               server connects again.",
        examples: &["disc"],
    }

    /// `exit`: leave the shell.
    Exit {
        name: "exit",
        aliases: &["quit"],
        origin: Origin::Cyradm,
        options: &[],
        args: range(0, 1),
        arg_kinds: &[ArgKind::Number],
        repeat_from: None,
        needs_connection: false,
        usage: "exit [number]",
        summary: "leave the shell",
        help: "Leaves the shell with the given exit status, 0 by default. The end of input \
               does the same.",
        examples: &["exit", "quit 1"],
    }

    /// `getmetadata`: GETMETADATA.
    GetMetadata {
        name: "getmetadata",
        aliases: &["getmd"],
        origin: Origin::Cyradm,
        options: &[],
        args: at_least(0),
        arg_kinds: &[ArgKind::Mailbox, ArgKind::Entry],
        repeat_from: Some(1),
        needs_connection: true,
        usage: "getmetadata [mailbox [entry ...]]",
        summary: "show mailbox or server metadata",
        help: "Shows metadata of a mailbox, or of the server when no mailbox is given: the \
               named entries, or all shared and private ones. An entry is a full path such as \
               /shared/comment or one of the short names comment, expire, news2mail, \
               pop3showafter, sharedseen, sieve, specialuse and squat.",
        examples: &["getmd user.alice", "getmetadata user.alice expire /shared/comment"],
    }

    /// `help`: this help.
    Help {
        name: "help",
        aliases: &["?"],
        origin: Origin::Cyradm,
        options: &[],
        args: at_least(0),
        arg_kinds: &[ArgKind::Command],
        repeat_from: Some(0),
        needs_connection: false,
        usage: "help [command ...]",
        summary: "list commands, or describe one",
        help: "Without an argument lists every command with its aliases. With command names, \
               shows how to use each: its usage line, options, a description and examples. \
               Options in the Tcl style (-partition) may be shortened to any unambiguous prefix \
               (-p); the GNU style (--partition) must be spelled out; -- ends the options.",
        examples: &["help", "help cm"],
    }

    /// `info`: all metadata of a mailbox or the server.
    Info {
        name: "info",
        aliases: &[],
        origin: Origin::Cyradm,
        options: &[],
        args: range(0, 1),
        arg_kinds: &[ArgKind::Mailbox],
        repeat_from: None,
        needs_connection: true,
        usage: "info [mailbox]",
        summary: "show all annotations of a mailbox or the server",
        help: "Shows every shared and private metadata entry of a mailbox, or of the server \
               when no mailbox is given. Through a murder frontend this includes the backend \
               the mailbox lives on (server:).",
        examples: &["info user.alice", "info"],
    }

    /// `listacl`: GETACL.
    ListAcl {
        name: "listacl",
        aliases: &["lam", "listaclmailbox"],
        origin: Origin::Cyradm,
        options: &[],
        args: range(1, 1),
        arg_kinds: &[ArgKind::Mailbox],
        repeat_from: None,
        needs_connection: true,
        usage: "listacl mailbox",
        summary: "show the ACL of a mailbox",
        help: "Shows the access control list of a mailbox, one identifier and its rights per \
               line. When the name holds * or %, each selectable mailbox that matches is shown \
               under its name.",
        examples: &["lam user.alice", "listacl user.*"],
    }

    /// `listmailbox`: LIST, LSUB and friends.
    ListMailbox {
        name: "listmailbox",
        aliases: &["lm"],
        origin: Origin::Cyradm,
        options: &[
            flag("subscribed", "list subscribed mailboxes only"),
            flag("specialuse", "list special-use mailboxes only"),
            flag("recursivematch", "with -subscribed, also list parents of subscribed mailboxes"),
        ],
        args: range(0, 2),
        arg_kinds: &[ArgKind::Pattern, ArgKind::Reference],
        repeat_from: None,
        needs_connection: true,
        usage: "listmailbox [-subscribed] [-specialuse] [pattern [base]]",
        summary: "list mailboxes",
        help: "Lists the mailboxes whose names match pattern (default *, every mailbox; % \
               matches within one level of the hierarchy), relative to base if given. Each \
               name is followed by its attributes; names are sorted and printed in columns. \
               Nothing is printed, and the command fails, when nothing matches.",
        examples: &["lm", "lm user.%", "listmailbox -subscribed * user.alice."],
    }

    /// `listquota`: GETQUOTA.
    ListQuota {
        name: "listquota",
        aliases: &["lq"],
        origin: Origin::Cyradm,
        options: &[],
        args: range(1, 1),
        arg_kinds: &[ArgKind::Mailbox],
        repeat_from: None,
        needs_connection: true,
        usage: "listquota root",
        summary: "show a quota root's usage and limits",
        help: "Shows, for each resource of a quota root, the usage, the limit and the \
               percentage used. STORAGE counts KiB; MESSAGE counts messages.",
        examples: &["lq user.alice"],
    }

    /// `listquotaroot`: GETQUOTAROOT.
    ListQuotaRoot {
        name: "listquotaroot",
        aliases: &["lqr", "lqm"],
        origin: Origin::Cyradm,
        options: &[],
        args: range(1, 1),
        arg_kinds: &[ArgKind::Mailbox],
        repeat_from: None,
        needs_connection: true,
        usage: "listquotaroot mailbox",
        summary: "show the quota root of a mailbox",
        help: "Shows the quota root that governs a mailbox, followed by that root's usage and \
               limits.",
        examples: &["lqr user.alice.Sent"],
    }

    /// `mboxcfg`: SETMETADATA with an entry relative to /shared or /private.
    MboxCfg {
        name: "mboxcfg",
        aliases: &["mboxconfig"],
        origin: Origin::Cyradm,
        options: &[PRIVATE_OPT],
        args: range(3, 3),
        arg_kinds: &[ArgKind::Mailbox, ArgKind::Entry, ArgKind::Text],
        repeat_from: None,
        needs_connection: true,
        usage: "mboxcfg [--private] mailbox comment|expire|news2mail|pop3showafter|sharedseen|sieve|squat|/annotation value",
        summary: "set a mailbox setting",
        help: "Sets a setting of a mailbox, stored as metadata under /shared (or /private with \
               --private): comment (free text), expire (days after which cyr_expire removes \
               messages), news2mail (address that posts are mailed to), pop3showafter (POP3 \
               hides older messages), sharedseen (true: one seen state for all users), sieve \
               (script run on delivery to a shared mailbox), squat (true: index for search), or \
               an explicit /path below /shared. The value none removes the setting.",
        examples: &["mboxcfg user.alice expire 30", "mboxcfg shared.news comment 'Company news'"],
    }

    /// `reconstruct`: RECONSTRUCT.
    Reconstruct {
        name: "reconstruct",
        aliases: &[],
        origin: Origin::Cyradm,
        options: &[flag("r", "also reconstruct every mailbox below it")],
        args: range(1, 1),
        arg_kinds: &[ArgKind::Mailbox],
        repeat_from: None,
        needs_connection: true,
        usage: "reconstruct [-r] mailbox",
        summary: "rebuild a mailbox's index",
        help: "Asks the server to rebuild the index of a mailbox from its message files, and \
               with -r of every mailbox below it. A murder frontend refers the command to the \
               mailbox's backend, and the shell follows the referral.",
        examples: &["reconstruct user.alice", "reconstruct -r user.bob"],
    }

    /// `renamemailbox`: RENAME, optionally moving the mailbox.
    RenameMailbox {
        name: "renamemailbox",
        aliases: &["rename", "renm"],
        origin: Origin::Cyradm,
        options: &[PARTITION_OPT],
        args: range(2, 3),
        arg_kinds: &[ArgKind::Mailbox, ArgKind::Mailbox, ArgKind::Location],
        repeat_from: None,
        needs_connection: true,
        usage: "renamemailbox [--partition partition] oldname newname [partition]",
        summary: "rename a mailbox, or move it",
        help: "Renames a mailbox together with the mailboxes below it. A location, given as the \
               last argument or with --partition but not both, moves it as well: a partition \
               moves it on its backend, and server!partition moves it to another backend of \
               the murder, which a frontend carries out as a transfer (the name may stay the \
               same). The older form newname!server[!partition] is accepted too.",
        examples: &[
            "renm user.bob.Old user.bob.Archive",
            "rename user.bob user.bob backend1!default",
            "rename user.bob user.bob!backend2",
        ],
    }

    /// `server`: show or change the server.
    Server {
        name: "server",
        aliases: &["servername", "connect"],
        origin: Origin::Cyradm,
        options: &[flag("noauthenticate", "connect without logging in")],
        args: range(0, 1),
        arg_kinds: &[ArgKind::Server],
        repeat_from: None,
        needs_connection: false,
        usage: "server [-noauthenticate] [server]",
        summary: "show the server, or connect to another",
        help: "Without an argument shows the name of the server connected to. With one, \
               connects to that server (IMAP port 143) in place of the current one and logs in \
               with the default settings, unless -noauthenticate is given.",
        examples: &["server", "connect -noauth backend1.example.org"],
    }

    /// `setaclmailbox`: SETACL for each pair.
    SetAclMailbox {
        name: "setaclmailbox",
        aliases: &["setacl", "sam"],
        origin: Origin::Cyradm,
        options: &[],
        args: ArgRule::OneThenPairs,
        arg_kinds: &[ArgKind::Mailbox, ArgKind::Identifier, ArgKind::Rights],
        repeat_from: Some(1),
        needs_connection: true,
        usage: "setaclmailbox mailbox id rights [id rights ...]",
        summary: "set ACL entries on a mailbox",
        help: "Gives each identifier the rights that follow it on a mailbox. Rights are letters \
               (lrswipkxtea, with c and d as the legacy groups), prefixed by + to add or - to \
               remove, or one of the names none, read (lrs), post (lrsp), append (lrsip), write \
               (lrswipkxte), delete (lrxte) and all (lrswipkxtea). When the mailbox name holds \
               * or %, every selectable mailbox that matches is changed, stopping at the first \
               failure.",
        examples: &["sam user.alice bob read", "setacl user.alice.* anyone +p group:staff lrs"],
    }

    /// `setinfo`: SETMETADATA on the server.
    SetInfo {
        name: "setinfo",
        aliases: &[],
        origin: Origin::Cyradm,
        options: &[],
        args: range(2, 2),
        arg_kinds: &[ArgKind::InfoKey, ArgKind::Text],
        repeat_from: None,
        needs_connection: true,
        usage: "setinfo motd|comment|admin|shutdown|expire|squat text",
        summary: "set a server-wide setting",
        help: "Sets a server-wide setting, stored as server metadata under /shared: motd (shown \
               to users at login), comment (free text), admin (the administrator's contact), \
               shutdown (while set, the server refuses logins with this text), expire and \
               squat (server-wide defaults of the mailbox settings of the same names). The value \
               none removes the setting.",
        examples: &["setinfo motd 'Maintenance tonight at 22:00'", "setinfo shutdown none"],
    }

    /// `setmetadata`: SETMETADATA on a mailbox.
    SetMetadata {
        name: "setmetadata",
        aliases: &["setmd"],
        origin: Origin::Cyradm,
        options: &[PRIVATE_OPT],
        args: range(3, 3),
        arg_kinds: &[ArgKind::Mailbox, ArgKind::Entry, ArgKind::Text],
        repeat_from: None,
        needs_connection: true,
        usage: "setmetadata [--private] mailbox comment|expire|news2mail|pop3showafter|sharedseen|sieve|specialuse|squat|/entry value",
        summary: "set mailbox metadata",
        help: "Sets one metadata entry of a mailbox: a full path such as /shared/comment, or a \
               short name: comment and specialuse are private entries, the others (expire, \
               news2mail, pop3showafter, sharedseen, sieve, squat) are Cyrus's shared ones. \
               --private turns a /shared/ path into the matching /private/ one. The value none \
               removes the entry.",
        examples: &[
            "setmd user.alice.Sent specialuse '\\Sent'",
            "setmetadata user.alice /shared/comment 'Sales team'",
        ],
    }

    /// `setquota`: SETQUOTA.
    SetQuota {
        name: "setquota",
        aliases: &["sq"],
        origin: Origin::Cyradm,
        options: &[],
        args: ArgRule::Quota,
        arg_kinds: &[ArgKind::Mailbox, ArgKind::QuotaResource, ArgKind::QuotaValue],
        repeat_from: Some(1),
        needs_connection: true,
        usage: "setquota mailbox resource value [resource value ...]\n       setquota mailbox value|none",
        summary: "set quota limits",
        help: "Sets the limits of a quota root. Resources are STORAGE (KiB), MESSAGE (messages), \
               X-ANNOTATION-STORAGE (KiB of metadata) and X-NUM-FOLDERS (mailboxes); a value is \
               a number, or none for no limit. The short form setquota mailbox N sets STORAGE, \
               and setquota mailbox none removes the quota root's limits.",
        examples: &[
            "sq user.alice 102400",
            "setquota user.bob STORAGE 512000 MESSAGE 10000",
            "sq user.carol none",
        ],
    }

    /// `sieve`: a user's Sieve scripts over ManageSieve.
    Sieve {
        name: "sieve",
        aliases: &[],
        origin: Origin::Murder,
        options: &[
            valued("user", "user", "act for this user, authorised by the shell's login (an admin)"),
            valued("server", "host[:port]", "the ManageSieve server (default: the local murder's frontend, else the connected server on port 4190)"),
        ],
        args: range(1, 3),
        arg_kinds: &[ArgKind::Text, ArgKind::Path, ArgKind::Text],
        repeat_from: None,
        needs_connection: false,
        usage: "sieve [-user user] [-server host[:port]] list | put file [name] | put name <file | \
                get name [file] | activate name | deactivate | delete name | check file",
        summary: "manage a user's Sieve scripts",
        help: "Manages Sieve scripts over ManageSieve (RFC 5804), as sieveshell does: list them \
               (the active one marked), put a script from a file (named after the file without \
               its extension unless a name is given; with <file the script comes from the \
               redirection), get one to standard output or a file, activate one, deactivate \
               whichever is active, delete one, or check a script without storing it. Logs in \
               with the shell's credentials; -user acts for another user (AUTHENTICATE PLAIN \
               with an authorisation id, so the login must be an admin). A frontend's referral \
               to the user's backend is followed with the same credentials.",
        examples: &[
            "sieve -user alice list",
            "sieve -user alice put vacation.sieve",
            "sieve -user alice get vacation",
            "sieve -user alice activate vacation",
            "sieve -user bob -server backend1:4190 delete old",
        ],
    }

    /// `subscribe`: SUBSCRIBE.
    Subscribe {
        name: "subscribe",
        aliases: &["sub"],
        origin: Origin::Cyradm,
        options: &[],
        args: range(1, 1),
        arg_kinds: &[ArgKind::Mailbox],
        repeat_from: None,
        needs_connection: true,
        usage: "subscribe mailbox",
        summary: "subscribe to a mailbox",
        help: "Adds a mailbox to the logged-in user's subscriptions.",
        examples: &["sub shared.news"],
    }

    /// `unsubscribe`: UNSUBSCRIBE.
    Unsubscribe {
        name: "unsubscribe",
        aliases: &["unsub"],
        origin: Origin::Cyradm,
        options: &[],
        args: range(1, 1),
        arg_kinds: &[ArgKind::Mailbox],
        repeat_from: None,
        needs_connection: true,
        usage: "unsubscribe mailbox",
        summary: "unsubscribe from a mailbox",
        help: "Removes a mailbox from the logged-in user's subscriptions.",
        examples: &["unsub shared.news"],
    }

    /// `version`: ID NIL.
    Version {
        name: "version",
        aliases: &["ver"],
        origin: Origin::Cyradm,
        options: &[],
        args: range(0, 0),
        arg_kinds: &[],
        repeat_from: None,
        needs_connection: true,
        usage: "version",
        summary: "show the server's software version",
        help: "Shows what the server says about itself in answer to ID: its name, version, \
               vendor, operating system and so on.",
        examples: &["ver"],
    }

    /// `murderlist`: the master's mailbox list over MUPDATE.
    ListMurder {
        name: "murderlist",
        aliases: &["lmurder"],
        origin: Origin::Murder,
        options: &[
            MUPDATE_OPT,
            MUPDATE_USER_OPT,
            TOPOLOGY_OPT,
            valued("server", "server", "only mailboxes on this backend"),
            valued("state", "state", "only active or only reserved entries"),
        ],
        args: range(0, 1),
        arg_kinds: &[ArgKind::Pattern],
        repeat_from: None,
        needs_connection: false,
        usage: "murderlist [--topology file] [--mupdate host:port] [--mupdate-user user] [--server server] \
                [--state active|reserved] [pattern]",
        summary: "list the master's mailbox database",
        help: "Lists the MUPDATE master's database: each mailbox with its location \
               (server!partition), its state (active, or reserved during a create or move) and \
               its ACL. The pattern takes IMAP wildcards (* and %) on internal names. Entries \
               are printed as the master sends them, so a million of them stream through in \
               every output format. The master is --mupdate, else the local murder's; the \
               login is --mupdate-user with the shell's password, else the local murder's \
               admin, else the shell's user.",
        examples: &[
            "lmurder",
            "lmurder user.alice*",
            "murderlist --server backend2 --state active",
            "lmurder --mupdate mupdate.example.com:3905 --mupdate-user admin user.%",
        ],
    }

    /// `murderdiff`: compare the backends', the master's and the slaves' lists.
    DiffMurder {
        name: "murderdiff",
        aliases: &["mdiff"],
        origin: Origin::Murder,
        options: &[MUPDATE_OPT, MUPDATE_USER_OPT, BACKEND_OPT, SLAVE_OPT, TOPOLOGY_OPT],
        args: range(0, 0),
        arg_kinds: &[],
        repeat_from: None,
        needs_connection: false,
        usage: "murderdiff [--topology file] [--mupdate host:port] [--mupdate-user user] [--backend list] [--slave list]",
        summary: "compare the backends, the master and the slaves",
        help: "Compares, mailbox by mailbox, each backend's own list (its mailboxes.db, read \
               directly: run on the local murder or on the backend), the master's list (MUPDATE \
               LIST) and each frontend slave's list (its mailboxes.db, or MUPDATE LIST on the \
               slave's port with --slave). Reports mailboxes missing from the master, extra on \
               the master, at the wrong location, with an ACL that differs, held by two \
               backends, and slaves that differ from the master, then a summary line. With \
               -e, the shell's exit status is 0 in sync, 1 differences, 2 a list could not be \
               read.",
        examples: &["mdiff", "murderdiff --slave frontend=127.0.0.1:3905", "mdiff --mupdate 127.0.0.1:3905"],
    }

    /// `murderstatus`: every server up or down.
    MurderStatus {
        name: "murderstatus",
        aliases: &["mstatus"],
        origin: Origin::Murder,
        options: &[MUPDATE_OPT, BACKEND_OPT, FRONTEND_OPT, SLAVE_OPT, TOPOLOGY_OPT],
        args: range(0, 0),
        arg_kinds: &[],
        repeat_from: None,
        needs_connection: false,
        usage: "murderstatus [--topology file] [--mupdate host:port] [--backend list] [--frontend list] [--slave list]",
        summary: "show which servers of the murder are up",
        help: "Connects to every server of the murder (the master, each backend, each frontend \
               and each frontend's MUPDATE slave) and shows whether it greets, in how many \
               milliseconds, and the version its greeting names. For each slave whose frontend \
               files are on this machine it also shows the slave's connection to the master \
               (slave.state), its last full resync and its last change. One line of \
               diagnosis follows for each server down. With -e, the exit status is 1 when a \
               server is down or a slave is not connected.",
        examples: &[
            "mstatus",
            "murderstatus --mupdate 10.0.0.5:3905 --backend b1=10.0.0.6:143,b2=10.0.0.7:143",
        ],
    }

    /// `murderresync`: repair one backend's entries at the master (`ctl_mboxlist -m`).
    ResyncMurder {
        name: "murderresync",
        aliases: &["mresync"],
        origin: Origin::Murder,
        options: &[
            MUPDATE_OPT,
            MUPDATE_USER_OPT,
            TOPOLOGY_OPT,
            flag("yes", "apply the plan without asking"),
            valued("winner", "list", "MAILBOX=BACKEND,...: which copy of a mailbox held by two backends wins"),
        ],
        args: range(1, 1),
        arg_kinds: &[ArgKind::Server],
        repeat_from: None,
        needs_connection: false,
        usage: "murderresync [--topology file] [--mupdate host:port] [--yes] [--winner mailbox=backend,...] backend",
        summary: "repair the master's entries for one backend",
        help: "Compares the backend's mailboxes.db with the master as ctl_mboxlist -m does \
               and prints the plan in its words (Remove from MUPDATE, Force Activate, Remove \
               remote flag on, Remove Local Mailbox). Nothing changes without --yes (at a \
               terminal it asks). A mailbox held by two backends is left out until --winner \
               says which copy wins. After the changes, each frontend slave on this machine is \
               kicked so it catches up at once.",
        examples: &["mresync backend1", "murderresync --yes backend2", "mresync --yes --winner user.carol=backend2 backend1"],
    }

    /// `testauth`: reachability, TLS, mechanisms and identities of every server.
    TestAuth {
        name: "testauth",
        aliases: &["mtestauth"],
        origin: Origin::Murder,
        options: &[MUPDATE_OPT, MUPDATE_USER_OPT, BACKEND_OPT, FRONTEND_OPT, TOPOLOGY_OPT],
        args: range(0, 0),
        arg_kinds: &[],
        repeat_from: None,
        needs_connection: false,
        usage: "testauth [--topology file] [--mupdate host:port] [--mupdate-user user] [--backend list] [--frontend list]",
        summary: "test every server's login and the murder's identities",
        help: "For the master, each backend and each frontend: whether it is reachable (with \
               latency), its greeting, whether it offers STARTTLS, its SASL mechanisms, and a \
               login as the admin with each of PLAIN, LOGIN, SCRAM-SHA-1 and SCRAM-SHA-256 it \
               offers. Then the murder's own identities, read from the hosts' imapd.conf files \
               when they are on this machine: each backend's and the slave's mupdate_authname \
               log in to the master and are in its admins; the frontend's proxy_authname logs \
               in to each backend on behalf of a user (proxyservers) and is not in the \
               backend's admins. One line of diagnosis follows the table for each failure; \
               with -e the exit status is 1 when any check failed.",
        examples: &["testauth", "testauth --mupdate 10.0.0.5:3905 --backend b1=10.0.0.6:143"],
    }

    /// `movemailboxes`: many users or mailboxes moved to one backend, with a journal.
    MoveMailboxes {
        name: "movemailboxes",
        aliases: &["mmove", "bulkmove"],
        origin: Origin::Murder,
        options: &[
            valued("file", "file", "the users or mailboxes to move, one a line (# starts a comment)"),
            flag("mailboxes", "read every line of --file as a mailbox name, not a user"),
            PARTITION_OPT,
            valued("parallel", "N", "moves at a time, each on its own connection (default 1)"),
            valued("journal", "file", "the journal to write and resume from (default: under the state directory)"),
            flag("dry-run", "print the plan and change nothing"),
            valued("wait", "seconds", "how long to wait for a mailbox reserved at the master (default 60)"),
            FRONTEND_OPT,
            MUPDATE_OPT,
            MUPDATE_USER_OPT,
            BACKEND_OPT,
        ],
        args: range(1, 2),
        arg_kinds: &[ArgKind::Pattern, ArgKind::Server],
        repeat_from: None,
        needs_connection: false,
        usage: "movemailboxes [--dry-run] [--parallel N] [--journal file] [--partition partition] \
                --file file|pattern backend[!partition]",
        summary: "move many users or mailboxes to a backend",
        help: "Moves the users or mailboxes listed in --file (one a line: a user name, or a \
               mailbox name such as user.bob; # starts a comment), or those of the master's list \
               that match the pattern, to the backend (and partition) given last. A user moves \
               whole: any of a user's mailboxes stands for the user. Each move is Cyrus 3's \
               RENAME user.x user.x backend!partition through the frontend (the current \
               connection's server, or --frontend), N at a time with --parallel; mailboxes the \
               master already places on the target are skipped. After each move the master \
               (MUPDATE) must name the target, or the move counts as failed. A progress bar \
               shows on a terminal. The journal records each start and outcome on disk; rerun \
               the same command (or give the same --journal) to resume: what was moved is \
               skipped, and a move in flight when the run stopped is looked up at the master \
               and sent again only if the mailbox is still at its source. Ctrl-C stops \
               launching moves and waits for those in flight (a second Ctrl-C abandons them); \
               the report lists what moved, failed (with the reason), was skipped and was not \
               started. --dry-run prints the plan only. The exit status is 1 when anything \
               failed or was left undone.",
        examples: &[
            "mmove --dry-run --file users.txt backend2",
            "movemailboxes --parallel 4 --file users.txt backend2",
            "mmove user.a* backend2!p2",
            "bulkmove --mailboxes --file shared.txt --journal /var/tmp/move.jsonl backend1",
        ],
    }

    /// `localstart`: start daemons of the local murder.
    LocalStart {
        name: "localstart",
        aliases: &[],
        origin: Origin::Murder,
        options: &[],
        args: at_least(0),
        arg_kinds: &[ArgKind::Text],
        repeat_from: Some(0),
        needs_connection: false,
        usage: "localstart [daemon...]",
        summary: "start daemons of the local murder",
        help: "Starts daemons of the local murder ($MURDER_HOME) that are not running, every \
               one when none is named, and waits until each listens. The daemons are master \
               (the MUPDATE master), backend1 and backend2 (each its imapd, pop3d and lmtpd), \
               slave (the frontend's MUPDATE slave) and frontend (the frontend's proxies); \
               each is a process of its own with its log in $MURDER_HOME/log/NAME.log.",
        examples: &["localstart", "localstart backend2", "localstart master slave"],
    }

    /// `localstop`: stop daemons of the local murder.
    LocalStop {
        name: "localstop",
        aliases: &[],
        origin: Origin::Murder,
        options: &[],
        args: at_least(0),
        arg_kinds: &[ArgKind::Text],
        repeat_from: Some(0),
        needs_connection: false,
        usage: "localstop [daemon...]",
        summary: "stop daemons of the local murder",
        help: "Stops daemons of the local murder (SIGTERM, then SIGKILL after 10 s), every one \
               when none is named, leaving the others running: stop the master to see how \
               the murder copes with a master outage, or the slave to let the frontend fall \
               behind. Daemons: master, backend1, backend2, slave, frontend.",
        examples: &["localstop", "localstop backend2", "localstop master"],
    }

    /// `localrestart`: restart daemons of the local murder.
    LocalRestart {
        name: "localrestart",
        aliases: &[],
        origin: Origin::Murder,
        options: &[],
        args: at_least(0),
        arg_kinds: &[ArgKind::Text],
        repeat_from: Some(0),
        needs_connection: false,
        usage: "localrestart [daemon...]",
        summary: "restart daemons of the local murder",
        help: "Stops then starts daemons of the local murder, every one when none is named. \
               A restarted daemon rereads its imapd.conf; a restarted slave resyncs from the \
               master.",
        examples: &["localrestart", "localrestart slave"],
    }

    /// `localshow`: the local murder's daemons.
    LocalShow {
        name: "localshow",
        aliases: &["localstatus"],
        origin: Origin::Murder,
        options: &[],
        args: range(0, 0),
        arg_kinds: &[],
        repeat_from: None,
        needs_connection: false,
        usage: "localshow",
        summary: "show the local murder's daemons",
        help: "Shows each daemon of the local murder: up (running, every port answers), \
               starting or down, its pid, uptime and ports (a port of a running daemon that \
               does not answer is marked closed). With -e the exit status is 1 when a daemon \
               is not up.",
        examples: &["localshow"],
    }

    /// `locallog`: the end of a daemon's log.
    LocalLog {
        name: "locallog",
        aliases: &[],
        origin: Origin::Murder,
        options: &[OptionSpec {
            name: "lines",
            also: &["n"],
            value: Some("n"),
            help: "how many lines (default 50)",
        }],
        args: range(1, 1),
        arg_kinds: &[ArgKind::Text],
        repeat_from: None,
        needs_connection: false,
        usage: "locallog [-n lines] daemon",
        summary: "show the end of a local daemon's log",
        help: "Prints the last lines of a local murder daemon's log ($MURDER_HOME/log/NAME.log): \
               master, backend1, backend2, slave or frontend.",
        examples: &["locallog master", "locallog -n 200 backend1"],
    }

    /// `xfermailbox`: XFER.
    XferMailbox {
        name: "xfermailbox",
        aliases: &["xfer"],
        origin: Origin::Cyradm,
        options: &[PARTITION_OPT],
        args: range(2, 3),
        arg_kinds: &[ArgKind::Mailbox, ArgKind::Server, ArgKind::Partition],
        repeat_from: None,
        needs_connection: true,
        usage: "xfermailbox [--partition partition] mailbox server [partition]",
        summary: "move a mailbox to another backend",
        help: "Moves a mailbox (for user.NAME, all of that user's mailboxes) to another backend \
               server, onto the given partition there or its default one. The transfer runs on \
               the backend that holds the mailbox, so connect to that backend; through a \
               frontend, use rename with a server!partition location instead.",
        examples: &["xfer user.bob backend2", "xfermailbox user.bob backend2 default"],
    }
}

impl CommandId {
    /// The canonical name.
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// The text after `usage: `.
    pub fn usage(self) -> &'static str {
        self.spec().usage
    }
}

impl fmt::Display for CommandId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Every command's table entry, in table order.
pub fn all_commands() -> impl Iterator<Item = &'static CommandSpec> {
    CommandId::ALL.iter().map(|id| id.spec())
}

/// Finds a command by its canonical name or an alias (exact, case-sensitive, as cyradm).
pub fn lookup(name: &str) -> Option<&'static CommandSpec> {
    all_commands().find(|c| c.names().any(|n| n == name))
}

// ---------------------------------------------------------------------------------------------
// Resolving a command line
// ---------------------------------------------------------------------------------------------

/// An option's value in an [`Invocation`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionValue {
    /// A flag that was given.
    Flag,
    /// An option with its value.
    Value(String),
}

/// A command line resolved against the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// Which command.
    pub command: CommandId,
    /// The options given, by canonical name; a repeated option keeps its last value.
    pub options: BTreeMap<&'static str, OptionValue>,
    /// The positional arguments.
    pub args: Vec<String>,
}

impl Invocation {
    /// Whether the option `name` (canonical) was given.
    pub fn flag(&self, name: &str) -> bool {
        self.options.contains_key(name)
    }

    /// The value of the option `name` (canonical), if given with one.
    pub fn value(&self, name: &str) -> Option<&str> {
        match self.options.get(name) {
            Some(OptionValue::Value(v)) => Some(v),
            _ => None,
        }
    }

    /// The command's table entry.
    pub fn spec(&self) -> &'static CommandSpec {
        self.command.spec()
    }
}

/// Why a command line does not resolve.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UsageError {
    /// No words at all.
    #[error("no command given")]
    Empty,
    /// The first word is no command or alias. (cyradm runs such lines with `/bin/sh`; this
    /// shell does not.)
    #[error("unknown command {name}; try help")]
    UnknownCommand {
        /// The word given.
        name: String,
    },
    /// An option the command does not have.
    #[error("{command}: unknown option {option}\nusage: {}", .command.usage())]
    UnknownOption {
        /// The command.
        command: CommandId,
        /// The option as written.
        option: String,
    },
    /// A Tcl-style prefix that fits more than one option.
    #[error(
        "{command}: option {option} is ambiguous (it could be {})\nusage: {}",
        candidates.iter().map(|c| format!("-{c}")).collect::<Vec<_>>().join(", "),
        .command.usage()
    )]
    AmbiguousOption {
        /// The command.
        command: CommandId,
        /// The option as written.
        option: String,
        /// The canonical names it could mean.
        candidates: Vec<&'static str>,
    },
    /// An option that takes a value, at the end of the line.
    #[error("{command}: option -{option} needs a value\nusage: {}", .command.usage())]
    MissingValue {
        /// The command.
        command: CommandId,
        /// The option's canonical name.
        option: &'static str,
    },
    /// Too few or too many positional arguments: cyradm's plain `usage:` line.
    #[error("usage: {}", .command.usage())]
    WrongArgCount {
        /// The command.
        command: CommandId,
        /// How many positional arguments were given.
        given: usize,
    },
}

impl UsageError {
    /// The command concerned, once the first word has resolved.
    pub fn command(&self) -> Option<CommandId> {
        match self {
            UsageError::Empty | UsageError::UnknownCommand { .. } => None,
            UsageError::UnknownOption { command, .. }
            | UsageError::AmbiguousOption { command, .. }
            | UsageError::MissingValue { command, .. }
            | UsageError::WrongArgCount { command, .. } => Some(*command),
        }
    }

    /// The `usage: …` line to show, when a command is concerned.
    pub fn usage_line(&self) -> Option<String> {
        self.command().map(|c| c.spec().usage_line())
    }
}

/// How one word in the option position reads.
enum OptWord {
    /// `--`: options end here.
    End,
    /// An option.
    Opt(&'static OptionSpec),
    /// Not an option: the first positional argument.
    Positional,
}

/// Reads `word` as an option of `spec`, with cyradm's two styles.
fn classify(spec: &'static CommandSpec, word: &str) -> Result<OptWord, UsageError> {
    if word == "--" {
        return Ok(OptWord::End);
    }
    let unknown = || UsageError::UnknownOption {
        command: spec.id,
        option: word.to_string(),
    };
    if let Some(long) = word.strip_prefix("--") {
        return spec
            .options
            .iter()
            .find(|o| o.spellings().any(|s| s == long))
            .map(OptWord::Opt)
            .ok_or_else(unknown);
    }
    let Some(short) = word.strip_prefix('-') else {
        return Ok(OptWord::Positional);
    };
    if short.is_empty() {
        return Err(unknown());
    }
    // An exact spelling wins even when it is also a prefix of another option.
    if let Some(o) = spec
        .options
        .iter()
        .find(|o| o.spellings().any(|s| s == short))
    {
        return Ok(OptWord::Opt(o));
    }
    let matches: Vec<&'static OptionSpec> = spec
        .options
        .iter()
        .filter(|o| o.spellings().any(|s| s.starts_with(short)))
        .collect();
    match matches.as_slice() {
        [] => Err(unknown()),
        [one] => Ok(OptWord::Opt(one)),
        many => Err(UsageError::AmbiguousOption {
            command: spec.id,
            option: word.to_string(),
            candidates: many.iter().map(|o| o.name).collect(),
        }),
    }
}

/// Resolves the words of one command line (as [`crate::lex::CommandLine::words`]) against
/// the table.
pub fn parse_invocation<S: AsRef<str>>(words: &[S]) -> Result<Invocation, UsageError> {
    let Some((first, rest)) = words.split_first() else {
        return Err(UsageError::Empty);
    };
    let name = first.as_ref();
    let spec = lookup(name).ok_or_else(|| UsageError::UnknownCommand {
        name: name.to_string(),
    })?;
    let mut options = BTreeMap::new();
    let mut args = Vec::new();
    let mut iter = rest.iter().map(AsRef::as_ref);
    while let Some(word) = iter.next() {
        match classify(spec, word)? {
            OptWord::End => break,
            OptWord::Positional => {
                args.push(word.to_string());
                break;
            }
            OptWord::Opt(o) => {
                let value = match o.value {
                    None => OptionValue::Flag,
                    Some(_) => match iter.next() {
                        Some(v) => OptionValue::Value(v.to_string()),
                        None => {
                            return Err(UsageError::MissingValue {
                                command: spec.id,
                                option: o.name,
                            })
                        }
                    },
                };
                options.insert(o.name, value);
            }
        }
    }
    args.extend(iter.map(str::to_string));
    if !spec.args.accepts(args.len()) {
        return Err(UsageError::WrongArgCount {
            command: spec.id,
            given: args.len(),
        });
    }
    Ok(Invocation {
        command: spec.id,
        options,
        args,
    })
}

// ---------------------------------------------------------------------------------------------
// Completion
// ---------------------------------------------------------------------------------------------

/// What the word being completed is, given the words before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompletionContext {
    /// The command name.
    Command,
    /// The value of an option.
    OptionValue {
        /// The command.
        command: CommandId,
        /// The option's canonical name.
        option: &'static str,
    },
    /// An option or a positional argument: options are still allowed here.
    OptionOrArg {
        /// The command.
        command: CommandId,
        /// The positional index the word would have if it is not an option.
        index: usize,
    },
    /// A positional argument, after the options have ended.
    Arg {
        /// The command.
        command: CommandId,
        /// Its positional index, from 0.
        index: usize,
    },
    /// The first word is no command; nothing to offer.
    Unknown,
}

/// Works out what the next word of a command line is, from the words before it. The lead's
/// completer uses this to decide when to complete mailbox names
/// ([`CommandSpec::arg_kind`] of the index).
pub fn completion_context<S: AsRef<str>>(prefix_words: &[S]) -> CompletionContext {
    let Some((first, rest)) = prefix_words.split_first() else {
        return CompletionContext::Command;
    };
    let Some(spec) = lookup(first.as_ref()) else {
        return CompletionContext::Unknown;
    };
    let mut options_open = true;
    let mut pending: Option<&'static str> = None;
    let mut index = 0usize;
    for word in rest.iter().map(AsRef::as_ref) {
        if pending.take().is_some() {
            continue;
        }
        if options_open {
            match classify(spec, word) {
                Ok(OptWord::End) => options_open = false,
                Ok(OptWord::Opt(o)) => pending = o.value.map(|_| o.name),
                Ok(OptWord::Positional) => {
                    options_open = false;
                    index = index.saturating_add(1);
                }
                // A bad option is skipped: completion should still help with what follows.
                Err(_) => {}
            }
        } else {
            index = index.saturating_add(1);
        }
    }
    match pending {
        Some(option) => CompletionContext::OptionValue {
            command: spec.id,
            option,
        },
        None if options_open => CompletionContext::OptionOrArg {
            command: spec.id,
            index,
        },
        None => CompletionContext::Arg {
            command: spec.id,
            index,
        },
    }
}

/// Completions of `partial` from the table: command names and aliases for the first word
/// (and for `help`'s arguments), option names where options may appear (`-x` completes to
/// Tcl style, `--x` to GNU style), and the fixed keywords of some arguments (rights aliases,
/// quota resources, metadata short names, setinfo keys). Mailbox names are not completed
/// here. The result is sorted and has no duplicates.
pub fn completion_candidates(prefix_words: &[String], partial: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut offer = |cands: &mut dyn Iterator<Item = String>| {
        out.extend(cands.filter(|c| c.starts_with(partial)));
    };
    let ctx = completion_context(prefix_words);
    let (command, index, options_open) = match ctx {
        CompletionContext::Command => {
            offer(&mut all_commands().flat_map(|c| c.names()).map(str::to_string));
            (None, 0, false)
        }
        CompletionContext::OptionOrArg { command, index } => (Some(command), index, true),
        CompletionContext::Arg { command, index } => (Some(command), index, false),
        CompletionContext::OptionValue { .. } | CompletionContext::Unknown => (None, 0, false),
    };
    if let Some(command) = command {
        let spec = command.spec();
        if options_open && partial.starts_with('-') {
            let dashes = if partial.starts_with("--") { "--" } else { "-" };
            offer(
                &mut spec
                    .options
                    .iter()
                    .flat_map(|o| o.spellings())
                    .map(|s| format!("{dashes}{s}")),
            );
        } else {
            let words: &[&str] = match spec.arg_kind(index) {
                Some(ArgKind::Command) => &[],
                Some(ArgKind::Rights) => &RIGHTS_ALIASES,
                Some(ArgKind::QuotaResource) => &QUOTA_RESOURCE_NAMES,
                Some(ArgKind::Entry) if command == CommandId::MboxCfg => &MBOXCFG_ENTRY_NAMES,
                Some(ArgKind::Entry) => &MAILBOX_ENTRY_NAMES,
                Some(ArgKind::InfoKey) => &SERVER_ENTRY_NAMES,
                _ => &[],
            };
            offer(&mut words.iter().map(|s| s.to_string()));
            if spec.arg_kind(index) == Some(ArgKind::Command) {
                offer(&mut all_commands().flat_map(|c| c.names()).map(str::to_string));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

// ---------------------------------------------------------------------------------------------
// Typed arguments
// ---------------------------------------------------------------------------------------------

/// Why an argument's value is unacceptable.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ArgError {
    /// Rights that are neither letters nor an alias.
    #[error("{arg}: {source} (rights are letters lrswipkxtea, or none, read, post, append, write, delete, all)")]
    BadRights {
        /// The argument.
        arg: String,
        /// What is wrong.
        source: AclError,
    },
    /// An ACL identifier that is not valid.
    #[error("{arg}: {source}")]
    BadIdentifier {
        /// The argument.
        arg: String,
        /// What is wrong.
        source: AclError,
    },
    /// `setaclmailbox` with an identifier and no rights after it.
    #[error("identifier {0} has no rights after it")]
    UnpairedIdentifier(String),
    /// A quota resource name that is none of the four Cyrus knows.
    #[error(
        "{0}: not a quota resource (use STORAGE, MESSAGE, X-ANNOTATION-STORAGE or X-NUM-FOLDERS)"
    )]
    BadQuotaResource(String),
    /// A quota value that is not a whole number or `none`.
    #[error("{resource}: {value}: not a number (a quota value is a whole number or none)")]
    BadQuotaValue {
        /// The resource it was for.
        resource: String,
        /// The value given.
        value: String,
    },
    /// The same quota resource twice.
    #[error("quota resource {0} given twice")]
    DuplicateQuotaResource(QuotaResource),
    /// A metadata short name the command does not know, that is not a `/path` either.
    #[error("unknown entry {name}; use one of {expected} or a /path")]
    UnknownEntry {
        /// The name given.
        name: String,
        /// The short names the command accepts.
        expected: &'static str,
    },
    /// A location (partition or `server!partition`) or server name that is not valid.
    #[error("{arg}: {source}")]
    BadLocation {
        /// The argument.
        arg: String,
        /// What is wrong.
        source: NameError,
    },
    /// A location given in more than one way (argument, `--partition`, `name!server`).
    #[error("{command}: the location is given twice")]
    LocationTwice {
        /// The command.
        command: CommandId,
    },
    /// An argument the command needs is missing (only when an [`Invocation`] was built by
    /// hand; [`parse_invocation`] checks the counts).
    #[error("{command}: missing {what}")]
    Missing {
        /// The command.
        command: CommandId,
        /// What is missing.
        what: &'static str,
    },
    /// A helper called with an invocation of another command.
    #[error("{got} is not {expected}")]
    WrongCommand {
        /// The command the helper reads.
        expected: CommandId,
        /// The invocation's command.
        got: CommandId,
    },
}

/// cyradm's rights aliases, in the order `help` lists them.
pub const RIGHTS_ALIASES: [&str; 7] = ["none", "read", "post", "append", "write", "delete", "all"];

/// Reads a rights argument: a cyradm alias, or letters with an optional `+`/`-` prefix.
pub fn parse_rights(arg: &str) -> Result<(SetMode, Rights), ArgError> {
    parse_cyradm_rights(arg).map_err(|source| ArgError::BadRights {
        arg: arg.to_string(),
        source,
    })
}

/// One `id rights` pair of `setaclmailbox`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclChange {
    /// Whose entry.
    pub identifier: Identifier,
    /// Replace, add to or remove from the entry.
    pub mode: SetMode,
    /// The rights.
    pub rights: Rights,
}

fn identifier(arg: &str) -> Result<Identifier, ArgError> {
    Identifier::new(arg).map_err(|source| ArgError::BadIdentifier {
        arg: arg.to_string(),
        source,
    })
}

/// Reads `setaclmailbox`'s `id rights [id rights …]` (the arguments after the mailbox).
pub fn parse_acl_pairs<S: AsRef<str>>(args: &[S]) -> Result<Vec<AclChange>, ArgError> {
    let mut out = Vec::new();
    let mut iter = args.iter().map(AsRef::as_ref);
    while let Some(id) = iter.next() {
        let rights = iter
            .next()
            .ok_or_else(|| ArgError::UnpairedIdentifier(id.to_string()))?;
        let (mode, rights) = parse_rights(rights)?;
        out.push(AclChange {
            identifier: identifier(id)?,
            mode,
            rights,
        });
    }
    Ok(out)
}

/// What `deleteaclmailbox` removes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AclTargets {
    /// `*`: every entry of the ACL (the implementation lists the ACL first).
    All,
    /// These identifiers' entries.
    Ids(Vec<Identifier>),
}

/// Reads `deleteaclmailbox`'s identifiers (the arguments after the mailbox); a `*` among
/// them means every entry.
pub fn parse_deleteacl_ids<S: AsRef<str>>(args: &[S]) -> Result<AclTargets, ArgError> {
    if args.iter().any(|a| a.as_ref() == "*") {
        return Ok(AclTargets::All);
    }
    args.iter()
        .map(|a| identifier(a.as_ref()))
        .collect::<Result<Vec<_>, _>>()
        .map(AclTargets::Ids)
}

/// A quota resource Cyrus 3.6 knows (it advertises them as `X-QUOTA=…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum QuotaResource {
    /// `STORAGE`, in KiB.
    Storage,
    /// `MESSAGE`: number of messages.
    Message,
    /// `X-ANNOTATION-STORAGE`, in KiB.
    AnnotationStorage,
    /// `X-NUM-FOLDERS`: number of mailboxes.
    NumFolders,
}

/// The resource names, for completion.
pub const QUOTA_RESOURCE_NAMES: [&str; 4] = [
    "STORAGE",
    "MESSAGE",
    "X-ANNOTATION-STORAGE",
    "X-NUM-FOLDERS",
];

impl QuotaResource {
    /// The name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            QuotaResource::Storage => "STORAGE",
            QuotaResource::Message => "MESSAGE",
            QuotaResource::AnnotationStorage => "X-ANNOTATION-STORAGE",
            QuotaResource::NumFolders => "X-NUM-FOLDERS",
        }
    }

    /// Reads a resource name, in any case.
    pub fn parse(s: &str) -> Result<Self, ArgError> {
        [
            QuotaResource::Storage,
            QuotaResource::Message,
            QuotaResource::AnnotationStorage,
            QuotaResource::NumFolders,
        ]
        .into_iter()
        .find(|r| r.as_str().eq_ignore_ascii_case(s))
        .ok_or_else(|| ArgError::BadQuotaResource(s.to_string()))
    }
}

impl fmt::Display for QuotaResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A quota limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaValue {
    /// A limit (KiB or a count, by resource). At most `i64::MAX`, Cyrus's quota type.
    Limit(u64),
    /// `none`: no limit for this resource.
    Unlimited,
}

impl QuotaValue {
    fn parse(resource: &str, value: &str) -> Result<Self, ArgError> {
        if value.eq_ignore_ascii_case("none") {
            return Ok(QuotaValue::Unlimited);
        }
        let bad = || ArgError::BadQuotaValue {
            resource: resource.to_string(),
            value: value.to_string(),
        };
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let n: u64 = value.parse().map_err(|_| bad())?;
        if n > i64::MAX.unsigned_abs() {
            return Err(bad());
        }
        Ok(QuotaValue::Limit(n))
    }
}

/// What `setquota` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuotaChange {
    /// `setquota mailbox none`: remove every limit (`SETQUOTA mailbox ()`).
    RemoveAll,
    /// Set these limits; [`QuotaValue::Unlimited`] ones are lifted.
    Set(Vec<(QuotaResource, QuotaValue)>),
}

/// A parsed `setquota` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaRequest {
    /// The quota root.
    pub root: String,
    /// The change.
    pub change: QuotaChange,
    /// Written in the short form `setquota root N|none`, after which cyradm prints a notice.
    pub short_form: bool,
}

impl QuotaRequest {
    /// The line cyradm prints before sending the short form: `quota:N` or `remove quota`.
    pub fn cyradm_notice(&self) -> Option<String> {
        if !self.short_form {
            return None;
        }
        match &self.change {
            QuotaChange::RemoveAll => Some("remove quota".to_string()),
            QuotaChange::Set(pairs) => match pairs.as_slice() {
                [(_, QuotaValue::Limit(n))] => Some(format!("quota:{n}")),
                _ => None,
            },
        }
    }
}

/// Reads `setquota`'s positional arguments (the quota root first).
pub fn parse_setquota<S: AsRef<str>>(args: &[S]) -> Result<QuotaRequest, ArgError> {
    let Some((root, rest)) = args.split_first() else {
        return Err(ArgError::Missing {
            command: CommandId::SetQuota,
            what: "the quota root",
        });
    };
    let root = root.as_ref().to_string();
    if let [value] = rest {
        let value = value.as_ref();
        let change = if value.eq_ignore_ascii_case("none") {
            QuotaChange::RemoveAll
        } else {
            QuotaChange::Set(vec![(
                QuotaResource::Storage,
                QuotaValue::parse("STORAGE", value)?,
            )])
        };
        return Ok(QuotaRequest {
            root,
            change,
            short_form: true,
        });
    }
    if rest.is_empty() {
        return Err(ArgError::Missing {
            command: CommandId::SetQuota,
            what: "a value",
        });
    }
    let mut pairs: Vec<(QuotaResource, QuotaValue)> = Vec::new();
    let mut iter = rest.iter().map(AsRef::as_ref);
    while let Some(name) = iter.next() {
        let resource = QuotaResource::parse(name)?;
        let value = iter.next().ok_or(ArgError::Missing {
            command: CommandId::SetQuota,
            what: "a value after the last resource",
        })?;
        if pairs.iter().any(|(r, _)| *r == resource) {
            return Err(ArgError::DuplicateQuotaResource(resource));
        }
        pairs.push((resource, QuotaValue::parse(name, value)?));
    }
    Ok(QuotaRequest {
        root,
        change: QuotaChange::Set(pairs),
        short_form: false,
    })
}

/// A metadata short name and where each command puts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryName {
    /// The short name.
    pub short: &'static str,
    /// The path `mboxcfg` prefixes with `/shared` or `/private`, if `mboxcfg` knows the name.
    pub mboxcfg: Option<&'static str>,
    /// The full path `getmetadata` and `setmetadata` use.
    pub metadata: &'static str,
}

/// The mailbox entry short names of `getmetadata`, `setmetadata` and `mboxcfg` (from
/// cyradm's `Admin.pm`). Note that `comment` and `specialuse` are private entries for the
/// metadata commands but `comment` is shared for `mboxcfg`.
pub const MAILBOX_ENTRIES: [EntryName; 8] = [
    EntryName {
        short: "comment",
        mboxcfg: Some("/comment"),
        metadata: "/private/comment",
    },
    EntryName {
        short: "expire",
        mboxcfg: Some("/vendor/cmu/cyrus-imapd/expire"),
        metadata: "/shared/vendor/cmu/cyrus-imapd/expire",
    },
    EntryName {
        short: "news2mail",
        mboxcfg: Some("/vendor/cmu/cyrus-imapd/news2mail"),
        metadata: "/shared/vendor/cmu/cyrus-imapd/news2mail",
    },
    EntryName {
        short: "pop3showafter",
        mboxcfg: Some("/vendor/cmu/cyrus-imapd/pop3showafter"),
        metadata: "/shared/vendor/cmu/cyrus-imapd/pop3showafter",
    },
    EntryName {
        short: "sharedseen",
        mboxcfg: Some("/vendor/cmu/cyrus-imapd/sharedseen"),
        metadata: "/shared/vendor/cmu/cyrus-imapd/sharedseen",
    },
    EntryName {
        short: "sieve",
        mboxcfg: Some("/vendor/cmu/cyrus-imapd/sieve"),
        metadata: "/shared/vendor/cmu/cyrus-imapd/sieve",
    },
    EntryName {
        short: "specialuse",
        mboxcfg: None,
        metadata: "/private/specialuse",
    },
    EntryName {
        short: "squat",
        mboxcfg: Some("/vendor/cmu/cyrus-imapd/squat"),
        metadata: "/shared/vendor/cmu/cyrus-imapd/squat",
    },
];

/// The short names of [`MAILBOX_ENTRIES`], for completion.
pub const MAILBOX_ENTRY_NAMES: [&str; 8] = [
    "comment",
    "expire",
    "news2mail",
    "pop3showafter",
    "sharedseen",
    "sieve",
    "specialuse",
    "squat",
];

/// The short names `mboxcfg` knows, for completion.
pub const MBOXCFG_ENTRY_NAMES: [&str; 7] = [
    "comment",
    "expire",
    "news2mail",
    "pop3showafter",
    "sharedseen",
    "sieve",
    "squat",
];

/// `setinfo`'s keys and their paths below `/shared` on the server.
pub const SERVER_ENTRIES: [(&str, &str); 6] = [
    ("motd", "/motd"),
    ("comment", "/comment"),
    ("admin", "/admin"),
    ("shutdown", "/vendor/cmu/cyrus-imapd/shutdown"),
    ("expire", "/vendor/cmu/cyrus-imapd/expire"),
    ("squat", "/vendor/cmu/cyrus-imapd/squat"),
];

/// The keys of [`SERVER_ENTRIES`], for completion.
pub const SERVER_ENTRY_NAMES: [&str; 6] =
    ["motd", "comment", "admin", "shutdown", "expire", "squat"];

fn mailbox_entry(name: &str) -> Option<&'static EntryName> {
    MAILBOX_ENTRIES.iter().find(|e| e.short == name)
}

/// The entry `getmetadata` asks for: a short name's full path, anything else as given.
pub fn getmetadata_entry(name: &str) -> String {
    mailbox_entry(name).map_or_else(|| name.to_string(), |e| e.metadata.to_string())
}

/// The entry `setmetadata` sets: a short name's full path or an explicit `/path`; with
/// `--private`, a leading `/shared/` becomes `/private/`.
pub fn setmetadata_entry(name: &str, private: bool) -> Result<String, ArgError> {
    let path = match mailbox_entry(name) {
        Some(e) => e.metadata.to_string(),
        None if name.starts_with('/') => name.to_string(),
        None => return Err(ArgError::UnknownEntry {
            name: name.to_string(),
            expected:
                "comment, expire, news2mail, pop3showafter, sharedseen, sieve, specialuse, squat",
        }),
    };
    if private {
        let shared = path
            .get(..8)
            .is_some_and(|p| p.eq_ignore_ascii_case("/shared/"));
        if shared {
            return Ok(format!("/private/{}", path.get(8..).unwrap_or("")));
        }
    }
    Ok(path)
}

/// The entry `mboxcfg` sets: a short name's path or an explicit `/path`, below `/shared`, or
/// below `/private` with `--private`.
pub fn mboxcfg_entry(name: &str, private: bool) -> Result<String, ArgError> {
    let rel = match mailbox_entry(name).and_then(|e| e.mboxcfg) {
        Some(rel) => rel,
        None if name.starts_with('/') => name,
        None => {
            return Err(ArgError::UnknownEntry {
                name: name.to_string(),
                expected: "comment, expire, news2mail, pop3showafter, sharedseen, sieve, squat",
            })
        }
    };
    let base = if private { "/private" } else { "/shared" };
    Ok(format!("{base}{rel}"))
}

/// The server entry `setinfo` sets: a key's path or an explicit `/path`, below `/shared`.
pub fn setinfo_entry(key: &str) -> Result<String, ArgError> {
    let rel = match SERVER_ENTRIES.iter().find(|(k, _)| *k == key) {
        Some((_, rel)) => rel,
        None if key.starts_with('/') => key,
        None => {
            return Err(ArgError::UnknownEntry {
                name: key.to_string(),
                expected: "motd, comment, admin, shutdown, expire, squat",
            })
        }
    };
    Ok(format!("/shared{rel}"))
}

/// A metadata value as cyradm sends it: `none` removes the entry (NIL).
pub fn metadata_value(value: &str) -> Option<&str> {
    (value != "none").then_some(value)
}

fn check_command(inv: &Invocation, expected: CommandId) -> Result<(), ArgError> {
    if inv.command == expected {
        Ok(())
    } else {
        Err(ArgError::WrongCommand {
            expected,
            got: inv.command,
        })
    }
}

fn arg(inv: &Invocation, i: usize, what: &'static str) -> Result<String, ArgError> {
    inv.args.get(i).cloned().ok_or(ArgError::Missing {
        command: inv.command,
        what,
    })
}

fn location(
    arg: &str,
    parse: fn(&str) -> Result<Location, NameError>,
) -> Result<Location, ArgError> {
    parse(arg).map_err(|source| ArgError::BadLocation {
        arg: arg.to_string(),
        source,
    })
}

/// Where `createmailbox` puts the mailbox: the last argument or `--partition`, each a
/// partition or `server!partition`; `None` lets the server choose.
pub fn create_location(inv: &Invocation) -> Result<Option<Location>, ArgError> {
    check_command(inv, CommandId::CreateMailbox)?;
    match (inv.value("partition"), inv.args.get(1)) {
        (Some(_), Some(_)) => Err(ArgError::LocationTwice {
            command: inv.command,
        }),
        (Some(p), None) => location(p, Location::parse_create_arg).map(Some),
        (None, Some(p)) => location(p, Location::parse_create_arg).map(Some),
        (None, None) => Ok(None),
    }
}

/// A parsed `renamemailbox`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenameRequest {
    /// The current name.
    pub old: String,
    /// The new name (without any `!server` suffix).
    pub new: String,
    /// Where to move it, if anywhere.
    pub location: Option<Location>,
}

/// Reads `renamemailbox`: the location comes from the third argument, from `--partition`,
/// or from a `newname!server[!partition]` suffix (with `virtdomains`, the second `!` ends the
/// name), and only one of them may be given.
pub fn rename_request(inv: &Invocation, virtdomains: bool) -> Result<RenameRequest, ArgError> {
    check_command(inv, CommandId::RenameMailbox)?;
    let old = arg(inv, 0, "the old name")?;
    let target = arg(inv, 1, "the new name")?;
    let (new, suffix) =
        split_rename_target(&target, virtdomains).map_err(|source| ArgError::BadLocation {
            arg: target.clone(),
            source,
        })?;
    let explicit = match (inv.value("partition"), inv.args.get(2).map(String::as_str)) {
        (Some(_), Some(_)) => {
            return Err(ArgError::LocationTwice {
                command: inv.command,
            })
        }
        (Some(p), None) | (None, Some(p)) => Some(location(p, Location::parse_rename_arg)?),
        (None, None) => None,
    };
    let location = match (suffix, explicit) {
        (Some(_), Some(_)) => {
            return Err(ArgError::LocationTwice {
                command: inv.command,
            })
        }
        (a, b) => a.or(b),
    };
    Ok(RenameRequest {
        old,
        new: new.to_string(),
        location,
    })
}

/// A parsed `xfermailbox`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XferRequest {
    /// The mailbox to move.
    pub mailbox: String,
    /// The destination: always a server, and a partition if one was given.
    pub location: Location,
}

/// Reads `xfermailbox`: the server argument may itself be `server!partition`; otherwise the
/// partition comes from the third argument or `--partition`.
pub fn xfer_request(inv: &Invocation) -> Result<XferRequest, ArgError> {
    check_command(inv, CommandId::XferMailbox)?;
    let mailbox = arg(inv, 0, "the mailbox")?;
    let server = arg(inv, 1, "the server")?;
    let dest = location(&server, Location::parse_server_form)?;
    let partition = match (inv.value("partition"), inv.args.get(2).map(String::as_str)) {
        (Some(_), Some(_)) => {
            return Err(ArgError::LocationTwice {
                command: inv.command,
            })
        }
        (Some(p), None) | (None, Some(p)) => Some(p),
        (None, None) => None,
    };
    let location = match (dest.partition(), partition) {
        (Some(_), Some(_)) => {
            return Err(ArgError::LocationTwice {
                command: inv.command,
            })
        }
        (_, Some(p)) => {
            Location::new(dest.server(), Some(p)).map_err(|source| ArgError::BadLocation {
                arg: p.to_string(),
                source,
            })?
        }
        (_, None) => dest,
    };
    Ok(XferRequest { mailbox, location })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lex::tokenize;
    use proptest::prelude::*;

    fn inv(words: &[&str]) -> Invocation {
        parse_invocation(words).unwrap_or_else(|e| panic!("{words:?}: {e}"))
    }

    fn err(words: &[&str]) -> UsageError {
        parse_invocation(words).expect_err(&format!("{words:?} should fail"))
    }

    /// Our own murder commands are left out: they are checked where they are added.
    fn cyradm_count() -> usize {
        all_commands()
            .filter(|c| c.origin == Origin::Cyradm)
            .count()
    }

    /// The brief's list of every command and alias (reference §6.3).
    const EXPECTED: &[(CommandId, &[&str])] = &[
        (CommandId::Authenticate, &["authenticate", "auth", "login"]),
        (CommandId::Chdir, &["chdir", "cd"]),
        (CommandId::CreateMailbox, &["createmailbox", "create", "cm"]),
        (
            CommandId::DeleteAclMailbox,
            &["deleteaclmailbox", "deleteacl", "dam"],
        ),
        (CommandId::DeleteMailbox, &["deletemailbox", "delete", "dm"]),
        (CommandId::Disconnect, &["disconnect", "disc"]),
        (CommandId::Exit, &["exit", "quit"]),
        (CommandId::GetMetadata, &["getmetadata", "getmd"]),
        (CommandId::Help, &["help", "?"]),
        (CommandId::Info, &["info"]),
        (CommandId::ListAcl, &["listacl", "lam", "listaclmailbox"]),
        (CommandId::ListMailbox, &["listmailbox", "lm"]),
        (CommandId::ListQuota, &["listquota", "lq"]),
        (CommandId::ListQuotaRoot, &["listquotaroot", "lqr", "lqm"]),
        (CommandId::MboxCfg, &["mboxcfg", "mboxconfig"]),
        (CommandId::Reconstruct, &["reconstruct"]),
        (
            CommandId::RenameMailbox,
            &["renamemailbox", "rename", "renm"],
        ),
        (CommandId::Server, &["server", "servername", "connect"]),
        (
            CommandId::SetAclMailbox,
            &["setaclmailbox", "setacl", "sam"],
        ),
        (CommandId::SetInfo, &["setinfo"]),
        (CommandId::SetMetadata, &["setmetadata", "setmd"]),
        (CommandId::SetQuota, &["setquota", "sq"]),
        (CommandId::Subscribe, &["subscribe", "sub"]),
        (CommandId::Unsubscribe, &["unsubscribe", "unsub"]),
        (CommandId::Version, &["version", "ver"]),
        (CommandId::XferMailbox, &["xfermailbox", "xfer"]),
    ];

    #[test]
    fn every_command_and_alias_resolves() {
        assert_eq!(EXPECTED.len(), cyradm_count());
        for (id, names) in EXPECTED {
            let spec = id.spec();
            assert_eq!(spec.id, *id);
            assert_eq!(spec.names().collect::<Vec<_>>(), *names, "{id:?}");
            for name in *names {
                assert_eq!(lookup(name).map(|s| s.id), Some(*id), "{name}");
            }
        }
    }

    #[test]
    fn names_are_unique_and_specs_are_complete() {
        let mut seen = std::collections::HashSet::new();
        for spec in all_commands() {
            for n in spec.names() {
                assert!(seen.insert(n), "{n} defined twice");
            }
            assert!(
                spec.usage.starts_with(spec.name),
                "{}: usage must start with the name",
                spec.name
            );
            assert!(!spec.summary.is_empty() && !spec.help.is_empty());
            assert!(!spec.examples.is_empty(), "{} has no example", spec.name);
            let mut opt_names = std::collections::HashSet::new();
            for o in spec.options {
                for s in o.spellings() {
                    assert!(opt_names.insert(s), "{}: option {s} twice", spec.name);
                }
            }
        }
    }

    #[test]
    fn every_example_tokenises_and_resolves() {
        let no_env = |_: &str| None;
        for spec in all_commands() {
            for ex in spec.examples {
                let cmds = tokenize(ex, &no_env).unwrap_or_else(|e| panic!("{ex}: {e}"));
                assert!(!cmds.is_empty());
                for c in &cmds {
                    parse_invocation(&c.words).unwrap_or_else(|e| panic!("{ex}: {e}"));
                }
                // The example's last command is the command it illustrates.
                let last = cmds.last().map(|c| c.words[0].as_str()).unwrap_or("");
                assert_eq!(lookup(last).map(|s| s.id), Some(spec.id), "{ex}");
            }
        }
    }

    #[test]
    fn every_command_accepts_valid_counts_and_refuses_one_too_many() {
        // One valid argument list per command.
        let valid: &[(&str, &[&str])] = &[
            ("authenticate", &[]),
            ("chdir", &["/tmp"]),
            ("createmailbox", &["user.a"]),
            ("deleteaclmailbox", &["user.a", "bob"]),
            ("deletemailbox", &["user.a"]),
            ("disconnect", &[]),
            ("exit", &[]),
            ("getmetadata", &[]),
            ("help", &[]),
            ("info", &[]),
            ("listacl", &["user.a"]),
            ("listmailbox", &[]),
            ("listquota", &["user.a"]),
            ("listquotaroot", &["user.a"]),
            ("mboxcfg", &["user.a", "comment", "x"]),
            ("reconstruct", &["user.a"]),
            ("renamemailbox", &["user.a", "user.b"]),
            ("server", &[]),
            ("setaclmailbox", &["user.a", "bob", "lrs"]),
            ("setinfo", &["motd", "hi"]),
            ("setmetadata", &["user.a", "comment", "x"]),
            ("setquota", &["user.a", "100"]),
            ("subscribe", &["user.a"]),
            ("unsubscribe", &["user.a"]),
            ("version", &[]),
            ("xfermailbox", &["user.a", "be2"]),
        ];
        assert_eq!(valid.len(), cyradm_count());
        for (name, args) in valid {
            let spec = lookup(name).unwrap();
            let mut words = vec![*name];
            words.extend_from_slice(args);
            assert_eq!(inv(&words).args.len(), args.len());
            match spec.args {
                ArgRule::Range { min, max } => {
                    assert!(args.len() >= min);
                    if min > 0 {
                        let short: Vec<&str> = words.iter().take(min).copied().collect();
                        assert_eq!(
                            err(&short),
                            UsageError::WrongArgCount {
                                command: spec.id,
                                given: min - 1
                            }
                        );
                    }
                    if let Some(max) = max {
                        let mut long = vec![*name];
                        long.extend(std::iter::repeat_n("x", max + 1));
                        assert_eq!(
                            err(&long),
                            UsageError::WrongArgCount {
                                command: spec.id,
                                given: max + 1
                            },
                            "{name}"
                        );
                    }
                }
                ArgRule::OneThenPairs | ArgRule::Quota => {
                    // An even count is never right for these (mailbox, then pairs); the
                    // short setquota form is the only exception, at two.
                    let mut long = words.clone();
                    long.push("x");
                    if args.len() == 2 {
                        long.push("x");
                    }
                    assert!(
                        matches!(err(&long), UsageError::WrongArgCount { .. }),
                        "{long:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn wrong_argument_counts_give_the_usage_line() {
        let table: &[(&[&str], &str)] = &[
            (&["lq"], "usage: listquota root"),
            (&["lq", "a", "b"], "usage: listquota root"),
            (&["lam"], "usage: listacl mailbox"),
            (&["cd"], "usage: chdir directory"),
            (&["dm", "a", "host"], "usage: deletemailbox mailbox"),
            (&["disc", "x"], "usage: disconnect"),
            (&["exit", "1", "2"], "usage: exit [number]"),
            (&["ver", "x"], "usage: version"),
            (&["cm"], "usage: createmailbox [--partition partition] [--specialuse specialuse] mailbox [partition]"),
            (&["cm", "a", "b", "c"], "usage: createmailbox [--partition partition] [--specialuse specialuse] mailbox [partition]"),
            (&["dam", "user.a"], "usage: deleteaclmailbox mailbox id [id ...]"),
            (&["sam", "user.a", "bob"], "usage: setaclmailbox mailbox id rights [id rights ...]"),
            (&["sam", "user.a", "bob", "lrs", "carol"], "usage: setaclmailbox mailbox id rights [id rights ...]"),
            (&["sq", "user.a"], "usage: setquota mailbox resource value [resource value ...]\n       setquota mailbox value|none"),
            (&["sq", "user.a", "STORAGE", "1", "MESSAGE"], "usage: setquota mailbox resource value [resource value ...]\n       setquota mailbox value|none"),
            (&["renm", "a"], "usage: renamemailbox [--partition partition] oldname newname [partition]"),
            (&["xfer", "a", "b", "c", "d"], "usage: xfermailbox [--partition partition] mailbox server [partition]"),
            (&["setinfo", "motd"], "usage: setinfo motd|comment|admin|shutdown|expire|squat text"),
            (&["lm", "a", "b", "c"], "usage: listmailbox [-subscribed] [-specialuse] [pattern [base]]"),
            (&["server", "a", "b"], "usage: server [-noauthenticate] [server]"),
            (&["reconstruct"], "usage: reconstruct [-r] mailbox"),
            (&["sub"], "usage: subscribe mailbox"),
        ];
        for (words, want) in table {
            let e = err(words);
            assert!(
                matches!(e, UsageError::WrongArgCount { .. }),
                "{words:?}: {e:?}"
            );
            assert_eq!(e.to_string(), *want, "{words:?}");
            assert_eq!(e.usage_line().as_deref(), Some(*want));
        }
    }

    #[test]
    fn options_tcl_prefixes_gnu_full_names() {
        let i = inv(&["cm", "-p", "default", "user.a"]);
        assert_eq!(i.command, CommandId::CreateMailbox);
        assert_eq!(i.value("partition"), Some("default"));
        assert_eq!(i.args, ["user.a"]);
        assert_eq!(
            inv(&["cm", "-part", "p", "x"]).value("partition"),
            Some("p")
        );
        assert_eq!(
            inv(&["cm", "-partition", "p", "x"]).value("partition"),
            Some("p")
        );
        assert_eq!(
            inv(&["cm", "--partition", "p", "x"]).value("partition"),
            Some("p")
        );
        assert_eq!(
            inv(&["cm", "-sp", "\\Sent", "x"]).value("specialuse"),
            Some("\\Sent")
        );
        // GNU style must be spelled in full.
        assert_eq!(
            err(&["cm", "--part", "p", "x"]),
            UsageError::UnknownOption {
                command: CommandId::CreateMailbox,
                option: "--part".into()
            }
        );
        // A value is the next word, even one that looks like an option.
        assert_eq!(inv(&["cm", "-p", "-x", "y"]).value("partition"), Some("-x"));
        // Flags.
        let l = inv(&["lm", "-sub", "-spec", "user.*"]);
        assert!(l.flag("subscribed") && l.flag("specialuse") && !l.flag("recursivematch"));
        assert_eq!(l.args, ["user.*"]);
        assert!(inv(&["lm", "--recursivematch", "-sub"]).flag("recursivematch"));
        assert!(inv(&["reconstruct", "-r", "user.a"]).flag("r"));
        assert!(inv(&["server", "-noauth", "h"]).flag("noauthenticate"));
        assert!(inv(&["setmd", "-p", "user.a", "comment", "x"]).flag("private"));
        assert!(inv(&["mboxcfg", "--private", "user.a", "comment", "x"]).flag("private"));
        // An alias spelling maps to the canonical option.
        assert_eq!(
            inv(&["auth", "-cadir", "/etc/ssl"]).value("capath"),
            Some("/etc/ssl")
        );
        assert_eq!(inv(&["auth", "-cad", "/d"]).value("capath"), Some("/d"));
        assert_eq!(inv(&["auth", "--cadir", "/d"]).value("capath"), Some("/d"));
        assert_eq!(inv(&["auth", "-cap", "/d"]).value("capath"), Some("/d"));
        assert!(inv(&["auth", "-notls", "bob"]).flag("notls"));
        assert_eq!(inv(&["auth", "-notls", "bob"]).args, ["bob"]);
        // A repeated option keeps its last value.
        assert_eq!(
            inv(&["cm", "-p", "a", "-p", "b", "x"]).value("partition"),
            Some("b")
        );
    }

    #[test]
    fn ambiguous_prefixes_are_errors() {
        let e = err(&["auth", "-m", "x"]);
        assert_eq!(
            e,
            UsageError::AmbiguousOption {
                command: CommandId::Authenticate,
                option: "-m".into(),
                candidates: vec!["minssf", "maxssf", "mechanisms"],
            }
        );
        assert!(e.to_string().starts_with(
            "authenticate: option -m is ambiguous (it could be -minssf, -maxssf, -mechanisms)\nusage: authenticate "
        ));
        // -ca covers cafile and capath (cadir being capath's other spelling).
        assert!(matches!(
            err(&["auth", "-ca", "x"]),
            UsageError::AmbiguousOption { candidates, .. } if candidates == ["cafile", "capath"]
        ));
        assert!(matches!(
            err(&["lm", "-s"]),
            UsageError::AmbiguousOption { .. }
        ));
        assert!(matches!(
            err(&["cm", "-"]),
            UsageError::UnknownOption { .. }
        ));
        // Unambiguous prefixes of the same options work.
        assert_eq!(
            inv(&["auth", "-me", "PLAIN"]).value("mechanisms"),
            Some("PLAIN")
        );
        assert_eq!(inv(&["auth", "-mi", "0"]).value("minssf"), Some("0"));
        assert_eq!(inv(&["auth", "-caf", "f"]).value("cafile"), Some("f"));
    }

    #[test]
    fn unknown_options_and_missing_values() {
        let e = err(&["lq", "-x", "user.a"]);
        assert_eq!(
            e.to_string(),
            "listquota: unknown option -x\nusage: listquota root"
        );
        assert_eq!(
            err(&["cm", "--partition"]),
            UsageError::MissingValue {
                command: CommandId::CreateMailbox,
                option: "partition"
            }
        );
        assert_eq!(
            err(&["cm", "-p"]).to_string(),
            "createmailbox: option -partition needs a value\nusage: createmailbox [--partition partition] [--specialuse specialuse] mailbox [partition]"
        );
        // exit with a negative number looks like an option, as in cyradm.
        assert!(matches!(
            err(&["exit", "-1"]),
            UsageError::UnknownOption { .. }
        ));
    }

    #[test]
    fn options_end_at_the_first_argument_or_double_dash() {
        // After a positional, "-p" is an argument (so here one too many).
        assert!(matches!(
            err(&["cm", "user.a", "-p", "x"]),
            UsageError::WrongArgCount { given: 3, .. }
        ));
        let i = inv(&["lm", "--", "-odd-name-*"]);
        assert_eq!(i.args, ["-odd-name-*"]);
        assert!(i.options.is_empty());
        let i = inv(&["sam", "user.a", "bob", "-w"]);
        assert_eq!(i.args, ["user.a", "bob", "-w"]);
        let i = inv(&["dm", "--", "--"]);
        assert_eq!(i.args, ["--"]);
    }

    #[test]
    fn unknown_commands_and_empty_lines() {
        assert_eq!(
            err(&["pwd"]),
            UsageError::UnknownCommand { name: "pwd".into() }
        );
        assert_eq!(err(&["pwd"]).to_string(), "unknown command pwd; try help");
        assert_eq!(err(&["LM"]).to_string(), "unknown command LM; try help");
        assert_eq!(parse_invocation::<&str>(&[]), Err(UsageError::Empty));
        assert_eq!(err(&["pwd"]).usage_line(), None);
    }

    #[test]
    fn arg_kinds_repeat_for_pairs() {
        let sam = CommandId::SetAclMailbox.spec();
        let kinds: Vec<_> = (0..6).map(|i| sam.arg_kind(i)).collect();
        use ArgKind::*;
        assert_eq!(
            kinds,
            [
                Some(Mailbox),
                Some(Identifier),
                Some(Rights),
                Some(Identifier),
                Some(Rights),
                Some(Identifier)
            ]
        );
        assert_eq!(CommandId::ListQuota.spec().arg_kind(1), None);
        assert_eq!(CommandId::Help.spec().arg_kind(5), Some(Command));
        assert_eq!(
            CommandId::DeleteAclMailbox.spec().arg_kind(4),
            Some(Identifier)
        );
    }

    // ---- typed arguments ----

    #[test]
    fn rights_aliases_and_letters() {
        let r = |s: &str| parse_rights(s).map(|(m, r)| (m, r.to_string()));
        assert_eq!(r("none"), Ok((SetMode::Replace, String::new())));
        assert_eq!(r("read"), Ok((SetMode::Replace, "lrs".into())));
        assert_eq!(r("post"), Ok((SetMode::Replace, "lrsp".into())));
        assert_eq!(r("append"), Ok((SetMode::Replace, "lrsip".into())));
        assert_eq!(r("all").map(|(_, s)| s.starts_with("lrswipkxte")), Ok(true));
        assert_eq!(r("+p"), Ok((SetMode::Add, "p".into())));
        assert_eq!(r("-w"), Ok((SetMode::Remove, "w".into())));
        assert_eq!(r("lrs"), Ok((SetMode::Replace, "lrs".into())));
        let e = parse_rights("lrsQ").unwrap_err();
        assert!(matches!(e, ArgError::BadRights { .. }));
        assert!(e.to_string().starts_with("lrsQ: "), "{e}");
        for alias in RIGHTS_ALIASES {
            assert!(parse_rights(alias).is_ok(), "{alias}");
        }
    }

    #[test]
    fn acl_pairs_and_deleteacl_ids() {
        let pairs = parse_acl_pairs(&["bob", "read", "anyone", "+p"]).unwrap();
        assert_eq!(pairs.len(), 2);
        assert_eq!(pairs[0].identifier.as_str(), "bob");
        assert_eq!(pairs[0].rights.to_string(), "lrs");
        assert_eq!(pairs[1].mode, SetMode::Add);
        assert_eq!(
            parse_acl_pairs(&["bob"]),
            Err(ArgError::UnpairedIdentifier("bob".into()))
        );
        assert!(matches!(
            parse_acl_pairs(&["bob", "zz"]),
            Err(ArgError::BadRights { .. })
        ));
        assert!(matches!(
            parse_acl_pairs(&["", "lrs"]),
            Err(ArgError::BadIdentifier { .. })
        ));
        assert_eq!(parse_deleteacl_ids(&["*"]), Ok(AclTargets::All));
        assert_eq!(parse_deleteacl_ids(&["bob", "*"]), Ok(AclTargets::All));
        match parse_deleteacl_ids(&["bob", "group:staff"]) {
            Ok(AclTargets::Ids(ids)) => assert_eq!(ids.len(), 2),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn setquota_forms() {
        use QuotaResource::*;
        use QuotaValue::*;
        let q = parse_setquota(&["user.a", "102400"]).unwrap();
        assert_eq!(q.root, "user.a");
        assert_eq!(q.change, QuotaChange::Set(vec![(Storage, Limit(102400))]));
        assert_eq!(q.cyradm_notice().as_deref(), Some("quota:102400"));
        let q = parse_setquota(&["user.a", "none"]).unwrap();
        assert_eq!(q.change, QuotaChange::RemoveAll);
        assert_eq!(q.cyradm_notice().as_deref(), Some("remove quota"));
        let q = parse_setquota(&[
            "user.a",
            "storage",
            "10",
            "MESSAGE",
            "none",
            "x-annotation-storage",
            "5",
            "X-NUM-FOLDERS",
            "7",
        ])
        .unwrap();
        assert_eq!(
            q.change,
            QuotaChange::Set(vec![
                (Storage, Limit(10)),
                (Message, Unlimited),
                (AnnotationStorage, Limit(5)),
                (NumFolders, Limit(7)),
            ])
        );
        assert_eq!(q.cyradm_notice(), None);
        assert_eq!(
            parse_setquota(&["user.a", "LEVEL", "1"]),
            Err(ArgError::BadQuotaResource("LEVEL".into()))
        );
        assert!(matches!(
            parse_setquota(&["user.a", "STORAGE", "-1"]),
            Err(ArgError::BadQuotaValue { .. })
        ));
        assert!(matches!(
            parse_setquota(&["user.a", "1k"]),
            Err(ArgError::BadQuotaValue { .. })
        ));
        assert!(matches!(
            parse_setquota(&["user.a", "99999999999999999999"]),
            Err(ArgError::BadQuotaValue { .. })
        ));
        assert_eq!(
            parse_setquota(&["user.a", "STORAGE", "1", "storage", "2"]),
            Err(ArgError::DuplicateQuotaResource(Storage))
        );
        assert!(matches!(
            parse_setquota(&["user.a", "STORAGE", "1", "MESSAGE"]),
            Err(ArgError::Missing { .. })
        ));
        assert!(matches!(
            parse_setquota::<&str>(&[]),
            Err(ArgError::Missing { .. })
        ));
        assert_eq!(
            parse_setquota(&["user.a", "STORAGE", "x"])
                .unwrap_err()
                .to_string(),
            "STORAGE: x: not a number (a quota value is a whole number or none)"
        );
    }

    #[test]
    fn metadata_entry_names() {
        assert_eq!(getmetadata_entry("comment"), "/private/comment");
        assert_eq!(getmetadata_entry("specialuse"), "/private/specialuse");
        assert_eq!(
            getmetadata_entry("expire"),
            "/shared/vendor/cmu/cyrus-imapd/expire"
        );
        assert_eq!(getmetadata_entry("/shared/x"), "/shared/x");
        assert_eq!(
            setmetadata_entry("squat", false).unwrap(),
            "/shared/vendor/cmu/cyrus-imapd/squat"
        );
        assert_eq!(
            setmetadata_entry("squat", true).unwrap(),
            "/private/vendor/cmu/cyrus-imapd/squat"
        );
        assert_eq!(
            setmetadata_entry("comment", true).unwrap(),
            "/private/comment"
        );
        assert_eq!(setmetadata_entry("/SHARED/x", true).unwrap(), "/private/x");
        assert_eq!(
            setmetadata_entry("/shared/comment", false).unwrap(),
            "/shared/comment"
        );
        assert!(matches!(
            setmetadata_entry("colour", false),
            Err(ArgError::UnknownEntry { .. })
        ));
        assert_eq!(mboxcfg_entry("comment", false).unwrap(), "/shared/comment");
        assert_eq!(mboxcfg_entry("comment", true).unwrap(), "/private/comment");
        assert_eq!(
            mboxcfg_entry("sieve", false).unwrap(),
            "/shared/vendor/cmu/cyrus-imapd/sieve"
        );
        assert_eq!(
            mboxcfg_entry("news2mail", false).unwrap(),
            "/shared/vendor/cmu/cyrus-imapd/news2mail"
        );
        assert_eq!(
            mboxcfg_entry("pop3showafter", false).unwrap(),
            "/shared/vendor/cmu/cyrus-imapd/pop3showafter"
        );
        assert_eq!(
            mboxcfg_entry("sharedseen", false).unwrap(),
            "/shared/vendor/cmu/cyrus-imapd/sharedseen"
        );
        assert_eq!(
            mboxcfg_entry("/vendor/x", false).unwrap(),
            "/shared/vendor/x"
        );
        assert!(matches!(
            mboxcfg_entry("specialuse", false),
            Err(ArgError::UnknownEntry { .. })
        ));
        for name in MAILBOX_ENTRY_NAMES {
            assert_eq!(mailbox_entry(name).map(|e| e.short), Some(name));
            assert!(setmetadata_entry(name, false).is_ok());
        }
        for name in MBOXCFG_ENTRY_NAMES {
            assert!(mboxcfg_entry(name, false).is_ok(), "{name}");
        }
        assert_eq!(metadata_value("none"), None);
        assert_eq!(metadata_value("30"), Some("30"));
    }

    #[test]
    fn setinfo_keys() {
        let table = [
            ("motd", "/shared/motd"),
            ("comment", "/shared/comment"),
            ("admin", "/shared/admin"),
            ("shutdown", "/shared/vendor/cmu/cyrus-imapd/shutdown"),
            ("expire", "/shared/vendor/cmu/cyrus-imapd/expire"),
            ("squat", "/shared/vendor/cmu/cyrus-imapd/squat"),
            ("/vendor/x", "/shared/vendor/x"),
        ];
        for (key, path) in table {
            assert_eq!(setinfo_entry(key).unwrap(), path);
        }
        assert_eq!(SERVER_ENTRY_NAMES.len(), SERVER_ENTRIES.len());
        assert!(matches!(
            setinfo_entry("banner"),
            Err(ArgError::UnknownEntry { .. })
        ));
    }

    #[test]
    fn create_locations() {
        let loc = |w: &[&str]| create_location(&inv(w));
        assert_eq!(loc(&["cm", "user.a"]), Ok(None));
        let l = loc(&["cm", "user.a", "backend1!default"]).unwrap().unwrap();
        assert_eq!(
            (l.server(), l.partition()),
            (Some("backend1"), Some("default"))
        );
        let l = loc(&["cm", "-p", "p2", "user.a"]).unwrap().unwrap();
        assert_eq!((l.server(), l.partition()), (None, Some("p2")));
        assert!(matches!(
            loc(&["cm", "-p", "p2", "user.a", "p3"]),
            Err(ArgError::LocationTwice { .. })
        ));
        assert!(matches!(
            loc(&["cm", "user.a", "bad part"]),
            Err(ArgError::BadLocation { .. })
        ));
        assert!(matches!(
            create_location(&inv(&["lm"])),
            Err(ArgError::WrongCommand { .. })
        ));
    }

    #[test]
    fn rename_locations() {
        let req = |w: &[&str]| rename_request(&inv(w), false);
        let r = req(&["rename", "user.bob", "user.bob", "backend1!default"]).unwrap();
        assert_eq!((r.old.as_str(), r.new.as_str()), ("user.bob", "user.bob"));
        let l = r.location.unwrap();
        assert_eq!(
            (l.server(), l.partition()),
            (Some("backend1"), Some("default"))
        );
        // The seed's form: newname!server.
        let r = req(&["rename", "user.x", "user.x!backend2"]).unwrap();
        assert_eq!(r.new, "user.x");
        assert_eq!(r.location.unwrap().server(), Some("backend2"));
        let r = req(&["rename", "user.x", "user.y!be2!p1"]).unwrap();
        assert_eq!(r.new, "user.y");
        assert_eq!(r.location.unwrap().partition(), Some("p1"));
        // A bare partition.
        let r = req(&["renm", "a", "b", "p2"]).unwrap();
        assert_eq!(r.location.unwrap().partition(), Some("p2"));
        let r = req(&["renm", "--partition", "be2!p", "a", "b"]).unwrap();
        assert_eq!(r.location.unwrap().server(), Some("be2"));
        assert_eq!(req(&["renm", "a", "b"]).unwrap().location, None);
        // Two locations.
        assert!(matches!(
            req(&["renm", "a", "b!be2", "p"]),
            Err(ArgError::LocationTwice { .. })
        ));
        assert!(matches!(
            req(&["renm", "-p", "x", "a", "b", "p"]),
            Err(ArgError::LocationTwice { .. })
        ));
        assert!(matches!(
            req(&["renm", "a", "b!be2!p!q"]),
            Err(ArgError::BadLocation { .. })
        ));
        // With virtdomains the first '!' belongs to the name.
        let r = rename_request(&inv(&["renm", "a", "example.com!user.b!be2"]), true).unwrap();
        assert_eq!(r.new, "example.com!user.b");
        assert_eq!(r.location.unwrap().server(), Some("be2"));
    }

    #[test]
    fn xfer_locations() {
        let req = |w: &[&str]| xfer_request(&inv(w));
        let x = req(&["xfer", "user.bob", "backend2"]).unwrap();
        assert_eq!(x.mailbox, "user.bob");
        assert_eq!(
            (x.location.server(), x.location.partition()),
            (Some("backend2"), None)
        );
        let x = req(&["xfer", "user.bob", "backend2", "p1"]).unwrap();
        assert_eq!(x.location.partition(), Some("p1"));
        let x = req(&["xfer", "-p", "p1", "user.bob", "backend2"]).unwrap();
        assert_eq!(x.location.partition(), Some("p1"));
        let x = req(&["xfer", "user.bob", "backend2!p3"]).unwrap();
        assert_eq!(x.location.partition(), Some("p3"));
        assert!(matches!(
            req(&["xfer", "user.bob", "backend2!p3", "p4"]),
            Err(ArgError::LocationTwice { .. })
        ));
        assert!(matches!(
            req(&["xfer", "user.bob", "backend2", "bad/part"]),
            Err(ArgError::BadLocation { .. })
        ));
    }

    // ---- completion ----

    fn complete(prefix: &[&str], partial: &str) -> Vec<String> {
        let prefix: Vec<String> = prefix.iter().map(|s| s.to_string()).collect();
        completion_candidates(&prefix, partial)
    }

    #[test]
    fn completes_command_names_and_aliases() {
        assert_eq!(
            complete(&[], "li"),
            [
                "listacl",
                "listaclmailbox",
                "listmailbox",
                "listquota",
                "listquotaroot"
            ]
        );
        assert_eq!(
            complete(&[], "dele"),
            ["delete", "deleteacl", "deleteaclmailbox", "deletemailbox"]
        );
        assert_eq!(complete(&[], "xf"), ["xfer", "xfermailbox"]);
        assert_eq!(complete(&[], "zz"), Vec::<String>::new());
        let all = complete(&[], "");
        assert!(all.contains(&"?".to_string()) && all.contains(&"sq".to_string()));
        assert_eq!(
            all.len(),
            all_commands().map(|c| c.names().count()).sum::<usize>()
        );
        // help takes command names.
        assert_eq!(
            complete(&["help"], "ren"),
            ["rename", "renamemailbox", "renm"]
        );
        assert_eq!(complete(&["help", "cm"], "ver"), ["ver", "version"]);
    }

    #[test]
    fn completes_options_in_option_position() {
        assert_eq!(complete(&["cm"], "-"), ["-partition", "-specialuse"]);
        assert_eq!(complete(&["cm"], "--p"), ["--partition"]);
        assert_eq!(complete(&["auth"], "-ca"), ["-cadir", "-cafile", "-capath"]);
        assert_eq!(
            complete(&["lm", "-sub"], "-s"),
            ["-specialuse", "-subscribed"]
        );
        // Not after a positional, nor after "--", nor for commands without options.
        assert_eq!(complete(&["cm", "user.a"], "-"), Vec::<String>::new());
        assert_eq!(complete(&["cm", "--"], "-"), Vec::<String>::new());
        assert_eq!(complete(&["lq"], "-"), Vec::<String>::new());
        // An option's value is not completed here.
        assert_eq!(complete(&["cm", "-p"], ""), Vec::<String>::new());
        assert_eq!(complete(&["cm", "-p"], "-"), Vec::<String>::new());
        // Unknown command: nothing.
        assert_eq!(complete(&["pwd"], "-"), Vec::<String>::new());
    }

    #[test]
    fn completes_keywords_of_typed_arguments() {
        assert_eq!(complete(&["sam", "user.a", "bob"], "a"), ["all", "append"]);
        assert_eq!(
            complete(&["sam", "user.a", "bob", "read", "carol"], "w"),
            ["write"]
        );
        assert_eq!(complete(&["sam", "user.a"], "a"), Vec::<String>::new());
        assert_eq!(
            complete(&["sq", "user.a"], "X-"),
            ["X-ANNOTATION-STORAGE", "X-NUM-FOLDERS"]
        );
        assert_eq!(complete(&["setinfo"], "s"), ["shutdown", "squat"]);
        assert_eq!(complete(&["setmd", "-p", "user.a"], "sp"), ["specialuse"]);
        assert_eq!(complete(&["mboxcfg", "user.a"], "sp"), Vec::<String>::new());
        assert_eq!(
            complete(&["getmd", "user.a", "expire"], "s"),
            ["sharedseen", "sieve", "specialuse", "squat"]
        );
    }

    #[test]
    fn completion_context_tracks_positions() {
        use CompletionContext::*;
        assert_eq!(completion_context::<&str>(&[]), Command);
        assert_eq!(
            completion_context(&["cm"]),
            OptionOrArg {
                command: CommandId::CreateMailbox,
                index: 0
            }
        );
        assert_eq!(
            completion_context(&["cm", "-p"]),
            OptionValue {
                command: CommandId::CreateMailbox,
                option: "partition"
            }
        );
        assert_eq!(
            completion_context(&["cm", "-p", "x"]),
            OptionOrArg {
                command: CommandId::CreateMailbox,
                index: 0
            }
        );
        assert_eq!(
            completion_context(&["cm", "-p", "x", "user.a"]),
            Arg {
                command: CommandId::CreateMailbox,
                index: 1
            }
        );
        assert_eq!(
            completion_context(&["renm", "--", "a"]),
            Arg {
                command: CommandId::RenameMailbox,
                index: 1
            }
        );
        assert_eq!(completion_context(&["nope"]), Unknown);
    }

    proptest! {
        #[test]
        fn resolver_never_panics(words in proptest::collection::vec("-{0,2}[a-z?]{0,8}", 0..8)) {
            let _ = parse_invocation(&words);
            if let Some((last, prefix)) = words.split_last() {
                let _ = completion_candidates(prefix, last);
            }
        }

        #[test]
        fn resolver_never_panics_on_any_text(words in proptest::collection::vec("\\PC*", 0..6)) {
            let _ = parse_invocation(&words);
            let _ = completion_candidates(&words, "-");
        }

        #[test]
        fn helpers_never_panic(args in proptest::collection::vec("\\PC{0,12}", 0..6), b in any::<bool>()) {
            let _ = parse_setquota(&args);
            let _ = parse_acl_pairs(&args);
            let _ = parse_deleteacl_ids(&args);
            for a in &args {
                let _ = parse_rights(a);
                let _ = setmetadata_entry(a, b);
                let _ = mboxcfg_entry(a, b);
                let _ = setinfo_entry(a);
            }
            for id in [CommandId::RenameMailbox, CommandId::XferMailbox, CommandId::CreateMailbox] {
                let mut options = BTreeMap::new();
                if b {
                    options.insert("partition", OptionValue::Value("p".into()));
                }
                let inv = Invocation { command: id, options, args: args.clone() };
                let _ = rename_request(&inv, b);
                let _ = xfer_request(&inv);
                let _ = create_location(&inv);
            }
        }
    }
}
