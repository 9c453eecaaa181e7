//! IMAP4rev1/rev2 with the extensions a Cyrus murder uses.
//!
//! [`framing`] splits a byte stream into whole messages (lines plus literals); [`syntax`] holds the
//! shared lexical parsers and encoders; [`types`] the small value types both directions share (tags,
//! flags, sequence sets, dates, fetch items); [`command`] and [`response`] give typed values.

pub mod command;
pub mod framing;
pub mod response;
pub mod syntax;
pub mod types;
