//! Client commands (RFC 5804 §2) and SASL continuation answers: parsed from one framed message,
//! encoded back for a client to send.

use nom::Parser;

use super::syntax::{self, encode_quoted, encode_string, eol, osp, sp, LiteralStyle};
use super::Error;

/// A ManageSieve command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `AUTHENTICATE mechanism [initial-response]`; the response is base64 text.
    Authenticate {
        /// SASL mechanism name, as sent.
        mechanism: String,
        /// The initial response, still base64-encoded.
        initial: Option<String>,
    },
    /// `STARTTLS`.
    StartTls,
    /// `LOGOUT`.
    Logout,
    /// `CAPABILITY`.
    Capability,
    /// `HAVESPACE name size`.
    HaveSpace {
        /// Script name.
        name: String,
        /// Script size in octets.
        size: u64,
    },
    /// `PUTSCRIPT name content`.
    PutScript {
        /// Script name.
        name: String,
        /// Script text.
        script: Vec<u8>,
    },
    /// `CHECKSCRIPT content`.
    CheckScript {
        /// Script text.
        script: Vec<u8>,
    },
    /// `LISTSCRIPTS`.
    ListScripts,
    /// `SETACTIVE name`; the empty name deactivates every script.
    SetActive {
        /// Script name, or empty.
        name: String,
    },
    /// `GETSCRIPT name`.
    GetScript {
        /// Script name.
        name: String,
    },
    /// `DELETESCRIPT name`.
    DeleteScript {
        /// Script name.
        name: String,
    },
    /// `RENAMESCRIPT old new`.
    RenameScript {
        /// Current name.
        old: String,
        /// New name.
        new: String,
    },
    /// `NOOP [tag]`; the tag comes back in a `(TAG ...)` response code.
    Noop {
        /// Echoed tag.
        tag: Option<String>,
    },
    /// `UNAUTHENTICATE` (RFC 5804 §2.14).
    Unauthenticate,
}

impl Command {
    /// The command's name as sent on the wire, for logs and error messages.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Authenticate { .. } => "AUTHENTICATE",
            Command::StartTls => "STARTTLS",
            Command::Logout => "LOGOUT",
            Command::Capability => "CAPABILITY",
            Command::HaveSpace { .. } => "HAVESPACE",
            Command::PutScript { .. } => "PUTSCRIPT",
            Command::CheckScript { .. } => "CHECKSCRIPT",
            Command::ListScripts => "LISTSCRIPTS",
            Command::SetActive { .. } => "SETACTIVE",
            Command::GetScript { .. } => "GETSCRIPT",
            Command::DeleteScript { .. } => "DELETESCRIPT",
            Command::RenameScript { .. } => "RENAMESCRIPT",
            Command::Noop { .. } => "NOOP",
            Command::Unauthenticate => "UNAUTHENTICATE",
        }
    }

    /// Parses one framed message (a line, its literals, the final CRLF).
    pub fn parse(msg: &[u8]) -> Result<Command, Error> {
        let (rest, _) = osp(msg).map_err(|_| Error::Syntax("expected a command"))?;
        let (mut rest, verb) =
            syntax::atom(rest).map_err(|_| Error::Syntax("expected a command"))?;
        let verb_upper = verb.to_ascii_uppercase();
        let mut args = Args { rest: &mut rest };
        let cmd = match verb_upper.as_str() {
            "AUTHENTICATE" => {
                let mechanism = args.text("mechanism")?;
                let initial = args.opt_text("initial response")?;
                Command::Authenticate { mechanism, initial }
            }
            "STARTTLS" => Command::StartTls,
            "LOGOUT" => Command::Logout,
            "CAPABILITY" => Command::Capability,
            "HAVESPACE" => {
                let name = args.text("script name")?;
                let size = args.number("script size")?;
                Command::HaveSpace { name, size }
            }
            "PUTSCRIPT" => {
                let name = args.text("script name")?;
                let script = args.bytes("script content")?;
                Command::PutScript { name, script }
            }
            "CHECKSCRIPT" => Command::CheckScript {
                script: args.bytes("script content")?,
            },
            "LISTSCRIPTS" => Command::ListScripts,
            "SETACTIVE" => Command::SetActive {
                name: args.text("script name")?,
            },
            "GETSCRIPT" => Command::GetScript {
                name: args.text("script name")?,
            },
            "DELETESCRIPT" => Command::DeleteScript {
                name: args.text("script name")?,
            },
            "RENAMESCRIPT" => {
                let old = args.text("old script name")?;
                let new = args.text("new script name")?;
                Command::RenameScript { old, new }
            }
            "NOOP" => Command::Noop {
                tag: args.opt_text("tag")?,
            },
            "UNAUTHENTICATE" => Command::Unauthenticate,
            _ => return Err(Error::UnknownCommand(truncate(&verb))),
        };
        osp(rest)
            .and_then(|(r, _)| eol(r))
            .map_err(|_| Error::Syntax("expected end of line"))?;
        Ok(cmd)
    }

    /// Appends the command as a client sends it: names quoted when they can be, scripts as
    /// non-synchronising literals (RFC 5804 `literal-c2s`).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.name().as_bytes());
        let s = |out: &mut Vec<u8>, v: &[u8]| {
            out.push(b' ');
            encode_string(out, v, LiteralStyle::NonSync);
        };
        match self {
            Command::Authenticate { mechanism, initial } => {
                s(out, mechanism.as_bytes());
                if let Some(i) = initial {
                    s(out, i.as_bytes());
                }
            }
            Command::HaveSpace { name, size } => {
                s(out, name.as_bytes());
                out.extend_from_slice(format!(" {size}").as_bytes());
            }
            Command::PutScript { name, script } => {
                s(out, name.as_bytes());
                out.push(b' ');
                syntax::encode_literal(out, script, LiteralStyle::NonSync);
            }
            Command::CheckScript { script } => {
                out.push(b' ');
                syntax::encode_literal(out, script, LiteralStyle::NonSync);
            }
            Command::SetActive { name }
            | Command::GetScript { name }
            | Command::DeleteScript { name } => s(out, name.as_bytes()),
            Command::RenameScript { old, new } => {
                s(out, old.as_bytes());
                s(out, new.as_bytes());
            }
            Command::Noop { tag: Some(t) } => s(out, t.as_bytes()),
            Command::Noop { tag: None }
            | Command::StartTls
            | Command::Logout
            | Command::Capability
            | Command::ListScripts
            | Command::Unauthenticate => {}
        }
        out.extend_from_slice(b"\r\n");
    }

    /// The encoded command.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.encode(&mut v);
        v
    }
}

