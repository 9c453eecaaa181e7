//! Sans-I/O codecs for a Cyrus IMAP murder.
//!
//! Bytes in, typed values out; typed values in, bytes out. Nothing here touches a socket, a file
//! or a clock, so every daemon and the shell share one parser per protocol, and every parser can
//! be fed arbitrary bytes in tests and fuzzers.
//!
//! | module | what it parses and encodes |
//! |---|---|
//! | [`imap`] | IMAP framing (lines and literals), client commands, server responses |
//! | [`managesieve`] | ManageSieve (RFC 5804) as Cyrus `timsieved` speaks it |
//! | [`mupdate`] | the MUPDATE protocol (RFC 3656 as Cyrus 3.6 speaks it) |
//! | [`pop3`] | POP3 (RFC 1939, 2449, 2595, 5034) |
//! | [`lmtp`] | LMTP (RFC 2033) with DATA dot-stuffing and enhanced status codes |
//! | [`mailbox`] | Cyrus internal/external mailbox names, modified UTF-7, `server!partition` |
//! | [`acl`] | ACL rights, identifiers and Cyrus's TAB-separated ACL strings |
//! | [`config`] | `imapd.conf` and `cyrus.conf` |
//! | [`sieve`] | Sieve scripts (RFC 5228 and extensions): compile and evaluate at delivery |
#![forbid(unsafe_code)]

pub mod acl;
pub mod config;
pub mod imap;
pub mod lmtp;
pub mod mailbox;
pub mod managesieve;
pub mod mime;
pub mod mupdate;
pub mod pop3;
pub mod sieve;
