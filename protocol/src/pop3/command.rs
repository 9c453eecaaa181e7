//! POP3 client commands (RFC 1939 §§4–7, RFC 2449 CAPA, RFC 2595 STLS, RFC 5034 AUTH).

use std::fmt;
use std::num::NonZeroU32;

use super::text::{InitialResponse, Mechanism, Secret, Text};
use super::Error;

/// A message number: 1-based position in the maildrop (RFC 1939 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MsgNum(NonZeroU32);

impl MsgNum {
    /// A message number; `None` for 0.
    pub fn new(n: u32) -> Option<Self> {
        NonZeroU32::new(n).map(MsgNum)
    }

    /// The number.
    pub fn get(self) -> u32 {
        self.0.get()
    }
}

impl fmt::Display for MsgNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An unrecognised command keyword: 1 to 16 ASCII letters or digits, kept in upper case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Verb(String);

impl Verb {
    /// Validate a keyword.
    pub fn new(s: &str) -> Result<Self, Error> {
        if !(1..=16).contains(&s.len()) || !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(Error::InvalidArgument {
                what: "command keyword",
                value: s.chars().take(40).collect(),
            });
        }
        Ok(Verb(s.to_ascii_uppercase()))
    }

    /// The keyword in upper case.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The MD5 digest argument of APOP (RFC 1939 §7), sent as 32 hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApopDigest(pub [u8; 16]);

impl ApopDigest {
    /// Parse 32 hex digits (either case).
    pub fn parse(s: &str) -> Result<Self, Error> {
        let bad = || Error::InvalidArgument {
            what: "APOP digest",
            value: s.chars().take(40).collect(),
        };
        let bytes = s.as_bytes();
        if bytes.len() != 32 {
            return Err(bad());
        }
        let mut out = [0u8; 16];
        for (o, pair) in out.iter_mut().zip(bytes.chunks(2)) {
            let hex = std::str::from_utf8(pair).map_err(|_| bad())?;
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad());
            }
            *o = u8::from_str_radix(hex, 16).map_err(|_| bad())?;
        }
        Ok(ApopDigest(out))
    }
}

impl fmt::Display for ApopDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// A POP3 client command.
///
/// `Debug` never shows a password: [`Command::Pass`] holds a [`Secret`], and AUTH data is
/// secret too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `USER name`; the name is the rest of the line.
    User(Text),
    /// `PASS password`; the password is the rest of the line and may hold spaces
    /// (RFC 1939 §7 allows servers to treat it so, and Cyrus does).
    Pass(Secret<Text>),
    /// `APOP name digest`.
    Apop {
        /// The mailbox name.
        name: Text,
        /// MD5 of the greeting timestamp and the shared secret.
        digest: ApopDigest,
    },
    /// `AUTH mech [initial-response]`.
    Auth {
        /// The SASL mechanism.
        mechanism: Mechanism,
        /// The initial response, if sent (`=` is an empty one).
        initial: Option<InitialResponse>,
    },
    /// `AUTH` without argument: list mechanisms (RFC 1734 style; Cyrus answers it).
    AuthList,
    /// `STLS`.
    Stls,
    /// `CAPA`.
    Capa,
    /// `STAT`.
    Stat,
    /// `LIST [n]`.
    List(Option<MsgNum>),
    /// `UIDL [n]`.
    Uidl(Option<MsgNum>),
    /// `RETR n`.
    Retr(MsgNum),
    /// `TOP n lines`.
    Top {
        /// The message.
        msg: MsgNum,
        /// How many body lines to send after the header.
        lines: u32,
    },
    /// `DELE n`.
    Dele(MsgNum),
    /// `RSET`.
    Rset,
    /// `NOOP`.
    Noop,
    /// `QUIT`.
    Quit,
    /// Anything else, kept so a server can answer `-ERR` naming it (LAST, XTND, …).
    Unknown {
        /// The keyword.
        verb: Verb,
        /// Everything after the keyword and one space.
        args: Text,
    },
}

fn number(command: &'static str, s: &str) -> Result<u32, Error> {
    let bad = || Error::InvalidNumber {
        command,
        value: s.chars().take(40).collect(),
    };
    if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    s.parse::<u32>().map_err(|_| bad())
}

fn msgnum(command: &'static str, s: &str) -> Result<MsgNum, Error> {
    MsgNum::new(number(command, s)?).ok_or_else(|| Error::InvalidNumber {
        command,
        value: s.to_owned(),
    })
}

/// Split `rest` into exactly `N` space-separated arguments.
fn args<'a, const N: usize>(command: &'static str, rest: &'a str) -> Result<[&'a str; N], Error> {
    let mut it = rest.split(' ').filter(|a| !a.is_empty());
    let mut out = [""; N];
    for slot in out.iter_mut() {
        *slot = it.next().ok_or(Error::MissingArgument { command })?;
    }
    if it.next().is_some() {
        return Err(Error::TooManyArguments { command });
    }
    Ok(out)
}

/// Zero or one argument.
fn opt_arg<'a>(command: &'static str, rest: &'a str) -> Result<Option<&'a str>, Error> {
    let mut it = rest.split(' ').filter(|a| !a.is_empty());
    let first = it.next();
    if it.next().is_some() {
        return Err(Error::TooManyArguments { command });
    }
    Ok(first)
}