/// Keeps error messages short whatever a client sends.
fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}

/// Argument reader over the rest of a message.
struct Args<'a, 'b> {
    rest: &'b mut &'a [u8],
}

impl Args<'_, '_> {
    fn bytes(&mut self, what: &'static str) -> Result<Vec<u8>, Error> {
        let (r, (_, v)) = (sp, syntax::string)
            .parse(self.rest)
            .map_err(|_| Error::Expected(what))?;
        *self.rest = r;
        Ok(v)
    }

    fn text(&mut self, what: &'static str) -> Result<String, Error> {
        String::from_utf8(self.bytes(what)?).map_err(|_| Error::NotUtf8(what))
    }

    fn opt_text(&mut self, what: &'static str) -> Result<Option<String>, Error> {
        // Present only if a space and a string follow; trailing spaces alone are tolerated.
        let Ok((r, _)) = sp(self.rest) else {
            return Ok(None);
        };
        if matches!(r.first(), Some(b'"' | b'{')) {
            self.text(what).map(Some)
        } else {
            Ok(None)
        }
    }

    fn number(&mut self, what: &'static str) -> Result<u64, Error> {
        let (r, (_, n)) = (sp, syntax::number)
            .parse(self.rest)
            .map_err(|_| Error::Expected(what))?;
        *self.rest = r;
        Ok(n)
    }
}

/// The client's answer to a server challenge during AUTHENTICATE (RFC 5804 §2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaslResponse {
    /// A base64 string (quoted or literal).
    Data(String),
    /// `"*"`: the client gives up.
    Abort,
}

impl SaslResponse {
    /// Parses one framed message.
    pub fn parse(msg: &[u8]) -> Result<SaslResponse, Error> {
        let (rest, v) = syntax::string(msg).map_err(|_| Error::Expected("SASL response string"))?;
        eol(rest).map_err(|_| Error::Syntax("expected end of line"))?;
        if v == b"*" {
            return Ok(SaslResponse::Abort);
        }
        String::from_utf8(v)
            .map(SaslResponse::Data)
            .map_err(|_| Error::NotUtf8("SASL response"))
    }

    /// Appends the answer as a client sends it.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            SaslResponse::Abort => encode_quoted(out, b"*"),
            SaslResponse::Data(d) => encode_string(out, d.as_bytes(), LiteralStyle::NonSync),
        }
        out.extend_from_slice(b"\r\n");
    }
}
