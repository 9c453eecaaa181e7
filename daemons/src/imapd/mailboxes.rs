//! (being written) See the table in the module doc of [`super`].

use protocol::imap::command::CommandBody;
use protocol::imap::types::Tag;

use super::{HResult, Session};

/// Runs one command of this group.
pub async fn dispatch(s: &mut Session, tag: &Tag, body: CommandBody) -> HResult {
    let _ = body;
    s.bad(tag, "Unrecognized command");
    Ok(())
}
