//! IMAP4rev1/rev2 with the extensions a Cyrus murder uses.
//!
//! [`framing`] splits a byte stream into whole messages (lines plus literals); [`syntax`] holds the
//! shared lexical parsers and encoders; [`command`] and [`response`] give typed values.

pub mod command;
pub mod framing;
pub mod response;
pub mod syntax;
