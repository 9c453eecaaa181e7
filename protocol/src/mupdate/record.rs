//! The MUPDATE database entry as it travels on the wire ([`MailboxRecord`]) and its location,
//! `server!partition` (reference §1.6).
//!
//! ```
//! use protocol::mupdate::{split_location, Location, MailboxRecord};
//!
//! assert_eq!(split_location("be1.example.org!default"), ("be1.example.org", Some("default")));
//! assert_eq!(split_location("default"), ("default", None)); // replicated mode: all "server"
//!
//! let loc = Location::parse("localhost:12345!default").unwrap();
//! assert_eq!(loc.server(), "localhost:12345");
//! assert!(Location::parse("a!b!c").is_err()); // a Cyrus client refuses a second `!`
//!
//! let rec = MailboxRecord::reserved("user.bob", "be1!default");
//! assert_eq!(rec.acl(), None);
//! assert_eq!(rec.server(), "be1");
//! ```

use std::fmt;

/// A mailbox entry: what `MAILBOX` and `RESERVE` lines carry and a slave stores.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MailboxRecord {
    /// Internal mailbox name (`user.bob`, `example.com!user.dave`).
    pub name: String,
    /// Whether the mailbox is usable, and where it is.
    pub state: MailboxState,
}

/// The state of an entry that exists.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MailboxState {
    /// Usable: a `MAILBOX` line.
    Active {
        /// `server!partition`, kept byte for byte.
        location: String,
        /// Cyrus's ACL string: identifier TAB rights TAB, repeated (trailing TAB included).
        acl: String,
    },
    /// Being created or moved: a `RESERVE` line. It has no ACL.
    Reserved {
        /// `server!partition`, kept byte for byte.
        location: String,
    },
}

impl MailboxRecord {
    /// An active entry.
    pub fn active(
        name: impl Into<String>,
        location: impl Into<String>,
        acl: impl Into<String>,
    ) -> Self {
        MailboxRecord {
            name: name.into(),
            state: MailboxState::Active {
                location: location.into(),
                acl: acl.into(),
            },
        }
    }

    /// A reserved entry.
    pub fn reserved(name: impl Into<String>, location: impl Into<String>) -> Self {
        MailboxRecord {
            name: name.into(),
            state: MailboxState::Reserved {
                location: location.into(),
            },
        }
    }

    /// The location, as sent.
    pub fn location(&self) -> &str {
        match &self.state {
            MailboxState::Active { location, .. } | MailboxState::Reserved { location } => location,
        }
    }

    /// The ACL of an active entry; `None` when reserved (Cyrus stores it as empty).
    pub fn acl(&self) -> Option<&str> {
        match &self.state {
            MailboxState::Active { acl, .. } => Some(acl),
            MailboxState::Reserved { .. } => None,
        }
    }

    /// Whether the entry is active.
    pub fn is_active(&self) -> bool {
        matches!(self.state, MailboxState::Active { .. })
    }

    /// The server part of the location, as the master splits it.
    pub fn server(&self) -> &str {
        split_location(self.location()).0
    }

    /// The partition part of the location, if it has one.
    pub fn partition(&self) -> Option<&str> {
        split_location(self.location()).1
    }
}

/// Splits a location at its first `!`, as the master stores it: a location without `!` is all
/// server (replicated mode sends a partition alone). Never fails: a second `!` stays in the
/// partition, as in Cyrus's database.
pub fn split_location(location: &str) -> (&str, Option<&str>) {
    match location.split_once('!') {
        Some((server, partition)) => (server, Some(partition)),
        None => (location, None),
    }
}

/// Why a location is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocationError {
    /// Nothing before the `!` (or nothing at all).
    #[error("location has no server")]
    EmptyServer,
    /// A `!` with nothing after it.
    #[error("location has an empty partition after `!`")]
    EmptyPartition,
    /// More than one `!`: Cyrus clients refuse to send it ("double ! detected").
    #[error("location has a second `!`")]
    DoubleBang,
    /// CR, LF or NUL, which no MUPDATE string can carry in every form.
    #[error("location contains CR, LF or NUL")]
    BadByte,
}

/// A validated location: a server (the backend's `servername`, possibly with `:port`) and an
/// optional partition.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Location {
    server: String,
    partition: Option<String>,
}

impl Location {
    /// Builds a location from its parts.
    pub fn new(
        server: impl Into<String>,
        partition: Option<String>,
    ) -> Result<Self, LocationError> {
        let server = server.into();
        if server.is_empty() {
            return Err(LocationError::EmptyServer);
        }
        check_part(&server)?;
        if let Some(p) = &partition {
            if p.is_empty() {
                return Err(LocationError::EmptyPartition);
            }
            check_part(p)?;
        }
        Ok(Location { server, partition })
    }

    /// Parses `server!partition` or `server`, refusing what a Cyrus client refuses to send.
    pub fn parse(s: &str) -> Result<Self, LocationError> {
        let (server, partition) = split_location(s);
        Location::new(server, partition.map(str::to_owned))
    }

    /// The server part.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The partition part.
    pub fn partition(&self) -> Option<&str> {
        self.partition.as_deref()
    }
}

fn check_part(s: &str) -> Result<(), LocationError> {
    if s.contains('!') {
        return Err(LocationError::DoubleBang);
    }
    if s.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
        return Err(LocationError::BadByte);
    }
    Ok(())
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.partition {
            Some(p) => write!(f, "{}!{}", self.server, p),
            None => f.write_str(&self.server),
        }
    }
}

impl std::str::FromStr for Location {
    type Err = LocationError;
    fn from_str(s: &str) -> Result<Self, LocationError> {
        Location::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn locations() {
        assert_eq!(split_location("a!b!c"), ("a", Some("b!c")));
        assert_eq!(split_location("a!"), ("a", Some("")));
        assert_eq!(Location::parse("a!b!c"), Err(LocationError::DoubleBang));
        assert_eq!(Location::parse("!b"), Err(LocationError::EmptyServer));
        assert_eq!(Location::parse(""), Err(LocationError::EmptyServer));
        assert_eq!(Location::parse("a!"), Err(LocationError::EmptyPartition));
        assert_eq!(Location::parse("a\r!b"), Err(LocationError::BadByte));
        let l = Location::parse("default").unwrap();
        assert_eq!((l.server(), l.partition()), ("default", None));
        assert_eq!(
            Location::new("be1", Some("x!y".into())),
            Err(LocationError::DoubleBang)
        );
        let r = MailboxRecord::active("user.bob", "be1!default", "bob\tlr\t");
        assert_eq!(
            (r.server(), r.partition(), r.acl()),
            ("be1", Some("default"), Some("bob\tlr\t"))
        );
        assert!(r.is_active());
    }

    proptest! {
        #[test]
        fn location_round_trips(server in "[a-z0-9.:-]{1,20}", part in proptest::option::of("[a-z0-9]{1,10}")) {
            let l = Location::new(server.clone(), part.clone()).unwrap();
            let s = l.to_string();
            prop_assert_eq!(Location::parse(&s).unwrap(), l);
            prop_assert_eq!(split_location(&s), (server.as_str(), part.as_deref()));
        }
    }
}
