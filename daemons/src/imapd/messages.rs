//! (being written) See the table in the module doc of [`super`].

use protocol::imap::command::CommandBody;
use protocol::imap::types::Tag;

use super::{HResult, Session};

/// The selected mailbox's state in a session.
#[derive(Debug)]
pub struct Selected {
    /// Internal name.
    pub name: String,
}

/// Runs one command of this group.
pub async fn dispatch(s: &mut Session, tag: &Tag, body: CommandBody) -> HResult {
    let _ = body;
    s.bad(tag, "Unrecognized command");
    Ok(())
}

/// Reports changes made by other sessions to the selected mailbox.
pub async fn poll_changes(s: &mut Session) -> HResult {
    let _ = s;
    Ok(())
}
