//! LIST on a frontend (reference §4.5): names, locations, children and rights come from the
//! local copy of the MUPDATE database, but subscriptions live on the INBOX backend, and
//! special-use attributes and STATUS values on the backend holding each mailbox. The LIST code
//! of [`crate::imapd::mailboxes`] calls these to fetch what only backends know, then answers
//! in its usual order.

use std::collections::{BTreeMap, HashMap};

use protocol::imap::response::{Code, Data, Response, StatusValue};
use protocol::imap::types::{Flag, StatusItem};

use super::{backend, inbox_server, literal, put_back, server_of, unavailable_line};
use crate::imapd::mailboxes::{Fail, UNAVAILABLE};
use crate::imapd::Session;
use crate::mboxdb::MailboxEntry;

/// How many mailbox names go into one LIST sent to a backend.
const NAMES_PER_LIST: usize = 200;

/// The session user's subscriptions as the INBOX backend lists them (`LSUB "" "*"`), external
/// names in the backend's order. A user without an INBOX (an administrator, say) has none.
pub async fn subscriptions(s: &mut Session) -> Result<Vec<String>, Fail> {
    let Ok(server) = inbox_server(s).await else {
        return Ok(Vec::new());
    };
    let unavailable = || Fail::code(Code::Unavailable, UNAVAILABLE);
    let mut b = backend(s, &server).await.map_err(|e| {
        unavailable_line(s, &server, &e);
        unavailable()
    })?;
    let (untagged, tagged) = match b.command(b"LSUB \"\" \"*\"").await {
        Ok(x) => x,
        Err(e) => {
            unavailable_line(s, &server, &e);
            return Err(unavailable());
        }
    };
    put_back(s, b);
    if !super::backend::tagged_ok(&tagged) {
        return Err(unavailable());
    }
    let mut out = Vec::new();
    for l in untagged {
        match Response::parse(&l) {
            Ok(Response::Data(Data::Lsub(m))) => {
                if let Ok(name) = String::from_utf8(m.mailbox) {
                    out.push(name);
                }
            }
            // EXISTS and the like for the selected mailbox still reach the client.
            _ => s.out.extend_from_slice(&l),
        }
    }
    Ok(out)
}

/// What the backends said about some mailboxes.
#[derive(Default)]
pub struct BackendData {
    /// Special-use attributes by external name.
    pub special: HashMap<String, Vec<Flag>>,
    /// STATUS values by external name.
    pub status: HashMap<String, Vec<(StatusItem, StatusValue)>>,
}

/// Asks each backend holding some of `mailboxes` (external name, entry) for their special-use
/// attributes and, when `status` is given, their STATUS values, with one `LIST "" (names...)
/// RETURN (...)` per backend (in groups of [`NAMES_PER_LIST`]). A backend that cannot be
/// reached contributes nothing: its mailboxes are still listed, from the local data.
pub async fn backend_data(
    s: &mut Session,
    mailboxes: &[(String, MailboxEntry)],
    special: bool,
    status: Option<&[StatusItem]>,
) -> BackendData {
    let mut out = BackendData::default();
    if !special && status.is_none() {
        return out;
    }
    let mut by_server: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for (ext, entry) in mailboxes {
        by_server
            .entry(server_of(entry))
            .or_default()
            .push(ext.as_str());
    }
    let mut returns = Vec::new();
    if special {
        returns.push("SPECIAL-USE".to_owned());
    }
    if let Some(items) = status {
        let names: Vec<&str> = items.iter().map(StatusItem::name).collect();
        returns.push(format!("STATUS ({})", names.join(" ")));
    }
    let returns = returns.join(" ");
    for (server, names) in by_server {
        if server.is_empty() {
            continue;
        }
        let mut b = match backend(s, &server).await {
            Ok(b) => b,
            Err(e) => {
                unavailable_line(s, &server, &e);
                continue;
            }
        };
        let mut ok = true;
        for chunk in names.chunks(NAMES_PER_LIST) {
            let mut cmd = b"LIST \"\" (".to_vec();
            for (i, n) in chunk.iter().enumerate() {
                if i > 0 {
                    cmd.push(b' ');
                }
                literal(&mut cmd, n.as_bytes());
            }
            cmd.extend_from_slice(b") RETURN (");
            cmd.extend_from_slice(returns.as_bytes());
            cmd.push(b')');
            let untagged = match b.command(&cmd).await {
                Ok((untagged, _)) => untagged,
                Err(e) => {
                    unavailable_line(s, &server, &e);
                    ok = false;
                    break;
                }
            };
            for l in untagged {
                match Response::parse(&l) {
                    Ok(Response::Data(Data::List(m))) => {
                        let flags: Vec<Flag> = m
                            .attributes
                            .into_iter()
                            .filter(|f| is_special_use(&f.to_string()))
                            .collect();
                        if let (true, Ok(name)) = (special, String::from_utf8(m.mailbox)) {
                            if !flags.is_empty() {
                                out.special.insert(name, flags);
                            }
                        }
                    }
                    Ok(Response::Data(Data::Status { mailbox, items })) => {
                        if let Ok(name) = String::from_utf8(mailbox) {
                            out.status.insert(name, items);
                        }
                    }
                    _ => s.out.extend_from_slice(&l),
                }
            }
        }
        if ok {
            put_back(s, b);
        }
    }
    out
}

/// Whether a LIST attribute is one of RFC 6154's special uses.
fn is_special_use(flag: &str) -> bool {
    const SPECIAL_USE: &[&str] = &[
        "\\all",
        "\\archive",
        "\\drafts",
        "\\flagged",
        "\\junk",
        "\\sent",
        "\\trash",
        "\\important",
        "\\snoozed",
        "\\scheduled",
        "\\memos",
    ];
    SPECIAL_USE.contains(&flag.to_ascii_lowercase().as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_use_attributes_are_told_from_others() {
        assert!(is_special_use("\\Sent"));
        assert!(is_special_use("\\DRAFTS"));
        assert!(!is_special_use("\\HasChildren"));
        assert!(!is_special_use("\\Noselect"));
    }
}