fn no_args(command: &'static str, rest: &str) -> Result<(), Error> {
    if rest.trim_matches(' ').is_empty() {
        Ok(())
    } else {
        Err(Error::TooManyArguments { command })
    }
}

impl Command {
    /// Parse one line (without CRLF). Keywords are case-insensitive.
    pub fn parse(line: &[u8]) -> Result<Self, Error> {
        let line = std::str::from_utf8(line).map_err(|_| Error::NotUtf8)?;
        if line.is_empty() {
            return Err(Error::EmptyLine);
        }
        let (verb, rest) = line.split_once(' ').unwrap_or((line, ""));
        let upper = verb.to_ascii_uppercase();
        Ok(match upper.as_str() {
            "USER" => {
                if rest.is_empty() {
                    return Err(Error::MissingArgument { command: "USER" });
                }
                Command::User(Text::new(rest)?)
            }
            "PASS" => {
                // An empty password is still an argument the server must check (and reject).
                if verb.len() == line.len() {
                    return Err(Error::MissingArgument { command: "PASS" });
                }
                Command::Pass(Secret::new(Text::new(rest)?))
            }
            "APOP" => {
                let [name, digest] = args::<2>("APOP", rest)?;
                Command::Apop {
                    name: Text::new(name)?,
                    digest: ApopDigest::parse(digest)?,
                }
            }
            "AUTH" => {
                let mut it = rest.split(' ').filter(|a| !a.is_empty());
                match it.next() {
                    None => Command::AuthList,
                    Some(mech) => {
                        let mechanism = Mechanism::new(mech)?;
                        let initial = it.next().map(InitialResponse::parse).transpose()?;
                        if it.next().is_some() {
                            return Err(Error::TooManyArguments { command: "AUTH" });
                        }
                        Command::Auth { mechanism, initial }
                    }
                }
            }
            "STLS" => no_args("STLS", rest).map(|_| Command::Stls)?,
            "CAPA" => no_args("CAPA", rest).map(|_| Command::Capa)?,
            "STAT" => no_args("STAT", rest).map(|_| Command::Stat)?,
            "RSET" => no_args("RSET", rest).map(|_| Command::Rset)?,
            "NOOP" => no_args("NOOP", rest).map(|_| Command::Noop)?,
            "QUIT" => no_args("QUIT", rest).map(|_| Command::Quit)?,
            "LIST" => Command::List(
                opt_arg("LIST", rest)?
                    .map(|a| msgnum("LIST", a))
                    .transpose()?,
            ),
            "UIDL" => Command::Uidl(
                opt_arg("UIDL", rest)?
                    .map(|a| msgnum("UIDL", a))
                    .transpose()?,
            ),
            "RETR" => {
                let [n] = args::<1>("RETR", rest)?;
                Command::Retr(msgnum("RETR", n)?)
            }
            "DELE" => {
                let [n] = args::<1>("DELE", rest)?;
                Command::Dele(msgnum("DELE", n)?)
            }
            "TOP" => {
                let [n, lines] = args::<2>("TOP", rest)?;
                Command::Top {
                    msg: msgnum("TOP", n)?,
                    lines: number("TOP", lines)?,
                }
            }
            _ => Command::Unknown {
                verb: Verb::new(verb)?,
                args: Text::new(rest)?,
            },
        })
    }

    /// The keyword, for logs and error texts.
    pub fn verb(&self) -> &str {
        match self {
            Command::User(_) => "USER",
            Command::Pass(_) => "PASS",
            Command::Apop { .. } => "APOP",
            Command::Auth { .. } | Command::AuthList => "AUTH",
            Command::Stls => "STLS",
            Command::Capa => "CAPA",
            Command::Stat => "STAT",
            Command::List(_) => "LIST",
            Command::Uidl(_) => "UIDL",
            Command::Retr(_) => "RETR",
            Command::Top { .. } => "TOP",
            Command::Dele(_) => "DELE",
            Command::Rset => "RSET",
            Command::Noop => "NOOP",
            Command::Quit => "QUIT",
            Command::Unknown { verb, .. } => verb.as_str(),
        }
    }

    /// True if a positive answer is followed by a multi-line body (RFC 1939, RFC 2449).
    pub fn has_multiline_response(&self) -> bool {
        matches!(
            self,
            Command::Capa
                | Command::AuthList
                | Command::List(None)
                | Command::Uidl(None)
                | Command::Retr(_)
                | Command::Top { .. }
        )
    }

    /// Append the command line with CRLF.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut put = |s: &str| out.extend_from_slice(s.as_bytes());
        put(self.verb());
        match self {
            Command::User(name) => {
                put(" ");
                put(name.as_str());
            }
            Command::Pass(pw) => {
                put(" ");
                put(pw.expose().as_str());
            }
            Command::Apop { name, digest } => put(&format!(" {name} {digest}")),
            Command::Auth { mechanism, initial } => {
                put(" ");
                put(mechanism.as_str());
                if let Some(i) = initial {
                    put(" ");
                    put(i.wire());
                }
            }
            Command::List(Some(n))
            | Command::Uidl(Some(n))
            | Command::Retr(n)
            | Command::Dele(n) => put(&format!(" {n}")),
            Command::Top { msg, lines } => put(&format!(" {msg} {lines}")),
            Command::Unknown { args, .. } if !args.is_empty() => {
                put(" ");
                put(args.as_str());
            }
            _ => {}
        }
        out.extend_from_slice(b"\r\n");
    }
}
