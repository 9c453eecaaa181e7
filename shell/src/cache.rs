//! Names for completion: mailboxes, servers and partitions seen on the connected murder.
//!
//! The completer must never wait for the network, so it reads this cache with `try_lock`
//! and offers what is there. After each successful connect the shell starts
//! [`spawn_fill`], which opens a second connection, lists every mailbox once, and fills the
//! cache in the background; `listmailbox`, `createmailbox`, `renamemailbox`, `info` and
//! referrals keep it current as the session goes on.
//!
//! ```
//! use murder_shell::cache::Cache;
//!
//! let mut c = Cache::default();
//! c.add_mailbox("user.alice");
//! c.add_mailbox("user.alice.Sent");
//! c.add_mailbox("user.bob");
//! assert_eq!(c.mailboxes_starting_with("user.a", 10), ["user.alice", "user.alice.Sent"]);
//! ```

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use protocol::imap::command::CommandBody;
use protocol::imap::response::{Data, Response};

use crate::session::Settings;

/// The most mailbox names kept: enough for large murders, bounded memory (about 10 MB).
pub const MAX_NAMES: usize = 200_000;

/// What completion can offer beyond the command table.
#[derive(Debug, Default, Clone)]
pub struct Cache {
    /// Mailbox names.
    pub mailboxes: BTreeSet<String>,
    /// Server names (backends seen in referrals, `info`, `rename` locations).
    pub servers: BTreeSet<String>,
    /// Partition names.
    pub partitions: BTreeSet<String>,
    /// Whether a background listing has completed.
    pub complete: bool,
}

impl Cache {
    /// Adds a mailbox name (while below [`MAX_NAMES`]).
    pub fn add_mailbox(&mut self, name: &str) {
        if self.mailboxes.len() < MAX_NAMES {
            self.mailboxes.insert(name.to_string());
        }
    }

    /// Removes a name.
    pub fn remove_mailbox(&mut self, name: &str) {
        self.mailboxes.remove(name);
    }

    /// Whether more names are welcome.
    pub fn wants_more(&self) -> bool {
        self.mailboxes.len() < MAX_NAMES
    }

    /// Up to `max` names starting with `prefix`, in order.
    pub fn mailboxes_starting_with(&self, prefix: &str, max: usize) -> Vec<String> {
        self.mailboxes
            .range(prefix.to_string()..)
            .take_while(|m| m.starts_with(prefix))
            .take(max)
            .cloned()
            .collect()
    }
}

/// Lists every mailbox of `host:port` on a connection of its own and adds the names to
/// `cache`, on a thread of its own, without blocking the caller. Errors are
/// ignored: completion then simply offers less.
pub fn spawn_fill(
    cache: Arc<Mutex<Cache>>,
    settings: Settings,
    password: Option<String>,
    host: String,
    port: u16,
) {
    // A thread with its own small runtime: the listing's callback writes into the cache
    // and need not be Send, and the shell's runtime stays free for the user's commands.
    let spawned = std::thread::Builder::new()
        .name("murder-cache".into())
        .spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(fill(cache, settings, password, host, port));
        });
    drop(spawned);
}

async fn fill(
    cache: Arc<Mutex<Cache>>,
    settings: Settings,
    password: Option<String>,
    host: String,
    port: u16,
) {
    {
        let Ok(mut c) = crate::client::Client::connect(&host, port, &settings.tls).await else {
            return;
        };
        let creds = crate::client::Credentials {
            authid: settings.user.clone(),
            authzid: settings.authz.clone(),
            password: password.unwrap_or_default(),
            mechanism: settings.mechanism.clone(),
        };
        if c.authenticate(&creds).await.is_err() {
            return;
        }
        let mut batch: Vec<String> = Vec::with_capacity(1024);
        let flush = |batch: &mut Vec<String>| {
            if let Ok(mut g) = cache.lock() {
                for n in batch.drain(..) {
                    g.add_mailbox(&n);
                }
            }
        };
        let body = CommandBody::List {
            selection: Vec::new(),
            reference: Vec::new(),
            patterns: vec![b"*".to_vec()],
            returns: Vec::new(),
        };
        let mut total = 0usize;
        let r = c
            .run(body, &mut |r| {
                if let Response::Data(Data::List(l)) = r {
                    total += 1;
                    if total <= MAX_NAMES {
                        batch.push(String::from_utf8_lossy(&l.mailbox).into_owned());
                    }
                    if batch.len() >= 1024 {
                        flush(&mut batch);
                    }
                }
            })
            .await;
        flush(&mut batch);
        if r.is_ok() {
            if let Ok(mut g) = cache.lock() {
                g.complete = true;
            }
        }
        c.logout().await;
    }
}
