//! A murder backend's pushes to the MUPDATE master (reference §2.3–2.6, §5.2).
//!
//! Every mailbox change that the rest of the murder must see goes to the master over a fresh,
//! short MUPDATE connection, as Cyrus does: CREATE sends RESERVE then ACTIVATE, DELETE sends
//! DELETE, RENAME sends DELETE, RESERVE and ACTIVATE, an ACL change or MUPDATEPUSH sends
//! ACTIVATE. The caller decides what a failure means locally (roll back, or keep the change
//! and answer NO); this module only talks to the master and names the failure with the text
//! Cyrus gives the IMAP client.
//!
//! ```no_run
//! # async fn f(ctx: &daemons::imapd::Context) -> Result<(), daemons::imapd::murder::PushError> {
//! use daemons::imapd::murder::{location, Pusher};
//! let mut p = Pusher::connect(ctx).await?;
//! p.create("user.bob", &location(ctx, "default"), "bob\tlrswipkxtecdan\t").await?;
//! p.finish().await;
//! # Ok(()) }
//! ```

use protocol::config::imapd::MupdateConfig;

use super::Context;
use crate::mupdate::client::{connect_authenticated, ClientError, MupdateClient};

/// Why a push to the master failed, as the IMAP client is told.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The master could not be reached, refused our login, or the connection broke
    /// (Cyrus's `MUPDATE_NOCONN`).
    #[error("no connection to server")]
    NoConnection(#[source] Option<ClientError>),
    /// RESERVE was refused: another server holds the name (`MUPDATE_FAIL_RESERVE`).
    #[error("unable to reserve mailbox on mupdate server")]
    Reserve(#[source] ClientError),
    /// Another command (ACTIVATE, DELETE) was refused (`MUPDATE_FAIL`).
    #[error("the mupdate operation failed")]
    Failed(#[source] ClientError),
    /// The configuration lacks what a push needs (`mupdate_authname`, `mupdate_password`, a
    /// usable TLS setup); reported to the client like a connection failure.
    #[error("no connection to server")]
    Config(String),
}

impl PushError {
    /// Whether the master never saw the request (so nothing changed there).
    pub fn is_connection(&self) -> bool {
        matches!(self, PushError::NoConnection(_) | PushError::Config(_))
    }

    fn from_client(e: ClientError, reserve: bool) -> PushError {
        if e.is_connection() {
            PushError::NoConnection(Some(e))
        } else if reserve {
            PushError::Reserve(e)
        } else {
            PushError::Failed(e)
        }
    }
}

/// The location this backend pushes for a mailbox on `partition`: `<servername>!<partition>`,
/// or the partition alone with `mupdate_config: replicated` (reference §2.12).
pub fn location(ctx: &Context, partition: &str) -> String {
    match ctx.conf.mupdate_config() {
        MupdateConfig::Replicated => partition.to_owned(),
        _ => format!("{}!{}", ctx.servername, partition),
    }
}

/// One authenticated connection to the master for the duration of one IMAP command.
pub struct Pusher {
    client: MupdateClient,
}

impl Pusher {
    /// Connects to `mupdate_server` and authenticates with the `mupdate_*` credentials.
    pub async fn connect(ctx: &Context) -> Result<Pusher, PushError> {
        let (host, port) = ctx
            .conf
            .mupdate_endpoint()
            .ok_or_else(|| PushError::Config("mupdate_server is not set".into()))?;
        let creds = crate::mupdate::credentials(&ctx.conf).map_err(PushError::Config)?;
        let tls = crate::mupdate::client_tls(&ctx.conf).map_err(PushError::Config)?;
        let timeout = ctx.conf.client_timeout();
        match connect_authenticated(&host, port, &creds, tls, timeout).await {
            Ok(client) => Ok(Pusher { client }),
            Err(e) => {
                tracing::warn!("cannot reach mupdate server {host}:{port}: {e}");
                Err(PushError::NoConnection(Some(e)))
            }
        }
    }

    /// A new mailbox: `RESERVE`, then `ACTIVATE` with its ACL.
    pub async fn create(&mut self, name: &str, location: &str, acl: &str) -> Result<(), PushError> {
        self.client
            .reserve(name, location)
            .await
            .map_err(|e| PushError::from_client(e, true))?;
        self.activate(name, location, acl).await
    }

    /// `ACTIVATE name location acl` (an ACL change, a partition move, MUPDATEPUSH).
    pub async fn activate(
        &mut self,
        name: &str,
        location: &str,
        acl: &str,
    ) -> Result<(), PushError> {
        self.client
            .activate(name, location, acl)
            .await
            .map_err(|e| PushError::from_client(e, false))
    }

    /// `DELETE name`.
    pub async fn delete(&mut self, name: &str) -> Result<(), PushError> {
        self.client
            .delete(name)
            .await
            .map_err(|e| PushError::from_client(e, false))
    }

    /// A rename: `DELETE old`, `RESERVE new`, `ACTIVATE new` (reference §2.4).
    pub async fn rename(
        &mut self,
        old: &str,
        new: &str,
        location: &str,
        acl: &str,
    ) -> Result<(), PushError> {
        self.delete(old).await?;
        self.create(new, location, acl).await
    }

    /// Logs out.
    pub async fn finish(self) {
        self.client.logout().await;
    }
}

/// Opens a connection when this host is a murder backend; `Ok(None)` when it pushes nothing.
pub async fn connect_if_backend(ctx: &Context) -> Result<Option<Pusher>, PushError> {
    if !ctx.is_murder_backend() {
        return Ok(None);
    }
    Pusher::connect(ctx).await.map(Some)
}
